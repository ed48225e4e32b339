"""nbgrader's exchange: the shared folder through which students fetch and submit from JupyterLab's
Assignments tab (on a JupyterHub, or on one machine).

``release --exchange`` publishes the student copy to ``<exchange>/<course id>/outbound/``;
students' submissions arrive in ``<exchange>/<course id>/inbound/`` as folders named
``<student>+<assignment>+<time>+<random>``. ``collect --exchange`` reads that inbox with the same
checks as any folder: :func:`as_course_layout` turns each student's newest submission of an
assignment into nbgrader's ``<student>/<assignment>/`` layout and leaves the older ones out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

from autograde import course
from autograde.inbox import Entry
from autograde.workspace import Workspace


def course_id(ws: Workspace) -> str:
    return ws.config().CourseDirectory.course_id


def inbound(ws: Workspace) -> Path:
    return ws.exchange / course_id(ws) / "inbound"


def outbound(ws: Workspace) -> Path:
    return ws.exchange / course_id(ws) / "outbound"


def publish(ws: Workspace, assignments: list[str], before_due: bool = False) -> list[Path]:
    """Copy the released assignments to the exchange (replacing an earlier copy), for students to fetch.

    The assignments after 01_network carry notebook 1's ``Net`` (``given/``): refused before
    01_network is due unless ``before_due`` (:func:`autograde.given.release_gate`).
    """
    from autograde import given

    given.release_gate(ws, assignments, before_due)
    api = ws.api()
    published = []
    for name in assignments:
        api.unrelease(name)  # a second release replaces the first (nbgrader refuses to overwrite)
        result = api.release_assignment(name)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader could not publish {name} to {ws.exchange}:\n"
                               f"{result.get('error') or result.get('log')}")
        published.append(outbound(ws) / name)
    return published


def is_inbound(path: Path) -> bool:
    """``path`` is an exchange's inbox (``<exchange>/<course id>/inbound``)."""
    return Path(path).name == "inbound"


def split_name(folder: str, assignments: set[str]) -> tuple[str, str, str] | None:
    """(student, assignment, time) of an inbound folder name, or None when it is not one."""
    parts = folder.split("+")
    for i in range(1, len(parts) - 1):
        if parts[i] in assignments:
            return "+".join(parts[:i]), parts[i], parts[i + 1]
    return None


def as_course_layout(entries: list[Entry], source: Path | None = None) -> tuple[list[Entry], list[str]]:
    """The inbox's files of each student's newest submission per assignment, as ``student/assignment/...``.

    Returns (entries, older): the files to collect, and the earlier submissions left out. A file
    outside a submission folder keeps its path, so the ordinary checks name it.
    """
    from nbgrader.utils import parse_utc

    assignments = set(course.assignments(source))
    newest: dict[tuple[str, str], tuple[object, str]] = {}
    for entry in entries:
        if len(entry.rel.parts) > 1 and (found := split_name(entry.rel.parts[0], assignments)):
            student, assignment, time = found
            stamp = parse_utc(time)
            if (student, assignment) not in newest or newest[student, assignment][0] < stamp:
                newest[student, assignment] = (stamp, entry.rel.parts[0])
    chosen = {folder: key for key, (_, folder) in newest.items()}
    kept, older = [], set()
    for entry in entries:
        folder = entry.rel.parts[0]
        if folder in chosen:
            kept.append(dataclasses.replace(entry, rel=PurePosixPath(*chosen[folder], *entry.rel.parts[1:])))
        elif len(entry.rel.parts) > 1 and split_name(folder, assignments):
            older.add(folder)
        else:
            kept.append(entry)
    return kept, [f"{folder}: an older submission than {newest[split_name(folder, assignments)[:2]][1]}"
                  for folder in sorted(older)]
