"""Grade notebooks on warm workers: a local pool of N processes, or a Dask cluster.

The grader submits a :class:`autograde.protocol.Task` (one submitted notebook) and receives its
:class:`~autograde.protocol.Verdict` as JSON; everything between runs away from the grading
process (:mod:`autograde.tasks`): preparing the notebook, running its
:class:`~autograde.protocol.Job` (which returns an :class:`~autograde.protocol.Answer` with the
executed cells' outputs and the events), scoring it. Only JSON crosses between the grader and a
worker, never pickles, and every answer is checked (the job's id and token, one result per code cell,
types and sizes), so a student's code cannot hand the grader anything but data, nor an answer
for another student's job. Every job has a deadline enforced here, from outside the worker: a
worker that is stopped or wedged is killed and replaced, and that notebook scores zero.

- :class:`LocalPool` starts ``workers`` warm processes (:mod:`autograde.worker`, inside the
  sandbox when there is one) and feeds them jobs from a queue, longest first; results come back
  as they finish; preparing and scoring run in a pool of helper processes (:mod:`autograde.tasks`).
  A worker that dies is restarted and its job tried once more; one that is late or breaks the
  protocol is replaced and its job fails (zero, with the reason).
- :class:`DaskPool` sends each task to a Dask distributed scheduler; on each Dask worker the task
  is prepared, run on a warm worker process of its own and scored (:func:`run_on_dask_worker`),
  so Dask's workers need only this package installed, not the course folder nor the gradebook.
  Dask is imported only here, only when ``--scheduler`` is given.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

from autograde import process_limit, protocol, tasks
from autograde import sandbox as sandboxes
from autograde.protocol import Answer, Job, Task, Verdict

READY_TIMEOUT = 300  # seconds a worker may take to import torch and friends
WORKERS_PER_HELPER = 4  # a helper prepares and scores for this many workers
STOP_CHECK = 2.0  # seconds between two looks at whether a worker was stopped


class WorkerError(RuntimeError):
    """A worker process could not start or died outside a job's child."""


class WorkerLate(WorkerError):
    """A worker gave no answer by the job's deadline (stopped or wedged): it is killed, never trusted again."""


def worker_argv(box: sandboxes.Sandbox) -> list[str]:
    """The command of a warm worker in ``box``; without ``given/`` it runs 01_network only and preloads
    less (:func:`autograde.worker.preload`)."""
    return [sys.executable, "-P", "-m", "autograde.worker", *(["--wipe-tmp"] if box.on else []),
            *([] if sandboxes.mounts_given(box) else ["--light"])]


class WorkerProcess:
    """One warm worker process and the pipe to it; every read has a deadline."""

    def __init__(self, box: sandboxes.Sandbox) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        argv = worker_argv(box)
        # Its own process cap (a pids control group where the machine allows one): a fork loop stops there.
        command, self.group = process_limit.start(box.command(*argv))
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, bufsize=0)
        self.buffer = b""
        try:
            ready = json.loads(self._read_line(READY_TIMEOUT))
        except (WorkerError, ValueError) as error:
            self.close()
            raise WorkerError(f"a grading worker did not start: {error}") from None
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            self.close()
            raise WorkerError("a grading worker did not start: it did not say it was ready")

    def _read_line(self, timeout: float) -> bytes:
        """One line from the worker within ``timeout`` seconds (:class:`WorkerLate` if not, :class:`WorkerError` at its end)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerLate(f"gave no answer within {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], min(left, STOP_CHECK))
            if not ready:
                if self.stopped():
                    raise WorkerLate("was stopped by a signal")
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerError(f"a grading worker died: {self._log_tail()}")
            self.buffer += chunk
            if len(self.buffer) > protocol.MAX_ANSWER:
                raise protocol.ProtocolError(f"an answer larger than {protocol.MAX_ANSWER} bytes")
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def stopped(self) -> bool:
        """Is the worker process stopped (``SIGSTOP`` and friends)? It would never answer.

        The worker is the Python process of the tree whose parent is not Python (the job's
        child, forked from it, may stop itself: the worker deals with that).
        """
        tree = _descendants(self.proc.pid, include_root=True)
        python = os.fsencode(sys.executable)

        def is_python(pid: int) -> bool:
            return pid in tree and tree[pid][2].split(b"\0")[0] == python

        return any(state in "Tt" for pid, (parent, state, _) in tree.items() if is_python(pid) and not is_python(parent))

    def _write(self, data: bytes, timeout: float) -> None:
        """Send ``data`` within ``timeout`` seconds (a stopped worker does not read its pipe)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerLate(f"took no job within {timeout:g} s")
            _, ready, _ = select.select([], [fd], [], left)
            if not ready:
                continue
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except OSError:
                raise WorkerError(f"a grading worker died: {self._log_tail()}") from None

    def _log_tail(self) -> str:
        self.log.seek(0)
        lines = self.log.read().strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def run(self, job: Job) -> Answer:
        """Run ``job``; its answer, checked against it. Raises :class:`WorkerError` (died),
        :class:`WorkerLate` (past the deadline) or :class:`~autograde.protocol.ProtocolError`."""
        self._write((job.to_json() + "\n").encode(), job.deadline())
        answer = Answer.from_json(self._read_line(job.deadline()), job)
        if self.buffer:
            raise protocol.ProtocolError("the worker sent more than one answer")
        return answer

    def close(self) -> None:
        """Stop the worker and everything below it: it holds nothing worth a clean shutdown."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        for _ in range(2):  # twice: a process may have forked while the first pass ran
            for pid in [*_descendants(self.proc.pid), self.proc.pid]:  # stopped or not, outside a sandbox too
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        process_limit.remove(self.group)


def _descendants(root: int, include_root: bool = False) -> dict[int, tuple[int, str, bytes]]:
    """pid -> (parent, state, command line) of every process below ``root`` (and ``root`` itself if asked)."""
    from autograde.worker import process_table

    table = process_table()
    found = [root] if include_root and root in table else []
    todo = [root]
    while todo:
        parent = todo.pop()
        children = [pid for pid, row in table.items() if row[0] == parent and pid not in found]
        found.extend(children)
        todo.extend(children)
    rows = {}
    for pid in found:  # command lines of the tree only: reading every process's would cost more
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                rows[pid] = (table[pid][0], table[pid][1], cmd.read())
        except OSError:
            continue
    return rows


def run_with_retry(get_worker, replace_worker, job: Job) -> Answer:
    """Run ``job``; if the worker dies, start a new one and try once more.

    A worker that is late, or whose answer breaks the protocol, is replaced and the job is not
    tried again: the notebook scores zero with the reason (fail closed).
    """
    for attempt in (1, 2):
        try:
            return get_worker().run(job)
        except WorkerLate as error:
            replace_worker()
            return Answer.failed(job, f"its grading worker {error}, so it was killed and replaced "
                                      "(the notebook's code stopped or wedged it)")
        except protocol.ProtocolError as error:
            replace_worker()
            return Answer.failed(job, f"its grading worker's answer broke the protocol ({error}) and was replaced")
        except WorkerError as error:
            replace_worker()
            if attempt == 2:
                return Answer.failed(job, str(error))
    raise AssertionError("unreachable")


class Helper:
    """A helper process (``python -m autograde.tasks``) that prepares and scores notebooks, one JSON line each way."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "autograde.tasks"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, encoding="utf-8")

    def ask(self, request: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.log.seek(0)
            tail = self.log.read().strip().splitlines()
            raise WorkerError(f"a grading helper died: {tail[-1] if tail else self.proc.poll()}")
        return json.loads(line)

    def hang_up(self) -> None:
        """Close its request channel: it ends when it has read everything."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()

    def close(self) -> None:
        self.hang_up()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Helpers:
    """``size`` helper processes shared by the pool's threads, started at once (they warm up beside the workers)."""

    def __init__(self, size: int) -> None:
        self.free: queue.Queue = queue.Queue()
        self.all: list[Helper] = [Helper() for _ in range(size)]
        for helper in self.all:
            self.free.put(helper)
        self.lock = threading.Lock()

    def ask(self, request: dict) -> dict:
        helper = self.free.get()
        try:
            return helper.ask(request)
        except Exception:
            with self.lock:  # a helper that failed is replaced
                helper.close()
                self.all.remove(helper)
                helper = Helper()
                self.all.append(helper)
            raise
        finally:
            self.free.put(helper)

    def close(self) -> None:
        for helper in self.all:  # all told first: they exit side by side, not one after the other
            helper.hang_up()
        for helper in self.all:
            helper.close()


class LocalPool:
    """``workers`` warm processes on this machine; tasks go in with :meth:`submit`, verdicts come out of :meth:`next`.

    A worker's sandbox is fixed when it starts: ``given/`` mounted (the assignments after 01_network)
    or not (:func:`autograde.sandbox.for_job`), and switching means a new worker (seconds of imports).
    So each thread takes the first waiting task its worker can run as it is, and switches only when
    no such task waits; ``given``, one flag per worker, is how they start (default: all mount it).
    Helper processes prepare and score the notebooks, one for every :data:`WORKERS_PER_HELPER`
    workers: that work takes a small fraction of a notebook's run.
    """

    def __init__(self, workers: int, box: sandboxes.Sandbox, given: list[bool] | None = None) -> None:
        self.workers = max(1, workers)
        self.box = box
        self.helpers = Helpers(max(1, -(-min(self.workers, len(os.sched_getaffinity(0))) // WORKERS_PER_HELPER)))
        self.pending: list[Task] = []
        self.closing = False
        self.ready = threading.Condition()
        self.done: queue.Queue = queue.Queue()
        starts = list(given or [])[:self.workers]
        starts += [True] * (self.workers - len(starts))
        self.threads = [threading.Thread(target=self._serve, args=(mounts,), daemon=True) for mounts in starts]
        for thread in self.threads:
            thread.start()  # each thread starts its worker process at once, in parallel

    def submit(self, task: Task) -> None:
        with self.ready:
            self.pending.append(task)
            self.ready.notify_all()

    def next(self, timeout: float | None = None) -> tuple[Task, str] | None:
        """The next finished (task, verdict JSON), or None if none finished within ``timeout``."""
        try:
            return self.done.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        with self.ready:
            self.closing = True
            self.ready.notify_all()
        for thread in self.threads:
            thread.join()
        self.helpers.close()

    def _take(self, mounts: bool) -> Task | None:
        """The first waiting task a worker with ``given/`` mounted (or not) runs as it is, else the first
        waiting task; None once the pool closes with nothing waiting."""
        with self.ready:
            while True:
                if self.pending:
                    task = next((t for t in self.pending if needs_given(t.assignment) == mounts), self.pending[0])
                    self.pending.remove(task)
                    return task
                if self.closing:
                    return None
                self.ready.wait()

    def _serve(self, mounts: bool) -> None:
        holder: list[WorkerProcess | None] = [None]
        box = [sandboxes.with_given(self.box) if mounts else self.box]  # the sandbox of the worker in holder

        def get() -> WorkerProcess:
            if holder[0] is None:
                holder[0] = WorkerProcess(box[0])
            return holder[0]

        def replace() -> None:
            if holder[0] is not None:
                holder[0].close()
            holder[0] = None

        try:
            try:
                get()
            except WorkerError:
                pass  # tried again with the first job, which then reports the failure
            while True:
                task = self._take(sandboxes.mounts_given(box[0]))
                if task is None:
                    return
                try:
                    started = self.helpers.ask({"start": task.to_json()})
                    job_json, state = started["job"], started["state"]
                    answer = None
                    if job_json is not None:
                        job = Job.from_json(job_json)
                        if (wanted := sandboxes.for_job(self.box, job.id)) != box[0]:
                            replace()
                            box[0] = wanted
                        try:
                            answer = run_with_retry(get, replace, job)
                        except Exception as error:  # noqa: BLE001 - report it as this job's failure
                            replace()
                            answer = Answer.failed(job, f"{type(error).__name__}: {error}")
                    verdict = self.helpers.ask({"finish": state, "answer": answer.to_json() if answer else None})["verdict"]
                except Exception as error:  # noqa: BLE001 - a helper lost: this notebook's failure
                    verdict = Verdict.failed(task, f"{task.notebook}: could not be graded: "
                                                   f"{type(error).__name__}: {error}").to_json()
                self.done.put((task, verdict))
        finally:
            replace()


@functools.cache
def needs_given(assignment: str) -> bool:
    """Does ``assignment`` run in a sandbox with ``given/`` mounted (:func:`autograde.sandbox.for_job`)?"""
    from autograde import given

    return given.gets_given(assignment)


# -- Dask -----------------------------------------------------------------------------------
_LOCAL = threading.local()


def run_on_dask_worker(task_json: str, sandbox_mode: str) -> str:
    """What a Dask worker runs: one task, prepared and scored here, its job run on this thread's warm
    worker process (started once, and again when a job needs the other sandbox: ``given/`` or not);
    the verdict, as JSON."""
    base = sandboxes.choose(sandbox_mode)

    def replace() -> None:
        worker = getattr(_LOCAL, "worker", None)
        if worker is not None:
            worker.close()
        _LOCAL.worker = None

    def run(job: Job) -> Answer:
        box = sandboxes.for_job(base, job.id)

        def get() -> WorkerProcess:
            if getattr(_LOCAL, "worker", None) is not None and _LOCAL.box != box:
                replace()
            if getattr(_LOCAL, "worker", None) is None:
                _LOCAL.worker, _LOCAL.box = WorkerProcess(box), box
            return _LOCAL.worker

        return run_with_retry(get, replace, job)

    return tasks.grade(task_json, run)


class DaskPool:
    """Jobs sent to the Dask scheduler at ``address`` (``tcp://host:8786``); same interface as :class:`LocalPool`."""

    def __init__(self, address: str, sandbox_mode: str) -> None:
        try:
            from distributed import Client
        except ImportError as error:
            raise RuntimeError("--scheduler needs Dask: pip install 'distributed'") from error
        self.client = Client(address, timeout=30)
        self.sandbox_mode = sandbox_mode
        self.pending: dict = {}

    def submit(self, task: Task) -> None:
        future = self.client.submit(run_on_dask_worker, task.to_json(), self.sandbox_mode, pure=False)
        self.pending[future] = task

    def next(self, timeout: float | None = None) -> tuple[Task, str] | None:
        from distributed import wait

        if not self.pending:
            return None
        try:
            finished = wait(list(self.pending), timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return None
        if not finished:
            return None
        future = next(iter(finished))
        task = self.pending.pop(future)
        try:
            verdict = future.result()
        except Exception as error:  # noqa: BLE001 - the cluster lost the task
            verdict = Verdict.failed(task, f"{task.notebook}: could not be run: the cluster could not run it: "
                                           f"{type(error).__name__}: {error}").to_json()
        return task, verdict

    def close(self) -> None:
        self.client.close()
