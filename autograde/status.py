"""Who handed in what, and what is graded: one row per student, one column per assignment.

Each cell is one of:
  -          nothing collected
  collected  collected, not graded yet
  7/7        graded: points / points available
  7/7 *      graded, but a newer version was collected since: grade again
  3.5/7 (manual: l1_loss 1.5)
             graded, with a score given by hand in nbgrader's Formgrader (it replaces the
             autograded one, and `grade --regrade` keeps it)
"""

from __future__ import annotations

import argparse

from autograde import course, gradebook, grading, reports
from autograde.workspace import Workspace


def table(ws: Workspace, api=None) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(assignments, student -> assignment -> cell text)."""
    assignments = list(course.assignments(ws.source))
    submitted, _ = grading.submissions(ws)
    graded: set[tuple[str, str]] = set()
    manual: dict[tuple[str, str], dict[str, float]] = {}
    if ws.db_url or (ws.root / "gradebook.db").exists():
        api = api or ws.api()
        with grading.quiet_nbgrader(), api.gradebook as gb:
            graded = {(s.student.id, a.name) for a in gb.assignments for s in a.submissions}
            manual = {(s.student.id, a.name): m for a in gb.assignments for s in a.submissions
                      if (m := manual_scores(s))}
    students = sorted({s for s, _ in submitted} | {s for s, _ in graded})
    rows: dict[str, dict[str, str]] = {}
    for student in students:
        row = {}
        for a in assignments:
            if (student, a) in graded:
                r = grading.read_result(ws, api, student, a)
                cell = f"{r.score:g}/{r.max_score:g}"
                if (student, a) in manual:
                    cell += reports.manual_text(manual[student, a])
                if _stale(ws, student, a):
                    cell += " *"
                row[a] = cell
            elif (student, a) in submitted:
                row[a] = "collected"
            else:
                row[a] = "-"
        rows[student] = row
    return assignments, rows


def manual_scores(submission) -> dict[str, float]:
    """Exercise -> the score given by hand in the Formgrader, for one gradebook submission (``SubmittedAssignment``)."""
    return {gradebook.exercise_name(g.name): float(g.manual_score)
            for nb in submission.notebooks for g in nb.grades if g.manual_score is not None}


def _stale(ws: Workspace, student: str, assignment: str) -> bool:
    """A submitted notebook is newer than its autograded copy."""
    for nb in ws.path("submitted", student, assignment).glob("*.ipynb"):
        done = ws.path("autograded", student, assignment, nb.name)
        if not done.exists() or done.stat().st_mtime < nb.stat().st_mtime:
            return True
    return False


def render(assignments: list[str], rows: dict[str, dict[str, str]]) -> str:
    header = ["student", *assignments]
    lines = [[s, *(row[a] for a in assignments)] for s, row in rows.items()]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines)])


def cmd_status(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    assignments, rows = table(ws)
    if not rows:
        print(f"no submissions in {ws.path('submitted')} yet; run `autograde collect PATH`")
        return 0
    print(render(assignments, rows))
    stale = sum(c.endswith("*") for row in rows.values() for c in row.values())
    waiting = sum(c == "collected" for row in rows.values() for c in row.values())
    print(f"\n{len(rows)} students; {waiting} collected and not graded; {stale} re-collected since grading (*)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "status", help="show who handed in what and what is graded",
        description="Print a table with a row per student and a column per assignment. A cell is '-' "
        "(nothing collected), 'collected' (not graded yet), 'points/available' (graded), or ends in '*' "
        "when a newer version was collected after grading (run `autograde grade` again); "
        "'(manual: EXERCISE POINTS, ...)' names the scores given by hand in nbgrader's Formgrader.")
    p.set_defaults(func=cmd_status)
