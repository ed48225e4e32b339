"""Who the students are: the student-id rule, and the roster an instructor exports from the LMS.

A **student id** names a folder (``submitted/<student>/``) and a gradebook row, so it must be a safe
folder name on every system: letters of any script (Hangul, Latin, ...), digits and ``_ . @ + -``,
starting with a letter or a digit, without ``..``, at most 100 characters. It is normalised to
Unicode NFC first, so the same name typed on macOS (which stores Hangul decomposed, NFD) and on
Windows (composed, NFC) is one student.

A **roster** is the class list exported from the LMS, read as it comes:

* Canvas: the gradebook export (Grades > Export), columns ``Student, ID, SIS User ID, SIS Login ID,
  Section`` then one column per assignment, and a ``Points Possible`` row. The course's student id is
  the SIS User ID, else the SIS Login ID, else the Canvas user ID.
* Moodle: the grades export (Grades > Export > Plain text file) or the participants download, columns
  ``First name, Last name, ID number, Email address`` (``Username`` and ``Full name`` when present).
  The course's student id is the ID number, else the username, else the email address.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MAX_ID = 100
PUNCTUATION = set("_.@+-")


class RosterError(ValueError):
    """The roster cannot be read as a Canvas or Moodle export."""


def normal(text: str) -> str:
    """``text`` in Unicode NFC with the surrounding spaces removed."""
    return unicodedata.normalize("NFC", text).strip()


def _letter_or_digit(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _allowed(char: str) -> bool:
    # letters, the marks that belong to them (Devanagari, Thai, ...), numbers
    return unicodedata.category(char)[0] in "LMN" or char in PUNCTUATION


def id_problem(student: str) -> str | None:
    """None when ``student`` (already NFC) is a usable student id; else why not, in one sentence."""
    rule = "letters of any script, digits and _ . @ + -, starting with a letter or a digit"
    if not student:
        return "the student id is empty"
    if len(student) > MAX_ID:
        return f"{student[:20]!r}... is not a usable student id (longer than {MAX_ID} characters)"
    if not _letter_or_digit(student[0]) or ".." in student or not all(_allowed(c) for c in student):
        return f"{student!r} is not a usable student id ({rule})"
    return None


def name_key(name: str) -> str:
    """A person's name for comparison: NFC, case-folded, letters and digits only."""
    return "".join(c for c in normal(name).casefold() if _letter_or_digit(c))


@dataclass(frozen=True)
class Person:
    """One student on the roster, with every identity the LMS gave."""

    student: str  # the course's student id
    name: str = ""  # as the LMS shows it ("Kim, Minsu" on Canvas, "Minsu Kim" on Moodle)
    first: str = ""
    last: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    username: str = ""
    id_number: str = ""

    def identifiers(self) -> set[str]:
        """Every id that names this person (case-folded)."""
        ids = (self.student, self.canvas_id, self.sis_user_id, self.sis_login_id, self.email, self.username,
               self.id_number)
        return {i.casefold() for i in ids if i}

    def name_keys(self) -> set[str]:
        """The person's name in the orders an LMS writes it (given-family and family-given)."""
        names = {self.name, f"{self.first}{self.last}", f"{self.last}{self.first}"}
        return {k for k in map(name_key, names) if k}

    def label(self) -> str:
        return f"{self.name} ({self.student})" if self.name and self.name != self.student else self.student


CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
CANVAS_NOT_ASSIGNMENTS = re.compile(r"(Current|Final|Override|Unposted) (Score|Points|Grade|Status)")
CANVAS_ASSIGNMENT_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)$")
MOODLE_COLUMNS = {"first name": "first", "last name": "last", "full name": "name", "id number": "id_number",
                  "email address": "email", "username": "username"}


@dataclass
class Roster:
    """The class list: people, and (Canvas) the gradebook's own column for each course assignment."""

    platform: str  # "canvas" or "moodle"
    source: Path
    people: list[Person] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # course assignment -> LMS gradebook column header

    def find(self, identifier: str) -> Person | None:
        """The person any of whose ids is ``identifier`` (case-insensitive)."""
        wanted = normal(identifier).casefold()
        return next((p for p in self.people if wanted in p.identifiers()), None)

    def by_canvas_id(self, user_id: str) -> Person | None:
        return next((p for p in self.people if p.canvas_id == user_id), None)

    def by_name(self, name: str) -> list[Person]:
        """Everyone whose name, in either order, is ``name`` (ignoring case, spaces and punctuation)."""
        key = name_key(name)
        return [p for p in self.people if key in p.name_keys()]

    def student(self, student: str) -> Person | None:
        return next((p for p in self.people if p.student == student), None)


def read(path: Path, assignments: list[str] | tuple[str, ...] = ()) -> Roster:
    """Read a Canvas or Moodle roster export; ``assignments`` are the course's, to find their columns."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            f.seek(0)
            # Canvas and Moodle write ';' instead of ',' in locales whose decimal mark is a comma
            delimiter = ";" if first.count(";") > first.count(",") else ","
            rows = [[normal(c) for c in row] for row in csv.reader(f, delimiter=delimiter)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{path}: cannot read the roster ({error})") from None
    if not rows:
        raise RosterError(f"{path}: the roster is empty")
    header = rows[0]
    lower = [h.casefold() for h in header]
    if len(header) > 2 and header[0].startswith("Student") and header[1] == "ID":
        roster = _canvas(path, header, rows[1:], assignments)
    elif {"first name", "last name"} <= set(lower) or {"full name", "email address"} <= set(lower):
        roster = _moodle(path, lower, rows[1:])
    else:
        raise RosterError(
            f"{path}: not a roster this tool reads: expected Canvas's gradebook export (columns Student, ID, "
            "SIS User ID, SIS Login ID, Section, ...) or Moodle's grades or participants export (columns First "
            f"name, Last name, ID number, Email address, ...); found {', '.join(header[:6])}")
    _check(roster)
    return roster


def _canvas(path: Path, header: list[str], rows: list[list[str]], assignments) -> Roster:
    col = {h: i for i, h in enumerate(header) if h in CANVAS_COLUMNS}
    roster = Roster("canvas", path)
    for h in header:
        match = CANVAS_ASSIGNMENT_ID.match(h)
        title = match["title"] if match else h
        if title in assignments and h not in CANVAS_COLUMNS and not CANVAS_NOT_ASSIGNMENTS.search(h):
            roster.columns[title] = h
    for row in rows:
        def cell(name: str, row: list[str] = row) -> str:
            return row[col[name]] if name in col and col[name] < len(row) else ""

        if not any(row) or cell("Student").startswith("Points Possible"):
            continue
        if not cell("Student") and all(re.fullmatch(r"(Muted|Manual Posting.*)?", c, re.I) for c in row):
            continue  # Canvas's row of posting policies
        ids = (cell("SIS User ID"), cell("SIS Login ID"), cell("ID"))
        roster.people.append(Person(student=next((i for i in ids if i), ""), name=cell("Student"),
                                    canvas_id=cell("ID"), sis_user_id=cell("SIS User ID"),
                                    sis_login_id=cell("SIS Login ID"), section=cell("Section")))
    return roster


def _moodle(path: Path, lower: list[str], rows: list[list[str]]) -> Roster:
    roster = Roster("moodle", path)
    for row in rows:
        if not any(row):
            continue
        fields = {MOODLE_COLUMNS[h]: row[i] for i, h in enumerate(lower) if h in MOODLE_COLUMNS and i < len(row)}
        name = fields.pop("name", "") or " ".join(x for x in (fields.get("first"), fields.get("last")) if x)
        ids = (fields.get("id_number"), fields.get("username"), fields.get("email"))
        roster.people.append(Person(student=next((i for i in ids if i), ""), name=name, **fields))
    return roster


def _check(roster: Roster) -> None:
    """Refuse a roster whose ids are unsafe or not unique, naming each row."""
    problems, seen = [], {}
    for number, person in enumerate(roster.people, 2):
        why = id_problem(person.student)
        if why:
            problems.append(f"row {number} ({person.name or 'no name'}): {why}")
        elif person.student in seen:
            problems.append(f"row {number}: the student id {person.student!r} is also on row {seen[person.student]}")
        seen.setdefault(person.student, number)
    canvas_ids = [p.canvas_id for p in roster.people if p.canvas_id]
    problems += [f"the Canvas ID {i} is on several rows" for i in sorted({i for i in canvas_ids
                                                                         if canvas_ids.count(i) > 1})]
    if problems:
        raise RosterError(f"{roster.source}: the roster cannot be used:\n  " + "\n  ".join(problems))
    if not roster.people:
        raise RosterError(f"{roster.source}: the roster lists no students")
