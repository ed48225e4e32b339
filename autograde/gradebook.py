"""The gradebook side of grading: which submissions there are, the rows nbgrader needs, the grades it holds.

Used by ``grade`` (the only process that writes the gradebook) and read by ``status``,
``export`` and ``feedback``.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from autograde import course
from autograde.protocol import Verdict
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


# -- what the workers need from the gradebook, read once per notebook of an assignment ---------
def reference_of(ws: Workspace, gb, nb: course.Notebook) -> dict:
    """What grading ``nb`` needs from the gradebook and the source folder, as data a worker can take away.

    nbgrader's sanitising reads the gradebook (locked and test cells, points, kernelspec);
    repairing reads the source notebook of the learner's edition. Both are read here, once per
    notebook of an assignment, so that the workers never open the gradebook nor the course folder.
    """
    from autograde import editions
    from autograde.workspace import template_for

    source = gb.find_notebook(nb.name, nb.assignment)
    return {
        "name": nb.name, "file": nb.path.name, "assignment": nb.assignment, "module": nb.reference, "lang": nb.lang,
        "exercises": [[ex.name, ex.points] for ex in nb.exercises],
        "templates": {edition: template_for(nb, edition).read_text(encoding="utf-8")
                      for edition in sorted({nb.lang, *editions.EDITIONS})},
        "kernelspec": source.kernelspec,
        "source_cells": [{"name": c.name, "cell_type": c.cell_type, "locked": bool(c.locked), "source": c.source,
                          "checksum": c.checksum} for c in source.source_cells],
        "grade_cells": {c.name: float(c.max_score) for c in source.grade_cells},
        "solution_cells": [c.name for c in source.solution_cells],
        "task_cells": {c.name: float(c.max_score) for c in source.task_cells},
    }


@dataclass
class NotebookIds:
    """The gradebook's ids for one source notebook and its cells."""

    id: str
    grades: dict[str, tuple[str, float]]  # graded cell (grade and task cells) -> (cell id, points)
    comments: dict[str, str]  # solution and task cell -> cell id


@dataclass
class AssignmentIds:
    id: str
    notebooks: dict[str, NotebookIds]


def assignment_ids(gb, assignment: str) -> AssignmentIds:
    found = gb.find_assignment(assignment)
    notebooks = {}
    for nb in found.notebooks:
        grades = {c.name: (c.id, float(c.max_score)) for c in [*nb.grade_cells, *nb.task_cells]}
        comments = {c.name: c.id for c in [*nb.solution_cells, *nb.task_cells]}
        notebooks[nb.name] = NotebookIds(nb.id, grades, comments)
    return AssignmentIds(found.id, notebooks)


@dataclass
class Finished:
    """One submission whose notebooks are all graded, ready to be written: a verdict per notebook, or None (zero)."""

    student: str
    assignment: str
    timestamp: datetime | None
    verdicts: dict[str, Verdict | None]


def submission_timestamp(ws: Workspace, student: str, assignment: str) -> datetime | None:
    """The time the submission was handed in (``timestamp.txt``, as nbgrader reads it), if recorded."""
    from nbgrader.utils import parse_utc

    try:
        text = ws.path("submitted", student, assignment, "timestamp.txt").read_text().strip()
    except OSError:
        return None
    try:
        return parse_utc(text) if text else None
    except (ValueError, OverflowError):
        raise ValueError(f"invalid timestamp in {student}/{assignment}/timestamp.txt: {text[:80]!r}") from None


def write_batch(gb, ids: dict[str, AssignmentIds], batch: list[Finished]) -> dict[tuple[str, str], dict]:
    """Write a batch of graded submissions in one transaction, as nbgrader's autograde leaves them.

    For each submission: the student, the submitted assignment (its timestamp), a submitted
    notebook per notebook of the assignment, a grade per graded cell and a comment per solution
    cell, created when missing and updated otherwise (a manual score stays), so writing the same
    batch twice leaves the same rows. A graded notebook gets its verdict's scores (nbgrader's
    ``SaveAutoGrades``: a cell with a manual score, or no automatic one, needs a grader); a
    notebook that is missing or failed scores zero. Nothing is committed until the whole batch is
    written: a run killed midway leaves the batch's rows as they were.

    Returns (student, assignment) -> {grade cell -> (score, points, manual score or None)}, the
    scores as nbgrader computes them (manual score, else automatic one, plus extra credit).
    """
    import sqlalchemy as sa
    from nbgrader.api import Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook, new_uuid

    students_t, subs_t, nbs_t = Student.__table__, SubmittedAssignment.__table__, SubmittedNotebook.__table__
    grades_t, comments_t = Grade.__table__, Comment.__table__
    conn = gb.db.connection()
    try:
        names = sorted({f.student for f in batch})
        known = set(conn.execute(sa.select(students_t.c.id).where(students_t.c.id.in_(names))).scalars())
        if len(known) < len(names):
            conn.execute(sa.insert(students_t), [{"id": s} for s in names if s not in known])

        # submitted assignments: one per (assignment, student)
        sub_ids: dict[tuple[str, str], str] = {}
        for assignment in sorted({f.assignment for f in batch}):
            rows = conn.execute(sa.select(subs_t.c.id, subs_t.c.student_id).where(
                subs_t.c.assignment_id == ids[assignment].id,
                subs_t.c.student_id.in_([f.student for f in batch if f.assignment == assignment])))
            for sub_id, student in rows:
                sub_ids[(student, assignment)] = sub_id
        new_subs, stamps = [], []
        for f in batch:
            key = (f.student, f.assignment)
            if key in sub_ids:
                if f.timestamp is not None:
                    stamps.append({"_id": sub_ids[key], "_ts": f.timestamp})
            else:
                sub_ids[key] = new_uuid()
                new_subs.append({"id": sub_ids[key], "assignment_id": ids[f.assignment].id, "student_id": f.student,
                                 "timestamp": f.timestamp})
        if new_subs:
            conn.execute(sa.insert(subs_t), new_subs)
        if stamps:
            conn.execute(sa.update(subs_t).where(subs_t.c.id == sa.bindparam("_id")).values(
                timestamp=sa.bindparam("_ts")), stamps)

        # submitted notebooks: one per notebook of the assignment
        nb_ids: dict[tuple[str, str], str] = {}  # (submission id, notebook id) -> submitted notebook id
        for chunk in _chunks(list(sub_ids.values())):
            for nb_id, sub_id, source_id in conn.execute(sa.select(nbs_t.c.id, nbs_t.c.assignment_id,
                                                                   nbs_t.c.notebook_id).where(nbs_t.c.assignment_id.in_(chunk))):
                nb_ids[(sub_id, source_id)] = nb_id
        new_nbs = []
        for f in batch:
            sub_id = sub_ids[(f.student, f.assignment)]
            for source in ids[f.assignment].notebooks.values():
                if (sub_id, source.id) not in nb_ids:
                    nb_ids[(sub_id, source.id)] = new_uuid()
                    new_nbs.append({"id": nb_ids[(sub_id, source.id)], "assignment_id": sub_id,
                                    "notebook_id": source.id, "flagged": False})
        if new_nbs:
            conn.execute(sa.insert(nbs_t), new_nbs)

        # grades and comments
        all_nbs = list(nb_ids.values())
        grades: dict[tuple[str, str], tuple[str, float | None, float | None]] = {}  # (nb, cell) -> (id, manual, extra)
        comments: dict[tuple[str, str], str] = {}
        for chunk in _chunks(all_nbs):
            for gid, nb_id, cell_id, manual, extra in conn.execute(sa.select(
                    grades_t.c.id, grades_t.c.notebook_id, grades_t.c.cell_id, grades_t.c.manual_score,
                    grades_t.c.extra_credit).where(grades_t.c.notebook_id.in_(chunk))):
                grades[(nb_id, cell_id)] = (gid, manual, extra)
            for cid, nb_id, cell_id in conn.execute(sa.select(comments_t.c.id, comments_t.c.notebook_id,
                                                              comments_t.c.cell_id).where(comments_t.c.notebook_id.in_(chunk))):
                comments[(nb_id, cell_id)] = cid
        new_grades, set_grades, new_comments, set_comments, unpenalised = [], [], [], [], []
        results: dict[tuple[str, str], dict] = {}
        for f in batch:
            sub_id = sub_ids[(f.student, f.assignment)]
            scored = results.setdefault((f.student, f.assignment), {})
            for name, source in ids[f.assignment].notebooks.items():
                nb_id = nb_ids[(sub_id, source.id)]
                verdict = f.verdicts.get(name)
                auto = {g.name: g.auto_score for g in verdict.grades} if verdict is not None else None
                if verdict is not None:
                    unpenalised.append({"_id": nb_id})
                for cell, (cell_id, points) in source.grades.items():
                    gid, manual, extra = grades.get((nb_id, cell_id), (None, None, None))
                    if auto is None:
                        values = {"auto_score": 0.0, "needs_manual_grade": False}
                    elif cell in auto:
                        score = auto[cell]
                        values = {"auto_score": score, "needs_manual_grade": manual is not None or score is None}
                    else:
                        values = None  # a task cell: graded by hand only
                    if gid is None:
                        new_grades.append({"id": new_uuid(), "notebook_id": nb_id, "cell_id": cell_id, "auto_score": None,
                                           "manual_score": None, "extra_credit": None, "needs_manual_grade": True,
                                           **(values or {})})
                    elif values is not None:
                        set_grades.append({"_id": gid, **values})
                    now = (values or {}).get("auto_score") if values is not None else None
                    base = manual if manual is not None else now
                    total = (base + (extra or 0.0)) if base is not None else 0.0
                    scored[cell] = (total, points, manual)
                said = {c.name: c.auto_comment for c in verdict.comments} if verdict is not None else {}
                for cell, cell_id in source.comments.items():
                    cid = comments.get((nb_id, cell_id))
                    if cid is None:
                        new_comments.append({"id": new_uuid(), "notebook_id": nb_id, "cell_id": cell_id,
                                             "auto_comment": said.get(cell), "manual_comment": None})
                    elif cell in said:
                        set_comments.append({"_id": cid, "auto_comment": said[cell]})
        if new_grades:
            conn.execute(sa.insert(grades_t), new_grades)
        if set_grades:
            for keys, rows in _by_keys(set_grades).items():
                conn.execute(sa.update(grades_t).where(grades_t.c.id == sa.bindparam("_id")).values(
                    **{k: sa.bindparam(k) for k in keys}), rows)
        if new_comments:
            conn.execute(sa.insert(comments_t), new_comments)
        if set_comments:
            conn.execute(sa.update(comments_t).where(comments_t.c.id == sa.bindparam("_id")).values(
                auto_comment=sa.bindparam("auto_comment")), set_comments)
        if unpenalised:  # nbgrader's AssignLatePenalties with the course's configuration: no penalty
            conn.execute(sa.update(nbs_t).where(nbs_t.c.id == sa.bindparam("_id")).values(late_submission_penalty=None),
                         unpenalised)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    return results


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _by_keys(rows: list[dict]) -> dict[tuple[str, ...], list[dict]]:
    grouped: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        grouped.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    return grouped


def fill_result(notebooks: list[course.Notebook], result: GradeResult, scored: dict) -> GradeResult:
    """Put what :func:`write_batch` wrote for one submission (of ``notebooks``) into ``result``, as
    :func:`read_result` reads it."""
    for nb in notebooks:
        for ex in nb.exercises:
            result.scores[ex.name] = 0.0
            result.max_scores[ex.name] = ex.points
    for cell, (score, points, manual) in scored.items():
        name = exercise_name(cell)
        result.scores[name] = float(score)
        result.max_scores[name] = float(points)
        if manual is not None:
            result.manual[name] = float(manual)
    return result
