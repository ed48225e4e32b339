"""Collect submissions from a folder or a zip into ``COURSE_DIR/submitted/``.

Where each notebook goes is decided from its path alone (see :func:`place`):

1. nbgrader's layout, ``<student>/<assignment>/<notebook>.ipynb``;
2. a flat folder per student, ``<student>/<notebook>.ipynb`` (the assignment is the one the
   notebook belongs to);
3. an LMS download, one folder of files named after the student and the notebook:
   ``alice_01_network.ipynb``, ``01_network_alice.ipynb``, ``alice - 01_network.ipynb``. The file
   name must start or end with a notebook name of the course; the rest, with the separators
   (``_``, ``-``, ``.``, spaces) between them trimmed, is the student id.

A student id is letters, digits and ``_ . @ + -`` only. Everything is checked before anything is
copied: a notebook that cannot be placed, a corrupt notebook, two files for the same student and
notebook, or an unreadable zip stops the whole collection with a message naming each file, and the
workspace is left as it was (``--skip-bad`` collects the rest instead). Files that are not
notebooks are listed as skipped, never dropped silently; an nbgrader ``timestamp.txt`` next to a
notebook is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograde import course
from autograde.editions import EDITIONS
from autograde.workspace import Workspace

EDITION_NAMES = tuple(EDITIONS)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
SEPARATORS = "_-. \t"
JUNK = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db"}


class CollectError(ValueError):
    """The input cannot be collected as it is; nothing was copied."""


@dataclass(frozen=True)
class Placement:
    source: Path  # the file in the (unpacked) input
    shown: str  # its path as the instructor knows it (inside the zip, or on disk)
    student: str
    assignment: str
    notebook: str  # without .ipynb

    def target(self, ws: Workspace) -> Path:
        return ws.path("submitted", self.student, self.assignment, f"{self.notebook}.ipynb")


@dataclass
class Plan:
    placements: list[Placement] = field(default_factory=list)
    timestamps: dict[tuple[str, str], Path] = field(default_factory=dict)  # (student, assignment) -> file
    problems: list[str] = field(default_factory=list)  # notebooks that cannot be collected
    skipped: list[str] = field(default_factory=list)  # files that are not notebooks


def notebook_index(source: Path | None = None) -> dict[str, str]:
    """Notebook name -> its assignment."""
    return {nb.name: nb.assignment for nb in course.notebooks(source)}


def student_from_name(stem: str, notebooks: dict[str, str]) -> tuple[str | None, str | None]:
    """Split an LMS file name into (student, notebook): the notebook name at the start or the end.

    Returns (None, None) when no notebook name of the course is there, and (None, notebook) when
    nothing is left for the student id. The longest notebook name that fits wins.
    """
    for name in sorted(notebooks, key=len, reverse=True):
        if stem.startswith(name) and (len(stem) == len(name) or stem[len(name)] in SEPARATORS):
            return stem[len(name):].strip(SEPARATORS) or None, name
        if stem.endswith(name) and (len(stem) == len(name) or stem[-len(name) - 1] in SEPARATORS):
            return stem[: -len(name)].strip(SEPARATORS) or None, name
    return None, None


def place(rel: PurePosixPath, notebooks: dict[str, str]) -> tuple[str, str, str] | str:
    """(student, assignment, notebook) for a notebook at ``rel`` inside the input, or why it cannot be placed.

    The edition a learner worked in does not matter here (grading finds it in the notebook): a
    folder named after an edition (``alice/ko/01_network/01_network.ipynb``, as the Korean student
    copy is laid out) and an edition suffix (``01_network.ko.ipynb``) are looked through.
    """
    stem, parents = rel.stem, list(rel.parent.parts)
    for edition in EDITION_NAMES:
        stem = stem.removesuffix(f".{edition}")
    assignments = set(notebooks.values())
    if parents and parents[-1] in EDITION_NAMES and stem in notebooks:
        parents.pop()
    if stem in notebooks:
        assignment = notebooks[stem]
        if parents and parents[-1] == assignment:  # nbgrader layout: <student>/<assignment>/<notebook>
            parents.pop()
        if parents and parents[-1] in EDITION_NAMES:  # <student>/ko/<assignment>/<notebook>
            parents.pop()
        if not parents:
            return (f"no student id: put it in a folder named after the student "
                    f"(<student>/{assignment}/{stem}.ipynb) or in the file name (<student>_{stem}.ipynb)")
        student = parents[-1]
        if student in assignments:
            return f"the folder {student!r} is an assignment, not a student id"
    else:
        student, name = student_from_name(stem, notebooks)
        if name is None:
            return ("no notebook of the course in the file name; expected one of "
                    f"{', '.join(sorted(notebooks))} (e.g. alice_{next(iter(sorted(notebooks)))}.ipynb)")
        if student is None:
            return f"no student id in the file name (expected e.g. alice_{name}.ipynb)"
        stem, assignment = name, notebooks[name]
    if not STUDENT_ID.match(student):
        return f"{student!r} is not a usable student id (letters, digits and _ . @ + - only)"
    return student, assignment, stem


def readable_notebook(path: Path) -> str | None:
    """None if ``path`` is a notebook nbformat can read; else why not."""
    import nbformat

    try:
        nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        return f"not a readable notebook ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
    return None


def make_plan(root: Path, notebooks: dict[str, str], shown_prefix: str = "") -> Plan:
    """Decide where every file under ``root`` goes, without copying anything."""
    plan = Plan()
    where: dict[tuple[str, str, str], str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        shown = f"{shown_prefix}{rel}"
        if JUNK.intersection(rel.parts) or rel.name.startswith("._"):
            continue  # operating-system clutter, not the learners' files
        if rel.name == "timestamp.txt" and len(rel.parts) >= 3 and rel.parts[-2] in notebooks.values():
            plan.timestamps[(rel.parts[-3], rel.parts[-2])] = path
            continue
        if rel.suffix != ".ipynb":
            plan.skipped.append(f"{shown}: not a notebook (.ipynb)")
            continue
        placed = place(rel, notebooks)
        if isinstance(placed, str):
            plan.problems.append(f"{shown}: {placed}")
            continue
        broken = readable_notebook(path)
        if broken:
            plan.problems.append(f"{shown}: {broken}")
            continue
        if placed in where:
            plan.problems.append(f"{shown}: the same student and notebook as {where[placed]} "
                                 f"({placed[0]}/{placed[1]}/{placed[2]}.ipynb); keep one")
            continue
        where[placed] = shown
        plan.placements.append(Placement(path, shown, *placed))
    return plan


def unpack(archive: Path, dest: Path) -> None:
    """Extract a zip into ``dest``, refusing corrupt archives and paths that leave it."""
    if not zipfile.is_zipfile(archive):
        raise CollectError(f"{archive}: not a readable zip file (corrupt or another format); nothing was collected")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad:
                raise CollectError(f"{archive}: the zip is damaged at {bad}; nothing was collected")
            for info in zf.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise CollectError(f"{archive}: refusing {info.filename} (a path outside the archive)")
            zf.extractall(dest)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CollectError(f"{archive}: cannot read the zip ({error}); nothing was collected") from None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.collecting")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


@dataclass
class Report:
    new: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def collect(ws: Workspace, path: Path, skip_bad: bool = False) -> Report:
    """Copy the submissions in ``path`` (a folder or a .zip) into ``ws``'s ``submitted/`` folder.

    Raises :class:`CollectError`, having copied nothing, when the input is unreadable or any
    notebook cannot be placed (unless ``skip_bad``).
    """
    path = Path(path)
    if not path.exists():
        raise CollectError(f"{path}: no such file or folder")
    notebooks = notebook_index(ws.source)
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        if path.is_dir():
            root, prefix = path, f"{path}/"
        else:
            root, prefix = Path(tmp), f"{path}:"
            unpack(path, root)
        plan = make_plan(root, notebooks, prefix)
        if plan.problems and not skip_bad:
            raise CollectError(
                f"{len(plan.problems)} file(s) in {path} cannot be collected; nothing was copied:\n  "
                + "\n  ".join(plan.problems)
                + "\n(fix or remove them, or pass --skip-bad to collect the rest; see `autograde collect --help`)")
        if not plan.placements:
            raise CollectError(f"no submissions found in {path}; nothing was copied"
                               + ("".join(f"\n  skipped {s}" for s in plan.skipped)))
        report = Report(problems=plan.problems, skipped=plan.skipped)
        for p in plan.placements:
            target = p.target(ws)
            label = f"{p.shown} -> {target.relative_to(ws.root)}"
            if target.exists() and _digest(target) == _digest(p.source):
                report.unchanged.append(label)
                continue
            (report.replaced if target.exists() else report.new).append(label)
            _copy_atomic(p.source, target)
        for (student, assignment), stamp in plan.timestamps.items():
            if ws.path("submitted", student, assignment).is_dir():
                _copy_atomic(stamp, ws.path("submitted", student, assignment, "timestamp.txt"))
    return report


# -- command line ------------------------------------------------------------------------
def cmd_collect(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    report = collect(ws, args.path, skip_bad=args.skip_bad)
    for label in report.new:
        print(f"new        {label}")
    for label in report.replaced:
        print(f"replaced   {label}")
    for label in report.unchanged:
        print(f"unchanged  {label}")
    for item in report.skipped:
        print(f"skipped    {item}")
    for item in report.problems:
        print(f"NOT COLLECTED {item}")
    print(f"collected into {ws.path('submitted')}: {len(report.new)} new, {len(report.replaced)} replaced, "
          f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped, {len(report.problems)} not collected")
    return 1 if report.problems else 0


EPILOG = """\
where each notebook goes (STUDENT is letters, digits and _ . @ + - only):
  STUDENT/ASSIGNMENT/NOTEBOOK.ipynb   nbgrader's own layout
  STUDENT/NOTEBOOK.ipynb              one folder per student
  STUDENT_NOTEBOOK.ipynb              an LMS download: the file name starts or ends with a
  NOTEBOOK_STUDENT.ipynb              notebook name of the course and the rest is the student
  STUDENT - NOTEBOOK.ipynb            id (separators _ - . and spaces between them are trimmed)
The ASSIGNMENT is the one NOTEBOOK belongs to. Any folders above these are ignored.

examples:
  autograde collect ~/Downloads/submissions.zip
  autograde collect exchange/inbound/
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="copy submissions from a folder or a zip into the course",
        description=textwrap.fill("Copy the students' notebooks from PATH (a folder or a .zip) into "
        "COURSE_DIR/submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb, ready for `autograde grade`. "
        "Everything is checked first: if any notebook cannot be placed (no student id, an unknown "
        "notebook, a corrupt file, two files for the same student and notebook) or the zip is unreadable, "
        "nothing is copied and each problem is listed. Collecting again replaces a student's earlier "
        "notebook with the new one. Files that are not notebooks are listed as skipped.", 100),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, metavar="PATH", help="a folder or a .zip of submitted notebooks")
    p.add_argument("--skip-bad", action="store_true",
                   help="collect what can be placed and list the rest (exit status 1) instead of copying nothing")
    p.set_defaults(func=cmd_collect)
