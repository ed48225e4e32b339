"""Grading either edition: a Korean and an English submission with the same answers.

Kim works in the Korean student copy (``student/ko/02_losses/02_losses.ipynb``), Alice in the
English one; both get mse_loss wrong and the rest right. They are collected together, graded into
the same gradebook columns, and each feedback file comes back in its student's language.
"""

from __future__ import annotations

import nbformat
import pytest
from test_instructor_workflow import read_csv, run, text_of

from autograde import course, editions
from autograde.workspace import student_copy

ASSIGNMENT = "02_losses"
WRONG_MSE = "def mse_loss(output, target):\n    return ((output - target) ** 2).sum()\n"


def answered(path) -> nbformat.NotebookNode:
    """The student copy at ``path`` with the reference answers, except a wrong mse_loss."""
    source = nbformat.read(course.SOURCE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solutions = {course.nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if course.nbgrader_meta(c).get("solution")}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = course.nbgrader_meta(cell)
        if meta.get("solution"):
            cell.source = WRONG_MSE if meta["grade_id"] == "mse_loss" else solutions[meta["grade_id"]]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("editions")
    copies = {}
    for edition in ("en", "ko"):
        student_copy(tmp / "copies" / edition, editions.EDITIONS[edition])
        copies[edition] = tmp / "copies" / edition / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    inbox = tmp / "inbox"
    (inbox / "kim" / "ko" / ASSIGNMENT).mkdir(parents=True)  # laid out as `make student EDITION=ko` writes it
    nbformat.write(answered(copies["ko"]), inbox / "kim" / "ko" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (inbox / "alice" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(answered(copies["en"]), inbox / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    course_dir = tmp / "course"
    steps = {
        "release": run("--course-dir", course_dir, "release", "--before-due", ASSIGNMENT),
        "collect": run("--course-dir", course_dir, "collect", inbox),
        "grade": run("--course-dir", course_dir, "grade", "--no-progress"),
        "feedback": run("--course-dir", course_dir, "feedback", "--no-progress"),
        "export": run("--course-dir", course_dir, "export", tmp / "grades.csv"),
    }
    return course_dir, steps, tmp / "grades.csv"


def test_every_step_succeeds(graded):
    _, steps, _ = graded
    for name, result in steps.items():
        assert result.rc == 0, (name, result.out, result.err)


def test_both_editions_land_in_the_same_columns_with_the_same_scores(graded):
    _, _, csv_path = graded
    header, rows = read_csv(csv_path)
    assert f"{ASSIGNMENT}/mse_loss" in header
    columns = [c for c in header[1:] if c.startswith(f"{ASSIGNMENT}/")]
    assert {c: rows["kim"][c] for c in columns} == {c: rows["alice"][c] for c in columns}
    assert rows["kim"][f"{ASSIGNMENT}/mse_loss"] == 0
    assert rows["kim"][f"{ASSIGNMENT}/total"] == rows["(max)"][f"{ASSIGNMENT}/total"] - rows["(max)"][f"{ASSIGNMENT}/mse_loss"]


def test_feedback_comes_back_in_each_students_language(graded):
    course_dir, _, _ = graded
    pages = {s: text_of((course_dir / "feedback" / s / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8"))
             for s in ("kim", "alice")}
    korean_intro = next(c.source.splitlines()[0] for c in nbformat.read(
        editions.EDITIONS["ko"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells if c.cell_type == "markdown")
    assert korean_intro.lstrip("# ") in pages["kim"]
    assert "기대한 값" in pages["kim"] and "✓ l1_loss: 검사" in pages["kim"]
    assert "expected:" in pages["alice"] and "✓ l1_loss: all" in pages["alice"]
    assert "기대한 값" not in pages["alice"]
