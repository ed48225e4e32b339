"""Every sentence of the class report (``python -m autograde insight``), in English and Korean."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "What the class got wrong", "ko": "학생들이 어디에서 틀렸는가"},
    "summary": {
        "en": "{students} students, {submissions} graded submissions; newest grading report {when} (UTC).",
        "ko": "학생 {students}명, 채점된 제출물 {submissions}개입니다. 가장 최근 채점 보고서: {when}(UTC).",
    },
    "skipped": {
        "en": "{n} report file(s) could not be read and were left out: {examples}",
        "ko": "읽을 수 없는 보고서 파일 {n}개는 제외했습니다: {examples}",
    },
    "contents": {"en": "Contents", "ko": "목차"},
    # 1. items
    "items": {"en": "1. Exercises", "ko": "1. 연습 문제별 결과"},
    "items_intro": {
        "en": "For every exercise: its points, the mean score, the share of students with full marks, partial "
        "marks or zero, and the share who did not attempt it (the cell is still the released stub, or the "
        "notebook was not handed in). Shares are of the students graded on that assignment.",
        "ko": "연습 문제마다 배점, 평균 점수, 만점·부분 점수·0점을 받은 학생의 비율, 시도하지 않은 학생의 비율"
        "(셀이 배포된 빈칸 그대로이거나 노트북을 내지 않음)을 보여 줍니다. 비율의 분모는 그 과제를 채점받은 "
        "학생 수입니다.",
    },
    "discrimination_intro": {
        "en": "Discrimination is the corrected item-total correlation: Pearson's r between a student's score on the "
        "exercise and the same student's total on every other exercise of the course (for an all-or-nothing "
        "exercise this is the point-biserial correlation). Above 0.3 the exercise separates strong from weak "
        "students well. Near zero (|r| < {limit}) or negative, it measures something other than skill, or it is "
        "broken: look at it first. It is not computed for fewer than {few} students.",
        "ko": "변별도는 수정된 문항-총점 상관계수입니다. 학생의 해당 연습 문제 점수와, 같은 학생이 강좌의 나머지 모든 "
        "연습 문제에서 받은 총점 사이의 피어슨 r입니다(맞거나 틀리거나 둘 중 하나인 문제라면 점이연 상관계수와 "
        "같습니다). 0.3보다 크면 잘하는 학생과 못하는 학생을 잘 가릅니다. 0에 가깝거나(|r| < {limit}) 음수라면 "
        "실력이 아닌 다른 것을 재거나 문제가 잘못된 것이니 먼저 살펴보십시오. 학생이 {few}명보다 적으면 계산하지 "
        "않습니다.",
    },
    "col_assignment": {"en": "assignment", "ko": "과제"},
    "col_exercise": {"en": "exercise", "ko": "연습 문제"},
    "col_points": {"en": "points", "ko": "배점"},
    "col_students": {"en": "students", "ko": "학생 수"},
    "col_mean": {"en": "mean", "ko": "평균"},
    "col_full": {"en": "full marks", "ko": "만점"},
    "col_partial": {"en": "partial", "ko": "부분 점수"},
    "col_zero": {"en": "zero", "ko": "0점"},
    "col_not_attempted": {"en": "not attempted", "ko": "시도 안 함"},
    "col_discrimination": {"en": "discrimination (r)", "ko": "변별도(r)"},
    "col_flag": {"en": "flag", "ko": "주의"},
    "flag_negative": {"en": "negative: stronger students score lower", "ko": "음수: 잘하는 학생이 오히려 낮은 점수를 받습니다"},
    "flag_near_zero": {"en": "near zero: separates nobody", "ko": "0에 가까움: 학생을 가르지 못합니다"},
    "flag_no_spread": {"en": "everybody scored the same", "ko": "모든 학생의 점수가 같습니다"},
    "flag_few": {"en": "too few students", "ko": "학생 수가 너무 적습니다"},
    "chart_title": {"en": "{assignment}: how each exercise went", "ko": "{assignment}: 연습 문제별 결과"},
    # 2. mistakes
    "mistakes": {"en": "2. Common mistakes", "ko": "2. 자주 나온 실수"},
    "mistakes_intro": {
        "en": "Why attempted exercises lost points: the first failing check of each test cell (what it checked and "
        "the hint it gave), ranked by how many students hit it. The example is the most frequent message, with "
        "student ids and file paths taken out. Exercises not attempted are counted in the table above, not here.",
        "ko": "시도한 연습 문제가 점수를 잃은 이유입니다. 테스트 셀마다 처음 실패한 검사(무엇을 검사했는지와 어떤 "
        "힌트를 주었는지)를, 그 검사에 걸린 학생 수가 많은 순서로 보여 줍니다. 예시는 가장 많이 나온 메시지이며 "
        "학생 ID와 파일 경로는 지웠습니다. 시도하지 않은 연습 문제는 여기가 아니라 위의 표에 셉니다.",
    },
    "col_check": {"en": "failing check", "ko": "실패한 검사"},
    "col_hint": {"en": "hint shown", "ko": "보여 준 힌트"},
    "col_share": {"en": "of the class", "ko": "학급 대비"},
    "col_example": {"en": "example message", "ko": "예시 메시지"},
    "kind_error": {"en": "the test cell raised {what}", "ko": "테스트 셀에서 {what} 오류가 났습니다"},
    "kind_stderr": {"en": "the code wrote to stderr (nbgrader scores that 0)",
                    "ko": "코드가 stderr에 출력했습니다(nbgrader는 이를 0점 처리합니다)"},
    "kind_grader": {"en": "the grader stopped or zeroed the cell ({what})",
                    "ko": "채점기가 셀을 멈추거나 0점 처리했습니다({what})"},
    "kind_unknown": {"en": "no message in the autograded notebook", "ko": "채점된 노트북에 메시지가 없습니다"},
    "no_mistakes": {"en": "No attempted exercise lost points.", "ko": "시도한 연습 문제 가운데 점수를 잃은 것이 없습니다."},
    "flags": {"en": "What grading repaired, stopped or flagged", "ko": "채점 중에 복구하거나 멈추거나 표시한 것"},
    "flags_intro": {
        "en": "The lines of the grading reports, grouped the same way (numbers and student ids taken out), ranked by "
        "how many students they concern. Tampering deserves a look at the submission itself.",
        "ko": "채점 보고서의 줄을 같은 방식으로 묶어(숫자와 학생 ID는 지움) 해당 학생 수가 많은 순서로 보여 줍니다. "
        "변조(tampering)로 표시된 것은 제출물 자체를 살펴보십시오.",
    },
    "col_category": {"en": "kind", "ko": "종류"},
    "col_line": {"en": "report line", "ko": "보고서 내용"},
    "cat_tampering": {"en": "tampering", "ko": "변조"},
    "cat_crash": {"en": "kernel died", "ko": "커널 종료"},
    "cat_timeout": {"en": "time limit", "ko": "시간 초과"},
    "cat_memory": {"en": "memory", "ko": "메모리 초과"},
    "cat_error": {"en": "could not be graded", "ko": "채점 불가"},
    "cat_processes": {"en": "processes left", "ko": "남은 프로세스"},
    "cat_repair": {"en": "repaired", "ko": "복구"},
    "cat_other": {"en": "other", "ko": "기타"},
    "no_flags": {"en": "Nothing was repaired, stopped or flagged.", "ko": "복구하거나 멈추거나 표시한 것이 없습니다."},
    # 3. similarity
    "similarity": {"en": "3. Similar submissions", "ko": "3. 비슷한 제출물"},
    "similarity_verdict": {
        "en": "Similarity is a reason to look, not a verdict. Short exercises have few ways to be right, students "
        "may have worked together where that was allowed, and two people can reach the same code alone. Read "
        "both submissions, and talk to the students, before concluding anything.",
        "ko": "유사도는 살펴볼 이유일 뿐 판정이 아닙니다. 짧은 연습 문제는 맞는 답의 형태가 몇 가지뿐이고, 허용된 "
        "범위에서 함께 공부했을 수도 있으며, 두 사람이 각자 같은 코드에 이를 수도 있습니다. 결론을 내리기 전에 "
        "두 제출물을 직접 읽고 학생들과 이야기해 보십시오.",
    },
    "similarity_intro": {
        "en": "Pairs of submissions of the same assignment whose solution cells share unusually much code. The code "
        "is compared as Python tokens with names, comments, strings and layout ignored, by winnowed fingerprints "
        "of {k} tokens (as MOSS does); neither the released starter code nor the reference solution counts, nor "
        "does code that more than {common} students share. The score is the share of the smaller submission's "
        "own fingerprints that the other one has; pairs from {score:.0%} and {shared} shared fingerprints are "
        "listed, at most {shown} per assignment here (all in similarity.csv).",
        "ko": "같은 과제의 제출물 가운데 답안 셀이 유난히 많은 코드를 공유하는 쌍입니다. 코드는 이름, 주석, 문자열, "
        "서식을 무시한 Python 토큰으로 비교하며, {k}개 토큰 단위의 윈노잉(winnowing) 지문을 씁니다(MOSS와 같은 "
        "방식). 배포된 시작 코드, 참조 답안, 그리고 {common}명보다 많은 학생이 공유하는 코드는 세지 않습니다. "
        "점수는 둘 중 작은 제출물의 고유 지문 가운데 상대에게도 있는 비율이며, {score:.0%} 이상이고 공유 지문이 "
        "{shared}개 이상인 쌍을 과제마다 최대 {shown}개까지 보여 줍니다(전체 목록은 similarity.csv).",
    },
    "col_pair": {"en": "students", "ko": "학생"},
    "col_score": {"en": "score", "ko": "점수"},
    "col_shared": {"en": "shared fingerprints", "ko": "공유 지문"},
    "col_exercises": {"en": "exercises with shared code", "ko": "코드를 공유한 연습 문제"},
    "side_by_side": {"en": "side by side", "ko": "나란히 보기"},
    "no_pairs": {"en": "No pair of submissions is unusually alike.", "ko": "유난히 비슷한 제출물 쌍이 없습니다."},
    # 4. progress
    "progress": {"en": "4. Progress over grading runs", "ko": "4. 채점 회차별 변화"},
    "progress_intro": {
        "en": "The same figures for the class after each grading run, from the history grading keeps in {folder}.",
        "ko": "채점을 한 번 할 때마다 반 전체가 어떤 점수를 받았는지 같은 수치로 보여 줍니다. 채점이 {folder}에 남기는 "
        "기록을 씁니다.",
    },
    "one_run": {
        "en": "The class has been seen graded once so far; grade again and rebuild this report to compare runs.",
        "ko": "지금까지 채점된 상태를 한 번만 보았습니다. 다시 채점한 뒤 이 보고서를 새로 만들면 회차를 비교할 수 "
        "있습니다.",
    },
    "col_run": {"en": "run", "ko": "회차"},
    "progress_chart": {"en": "{assignment}: mean score (% of points) per run",
                       "ko": "{assignment}: 회차별 평균 점수(배점 대비 %)"},
    "footer": {
        "en": "Built by python -m autograde insight from the grading reports and the autograded notebooks; the tables "
        "are also in the CSV files next to this page.",
        "ko": "python -m autograde insight가 채점 보고서와 채점된 노트북으로 만들었습니다. 표는 이 페이지 옆의 CSV "
        "파일에도 있습니다.",
    },
}


def text(lang: str, key: str, **values: object) -> str:
    """A sentence of the report in ``lang`` (English where a translation is missing), filled with ``values``."""
    options = TEXTS[key]
    return (options.get(lang) or options["en"]).format(**values)
