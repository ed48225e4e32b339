"""Reading submissions and repairing their structure before grading (autograde/repair.py).

The learner notebooks are built from the real student copy of each course notebook (as nbgrader
releases it) and the reference solutions in the source notebooks' solution cells.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
import random
from pathlib import Path

import nbformat
import pytest

from autograde import editions
from autograde.repair import (
    SubmissionError,
    edition_of,
    find_notebook,
    load_submission,
    repair,
    solution_stub,
    strip_hidden_tests,
)
from autograde.workspace import STUBS, stub_for, student_copy

NOTEBOOKS = [(edition, nb.path) for edition in editions.EDITIONS for nb in editions.notebooks(edition)]
LOSSES = editions.EDITIONS["en"] / "02_losses" / "02_losses.ipynb"
MSE_CODE = "def mse_loss(output, target):\n    return ((output - target) ** 2).mean()"
L1_CODE = "def l1_loss(output, target):\n    return (output - target).abs().mean()"
CE_CODE = "def cross_entropy(logits, labels):\n    return -(logits.log_softmax(1)[range(len(labels)), labels]).mean()"


# --- notebooks to work on ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict[Path, Path]:
    """Source notebook -> its student copy, for both editions (nbgrader's release, run once)."""
    copies = {}
    for edition, source in editions.EDITIONS.items():
        dest = tmp_path_factory.mktemp(f"student-{edition}")
        student_copy(dest, source=source)
        for nb in editions.notebooks(edition):
            copies[nb.path] = dest / nb.path.parent.name / nb.path.name
    return copies


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def index(nb, grade_id: str) -> int:
    """Position of the cell with this grade id (exactly one must exist)."""
    found = [i for i, c in enumerate(nb.cells) if meta(c).get("grade_id") == grade_id]
    assert len(found) == 1, f"{grade_id} appears {len(found)} times"
    return found[0]


def source_of(nb, grade_id: str) -> str:
    return nb.cells[index(nb, grade_id)].source


def reference(template) -> dict[str, str]:
    """Exercise -> the reference solution code of a source notebook (without the solution markers)."""
    return {
        meta(c)["grade_id"]: "\n".join(line for line in c.source.split("\n") if "SOLUTION" not in line)
        for c in template.cells
        if meta(c).get("solution")
    }


def lines(nb) -> set[str]:
    return {line.strip() for cell in nb.cells for line in cell.source.split("\n") if line.strip()}


def revealed(out, template, student) -> set[str]:
    """Lines of the reference solution (inside ``### BEGIN SOLUTION``) that the student copy lacks but ``out`` has."""
    secret, inside = set(), False
    for cell in template.cells:
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and line.strip():
                secret.add(line.strip())
    return (secret - lines(student)) & lines(out)


def submission(student, answers: dict[str, str]):
    """The student copy with some exercises answered."""
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in answers:
            cell.source = answers[meta(cell)["grade_id"]]
    return nb


def strip(nb, ids: bool = True):
    """What some editors hand back: every cell's metadata gone, and the cell ids too."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode()
        if ids:
            cell.pop("id", None)
    if ids:
        nb.nbformat_minor = 4
    return nb


def with_hidden_tests(student, template):
    """The student copy as nbgrader grades it: locked cells carry the source's hidden tests."""
    nb = copy.deepcopy(student)
    for cell, source in zip(nb.cells, template.cells):
        if meta(source).get("locked"):
            cell.source = source.source
    return nb


def to_markdown(nb, grade_id: str):
    """The notebook with one cell's type changed to markdown (JupyterLab keeps its id and metadata)."""
    nb = copy.deepcopy(nb)
    at = index(nb, grade_id)
    cell = nb.cells[at]
    nb.cells[at] = nbformat.v4.new_markdown_cell(cell.source, id=cell.id, metadata=cell.metadata)
    return nb


def assert_gradable(out, template) -> None:
    """Every grade cell of the template exactly once, in order, with the template's nbgrader metadata."""
    nbformat.validate(out)
    identity = ("grade_id", "grade", "solution", "locked", "points")
    expected = [{k: meta(c).get(k) for k in identity} for c in template.cells if meta(c)]
    got = [{k: meta(c).get(k) for k in identity} for c in out.cells if meta(c)]
    assert got == expected
    ids = [c.id for c in out.cells]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def losses(released):
    """(template, student copy) of notebook 2 in English."""
    return read(LOSSES), read(released[LOSSES])


@pytest.fixture
def answered(losses):
    """Notebook 2 with all three exercises answered in the learner's own words."""
    template, student = losses
    return submission(student, {"mse_loss": MSE_CODE, "l1_loss": L1_CODE, "cross_entropy": CE_CODE})


# --- nothing to repair, and the whole course end to end -------------------------------------------


@pytest.mark.parametrize("edition, path", NOTEBOOKS, ids=[f"{e}-{p.stem}" for e, p in NOTEBOOKS])
def test_untouched_student_copy_needs_no_repair_and_reveals_no_solution(released, edition, path):
    template, student = read(path), read(released[path])
    result = repair(student, template)
    assert result.notes == []
    assert result.notebook.cells == with_hidden_tests(student, template).cells
    assert revealed(result.notebook, template, student) == set()


@pytest.mark.parametrize("edition, path", NOTEBOOKS, ids=[f"{e}-{p.stem}" for e, p in NOTEBOOKS])
def test_reference_submission_stripped_and_shuffled_is_rebuilt(released, edition, path):
    template, student = read(path), read(released[path])
    solutions = reference(template)
    learner = strip(submission(student, solutions))
    random.Random(path.stem).shuffle(learner.cells)
    result = repair(learner, template)
    assert {g: source_of(result.notebook, g) for g in solutions} == solutions
    assert_gradable(result.notebook, template)
    assert result.found_by_code == list(solutions)
    assert result.notes == [
        f"cell metadata was missing; found {', '.join(solutions)} by their code",
        "cells were out of order; put back in the order of the source",
    ]
    assert result.inserted == [] and result.edited_locked == []


def test_answered_notebook_needs_no_repair(losses, answered):
    template, _ = losses
    result = repair(answered, template)
    assert result.notes == []
    assert result.notebook.cells == with_hidden_tests(answered, template).cells


def test_inputs_are_not_modified(losses, answered):
    template, _ = losses
    learner = strip(answered)
    learner.cells.reverse()
    before = (copy.deepcopy(learner), copy.deepcopy(template))
    repair(learner, template)
    assert (learner, template) == before


def test_stub_matches_nbgrader_release(released):
    """The untouched-stub test relies on rebuilding the released solution cell from its source."""
    for path, copy_path in released.items():
        student = {c.id: c.source for c in read(copy_path).cells}
        source = read(path)
        for cell in source.cells:
            if meta(cell).get("solution"):
                assert solution_stub(cell.source, stub_for(source.metadata["course"]["lang"])) == student[cell.id]
            if meta(cell).get("locked"):
                assert strip_hidden_tests(cell.source).rstrip() == student[cell.id].rstrip()


# --- lost or shuffled structure ------------------------------------------------------------------


def test_stripped_metadata_and_ids(losses, answered):
    template, _ = losses
    result = repair(strip(answered), template)
    assert [source_of(result.notebook, g) for g in ("mse_loss", "l1_loss", "cross_entropy")] == [MSE_CODE, L1_CODE, CE_CODE]
    assert result.notes == ["cell metadata was missing; found mse_loss, l1_loss, cross_entropy by their code"]
    assert [c.id for c in result.notebook.cells] == [c.id for c in template.cells]
    assert_gradable(result.notebook, template)


def test_stripped_nbgrader_metadata_with_ids_kept(losses, answered):
    template, _ = losses
    result = repair(strip(answered, ids=False), template)
    assert source_of(result.notebook, "l1_loss") == L1_CODE
    assert result.found_by_id == ["mse_loss", "l1_loss", "cross_entropy"]
    assert result.notes == ["cell metadata was missing; found mse_loss, l1_loss, cross_entropy by their cell ids"]
    assert_gradable(result.notebook, template)


def test_reordered_cells(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    ce = learner.cells.pop(index(learner, "cross_entropy"))
    learner.cells.insert(0, ce)
    t1, t2 = index(learner, "test_mse_loss"), index(learner, "test_l1_loss")
    learner.cells[t1], learner.cells[t2] = learner.cells[t2], learner.cells[t1]
    result = repair(learner, template)
    assert result.notes == ["cells were out of order; put back in the order of the source"]
    assert result.notebook.cells == with_hidden_tests(answered, template).cells


def test_inserted_cells_stay_after_the_preceding_cell(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    helper = nbformat.v4.new_code_cell("def squared(d):\n    return d ** 2", id="my-helper")
    note = nbformat.v4.new_markdown_cell("My note: MSE squares the error.", id="my-note")
    first = nbformat.v4.new_code_cell("print('hello')", id="first")
    learner.cells.insert(index(learner, "mse_loss") + 1, helper)
    learner.cells.insert(index(learner, "mse_loss") + 2, note)
    learner.cells.insert(0, first)
    result = repair(learner, template)
    out = result.notebook
    assert result.notes == []
    assert out.cells[0].id == "first"
    mse = index(out, "mse_loss")
    assert [c.id for c in out.cells[mse + 1 : mse + 3]] == ["my-helper", "my-note"]
    assert out.cells[mse + 3].id == template.cells[index(template, "test_mse_loss")].id
    assert result.inserted == [0, index(learner, "mse_loss") + 1, index(learner, "mse_loss") + 2]
    assert_gradable(out, template)


def test_duplicated_solution_cell_keeps_the_last_written_one(losses, answered):
    template, student = losses
    learner = copy.deepcopy(answered)
    at = index(learner, "mse_loss")
    stub = copy.deepcopy(student.cells[index(student, "mse_loss")])
    stub.id = "copy-of-mse"  # Jupyter's "duplicate cell": same metadata, new id
    learner.cells.insert(at + 1, stub)
    result = repair(learner, template)
    assert source_of(result.notebook, "mse_loss") == MSE_CODE
    assert result.duplicates == ["mse_loss"]
    assert result.notes == ["mse_loss appeared in 2 cells; graded the last one that is not the stub"]
    assert "copy-of-mse" not in [c.id for c in result.notebook.cells]
    assert_gradable(result.notebook, template)


def test_does_each_edition_release_the_stub_in_its_own_language(released):
    for path, copy_path in released.items():
        lang = read(path).metadata["course"]["lang"]
        cells = [c.source for c in read(copy_path).cells if meta(c).get("solution")]
        assert cells and all(STUBS[lang].splitlines()[0] in c for c in cells), path
        other = STUBS["ko" if lang == "en" else "en"].splitlines()[0]
        assert not any(other in c for c in cells), path


@pytest.mark.parametrize("edition", ["ko", "en"])
def test_is_an_untouched_korean_stub_recognised_as_the_stub(released, edition):
    """Regression: a duplicated Korean stub after the learner's answer counted as written code, and was graded
    instead of the answer. It is recognised in either edition's template (a learner may open the other one)."""
    korean_student = read(released[editions.EDITIONS["ko"] / LOSSES.relative_to(editions.EDITIONS["en"])])
    template = read(LOSSES if edition == "en" else editions.EDITIONS["ko"] / LOSSES.relative_to(editions.EDITIONS["en"]))
    learner = submission(korean_student, {"mse_loss": MSE_CODE})
    stub = copy.deepcopy(korean_student.cells[index(korean_student, "mse_loss")])
    assert "# 여기에 코드를 작성하세요" in stub.source
    stub.id = "copy-of-mse"
    learner.cells.insert(index(learner, "mse_loss") + 1, stub)
    result = repair(learner, template)
    assert source_of(result.notebook, "mse_loss") == MSE_CODE
    assert result.notes == ["mse_loss appeared in 2 cells; graded the last one that is not the stub"]
    untouched = repair(strip(korean_student), template)  # no metadata: found by its code, kept as the stub
    assert source_of(untouched.notebook, "l1_loss") == source_of(korean_student, "l1_loss")
    assert untouched.missing == [] and revealed(untouched.notebook, template, korean_student) == set()


def test_is_an_untouched_korean_stub_not_attempted_in_the_class_report(released):
    """The class report tells an untouched exercise by its tokens, comments aside: the Korean stub is the released one."""
    from autograde import graded_class, similarity

    korean = [(path, copy_path) for path, copy_path in released.items() if path.is_relative_to(editions.EDITIONS["ko"])]
    assert korean
    for path, copy_path in korean:
        student = {c.id: c.source for c in read(copy_path).cells}
        for cell in read(path).cells:
            if meta(cell).get("solution"):
                assert "# 여기에 코드를 작성하세요" in student[cell.id]
                assert similarity.normalise(student[cell.id]) == similarity.normalise(graded_class.released_cell(cell.source))


def test_duplicated_solution_cell_two_attempts_grades_the_last(losses, answered):
    template, _ = losses
    learner = strip(answered)
    second = "def mse_loss(output, target):\n    return torch.mean((output - target) ** 2)"
    learner.cells.append(nbformat.v4.new_code_cell(second))
    result = repair(learner, template)
    assert source_of(result.notebook, "mse_loss") == second
    assert sum(MSE_CODE in c.source for c in result.notebook.cells) == 0
    assert "mse_loss appeared in 2 cells; graded the last one that is not the stub" in result.notes


def test_solution_turned_into_markdown(losses, answered):
    template, _ = losses
    result = repair(to_markdown(answered, "cross_entropy"), template)
    out = result.notebook.cells[index(result.notebook, "cross_entropy")]
    assert (out.cell_type, out.source) == ("code", CE_CODE)
    assert result.markdown_solutions == ["cross_entropy"]
    assert result.notes == ["the solution for cross_entropy was a markdown cell; graded as code"]
    assert_gradable(result.notebook, template)


def test_prose_in_a_copy_of_a_solution_cell_is_kept_ungraded(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    at = index(learner, "mse_loss")
    notes = nbformat.v4.new_markdown_cell("Note to self: the mean of the squares.", metadata=learner.cells[at].metadata)
    learner.cells.insert(at + 1, notes)
    result = repair(learner, template)
    assert result.notes == []
    kept = result.notebook.cells[index(result.notebook, "mse_loss") + 1]
    assert (kept.cell_type, kept.source) == ("markdown", notes.source)
    assert "nbgrader" not in kept.metadata
    assert_gradable(result.notebook, template)


def test_solution_in_a_fenced_markdown_cell_without_metadata(losses, answered):
    template, _ = losses
    learner = strip(answered)
    at = next(i for i, c in enumerate(learner.cells) if c.source == L1_CODE)
    learner.cells[at] = nbformat.v4.new_markdown_cell(f"My answer:\n```python\n{L1_CODE}\n```")
    result = repair(learner, template)
    assert source_of(result.notebook, "l1_loss") == L1_CODE
    assert "the solution for l1_loss was a markdown cell; graded as code" in result.notes


def test_deleted_test_cell_is_restored(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    del learner.cells[index(learner, "test_l1_loss")]
    result = repair(learner, template)
    assert source_of(result.notebook, "test_l1_loss") == source_of(template, "test_l1_loss")
    assert result.edited_locked == result.deleted_locked == ["test_l1_loss"]
    assert result.notes == ["test cell test_l1_loss was deleted; restored from the source"]
    assert_gradable(result.notebook, template)


def test_edited_test_cell_is_restored(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    learner.cells[index(learner, "test_mse_loss")].source = "check = Checker('mse_loss')\ncheck.done()"
    result = repair(learner, template)
    assert source_of(result.notebook, "test_mse_loss") == source_of(template, "test_mse_loss")
    assert result.edited_locked == ["test_mse_loss"] and result.deleted_locked == []
    assert result.notes == ["test cell test_mse_loss was edited; restored from the source"]


def test_test_cell_turned_into_markdown_is_restored(losses, answered):
    template, _ = losses
    result = repair(to_markdown(answered, "test_l1_loss"), template)
    restored = result.notebook.cells[index(result.notebook, "test_l1_loss")]
    assert (restored.cell_type, restored.source) == ("code", source_of(template, "test_l1_loss"))
    assert result.notes == ["test cell test_l1_loss was edited; restored from the source"]


def test_edited_test_cell_without_metadata_or_id_is_kept_as_the_learners_own(losses, answered):
    template, _ = losses
    learner = strip(answered)
    at = next(i for i, c in enumerate(learner.cells) if c.source.startswith('check = Checker("mse_loss")'))
    learner.cells[at].source = "print('all good')"
    result = repair(learner, template)
    assert source_of(result.notebook, "test_mse_loss") == source_of(template, "test_mse_loss")
    assert "print('all good')" in [c.source for c in result.notebook.cells]
    assert result.inserted == [at]
    assert result.notes == [
        "cell metadata was missing; found mse_loss, l1_loss, cross_entropy by their code",
        "test cell test_mse_loss was deleted; restored from the source",
    ]
    assert_gradable(result.notebook, template)


def test_duplicated_test_cell_is_kept_once(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    at = index(learner, "test_mse_loss")
    twin = copy.deepcopy(learner.cells[at])
    twin.id = "twin"
    learner.cells.insert(at + 1, twin)
    result = repair(learner, template)
    assert result.notes == ["test cell test_mse_loss appeared in 2 cells; kept one copy of the source"]
    assert_gradable(result.notebook, template)


def test_kernel_is_the_courses(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    learner.metadata["kernelspec"] = {"name": "my-venv", "display_name": "my venv", "language": "python"}
    learner.metadata["vscode"] = {"interpreter": "x"}
    out = repair(learner, template).notebook
    assert out.metadata.kernelspec == template.metadata.kernelspec
    assert out.metadata.vscode == {"interpreter": "x"}


def test_trailing_whitespace_in_a_test_cell_is_not_an_edit(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    cell = learner.cells[index(learner, "test_mse_loss")]
    cell.source = "\n".join(line + "  " for line in cell.source.split("\n")) + "\n\n"
    result = repair(learner, template)
    assert result.notes == [] and result.edited_locked == []


def test_edited_setup_cell_is_restored(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    learner.cells[index(learner, "setup")].source += "\nimport builtins"
    result = repair(learner, template)
    assert source_of(result.notebook, "setup") == source_of(template, "setup")
    assert result.notes == ["locked cell setup was edited; restored from the source"]


def test_merged_cells_defining_two_exercises(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    merged = MSE_CODE + "\n\n" + L1_CODE
    learner.cells[index(learner, "mse_loss")].source = merged
    del learner.cells[index(learner, "l1_loss")]
    result = repair(learner, template)
    assert source_of(result.notebook, "mse_loss") == merged
    assert source_of(result.notebook, "l1_loss") == ""
    assert result.defined_elsewhere == {"l1_loss": "mse_loss"}
    assert result.notes == ["l1_loss is defined in the cell of mse_loss; its own cell is left empty"]
    assert_gradable(result.notebook, template)


def test_merged_cells_without_metadata_and_the_leftover_stub(losses):
    template, student = losses
    merged = MSE_CODE + "\n\n" + L1_CODE
    learner = strip(submission(student, {"mse_loss": merged}))
    result = repair(learner, template)
    assert source_of(result.notebook, "mse_loss") == merged
    assert source_of(result.notebook, "l1_loss") == ""  # the stub would undo the merged definition
    assert result.notes == [
        "l1_loss is defined in the cell of mse_loss; its own cell is left empty",
        "cell metadata was missing; found mse_loss, cross_entropy by their code",
    ]


def test_helper_cell_and_solution_cell_without_metadata(losses):
    template, student = losses
    helper = "def squared_error(output, target):\n    return (output - target) ** 2"
    solution = "def mse_loss(output, target):\n    return squared_error(output, target).mean()"
    learner = submission(student, {"mse_loss": solution})
    learner.cells.insert(index(learner, "mse_loss"), nbformat.v4.new_code_cell(helper))
    result = repair(strip(learner), template)
    out = result.notebook
    at = index(out, "mse_loss")
    assert (out.cells[at - 1].source, out.cells[at].source) == (helper, solution)
    assert out.cells[at - 2] == template.cells[index(template, "mse_loss") - 1]  # the exercise's markdown
    assert result.inserted == [index(learner, "mse_loss") - 1]
    assert_gradable(out, template)


@pytest.mark.parametrize("stripped", [False, True], ids=["metadata", "stripped"])
def test_deleted_exercise_gets_an_empty_cell_never_the_reference(losses, stripped):
    template, student = losses
    learner = copy.deepcopy(student)
    del learner.cells[index(learner, "cross_entropy")]
    result = repair(strip(learner) if stripped else learner, template)
    assert source_of(result.notebook, "cross_entropy") == ""
    assert result.missing == ["cross_entropy"]
    assert result.notes[0] == "no code found for cross_entropy; its cell is left empty"
    assert revealed(result.notebook, template, student) == set()


def test_untouched_stub_without_metadata_stays_the_stub(losses):
    template, student = losses
    result = repair(strip(student), template)
    assert source_of(result.notebook, "l1_loss") == source_of(student, "l1_loss")
    assert result.missing == []
    assert revealed(result.notebook, template, student) == set()


def test_deleted_example_cell_is_restored(losses, answered):
    template, _ = losses
    learner = copy.deepcopy(answered)
    example = next(i for i, c in enumerate(learner.cells) if c.source.startswith("net = Net()"))
    del learner.cells[example]
    result = repair(learner, template)
    assert result.notebook.cells[example].source == template.cells[example].source
    assert result.notes == ["the code cell `net = Net()` was missing; restored from the source"]


@pytest.mark.parametrize("edition, path", NOTEBOOKS[:1] + NOTEBOOKS[-1:], ids=["en", "ko"])
def test_edition_of(edition, path):
    nb = read(path)
    assert edition_of(nb) == edition
    del nb.metadata["course"]
    assert edition_of(nb) == edition


# --- reading submitted files ---------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_load_reads_a_notebook_and_leaves_the_file_untouched(tmp_path, released):
    path = write(tmp_path, "02_losses.ipynb", released[LOSSES].read_bytes())
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    loaded = load_submission(path)
    assert loaded.notebook == read(released[LOSSES])
    assert loaded.notes == []
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_load_upgrades_nbformat_3(tmp_path):
    v3 = nbformat.v3
    cells = [v3.new_code_cell(input=MSE_CODE), v3.new_text_cell("markdown", "# hi")]
    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])
    path = write(tmp_path, "02_losses.ipynb", v3.writes_json(old))
    loaded = load_submission(path)
    assert loaded.notes == ["converted from nbformat 3"]
    assert loaded.notebook.nbformat == 4
    assert [(c.cell_type, c.source) for c in loaded.notebook.cells] == [("code", MSE_CODE), ("markdown", "# hi")]


def test_load_accepts_cells_whose_metadata_and_ids_were_stripped(tmp_path, released):
    data = json.loads(released[LOSSES].read_text())
    for cell in data["cells"]:
        del cell["metadata"], cell["id"]
        cell.pop("outputs", None)
    loaded = load_submission(write(tmp_path, "a.ipynb", json.dumps(data)))
    assert [c.source for c in loaded.notebook.cells] == [c.source for c in read(released[LOSSES]).cells]
    assert all(c.metadata == {} for c in loaded.notebook.cells)


def refused(path: Path, **kwargs) -> str:
    with pytest.raises(SubmissionError) as error:
        load_submission(path, **kwargs)
    return str(error.value)


def test_load_refuses_an_empty_file(tmp_path):
    assert refused(write(tmp_path, "a.ipynb", "")) == "a.ipynb is empty (0 bytes)"


def test_load_refuses_text_that_is_not_json(tmp_path):
    message = refused(write(tmp_path, "a.ipynb", "<html>notebook</html>"))
    assert message == "a.ipynb is not valid JSON (line 1, column 1: Expecting value), so it is not a notebook"


def test_load_refuses_truncated_json(tmp_path, released):
    text = released[LOSSES].read_text()
    cut = text[: len(text) // 2]
    message = refused(write(tmp_path, "a.ipynb", cut))
    assert message == (
        f"a.ipynb is truncated: its JSON ends early, after {len(cut.encode())} bytes, as if saving or uploading it was cut off"
    )


def test_load_refuses_a_binary_file(tmp_path):
    message = refused(write(tmp_path, "a.ipynb", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"))
    assert message == "a.ipynb is not a text file, so not a notebook (notebooks are UTF-8 JSON)"


def test_load_refuses_python_code_saved_as_ipynb(tmp_path):
    message = refused(write(tmp_path, "a.ipynb", MSE_CODE))
    assert message == "a.ipynb holds Python code, not a notebook: hand in the .ipynb file saved by Jupyter"


def test_load_refuses_a_py_file(tmp_path):
    message = refused(write(tmp_path, "02_losses.py", MSE_CODE))
    assert message == "02_losses.py is a Python file (.py), not a notebook: hand in the .ipynb file saved by Jupyter"


@pytest.mark.parametrize(
    "data, why",
    [("[1, 2]", "it holds a list, not an object with cells"), ('{"metadata": {}}', "it has no cells")],
    ids=["list", "no-cells"],
)
def test_load_refuses_json_that_is_not_a_notebook(tmp_path, data, why):
    assert refused(write(tmp_path, "a.ipynb", data)) == f"a.ipynb is JSON but not a notebook: {why}"


@pytest.mark.parametrize(
    "data, why",
    [
        ({"nbformat": 99, "nbformat_minor": 0, "metadata": {}, "cells": []}, " (nbformat 99): Unsupported nbformat version 99"),
        (
            {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "widget"}]},
            ": cell 1 is not a notebook cell",
        ),
        (
            {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 7}]},
            ": cell 1 has no text",
        ),
    ],
    ids=["version", "cell", "source"],
)
def test_load_refuses_what_nbformat_cannot_read(tmp_path, data, why):
    message = refused(write(tmp_path, "a.ipynb", json.dumps(data)))
    assert message == f"a.ipynb could not be read as a notebook{why}"


def test_load_refuses_a_huge_file_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "02_losses.ipynb"
    with path.open("wb") as f:
        f.truncate(100 * 2**20)  # sparse: 100 MB of outputs, as far as the size says

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was read")

    for method in ("read_bytes", "read_text", "open"):
        monkeypatch.setattr(Path, method, no_reading)
    monkeypatch.setattr(builtins, "open", no_reading)
    monkeypatch.setattr(os, "open", no_reading)
    message = refused(path)
    assert message == (
        "02_losses.ipynb is 100 MB, over the 20 MB limit: clear its outputs "
        "(Edit > Clear Outputs of All Cells), save it and hand it in again"
    )


def test_load_size_limit_is_configurable(tmp_path, released):
    path = write(tmp_path, "a.ipynb", released[LOSSES].read_bytes())
    limit = path.stat().st_size - 1
    assert "over the" in refused(path, max_bytes=limit)
    assert load_submission(path, max_bytes=limit + 1).notes == []


def test_load_refuses_a_missing_file(tmp_path):
    assert refused(tmp_path / "a.ipynb") == "a.ipynb was not found"


# --- finding the submitted notebook ----------------------------------------------------------------


def test_find_notebook_returns_the_expected_file(tmp_path):
    path = write(tmp_path, "02_losses.ipynb", "{}")
    assert find_notebook(tmp_path, "02_losses") == (path, None)


def test_find_notebook_names_what_is_there(tmp_path):
    write(tmp_path, "02_losses (1).ipynb", "{}")
    write(tmp_path, "02_losses.py", "")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    assert find_notebook(tmp_path, "02_losses") == (None, "expected 02_losses.ipynb; found 02_losses (1).ipynb, 02_losses.py")


def test_find_notebook_in_an_empty_or_missing_folder(tmp_path):
    assert find_notebook(tmp_path, "02_losses") == (None, "expected 02_losses.ipynb; the folder is empty")
    assert find_notebook(tmp_path / "alice", "02_losses") == (None, "expected 02_losses.ipynb; there is no folder alice")
