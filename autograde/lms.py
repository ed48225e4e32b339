"""The Canvas and Moodle submission downloads: how each platform names the files, and who they belong to.

Downloads (what ``collect --lms`` reads), as each platform's source code writes them:

* **Canvas** "Download Submissions" (``lib/content_zipper.rb``): one flat zip of files named
  ``{name}[_LATE]_{user id}_{attachment id}_{file}``. ``name`` is the student's sortable name in
  lower case with everything but letters, digits and ``_`` removed (``kimminsu``, ``김민수``), and
  Canvas drops the underscores around any digits in it (``_12_`` becomes ``12``) so that the ids
  can be found; ``LATE`` marks a late submission; ``file`` is the name the student uploaded. A
  file uploaded again under a name the student already used gets ``-1``, ``-2``, ... before its
  extension (``Attachment.make_unique_filename``).
  Anonymous grading writes ``anon_{anonymous id}`` instead of the name and user id.
* **Moodle** "Download all submissions" (``mod/assign/classes/downloader.php``): a folder per
  student ``{Full Name}_{participant id}_assignsubmission_file/{file}`` (the default), or with
  "Download submissions in folders" off, flat files ``{Full Name}_{participant id}_assignsubmission_file_{file}``.
  Moodle replaces ``_`` in the full name by a space. The participant id is per assignment (the
  ``assign_user_mapping`` table), so across assignments a student is known by name, or by the roster.
  A second file uploaded under a used name is called ``file (1).ext``, ``file (2).ext``, ...
  (``file_storage::get_unused_filename``). Blind marking writes ``Participant`` instead of the name.

Which upload is the newest when a student has several files for one notebook: on Canvas the one with
the highest attachment id (Canvas numbers attachments in the order they are stored, and its ``-N``
suffix counts up in that same order); on Moodle, whose download carries no upload time, the highest
``(N)`` copy number. Files that tie cannot be ordered and are an error.

Imports (what ``export --lms`` writes) are in :mod:`autograde.export`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

PLATFORMS = ("canvas", "moodle")

CANVAS = re.compile(r"^(?P<name>.*?)(?:_(?P<late>late))?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$", re.I)
CANVAS_ANONYMOUS = re.compile(r"^(?:late_)?anon_[A-Za-z0-9]+_\d+_.+$", re.I)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_file$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_file_(?P<file>.+)$")
MOODLE_BLIND = {"participant", "참가자"}  # Moodle's string 'participant' in the course's two languages

CANVAS_FORMAT = "{name}_{user id}_{attachment id}_{file}, as Canvas names \"Download Submissions\""
MOODLE_FORMAT = ("{Full Name}_{participant id}_assignsubmission_file/{file} (or ..._file_{file}), as Moodle names "
                 "\"Download all submissions\"")


@dataclass(frozen=True)
class Upload:
    """One file of an LMS download: whose it is and what the student called it."""

    platform: str
    user: str  # Canvas user id; Moodle participant id (per assignment)
    name: str  # the student's name as the download writes it
    file: str  # the file name the student uploaded
    late: bool = False
    order: tuple[int, ...] = ()  # a newer upload of the same notebook sorts later


def copy_number(file: str) -> tuple[str, int]:
    """(the file name without a re-upload suffix, the suffix's number or 0).

    Canvas appends ``-N`` (or ``-<uuid>`` after 7 tries) before the extension, Moodle `` (N)``.
    """
    stem, dot, ext = file.partition(".")
    for pattern in (r"^(?P<stem>.+?)-(?P<n>\d+)$", r"^(?P<stem>.+?) \((?P<n>\d+)\)$",
                    r"^(?P<stem>.+?)-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$"):
        match = re.match(pattern, stem)
        if match:
            return match["stem"] + dot + ext, int(match.groupdict().get("n") or 8)
    # Canvas's older naming put the counter after the whole extension's last dot ("a.ko-1.ipynb")
    match = re.match(r"^(?P<head>.+?)-(?P<n>\d+)(?P<ext>\.[A-Za-z0-9]+)$", file)
    if match:
        return match["head"] + match["ext"], int(match["n"])
    return file, 0


def canvas_upload(rel: PurePosixPath) -> Upload | str:
    """The Canvas upload a file name stands for, or why it is not one."""
    if CANVAS_ANONYMOUS.match(rel.name):
        return ("a Canvas download made under anonymous grading names no student; download the submissions "
                "again after Canvas shows the students' names")
    match = CANVAS.match(rel.name)
    if not match:
        return f"not named as {CANVAS_FORMAT}"
    _, number = copy_number(match["file"])
    return Upload("canvas", match["user"], match["name"], match["file"], late=bool(match["late"]),
                  order=(int(match["attachment"]), number))


def moodle_upload(rel: PurePosixPath) -> Upload | str:
    """The Moodle upload a path stands for (a folder per student, or a flat file name), or why it is not one."""
    for i, part in enumerate(rel.parts[:-1]):
        match = MOODLE_FOLDER.match(part)
        if match:
            return _moodle(match, rel.name, subfolder="/".join(rel.parts[i + 1:-1]))
    match = MOODLE_FILE.match(rel.name)
    if match:
        return _moodle(match, match["file"])
    return f"not named as {MOODLE_FORMAT}"


def _moodle(match: re.Match, file: str, subfolder: str = "") -> Upload | str:
    name = match["name"].strip()
    if name.casefold() in MOODLE_BLIND:
        return ("a Moodle download made under blind marking names no student; reveal the student identities "
                "in the assignment, then download the submissions again")
    _, number = copy_number(file)
    return Upload("moodle", match["user"], name, file, order=(number,))


PARSERS = {"canvas": canvas_upload, "moodle": moodle_upload}


def detect(rels: list[PurePosixPath]) -> tuple[str | None, str]:
    """Which platform named these notebooks: (platform or None, a sentence saying why).

    A platform is chosen only when every notebook's path is in its format and in no other's.
    Raises ValueError when some are and some are not (say --lms).
    """
    if not rels:
        return None, "no notebooks"
    fits = {p: [r for r in rels if isinstance(PARSERS[p](r), Upload)] for p in PLATFORMS}
    for platform, matched in fits.items():
        others = [p for p in PLATFORMS if p != platform and fits[p]]
        if len(matched) == len(rels) and not others:
            label = platform.capitalize()
            return platform, f"every notebook is named as {label} names its downloads (pass --lms none to read them otherwise)"
    partial = {p: len(m) for p, m in fits.items() if m}
    if not partial:
        return None, "no notebook is named as Canvas or Moodle names downloads"
    said = ", ".join(f"{n} of {len(rels)} notebooks are named as {p.capitalize()} names downloads"
                     for p, n in partial.items())
    raise ValueError(f"cannot tell where these files come from: {said}. Pass --lms canvas or --lms moodle "
                     "(files in another format are then reported), or --lms none to read every file name "
                     "as a plain layout")


def default_student(upload: Upload) -> str:
    """The student id of an upload when there is no roster: Canvas's user id; on Moodle the full name.

    Moodle names carry no stable id (the participant id changes with each assignment), so the
    name is the id, with its spaces turned into ``_`` (Moodle's own names never hold ``_``).
    """
    if upload.platform == "canvas":
        return upload.user
    return re.sub(r"\s+", "_", upload.name.strip())
