"""Does every source notebook pass all its graded cells, and does the untouched student copy
fail every one of them (nbgrader's validate and validate --invert)? Does the student copy
hold no solution code and no hidden test?"""

import nbformat
import pytest
from nbgrader.validator import Validator

from autograde import authoring, course
from autograde.workspace import STUB

NOTEBOOKS = course.notebooks()
IDS = [nb.path.stem for nb in NOTEBOOKS]


def validator(ws, invert=False) -> Validator:
    return Validator(config=ws.config(), invert=invert)


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_the_source_notebook_pass_every_graded_cell(nb, released):
    results = validator(released).validate(str(nb.path))
    assert not results.get("failed") and not results.get("changed") and not results.get("type_changed"), results


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_the_untouched_student_copy_fail_every_graded_cell(nb, released, release_notebooks):
    results = validator(released, invert=True).validate(str(release_notebooks[nb.path]))
    assert not results.get("passed"), f"graded cells that pass without any work: {results.get('passed')}"
    notebook = nbformat.read(release_notebooks[nb.path], as_version=4)
    graded = [c for c in notebook.cells if course.nbgrader_meta(c).get("grade")]
    assert len(graded) == len(nb.exercises) > 0


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_the_student_copy_hold_no_solution_and_no_hidden_test(nb, release_notebooks):
    text = release_notebooks[nb.path].read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden.check", "from autograde import hidden"):
        assert marker not in text
    student = nbformat.read(release_notebooks[nb.path], as_version=4)
    for cell in authoring.solution_cells(student):
        name = course.nbgrader_meta(cell)["grade_id"]
        assert STUB.splitlines()[-1] in cell.source and "# YOUR CODE HERE" in cell.source
        reference = authoring.reference_source(nb.reference, name)
        body = reference.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        for line in body.splitlines():
            if len(line.strip()) > 12:
                assert line.strip() not in cell.source, f"{name}: solution line leaked: {line.strip()}"
    for cell in student.cells:
        assert not cell.get("outputs"), "the student copy starts without outputs"
