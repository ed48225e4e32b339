"""HTML feedback for each graded notebook, through nbgrader's ``generate_feedback``.

After autograding, nbgrader restores each test cell's full source, hidden tests included, and the
feedback would show them. Unless the instructor asks for them (``--show-hidden``), the feedback
runs one more preprocessor, ``HideHiddenTests`` (nbgrader's ``ClearHiddenTests``), that
removes every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` block from the cell sources,
and, in those cells only, shortens an error's traceback (whose context lines could quote the hidden
code) to its last line: the learner's failing check message.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

from autograde import grading
from autograde.workspace import Workspace


@functools.cache
def hide_hidden_tests():
    """The preprocessor class (built on first use: importing nbgrader takes a second)."""
    from nbgrader.preprocessors import ClearHiddenTests

    class HideHiddenTests(ClearHiddenTests):
        """Remove the hidden-test blocks from an autograded notebook before it is rendered as feedback."""

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type != "code" or self.begin_test_delimeter not in cell.source:
                return cell, resources
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
            return cell, resources

    return HideHiddenTests


def feedback_config(show_hidden: bool):
    """The extra nbgrader config for the feedback: hide the hidden tests unless asked not to."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    c = Config()
    if not show_hidden:
        c.GenerateFeedback.preprocessors = [GetGrades, hide_hidden_tests(), CSSHTMLHeaderPreprocessor]
    return c


def graded(ws: Workspace, students: list[str] | None, assignments: list[str] | None) -> list[tuple[str, str]]:
    """(student, assignment) pairs that have an autograded copy, filtered."""
    folder = ws.path("autograded")
    if not folder.is_dir():
        return []
    return sorted(
        (a.parent.name, a.name)
        for a in folder.glob("*/*")
        if a.is_dir() and (not students or a.parent.name in students)
        and (not assignments or a.name in assignments) and any(a.glob("*.ipynb"))
    )


def generate(ws: Workspace, pairs: list[tuple[str, str]], show_hidden: bool = False,
             progress: bool = True) -> tuple[list[Path], list[str]]:
    """Write the feedback of each pair; return (HTML files written, errors)."""
    from tqdm import tqdm

    api = ws.api(feedback_config(show_hidden))
    written, errors = [], []
    with grading.quiet_nbgrader(), tqdm(pairs, desc="feedback", unit="submission", disable=not progress) as bar:
        for student, assignment in bar:
            bar.set_postfix_str(f"{student}/{assignment}")
            outcome = api.generate_feedback(assignment, student, force=True)
            if not outcome.get("success"):
                detail = (outcome.get("error") or outcome.get("log") or "no details").strip().splitlines()[-1]
                errors.append(f"{student}/{assignment}: {detail}")
                continue
            written.extend(sorted(ws.path("feedback", student, assignment).glob("*.html")))
    return written, errors


def cmd_feedback(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db)
    pairs = graded(ws, args.student, args.assignment)
    if not pairs:
        raise ValueError(f"nothing graded in {ws.path('autograded')}; run `autograde grade` first")
    start = time.perf_counter()
    written, errors = generate(ws, pairs, show_hidden=args.show_hidden, progress=not args.no_progress)
    for path in written:
        print(f"wrote {path}")
    for error in errors:
        print(f"FAILED {error}")
    hidden = "shown" if args.show_hidden else "not shown"
    print(f"feedback for {len(pairs) - len(errors)} submission(s) in {ws.path('feedback')} "
          f"(hidden tests {hidden}), {len(errors)} failed, in {time.perf_counter() - start:.1f} s")
    return 1 if errors else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "feedback", help="write an HTML feedback file per student and notebook",
        description="Render every graded notebook as HTML, with the points of each test cell and the "
        "check messages the learner got, into COURSE_DIR/feedback/STUDENT/ASSIGNMENT/NOTEBOOK.html, "
        "ready to send back. The hidden tests' code is left out unless you pass --show-hidden.")
    p.add_argument("--student", action="append", metavar="S", help="only this student (repeatable)")
    p.add_argument("--assignment", action="append", metavar="A", help="only this assignment (repeatable)")
    p.add_argument("--show-hidden", action="store_true",
                   help="keep the hidden tests in the feedback (e.g. after the deadline, for discussion)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.set_defaults(func=cmd_feedback)
