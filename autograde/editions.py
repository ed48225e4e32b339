"""The course's editions: the same notebooks, code and points, with the prose in one language.

Each edition is a folder of nbgrader source notebooks; their code cells, nbgrader metadata and
outputs are identical, only the markdown cells (and ``metadata.course.lang``) differ.
"""

from __future__ import annotations

from pathlib import Path

from autograde import course

EDITIONS: dict[str, Path] = {
    "en": course.REPO / "notebooks",
    "ko": course.REPO / "notebooks-ko",
}


def notebooks(edition: str) -> list[course.Notebook]:
    """The source notebooks of one edition, in assignment order."""
    if edition not in EDITIONS:
        raise ValueError(f"no such edition: {edition} (known: {', '.join(EDITIONS)})")
    return course.notebooks(EDITIONS[edition])
