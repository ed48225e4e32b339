"""Why exercises lost points, and what grading repaired, stopped or flagged, grouped and ranked by students.

A failing check's message (``autograde.messages``' "failure" sentence, in either language) is taken
apart into what was checked and the hint shown; the hint's text is turned back into its key, so the
same check counts once whether the learner saw it in English or in Korean.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from autograde import messages
from autograde.graded_class import Class


@dataclass
class Mistake:
    """One way an exercise failed, and how many students it happened to."""

    assignment: str
    exercise: str
    kind: str  # "check" (a failing check), "error", "stderr", "grader", "unknown"
    what: str  # the check's description, or the error's type
    hint_key: str
    students: int
    share: float
    example: str  # the most frequent message
    examples: dict[str, str] = field(default_factory=dict)  # language -> its most frequent message there


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts))
    return re.compile(pattern, re.DOTALL)  # used with fullmatch: the last part runs to the end


FAILURE = [_template_regex(messages.TEXTS["failure"][lang]) for lang in messages.LANGUAGES]
RAISED = [_template_regex(messages.TEXTS["raised_failure"][lang]) for lang in messages.LANGUAGES]


@functools.cache
def hint_keys(exercise: str) -> dict[str, str]:
    """Every hint text this exercise's checks can show, in every language -> its key."""
    result = {}
    for key, texts in {**messages.GENERIC_HINTS, **messages.HINTS.get(exercise, {})}.items():
        for text in texts.values():
            result[text.strip()] = key
    return result


def parse_failure(text: str, templates: list[re.Pattern] = FAILURE) -> dict[str, str] | None:
    """The parts of a failing check's message (exercise, what, expected, got, hint, and its lang), or None.

    ``templates=RAISED`` reads the message for learner code that raised instead (exercise, what,
    error, where, hint).
    """
    for lang, pattern in zip(messages.LANGUAGES, templates):
        match = pattern.fullmatch(text.strip())
        if match:
            return {**{k: v.strip() for k, v in match.groupdict().items()}, "lang": lang}
    return None


def classify(exercise: str, outputs: list[dict]) -> tuple[str, str, str, str, str] | None:
    """(kind, what, hint key, message, its language or "") for why a test cell scored zero; None if it shows none."""
    for output in outputs:
        if output.get("output_type") != "error":
            continue
        ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
        if ename == "CheckFailed" and (parts := parse_failure(evalue)):
            key = hint_keys(exercise).get(parts["hint"], parts["hint"])
            what = parts["what"]
            if key == "raised":  # the learner's code raised: which error says more than the hint
                what = f"{what} → {parts['got'].split(':', 1)[0]}"
            return "check", what, key, evalue, parts["lang"]
        if ename == "CheckFailed" and (parts := parse_failure(evalue, RAISED)):  # the learner's code raised
            key = hint_keys(exercise).get(parts["hint"], parts["hint"])
            return "check", f"{parts['what']} → {parts['error'].split(':', 1)[0]}", key, evalue, parts["lang"]
        if ename in ("GradingError", "CellTimeout"):
            return "grader", ename, "", evalue, ""
        return "error", ename, "", f"{ename}: {evalue}", ""
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output.get("text", "")
            return "stderr", "stderr", "", "".join(text) if isinstance(text, list) else str(text), ""
    return None


class Anonymiser:
    """Takes student ids, home folders and addresses out of a message."""

    def __init__(self, students: list[str]):
        self.ids = {s.lower() for s in students if len(s) >= 3}  # shorter ids are words, not names

    def __call__(self, text: str) -> str:
        text = re.sub(r"(?:[A-Za-z]:)?(?:[/\\][\w.@+~-]+){2,}[/\\]?", "<path>", text)
        text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x…", text)
        lower = text.lower()
        for student in sorted((s for s in self.ids if s in lower), key=len, reverse=True):
            text = re.sub(rf"(?<![\w]){re.escape(student)}(?![\w])", "<student>", text, flags=re.IGNORECASE)
        return text


def mistakes(cls: Class, stubs: dict[tuple[str, str], set[str]], anonymise: Anonymiser) -> list[Mistake]:
    """Per exercise, the reasons attempted solutions lost points, ranked by how many students hit each."""
    groups: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for sub in cls.submissions:
        if not sub.autograded:
            continue
        for ex in cls.exercises[sub.assignment]:
            if ex.name in stubs[(sub.student, sub.assignment)]:
                continue
            if sub.scores.get(ex.name, 0.0) >= (ex.points or sub.max_scores.get(ex.name, 0.0)) - 1e-9:
                continue
            found = classify(ex.name, sub.outputs.get(ex.name, []))
            kind, what, key, message, lang = found or ("unknown", "", "", "", "")
            groups[(sub.assignment, ex.name, kind, what, key)].append((lang, message))
    graded = Counter(s.assignment for s in cls.submissions)
    result = []
    for (a, ex, kind, what, key), hits in groups.items():
        by_lang = {lang: anonymise(_most_common([m for la, m in hits if la == lang])) for lang in {la for la, _ in hits}}
        result.append(Mistake(a, ex, kind, what, key, len(hits), len(hits) / graded[a],
                              anonymise(_most_common([m for _, m in hits])), by_lang))
    order = {(a, e.name): i for i, (a, e) in enumerate((a, e) for a, exs in cls.exercises.items() for e in exs)}
    result.sort(key=lambda m: (order.get((m.assignment, m.exercise), 0), -m.students, m.what))
    return result


def _most_common(texts: list[str]) -> str:
    counts = Counter(texts)
    return min(counts, key=lambda t: (-counts[t], t))


@dataclass
class FlagGroup:
    """One kind of thing grading repaired, lost or flagged, and how many students it happened to."""

    assignment: str
    category: str  # tampering, crash, timeout, memory, processes, repair, error, other
    text: str  # the report line, numbers and ids taken out
    students: int
    share: float
    example: str


def _markers(*keys: str) -> tuple[str, ...]:
    """The longest fixed part of grading's sentences, in every language, to recognise a report line."""
    found = []
    for key in keys:
        for template in messages.TEXTS[key].values():
            longest = max((part.strip(" .()") for part in re.split(r"\{\w+\}", template)), key=len)
            if len(longest) >= 6:
                found.append(longest)
    return tuple(found)


CATEGORIES = [  # first match wins; the English phrases are grading's own report lines
    ("crash", ("kernel died",) + _markers("grading_crashed")),
    ("timeout", ("ran longer than", "used up the") + _markers("grading_timeout", "grading_hung", "grading_time_limit")),
    ("memory", ("out of memory",)),
    ("processes", ("processes left running",)),
    ("repair", ("repaired ", "converted from nbformat")),
]


def categorise(line: str) -> str:
    for category, markers in CATEGORIES:
        if any(m in line for m in markers):
            return category
    return "other"


def _normalised(line: str) -> str:
    return re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", "N", line)


def flag_groups(cls: Class, anonymise: Anonymiser) -> list[FlagGroup]:
    """What the reports say was repaired, lost or flagged, grouped like the mistakes."""
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for sub in cls.submissions:
        lines = [("tampering", f) for f in sub.flags] + [("error", e) for e in sub.errors]
        lines += [(categorise(n), n) for n in sub.notes]
        for category, line in lines:
            clean = anonymise(line)
            groups[(sub.assignment, category, _normalised(clean))].append((sub.student, clean))
    graded = Counter(s.assignment for s in cls.submissions)
    rank = {c: i for i, c in enumerate(["tampering", "crash", "timeout", "memory", "error", "processes", "repair", "other"])}
    result = []
    for (a, category, text), hits in groups.items():
        students = len({s for s, _ in hits})
        result.append(FlagGroup(a, category, text, students, students / graded[a], _most_common([h for _, h in hits])))
    result.sort(key=lambda f: (f.assignment, rank.get(f.category, 99), -f.students, f.text))
    return result
