"""Grade many variants of one notebook cheaply, the way ``grade`` runs them.

A *case* is the source notebook with some solution cells replaced by other code (a released
stub, a mutant, a catalogued learner solution). Grading each case with ``grade`` would start a
fresh child and run the whole notebook every time; this module runs the cells the same way
(:func:`autograde.kernel.run_cells` in an IPython shell in a forked child of a warm process) but
shares work between cases:

- :func:`score_cases` forks one child per case and runs every code cell up to the notebook's last
  test cell (later cells cannot change a score). A test cell passes when it ran without an error
  and wrote nothing to stderr, nbgrader's rule.
- :func:`try_exercise` runs the notebook once up to an exercise's solution cell, then forks one
  child per variant from that state and runs the variant, the visible half of the test cell and
  the hidden half, reporting which half (if any) failed. Cells before the solution do not depend
  on it, and the independence test (``tests/test_independence.py``) shows that no other test cell
  depends on it either, so this is the exercise's score in a full run.

Everything runs in a process forked from the caller, so the caller's interpreter (a pytest
session, say) is left as it was.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import nbformat

from autograde import course
from autograde.workspace import stub_for

HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
CELL_TIMEOUT = 10.0
CASE_TIMEOUT = 120.0  # one case (wall clock: generous, the machine may be busy)
RUN_TIMEOUT = 3600.0  # everything asked of one warm process
MEMORY_LIMIT = 3 * 2**30


@dataclass(frozen=True)
class Cell:
    source: str
    exercise: str | None  # the exercise a solution or test cell belongs to
    kind: str  # "given", "solution" or "test"


def cells_of(nb: course.Notebook) -> list[Cell]:
    """The notebook's code cells, up to and including its last test cell."""
    notebook = nbformat.read(nb.path, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = course.nbgrader_meta(cell)
        grade_id = meta.get("grade_id", "")
        if meta.get("grade") and grade_id.startswith("test_"):
            cells.append(Cell(cell.source, grade_id[len("test_"):], "test"))
        elif meta.get("solution"):
            cells.append(Cell(cell.source, grade_id, "solution"))
        else:
            cells.append(Cell(cell.source, None, "given"))
    last = max(i for i, c in enumerate(cells) if c.kind == "test")
    return cells[: last + 1]


def stub(source: str, lang: str = "en") -> str:
    """What the student copy of the edition in ``lang`` holds: each SOLUTION region replaced by its stub."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
    return pattern.sub(lambda m: "\n".join(m.group(1) + line for line in stub_for(lang).splitlines()), source)


def _job(cells: list[dict], lang: str):
    """The engine's own job (:class:`autograde.protocol.Job`) for these cells."""
    from autograde import protocol

    return protocol.Job.from_dict({"id": "trial", "token": "trial", "cells": cells, "lang": lang,
                                   "cell_timeout": CELL_TIMEOUT})


def _entry(source: str, exercise: str | None, test: bool, learner: bool) -> dict:
    from autograde import protocol

    return {"source": source, "exercise": exercise, "test": test, "learner": learner,
            "hidden": protocol.hidden_exercise(source) if test else None}


def _failed(outputs: list[dict]) -> bool:
    """nbgrader's rule: a graded cell with an error (or anything on stderr) scores zero."""
    return any(o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
               for o in outputs)


# -- processes -------------------------------------------------------------------------------
def _in_child(work, *args, timeout: float = CASE_TIMEOUT) -> object:
    """Run ``work(*args)`` in a forked child; return what it returned (JSON), or None if it died
    or ran longer than ``timeout`` seconds."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_fd)
            data = json.dumps(work(*args)).encode()
            while data:
                data = data[os.write(write_fd, data):]
        except BaseException:  # noqa: BLE001 - the child always ends with os._exit
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return None


def _run(shell, cells: list[dict], lang: str) -> list[list[dict]]:
    """Run cells in ``shell`` (in this process) with the engine's kernel; return each cell's outputs."""
    import sys

    from autograde import kernel, protocol, verdict

    outputs: list[list[dict]] = [[] for _ in cells]
    observed: dict[int, protocol.Observations] = {}
    job = _job(cells, lang)

    def send(kind: str, **fields) -> None:
        if kind == "observed":
            observed[fields["cell"]] = protocol.Observations(fields["exercise"], tuple(fields["items"]))
        if kind == "cell":
            result, index = fields["result"], fields["cell"]
            shown = [dict(o) for o in result.outputs]
            if not result.passed and not _failed(shown):  # as grading does: no evidence of a pass is a failure
                shown.append({"output_type": "error", "ename": "GradingError", "evalue": f"cell {result.status}",
                              "traceback": []})
            exercise = job.cells[index].hidden
            if exercise and not _failed(shown):  # as grading does: the hidden tests' observations are judged here
                got = observed.get(index)
                if got is None or got.exercise != exercise:
                    shown.append({"output_type": "error", "ename": "GradingError", "evalue": "no observations",
                                  "traceback": []})
                else:
                    passed, message = verdict.verdict(exercise, got.items, lang)
                    shown.append({"output_type": "stream", "name": "stdout", "text": message + "\n"} if passed else
                                 {"output_type": "error", "ename": "CheckFailed", "evalue": message,
                                  "traceback": message.splitlines()})
            outputs[index] = shown

    saved = sys.stdout, sys.stderr, sys.stdin
    try:
        kernel.run_cells(job, {}, send, shell=shell)
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    return outputs


def _sandboxed(lang: str, cap_memory: bool = True) -> None:
    """In a case's child: its own folder and language, a memory cap, no core files."""
    import resource

    if os.getsid(0) != os.getpid():
        os.setsid()
    scratch = tempfile.mkdtemp(prefix="trial-")
    os.chdir(scratch)
    os.environ.update(COURSE_LANG=lang, MPLCONFIGDIR=os.path.join(scratch, ".matplotlib"))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not cap_memory:
        return
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_LIMIT, vm + MEMORY_LIMIT))


def _warm_references(requests: list[Score | Try]) -> None:
    """The reference's observations of every exercise asked about, computed once before the children fork."""
    from autograde import verdict

    for request in requests:
        for exercise in request.notebook.exercises:
            verdict.reference(exercise.name)


def _warm_shell():
    from autograde import worker

    return worker.warm()


# -- requests -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """Grade whole cases: each maps exercise -> solution source (others keep the reference)."""

    notebook: course.Notebook
    cases: tuple[dict[str, str], ...]
    lang: str


@dataclass(frozen=True)
class Try:
    """Grade variants of single exercises: exercise -> variant sources."""

    notebook: course.Notebook
    variants: dict[str, list[str]]
    lang: str


def run(requests: list[Score | Try]) -> list:
    """Answer every request from one warm process (imports paid once).

    A ``Score`` answers a list with, per case, exercise -> whether its test cell passed; a
    ``Try`` answers exercise -> the verdict of each variant: ``"visible"`` (the visible checks
    fail it), ``"hidden"`` (they pass it, the hidden tests fail it), ``"passed"``, or
    ``"crashed"`` when the child running it died.
    """

    def warm_then_all() -> list:
        shell = _warm_shell()
        _warm_references(requests)
        answers = []
        for request in requests:
            if isinstance(request, Score):
                answers.append(_score(shell, request))
            else:
                answers.append(_in_child(_try, shell, request, timeout=RUN_TIMEOUT) or {})
        return answers

    answers = _in_child(warm_then_all, timeout=RUN_TIMEOUT)
    if answers is None:
        raise RuntimeError("the warm process died")
    return answers


def _score(shell, request: Score) -> list[dict[str, bool]]:
    cells = cells_of(request.notebook)

    def one(replace: dict[str, str]) -> dict[str, bool]:
        _sandboxed(request.lang)
        entries = [_entry(replace.get(c.exercise, c.source) if c.kind == "solution" else c.source,
                          c.exercise, c.kind == "test", c.kind == "solution") for c in cells]
        outputs = _run(shell, entries, request.lang)
        return {c.exercise: not _failed(out) for c, out in zip(cells, outputs) if c.kind == "test"}

    lost = {e.name: False for e in request.notebook.exercises}
    return [_in_child(one, replace) or lost for replace in request.cases]


def split_test(source: str) -> tuple[str, str]:
    """The visible and the hidden half of a test cell."""
    visible, _, hidden = source.partition(HIDDEN_MARK)
    return visible, HIDDEN_MARK + hidden


def _try(shell, request: Try) -> dict[str, list[str]]:
    """In a child of the warm process: run the notebook, forking at each exercise tried."""
    lang, cells = request.lang, cells_of(request.notebook)

    def one(source: str, test: str) -> str:
        _sandboxed(lang)
        visible, hidden = split_test(test)
        outputs = _run(shell, [_entry(source, "variant", False, True), _entry(visible, "variant", True, False),
                               _entry(hidden, "variant", True, False)], lang)
        if _failed(outputs[1]):
            return "visible"
        return "hidden" if _failed(outputs[2]) else "passed"

    _sandboxed(lang, cap_memory=False)
    verdicts: dict[str, list[str]] = {}
    pending: list[dict] = []
    for index, cell in enumerate(cells):
        if cell.kind == "solution" and cell.exercise in request.variants:
            _run(shell, pending, lang)
            pending = []
            test = next(c.source for c in cells[index:] if c.kind == "test" and c.exercise == cell.exercise)
            verdicts[cell.exercise] = [_in_child(one, source, test) or "crashed"
                                       for source in request.variants[cell.exercise]]
        pending.append(_entry(cell.source, cell.exercise, cell.kind == "test", cell.kind == "solution"))
    return verdicts


def notebook_of(exercise: str, notebooks: list[course.Notebook] | None = None) -> course.Notebook:
    for nb in notebooks or course.notebooks():
        if any(e.name == exercise for e in nb.exercises):
            return nb
    raise LookupError(exercise)


def solution_sources(nb: course.Notebook) -> Iterator[tuple[str, str]]:
    """(exercise, the source notebook's solution cell) for each exercise of the notebook."""
    for cell in cells_of(nb):
        if cell.kind == "solution":
            yield cell.exercise, cell.source
