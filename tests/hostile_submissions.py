"""Named submissions of 02_losses that break, cheat or hide: the robustness fixtures of ``grade``.

Every builder starts from the student copy with the reference solutions filled in (7 points:
mse_loss 2, l1_loss 2, cross_entropy 3), changes one thing, and returns the files to hand in
(file name -> bytes). ``EXPECTED`` says what ``grade`` must give each one: the score, and the
report lines it must print (checked exactly, after the student's name).
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable

import nbformat

from autograde import sandbox

NOTEBOOK = "02_losses"
ASSIGNMENT = "02_losses"
FULL = 7
MARKER = "hostile-fixture-sleeper"  # in the command line of the process `leftover_process` starts


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def cell_of(nb, grade_id: str):
    return next(c for c in nb.cells if meta(c).get("grade_id") == grade_id)


def solved(release, solutions: dict[str, str]):
    """The student copy with every solution cell holding the reference solution."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = solutions[meta(cell)["grade_id"]]
    return nb


def files(nb, name: str = f"{NOTEBOOK}.ipynb") -> dict[str, bytes]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some fixtures are meant to be invalid (cells without ids)
        return {name: nbformat.writes(nb).encode()}


def append_code(nb, grade_id: str, code: str) -> None:
    cell = cell_of(nb, grade_id)
    cell.source = cell.source.rstrip() + "\n\n" + code.strip() + "\n"


def wrong_mse(nb) -> None:
    """mse_loss returns the sum instead of the mean: the checks must fail."""
    cell = cell_of(nb, "mse_loss")
    cell.source = "def mse_loss(output, target):\n    return ((output - target) ** 2).sum()\n"


# -- 1. the kernel dies ----------------------------------------------------------------------
def exit_in_mse(nb):
    append_code(nb, "mse_loss", "import os\nos._exit(1)")
    return files(nb)


def segfault_in_l1(nb):
    append_code(nb, "l1_loss", "import ctypes\nctypes.string_at(0)")
    return files(nb)


def memory_in_cross_entropy(nb):
    cell = cell_of(nb, "cross_entropy")
    cell.source += "\n\n_reference_cross_entropy = cross_entropy\n\ndef cross_entropy(logits, labels):\n" \
        "    hog = torch.ones(2**29)  # 2 GiB\n    return _reference_cross_entropy(logits, labels)\n"
    return files(nb)


# -- 2. too slow -----------------------------------------------------------------------------
def loop_in_mse(nb):
    cell = cell_of(nb, "mse_loss")
    cell.source = "def mse_loss(output, target):\n    while True:\n        pass\n"
    return files(nb)


def stubborn_loop(nb):
    append_code(nb, "l1_loss", """
import time
while True:
    try:
        time.sleep(100)
    except BaseException:
        pass
""")
    return files(nb)


BURN = "import time\n_t = time.process_time()\nwhile time.process_time() - _t < {seconds}:\n    pass"


def slow_submission(nb):
    """3.5 s of processor time per exercise: the third goes past the 10 s a submission may use."""
    for exercise in ("mse_loss", "l1_loss", "cross_entropy"):
        append_code(nb, exercise, BURN.format(seconds=3.5))
    return files(nb)



def stretch_cell_limit(nb):
    """Moves the running cell's processor-time limit out of reach, then burns: the worker's own measure stops it."""
    append_code(nb, "l1_loss", "import sys\nsys.modules['autograde.kernel'].CELL_CPU[1] = 1e9\n" + BURN.format(seconds=60))
    return files(nb)

# -- 3. resources ------------------------------------------------------------------------------
def leftover_process(nb):
    append_code(nb, "l1_loss", f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{MARKER}"], start_new_session=True)
subprocess.Popen(["sh", "-c", "(sleep 600; echo {MARKER}) &"])
""")
    return files(nb)


# -- 4. lost or shuffled structure -------------------------------------------------------------
def stripped_metadata(nb):
    for cell in nb.cells:
        cell.metadata = {}
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return files(nb)


def reordered(nb):
    order = [c for c in nb.cells if meta(c).get("solution")] + [c for c in nb.cells if not meta(c).get("solution")]
    nb.cells = list(reversed(order[:3])) + order[3:]
    return files(nb)


def inserted_and_duplicated(nb):
    helper = nbformat.v4.new_code_cell("def squared(x):\n    return x * x\n")
    mse = cell_of(nb, "mse_loss")
    older = copy.deepcopy(mse)
    older.source = "def mse_loss(output, target):\n    return 0.0  # first try\n"
    older.pop("id", None)
    index = nb.cells.index(mse)
    nb.cells[index:index] = [helper, older]
    return files(nb)


def markdown_solution(nb):
    cell = cell_of(nb, "l1_loss")
    index = nb.cells.index(cell)
    nb.cells[index] = nbformat.v4.new_markdown_cell(cell.source)
    return files(nb)


def deleted_test(nb):
    nb.cells.remove(cell_of(nb, "test_l1_loss"))
    return files(nb)


# -- 5. edited tests ---------------------------------------------------------------------------
def edited_test(nb):
    wrong_mse(nb)
    cell_of(nb, "test_mse_loss").source = "print('all good')\n"
    return files(nb)


# -- 6. tampering --------------------------------------------------------------------------------
def patch_allclose(nb):
    wrong_mse(nb)
    append_code(nb, "mse_loss", "torch.allclose = lambda *args, **kwargs: True")
    return files(nb)


def patch_assert_close(nb):
    append_code(nb, "l1_loss", "torch.testing.assert_close = lambda *args, **kwargs: None")
    return files(nb)


def patch_builtins(nb):
    append_code(nb, "cross_entropy", "import builtins\nbuiltins.isinstance = lambda *args: True")
    return files(nb)


def redefine_checks(nb):
    wrong_mse(nb)
    append_code(nb, "mse_loss", """
class Checker:
    def __init__(self, *args, **kwargs):
        pass
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
""")
    return files(nb)


def silence_stderr(nb):
    append_code(nb, "l1_loss", "import os, sys\nsys.stderr = open(os.devnull, 'w')")
    return files(nb)


def import_reference(nb):
    cell_of(nb, "mse_loss").source = "from solutions.losses import mse_loss\n"
    return files(nb)


def hidden_import_reference(nb):
    cell_of(nb, "mse_loss").source = (
        "_name = 'sol' + 'utions.losses'\n"
        "mse_loss = __builtins__['__import__'](_name, fromlist=['x']).mse_loss "
        "if isinstance(__builtins__, dict) else getattr(__builtins__, '__import__')(_name, fromlist=['x']).mse_loss\n")
    return files(nb)


# -- 7. unreadable files -------------------------------------------------------------------------
def not_json(nb):
    return {f"{NOTEBOOK}.ipynb": b"this is my homework, I promise\n"}


def truncated_json(nb):
    data = nbformat.writes(nb).encode()
    return {f"{NOTEBOOK}.ipynb": data[: len(data) // 2]}


def empty_file(nb):
    return {f"{NOTEBOOK}.ipynb": b""}


def old_nbformat(nb):
    v3 = nbformat.convert(nb, 3)
    return {f"{NOTEBOOK}.ipynb": json.dumps(v3).encode()}


def wrong_file_name(nb):
    return files(nb, name=f"{NOTEBOOK} (1).ipynb")


def python_file(nb):
    source = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return {f"{NOTEBOOK}.py": source.encode()}


def huge_outputs(nb):
    cell = cell_of(nb, "mse_loss")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (30 * 2**20))]
    return files(nb)


# -- 8. isolation ------------------------------------------------------------------------------------
def snoop(nb, targets: dict[str, str], port: int):
    """Tries to read the given paths and to reach a TCP port; prints what it got."""
    probes = json.dumps(targets)
    append_code(nb, "l1_loss", f"""
import json as _json, socket as _socket
for _label, _path in _json.loads({probes!r}).items():
    try:
        with open(_path, "rb") as _f:
            _f.read(10)
        print("SNOOP", _label, "readable")
    except OSError as _e:
        print("SNOOP", _label, "blocked", type(_e).__name__)
try:
    _socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("SNOOP network reachable")
except OSError as _e:
    print("SNOOP network blocked", type(_e).__name__)
""")
    return files(nb)


# -- 9. code that goes after the grading machinery itself -------------------------------------------
PROBE = """
import importlib.util as _util, os as _os, tempfile as _tempfile
_left = [f"{_d}/{_f}" for _d in {_os.getcwd(), _tempfile.gettempdir(), _os.environ.get("HOME", "/"), "/tmp"}
         for _f in ("planted_module.py", "planted_marker") if _os.path.exists(f"{_d}/{_f}")]
print("PROBE", "found " + ", ".join(sorted(_left)) if _left else "clean",
      "importable" if _util.find_spec("planted_module") else "not importable")
"""


def honest_with_probe(nb):
    """An honest student who looks for anything an earlier student left behind (and prints it)."""
    append_code(nb, "mse_loss", PROBE)
    return files(nb)


WRITE_EVERYWHERE = """
import os as _os
for _fd in range(3, 256):
    try:
        _os.write(_fd, {data!r})
    except OSError:
        pass
"""


def forge_answer(nb):
    """Writes a forged answer on every descriptor it can find (the worker's protocol pipe, once inherited)."""
    append_code(nb, "l1_loss", WRITE_EVERYWHERE.format(data=b'{"id": "x", "cells": []}\n{"kind": "done"}\n'))
    return files(nb)


def find_token() -> str:
    """Code that finds the child's own ``send`` (it holds the run's token) among the interpreter's objects."""
    return """
_gc = __import__("g" + "c")
_send = next(o for o in getattr(_gc, "get_" + "objects")() if getattr(o, "__qualname__", "") == "_child.<locals>.send")
"""


def short_answer(nb):
    """Finds the result channel, says it is done after only a few cells, and ends before the rest can run."""
    append_code(nb, "l1_loss", find_token() + """
import os as _os
_send("done")
_os._exit(0)
""")
    return files(nb)


def silenced_traceback(nb):
    """A wrong mse_loss, and every traceback silenced so its failing test shows no error (nbgrader's exploit)."""
    wrong_mse(nb)
    append_code(nb, "mse_loss", "type(get_ipython()).showtraceback = lambda *args, **kwargs: None")
    return files(nb)


def stop_worker(nb):
    """Stops the warm worker that runs the notebook (which would wait for it forever)."""
    append_code(nb, "l1_loss", "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)")
    return files(nb)


def malformed_message(nb):
    """Leaves a process in a new session, writes garbage on the result channel, then waits."""
    append_code(nb, "l1_loss", f"""
import subprocess as _subprocess, sys as _sys, time as _time
_subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(600)", "{MARKER}"], start_new_session=True)
""" + WRITE_EVERYWHERE.format(data=b"this is not a message\n") + "_time.sleep(30)\n")
    return files(nb)


def plant_module(nb):
    """Writes a module and a marker into every folder that could be on sys.path or kept for the next student."""
    append_code(nb, "mse_loss", """
import os as _os, tempfile as _tempfile
for _d in {_os.getcwd(), _tempfile.gettempdir(), _os.environ.get("HOME", "/"), "/tmp"}:
    try:
        with open(f"{_d}/planted_module.py", "w") as _f:
            _f.write("print('PLANTED MODULE RAN')\\n")
        open(f"{_d}/planted_marker", "w").close()
    except OSError:
        pass
try:
    import planted_module
    print("PLANTER imported its own module")
except ImportError:
    print("PLANTER could not import its module")
""")
    return files(nb)


# name -> (builder, score, report lines after the score line); lines match exactly once
# ``{size}`` is replaced by the size of the handed-in file. The batch runs with
# --cell-timeout 4 --submission-timeout 10 --memory-limit 1.
EXPECTED: dict[str, tuple[Callable, float, list[str]]] = {
    "exit_in_mse": (exit_in_mse, 5, [
        "02_losses: mse_loss scored 0: the kernel died while running this cell (the process exited with status 1)"]),
    "segfault_in_l1": (segfault_in_l1, 5, [
        "02_losses: l1_loss scored 0: the kernel died while running this cell (killed by signal SIGSEGV)"]),
    "memory_in_cross_entropy": (memory_in_cross_entropy, 4, [
        "02_losses: cross_entropy: ran out of memory (the limit is 1 GiB)"]),
    "loop_in_mse": (loop_in_mse, 5, ["02_losses: mse_loss: this cell used more than 4 s of processor time and was stopped"]),
    "stubborn_loop": (stubborn_loop, 5, [
        "02_losses: l1_loss: this cell went past its limit (30 s wall clock) and did not stop when interrupted"]),
    "slow_submission": (slow_submission, 4, [
        "02_losses: cross_entropy: not run: the notebook had used up the 10 s of processor time a submission may use"]),
    "stretch_cell_limit": (stretch_cell_limit, 5, [
        "02_losses: l1_loss: this cell went past its limit (4 s of processor time) and did not stop when interrupted",
        "FLAG 02_losses/l1_loss: scored 0 for tampering: replaces sys.modules; reaches into sys.modules"]),
    "leftover_process": (leftover_process, 7, ["02_losses: processes left running were killed"]),
    "stripped_metadata": (stripped_metadata, 7, [
        'repaired 02_losses: cell metadata was missing; found mse_loss, l1_loss, cross_entropy by their code']),
    "reordered": (reordered, 7, [
        'repaired 02_losses: cells were out of order; put back in the order of the source']),
    "inserted_and_duplicated": (inserted_and_duplicated, 7, [
        'repaired 02_losses: mse_loss appeared in 2 cells; graded the last one that is not the stub']),
    "markdown_solution": (markdown_solution, 7, [
        'repaired 02_losses: the solution for l1_loss was a markdown cell; graded as code',
        'repaired 02_losses: cell metadata was missing; found l1_loss by their code']),
    "deleted_test": (deleted_test, 7, [
        'repaired 02_losses: test cell test_l1_loss was deleted; restored from the source']),
    "edited_test": (edited_test, 5, [
        'repaired 02_losses: test cell test_mse_loss was edited; restored from the source']),
    "patch_allclose": (patch_allclose, 5, [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: torch.allclose"]),
    "patch_assert_close": (patch_assert_close, 5, [
        "FLAG 02_losses/l1_loss: scored 0 for tampering: torch.testing.assert_close"]),
    "patch_builtins": (patch_builtins, 4, [
        "FLAG 02_losses/cross_entropy: scored 0 for tampering: replaces builtins.isinstance"]),
    "redefine_checks": (redefine_checks, 5, [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: redefines Checker"]),
    "silence_stderr": (silence_stderr, 5, [
        "FLAG 02_losses/l1_loss: scored 0 for tampering: replaces sys.stderr"]),
    "import_reference": (import_reference, 5, [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: imports solutions.losses"]),
    # In the sandbox the reference is not there to import (solutions/ is not there at all): mse_loss stays
    # undefined and its test fails like any wrong answer. Without it, the run-time watch flags it.
    "hidden_import_reference": (hidden_import_reference, 5, [] if sandbox.choose("auto").on else [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: mse_loss taken from solutions.losses"]),
    "not_json": (not_json, 0, [
        'FAILED 02_losses: 02_losses.ipynb is not valid JSON (line 1, column 1: Expecting value), so it is not a notebook']),
    "truncated_json": (truncated_json, 0, [
        "FAILED 02_losses: 02_losses.ipynb is truncated: its JSON ends early, after {size} bytes, "
        "as if saving or uploading it was cut off"]),
    "empty_file": (empty_file, 0, [
        'FAILED 02_losses: 02_losses.ipynb is empty (0 bytes)']),
    "old_nbformat": (old_nbformat, 7, ["02_losses: converted from nbformat 3"]),
    "wrong_file_name": (wrong_file_name, 0, [
        'FAILED 02_losses: expected 02_losses.ipynb; found 02_losses (1).ipynb']),
    "python_file": (python_file, 0, [
        'FAILED 02_losses: expected 02_losses.ipynb; found 02_losses.py']),
    "huge_outputs": (huge_outputs, 0, [
        'FAILED 02_losses: 02_losses.ipynb is 30 MB, over the 20 MB limit: clear its outputs '
        '(Edit > Clear Outputs of All Cells), save it and hand it in again']),
}
# Each exploit of the grading machinery, each followed by an honest student who probes for leftovers.
EXPLOITS: dict[str, tuple[Callable, float, list[str]]] = {
    "forge_answer": (forge_answer, 5, [
        "02_losses: l1_loss scored 0: the grader stopped this cell: its code broke the grading protocol "
        "(a message from the child carries the wrong token)"]),
    "short_answer": (short_answer, 5, [
        "02_losses: l1_loss scored 0: the grader stopped this cell: its code broke the grading protocol "
        "(done before every cell reported)"]),
    "silenced_traceback": (silenced_traceback, 5, [
        "02_losses: mse_loss scored 0: its test cell gave no evidence that it passed "
        "(it ended in an error that showed no traceback)"]),
    "stop_worker": (stop_worker, 0, [
        "FAILED 02_losses: could not be run: its grading worker was stopped by a signal, so it was killed and "
        "replaced (the notebook's code stopped or wedged it)"]),
    "malformed_message": (malformed_message, 5, [
        "02_losses: l1_loss scored 0: the grader stopped this cell: its code broke the grading protocol "
        "(a message from the child is not JSON: Expecting value: line 1 column 1 (char 0))",
        "02_losses: processes left running were killed"]),
    "plant_module": (plant_module, 7, []),
}
for _name, _expected in EXPLOITS.items():
    EXPECTED[_name] = _expected
    EXPECTED[f"{_name}_then_honest"] = (honest_with_probe, 7, [])

UNREADABLE = ["stop_worker", "not_json", "truncated_json", "empty_file", "wrong_file_name", "python_file", "huge_outputs"]
