"""Run a notebook's code cells in this process, the way a Jupyter kernel would, for grading.

This is the part of the grader that runs inside a forked child of a warm worker
(:mod:`autograde.worker`): the worker has already imported torch and the checks, so a child only
runs the learner's cells. :func:`run_cells` executes them one by one in an IPython shell and
records what a kernel would have sent back for each cell (streams, displays, results, errors),
in nbformat's output format, so nbgrader can score the notebook as usual.

Around each cell it also enforces what a kernel does not:

- a processor-time limit per cell (``ITIMER_PROF``) and a wall-clock backstop (``ITIMER_REAL``),
  both raising :class:`CellTimeout` (the worker kills the child if the cell ignores it);
- the cell's status from IPython's own execution result (``error_before_exec`` /
  ``error_in_exec``), not from the outputs, so silencing tracebacks cannot make a failing test pass;
- the integrity of what the tests rely on (:class:`Watch`): if learner code replaces
  ``torch.allclose``, a builtin, ``sys.stderr``, the checks, a module the locked cells imported,
  or how the shell runs a cell, the change is undone and reported as a ``tamper`` event (the
  grader then scores the exercise zero: :func:`autograde.scoring.zero_flagged`);
- lost exercises: an exercise whose code killed the kernel gets an error in its test cell that
  says why (the test cell still runs: later tests may use what it defines).

Messages go to the worker through ``send(kind, **fields)`` (:mod:`autograde.protocol`):
``start`` before cell ``i``, ``cell`` with its :class:`~autograde.protocol.CellResult` after it,
then ``done``. While a test cell that holds a hidden check runs, :data:`autograde.hidden.SINK`
reports what its hidden tests observed as an ``observed`` message; whether they pass is decided
by the grader, outside this process (:mod:`autograde.verdict`).
"""

from __future__ import annotations

import builtins
import io
import json
import math
import os
import signal
import sys
import time
import types
import warnings
from collections.abc import Callable

from IPython.core.interactiveshell import ExecutionResult as _ExecutionResult
from IPython.core.interactiveshell import InteractiveShell

from autograde import messages
from autograde.protocol import CellResult, Event, Job

# Bound now, before any learner code runs: the kernel keeps working if a learner replaces
# json.dumps, time.perf_counter or os.fstat in their module.
_encode = json.JSONEncoder().encode
_run_cell = InteractiveShell.run_cell
_setitimer = signal.setitimer
_process_time = time.process_time
_fstat = os.fstat
_pread = os.pread

MAX_CELL_OUTPUT = 2 * 2**20  # characters of stream output kept per cell; the rest is cut
CURRENT: list[dict] = []  # the outputs of the cell that is running
FAILED: list[bool] = []  # a statement of the running cell raised (IPython's own run_code said so)
CELL_CPU: list[float] = [0.0, 0.0]  # the running cell's processor time at its start, and its limit


class CellTimeout(BaseException):
    """Raised inside a cell that outlives its processor-time limit (``cpu``) or its wall-clock backstop."""

    def __init__(self, cpu: bool = True) -> None:
        super().__init__("processor time" if cpu else "wall clock")
        self.cpu = cpu


# -- what a kernel sends back, recorded as nbformat outputs --------------------------------
def _append_stream(name: str, text: str) -> None:
    if not text:
        return
    if CURRENT and CURRENT[-1].get("output_type") == "stream" and CURRENT[-1]["name"] == name:
        CURRENT[-1]["text"] += text
    else:
        CURRENT.append({"output_type": "stream", "name": name, "text": text})


class Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` for a cell: text becomes a stream output of the cell."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.written = 0

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = MAX_CELL_OUTPUT - self.written
        if room > 0:
            kept = text[:room]
            _append_stream(self.name, kept)
            if len(text) > room:
                _append_stream(self.name, "\n[... output cut: more than 2 MB from one cell ...]\n")
        self.written += len(text)
        return len(text)

    def flush(self) -> None:
        pass


def _shell_classes():
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            CURRENT.append({"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})})

        def clear_output(self, wait=False):
            CURRENT.clear()

    class ResultHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            CURRENT.append({"output_type": "execute_result", "data": dict(format_dict),
                            "metadata": dict(md_dict or {}), "execution_count": self.prompt_count})

        def finish_displayhook(self):
            pass

    class GradingShell(InteractiveShell):
        displayhook_class = ResultHook
        display_pub_class = Publisher

        def _showtraceback(self, etype, evalue, stb):
            CURRENT.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                            "evalue": str(evalue), "traceback": list(stb)})

        async def run_code(self, code_obj, result=None, *, async_=False):
            # IPython's answer "did it raise?", kept where showtraceback (learner code may replace it,
            # and it runs after the error is recorded in ``result``) cannot take it back.
            failed = await super().run_code(code_obj, result, async_=async_)
            if failed:
                FAILED.append(True)
            return failed

    return GradingShell


def make_shell():
    """An IPython shell that records outputs instead of printing them (created once per worker)."""
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    config.InlineBackend.print_figure_kwargs = {"bbox_inches": None}  # one drawing per figure, not two
    shell = _shell_classes().instance(config=config)
    try:
        shell.enable_matplotlib("inline")
    except Exception:  # matplotlib missing: figures are simply not drawn
        pass
    return shell


# -- what the tests rely on ---------------------------------------------------------------
SHOWN_ONLY = ("showtraceback", "_showtraceback", "showsyntaxerror", "showindentationerror")  # how errors look, not whether


def _watched_namespaces(shell=None) -> dict[str, dict]:
    """label -> a namespace whose entries learner code must not replace.

    The shell's classes are watched too (how a cell runs and reports its result), except the
    methods that only show errors: a cell's status does not depend on them.
    """
    import torch
    import torch.nn
    import torch.nn.functional
    import torch.testing

    import autograde
    import autograde.checks
    import autograde.hidden
    import autograde.messages
    import autograde.protocol
    import autograde.worker

    spaces = {
        "builtins": builtins.__dict__,
        "math": math.__dict__,
        "warnings": warnings.__dict__,
        "torch": torch.__dict__,
        "torch.nn.functional": torch.nn.functional.__dict__,
        "torch.testing": torch.testing.__dict__,
        "torch.Tensor": torch.Tensor.__dict__,
        "torch._C.TensorBase": torch._C.TensorBase.__dict__,
        "torch.nn.Module": torch.nn.Module.__dict__,
        "autograde": autograde.__dict__,  # `from autograde import hidden` reads the package's attribute
        "autograde.checks": autograde.checks.__dict__,
        "autograde.hidden": autograde.hidden.__dict__,
        "autograde.messages": autograde.messages.__dict__,
        # the grading machinery itself: how a cell runs, what its status is, how it is reported
        "autograde.kernel": globals(),
        "autograde.kernel.Watch": Watch.__dict__,
        "autograde.protocol": autograde.protocol.__dict__,
        "autograde.protocol.CellResult": autograde.protocol.CellResult.__dict__,
        "autograde.worker": autograde.worker.__dict__,
        "autograde.checks.Checker": autograde.checks.Checker.__dict__,
        "IPython's InteractiveShell": InteractiveShell.__dict__,
        "IPython's ExecutionResult": _ExecutionResult.__dict__,
    }
    if shell is not None:
        spaces["the grading shell"] = type(shell).__dict__
    return spaces


SHELL_LABELS = ("IPython's InteractiveShell", "the grading shell")


SYS_NAMES = ("stdout", "stderr", "stdin", "displayhook", "excepthook", "modules", "meta_path", "path_hooks")
GUARDED_MODULES = ("builtins", "torch", "torch.testing", "torch.nn", "torch.nn.functional", "math", "warnings",
                   "autograde", "autograde.checks", "autograde.hidden", "autograde.messages", "autograde.kernel",
                   "autograde.protocol", "autograde.worker")


class Watch:
    """Remember what the tests rely on; find, undo and name any change learner code makes to it."""

    def __init__(self, shell=None) -> None:
        self.shell = shell
        self.spaces = _watched_namespaces(shell)
        self.snapshot = {label: {k: v for k, v in space.items() if label not in SHELL_LABELS or k not in SHOWN_ONLY}
                         for label, space in self.spaces.items()}
        self.shell_attrs = set(vars(shell)) if shell is not None else set()
        self.plain = {label: type(space) is dict for label, space in self.spaces.items()}
        self.sys = {name: getattr(sys, name) for name in SYS_NAMES}
        self.modules = {name: sys.modules.get(name) for name in GUARDED_MODULES}
        self.fds = {fd: _fd_identity(fd) for fd in (1, 2)}
        self.protected: dict[str, object] = {}

    def protect(self, namespace: dict) -> None:
        """After a locked cell: the modules and grader objects it bound must keep their meaning."""
        for name, value in namespace.items():
            if name.startswith("_"):
                continue
            if isinstance(value, types.ModuleType) or (
                    isinstance(value, (type, types.FunctionType)) and str(value.__module__).startswith("autograde")):
                self.protected[name] = value

    def check(self, namespace: dict, learner: bool) -> list[str]:
        """Names of everything changed since the snapshot (each one restored).

        The names locked cells bound are checked after the learner's cells only: test cells
        rebind their own names.
        """
        changed = []
        for label, space in self.spaces.items():
            before = self.snapshot[label]
            for key, value in before.items():
                if space.get(key, _MISSING) is not value:
                    changed.append(f"{label}.{key}")
                    if self.plain[label]:
                        space[key] = value  # builtins come first: everything below may use them
                    else:
                        _restore(_owner_of(label, self.shell), key, value)
        changed.extend(self._check_shell())
        for name, value in self.sys.items():
            if getattr(sys, name) is not value:
                changed.append(f"sys.{name}")
                setattr(sys, name, value)
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                changed.append(f"sys.modules[{name!r}]")
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
        for fd, identity in self.fds.items():
            if _fd_identity(fd) != identity:
                changed.append("the standard output" if fd == 1 else "the standard error stream")
        for name, value in self.protected.items() if learner else ():
            if namespace.get(name, _MISSING) is not value:
                changed.append(f"the name {name!r} set by a locked cell")
                namespace[name] = value
        return changed


    def _check_shell(self) -> list[str]:
        """Methods added to the shell's classes or set on the shell itself (how a cell runs and reports)."""
        if self.shell is None:
            return []
        changed = []
        for label in SHELL_LABELS:
            owner, before = _owner_of(label, self.shell), self.snapshot[label]
            for key in [k for k in self.spaces[label] if k not in before and k not in SHOWN_ONLY]:
                changed.append(f"{label}.{key}")
                try:
                    delattr(owner, key)
                except (TypeError, AttributeError):
                    pass
        for key in [k for k in vars(self.shell) if k not in self.shell_attrs and k not in SHOWN_ONLY]:
            if callable(getattr(type(self.shell), key, None)):
                changed.append(f"the grading shell's {key}")
                vars(self.shell).pop(key, None)
        return changed


_MISSING = object()


def _restore(owner: type | None, key: str, value: object) -> None:
    if owner is not None:
        try:
            setattr(owner, key, value)
        except (TypeError, AttributeError):
            pass


def _owner_of(label: str, shell=None):
    import torch

    import autograde.checks

    if label == "the grading shell":
        return type(shell)
    import autograde.protocol

    return {"torch.Tensor": torch.Tensor, "torch._C.TensorBase": torch._C.TensorBase,
            "autograde.kernel.Watch": Watch, "autograde.protocol.CellResult": autograde.protocol.CellResult,
            "torch.nn.Module": torch.nn.Module, "autograde.checks.Checker": autograde.checks.Checker,
            "IPython's InteractiveShell": InteractiveShell, "IPython's ExecutionResult": _ExecutionResult}.get(label)


def _fd_identity(fd: int) -> tuple[int, int] | None:
    try:
        st = _fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def reference_origin(value: object) -> str | None:
    """The module of the course's reference or grader that ``value`` comes from, if it does."""
    seen = 0
    while value is not None and seen < 10:
        module = str(getattr(value, "__module__", "") or "")
        if module == "solutions" or module.startswith(("solutions.", "autograde")):
            return module
        value = getattr(value, "__wrapped__", None)
        seen += 1
    return None


# -- running the cells --------------------------------------------------------------------
def _on_timer(signum, frame):
    """Stop the cell, unless its processor-time limit is not yet used up by the exact clock.

    ``ITIMER_PROF`` counts processor time in clock ticks, charging a whole tick to whichever process
    runs when it falls: on a loaded machine a busy cell is charged for time other processes used
    (a 2 s timer was seen firing after 1.4 s of this process's own time). The kernel's exact clock
    (``time.process_time``) decides; when time is left, the timer is armed again for the rest.
    """
    if signum == signal.SIGPROF:
        start, limit = CELL_CPU
        left = limit - (_process_time() - start)
        if left > 0.001:
            _setitimer(signal.ITIMER_PROF, left)
            return
    raise CellTimeout(signum == signal.SIGPROF)


class FdCapture:
    """Output written straight to file descriptors 1 and 2 (C code, subprocesses), read back per cell."""

    def __init__(self) -> None:
        import tempfile

        self.files = {}
        for fd, name in ((1, "stdout"), (2, "stderr")):
            tmp = tempfile.TemporaryFile()
            os.dup2(tmp.fileno(), fd)
            self.files[name] = [tmp, 0]

    def collect(self) -> None:
        for name, entry in self.files.items():
            tmp, offset = entry
            size = _fstat(tmp.fileno()).st_size
            if size > offset:
                data = _pread(tmp.fileno(), min(size - offset, MAX_CELL_OUTPUT), offset)
                entry[1] = size
                _append_stream(name, data.decode("utf-8", "replace"))


def run_cells(job: Job, skip: dict[int, str], send: Callable[..., None], shell=None) -> None:
    """Execute the job's cells in order; ``skip`` maps cell indexes not to run to the reason.

    ``send(kind, **fields)`` reports to the worker: ``start`` before each cell, ``cell`` with its
    :class:`~autograde.protocol.CellResult` after it, ``done`` at the end. A cell's status comes
    from IPython's execution result, whatever the cell did to how errors are shown.
    """
    lang = job.lang
    cells = job.cells
    exercises = set(job.exercises)
    lost: dict[str, str] = {}  # exercise -> why its code is not run again (it killed the kernel before)
    for index, reason in skip.items():
        exercise = cells[index].exercise
        if exercise and exercise not in lost:
            lost[exercise] = reason

    shell = shell or make_shell()
    from autograde import hidden

    sink = hidden.SINK  # bound now: a learner who rebinds hidden.SINK is found by the watch
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    sys.stdin = io.StringIO("")
    fds = FdCapture()
    watch = Watch(shell)
    check = Watch.check  # bound now: learner code that replaces Watch.check is found by the real one
    watch.sys.update(stdout=sys.stdout, stderr=sys.stderr, stdin=sys.stdin)
    watch.fds = {fd: _fd_identity(fd) for fd in (1, 2)}
    signal.signal(signal.SIGALRM, _on_timer)
    signal.signal(signal.SIGPROF, _on_timer)

    memory_gib = job.memory_limit / 2**30
    taken: set[str] = set()  # exercises found bound to the reference
    for index, cell in enumerate(cells):
        send("start", cell=index)
        CURRENT.clear()
        sys.stdout.written = sys.stderr.written = 0
        exercise, events = cell.exercise, []
        if index in skip and not cell.test:
            CURRENT.append(_error(lang, "skipped", reason=skip[index]))
            send("cell", cell=index, result=CellResult(tuple(CURRENT), None, "not_run"), events=())
            continue
        # A test cell always runs, even for a lost exercise: later tests may use what it defines.
        # If it killed the kernel before, the exercise's name now raises instead.
        saved = _MISSING
        if index in skip and exercise:
            saved = shell.user_ns.get(exercise, _MISSING)
            shell.user_ns[exercise] = _dead(skip[index])
        sink.clear()
        if cell.test and cell.hidden:
            sink.append(_reporter(send, index, job.id))
        failure = _execute(shell, cell.source, job.cell_timeout, job.cell_wall_timeout)
        sink.clear()
        if saved is not _MISSING:
            shell.user_ns[exercise] = saved
        elif index in skip and exercise:
            shell.user_ns.pop(exercise, None)
        changed = check(watch, shell.user_ns, learner=cell.learner)
        fds.collect()
        if isinstance(failure, CellTimeout):
            key, seconds = ("timeout", job.cell_timeout) if failure.cpu else ("wall_timeout", job.cell_wall_timeout)
            CURRENT[:] = [o for o in CURRENT if o.get("ename") != "CellTimeout"]
            CURRENT.append(_error(lang, key, seconds=f"{seconds:g}"))
            events.append(Event("timeout", exercise, messages_text("en", key, seconds=f"{seconds:g}")))
        elif failure is not None and _out_of_memory(failure, CURRENT):
            events.append(Event("memory", exercise, f"the limit is {memory_gib:g} GiB"))
        if changed:
            events.append(Event("tamper", exercise, ", ".join(changed)))
        if cell.learner:
            for name in sorted(exercises - taken):
                origin = reference_origin(shell.user_ns.get(name))
                if origin:
                    taken.add(name)
                    events.append(Event("tamper", name, f"{name} taken from {origin}"))
        status = "error" if failure is not None else "ok"
        if cell.test and exercise in lost:
            CURRENT.append(_error(lang, "poisoned", reason=lost[exercise]))
            status = "error"
        if not cell.learner and not cell.test:
            watch.protect(shell.user_ns)
        send("cell", cell=index, result=CellResult(tuple(_jsonable(CURRENT)), shell.execution_count - 1, status),
             events=tuple(events))
    send("done")


def _execute(shell, source: str, cpu_seconds: float, wall_seconds: float) -> BaseException | None:
    """Run one cell under its processor-time limit and its wall-clock backstop; return its error, if any.

    The error comes from IPython's execution result (``error_before_exec`` / ``error_in_exec``),
    so a cell that silences tracebacks still counts as failed.
    """
    FAILED.clear()
    CELL_CPU[:] = [_process_time(), cpu_seconds]
    _setitimer(signal.ITIMER_PROF, cpu_seconds)
    _setitimer(signal.ITIMER_REAL, wall_seconds)
    try:
        result = _run_cell(shell, source, store_history=True)
        outcome = vars(result) if isinstance(result, _ExecutionResult) else {}
        if not outcome:
            return GradingError("the cell gave no execution result")
        error = outcome.get("error_before_exec") or outcome.get("error_in_exec")
        if error is None and FAILED:
            return GradingError("the cell raised an error that its code took back")
        return error
    except CellTimeout as timeout:  # raised between the shell's own handlers
        return timeout
    except BaseException as error:  # noqa: BLE001 - whatever escaped the shell is this cell's failure
        return error
    finally:
        _setitimer(signal.ITIMER_PROF, 0)
        _setitimer(signal.ITIMER_REAL, 0)


def _reporter(send: Callable[..., None], index: int, job_id: str) -> Callable[[str, list], None]:
    """What :func:`autograde.hidden.check` hands its observations to in cell ``index``."""

    def report(exercise: str, items: list) -> None:
        send("observed", cell=index, job=job_id, exercise=exercise, items=items)

    return report


class GradingError(Exception):
    """What a lost exercise's name raises when its test cell runs again."""


def _dead(reason: str):
    def lost(*args, **kwargs):
        raise GradingError(reason)

    return lost


def _out_of_memory(error: BaseException, outputs: list[dict]) -> bool:
    """Did the cell fail for want of memory (the error itself, or an error it showed)?"""
    texts = [str(error), *(o.get("evalue", "") for o in outputs if o.get("output_type") == "error")]
    return isinstance(error, MemoryError) or any(o.get("ename") == "MemoryError" for o in outputs) \
        or any("can't allocate memory" in t or "not enough memory" in t for t in texts)


def messages_text(lang: str, key: str, **values: object) -> str:
    return messages.text(lang, f"grading_{key}", **values)


def _error(lang: str, key: str, **values: object) -> dict:
    text = messages_text(lang, key, **values)
    return {"output_type": "error", "ename": "GradingError", "evalue": text, "traceback": [f"GradingError: {text}"]}


def _jsonable(outputs: list[dict]) -> list[dict]:
    """Outputs with every value JSON can carry (a display's data may hold odd objects)."""
    try:
        _encode(outputs)
        return list(outputs)
    except (TypeError, ValueError):
        clean = []
        for output in outputs:
            try:
                _encode(output)
                clean.append(output)
            except (TypeError, ValueError):
                data = {k: v for k, v in output.get("data", {}).items() if isinstance(v, (str, dict, list))}
                clean.append({**output, "data": data or {"text/plain": "<output that cannot be saved>"},
                              "metadata": {}})
        return clean
