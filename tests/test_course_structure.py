"""Is every notebook's nbgrader metadata valid, and does every exercise have a reference,
a visible test cell and hidden cases, under one name?"""

import importlib

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from autograde import authoring, course, hidden

NOTEBOOKS = course.notebooks()
IDS = [nb.path.stem for nb in NOTEBOOKS]


def test_is_there_a_notebook_for_every_section_of_the_seed():
    assert {"01_network", "02_losses", "03_backprop", "04_update", "05_shapes"} <= set(course.assignments())


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_is_the_nbgrader_metadata_valid(nb):
    notebook = nbformat.read(nb.path, as_version=4)
    MetadataValidator().validate_nb(notebook)  # raises on a schema error
    graded = [course.nbgrader_meta(c) for c in notebook.cells if course.nbgrader_meta(c)]
    ids = [m["grade_id"] for m in graded]
    assert len(ids) == len(set(ids)), "grade ids must be unique within a notebook"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_every_exercise_have_a_test_cell_with_points_right_after_it(nb):
    notebook = nbformat.read(nb.path, as_version=4)
    cells = notebook.cells
    for i, cell in enumerate(cells):
        meta = course.nbgrader_meta(cell)
        if meta.get("solution") and not meta.get("grade"):
            test = course.nbgrader_meta(cells[i + 1])
            assert test.get("grade_id") == f"test_{meta['grade_id']}"
            assert test.get("grade") and test.get("locked") and test.get("points", 0) > 0
            assert "### BEGIN HIDDEN TESTS" in cells[i + 1].source
            assert f"hidden.check({meta['grade_id']!r}, {meta['grade_id']})" in cells[i + 1].source


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_every_exercise_name_exist_in_the_reference_package(nb):
    module = importlib.import_module(nb.reference)
    assert nb.reference.startswith("solutions.")
    for exercise in nb.exercises:
        assert hasattr(module, exercise.name), f"{nb.reference} has no {exercise.name}"
        assert exercise.name in hidden.CASES, f"no hidden cases for {exercise.name}"


def test_are_exercise_names_unique_across_the_course():
    names = [e.name for nb in NOTEBOOKS if nb.lang == "en" for e in nb.exercises]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_is_every_solution_cell_the_reference_code_exactly(nb):
    """One source of truth: `python -m autograde sync` copies solutions/ into the notebooks."""
    notebook = nbformat.read(nb.path, as_version=4)
    for cell in authoring.solution_cells(notebook):
        name = course.nbgrader_meta(cell)["grade_id"]
        assert cell.source == authoring.reference_source(nb.reference, name), (
            f"{nb.path.name}: solution cell {name} differs from {nb.reference}; run `make sync`"
        )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_is_the_committed_notebook_clean(nb):
    """Notebooks are source code: no timestamps, widget state or stray metadata."""
    notebook = nbformat.read(nb.path, as_version=4)
    assert "widgets" not in notebook.metadata
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        assert set(cell.metadata) <= authoring.KEEP_CELL_METADATA, cell.metadata
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{nb.path.name} holds an error output"
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text
