"""A hostile review of the grading engine: learner code that goes after the kernel, the worker or the next job.

Each fixture starts, like those of tests/hostile_submissions.py, from the student copy of 02_losses
with the reference solutions (7 points: mse_loss 2, l1_loss 2, cross_entropy 3). Most also get a
wrong ``mse_loss`` that its test cell must fail, then try to make that test cell pass anyway by
going after the grading machinery rather than the checks. Fail closed means: the exploit earns
nothing, the honest cells keep their points (5), and the report says why where the grader can tell.
A fixture that leaves something behind is followed by an honest student who looks for it; the batch
runs on one worker, so that student's notebook is the very next job of the same worker.

The whole batch is graded in one run of the real command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace

import hostile_submissions as H
import nbformat
import pytest
from test_instructor_workflow import run
from test_robust_grading import hand_in, printed_in, reference_sources, report_of

from autograde import sandbox
from autograde.workspace import Workspace, release

OPTIONS = ["--workers", "1", "--cell-timeout", "4", "--submission-timeout", "10", "--cell-wall-timeout", "20",
           "--submission-wall-timeout", "40", "--memory-limit", "1", "--no-progress"]

# The kernel's own objects, found from a learner cell: the job (with its token), the child's ``send``
# (its closure holds the result pipe and the run's token), and the index of the cell that runs this code.
KERNEL_OBJECTS = """
_gc = __import__("g" + "c")
_objects = getattr(_gc, "get_" + "objects")()
_job = next(o for o in _objects if type(o).__name__ == "Job")
_send = next(o for o in _objects if type(o).__name__ == "function" and o.__qualname__ == "_child.<locals>.send")
_index = next(i for i, c in enumerate(_job.cells) if "FORGER" + "-HERE" in c.source)  # FORGER-HERE
"""


def mostly_right_mse(nb) -> None:
    """An mse_loss that is right for the visible tests' 2-D tensors only: the hidden tests must fail it."""
    H.cell_of(nb, "mse_loss").source = (
        "def mse_loss(output, target):\n"
        "    if output.shape != target.shape:\n"
        "        raise ValueError('shapes differ')\n"
        "    loss = ((output - target) ** 2).mean()\n"
        "    return loss if output.dim() == 2 else 2 * loss\n")


def forge_cells_via_send(nb):
    """Finds the child's ``send``, reports every remaining cell as passed with it, and ends the child."""
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", KERNEL_OBJECTS + """
import os as _os
_ok = {"outputs": [], "execution_count": 1, "status": "ok"}
_send("cell", cell=_index, result=_ok, events=())
for _j in range(_index + 1, len(_job.cells)):
    _send("start", cell=_j)
    _send("cell", cell=_j, result=_ok, events=())
_send("done")
_os._exit(0)
""")
    return H.files(nb)


def clear_error_in_showtraceback(nb):
    """Replaces showtraceback (allowed: it only shows errors) by code that also erases the error from the cell's result.

    IPython records a cell's exception in its execution result, then calls showtraceback: learner
    code that runs there can set the recorded error back to None before the kernel reads it.
    """
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", """
import sys as _sys


def _erase(*args, **kwargs):
    _frame = _sys._getframe(1)
    while _frame is not None and "result" not in _frame.f_locals:
        _frame = _frame.f_back
    if _frame is not None and _frame.f_locals["result"] is not None:
        _frame.f_locals["result"].error_in_exec = None


type(get_ipython()).showtraceback = _erase
""")
    return H.files(nb)


def patch_kernel_execute(nb):
    """Replaces the kernel's own ``_execute`` (not watched) so that no cell ever fails, and hides tracebacks."""
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", """
_kernel = __import__("auto" + "grade.kernel", fromlist=["_"])
_real_execute = _kernel._execute
_kernel._execute = lambda *args, **kwargs: (_real_execute(*args, **kwargs), None)[1]
type(get_ipython())._showtraceback = lambda *args, **kwargs: None
""")
    return H.files(nb)


def patch_watch(nb):
    """Turns the tamper watch off (its class is not watched), then patches torch.allclose for good."""
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", """
import torch as _torch
_kernel = __import__("auto" + "grade.kernel", fromlist=["_"])
_kernel.Watch.check = lambda self, namespace, learner: []
_torch.allclose = lambda *args, **kwargs: True
_Checker = globals()["Check" + "er"]
for _name in ("close", "raises", "done"):
    setattr(_Checker, _name, lambda *args, **kwargs: None)
""")
    return H.files(nb)


def self_restoring_patch(nb):
    """Disarms the checks from inside its own test cell and re-arms them before that cell ends.

    A profile function (``sys.setprofile``, which outlives the learner's cell) sees the test cell
    start, replaces the checks, and the replaced ``hidden.check`` (the cell's last call) puts
    everything back. The tamper watch compares before and after a cell, so it never sees a change.
    """
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", """
import sys as _sys
_Checker = globals()["Check" + "er"]
_hidden = __import__("auto" + "grade.hidden", fromlist=["_"])
_saved = {name: _Checker.__dict__[name] for name in ("close", "raises", "done")}
_saved_check = _hidden.check


def _restore(*args, **kwargs):
    _sys.setprofile(None)
    for _name, _value in _saved.items():
        setattr(_Checker, _name, _value)
    _hidden.check = _saved_check


def _arm_in_my_test(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_name == "<module>" and "mse_loss" in code.co_consts and "Checker" in code.co_names:
        for _name in _saved:
            setattr(_Checker, _name, lambda *args, **kwargs: None)
        _hidden.check = _restore


_sys.setprofile(_arm_in_my_test)
""")
    return H.files(nb)


def swap_hidden_module(nb):
    """Right for the visible tests only, and ``autograde.hidden`` (an attribute of the package) swapped for a dummy."""
    mostly_right_mse(nb)
    H.append_code(nb, "mse_loss", """
import types as _types
_package = __import__("auto" + "grade")
_package.hidden = _types.SimpleNamespace(check=lambda *args, **kwargs: None)
""")
    return H.files(nb)


def forge_answer_via_proc(nb):
    """Writes an all-passed answer straight onto the worker's answer pipe (reopened through /proc), then kills the worker."""
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", KERNEL_OBJECTS + """
import json as _json, os as _os, signal as _signal
_parent = _os.getppid()


def _target(path):
    try:
        return _os.readlink(path)
    except OSError:
        return None


_mine = {_target(f"/proc/self/fd/{_fd}") for _fd in _os.listdir("/proc/self/fd")}
_line = _json.dumps({"id": _job.id, "token": _job.token, "events": [],
                     "cells": [{"outputs": [], "execution_count": 1, "status": "ok"} for _ in _job.cells]}) + "\\n"
for _fd in _os.listdir(f"/proc/{_parent}/fd"):
    _pipe = _target(f"/proc/{_parent}/fd/{_fd}")
    if _fd != "0" and _pipe and _pipe.startswith("pipe:") and _pipe not in _mine:
        _out = _os.open(f"/proc/{_parent}/fd/{_fd}", _os.O_WRONLY | _os.O_NONBLOCK)
        _os.write(_out, _line.encode())
        _os.close(_out)
_os.kill(_parent, _signal.SIGKILL)
""")
    return H.files(nb)


SHARED_PLACES = ("/dev/shm", "/dev/mqueue", "/dev", "/run", "/var/tmp")
SYSV_KEY = 0x5EED


def plant_shared(nb):
    """Leaves a file in every writable folder the sandbox shares between jobs, and a System V shared memory segment."""
    H.append_code(nb, "mse_loss", f"""
import ctypes as _ctypes, os as _os
for _d in {SHARED_PLACES!r}:
    try:
        with open(f"{{_d}}/planted_by_another_student", "w") as _f:
            _f.write("my solution, for whoever comes next")
    except OSError:
        pass
_os.makedirs("/tmp/locked", exist_ok=True)
open("/tmp/locked/planted_by_another_student", "w").close()
_os.chmod("/tmp/locked", 0)
_libc = _ctypes.CDLL(None, use_errno=True)
print("PLANTED shm", _libc.shmget({SYSV_KEY}, 4096, 0o1000 | 0o600) >= 0)
""")
    return H.files(nb)


SHARED_PROBE = f"""
import ctypes as _ctypes, os as _os
_found = [_d for _d in {SHARED_PLACES!r} if _os.path.exists(f"{{_d}}/planted_by_another_student")]
if _os.path.lexists("/tmp/locked"):
    _found.append("/tmp/locked")
if _ctypes.CDLL(None).shmget({SYSV_KEY}, 0, 0) >= 0:
    _found.append("System V shared memory")
print("SHARED", "found " + ", ".join(_found) if _found else "clean")
"""


def honest_with_shared_probe(nb):
    H.append_code(nb, "mse_loss", SHARED_PROBE)
    return H.files(nb)


def remount_grader(nb):
    """Tries to make the grader's own package folder writable again inside the sandbox (it writes nothing)."""
    H.append_code(nb, "l1_loss", """
import importlib.util as _util, os as _os, subprocess as _subprocess
_folder = _util.find_spec("auto" + "grade").submodule_search_locations[0]
_subprocess.run(["mount", "-o", "remount,bind,rw", _folder], capture_output=True)
print("REMOUNT", "writable" if _os.access(_folder, _os.W_OK) else "read-only")
""")
    return H.files(nb)


def exec_reference_source(nb):
    """A wrong mse_loss replaced by the reference's source text, read from the sandbox and run with exec."""
    H.wrong_mse(nb)
    H.append_code(nb, "mse_loss", """
import importlib.util as _util
with open(_util.find_spec("sol" + "utions.losses").origin) as _source:
    exec(_source.read(), globals())
""")
    return H.files(nb)


# A test cell that holds a hidden check must report its observations before it may end "ok": a forged or
# disarmed hidden check breaks the protocol, and the learner cell that ran last (mse_loss's) is not run again.
NO_OBSERVATIONS = "02_losses: mse_loss scored 0: the grader stopped this cell: its code broke the grading protocol " \
    "(test cell 4 ran to the end without reporting what its hidden tests observed)"
NO_EVIDENCE = "02_losses: mse_loss scored 0: its test cell gave no evidence that it passed " \
    "(it ended in an error that showed no traceback)"
# name -> (builder, score, report lines after the score line, or None: any line that names mse_loss)
REVIEW: dict[str, tuple[Callable, float, list[str] | None]] = {
    "forge_cells_via_send": (forge_cells_via_send, 5, [NO_OBSERVATIONS]),
    "clear_error_in_showtraceback": (clear_error_in_showtraceback, 5, [NO_EVIDENCE]),
    "patch_kernel_execute": (patch_kernel_execute, 5, [
        NO_EVIDENCE, "FLAG 02_losses/mse_loss: scored 0 for tampering: autograde.kernel._execute"]),
    "patch_watch": (patch_watch, 5, [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: torch.allclose, autograde.kernel.Watch.check, "
        "autograde.checks.Checker.close, autograde.checks.Checker.raises, autograde.checks.Checker.done"]),
    "self_restoring_patch": (self_restoring_patch, 5, [NO_OBSERVATIONS]),
    "swap_hidden_module": (swap_hidden_module, 5, [
        "FLAG 02_losses/mse_loss: scored 0 for tampering: autograde.hidden"]),
    # It cannot reach the answer pipe; killing its own worker (twice: the job is tried once more) loses the notebook.
    "forge_answer_via_proc": (forge_answer_via_proc, 0, [
        "FAILED 02_losses: could not be run: a grading worker died: exit status 137"]),
    "plant_shared": (plant_shared, 7, []),
    "remount_grader": (remount_grader, 7, []),
    # solutions/ is not in the sandbox: the exec fails, mse_loss stays wrong.
    # (Its test cell simply fails, as any wrong answer does: no report line.)
    "exec_reference_source": (exec_reference_source, 5, []),
}
LEAVES_BEHIND = ["forge_answer_via_proc", "plant_shared"]
for _name in LEAVES_BEHIND:
    REVIEW[f"{_name}_then_honest"] = (honest_with_shared_probe, 7, [])


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    ws = Workspace(root=tmp_path_factory.mktemp("review-course"))
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    solutions = reference_sources()
    for name, (builder, _, _) in REVIEW.items():
        hand_in(ws, name, builder(H.solved(student_copy, solutions)))
    result = run("--course-dir", ws.root, "grade", *OPTIONS)
    return SimpleNamespace(ws=ws, **vars(result))


# Exploits that still work (docs/grading.md, "Limits worth knowing"). Strict: a fix makes these pass, and
# then the mark must go. None is open: the hidden tests are judged outside the child, from observations.
OPEN: dict[str, str] = {}
NEEDS_SANDBOX = {"exec_reference_source"}  # without bubblewrap, student code can read every file the grader can


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(name in OPEN, reason=OPEN.get(name, ""),
                                                                        strict=True)) for name in REVIEW])
def test_exploit_earns_nothing(batch, name):
    if name in NEEDS_SANDBOX and not sandbox.choose("auto").on:
        pytest.skip(f"no sandbox on this machine: {sandbox.choose('auto').note}")
    _, score, lines = REVIEW[name]
    report = report_of(batch.out, name)
    assert report[0] == f"{name}/{H.ASSIGNMENT}: {score:g}/{H.FULL}", report
    if lines is None:
        assert any("mse_loss" in line for line in report[1:]), report
    else:
        assert report[1:] == lines


def test_nothing_a_job_leaves_reaches_the_next_job_of_the_worker(batch):
    if not sandbox.choose("auto").on:
        pytest.skip(f"no sandbox on this machine: {sandbox.choose('auto').note}")
    assert "PLANTED shm True" in printed_in(batch.ws, "plant_shared", "mse_loss")
    for name in LEAVES_BEHIND:
        assert re.findall(r"SHARED .*", printed_in(batch.ws, f"{name}_then_honest", "mse_loss")) == ["SHARED clean"]


def test_the_grader_s_own_code_stays_read_only(batch):
    if not sandbox.choose("auto").on:
        pytest.skip(f"no sandbox on this machine: {sandbox.choose('auto').note}")
    assert "REMOUNT read-only" in printed_in(batch.ws, "remount_grader", "l1_loss")
