"""The class report (``python -m autograde insight``): does it find what was planted in a class?

The class is written the way grading leaves a course folder (a report per submission, an
autograded notebook per notebook) by ``autograde.bench_insight.write_class``, with three planted
patterns: every student fails ``mse_loss`` with the same mistake (half of them in Korean),
``l1_loss`` is passed on a coin toss, and two students hand in the same unusual 03_backprop
solutions under other names, comments and layout. Nothing here runs a kernel.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from autograde import bench_insight, course, graded_class, insight, insight_page, insight_text, messages, mistakes, similarity
from autograde.cli import main
from autograde.workspace import Workspace

STUDENTS = 60
SCRIPT = "</pre><script>alert('x')</script>"


def run(*argv: str | Path) -> SimpleNamespace:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as stop:
            rc = stop.code
    return SimpleNamespace(rc=rc, out=out.getvalue(), err=err.getvalue())


def edit_cell(ws: Workspace, student: str, assignment: str, grade_id: str, change) -> None:
    """Change one cell of a student's autograded notebook, as if the student had written it so."""
    path = ws.path("autograded", student, assignment, f"{assignment}.ipynb")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for cell in doc["cells"]:
        if ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") == grade_id:
            change(cell)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Workspace:
    ws = bench_insight.write_class(tmp_path_factory.mktemp("insight-class"), STUDENTS, figures=False)

    def hostile(cell):
        cell["source"] = "".join(cell["source"]) + f"\n# {SCRIPT}\n"

    edit_cell(ws, "pair_b", "03_backprop", "linear_mse_grads", hostile)
    return ws


@pytest.fixture(scope="module")
def report(graded) -> insight.Insight:
    return insight.analyse(graded, record_history=False)


def item(report, exercise):
    return next(i for i in report.items if i.exercise == exercise)


def test_does_the_exercise_everybody_fails_come_out_as_one_mistake_of_the_whole_class(report):
    top = [m for m in report.mistakes if m.exercise == bench_insight.EVERYBODY_FAILS[1]]
    assert len(top) == 1, "the English and the Korean messages of one check are one mistake"
    assert (top[0].kind, top[0].hint_key, top[0].students, top[0].share) == ("check", "mean_all", STUDENTS, 1.0)
    assert "forgot" not in top[0].what and top[0].what.startswith("mse_loss(a, b)")
    i = item(report, "mse_loss")
    assert (i.full, i.zero, i.not_attempted, i.flag) == (0.0, 1.0, 0.0, "no_spread")


def test_is_the_exercise_answered_at_random_flagged_and_no_other(report):
    random_item = item(report, bench_insight.RANDOM[1])
    assert random_item.flag in ("near_zero", "negative")
    assert random_item.discrimination < insight.NEAR_ZERO
    others = [i for i in report.items if i.exercise not in (bench_insight.RANDOM[1], bench_insight.EVERYBODY_FAILS[1])]
    assert others and all(i.flag is None and i.discrimination > 0.3 for i in others), \
        [(i.exercise, i.discrimination) for i in others if i.flag]


def test_is_the_near_identical_pair_the_only_similar_pair(report):
    assert [(p.assignment, p.a, p.b) for p in report.pairs] == [(bench_insight.PAIR_ASSIGNMENT, *bench_insight.PAIR)]
    pair = report.pairs[0]
    assert pair.score > 0.9 and set(pair.matches) == set(bench_insight.PAIR_CODE)
    lines_a, lines_b = report.highlight[(pair.assignment, pair.a, pair.b, "linear_mse_grads")]
    body_a = report.cells[(pair.a, pair.assignment)]["linear_mse_grads"].splitlines()
    assert any("torch.matmul(g.t(), x)" in body_a[n - 1] for n in lines_a), "the shared lines are the ones marked"
    assert lines_b


def test_are_the_stubs_counted_as_not_attempted(graded, report):
    """Not attempted = the cell as released; the test cells (which say NotImplementedError) must agree."""
    expected: dict[str, int] = {}
    for path in graded.path("autograded").glob("*/*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id", "")
            if grade_id.startswith("test_") and any("NotImplementedError" in o.get("evalue", "") for o in cell["outputs"]):
                expected[grade_id[5:]] = expected.get(grade_id[5:], 0) + 1
    got = {i.exercise: round(i.not_attempted * i.students) for i in report.items if i.not_attempted}
    assert got == expected and sum(got.values()) > 20
    assert not [m for m in report.mistakes if m.hint_key == "not_implemented"], "stubs are not mistakes"


def test_are_the_reports_flags_grouped_by_kind(report):
    tampering = [f for f in report.flags if f.category == "tampering"]
    assert [(f.assignment, f.students) for f in tampering] == [(bench_insight.TAMPERED[0], len(range(7, STUDENTS, 40)))]
    repairs = [f for f in report.flags if f.category == "repair"]
    assert {f.students for f in repairs} == {len(range(3, STUDENTS, 25))} and len(repairs) == 6
    assert mistakes.categorise("02_losses: mse_loss scored 0: the kernel died while running this cell (x)") == "crash"
    assert mistakes.categorise("02_losses: l1_loss: this cell ran longer than 4 s and was stopped") == "timeout"
    assert mistakes.categorise("02_losses: mse_loss: " + messages.text("ko", "grading_timeout", seconds=4)) == "timeout"


def test_does_renaming_reformatting_and_commenting_leave_the_normalised_code_unchanged():
    a = "def f(output, target):\n    diff = output - target  # the error\n    return (diff ** 2).mean()\n"
    b = "def f(o,t):\n\n    d=o-t\n    return (d**2).mean( )   # squared\n"
    other = "def f(output, target):\n    diff = output - target\n    return diff.abs().mean()\n"
    assert similarity.normalise(a) == similarity.normalise(b) != similarity.normalise(other)
    given = frozenset({"torch"})
    assert similarity.normalise("torch.zeros(x)", given)[:1] == ["torch"], "names the notebook provides stay"


def test_does_the_released_starter_code_not_make_two_submissions_alike():
    source = ('def f(x):\n    """Scale the positive values."""\n    values = [v * 2 for v in x if v > 0]\n'
              "    scale = sum(values) / max(len(values), 1)\n    ### BEGIN SOLUTION\n    return scale\n    ### END SOLUTION\n")
    template = similarity.normalise(bench_insight.released_cell(source))
    starter = bench_insight.released_cell(source).split("    # YOUR CODE HERE")[0]
    cells = {"a": {"f": similarity.normalise(starter + "    return scale + 1\n")},
             "b": {"f": similarity.normalise(starter + "    return -scale\n")}}
    assert similarity.similar_pairs("x", cells, {}), "the starter code alone would make them alike"
    assert not similarity.similar_pairs("x", cells, {"f": [template]})
    shared = "    total = 0\n    for v in x:\n        total = total + v * v - 1\n    return total * 3 + 7\n"
    cells = {s: {"f": similarity.normalise(starter + shared)} for s in ("a", "b")}
    assert [(p.a, p.b) for p in similarity.similar_pairs("x", cells, {"f": [template]})] == [("a", "b")]
    reference = similarity.normalise(source.replace("    return scale\n", shared))
    assert not similarity.similar_pairs("x", cells, {"f": [template, reference]}), "the reference is nobody's own"


def test_are_examples_anonymised():
    anonymise = mistakes.Anonymiser(["kim.minji", "ab"])
    text = anonymise("got KeyError: 'Kim.Minji' in /home/kim.minji/work/02_losses.ipynb at 0x7f3a2b9c1d00; ab")
    assert "minji" not in text.lower() and "0x7f3a" not in text
    assert "<student>" in text and "<path>" in text and text.endswith("ab")


def test_does_the_page_show_the_report_without_network_or_learner_markup(graded, report, tmp_path):
    page = insight_page.render(report, "en")
    assert "<script" not in page.lower(), "a learner's code is shown as text, never as markup"
    assert "&lt;/pre&gt;&lt;script&gt;" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) and "<link" not in page
    assert page.count('<svg class="chart"') == len(course.assignments())
    assert insight_text.text("en", "similarity_verdict") in page
    assert messages.hint("en", "mse_loss", "mean_all") in page


def test_is_the_korean_page_in_korean(report):
    page = insight_page.render(report, "ko")
    assert '<html lang="ko">' in page
    for key in ("title", "items", "mistakes", "similarity", "similarity_verdict", "progress"):
        assert insight_text.text("ko", key) in page
    assert messages.hint("ko", "mse_loss", "mean_all") in page
    assert messages.hint("en", "mse_loss", "mean_all") not in page


def test_does_every_sentence_of_the_report_exist_in_both_languages():
    for key, texts in insight_text.TEXTS.items():
        assert set(texts) == set(messages.LANGUAGES), key
        fields = {lang: set(re.findall(r"\{(\w+)", t)) for lang, t in texts.items()}
        assert fields["en"] == fields["ko"], key


def test_does_the_command_write_the_page_and_a_csv_per_table(graded, tmp_path):
    result = run("--course-dir", graded.root, "insight", tmp_path / "out", "--lang", "ko")
    assert result.rc == 0, result.err
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "index.html", "items.csv", "mistakes.csv", "flags.csv", "similarity.csv", "progress.csv"}
    with open(tmp_path / "out" / "items.csv", encoding="utf-8", newline="") as f:
        rows = {r["exercise"]: r for r in csv.DictReader(f)}
    assert rows["mse_loss"]["full_marks"] == "0" and rows["l1_loss"]["flag"] in ("near_zero", "negative")
    assert result.out.strip().splitlines()[-1].startswith(f"insight: {STUDENTS} students")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    blocked = run("--course-dir", graded.root, "insight", tmp_path / "a-file")
    assert blocked.rc == 2 and "a-file" in blocked.err and "Traceback" not in blocked.err


def test_does_a_course_folder_that_was_not_graded_get_a_clear_message(tmp_path):
    empty = run("--course-dir", tmp_path / "nothing-here", "insight")
    assert empty.rc == 2 and "no course folder" in empty.err and "Traceback" not in empty.err
    (tmp_path / "course" / "submitted" / "alice" / "02_losses").mkdir(parents=True)
    collected = run("--course-dir", tmp_path / "course", "insight")
    assert collected.rc == 2 and "nothing graded" in collected.err and "autograde grade" in collected.err
    broken = tmp_path / "course" / "reports" / "alice" / "02_losses.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    only_broken = run("--course-dir", tmp_path / "course", "insight")
    assert only_broken.rc == 2 and "unreadable" in only_broken.err and "Traceback" not in only_broken.err


def test_is_a_broken_report_left_out_and_named_while_the_rest_is_reported(tmp_path):
    ws = bench_insight.write_class(tmp_path / "course", 8, seed=1, figures=False)
    ws.path("reports", "student001", "02_losses.json").write_text('{"result": {"scores": "many"}}', encoding="utf-8")
    report = insight.analyse(ws, record_history=False)
    assert report.submissions == 8 * 6 - 1
    assert report.skipped == ["reports/student001/02_losses.json: no result with scores in it"]


def test_is_a_notebook_not_handed_in_counted_as_not_attempted(tmp_path):
    ws = bench_insight.write_class(tmp_path / "course", 8, seed=1, figures=False)
    before = {i.exercise: i.not_attempted for i in insight.analyse(ws, record_history=False).items}
    stubs = graded_class.stub_map(graded_class.load(ws))
    two = ("student001", "student002")
    untouched = sum("sgd_step" in stubs[key] for key in stubs if key[1] == "04_update" and key[0] not in two)
    for student in two:
        path = ws.path("reports", student, "04_update.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        data["result"].update(missing=["04_update"], scores={"sgd_step": 0.0, "train_steps": 0.0})
        path.write_text(json.dumps(data), encoding="utf-8")
        ws.path("autograded", student, "04_update", "04_update.ipynb").unlink()
    after = {i.exercise: i.not_attempted for i in insight.analyse(ws, record_history=False).items}
    assert after["sgd_step"] == (untouched + 2) / 8
    assert {k: v for k, v in after.items() if k not in ("sgd_step", "train_steps")} == \
        {k: v for k, v in before.items() if k not in ("sgd_step", "train_steps")}


def test_does_progress_compare_grading_runs(tmp_path):
    ws = bench_insight.write_class(tmp_path / "course", 12, seed=2, figures=False)
    later = {path: path.read_bytes() for path in ws.path("reports").glob("*/06_digits.json")}
    for path in later:  # 06_digits is graded in the second run only
        path.unlink()
    first = insight.analyse(ws)
    assert len(first.runs) == 1 and insight_text.text("en", "one_run") in insight_page.render(first)
    assert len(insight.analyse(ws).runs) == 1, "an unchanged class is not a new run"
    for path, data in later.items():
        path.write_bytes(data)
    for path in ws.path("reports").glob("*/02_losses.json"):  # everybody fixes mse_loss and is graded again
        data = json.loads(path.read_text(encoding="utf-8"))
        data["digest"] = "regraded"
        data["result"]["scores"]["mse_loss"] = data["result"]["max_scores"]["mse_loss"]
        path.write_text(json.dumps(data), encoding="utf-8")
    second = insight.analyse(ws)
    assert len(second.runs) == 2
    mse = [p for p in second.progress if p.exercise == "mse_loss"]
    assert [(p.run, p.mean_share) for p in mse] == [(1, 0.0), (2, 1.0)]
    assert {p.run for p in second.progress if p.assignment == "06_digits"} == {2}
    page = insight_page.render(second)
    assert page.count('class="series"') == sum(len(exs) for exs in graded_class.load(ws).exercises.values())


def test_does_insight_read_the_report_grading_writes(tmp_path):
    """The report's JSON format is grading's: read what grading's own writer produces."""
    from autograde import reports

    ws = Workspace(root=tmp_path)
    result = reports.GradeResult("alice", "02_losses", scores={"mse_loss": 2.0, "l1_loss": 0.0},
                                 max_scores={"mse_loss": 2.0, "l1_loss": 2.0}, notes=["repaired 02_losses: x"],
                                 flags=["02_losses/l1_loss: scored 0 for tampering: torch.allclose"])
    reports.write_report(ws, result, "digest")
    read = graded_class.read_report(reports.report_path(ws, "alice", "02_losses"))
    assert (read.student, read.assignment, read.scores, read.max_scores, read.notes, read.flags) == (
        "alice", "02_losses", result.scores, result.max_scores, result.notes, result.flags)


def test_does_progress_follow_every_grading_run_even_without_insight_in_between(tmp_path):
    """Grading's own history: two runs graded with no report built between them are both shown."""
    from autograde import reports

    ws = bench_insight.write_class(tmp_path / "course", 12, seed=2, figures=False)
    saved = {p: json.loads(p.read_text(encoding="utf-8")) for p in ws.path("reports").glob("*/02_losses.json")}
    first, second = reports.new_run(), reports.new_run()
    for data in saved.values():  # the first run: the class as the reports hold it, mse_loss wrong
        reports.record(ws, first, reports.GradeResult(**{k: v for k, v in data["result"].items()
                                                         if k in reports.GradeResult.__dataclass_fields__}))
    for path, data in saved.items():  # the second run: everybody fixed mse_loss
        data["result"]["scores"]["mse_loss"] = data["result"]["max_scores"]["mse_loss"]
        path.write_text(json.dumps(data), encoding="utf-8")
        reports.record(ws, second, reports.GradeResult(**{k: v for k, v in data["result"].items()
                                                          if k in reports.GradeResult.__dataclass_fields__}))
    with open(ws.path("reports", reports.RUNS, f"{second}.jsonl"), "a", encoding="utf-8") as history:
        history.write('{"student": "cut sho')  # a run killed mid-line leaves a line that is not one
    report = insight.analyse(ws, record_history=False)
    assert [r.signature for r in report.runs] == [first, second]
    mse = [p for p in report.progress if p.exercise == "mse_loss"]
    assert [(p.run, p.mean_share) for p in mse] == [(1, 0.0), (2, 1.0)]
    assert report.runs[-1].not_attempted, "the newest run keeps what the reports know (stubs)"
    assert not ws.path("insight", "history").exists(), "grading's history is used, no snapshot of its own"
