"""Export the gradebook as a CSV (one row per student) and, optionally, a plot of the scores.

Columns, in course order: ``student``; for each assignment, one column per exercise named
``<assignment>/<exercise>`` and ``<assignment>/total``; then ``total``. The first row after the
header is ``(max)``: the points available in each column (no student id can be ``(max)``). A
student who did not hand in a notebook, or whose submission is not graded yet, has 0 there.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from autograde import course, grading
from autograde.workspace import Workspace

MAX_ROW = "(max)"


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


def build_table(ws: Workspace, api=None) -> Table:
    """Read every student's scores from the gradebook."""
    api = api or ws.api()
    assignments = exercise_columns(ws.source)
    columns, max_scores = [], {}
    for a, cols in assignments.items():
        for nb in course.assignments(ws.source)[a]:
            for ex in nb.exercises:
                max_scores[f"{a}/{ex.name}"] = ex.points
        max_scores[f"{a}/total"] = sum(max_scores[c] for c in cols)
        columns += [*cols, f"{a}/total"]
    max_scores["total"] = sum(max_scores[f"{a}/total"] for a in assignments)
    columns.append("total")

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
    return Table(columns, max_scores, rows, ungraded)


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
    write_csv(table, args.csv)
    print(f"wrote {args.csv}: {len(table.rows)} students, {len(table.columns)} score columns "
          f"(first row {MAX_ROW} = points available)")
    for item in table.ungraded:
        print(f"note: {item} is collected but not graded (exported as 0); run `autograde grade`")
    if args.plot:
        plot(table, args.plot)
        print(f"wrote {args.plot}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write the grades as a CSV (and a plot)",
        description="Write FILE.csv with one row per student: a column per exercise "
        "(ASSIGNMENT/EXERCISE), one per assignment (ASSIGNMENT/total) and the overall total. The first "
        f"row, {MAX_ROW}, holds the points available in each column. Notebooks not handed in, or not "
        "graded yet, count 0.")
    p.add_argument("csv", type=Path, metavar="FILE.csv", help="where to write the grades")
    p.add_argument("--plot", type=Path, metavar="FILE.png",
                   help="also draw the score distribution of each exercise into this PNG")
    p.set_defaults(func=cmd_export)
