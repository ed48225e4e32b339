"""Export the gradebook as a CSV (one row per student) and, optionally, a plot of the scores.

Columns, in course order: ``student``; for each assignment, one column per exercise named
``<assignment>/<exercise>`` and ``<assignment>/total``; then ``total``. The first row after the
header is ``(max)``: the points available in each column (no student id can be ``(max)``). A
student who did not hand in a notebook, or whose submission is not graded yet, has 0 there.

``--lms canvas|moodle`` writes the platform's gradebook import file instead, one column per
assignment that anyone handed in (an assignment nobody handed in is left out, so that importing
never overwrites grades of work not collected yet), one row per student on the roster:

* Canvas (``GradebookImporter`` in Canvas's source): ``Student, ID, SIS User ID, SIS Login ID,
  Section``, then the assignments, headed as in the roster's gradebook export (``01_network (5001)``,
  so Canvas updates that assignment) or by the assignment id (Canvas then matches an assignment of
  that title or creates one); the second row is ``Points Possible`` with each assignment's points.
  Canvas finds each student by the ``ID`` column (the Canvas user id), then the SIS ids.
* Moodle (Grades > Import > CSV file): ``First name, Last name, ID number, Email address``, then the
  assignments; the instructor maps ``Email address`` (or ``ID number``) to the user and each column
  to its grade item. Moodle's import has no row for the maximum; export prints the points to set.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from autograde import collect, course, grading, roster
from autograde.workspace import Workspace

MAX_ROW = "(max)"
LMS = ("canvas", "moodle")
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Email address"]


@dataclass
class Table:
    columns: list[str]  # every score column, in order (no "student")
    max_scores: dict[str, float]
    rows: dict[str, dict[str, float]]  # student -> column -> points
    ungraded: list[str]  # "student/assignment" collected but not graded


def exercise_columns(source: Path | None = None) -> dict[str, list[str]]:
    """Assignment -> its exercise columns, in course order."""
    return {a: [f"{a}/{ex.name}" for nb in nbs for ex in nb.exercises]
            for a, nbs in course.assignments(source).items()}


def empty_table(source: Path | None = None) -> Table:
    """The course's columns and the points available in each, with no students yet."""
    assignments = exercise_columns(source)
    columns, max_scores = [], {}
    for a, cols in assignments.items():
        for nb in course.assignments(source)[a]:
            for ex in nb.exercises:
                max_scores[f"{a}/{ex.name}"] = ex.points
        max_scores[f"{a}/total"] = sum(max_scores[c] for c in cols)
        columns += [*cols, f"{a}/total"]
    max_scores["total"] = sum(max_scores[f"{a}/total"] for a in assignments)
    columns.append("total")
    return Table(columns, max_scores, {}, [])


def build_table(ws: Workspace, api=None) -> Table:
    """Read every student's scores from the gradebook."""
    api = api or ws.api()
    assignments = exercise_columns(ws.source)
    table = empty_table(ws.source)
    columns = table.columns

    with grading.quiet_nbgrader(), api.gradebook as gb:
        graded = {(s.student.id, s.assignment.name) for s in _all_submissions(gb)}
        students = {s.id for s in gb.students}
    submitted, _ = grading.submissions(ws)
    students |= {s for s, _ in submitted}
    ungraded = sorted(f"{s}/{a}" for s, a in submitted if (s, a) not in graded)

    rows = {}
    for student in sorted(students):
        row = dict.fromkeys(columns, 0.0)
        for a in assignments:
            if (student, a) in graded:
                result = grading.read_result(ws, api, student, a)
                for name, points in result.scores.items():
                    row[f"{a}/{name}"] = points
            row[f"{a}/total"] = sum(row[c] for c in assignments[a])
        row["total"] = sum(row[f"{a}/total"] for a in assignments)
        rows[student] = row
    table.rows, table.ungraded = rows, ungraded
    return table


def _all_submissions(gb):
    for assignment in gb.assignments:
        yield from assignment.submissions


def _fmt(points: float) -> str:
    return f"{points:g}"


def write_csv(table: Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *table.columns])
        writer.writerow([MAX_ROW, *(_fmt(table.max_scores[c]) for c in table.columns)])
        for student, row in table.rows.items():
            writer.writerow([student, *(_fmt(row[c]) for c in table.columns)])


def handed_in(ws: Workspace, table: Table) -> list[str]:
    """The assignments, in course order, that at least one student handed in."""
    submitted, _ = grading.submissions(ws)
    seen = {a for _, a in submitted}
    return [a for a in course.assignments(ws.source) if a in seen]


def lms_rows(platform: str, table: Table, assignments: list[str], people: roster.Roster | None) -> list[list[str]]:
    """The rows of Canvas's or Moodle's gradebook import file (header first).

    Raises ValueError naming the students the LMS could not match (not on the roster, or no roster).
    """
    students = list(table.rows)
    if people is not None:
        students += [p.student for p in people.people if p.student not in table.rows]
    persons, unknown = {}, []
    for student in students:
        person = people.student(student) if people else _bare_person(platform, student)
        if person is None:
            unknown.append(student)
        persons[student] = person
    if unknown:
        need = "on the roster" if people else ("Canvas user ids (collect without --roster names students so)"
                                               if platform == "canvas" else "e-mail addresses")
        raise ValueError(f"the {platform.capitalize()} import needs every student {need}; these are not: "
                         f"{', '.join(sorted(unknown))}. Pass --roster (the class list exported from "
                         f"{platform.capitalize()}), as for collect")
    scores = lambda student: [_fmt(table.rows.get(student, {}).get(f"{a}/total", 0.0)) for a in assignments]  # noqa: E731
    if platform == "canvas":
        headers = [people.columns.get(a, a) if people else a for a in assignments]
        rows = [[*CANVAS_IDENTITY, *headers],
                ["Points Possible", "", "", "", "", *(_fmt(table.max_scores[f"{a}/total"]) for a in assignments)]]
        for student, p in persons.items():
            rows.append([p.name or student, p.canvas_id, p.sis_user_id, p.sis_login_id, p.section, *scores(student)])
        return rows
    rows = [[*MOODLE_IDENTITY, *assignments]]
    for student, p in persons.items():
        first, last = (p.first, p.last) if p.first or p.last else (p.name, "")
        rows.append([first, last, p.id_number, p.email, *scores(student)])
    return rows


def _bare_person(platform: str, student: str) -> roster.Person | None:
    """Without a roster: a student id that is itself what the LMS matches on, or None."""
    if platform == "canvas" and student.isdigit():
        return roster.Person(student, canvas_id=student)
    if platform == "moodle" and "@" in student:
        return roster.Person(student, email=student)
    return None


def write_rows(rows: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def plot(table: Table, path: Path) -> None:
    """Per exercise, every student's score as a share of the points (box plot and dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    exercises = [c for c in table.columns if not c.endswith("/total") and c != "total"]
    shares = [[100 * row[c] / table.max_scores[c] if table.max_scores[c] else 0.0 for row in table.rows.values()]
              for c in exercises]
    fig, ax = plt.subplots(figsize=(max(8, 0.8 * len(exercises) + 2), 5.5), dpi=120)
    positions = np.arange(1, len(exercises) + 1)
    if table.rows:
        ax.boxplot(shares, positions=positions, widths=0.5, showmeans=True, patch_artist=True,
                   boxprops={"facecolor": "#dbe9f6"}, medianprops={"color": "#1f4e79"})
        rng = np.random.default_rng(0)
        for x, values in zip(positions, shares, strict=True):
            ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=14, alpha=0.6, color="#333333", zorder=3)
            ax.annotate(f"mean {np.mean(values):.0f}%", (x, 104), ha="center", fontsize=7)
    ax.set_xticks(positions, exercises, fontsize=8, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_ylim(-5, 110)
    ax.set_ylabel("score (% of the exercise's points)")
    ax.set_title(f"Scores per exercise ({len(table.rows)} students)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def cmd_export(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    table = build_table(ws)
    if args.lms:
        write_lms(ws, table, args)
    else:
        write_csv(table, args.csv)
        print(f"wrote {args.csv}: {len(table.rows)} students, {len(table.columns)} score columns "
              f"(first row {MAX_ROW} = points available)")
    for item in table.ungraded:
        print(f"note: {item} is collected but not graded (exported as 0); run `autograde grade`")
    if args.plot:
        plot(table, args.plot)
        print(f"wrote {args.plot}")
    return 0


def write_lms(ws: Workspace, table: Table, args: argparse.Namespace) -> None:
    """Write the LMS's import file and say how to upload it."""
    saved = ws.root / collect.ROSTER_FILE
    source = args.roster or (saved if saved.exists() else None)
    people = roster.read(source, list(course.assignments(ws.source))) if source else None
    if people is not None and people.platform != args.lms:
        raise ValueError(f"{source} is a {people.platform.capitalize()} roster; the {args.lms.capitalize()} import needs "
                         f"{args.lms.capitalize()}'s own ids: pass --roster with the class list exported from it")
    assignments = handed_in(ws, table)
    if not assignments:
        raise ValueError("nothing is collected yet, so there are no grades to import; run `autograde collect` first")
    rows = lms_rows(args.lms, table, assignments, people)
    write_rows(rows, args.csv)
    points = ", ".join(f"{a} {_fmt(table.max_scores[f'{a}/total'])}" for a in assignments)
    print(f"wrote {args.csv}: {args.lms.capitalize()} gradebook import, {len(rows) - 1 - (args.lms == 'canvas')} "
          f"students, {len(assignments)} assignments" + (f" (students from {source})" if source else ""))
    left = [a for a in course.assignments(ws.source) if a not in assignments]
    if left:
        print(f"left out (nobody handed them in): {', '.join(left)}")
    if args.lms == "canvas":
        print(f"upload it in Canvas: Grades > Import; points possible: {points}")
    else:
        print("upload it in Moodle: Grades > Import > CSV file; map 'Email address' to Email address (or 'ID number' "
              f"to ID number) and each assignment column to its grade item, whose maximum grade must be: {points}")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write the grades as a CSV (and a plot)",
        description="Write FILE.csv with one row per student: a column per exercise "
        "(ASSIGNMENT/EXERCISE), one per assignment (ASSIGNMENT/total) and the overall total. The first "
        f"row, {MAX_ROW}, holds the points available in each column. Notebooks not handed in, or not "
        "graded yet, count 0.")
    p.add_argument("csv", type=Path, metavar="FILE.csv", help="where to write the grades")
    p.add_argument("--lms", choices=LMS, default=None,
                   help="write the gradebook import file of Canvas or Moodle instead: one column per assignment "
                   "handed in, with its points, one row per student (see docs/instructors.md)")
    p.add_argument("--roster", type=Path, metavar="FILE.csv", default=None,
                   help="with --lms: the class list exported from the LMS (default: the one collect --roster kept "
                   "in the course folder)")
    p.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="also draw the score distribution of each exercise into this PNG")
    p.set_defaults(func=cmd_export)
