"""A warm grading worker: import torch once, then fork a clean child for every notebook.

``python -m autograde.worker`` reads jobs (one JSON object per line) on stdin and answers each
with one JSON line on stdout. Start-up pays for what no submission can influence (the
interpreter, torch, scikit-learn, matplotlib, IPython, the checks); each job then runs in a
child forked from that clean state, so nothing one student's code did (globals, patched
functions, files in the working folder) is seen by the next.

For each job the worker:

- forks a child in its own session, working folder (removed afterwards) and memory limit
  (``RLIMIT_AS``), which runs the cells (:func:`autograde.kernel.run_cells`);
- kills the child when a cell outlives its timeout by more than a grace period, or the whole
  notebook outlives the submission's wall-clock cap;
- when the child dies (``os._exit``, a segfault, the memory killer) or is killed, runs the
  notebook again in a fresh child, skipping the cells that killed it, so every other exercise is
  still graded and the lost one scores zero with the reason;
- afterwards kills every process the child left behind (the worker is a child subreaper, so
  orphans come back to it).

The answer holds each cell's outputs and execution count, and the events (crashes, timeouts,
memory, tampering) the report shows.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time

GRACE = 3.0  # seconds a cell may outlive its timeout before the child is killed
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def warm():
    """Import everything a notebook of the course needs, once; return the IPython shell to fork."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    import matplotlib.pyplot  # noqa: F401
    import torch

    torch.set_num_threads(1)
    import torch._dynamo  # noqa: F401 - imported lazily by the optimizers; it rewraps torch.manual_seed
    import torch.nn.functional  # noqa: F401
    import torch.testing  # noqa: F401

    layer = torch.nn.Linear(2, 1)  # one training step loads the lazy parts of autograd and optim
    for optimizer in (torch.optim.SGD(layer.parameters(), lr=0.1), torch.optim.Adam(layer.parameters())):
        optimizer.zero_grad()
        layer(torch.ones(1, 2)).sum().backward()
        optimizer.step()

    try:
        import ipywidgets  # noqa: F401
        import sklearn.datasets  # noqa: F401
    except ImportError:
        pass
    import autograde.checks  # noqa: F401
    import autograde.hidden  # noqa: F401
    from autograde import kernel

    for optional in ("explore", "explore.widgets"):
        try:
            __import__(optional)
        except ImportError:
            pass
    return kernel.make_shell()


def _vm_size() -> int:
    """This process's virtual memory size in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(job: dict, skip: dict[int, str], write_fd: int, shell, scratch: str) -> None:
    """In the forked child: set the limits, then run the cells; never returns."""
    code = 0
    encode = json.JSONEncoder().encode  # bound before the learner's code can replace json.dumps
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        import resource

        limit = int(job.get("memory_limit") or 0)
        if limit > 0:
            ceiling = _vm_size() + limit
            resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir(scratch)
        os.environ.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=os.path.join(scratch, ".matplotlib"),
                          COURSE_LANG=job.get("lang") or "en")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        from autograde import kernel

        def send(message: dict) -> None:
            data = (encode(message) + "\n").encode()
            while data:
                data = data[os.write(write_fd, data):]

        kernel.run_cells(job, skip, send, shell=shell)
    except BaseException as error:  # noqa: BLE001 - the child must always end with os._exit
        code = 70
        try:
            os.write(write_fd, (encode({"broken": f"{type(error).__name__}: {error}"}) + "\n").encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        extra = " (out of memory?)" if number == signal.SIGKILL else ""
        return f"killed by signal {name}{extra}"
    if os.WIFEXITED(status):
        return f"the process exited with status {os.WEXITSTATUS(status)}"
    return "the process stopped"


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, session id) of every process this worker can see."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.append((int(entry), int(fields[1]), int(fields[3])))
    return found


def clean_up(session: int) -> int:
    """Kill what a child left running (its session, and orphans reparented to this worker); return how many."""
    killed = 0
    for _ in range(50):
        me = os.getpid()
        victims = {pid for pid, parent, sid in _processes() if pid != me and (sid == session or parent == me)}
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.02)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
    return killed


class Run:
    """One child running the notebook once; what it reported, and how it ended."""

    def __init__(self, job: dict, skip: dict[int, str], shell, scratch: str) -> None:
        read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(read_fd)
            _child(job, skip, write_fd, shell, scratch)
        os.close(write_fd)
        self.read_fd = read_fd
        self.buffer = b""
        self.cells: dict[int, dict] = {}
        self.current: int | None = None
        self.started = time.monotonic()
        self.done = False
        self.broken: str | None = None  # the grading kernel itself failed, because of the cell's code

    def messages(self, timeout: float) -> list[dict] | None:
        """Messages that arrived within ``timeout`` seconds; None at end of stream."""
        ready, _, _ = select.select([self.read_fd], [], [], max(timeout, 0))
        if not ready:
            return []
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        found = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                found.append(message)
        return found

    def kill(self) -> None:
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def wait(self) -> int:
        os.close(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        return status


def run_job(job: dict, shell) -> dict:
    """Grade-run one notebook: fork, watch, re-run after a crash; return outputs and events."""
    from autograde import messages

    lang = job.get("lang") or "en"
    cells = job["cells"]
    cell_timeout = float(job.get("cell_timeout", 10))
    cap = float(job.get("submission_timeout", 300))
    started = time.monotonic()
    deadline = started + cap
    skip: dict[int, str] = {}
    events: list[dict] = []
    runs, leftovers = 0, 0
    final: dict[int, dict] = {}
    scratch_root = tempfile.mkdtemp(prefix="grade-")
    try:
        while True:
            runs += 1
            scratch = tempfile.mkdtemp(dir=scratch_root)
            run = Run(job, skip, shell, scratch)
            cell_started = time.monotonic()
            ended = None  # why the child stopped early, if it did
            while True:
                now = time.monotonic()
                limit = deadline - now
                if run.current is not None:
                    limit = min(limit, cell_started + cell_timeout + GRACE - now)
                if limit <= 0:
                    if deadline - now <= 0:
                        ended = "time_limit"
                    else:
                        ended = "hung"
                    run.kill()
                    break
                batch = run.messages(min(limit, 1.0))
                if batch is None:
                    break
                for message in batch:
                    if "start" in message:
                        run.current, cell_started = int(message["start"]), time.monotonic()
                    elif "cell" in message:
                        run.cells[int(message["cell"])] = message
                        run.current = None
                    elif message.get("done"):
                        run.done = True
                    elif "broken" in message:
                        run.broken = str(message["broken"])[:200]
            status = run.wait()
            leftovers += clean_up(run.pid)
            shutil.rmtree(scratch, ignore_errors=True)
            final = run.cells
            if run.done:
                break
            index = run.current
            if ended == "time_limit" or index is None:
                how = "time_limit" if ended == "time_limit" else "crash"
                key, values = ("grading_time_limit", {"seconds": f"{cap:g}"}) if how == "time_limit" \
                    else ("grading_crashed", {"how": _describe(status)})
                lost = sorted({c["exercise"] for i, c in enumerate(cells) if c.get("exercise") and i not in final})
                for i in range(len(cells)):
                    if i not in final:
                        final[i] = {"cell": i, "outputs": [_error(messages.text(lang, key, **values))],
                                    "execution_count": None, "events": []}
                for exercise in lost:
                    events.append({"kind": how, "exercise": exercise, "detail": messages.text("en", key, **values)})
                break
            if ended == "hung":
                key, values, kind = "grading_hung", {"seconds": f"{cell_timeout:g}"}, "timeout"
            elif run.broken:
                key, values, kind = "grading_crashed", {"how": f"the code broke the grading kernel: {run.broken}"}, "crash"
            else:
                key, values, kind = "grading_crashed", {"how": _describe(status)}, "crash"
            skip[index] = messages.text(lang, key, **values)
            events.append({"kind": kind, "exercise": cells[index].get("exercise"), "detail": messages.text("en", key, **values)})
            if time.monotonic() >= deadline:
                continue  # the next pass reports the time limit at once
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    for message in final.values():
        events.extend(message.get("events") or [])
    if leftovers:
        events.append({"kind": "processes", "exercise": None, "detail": "processes left running were killed"})
    return {
        "id": job.get("id"),
        "cells": [{"outputs": final.get(i, {}).get("outputs", []),
                   "execution_count": final.get(i, {}).get("execution_count")} for i in range(len(cells))],
        "events": events,
        "runs": runs,
        "seconds": round(time.monotonic() - started, 3),
    }


def _error(text: str) -> dict:
    return {"output_type": "error", "ename": "GradingError", "evalue": text, "traceback": [f"GradingError: {text}"]}


def serve(stdin, stdout) -> None:
    """Answer jobs until stdin closes."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a job come back here, to be killed
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker ends with the grader
    shell = warm()
    stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            job = json.loads(line)
            answer = run_job(job, shell)
        except Exception as error:  # noqa: BLE001 - a broken job must not end the worker
            answer = {"id": None, "error": f"{type(error).__name__}: {error}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def main() -> None:
    # The protocol owns the original stdout; anything else printed goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, protocol)


if __name__ == "__main__":
    main()
