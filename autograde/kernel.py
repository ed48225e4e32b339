"""Run a notebook's code cells in this process, the way a Jupyter kernel would, for grading.

This is the part of the grader that runs inside a forked child of a warm worker
(:mod:`autograde.worker`): the worker has already imported torch and the checks, so a child only
runs the learner's cells. :func:`run_cells` executes them one by one in an IPython shell and
records what a kernel would have sent back for each cell (streams, displays, results, errors),
in nbformat's output format, so nbgrader can score the notebook as usual.

Around each cell it also enforces what a kernel does not:

- a per-cell timeout (``SIGALRM``; the worker kills the child if the cell ignores it);
- the integrity of what the tests rely on (:class:`Watch`): if learner code replaces
  ``torch.allclose``, a builtin, ``sys.stderr``, the checks, or a module the locked cells
  imported, the change is undone and the exercise scores zero;
- poisoned exercises: an exercise whose code killed the kernel, or that tampered, gets an error
  in its test cell that says why (the test cell still runs: later tests may use what it defines).

Messages go to the worker as JSON lines on a pipe: ``{"start": i}`` before cell ``i`` and
``{"cell": i, ...}`` after it, then ``{"done": true}``.
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

from autograde import messages

# Bound now, before any learner code runs: the kernel keeps working if a learner replaces
# json.dumps, time.perf_counter or os.fstat in their module.
_encode = json.JSONEncoder().encode
_perf_counter = time.perf_counter
_setitimer = signal.setitimer
_fstat = os.fstat
_pread = os.pread

MAX_CELL_OUTPUT = 2 * 2**20  # characters of stream output kept per cell; the rest is cut
CURRENT: list[dict] = []  # the outputs of the cell that is running


class CellTimeout(BaseException):
    """Raised inside a cell that runs longer than the per-cell timeout."""


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
def _watched_namespaces() -> dict[str, dict]:
    """label -> a namespace whose entries learner code must not replace."""
    import torch
    import torch.nn
    import torch.nn.functional
    import torch.testing

    import autograde.checks
    import autograde.hidden
    import autograde.messages

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
        "autograde.checks": autograde.checks.__dict__,
        "autograde.hidden": autograde.hidden.__dict__,
        "autograde.messages": autograde.messages.__dict__,
        "autograde.checks.Checker": autograde.checks.Checker.__dict__,
    }
    return spaces


SYS_NAMES = ("stdout", "stderr", "stdin", "displayhook", "excepthook", "modules", "meta_path", "path_hooks")
GUARDED_MODULES = ("builtins", "torch", "torch.testing", "torch.nn", "torch.nn.functional", "math", "warnings",
                   "autograde", "autograde.checks", "autograde.hidden", "autograde.messages")


class Watch:
    """Remember what the tests rely on; find, undo and name any change learner code makes to it."""

    def __init__(self) -> None:
        self.spaces = _watched_namespaces()
        self.snapshot = {label: dict(space) for label, space in self.spaces.items()}
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
                        _restore(label, key, value)
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


_MISSING = object()


def _restore(label: str, key: str, value: object) -> None:
    owner = _owner_of(label)
    if owner is not None:
        try:
            setattr(owner, key, value)
        except (TypeError, AttributeError):
            pass


def _owner_of(label: str):
    import torch

    import autograde.checks

    return {"torch.Tensor": torch.Tensor, "torch._C.TensorBase": torch._C.TensorBase,
            "torch.nn.Module": torch.nn.Module, "autograde.checks.Checker": autograde.checks.Checker}.get(label)


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
def _on_alarm(signum, frame):
    raise CellTimeout()


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


def run_cells(job: dict, skip: dict[int, str], send: Callable[[dict], None], shell=None) -> None:
    """Execute the job's cells in order; ``skip`` maps cell indexes not to run to the reason."""
    lang = job.get("lang") or "en"
    cells = job["cells"]
    exercises = set(job.get("exercises", []))
    timeout = float(job.get("cell_timeout", 10))
    poisoned: dict[str, str] = dict(job.get("poison", {}))
    for index, reason in skip.items():
        exercise = cells[index].get("exercise")
        if exercise and exercise not in poisoned:
            poisoned[exercise] = reason

    shell = shell or make_shell()
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    sys.stdin = io.StringIO("")
    fds = FdCapture()
    watch = Watch()
    watch.sys.update(stdout=sys.stdout, stderr=sys.stderr, stdin=sys.stdin)
    watch.fds = {fd: _fd_identity(fd) for fd in (1, 2)}
    signal.signal(signal.SIGALRM, _on_alarm)

    memory_gib = float(job.get("memory_limit") or 0) / 2**30
    taken: set[str] = set()  # exercises found bound to the reference
    for index, cell in enumerate(cells):
        send({"start": index})
        CURRENT.clear()
        sys.stdout.written = sys.stderr.written = 0
        exercise, events = cell.get("exercise"), []
        started = _perf_counter()
        if index in skip and not cell.get("test"):
            CURRENT.append(_error(lang, "skipped", reason=skip[index]))
            send({"cell": index, "outputs": list(CURRENT), "execution_count": None, "events": events})
            continue
        # A test cell always runs, even for a lost exercise: later tests may use what it defines.
        # If it killed the kernel before, the exercise's name now raises instead.
        saved = _MISSING
        if index in skip and exercise:
            saved = shell.user_ns.get(exercise, _MISSING)
            shell.user_ns[exercise] = _dead(skip[index])
        _execute(shell, cell["source"], timeout)
        if saved is not _MISSING:
            shell.user_ns[exercise] = saved
        elif index in skip and exercise:
            shell.user_ns.pop(exercise, None)
        changed = watch.check(shell.user_ns, learner=bool(cell.get("learner")))
        fds.collect()
        for output in CURRENT:
            if output.get("output_type") == "error" and output.get("ename") == "CellTimeout":
                output["evalue"] = messages_text(lang, "timeout", seconds=f"{timeout:g}")
                output["traceback"] = [f"CellTimeout: {output['evalue']}"]
                events.append({"kind": "timeout", "exercise": exercise,
                               "detail": messages_text("en", "timeout", seconds=f"{timeout:g}")})
            elif output.get("output_type") == "error" and _out_of_memory(output):
                events.append({"kind": "memory", "exercise": exercise, "detail": f"the limit is {memory_gib:g} GiB"})

        if changed:
            what = ", ".join(changed)
            if exercise:
                poisoned.setdefault(exercise, messages_text(lang, "tampered", what=what))
            events.append({"kind": "tamper", "exercise": exercise, "detail": what})
        if cell.get("learner"):
            for name in sorted(exercises - taken):
                origin = reference_origin(shell.user_ns.get(name))
                if origin:
                    taken.add(name)
                    what = f"{name} taken from {origin}"
                    poisoned.setdefault(name, messages_text(lang, "tampered", what=what))
                    events.append({"kind": "tamper", "exercise": name, "detail": what})
        if cell.get("test") and exercise in poisoned:
            CURRENT.append(_error(lang, "poisoned", reason=poisoned[exercise]))
        if not cell.get("learner") and not cell.get("test"):
            watch.protect(shell.user_ns)
        send({"cell": index, "outputs": _jsonable(CURRENT), "execution_count": shell.execution_count - 1,
              "events": events, "seconds": round(_perf_counter() - started, 3)})
    send({"done": True})


def _execute(shell, source: str, timeout: float) -> None:
    """Run one cell under the per-cell timeout."""
    _setitimer(signal.ITIMER_REAL, timeout)
    try:
        shell.run_cell(source, store_history=True)
    except CellTimeout:  # raised between the shell's own handlers
        CURRENT.append({"output_type": "error", "ename": "CellTimeout", "evalue": "", "traceback": []})
    finally:
        _setitimer(signal.ITIMER_REAL, 0)


class GradingError(Exception):
    """What a lost exercise's name raises when its test cell runs again."""


def _dead(reason: str):
    def lost(*args, **kwargs):
        raise GradingError(reason)

    return lost


def _out_of_memory(output: dict) -> bool:
    return output.get("ename") == "MemoryError" or "can't allocate memory" in output.get("evalue", "") \
        or "not enough memory" in output.get("evalue", "")


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
