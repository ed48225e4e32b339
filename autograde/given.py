"""The ``given`` package: notebook 1's ``Net`` for the notebooks after it, and who may have it.

``given/network.py`` is generated from ``solutions/network.py`` (the class ``Net`` alone, its
solution markers dropped) by :func:`write` (run by ``python -m autograde sync``);
``tests/test_student_env.py`` fails when the file and the reference drift. It reveals the answer
of ``REVEALS`` (01_network), so a graded class hands it out only with the assignments after that
one (:func:`gets_given`) and only once that assignment's due date has passed
(:func:`release_gate`); the grading sandbox mounts it only for those assignments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from autograde import course

PACKAGE = course.REPO / "given"
REVEALS = "01_network"  # the assignment whose graded answer (Net) the given package holds
GIVEN = {"network.py": ("solutions.network", ("Net",))}  # given module -> (reference module, names it copies)
HEADER = '''"""Notebook 1's network, given to notebooks 2-6 once notebook 1 has been handed in.

Generated from solutions/network.py by `python -m autograde sync`: do not edit.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
'''
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def text(module: str) -> str:
    """The generated text of one given module (``network.py``)."""
    from autograde.authoring import reference_source

    reference, names = GIVEN[module]
    parts = []
    for name in names:
        source = reference_source(reference, name)
        parts.append("\n".join(line for line in source.splitlines() if line.strip() not in MARKERS))
    return HEADER + "\n\n" + "\n\n\n".join(parts) + "\n"


def write(package: Path = PACKAGE) -> list[Path]:
    """(Re)write every given module from its reference; return the files that changed."""
    changed = []
    for module in GIVEN:
        path = package / module
        new = text(module)
        if not path.exists() or path.read_text(encoding="utf-8") != new:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def files(package: Path = PACKAGE) -> list[Path]:
    """The files of the given package, as they ship (``__init__.py`` and the generated modules)."""
    return [package / "__init__.py", *(package / m for m in GIVEN)]


def gets_given(assignment: str, source: Path | None = None) -> bool:
    """Does ``assignment`` build on the given package (it comes after ``REVEALS`` in the course)?"""
    order = list(course.assignments(source))
    return REVEALS in order and assignment in order and order.index(assignment) > order.index(REVEALS)


def due_date(ws) -> dt.datetime | None:
    """``REVEALS``'s due date in the workspace's gradebook (UTC, naive as nbgrader keeps it), or None."""
    from nbgrader.api import MissingEntry

    with _gradebook(ws) as gb:
        try:
            return gb.find_assignment(REVEALS).duedate
        except MissingEntry:
            return None


def release_gate(ws, assignments: list[str], before_due: bool = False, now: dt.datetime | None = None) -> None:
    """Refuse to hand out the given package (with the assignments after ``REVEALS``) before ``REVEALS`` is due.

    Raises ValueError with what to do, unless ``before_due`` (the instructor's explicit choice).
    """
    later = [a for a in assignments if gets_given(a, ws.source)]
    if not later or before_due:
        return
    due = due_date(ws)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if due is not None and due <= now:
        return
    when = "has no due date in the gradebook" if due is None else f"is due {due:%Y-%m-%d %H:%M} UTC, which has not passed"
    raise ValueError(
        f"{', '.join(later)} hand(s) out given/network.py, notebook 1's Net: the answer to {REVEALS}, which {when}. "
        f"Release after the due date (set it with `python -m autograde release {REVEALS} --due YYYY-MM-DD[THH:MM]`), "
        "or pass --before-due to hand it out anyway (for example when notebook 1 is not graded)."
    )


def set_due(ws, assignment: str, when: dt.datetime) -> None:
    """Record ``assignment``'s due date in the gradebook (UTC)."""
    with _gradebook(ws) as gb:
        gb.update_or_create_assignment(assignment, duedate=when)


def _gradebook(ws):
    from nbgrader.api import Gradebook

    from autograde.workspace import nbgrader_on_path

    nbgrader_on_path()
    ws.root.mkdir(parents=True, exist_ok=True)
    return Gradebook(ws.db, ws.config().CourseDirectory.course_id)
