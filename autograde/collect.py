"""Collect submissions from a folder or a zip into ``COURSE_DIR/submitted/``.

Where each notebook goes is decided from its path alone:

1. nbgrader's layout, ``<student>/<assignment>/<notebook>.ipynb``;
2. a flat folder per student, ``<student>/<notebook>.ipynb`` (the assignment is the one the
   notebook belongs to);
3. a plain download, one folder of files named after the student and the notebook:
   ``alice_01_network.ipynb``, ``01_network_alice.ipynb``, ``alice - 01_network.ipynb``. The file
   name must start or end with a notebook name of the course; the rest, with the separators
   (``_``, ``-``, ``.``, spaces) between them trimmed, is the student id;
4. a Canvas or Moodle download, named as the platform names them (:mod:`autograde.lms`): the
   student is the platform's user (or, with ``--roster``, the roster's student id), never an
   attachment id; of several uploads of one notebook the newest is collected and the others are
   reported. The format is recognised when every notebook is named the platform's way, or chosen
   with ``--lms``.

A student id is letters of any script, digits and ``_ . @ + -``, in Unicode NFC
(:func:`autograde.roster.id_problem`). Everything is checked before anything is copied: a notebook
that cannot be placed, a corrupt or oversized notebook (the size is checked before the file is
read), a symbolic link or other special file (never followed), two files for the same student and
notebook, a student missing from the roster, or an unreadable zip stops the whole collection with a
message naming each file, and the workspace is left as it was (``--skip-bad`` collects the rest
instead). What is validated is a private copy, and that copy is what is collected. Files that are
not notebooks are listed as skipped, never dropped silently; an nbgrader ``timestamp.txt`` next to a
notebook is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import textwrap
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograde import course, exchange, lms, roster
from autograde.editions import EDITIONS
from autograde.inbox import JUNK, Entry, InboxError, folder_entries, open_zip, private_copy, zip_entries
from autograde.repair import MAX_BYTES, SubmissionError, load_submission
from autograde.workspace import Workspace

EDITION_NAMES = tuple(EDITIONS)
SEPARATORS = "_-. \t"
ROSTER_FILE = "roster.csv"  # the course's copy of the roster last given to collect
LMS_CHOICES = ("auto", *lms.PLATFORMS, "none")


class CollectError(ValueError):
    """The input cannot be collected as it is; nothing was copied."""


@dataclass(frozen=True)
class Placement:
    source: Path  # the validated private copy
    shown: str
    student: str
    assignment: str
    notebook: str  # without .ipynb
    note: str = ""  # e.g. "late" (Canvas marked it)

    def target(self, ws: Workspace) -> Path:
        return ws.path("submitted", self.student, self.assignment, f"{self.notebook}.ipynb")


@dataclass
class Plan:
    placements: list[Placement] = field(default_factory=list)
    timestamps: dict[tuple[str, str], Path] = field(default_factory=dict)  # (student, assignment) -> file
    problems: list[str] = field(default_factory=list)  # notebooks that cannot be collected
    skipped: list[str] = field(default_factory=list)  # files that are not notebooks
    superseded: list[str] = field(default_factory=list)  # older uploads of a notebook collected newer
    platform: str | None = None
    why: str = ""  # how the platform was chosen


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    student: str
    assignment: str
    notebook: str
    user: str = ""  # the platform's user behind the file (to refuse two people sharing one id)
    order: tuple[int, ...] = ()
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.student, self.assignment, self.notebook


def notebook_index(source: Path | None = None) -> dict[str, str]:
    """Notebook name -> its assignment."""
    return {nb.name: nb.assignment for nb in course.notebooks(source)}


def student_from_name(stem: str, notebooks: dict[str, str]) -> tuple[str | None, str | None]:
    """Split a plain download's file name into (student, notebook): the notebook name at the start or the end.

    Returns (None, None) when no notebook name of the course is there, and (None, notebook) when
    nothing is left for the student id. The longest notebook name that fits wins.
    """
    for name in sorted(notebooks, key=len, reverse=True):
        if stem.startswith(name) and (len(stem) == len(name) or stem[len(name)] in SEPARATORS):
            return stem[len(name):].strip(SEPARATORS) or None, name
        if stem.endswith(name) and (len(stem) == len(name) or stem[-len(name) - 1] in SEPARATORS):
            return stem[: -len(name)].strip(SEPARATORS) or None, name
    return None, None


def _without_edition(stem: str) -> str:
    for edition in EDITION_NAMES:
        stem = stem.removesuffix(f".{edition}")
    return stem


def place(rel: PurePosixPath, notebooks: dict[str, str]) -> tuple[str, str, str] | str:
    """(student, assignment, notebook) for a notebook at ``rel`` inside the input, or why it cannot be placed.

    The edition a learner worked in does not matter here (grading finds it in the notebook): a
    folder named after an edition (``alice/ko/01_network/01_network.ipynb``, as the Korean student
    copy is laid out) and an edition suffix (``01_network.ko.ipynb``) are looked through.
    """
    stem, parents = _without_edition(roster.normal(rel.stem)), [roster.normal(p) for p in rel.parent.parts]
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
    return roster.id_problem(student) or (student, assignment, stem)


def notebook_of(file: str, notebooks: dict[str, str]) -> str | None:
    """The course notebook an uploaded file is, from its name (re-upload and edition suffixes looked through)."""
    name, _ = lms.copy_number(roster.normal(file))
    stem = _without_edition(name.removesuffix(".ipynb"))
    if stem in notebooks:
        return stem
    return student_from_name(stem, notebooks)[1]


def place_upload(upload: lms.Upload, notebooks: dict[str, str], people: roster.Roster | None) -> tuple[str, str, str] | str:
    """(student, assignment, notebook) for one file of a Canvas or Moodle download, or why it cannot be placed."""
    notebook = notebook_of(upload.file, notebooks)
    if notebook is None:
        return (f"{upload.file!r} is no notebook of the course; expected one of {', '.join(sorted(notebooks))}"
                " (the name the student uploaded must start or end with it)")
    who = f"{upload.platform.capitalize()} user {upload.user}" if upload.platform == "canvas" else repr(upload.name)
    if people is None:
        student = lms.default_student(upload)
    else:
        found = ([p] if (p := people.by_canvas_id(upload.user)) else []) if upload.platform == "canvas" \
            else people.by_name(upload.name)
        if not found:
            return f"{who} ({upload.name}) is not on the roster {people.source.name}"
        if len(found) > 1:
            return f"{who} matches several students on the roster: {', '.join(p.label() for p in found)}"
        student = found[0].student
    return roster.id_problem(student) or (student, notebooks[notebook], notebook)


# -- deciding ------------------------------------------------------------------------------
@dataclass
class Settings:
    """What collect was asked to do."""

    lms: str = "auto"
    people: roster.Roster | None = None
    max_bytes: int = MAX_BYTES
    skip_bad: bool = False


def make_plan(entries: list[Entry], notebooks: dict[str, str], settings: Settings,
              zf: zipfile.ZipFile | None, scratch: Path) -> Plan:
    """Decide where every file goes and check each notebook, without copying anything into the course."""
    plan = Plan()
    wanted = []
    for index, entry in enumerate(entries):
        rel, shown = entry.rel, entry.shown
        if JUNK.intersection(rel.parts) or rel.name.startswith("._"):
            continue  # operating-system clutter, not the learners' files
        if entry.kind == "link":
            plan.problems.append(f"{shown}: a symbolic link; collect never follows links (put the file itself there)")
        elif entry.kind == "other":
            plan.problems.append(f"{shown}: not a regular file")
        elif rel.name == "timestamp.txt" and len(rel.parts) >= 3 and rel.parts[-2] in notebooks.values():
            if entry.size <= 1024 and (stamp := _copy(entry, zf, scratch / f"t{index}", 1024, plan)):
                plan.timestamps[(rel.parts[-3], rel.parts[-2])] = stamp
        elif rel.suffix != ".ipynb":
            plan.skipped.append(f"{shown}: not a notebook (.ipynb)")
        else:
            wanted.append(entry)
    plan.platform, plan.why = _platform(wanted, settings.lms)
    candidates = [c for e in wanted if (c := _candidate(e, notebooks, settings.people, plan))]
    for number, winner in enumerate(_newest(candidates, plan)):
        _check_and_keep(winner, plan, settings.max_bytes, zf, scratch / f"n{number}")
    if settings.people is not None:
        plan.timestamps = {(p.student, a): f for (s, a), f in plan.timestamps.items()
                           if (p := settings.people.find(s))}
    return plan


def _platform(entries: list[Entry], choice: str) -> tuple[str | None, str]:
    if choice == "none":
        return None, "--lms none"
    if choice in lms.PLATFORMS:
        return choice, f"--lms {choice}"
    try:
        return lms.detect([e.rel for e in entries])
    except ValueError as error:
        raise CollectError(f"{error}; nothing was collected") from None


def _candidate(entry: Entry, notebooks: dict[str, str], people: roster.Roster | None, plan: Plan) -> Candidate | None:
    """Where one notebook goes, or None (with the problem recorded)."""
    if plan.platform is None:
        placed = place(entry.rel, notebooks)
        if isinstance(placed, tuple) and people is not None:
            person = people.find(placed[0])
            placed = (person.student, *placed[1:]) if person else \
                f"{placed[0]!r} is not on the roster {people.source.name}"
        upload = None
    else:
        upload = lms.PARSERS[plan.platform](entry.rel)
        placed = upload if isinstance(upload, str) else place_upload(upload, notebooks, people)
    if isinstance(placed, str):
        plan.problems.append(f"{entry.shown}: {placed}")
        return None
    if upload is None:
        return Candidate(entry, *placed)
    return Candidate(entry, *placed, user=upload.user, order=upload.order, note="late" if upload.late else "")


def _newest(candidates: list[Candidate], plan: Plan) -> list[Candidate]:
    """One candidate per student and notebook: the newest upload (LMS), else refuse the repeats."""
    groups: dict[tuple[str, str, str], list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.key, []).append(c)
    users: dict[tuple[str, str], set[str]] = {}
    for c in candidates:
        users.setdefault((c.student, c.assignment), set()).add(c.user)
    winners = []
    for key, group in groups.items():
        target = "/".join(key) + ".ipynb"
        if len(users[key[:2]]) > 1:
            plan.problems += [f"{c.entry.shown}: {len(users[key[:2]])} different people in this download "
                              f"({', '.join(sorted(users[key[:2]]))}) would be one student {key[0]!r}; "
                              "give collect a --roster that tells them apart" for c in group]
            continue
        if plan.platform is None:
            winners.append(group[0])
            plan.problems += [f"{c.entry.shown}: the same student and notebook as {group[0].entry.shown} "
                              f"({target}); keep one" for c in group[1:]]
            continue
        group.sort(key=lambda c: c.order)
        if len(group) > 1 and group[-1].order == group[-2].order:
            plan.problems += [f"{c.entry.shown}: one of {len(group)} files for {target} and nothing says which "
                              "was uploaded last; keep one" for c in group]
            continue
        winners.append(group[-1])
        plan.superseded += [f"{c.entry.shown}: an older upload than {group[-1].entry.shown} ({target})"
                            for c in group[:-1]]
    return winners


def _copy(entry: Entry, zf: zipfile.ZipFile | None, dest: Path, max_bytes: int, plan: Plan) -> Path | None:
    """:func:`private_copy`, or None with the problem recorded when the zip member is damaged."""
    try:
        return private_copy(entry, zf, dest, max_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        plan.problems.append(f"{entry.shown}: damaged in the zip ({error})")
        return None


def _check_and_keep(c: Candidate, plan: Plan, max_bytes: int, zf: zipfile.ZipFile | None, scratch: Path) -> None:
    """Refuse an oversized file before reading it; read the rest as notebooks; keep the good ones."""
    limit = f"{max_bytes / 2**20:.3g}"
    if c.entry.size > max_bytes:
        plan.problems.append(f"{c.entry.shown}: {c.entry.size / 2**20:.1f} MB, over the {limit} MB limit "
                             "(not read; clear its outputs and hand it in again, or raise --max-megabytes)")
        return
    copy = _copy(c.entry, zf, scratch, max_bytes, plan)
    if copy is None:
        return
    if copy.stat().st_size > max_bytes:  # the file grew, or the zip understated it
        plan.problems.append(f"{c.entry.shown}: over the {limit} MB limit")
        return
    try:
        load_submission(copy, max_bytes=max_bytes)
    except SubmissionError as error:
        plan.problems.append(f"{c.entry.shown}: not a readable notebook ({error})")
        return
    plan.placements.append(Placement(copy, c.entry.shown, c.student, c.assignment, c.notebook, c.note))


# -- copying -------------------------------------------------------------------------------
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
    superseded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # roster students with nothing for an assignment collected
    source: str = ""  # the format read, and why


def collect(ws: Workspace, path: Path, skip_bad: bool = False, settings: Settings | None = None) -> Report:
    """Copy the submissions in ``path`` (a folder or a .zip) into ``ws``'s ``submitted/`` folder.

    Raises :class:`CollectError`, having copied nothing, when the input is unreadable or any
    notebook cannot be placed (unless ``skip_bad``).
    """
    settings = settings or Settings(skip_bad=skip_bad)
    path = Path(path)
    if not path.exists():
        raise CollectError(f"{path}: no such file or folder")
    notebooks = notebook_index(ws.source)
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        zf = None
        try:
            zf = None if path.is_dir() else open_zip(path)
            entries = folder_entries(path) if zf is None else zip_entries(path, zf)
            older = []
            if zf is None and exchange.is_inbound(path):
                entries, older = exchange.as_course_layout(entries, ws.source)
            plan = make_plan(entries, notebooks, settings, zf, Path(tmp))
            plan.superseded += older
        except InboxError as error:
            raise CollectError(str(error)) from None
        finally:
            if zf is not None:
                zf.close()
        if plan.problems and not settings.skip_bad:
            raise CollectError(
                f"{len(plan.problems)} file(s) in {path} cannot be collected; nothing was copied:\n  "
                + "\n  ".join(plan.problems)
                + "\n(fix or remove them, or pass --skip-bad to collect the rest; see `autograde collect --help`)")
        if not plan.placements:
            raise CollectError(f"no submissions found in {path}; nothing was copied"
                               + ("".join(f"\n  skipped {s}" for s in plan.skipped))
                               + ("".join(f"\n  NOT COLLECTED {s}" for s in plan.problems)))
        report = Report(problems=plan.problems, skipped=plan.skipped, superseded=plan.superseded,
                        source=f"{plan.platform.capitalize()} download ({plan.why})" if plan.platform
                        else f"plain layout ({plan.why})")
        report.missing = _missing(ws, plan, settings.people)
        for p in plan.placements:
            target = p.target(ws)
            label = f"{p.shown} -> {target.relative_to(ws.root)}" + (f" ({p.note})" if p.note else "")
            if target.exists() and _digest(target) == _digest(p.source):
                report.unchanged.append(label)
                continue
            (report.replaced if target.exists() else report.new).append(label)
            _copy_atomic(p.source, target)
        for (student, assignment), stamp in plan.timestamps.items():
            if ws.path("submitted", student, assignment).is_dir():
                _copy_atomic(stamp, ws.path("submitted", student, assignment, "timestamp.txt"))
        kept = ws.root / ROSTER_FILE
        if settings.people is not None and settings.people.source.resolve() != kept.resolve():
            shutil.copyfile(settings.people.source, kept)
    return report


def _missing(ws: Workspace, plan: Plan, people: roster.Roster | None) -> list[str]:
    """Roster students who have nothing for an assignment this collection brought in (nor from before)."""
    if people is None:
        return []
    have = {(p.student, p.assignment) for p in plan.placements}
    return [f"{a}: {person.label()}" for a in sorted({p.assignment for p in plan.placements})
            for person in people.people
            if (person.student, a) not in have and not ws.path("submitted", person.student, a).is_dir()]


# -- command line ------------------------------------------------------------------------
def cmd_collect(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db, exchange=args.exchange_dir)
    people = roster.read(args.roster, list(course.assignments(ws.source))) if args.roster else None
    settings = Settings(lms=args.lms, people=people, max_bytes=int(args.max_megabytes * 2**20), skip_bad=args.skip_bad)
    if (args.path is None) == (not args.exchange):
        raise ValueError("give a PATH to collect from, or --exchange (not both)")
    path = exchange.inbound(ws) if args.exchange else args.path
    report = collect(ws, path, settings=settings)
    print(f"reading {path} as a {report.source}")
    for label in report.new:
        print(f"new        {label}")
    for label in report.replaced:
        print(f"replaced   {label}")
    for label in report.unchanged:
        print(f"unchanged  {label}")
    for item in report.superseded:
        print(f"older      {item}")
    for item in report.skipped:
        print(f"skipped    {item}")
    for item in report.missing:
        print(f"not handed in  {item}")
    for item in report.problems:
        print(f"NOT COLLECTED {item}")
    print(f"collected into {ws.path('submitted')}: {len(report.new)} new, {len(report.replaced)} replaced, "
          f"{len(report.unchanged)} unchanged, {len(report.superseded)} older uploads left, {len(report.skipped)} "
          f"skipped, {len(report.problems)} not collected"
          + (f"; {len(report.missing)} not handed in (roster)" if people else ""))
    return 1 if report.problems else 0


EPILOG = """\
where each notebook goes (STUDENT: letters of any script, digits and _ . @ + -):
  STUDENT/ASSIGNMENT/NOTEBOOK.ipynb   nbgrader's own layout
  STUDENT/NOTEBOOK.ipynb              one folder per student
  STUDENT_NOTEBOOK.ipynb              a plain download: the file name starts or ends with a
  NOTEBOOK_STUDENT.ipynb              notebook name of the course and the rest is the student
  STUDENT - NOTEBOOK.ipynb            id (separators _ - . and spaces between them are trimmed)
  kimminsu_123456_7890123_NOTEBOOK.ipynb
                                      Canvas "Download Submissions": STUDENT is the Canvas user
                                      id (123456), or the roster's id; _LATE_ and -1 understood
  Kim Minsu_88_assignsubmission_file/NOTEBOOK.ipynb
                                      Moodle "Download all submissions" (or ..._file_NOTEBOOK.ipynb):
                                      STUDENT is the roster's id, else the name (Kim_Minsu)
The ASSIGNMENT is the one NOTEBOOK belongs to. Any folders above these are ignored.

examples:
  autograde collect ~/Downloads/submissions.zip
  autograde collect --roster grades-export.csv ~/Downloads/submissions.zip
  autograde collect --exchange        what students submitted from JupyterLab's Assignments tab
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="copy submissions from a folder or a zip into the course",
        description=textwrap.fill("Copy the students' notebooks from PATH (a folder or a .zip, e.g. a Canvas "
        "or Moodle download) into COURSE_DIR/submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb, ready for `autograde "
        "grade`. Everything is checked first: if any notebook cannot be placed (no student id, an unknown "
        "notebook, a corrupt or oversized file, a symbolic link, two files for the same student and notebook, "
        "a student not on the roster) or the zip is unreadable, nothing is copied and each problem is listed. "
        "Collecting again replaces a student's earlier notebook with the new one. Files that are not notebooks "
        "are listed as skipped.", 100),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path, metavar="PATH", nargs="?", help="a folder or a .zip of submitted notebooks")
    p.add_argument("--exchange", action="store_true",
                   help="collect what students submitted through nbgrader's exchange (JupyterLab's Assignments "
                   "tab): each student's newest submission of each assignment, with the same checks")
    p.add_argument("--lms", choices=LMS_CHOICES, default="auto",
                   help="how the files are named: canvas, moodle, none (the plain layouts above) or auto (default: "
                   "a platform when every notebook is named its way, said in the output)")
    p.add_argument("--roster", type=Path, metavar="FILE.csv",
                   help="the class list exported from the LMS (Canvas: Grades > Export; Moodle: grades or "
                   "participants export): maps each file to the course's student id, refuses files of anyone "
                   "not on it, and lists who has not handed in; kept as COURSE_DIR/roster.csv for export")
    p.add_argument("--max-megabytes", type=float, default=MAX_BYTES / 2**20, metavar="MB",
                   help="larger notebooks are refused before they are read (default: %(default)g)")
    p.add_argument("--skip-bad", action="store_true",
                   help="collect what can be placed and list the rest (exit status 1) instead of copying nothing")
    p.set_defaults(func=cmd_collect)
