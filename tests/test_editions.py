"""Is the Korean edition the English course with Korean prose: identical code cells, nbgrader
metadata, outputs and points, Korean markdown, and does it pass nbgrader's validate both ways?"""

import re

import nbformat
import pytest
from nbgrader.validator import Validator

from autograde import course, editions
from autograde.workspace import Workspace, release

HANGUL = re.compile(r"[\uac00-\ud7a3]")
EN = editions.notebooks("en")
KO = editions.notebooks("ko")
KO_BY_PATH = {nb.path.relative_to(editions.EDITIONS["ko"]): nb for nb in KO}
EN_BY_PATH = {nb.path.relative_to(editions.EDITIONS["en"]): nb for nb in EN}
PAIRS = [(EN_BY_PATH[path], nb) for path, nb in KO_BY_PATH.items() if path in EN_BY_PATH]
IDS = [ko.path.stem for _, ko in PAIRS]
KO_IDS = [nb.path.stem for nb in KO]


def code_view(cell: nbformat.NotebookNode) -> dict:
    """What must not differ between editions: everything of a code cell, the layout of any cell."""
    meta = cell.get("metadata", {})
    view = {"type": cell.cell_type, "nbgrader": course.nbgrader_meta(cell), "tags": meta.get("tags", [])}
    if cell.cell_type == "code":
        view.update(source=cell.source, metadata=dict(meta), outputs=cell.get("outputs", []),
                    execution_count=cell.get("execution_count"))
    return view


def test_does_every_korean_notebook_translate_an_english_one():
    assert len(PAIRS) == len(KO) >= 5
    assert [en.assignment for en, _ in PAIRS] == [ko.assignment for ko in KO]


@pytest.mark.parametrize("en", EN, ids=[nb.path.stem for nb in EN])
def test_does_every_english_notebook_have_a_korean_edition(en):
    if en.path.relative_to(editions.EDITIONS["en"]) not in KO_BY_PATH:
        pytest.xfail(f"{en.path.name} has no Korean edition in notebooks-ko/ yet")


@pytest.mark.parametrize(("en", "ko"), PAIRS, ids=IDS)
def test_are_the_code_cells_identical_and_the_markdown_korean(en, ko):
    en_nb, ko_nb = nbformat.read(en.path, as_version=4), nbformat.read(ko.path, as_version=4)
    assert [code_view(c) for c in ko_nb.cells] == [code_view(c) for c in en_nb.cells]
    for en_cell, ko_cell in zip(en_nb.cells, ko_nb.cells, strict=True):
        if en_cell.cell_type == "markdown":
            assert ko_cell.source != en_cell.source
            assert HANGUL.search(ko_cell.source), f"not Korean: {ko_cell.source[:80]!r}"
    assert {k: v for k, v in ko_nb.metadata.items() if k != "course"} == \
        {k: v for k, v in en_nb.metadata.items() if k != "course"}


@pytest.mark.parametrize(("en", "ko"), PAIRS, ids=IDS)
def test_does_the_korean_edition_say_ko_and_keep_exercises_and_points(en, ko):
    assert (en.lang, ko.lang) == ("en", "ko")
    assert (ko.assignment, ko.reference) == (en.assignment, en.reference)
    assert ko.exercises == en.exercises and ko.points == en.points > 0


@pytest.fixture(scope="module")
def korean_released(tmp_path_factory):
    """A scratch workspace with the Korean edition as its source, every assignment released."""
    ws = Workspace(root=tmp_path_factory.mktemp("korean-course"), source=editions.EDITIONS["ko"])
    release(ws)
    return ws


@pytest.fixture
def korean_kernels(monkeypatch):
    """Kernels started by the validator inherit COURSE_LANG=ko, as a Korean learner's would."""
    monkeypatch.setenv("COURSE_LANG", "ko")


@pytest.mark.slow
@pytest.mark.parametrize("nb", KO, ids=KO_IDS)
def test_does_the_korean_source_notebook_pass_every_graded_cell(nb, korean_released, korean_kernels):
    results = Validator(config=korean_released.config()).validate(str(nb.path))
    assert not results.get("failed") and not results.get("changed") and not results.get("type_changed"), results


@pytest.mark.slow
@pytest.mark.parametrize("nb", KO, ids=KO_IDS)
def test_does_the_untouched_korean_student_copy_fail_every_graded_cell(nb, korean_released, korean_kernels):
    student = korean_released.path("release", nb.assignment, nb.path.name)
    results = Validator(config=korean_released.config(), invert=True).validate(str(student))
    assert not results.get("passed"), f"graded cells that pass without any work: {results.get('passed')}"
    copy = nbformat.read(student, as_version=4)
    assert copy.metadata["course"]["lang"] == "ko"
    assert len([c for c in copy.cells if course.nbgrader_meta(c).get("grade")]) == len(nb.exercises) > 0
    assert any(HANGUL.search(c.source) for c in copy.cells if c.cell_type == "markdown")
