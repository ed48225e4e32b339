"""``python -m autograde``: the course's command-line tool for instructors and maintainers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograde import collect, course, export, feedback, grading, insight, status
from autograde.workspace import DEFAULT_ROOT, Workspace

DESCRIPTION = """\
Run the PyTorch course: generate the student copy, collect and grade submissions, return
feedback and export grades. Everything lives in one course folder (default: course/ at the
repository root) with an SQLite gradebook unless --db names another database.
"""


def workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(root=args.course_dir, db_url=args.db, exchange=args.exchange_dir)


def cmd_release(args: argparse.Namespace) -> int:
    from autograde import given
    from autograde.formgrader import write_config
    from autograde.workspace import release

    ws = workspace(args)
    if args.due:
        for name in args.assignments or list(course.assignments(ws.source)):
            given.set_due(ws, name, parse_due(args.due))
    given.release_gate(ws, args.assignments or list(course.assignments(ws.source)), args.before_due)
    written = release(ws, args.assignments or None)
    for path in written:
        print(f"released {path}")
    print(f"{len(written)} notebooks released into {ws.path('release')}")
    print(f"nbgrader settings in {write_config(ws)} (start `jupyter lab` there for the Formgrader)")
    if args.publish:
        from autograde.exchange import publish

        for folder in publish(ws, args.assignments or list(course.assignments(ws.source)), before_due=args.before_due):
            print(f"published {folder} (students fetch it from JupyterLab's Assignments tab)")
    return 0


def parse_due(text: str):
    """``YYYY-MM-DD`` (end of that day) or ``YYYY-MM-DDTHH:MM``, in UTC, naive as nbgrader keeps it."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--due {text!r}: give YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from None
    if len(text) == 10:
        when = when.replace(hour=23, minute=59)
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def cmd_student_env(args: argparse.Namespace) -> int:
    from autograde.student_env import RUNTIME, build

    notebooks, runtime = build(args.dest, args.edition, graded=args.graded)
    for path in notebooks:
        print(f"notebook {path}")
    print(f"student environment in {args.dest}: {len(notebooks)} notebooks, runtime in {args.dest / RUNTIME} "
          f"({len(runtime)} files; install it with `pip install --no-deps {args.dest / RUNTIME}`)")
    return 0


def cmd_student_copy(args: argparse.Namespace) -> int:
    from autograde.editions import EDITIONS
    from autograde.workspace import student_copy

    written, kept = student_copy(args.dest, EDITIONS[args.edition])
    for path in written:
        print(f"new   {path}")
    for path in kept:
        print(f"kept  {path} (already there; your work is never overwritten)")
    print(f"student copy in {args.dest}: {len(written)} new, {len(kept)} kept")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from autograde import given
    from autograde.authoring import sync

    for path in given.write():
        print(f"{path.relative_to(course.REPO)}: written from solutions/")
    for nb in course.notebooks():
        changed = sync(nb.path, run=not args.no_run)
        print(f"{nb.path.relative_to(course.REPO)}: {changed} solution cell(s) updated")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograde", description=DESCRIPTION)
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_ROOT,
                        help="the course folder (release, submitted, autograded, feedback, gradebook); "
                        "default: %(default)s")
    parser.add_argument("--db", metavar="URL", default=None,
                        help="gradebook database URL, e.g. postgresql://user@host/course "
                        "(default: sqlite in the course folder)")
    parser.add_argument("--exchange-dir", metavar="DIR", type=Path, default=None,
                        help="nbgrader's exchange, shared with the students (release --publish, collect --exchange); "
                        "default: exchange/ in the course folder")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("release", help="generate the student copy of every assignment (or the ones named)",
                       description="Generate the student copy (solutions and hidden tests removed) of every "
                       "assignment, or of the ones named, into COURSE_DIR/release/, and write COURSE_DIR/nbgrader_config.py "
                       "so that nbgrader's Formgrader, started in COURSE_DIR, shows the course with no hand edits.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help=f"assignment ids (default: all of {', '.join(course.assignments())})")
    p.add_argument("--publish", action="store_true",
                   help="also publish the student copy to nbgrader's exchange (--exchange-dir), where students "
                   "fetch it from JupyterLab's Assignments tab; publishing again replaces the earlier copy")
    p.add_argument("--due", metavar="WHEN",
                   help="record the due date of the assignments released (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC) "
                   "in the gradebook; the assignments after 01_network are released only once 01_network is due")
    p.add_argument("--before-due", action="store_true",
                   help="release the assignments after 01_network, with notebook 1's Net (given/), even though "
                   "01_network is not due yet (for example when notebook 1 is not graded)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("student-copy", help="put a student copy of the course in a folder, keeping existing work",
                       description="Copy the student version of every notebook into DEST; a notebook that is "
                       "already there is left untouched, so re-running never loses a learner's work.")
    p.add_argument("dest", type=Path, nargs="?", default=course.REPO / "student", help="default: %(default)s")
    p.add_argument("--edition", choices=["en", "ko"], default="en",
                   help="which language edition to copy (put ko in a folder named ko, so checks speak Korean); "
                   "default: %(default)s")
    p.set_defaults(func=cmd_student_copy)

    p = sub.add_parser("student-env", help="build the student environment: notebooks and the runtime they import",
                       description="Write the student copy of one edition's notebooks into DEST (existing work kept) "
                       "and the student runtime into DEST/.runtime, a folder `pip install` takes: only the modules "
                       "the notebooks import (never solutions/ or the hidden tests). make lab, Binder and the "
                       "Dockerfile build with it.")
    p.add_argument("dest", type=Path, help="where to write it")
    p.add_argument("--edition", choices=["en", "ko"], default="en", help="default: %(default)s")
    p.add_argument("--graded", action="store_true",
                   help="a graded class's image: the runtime alone, without given/ (notebook 1's Net comes "
                   "with the assignments after 01_network, from `release`)")
    p.set_defaults(func=cmd_student_env)

    p = sub.add_parser("sync", help="maintainers: copy solutions/ into the notebooks and re-run them",
                       description="Copy every reference in solutions/ into its notebook's solution cell (and Net into given/), "
                       "re-execute each source notebook to refresh its outputs, and strip stray metadata.")
    p.add_argument("--no-run", action="store_true", help="only copy the solutions; keep the outputs")
    p.set_defaults(func=cmd_sync)

    for register in COMMANDS:
        register(sub)
    return parser


# Further subcommands register themselves here: each is a function taking the subparsers object.
COMMANDS: list = [collect.register, grading.register, feedback.register, export.register, status.register, insight.register]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"autograde {args.command}: error: {error}", file=sys.stderr)
        return 2
