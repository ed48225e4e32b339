"""What the class got wrong: item analysis, common mistakes, flags, similar submissions, progress.

``python -m autograde insight`` reads only what grading wrote into the course folder (the reports and
the autograded notebooks, :mod:`autograde.graded_class`) and writes one self-contained HTML page (no
network, charts as inline SVG, :mod:`autograde.insight_page`) and a CSV per table into
``COURSE_DIR/insight/``. The mistakes and flags come from :mod:`autograde.mistakes`, the similar pairs
from :mod:`autograde.similarity`.

"Progress over time" compares the class after each grading run, from the history grading keeps
(``reports/_runs/``, :func:`autograde.reports.runs`). A course folder graded before grading kept a
history falls back to snapshots this report stores in ``COURSE_DIR/insight/history/`` each time it
runs on a class whose reports changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from autograde import messages, similarity
from autograde.graded_class import Class, load, stub_map
from autograde.mistakes import Anonymiser, FlagGroup, Mistake, flag_groups, mistakes
from autograde.workspace import Workspace

OUTPUT = "insight"
NEAR_ZERO = 0.15  # discrimination below this (in absolute value) separates nobody
MIN_STUDENTS = 5  # fewer graded students: no discrimination index
PAIRS_SHOWN = 30  # per assignment, on the page (the CSV has them all)

# -- items: how each exercise went ------------------------------------------------------------
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
        if not subs:
            continue  # not graded at all: nothing to say
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


# -- similar pairs -----------------------------------------------------------------------------
def pairs(cls: Class) -> list[similarity.Pair]:
    """Unusually alike submissions, per assignment, ranked."""
    found = []
    for assignment, exercises in cls.exercises.items():
        names = {e.name for e in exercises}
        cells = {s.student: {ex: t for ex, t in s.tokens.items() if ex in names} for s in cls.of(assignment) if s.tokens}
        base = {e: [cls.templates[e], cls.references[e]] for e in names if e in cls.templates}
        found += similarity.similar_pairs(assignment, cells, base)
    return found


def lines_of(cls: Class, cells: dict[str, str], exercise: str, positions: list[int]) -> list[int]:
    """The lines of a student's cell that hold the shared tokens."""
    given = cls.given.get(cls.notebook_of.get(exercise, ""), frozenset())
    return similarity.lines_of(cells.get(exercise, ""), positions, given)


# -- progress over grading runs ---------------------------------------------------------------
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


def grading_runs(ws: Workspace, current: Run) -> list[Run]:
    """The class after each grading run, from grading's own history; empty when grading kept none."""
    from autograde import reports

    state: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    found = []
    for name, entries in reports.runs(ws):
        for entry in entries:
            state[entry["assignment"]][entry["student"]] = {k: float(v) for k, v in entry["scores"].items()}
        found.append(Run(max(e["graded_at"] for e in entries), name, {a: dict(s) for a, s in state.items()}, {}))
    if found:  # which exercises are still the stub is read from the notebooks, as the newest run left them
        found[-1] = Run(found[-1].graded_at, found[-1].signature, found[-1].scores, current.not_attempted)
    return found


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
    runs = grading_runs(ws, current) or history(history_dir or ws.path(OUTPUT, "history"), current, record_history)
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
    try:
        report, written = build(ws, args.out, args.lang)
    except OSError as error:  # a folder that cannot be read or written: say which, not a traceback
        raise RuntimeError(f"{error.strerror or error}: {error.filename or ''}") from None
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
        "and progress over the grading runs (from the history grading keeps in COURSE_DIR/reports/_runs/).")
    p.add_argument("out", type=Path, nargs="?", default=None, metavar="OUT", help="folder to write into")
    p.add_argument("--lang", choices=list(messages.LANGUAGES), default="en", help="language of the page (default: en)")
    p.set_defaults(func=cmd_insight)
