"""Where in the learner's own cells an error happened, for a check's message.

A check calls learner code from a test cell (or from the hidden tests). When that code raises, the
traceback runs through the grader, through torch and through the learner's cells; only the last
of the learner's lines helps them. A frame is the learner's when IPython compiled its code from a
notebook cell, and that cell is not one running right now (the test cell that called the check).
"""

from __future__ import annotations

import linecache
import sys
from dataclasses import dataclass
from types import FrameType, TracebackType


@dataclass(frozen=True)
class CellLine:
    """One line of a notebook cell: its number in the cell and its code."""

    line: int
    code: str


def _cell_files() -> set[str] | None:
    """The file names IPython gave the cells it ran, or None outside IPython."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    compiler = getattr(shell, "compile", None)
    names = getattr(compiler, "_filename_map", None)
    return set(names) if isinstance(names, dict) else None


def _running_files(frame: FrameType | None) -> set[str]:
    """The files of every frame on the stack from ``frame`` outwards (the cells running now)."""
    files = set()
    while frame is not None:
        files.add(frame.f_code.co_filename)
        frame = frame.f_back
    return files


def last_learner_line(error: BaseException, caller: FrameType | None = None) -> CellLine | None:
    """The last line of ``error``'s traceback that is in a learner's cell, if any.

    ``caller`` is the frame that called the learner's code (its cell is the test, not the learner's).
    """
    cells = _cell_files()
    if not cells:
        return None
    running = _running_files(caller if caller is not None else sys._getframe(1))
    found = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in cells and filename not in running:
            found = CellLine(tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip())
        tb = tb.tb_next
    return found
