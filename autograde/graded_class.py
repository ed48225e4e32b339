"""A graded class as grading left it on disk, read defensively: what ``insight`` works from.

- ``reports/STUDENT/ASSIGNMENT.json``: each submission's scores per exercise and what was repaired,
  lost or flagged. Read by its JSON format only (``{"digest": ..., "result": {"student", "assignment",
  "scores", "max_scores", "missing", "errors", "notes", "flags", ...}}``): a file that is not one is
  skipped and named, never a traceback.
- ``autograded/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``: the learner's solution cells as graded, and each
  test cell's outputs, where a failing check left its message.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from autograde import course, similarity
from autograde.workspace import STUB, Workspace

REPORTS = "reports"
AUTOGRADED = "autograded"


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
    references: dict[str, list[str]]  # exercise -> the source notebook's solution, normalised
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


def templates(given: dict[str, frozenset[str]], source: Path | None = None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Exercise -> its solution cell as released to students, and as the source notebook solves it; normalised."""
    released, reference = {}, {}
    for nb in course.notebooks(source):
        cells = json.loads(nb.path.read_text(encoding="utf-8")).get("cells", [])
        for cell in cells:
            if cell.get("cell_type") == "code" and _is_solution(cell):
                released[_grade_id(cell)] = similarity.normalise(released_cell(_source(cell)), given[nb.name])
                reference[_grade_id(cell)] = similarity.normalise(_source(cell), given[nb.name])
    return released, reference


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
                 *templates(given, ws.source), submissions, skipped,
                 {e.name: nb.name for nbs in known.values() for nb in nbs for e in nb.exercises}, given)


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
