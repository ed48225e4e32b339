"""The gradebook side of grading: which submissions there are, the rows nbgrader needs, the grades it holds.

Used by ``grade`` (the only process that writes the gradebook) and read by ``status``,
``export`` and ``feedback``.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

from autograde import course
from autograde.reports import GradeResult, saved_result
from autograde.workspace import Workspace


def exercise_name(grade_id: str) -> str:
    """The exercise a test cell grades: ``test_mse_loss`` -> ``mse_loss``."""
    return grade_id.removeprefix("test_")


@contextlib.contextmanager
def quiet_nbgrader() -> Iterator[None]:
    """Silence SQLAlchemy's session warnings that nbgrader triggers on every autograde."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"nbgrader(\.|$)")
        warnings.filterwarnings("ignore", message=r".*not in session.*")
        warnings.filterwarnings("ignore", message=r"Cell is missing an id field")  # learner files without cell ids
        yield


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


def read_result(ws: Workspace, gb, student: str, assignment: str, result: GradeResult | None = None) -> GradeResult:
    """The grades the gradebook holds for one student and assignment (zero where nothing is graded).

    ``gb`` is an open nbgrader ``Gradebook``, or an ``NbGraderAPI`` whose gradebook is opened here.
    """
    from nbgrader.api import MissingEntry

    if hasattr(gb, "gradebook"):
        with gb.gradebook as opened:
            return read_result(ws, opened, student, assignment, result)
    result = result or GradeResult(student, assignment)
    for nb in course.assignments(ws.source).get(assignment, []):
        for ex in nb.exercises:
            result.scores[ex.name] = 0.0
            result.max_scores[ex.name] = ex.points
        try:
            submitted = gb.find_submission_notebook(nb.name, assignment, student)
        except MissingEntry:
            if nb.name not in result.missing:
                result.missing.append(nb.name)
            continue
        for grade in submitted.grades:
            name = exercise_name(grade.name)
            result.scores[name] = float(grade.score or 0.0)
            result.max_scores[name] = float(grade.max_score or 0.0)
            if grade.manual_score is not None:
                result.manual[name] = float(grade.manual_score)
    return result


def begin(ws: Workspace, gb, student: str, assignment: str) -> None:
    """The gradebook rows a submission needs before its notebooks are scored (as nbgrader makes them)."""
    from nbgrader.coursedir import CourseDirectory

    gb.update_or_create_student(student)
    coursedir = CourseDirectory(config=ws.config())
    src = ws.path("submitted", student, assignment)
    timestamp = coursedir.get_existing_timestamp(str(src))
    if timestamp:
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(assignment, student)
    dest = ws.path("autograded", student, assignment)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in src.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and not path.name.startswith("."):
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def zero_notebook(gb, student: str, assignment: str, notebook: str) -> None:
    """A notebook that was not handed in, or could not be graded, scores zero."""
    submission = gb.find_submission_notebook(notebook, assignment, student)
    for grade in submission.grades:
        grade.auto_score = 0
        grade.needs_manual_grade = False
    gb.db.commit()


def resumable(ws: Workspace, gb, student: str, assignment: str, key: str) -> GradeResult | None:
    """The earlier result, if this exact submission was graded and its grades are in the gradebook."""
    from nbgrader.api import MissingEntry

    result = saved_result(ws, student, assignment, key)
    if result is None:
        return None
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    return read_result(ws, gb, student, assignment, result)
