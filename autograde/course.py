"""The course as the source notebooks describe it: assignments, notebooks and exercises.

The notebooks are the single source of truth for structure and points; this module only reads
them. Each source notebook's metadata names its assignment, its reference module in
``solutions`` and its language (``metadata.course``).
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

import nbformat

REPO = Path(__file__).resolve().parent.parent
SOURCE = Path(os.environ.get("COURSE_SOURCE", REPO / "notebooks"))


def hash_code(h, packages: tuple[str, ...] = ("autograde", "solutions")) -> None:
    """Feed the course's own code into the hash ``h``: each package's modules, by name and content."""
    for package in packages:
        for path in sorted((REPO / package).glob("*.py")):
            h.update(f"{package}/{path.name}".encode())
            h.update(path.read_bytes())


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: a solution cell named ``name`` and a test cell ``test_<name>``."""

    name: str
    points: float

    @property
    def test_id(self) -> str:
        return f"test_{self.name}"


@dataclass(frozen=True)
class Notebook:
    """One source notebook of an assignment."""

    path: Path
    assignment: str
    reference: str
    lang: str
    exercises: tuple[Exercise, ...]

    @property
    def name(self) -> str:
        """The notebook's name without ``.ipynb``, as nbgrader's gradebook knows it."""
        return self.path.stem

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)

    @cached_property
    def module(self) -> ModuleType:
        return importlib.import_module(self.reference)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    """The nbgrader metadata of a cell, or an empty dict."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def read_notebook(path: Path) -> Notebook:
    """Describe one source notebook from its metadata and cells."""
    nb = nbformat.read(path, as_version=4)
    info = nb.metadata.get("course", {})
    tests = {
        m["grade_id"]: float(m.get("points", 0))
        for c in nb.cells
        if (m := nbgrader_meta(c)).get("grade") and m.get("grade_id", "").startswith("test_")
    }
    exercises = tuple(
        Exercise(m["grade_id"], tests.get(f"test_{m['grade_id']}", 0.0))
        for c in nb.cells
        if (m := nbgrader_meta(c)).get("solution") and not m.get("grade")
    )
    return Notebook(
        path=path,
        assignment=info.get("assignment", path.parent.name),
        reference=info.get("reference", ""),
        lang=info.get("lang", "en"),
        exercises=exercises,
    )


def notebooks(source: Path | None = None) -> list[Notebook]:
    """Every source notebook of the course, in assignment order."""
    source = Path(source or SOURCE)
    return [_read_once(p, p.stat().st_mtime_ns) for p in sorted(source.glob("*/*.ipynb"))
            if ".ipynb_checkpoints" not in p.parts]


@functools.lru_cache(maxsize=256)
def _read_once(path: Path, mtime_ns: int) -> Notebook:
    """:func:`read_notebook`, parsed again only when the file changes (every command asks often)."""
    return read_notebook(path)


def assignments(source: Path | None = None) -> dict[str, list[Notebook]]:
    """Assignment id -> its notebooks."""
    result: dict[str, list[Notebook]] = {}
    for nb in notebooks(source):
        result.setdefault(nb.assignment, []).append(nb)
    return result
