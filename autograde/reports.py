"""What ``grade`` says about each submission, and how a stopped run resumes.

A :class:`GradeResult` is the report of one student's submission of one assignment: its score
line, then what was repaired, lost or flagged. It is written to ``reports/STUDENT/ASSIGNMENT.json``
with a digest of everything the grade depends on (the submitted files, the grader, the reference,
the source notebooks, the limits). A run that was stopped resumes where it stopped: a submission
whose report is there with the same digest, and whose grades are in the gradebook, is not graded
again. A submission's report is removed before anything of its grading is touched, so a run
stopped midway never leaves a report for a submission it did not finish.

Each grading run also appends every submission it finishes to its own history file,
``reports/_runs/RUN.jsonl`` (a student id cannot start with ``_``), so what the class scored after
each run can be read back later (``python -m autograde insight`` shows progress over the runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograde import course, editions
from autograde.workspace import Workspace, template_for

REPORTS = "reports"
RUNS = "_runs"  # inside REPORTS: one history file per grading run


@dataclass
class GradeResult:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points
    max_scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points available
    missing: list[str] = field(default_factory=list)  # notebooks not submitted (scored zero)
    errors: list[str] = field(default_factory=list)  # notebooks that could not be graded, and why
    notes: list[str] = field(default_factory=list)  # what was repaired, flagged or lost
    flags: list[str] = field(default_factory=list)  # exercises zeroed for tampering
    manual: dict[str, float] = field(default_factory=dict)  # exercise name -> points given by hand (Formgrader)
    seconds: float = 0.0
    resumed: bool = False  # graded by an earlier run, unchanged since

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())

    def lines(self) -> list[str]:
        """The report: the score line, then one indented line per note, flag and error."""
        head = f"{self.student}/{self.assignment}: {self.score:g}/{self.max_score:g}"
        if self.missing:
            head += f" (not submitted, scored 0: {', '.join(self.missing)})"
        if self.manual:
            head += manual_text(self.manual)
        if self.resumed:
            head += " (unchanged since the last run)"
        return [head, *(f"  {n}" for n in self.notes), *(f"  FLAG {f}" for f in self.flags),
                *(f"  FAILED {e}" for e in self.errors)]


def manual_text(manual: dict[str, float]) -> str:
    """Scores given by hand in nbgrader's Formgrader, as grade and status print them."""
    return " (manual: " + ", ".join(f"{name} {points:g}" for name, points in manual.items()) + ")"


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a run killed mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.writing")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def assignment_digest(notebooks: list[course.Notebook], fingerprint: dict) -> str:
    """What every grade of an assignment depends on: the grader, the reference, the source notebooks, the limits."""
    h = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode())
    course.hash_code(h)
    for nb in notebooks:
        for edition in sorted({nb.lang, *editions.EDITIONS}):  # sorted: set order changes between processes
            h.update(template_for(nb, edition).read_bytes())
    return h.hexdigest()


def digest(ws: Workspace, student: str, assignment: str, base: str) -> str:
    """What this submission's grade depends on: its files, and its assignment's digest ``base``."""
    h = hashlib.sha256(base.encode())
    folder = ws.path("submitted", student, assignment)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def report_path(ws: Workspace, student: str, assignment: str) -> Path:
    return ws.path(REPORTS, student, f"{assignment}.json")


def invalidate(ws: Workspace, student: str, assignment: str) -> None:
    """Remove a submission's report: done before any of its grading is touched."""
    report_path(ws, student, assignment).unlink(missing_ok=True)


def write_report(ws: Workspace, result: GradeResult, key: str) -> None:
    data = asdict(result)
    data.pop("resumed", None)
    write_atomic(report_path(ws, result.student, result.assignment),
                 json.dumps({"digest": key, "result": data}, indent=1, ensure_ascii=False))


def saved_result(ws: Workspace, student: str, assignment: str, key: str) -> GradeResult | None:
    """The result an earlier run reported for this exact submission (same digest ``key``), if any."""
    path = report_path(ws, student, assignment)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("digest") != key:
            return None
        data = saved["result"]
        result = GradeResult(**{k: v for k, v in data.items() if k in GradeResult.__dataclass_fields__})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    result.resumed = True
    return result


# -- the history of grading runs ---------------------------------------------------------------
def new_run() -> str:
    """A name for a grading run that sorts by the time it started."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def record(ws: Workspace, run: str, result: GradeResult) -> None:
    """Append one finished submission to the history of grading run ``run``."""
    record_all(ws, run, [result])


def record_all(ws: Workspace, run: str, results: list[GradeResult]) -> None:
    """Append finished submissions to the history of grading run ``run``, one line each, in one write."""
    path = ws.path(REPORTS, RUNS, f"{run}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = "".join(json.dumps({"graded_at": now, "student": r.student, "assignment": r.assignment, "scores": r.scores,
                                "max_scores": r.max_scores}, ensure_ascii=False) + "\n" for r in results)
    with open(path, "a", encoding="utf-8") as history:
        history.write(lines)


def runs(ws: Workspace) -> list[tuple[str, list[dict]]]:
    """Every grading run, oldest first, with the submissions it finished (a line a killed run cut short is left out)."""
    found = []
    folder = ws.path(REPORTS, RUNS)
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("scores"), dict) and \
                    all(isinstance(entry.get(k), str) for k in ("graded_at", "student", "assignment")):
                entries.append(entry)
        if entries:
            found.append((path.stem, entries))
    return found
