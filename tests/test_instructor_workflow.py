"""The instructor's command line, end to end: release -> collect -> grade -> feedback -> export.

Submissions are built at test time from the release copy and the source notebooks' solution
cells, so they stay in step with the course:

- ``reference``: every solution cell filled with the reference solution (full marks);
- ``blank``: the untouched student copy (zero);
- ``one_wrong``: the reference, but ``mse_loss`` returns the sum instead of the mean (one exercise lost);
- ``partial``: the reference of 01_network only; 02_losses is not handed in (zero there).

They arrive in the three layouts ``collect`` accepts: nbgrader's, one folder per student, and an
LMS zip with the student id in the file names.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import io
import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import nbformat
import pytest
from secrets_scan import leaks

from autograde import collect, course
from autograde.cli import main
from autograde.workspace import Workspace

E2E = ["01_network", "02_losses"]
STUDENTS = ["blank", "one_wrong", "partial", "reference"]


# -- helpers -----------------------------------------------------------------------------
def run(*argv: str | Path) -> SimpleNamespace:
    """``python -m autograde ARGV`` in-process: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as stop:  # argparse: --help, usage errors
            rc = stop.code
    return SimpleNamespace(rc=rc, out=out.getvalue(), err=err.getvalue())


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (empty if ``root`` does not exist)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def solution_sources(assignment: str) -> dict[str, str]:
    """grade_id -> the source notebook's solution cell."""
    nb = nbformat.read(course.assignments()[assignment][0].path, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
            if course.nbgrader_meta(c).get("solution") and not course.nbgrader_meta(c).get("grade")}


def submission(released: Path, assignment: str, replace: dict[str, tuple[str, str]] | None = None,
               blank: bool = False) -> nbformat.NotebookNode:
    """The release copy with every solution cell filled in from the source (unless ``blank``).

    ``replace`` maps an exercise to (old, new): a text change in its reference solution.
    """
    nb = nbformat.read(released / assignment / f"{assignment}.ipynb", as_version=4)
    if blank:
        return nb
    solutions = solution_sources(assignment)
    for cell in nb.cells:
        grade_id = course.nbgrader_meta(cell).get("grade_id")
        if grade_id in solutions and not course.nbgrader_meta(cell).get("grade"):
            cell.source = solutions[grade_id]
            if replace and grade_id in replace:
                old, new = replace[grade_id]
                assert old in cell.source, f"the reference {grade_id} changed; update this test's mistake"
                cell.source = cell.source.replace(old, new)
    return nb


def points(assignment: str) -> dict[str, float]:
    return {ex.name: ex.points for nb in course.assignments()[assignment] for ex in nb.exercises}


def expected_scores(student: str) -> dict[str, float]:
    """The CSV columns each fixture student should get, from the notebooks' points."""
    row: dict[str, float] = {}
    for assignment, nbs in course.assignments().items():
        for ex in (e for nb in nbs for e in nb.exercises):
            full = assignment in E2E and (
                student == "reference"
                or (student == "one_wrong" and not (assignment == "02_losses" and ex.name == "mse_loss"))
                or (student == "partial" and assignment == "01_network"))
            row[f"{assignment}/{ex.name}"] = ex.points if full else 0.0
        row[f"{assignment}/total"] = sum(v for k, v in row.items() if k.startswith(f"{assignment}/")
                                         and not k.endswith("/total"))
    row["total"] = sum(v for k, v in row.items() if k.endswith("/total"))
    return row


def read_csv(path: Path) -> tuple[list[str], dict[str, dict[str, float]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return header, {r[0]: {k: float(v) for k, v in zip(header[1:], r[1:], strict=True)} for r in rows[1:]}


def text_of(page: str) -> str:
    """What a reader sees in an HTML page: the tags (syntax-highlighting spans included) removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def grade_rows(course_dir: Path) -> int:
    from nbgrader.api import Grade


    with Workspace(root=course_dir).api().gradebook as gb:
        return gb.db.query(Grade).count()


# -- the class, graded once --------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("instructor")
    course_dir = tmp / "course"
    steps = SimpleNamespace(course_dir=course_dir)
    steps.release = run("--course-dir", course_dir, "release", "--before-due", *E2E)
    released = course_dir / "release"

    # nbgrader layout (reference) and one folder per student (blank, partial), plus clutter
    inbox = tmp / "inbox"
    for assignment in E2E:
        target = inbox / "reference" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(submission(released, assignment), target)
        (inbox / "blank").mkdir(exist_ok=True)
        nbformat.write(submission(released, assignment, blank=True), inbox / "blank" / f"{assignment}.ipynb")
    (inbox / "partial").mkdir()
    nbformat.write(submission(released, "01_network"), inbox / "partial" / "01_network.ipynb")
    (inbox / "README.txt").write_text("not a notebook")
    steps.collect_folder = run("--course-dir", course_dir, "collect", inbox)

    # an LMS download: the student id in the file names
    lms = tmp / "lms.zip"
    wrong = {"mse_loss": ("** 2).mean()", "** 2).sum()")}
    with zipfile.ZipFile(lms, "w") as zf:
        zf.writestr("downloads/one_wrong_01_network.ipynb", nbformat.writes(submission(released, "01_network")))
        zf.writestr("downloads/02_losses - one_wrong.ipynb",
                    nbformat.writes(submission(released, "02_losses", replace=wrong)))
    steps.collect_zip = run("--course-dir", course_dir, "collect", lms)

    steps.submitted_before = tree(course_dir / "submitted")
    steps.status_before = run("--course-dir", course_dir, "status")
    steps.grade = run("--course-dir", course_dir, "grade")
    steps.rows_after_grade = grade_rows(course_dir)
    steps.export = run("--course-dir", course_dir, "export", tmp / "grades.csv", "--plot", tmp / "grades.png")
    steps.csv, steps.png = tmp / "grades.csv", tmp / "grades.png"
    steps.status = run("--course-dir", course_dir, "status")

    steps.feedback = run("--course-dir", course_dir, "feedback", "--no-progress")
    steps.feedback_html = {p.relative_to(course_dir / "feedback").as_posix(): text_of(p.read_text(encoding="utf-8"))
                           for p in (course_dir / "feedback").rglob("*.html")}
    steps.shown = run("--course-dir", course_dir, "feedback", "--show-hidden", "--no-progress",
                      "--student", "one_wrong", "--assignment", "02_losses")
    steps.shown_html = text_of((course_dir / "feedback/one_wrong/02_losses/02_losses.html").read_text(encoding="utf-8"))

    steps.regrade = run("--course-dir", course_dir, "grade", "--no-progress", "--student", "one_wrong")
    steps.rows_after_regrade = grade_rows(course_dir)
    steps.export_again = run("--course-dir", course_dir, "export", tmp / "again.csv")
    steps.csv_again = tmp / "again.csv"
    steps.submitted_after = tree(course_dir / "submitted")
    return steps


@pytest.mark.slow
def test_did_every_step_succeed(graded):
    for name in ("release", "collect_folder", "collect_zip", "grade", "export", "feedback", "shown", "regrade",
                 "export_again", "status"):
        step = getattr(graded, name)
        assert step.rc == 0, f"{name} failed:\n{step.out}\n{step.err}"


@pytest.mark.slow
def test_did_collect_place_every_layout(graded):
    placed = sorted(p for p in graded.submitted_before if p.endswith(".ipynb"))
    assert placed == sorted(f"{s}/{a}/{a}.ipynb" for s in STUDENTS for a in E2E
                            if not (s == "partial" and a == "02_losses"))
    assert "README.txt: not a notebook" in graded.collect_folder.out


@pytest.mark.slow
def test_does_status_show_what_is_collected_and_graded(graded):
    before = graded.status_before.out
    assert "collected" in before and "partial" in before
    after = graded.status.out.splitlines()
    partial = next(line for line in after if line.startswith("partial"))
    assert partial.split()[1:3] == [f"{sum(points('01_network').values()):g}/{sum(points('01_network').values()):g}",
                                    "-"]


@pytest.mark.slow
def test_does_grade_show_progress_and_a_summary(graded):
    assert "100%" in graded.grade.err
    assert graded.grade.out.strip().splitlines()[-1].startswith("graded 7, failed 0, in ")


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
def test_does_the_csv_hold_exactly_the_expected_scores(graded, student):
    header, rows = read_csv(graded.csv)
    assert rows[student] == expected_scores(student)


@pytest.mark.slow
def test_does_a_blank_submission_score_zero(graded):
    assert read_csv(graded.csv)[1]["blank"]["total"] == 0


@pytest.mark.slow
def test_does_one_wrong_exercise_lose_exactly_its_points(graded):
    row = read_csv(graded.csv)[1]["one_wrong"]
    assert row["02_losses/mse_loss"] == 0
    assert row["02_losses/total"] == sum(points("02_losses").values()) - points("02_losses")["mse_loss"]


@pytest.mark.slow
def test_does_the_csv_have_one_row_per_student_and_a_max_row(graded):
    header, rows = read_csv(graded.csv)
    assert list(rows) == ["(max)", *STUDENTS]
    assert header[0] == "student" and header[-1] == "total"
    for assignment, nbs in course.assignments().items():
        for ex in (e for nb in nbs for e in nb.exercises):
            assert rows["(max)"][f"{assignment}/{ex.name}"] == ex.points
        assert rows["(max)"][f"{assignment}/total"] == sum(nb.points for nb in nbs)
    assert rows["(max)"]["total"] == sum(nb.points for nb in course.notebooks())


@pytest.mark.slow
def test_is_the_plot_a_real_png(graded):
    import matplotlib.image

    data = graded.png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    image = matplotlib.image.imread(graded.png)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600 and image.shape[2] in (3, 4)


@pytest.mark.slow
def test_does_the_feedback_show_the_failing_check_message(graded):
    assert "✗ mse_loss" in graded.feedback_html["one_wrong/02_losses/02_losses.html"]


@pytest.mark.slow
def test_is_there_feedback_for_every_graded_notebook(graded):
    assert sorted(graded.feedback_html) == sorted(
        f"{s}/{a}/{a}.html" for s in STUDENTS for a in E2E if not (s == "partial" and a == "02_losses"))


@pytest.mark.slow
def test_does_the_feedback_keep_the_hidden_tests_secret(graded):
    for name, text in graded.feedback_html.items():
        assert "hidden.check" not in text, name
        assert "BEGIN HIDDEN TESTS" not in text, name
        assert "from autograde import hidden" not in text, name


@pytest.mark.slow
def test_does_the_feedback_hold_no_hidden_test_source_and_no_reference_code_but_the_learners_own(graded):
    """Feedback goes back to students: not one line of autograde/hidden.py, and no reference code but
    what that learner handed in for that notebook (the test students hand in the references)."""
    assert graded.feedback_html
    for name, text in graded.feedback_html.items():
        student, assignment = name.split("/")[:2]
        own = () if student == "blank" else tuple(
            f"{course.assignments()[assignment][0].reference}.{e.name}" for e in course.assignments()[assignment][0].exercises)
        assert leaks(text, skip=own, lines=True) == [], name
    # The scan finds what is there: the reference student's 01_network feedback holds their (reference) Net.
    assert "solutions.network.Net#0" in leaks(graded.feedback_html["reference/01_network/01_network.html"])


@pytest.mark.slow
def test_does_show_hidden_reveal_the_hidden_tests(graded):
    assert "hidden.check" in graded.shown_html
    assert "✗ mse_loss" in graded.shown_html


@pytest.mark.slow
def test_does_regrading_give_the_same_scores_without_new_rows(graded):
    assert graded.csv_again.read_text() == graded.csv.read_text()
    assert graded.rows_after_regrade == graded.rows_after_grade


@pytest.mark.slow
def test_are_submitted_files_never_modified(graded):
    assert graded.submitted_after == graded.submitted_before


@pytest.mark.slow
def test_does_every_assignment_give_the_reference_full_marks(tmp_path):
    course_dir = tmp_path / "course"
    assert run("--course-dir", course_dir, "release", "--before-due").rc == 0
    inbox = tmp_path / "inbox"
    for assignment in course.assignments():
        target = inbox / "reference" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(submission(course_dir / "release", assignment), target)
    assert run("--course-dir", course_dir, "collect", inbox).rc == 0
    graded = run("--course-dir", course_dir, "grade", "--no-progress")
    assert graded.rc == 0, graded.out + graded.err
    assert run("--course-dir", course_dir, "export", tmp_path / "grades.csv").rc == 0
    _, rows = read_csv(tmp_path / "grades.csv")
    assert rows["reference"] == rows["(max)"]


# -- collect: layouts and bad input (no grading, fast) ------------------------------------
@pytest.mark.parametrize("path, placed", [
    ("alice/01_network/01_network.ipynb", ("alice", "01_network", "01_network")),
    ("class/alice/02_losses/02_losses.ipynb", ("alice", "02_losses", "02_losses")),
    ("alice/02_losses.ipynb", ("alice", "02_losses", "02_losses")),
    ("alice_01_network.ipynb", ("alice", "01_network", "01_network")),
    ("01_network_alice.ipynb", ("alice", "01_network", "01_network")),
    ("alice - 01_network.ipynb", ("alice", "01_network", "01_network")),
    ("downloads/bob.smith@uni.edu-05_shapes.ipynb", ("bob.smith@uni.edu", "05_shapes", "05_shapes")),
])
def test_where_does_each_layout_put_a_notebook(path, placed):
    assert collect.place(PurePosixPath(path), collect.notebook_index()) == placed


@pytest.mark.parametrize("path, reason", [
    ("01_network.ipynb", "no student id"),
    ("01_network/01_network.ipynb", "no student id"),
    ("alice_homework.ipynb", "no notebook of the course"),
    ("01_network_.ipynb", "no student id"),
    ("alice smith_01_network.ipynb", "not a usable student id"),
])
def test_which_notebooks_can_collect_not_place(path, reason):
    assert reason in collect.place(PurePosixPath(path), collect.notebook_index())


@pytest.fixture
def existing(tmp_path) -> Path:
    """A course folder that already holds one collected submission."""
    course_dir = tmp_path / "course"
    target = course_dir / "submitted" / "zoe" / "01_network" / "01_network.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copyfile(course.assignments()["01_network"][0].path, target)
    return course_dir


def _notebook_text() -> str:
    return course.assignments()["02_losses"][0].path.read_text(encoding="utf-8")


def test_does_an_unreadable_zip_leave_the_workspace_unchanged(tmp_path, existing):
    bad = tmp_path / "submissions.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    before = tree(existing)
    result = run("--course-dir", existing, "collect", bad)
    assert result.rc == 2
    assert "submissions.zip" in result.err and "not a readable zip" in result.err
    assert tree(existing) == before


def test_does_a_damaged_zip_leave_the_workspace_unchanged(tmp_path, existing):
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("alice_02_losses.ipynb", _notebook_text())
        zf.writestr("bob_02_losses.ipynb", _notebook_text())
    data = bytearray(archive.read_bytes())
    data[200:260] = b"X" * 60  # inside the first file's data: its CRC no longer matches
    archive.write_bytes(bytes(data))
    before = tree(existing)
    result = run("--course-dir", existing, "collect", archive)
    assert result.rc == 2 and "damaged.zip" in result.err
    assert tree(existing) == before


def test_does_a_file_without_student_id_stop_the_whole_collection(tmp_path, existing):
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    (inbox / "02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    before = tree(existing)
    result = run("--course-dir", existing, "collect", inbox)
    assert result.rc == 2
    assert f"{inbox}/02_losses.ipynb: no student id" in result.err
    assert "nothing was copied" in result.err
    assert tree(existing) == before


def test_does_a_corrupt_notebook_stop_the_whole_collection(tmp_path, existing):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "alice_02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    (inbox / "bob_02_losses.ipynb").write_text('{"cells": [', encoding="utf-8")
    before = tree(existing)
    result = run("--course-dir", existing, "collect", inbox)
    assert result.rc == 2 and "bob_02_losses.ipynb: not a readable notebook" in result.err
    assert tree(existing) == before


def test_are_two_files_for_one_student_and_notebook_refused(tmp_path, existing):
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / "02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    (inbox / "alice_02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    result = run("--course-dir", existing, "collect", inbox)
    assert result.rc == 2 and "the same student and notebook" in result.err


def test_does_skip_bad_collect_the_rest_and_name_the_others(tmp_path, existing):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "alice_02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    (inbox / "02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    result = run("--course-dir", existing, "collect", "--skip-bad", inbox)
    assert result.rc == 1
    assert "NOT COLLECTED" in result.out and "02_losses.ipynb: no student id" in result.out
    assert (existing / "submitted/alice/02_losses/02_losses.ipynb").read_text(encoding="utf-8") == _notebook_text()


def test_does_collecting_again_replace_only_what_changed(tmp_path, existing):
    inbox = tmp_path / "inbox"
    (inbox / "zoe").mkdir(parents=True)
    shutil.copyfile(course.assignments()["01_network"][0].path, inbox / "zoe" / "01_network.ipynb")
    (inbox / "zoe" / "02_losses.ipynb").write_text(_notebook_text(), encoding="utf-8")
    result = run("--course-dir", existing, "collect", inbox)
    assert result.rc == 0
    assert "unchanged  " in result.out and "zoe/01_network/01_network.ipynb" in result.out
    assert "new        " in result.out and "submitted/zoe/02_losses/02_losses.ipynb" in result.out


@pytest.mark.parametrize("command", ["collect", "grade", "feedback", "export", "status"])
def test_does_every_command_explain_itself(command):
    result = run(command, "--help")
    assert result.rc == 0
    assert f"usage: autograde {command}" in result.out
    assert len(result.out) > 300


def test_does_grade_say_what_to_do_when_nothing_is_collected(tmp_path):
    result = run("--course-dir", tmp_path / "empty", "grade")
    assert result.rc == 2 and "autograde collect" in result.err


def test_does_feedback_hide_hidden_code_even_in_a_traceback():
    from autograde.feedback import hide_hidden_tests

    visible = 'check = Checker("mse_loss")\ncheck.done()'
    hidden = "### BEGIN HIDDEN TESTS\nfrom autograde import hidden\nhidden.check('mse_loss', mse_loss)\n" \
             "### END HIDDEN TESTS"
    cell = nbformat.v4.new_code_cell(f"{visible}\n{hidden}", metadata={"nbgrader": {
        "grade": True, "grade_id": "test_mse_loss", "points": 2, "solution": False, "locked": True}})
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="CheckFailed", evalue="✗ mse_loss: loss for random tensors of shape (4,)",
        traceback=["Cell In[5], line 3", "----> 3 hidden.check('mse_loss', mse_loss)", "CheckFailed: ..."])]
    other = nbformat.v4.new_code_cell("1 / 0")
    other.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                            traceback=["----> 1 1 / 0", "ZeroDivisionError: division by zero"])]
    nb = nbformat.v4.new_notebook(cells=[cell, other])
    nb, _ = hide_hidden_tests()().preprocess(nb, {})
    assert nb.cells[0].source == visible
    assert nb.cells[0].outputs[0].traceback == ["CheckFailed: ✗ mse_loss: loss for random tensors of shape (4,)"]
    assert nb.cells[1].outputs[0].traceback == ["----> 1 1 / 0", "ZeroDivisionError: division by zero"]
