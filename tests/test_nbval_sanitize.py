"""Does nbval compare every stored notebook output, hiding only the numbers that depend on the
processor or the clock? The sanitizers are in tests/nbval_sanitize.cfg, each with the cells it is
for and why; nothing is left out of the comparison wholesale."""

import re
from pathlib import Path

import nbformat
import pytest
from sanitize import FILE, PATTERNS, compared, entries, sanitize

from autograde import editions

NOTEBOOKS = [nb.path for edition in editions.EDITIONS for nb in editions.notebooks(edition)]
IDS = [f"{path.parent.parent.name}/{path.stem}" for path in NOTEBOOKS]
CELLS = {path: [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"] for path in NOTEBOOKS}
ENTRIES = entries()


def test_does_nbval_use_the_sanitize_file(pytestconfig):
    assert Path(pytestconfig.getoption("nbval_sanitize_with")).resolve() == FILE


def test_does_nbval_read_every_entry_and_does_each_say_where_and_why():
    """nbval silently drops a regex whose replace line does not follow it; every entry must reach nbval."""
    assert PATTERNS == [(entry["regex"], entry["replace"]) for entry in ENTRIES.values()]
    assert len({regex for regex, _ in PATTERNS}) == len(PATTERNS)  # nbval keys them by regex
    assert all(entry.get("cells") and len(entry.get("why", "")) > 20 for entry in ENTRIES.values())


@pytest.mark.parametrize("name", list(ENTRIES))
def test_does_each_sanitizer_touch_exactly_the_cells_it_names_in_both_editions(name):
    entry = ENTRIES[name]
    touched = set()
    for path, cells in CELLS.items():
        for cell in cells:
            if any(re.search(entry["regex"], text) for text in compared(cell)):
                touched.add((path.parent.parent.name, f"{path.parent.name}/{cell.id}"))
    named = set(entry["cells"].split())
    assert touched == {(edition.name, cell) for edition in editions.EDITIONS.values() for cell in named}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_is_no_cell_left_out_of_the_output_comparison(path):
    """nbval's markers that skip a cell or ignore all its output; machine-dependent numbers go in the sanitize file."""
    markers = {"nbval-ignore-output", "nbval-skip"}
    for cell in CELLS[path]:
        assert not markers & set(cell.metadata.get("tags", [])), cell.id
        assert not re.match(r"\s*#\s*NBVAL_(IGNORE_OUTPUT|SKIP)", cell.source), cell.id


# What another processor prints in notebook 4 compares equal; a change beyond the last digit does not.
@pytest.mark.parametrize(("stored", "fresh", "equal"), [
    ("lr = 0.001: slow; the loss went from 1.04 to 0.979 (-5%) in 20 steps",
     "lr = 0.001: slow; the loss went from 1.04 to 0.978 (-5%) in 20 steps", True),
    ("lr = 0.001: slow; the loss went from 1.04 to 0.979 (-5%) in 20 steps",
     "lr = 0.001: slow; the loss went from 1.04 to 0.977 (-6%) in 20 steps", False),
    ("lr = 0.05: good; the loss went from 1.04 to 3.98e-07 in 20 steps",
     "lr = 0.05: good; the loss went from 1.04 to 3.99e-07 in 20 steps", True),
    ("lr = 0.05: good; the loss went from 1.04 to 3.98e-07 in 20 steps",
     "lr = 0.05: good; the loss went from 1.04 to 4.02e-07 in 20 steps", False),
    ("lr=1.5    1.04 10.7 5.4e+03 1.26e+31 inf ... nan", "lr=1.5    1.04 10.7 5.4e+03 1.27e+31 inf ... nan", True),
    ("lr=1.5    1.04 10.7 5.4e+03 1.26e+31 inf ... nan", "lr=1.5    1.04 10.7 5.4e+03 1.26e+31 1.9e+38 ... nan", False),
    ("lr=0.001  1.04 1.03 1.03 1.03 1.02 ... 1.01", "lr=0.001  1.04 1.03 1.03 1.03 1.02 ... 1.02", False),
])
def test_does_a_sanitizer_forgive_only_the_last_digit_that_varies(stored, fresh, equal):
    assert (sanitize(stored) == sanitize(fresh)) is equal
