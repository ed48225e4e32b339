"""What the class got wrong: item analysis, common mistakes, flags, similar submissions, progress.

``python -m autograde insight`` reads only what grading wrote into the course folder:

- ``reports/STUDENT/ASSIGNMENT.json``: each submission's scores per exercise and what was repaired,
  lost or flagged (read by its JSON format, defensively: a report that is not one is skipped and named);
- ``autograded/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``: the learner's solution cells as graded, and each
  test cell's outputs, where a failing check left its message (exercise, what, expected, got, hint).

It writes one self-contained HTML page (no network, charts as inline SVG) and a CSV per table into
``COURSE_DIR/insight/``. Grading keeps no history of its runs (each run replaces the reports), so the
report keeps its own: each time it runs on a class whose reports changed, it stores the scores in
``COURSE_DIR/insight/history/``, and "progress over time" compares those snapshots.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograde import course, messages, similarity
from autograde.workspace import STUB, Workspace

REPORTS = "reports"
AUTOGRADED = "autograded"
OUTPUT = "insight"
NEAR_ZERO = 0.15  # discrimination below this (in absolute value) separates nobody
MIN_STUDENTS = 5  # fewer graded students: no discrimination index
PAIRS_SHOWN = 30  # per assignment, on the page (the CSV has them all)


class NotGraded(ValueError):
    """The course folder holds nothing graded to report on."""


# -- what grading wrote ----------------------------------------------------------------------
@dataclass
class Submission:
    """One graded submission: its report, and what its autograded notebooks show."""

    student: str
    assignment: str
    scores: dict[str, float]
    max_scores: dict[str, float]
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    stamp: str = ""  # what identifies this grading of it: the report's digest and time
    graded_at: float = 0.0
    cells: dict[str, str] = field(default_factory=dict)  # exercise -> the solution cell as graded
    tokens: dict[str, list[str]] = field(default_factory=dict)  # exercise -> its cell, normalised
    outputs: dict[str, list[dict]] = field(default_factory=dict)  # exercise -> its test cell's outputs
    autograded: bool = False  # its autograded notebooks were read


@dataclass
class Class:
    """Every graded submission of a course folder, and the course they belong to."""

    exercises: dict[str, list[course.Exercise]]  # assignment -> exercises, in course order
    templates: dict[str, list[str]]  # exercise -> its cell in the student copy, normalised
    submissions: list[Submission]
    skipped: list[str]  # reports that could not be read, and why
    notebook_of: dict[str, str] = field(default_factory=dict)  # exercise -> the notebook it is in
    given: dict[str, frozenset[str]] = field(default_factory=dict)  # notebook -> names its own cells provide

    @property
    def students(self) -> list[str]:
        return sorted({s.student for s in self.submissions})

    def of(self, assignment: str) -> list[Submission]:
        return [s for s in self.submissions if s.assignment == assignment]


def released_cell(source: str) -> str:
    """A solution cell as the student copy has it: the solution block replaced by the stub, as nbgrader does."""
    out, inside, found = [], False, False
    for line in source.splitlines():
        marker = line.strip()
        if marker == "### BEGIN SOLUTION":
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB.splitlines())
            inside = found = True
        elif marker == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) if found else STUB


def _source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _grade_id(cell: dict) -> str:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return str(meta.get("grade_id", "")) if isinstance(meta, dict) else ""


def _is_solution(cell: dict) -> bool:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return isinstance(meta, dict) and bool(meta.get("solution")) and not meta.get("grade")


def given_names(source: Path | None = None) -> dict[str, frozenset[str]]:
    """Notebook name -> the names its own cells define or import (``torch``, ``F``): kept when code is compared."""
    result = {}
    for nb in course.notebooks(source):
        cells = json.loads(nb.path.read_text(encoding="utf-8")).get("cells", [])
        result[nb.name] = similarity.given_names([_source(c) for c in cells
                                                  if c.get("cell_type") == "code" and not _is_solution(c)])
    return result


def templates(given: dict[str, frozenset[str]], source: Path | None = None) -> dict[str, list[str]]:
    """Exercise -> its solution cell as released to students, normalised."""
    result = {}
    for nb in course.notebooks(source):
        cells = json.loads(nb.path.read_text(encoding="utf-8")).get("cells", [])
        for cell in cells:
            if cell.get("cell_type") == "code" and _is_solution(cell):
                result[_grade_id(cell)] = similarity.normalise(released_cell(_source(cell)), given[nb.name])
    return result


def _numbers(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("scores are not a mapping")
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float) and math.isfinite(v)}


def _texts(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def read_report(path: Path) -> Submission:
    """One report, by its JSON format; ValueError says why a file is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not readable JSON ({type(error).__name__})") from None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict) or not isinstance(result.get("scores"), dict):
        raise ValueError("no result with scores in it")
    stat = path.stat()
    return Submission(
        student=str(result.get("student") or path.parent.name),
        assignment=str(result.get("assignment") or path.stem),
        scores=_numbers(result["scores"]),
        max_scores=_numbers(result.get("max_scores") or {}),
        missing=_texts(result.get("missing")), errors=_texts(result.get("errors")),
        notes=_texts(result.get("notes")), flags=_texts(result.get("flags")),
        stamp=f"{data.get('digest', '')}:{stat.st_mtime_ns}", graded_at=stat.st_mtime,
    )


def read_autograded(ws: Workspace, sub: Submission, notebooks: list[course.Notebook],
                    given: dict[str, frozenset[str]]) -> None:
    """Fill in the solution cells (as written and normalised) and test outputs from the autograded notebooks."""
    for nb in notebooks:
        path = ws.path(AUTOGRADED, sub.student, sub.assignment, f"{nb.name}.ipynb")
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            continue
        sub.autograded = True
        for cell in cells if isinstance(cells, list) else []:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            grade_id = _grade_id(cell)
            if _is_solution(cell):
                sub.cells[grade_id] = _source(cell)
                sub.tokens[grade_id] = similarity.normalise(sub.cells[grade_id], given.get(nb.name, frozenset()))
            elif grade_id.startswith("test_"):
                outputs = cell.get("outputs")
                sub.outputs[grade_id.removeprefix("test_")] = [o for o in outputs or [] if isinstance(o, dict)]


def load(ws: Workspace) -> Class:
    """Every graded submission in the course folder; NotGraded if there is none."""
    known = course.assignments(ws.source)
    folder = ws.path(REPORTS)
    if not ws.root.is_dir():
        raise NotGraded(f"no course folder at {ws.root}")
    paths = sorted(folder.glob("*/*.json")) if folder.is_dir() else []
    submissions, skipped = [], []
    given = given_names(ws.source)
    for path in paths:
        where = path.relative_to(ws.root).as_posix()
        try:
            sub = read_report(path)
        except ValueError as error:
            skipped.append(f"{where}: {error}")
            continue
        if sub.assignment not in known:
            skipped.append(f"{where}: {sub.assignment} is not an assignment of this course")
            continue
        read_autograded(ws, sub, known[sub.assignment], given)
        submissions.append(sub)
    if not submissions:
        detail = f"; {len(skipped)} unreadable report(s), e.g. {skipped[0]}" if skipped else ""
        raise NotGraded(f"nothing graded in {ws.root}: no grading reports in {folder}{detail}; "
                        "run `python -m autograde grade` first")
    return Class({a: [e for nb in nbs for e in nb.exercises] for a, nbs in known.items()},
                 templates(given, ws.source), submissions, skipped,
                 {e.name: nb.name for nbs in known.values() for nb in nbs for e in nb.exercises}, given)


# -- 1. items ----------------------------------------------------------------------------------
@dataclass
class Item:
    """How one exercise went for the class."""

    assignment: str
    exercise: str
    points: float
    students: int
    mean: float  # points
    full: float  # shares of the students graded on the assignment
    partial: float
    zero: float  # scored zero although attempted
    not_attempted: float  # still the stub, or the notebook not handed in
    discrimination: float | None
    flag: str | None  # "negative", "near_zero", "no_spread", "few"


def not_attempted(cls: Class, sub: Submission, exercise: str, notebook_missing: bool) -> bool:
    """The exercise was left as released (comments and layout aside), or its notebook was not handed in."""
    if notebook_missing:
        return True
    if exercise not in sub.tokens:
        return False  # no autograded copy to tell
    released = cls.templates.get(exercise)
    return released is not None and sub.tokens[exercise] == released


def stub_map(cls: Class) -> dict[tuple[str, str], set[str]]:
    """(student, assignment) -> the exercises not attempted."""
    result = {}
    for sub in cls.submissions:
        result[(sub.student, sub.assignment)] = {
            ex.name for ex in cls.exercises[sub.assignment]
            if not_attempted(cls, sub, ex.name, cls.notebook_of.get(ex.name) in sub.missing)}
    return result


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r, or None when either side does not vary."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


def discrimination_flag(r: float | None, n: int) -> str | None:
    if n < MIN_STUDENTS:
        return "few"
    if r is None:
        return "no_spread"
    if r <= -NEAR_ZERO:
        return "negative"
    if r < NEAR_ZERO:
        return "near_zero"
    return None


def items(cls: Class, stubs: dict[tuple[str, str], set[str]]) -> list[Item]:
    """Per exercise: points, mean, full marks, not attempted, and the corrected item-total correlation."""
    totals: dict[str, float] = defaultdict(float)
    for sub in cls.submissions:
        totals[sub.student] += sum(sub.scores.values())
    result = []
    for assignment, exercises in cls.exercises.items():
        subs = cls.of(assignment)
        for ex in exercises:
            n = len(subs)
            scores = [s.scores.get(ex.name, 0.0) for s in subs]
            points = ex.points or max((s.max_scores.get(ex.name, 0.0) for s in subs), default=0.0)
            stub = [ex.name in stubs[(s.student, assignment)] for s in subs]
            full = sum(points > 0 and v >= points - 1e-9 for v in scores)
            zero = sum(v <= 1e-9 and not st for v, st in zip(scores, stub))
            skipped = sum(stub)
            r = pearson(scores, [totals[s.student] - v for s, v in zip(subs, scores)]) if n >= MIN_STUDENTS else None
            d = n or 1
            result.append(Item(assignment, ex.name, points, n, sum(scores) / d, full / d, (n - full - zero - skipped) / d,
                               zero / d, skipped / d, r, discrimination_flag(r, n)))
    return result


# -- 2. mistakes and flags --------------------------------------------------------------------
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


def hint_keys(exercise: str) -> dict[str, str]:
    """Every hint text this exercise's checks can show, in every language -> its key."""
    result = {}
    for key, texts in {**messages.GENERIC_HINTS, **messages.HINTS.get(exercise, {})}.items():
        for text in texts.values():
            result[text.strip()] = key
    return result


def parse_failure(text: str) -> dict[str, str] | None:
    """The parts of a failing check's message (exercise, what, expected, got, hint, and its lang), or None."""
    for lang, pattern in zip(messages.LANGUAGES, FAILURE):
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


# -- 3. similarity -----------------------------------------------------------------------------
def pairs(cls: Class) -> list[similarity.Pair]:
    """Unusually alike submissions, per assignment, ranked."""
    found = []
    for assignment, exercises in cls.exercises.items():
        names = {e.name for e in exercises}
        cells = {s.student: {ex: t for ex, t in s.tokens.items() if ex in names} for s in cls.of(assignment) if s.tokens}
        found += similarity.similar_pairs(assignment, cells, {e: cls.templates[e] for e in names if e in cls.templates})
    return found


def lines_of(cls: Class, cells: dict[str, str], exercise: str, positions: list[int]) -> list[int]:
    """The lines of a student's cell that hold the shared tokens."""
    given = cls.given.get(cls.notebook_of.get(exercise, ""), frozenset())
    return similarity.lines_of(cells.get(exercise, ""), positions, given)


# -- 4. progress over time --------------------------------------------------------------------
@dataclass
class Run:
    """The class's scores as one grading run left them."""

    graded_at: str  # ISO time of the newest report
    signature: str
    scores: dict[str, dict[str, dict[str, float]]]  # assignment -> student -> exercise -> points
    not_attempted: dict[str, dict[str, list[str]]]  # assignment -> student -> exercises


def snapshot(cls: Class, stubs: dict[tuple[str, str], set[str]]) -> Run:
    signature = hashlib.sha256("\n".join(sorted(f"{s.student}/{s.assignment}/{s.stamp}" for s in cls.submissions))
                                .encode()).hexdigest()
    newest = max(s.graded_at for s in cls.submissions)
    scores: dict = defaultdict(dict)
    skipped: dict = defaultdict(dict)
    for s in cls.submissions:
        scores[s.assignment][s.student] = dict(s.scores)
        skipped[s.assignment][s.student] = sorted(stubs[(s.student, s.assignment)])
    when = datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds")
    return Run(when, signature, dict(scores), dict(skipped))


def history(folder: Path, current: Run, record: bool = True) -> list[Run]:
    """Earlier snapshots kept in ``folder`` plus the current one (stored there when it is new)."""
    runs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            runs.append(Run(str(data["graded_at"]), str(data["signature"]), data["scores"], data.get("not_attempted", {})))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a snapshot that is not one is ignored; the report still builds
    if current.signature not in {r.signature for r in runs}:
        runs.append(current)
        if record:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{current.graded_at.replace(':', '')}-{current.signature[:8]}.json"
            (folder / name).write_text(json.dumps(asdict(current), ensure_ascii=False), encoding="utf-8")
    runs.sort(key=lambda r: r.graded_at)
    return runs


@dataclass
class Progress:
    """One exercise in one run."""

    run: int  # 1, 2, ...
    graded_at: str
    assignment: str
    exercise: str
    students: int
    mean_share: float  # mean score as a share of the points
    full: float
    not_attempted: float


def progress(cls: Class, runs: list[Run]) -> list[Progress]:
    result = []
    for number, run in enumerate(runs, 1):
        for assignment, exercises in cls.exercises.items():
            by_student = run.scores.get(assignment, {})
            n = len(by_student)
            if not n:
                continue
            for ex in exercises:
                values = [float(scores.get(ex.name, 0.0)) for scores in by_student.values()]
                skipped = sum(ex.name in run.not_attempted.get(assignment, {}).get(s, []) for s in by_student)
                points = ex.points or 1.0
                result.append(Progress(number, run.graded_at, assignment, ex.name, n, sum(values) / n / points,
                                       sum(v >= points - 1e-9 for v in values) / n, skipped / n))
    return result


# -- the report --------------------------------------------------------------------------------
@dataclass
class Insight:
    """Everything the page and the CSV files show."""

    students: int
    submissions: int
    items: list[Item]
    mistakes: list[Mistake]
    flags: list[FlagGroup]
    pairs: list[similarity.Pair]
    runs: list[Run]
    progress: list[Progress]
    skipped: list[str]
    cells: dict[tuple[str, str], dict[str, str]]  # (student, assignment) -> cells, for the pairs shown
    highlight: dict[tuple[str, str, str, str], tuple[list[int], list[int]]]  # (assignment, a, b, exercise) -> lines
    graded_at: str


def analyse(ws: Workspace, record_history: bool = True, history_dir: Path | None = None) -> Insight:
    cls = load(ws)
    stubs = stub_map(cls)
    anonymise = Anonymiser(cls.students)
    found = pairs(cls)
    shown = [p for a in cls.exercises for p in [q for q in found if q.assignment == a][:PAIRS_SHOWN]]
    by_key = {(s.student, s.assignment): s.cells for s in cls.submissions}
    cells = {(who, p.assignment): by_key[(who, p.assignment)] for p in shown for who in (p.a, p.b)}
    highlight = {(p.assignment, p.a, p.b, ex): (lines_of(cls, cells[(p.a, p.assignment)], ex, at_a),
                                                lines_of(cls, cells[(p.b, p.assignment)], ex, at_b))
                 for p in shown for ex, (at_a, at_b) in p.matches.items()}
    current = snapshot(cls, stubs)
    runs = history(history_dir or ws.path(OUTPUT, "history"), current, record_history)
    return Insight(len(cls.students), len(cls.submissions), items(cls, stubs), mistakes(cls, stubs, anonymise),
                   flag_groups(cls, anonymise), found, runs, progress(cls, runs), cls.skipped, cells, highlight,
                   current.graded_at)


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([[f"{v:.4g}" if isinstance(v, float) else ("" if v is None else v) for v in row]
                          for row in rows])
    return path


def write_csvs(report: Insight, out: Path) -> list[Path]:
    """One CSV per table of the page (column names in English, whatever the page's language)."""
    return [
        _csv(out / "items.csv", ["assignment", "exercise", "points", "students", "mean", "full_marks", "partial",
                                 "zero", "not_attempted", "discrimination", "flag"],
             [[i.assignment, i.exercise, i.points, i.students, i.mean, i.full, i.partial, i.zero, i.not_attempted,
               i.discrimination, i.flag] for i in report.items]),
        _csv(out / "mistakes.csv", ["assignment", "exercise", "kind", "what", "hint", "students", "share", "example"],
             [[m.assignment, m.exercise, m.kind, m.what, m.hint_key, m.students, m.share, m.example]
              for m in report.mistakes]),
        _csv(out / "flags.csv", ["assignment", "category", "text", "students", "share", "example"],
             [[f.assignment, f.category, f.text, f.students, f.share, f.example] for f in report.flags]),
        _csv(out / "similarity.csv", ["assignment", "student_a", "student_b", "score", "shared_fingerprints", "exercises"],
             [[p.assignment, p.a, p.b, p.score, p.shared, " ".join(p.matches)] for p in report.pairs]),
        _csv(out / "progress.csv", ["run", "graded_at", "assignment", "exercise", "students", "mean_share", "full_marks",
                                    "not_attempted"],
             [[p.run, p.graded_at, p.assignment, p.exercise, p.students, p.mean_share, p.full, p.not_attempted]
              for p in report.progress]),
    ]


def build(ws: Workspace, out: Path | None = None, lang: str = "en", record_history: bool = True) -> tuple[Insight, list[Path]]:
    """Analyse the graded class and write the page and the CSV files; return what was written."""
    from autograde import insight_page

    report = analyse(ws, record_history)
    out = Path(out or ws.path(OUTPUT))
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(insight_page.render(report, lang), encoding="utf-8")
    return report, [page, *write_csvs(report, out)]


def cmd_insight(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    start = time.perf_counter()
    report, written = build(ws, args.out, args.lang)
    for path in written:
        print(f"wrote {path}")
    for line in report.skipped:
        print(f"skipped {line}")
    flagged = sum(i.flag in ("near_zero", "negative") for i in report.items)
    print(f"insight: {report.students} students, {report.submissions} graded submissions, {flagged} exercise(s) "
          f"flagged for discrimination, {len(report.mistakes)} kinds of mistake, {len(report.pairs)} similar pair(s), "
          f"{len(report.runs)} grading run(s), in {time.perf_counter() - start:.1f} s")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "insight", help="write a report on the graded class: items, common mistakes, similar submissions",
        description="Read what grading wrote (COURSE_DIR/reports and COURSE_DIR/autograded) and write one "
        "self-contained HTML page plus a CSV per table into OUT (default: COURSE_DIR/insight/): per exercise the "
        "mean, full marks, not attempted and discrimination; the failing checks ranked by how many students hit "
        "them; what grading repaired or flagged; pairs of submissions whose solution cells are unusually alike; "
        "and progress over the grading runs this report has seen (kept in COURSE_DIR/insight/history/).")
    p.add_argument("out", type=Path, nargs="?", default=None, metavar="OUT", help="folder to write into")
    p.add_argument("--lang", choices=list(messages.LANGUAGES), default="en", help="language of the page (default: en)")
    p.set_defaults(func=cmd_insight)
