"""Grade collected submissions through nbgrader's API.

``grade_one(ws, student, assignment)`` autogrades one student's submission of one assignment
and returns a :class:`GradeResult` (points per exercise, errors). Everything else (the ``grade``
command, the progress bar) goes through it, so a faster or more robust engine can replace its
internals without touching the callers.

nbgrader does the work: it copies the submission from ``submitted/`` (never modifying it) into
``autograded/``, restores the locked test cells from the source notebooks, runs the notebook and
stores one grade per test cell in the gradebook. Re-grading replaces the earlier grades; it
never adds rows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autograde import course
from autograde.workspace import Workspace


@dataclass
class GradeResult:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points
    max_scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points available
    missing: list[str] = field(default_factory=list)  # notebooks not submitted (scored zero)
    errors: list[str] = field(default_factory=list)  # why grading failed, if it did
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())


def exercise_name(grade_id: str) -> str:
    """The exercise a test cell grades: ``test_mse_loss`` -> ``mse_loss``."""
    return grade_id.removeprefix("test_")


@contextlib.contextmanager
def quiet_nbgrader() -> Iterator[None]:
    """Silence SQLAlchemy's session warnings that nbgrader triggers on every autograde."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"nbgrader(\.|$)")
        warnings.filterwarnings("ignore", message=r".*not in session.*")
        yield


@contextlib.contextmanager
def course_language(lang: str | None) -> Iterator[None]:
    """Set ``COURSE_LANG`` (read by the checks) for the kernels started inside this block."""
    before = os.environ.get("COURSE_LANG")
    if lang:
        os.environ["COURSE_LANG"] = lang
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("COURSE_LANG", None)
        else:
            os.environ["COURSE_LANG"] = before


def submissions(ws: Workspace, students: list[str] | None = None,
                assignments: list[str] | None = None) -> tuple[list[tuple[str, str]], list[Path]]:
    """Collected (student, assignment) pairs in ``submitted/``, filtered; and folders that are no assignment."""
    known = course.assignments(ws.source)
    found, unknown = [], []
    submitted = ws.path("submitted")
    if not submitted.is_dir():
        return [], []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if students and student_dir.name not in students:
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignments and assignment_dir.name not in assignments:
                continue
            if assignment_dir.name not in known:
                unknown.append(assignment_dir)
                continue
            found.append((student_dir.name, assignment_dir.name))
    return found, unknown


def ensure_released(ws: Workspace, api, assignment: str) -> None:
    """nbgrader grades only assignments its gradebook knows: release the assignment if it is new."""
    from nbgrader.api import MissingEntry

    with api.gradebook as gb:
        try:
            gb.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    result = api.generate_assignment(assignment, force=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}")


def read_result(ws: Workspace, api, student: str, assignment: str) -> GradeResult:
    """The grades the gradebook holds for one student and assignment (zero where nothing is graded)."""
    from nbgrader.api import MissingEntry

    result = GradeResult(student, assignment)
    with api.gradebook as gb:
        for nb in course.assignments(ws.source).get(assignment, []):
            for ex in nb.exercises:
                result.scores[ex.name] = 0.0
                result.max_scores[ex.name] = ex.points
            try:
                submitted = gb.find_submission_notebook(nb.name, assignment, student)
            except MissingEntry:
                result.missing.append(nb.name)
                continue
            for grade in submitted.grades:
                name = exercise_name(grade.name)
                result.scores[name] = float(grade.score or 0.0)
                result.max_scores[name] = float(grade.max_score or 0.0)
            if not ws.path("submitted", student, assignment, f"{nb.name}.ipynb").exists():
                result.missing.append(nb.name)
    return result


def grade_one(ws: Workspace, student: str, assignment: str, api=None) -> GradeResult:
    """Autograde one student's submission of one assignment; return the scores nbgrader stored."""
    start = time.perf_counter()
    notebooks = course.assignments(ws.source).get(assignment)
    if not notebooks:
        return GradeResult(student, assignment, errors=[f"{assignment} is not an assignment of this course"])
    if not ws.path("submitted", student, assignment).is_dir():
        return GradeResult(student, assignment, errors=[f"nothing collected for {student}/{assignment}"])
    api = api or ws.api()
    with quiet_nbgrader(), course_language(notebooks[0].lang):
        ensure_released(ws, api, assignment)
        outcome = api.autograde(assignment, student, force=True, create=True)
        result = read_result(ws, api, student, assignment)
    if not outcome.get("success"):
        detail = (outcome.get("error") or outcome.get("log") or "no details").strip()
        result.errors.append(f"nbgrader could not grade {student}/{assignment}: {detail.splitlines()[-1]}")
    result.seconds = time.perf_counter() - start
    return result


def grade_all(ws: Workspace, pairs: list[tuple[str, str]], progress: bool = True) -> list[GradeResult]:
    """Grade every (student, assignment) pair, with a progress bar on stderr."""
    from tqdm import tqdm

    api = ws.api() if pairs else None
    results = []
    with tqdm(pairs, desc="grading", unit="submission", disable=not progress) as bar:
        for student, assignment in bar:
            bar.set_postfix_str(f"{student}/{assignment}")
            try:
                results.append(grade_one(ws, student, assignment, api=api))
            except Exception as error:  # one broken submission must not stop the class
                results.append(GradeResult(student, assignment, errors=[f"{type(error).__name__}: {error}"]))
    return results


# -- command line ------------------------------------------------------------------------
def cmd_grade(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    pairs, unknown = submissions(ws, args.student, args.assignment)
    for folder in unknown:
        print(f"skipped {folder}: not an assignment of this course ({', '.join(course.assignments(ws.source))})")
    if not pairs:
        raise ValueError(f"nothing to grade in {ws.path('submitted')}"
                         + (" for the student/assignment asked" if args.student or args.assignment else "")
                         + "; run `autograde collect PATH` first")
    start = time.perf_counter()
    results = grade_all(ws, pairs, progress=not args.no_progress)
    for r in results:
        line = f"{r.student}/{r.assignment}: {r.score:g}/{r.max_score:g}"
        if r.missing:
            line += f" (not submitted, scored 0: {', '.join(r.missing)})"
        print(line)
        for error in r.errors:
            print(f"  FAILED: {error}")
    failed = sum(not r.ok for r in results)
    print(f"graded {len(results) - failed}, failed {failed}, in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "grade", help="autograde the collected submissions",
        description="Run every collected submission (COURSE_DIR/submitted/STUDENT/ASSIGNMENT/) with nbgrader: "
        "the locked test cells are restored from the source notebooks, each test cell that runs without an "
        "error earns its points, and the scores go into the gradebook. Submitted files are never modified; "
        "re-grading replaces the earlier scores. A notebook a student did not hand in scores zero. "
        "Exit status 1 if any submission could not be graded.")
    p.add_argument("--student", action="append", metavar="S", help="grade only this student (repeatable)")
    p.add_argument("--assignment", action="append", metavar="A", help="grade only this assignment (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.set_defaults(func=cmd_grade)
