"""Run notebook jobs on warm workers: a local pool of N processes, or a Dask cluster.

A job is a JSON-able dict (see :mod:`autograde.kernel`); running it returns the executed cells'
outputs and the events. Only JSON crosses between the grader and a worker, never pickles, so a
student's code cannot hand the grader anything but data.

- :class:`LocalPool` starts ``workers`` warm processes (:mod:`autograde.worker`, inside the
  sandbox when there is one) and feeds them jobs from a queue, longest first; results come back
  as they finish. A worker that dies is restarted and its job tried once more.
- :class:`DaskPool` sends each job to a Dask distributed scheduler; on each Dask worker the job
  runs on a warm worker process of its own (:func:`run_on_dask_worker`), so Dask's workers need
  only this package installed. Dask is imported only here, only when ``--scheduler`` is given.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import tempfile
import threading

from autograde import sandbox as sandboxes

READY_TIMEOUT = 300  # seconds a worker may take to import torch and friends


class WorkerError(RuntimeError):
    """A worker process could not start or died outside a job's child."""


class WorkerProcess:
    """One warm worker process and the pipe to it."""

    def __init__(self, box: sandboxes.Sandbox) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(box.command(sys.executable, "-m", "autograde.worker"),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1)
        ready = self._read_line(READY_TIMEOUT)
        if not ready or not json.loads(ready).get("ready"):
            raise WorkerError(f"a grading worker did not start: {self._log_tail()}")

    def _read_line(self, timeout: float | None = None) -> str:
        if timeout is None:
            return self.proc.stdout.readline()
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return box[0] if box else ""

    def _log_tail(self) -> str:
        self.log.seek(0)
        lines = self.log.read().strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def run(self, job: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise WorkerError(f"a grading worker died: {self._log_tail()}")
        return json.loads(line)

    def close(self) -> None:
        """Stop the worker: it holds nothing worth a clean shutdown."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def run_with_retry(get_worker, replace_worker, job: dict) -> dict:
    """Run ``job``; if the worker itself dies, start a new one and try once more."""
    for attempt in (1, 2):
        try:
            return get_worker().run(job)
        except WorkerError as error:
            replace_worker()
            if attempt == 2:
                return {"id": job.get("id"), "error": str(error)}
    raise AssertionError("unreachable")


class LocalPool:
    """``workers`` warm processes on this machine; jobs go in with :meth:`submit`, results come out of :meth:`next`."""

    def __init__(self, workers: int, box: sandboxes.Sandbox) -> None:
        self.workers = max(1, workers)
        self.box = box
        self.todo: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        self.threads = [threading.Thread(target=self._serve, daemon=True) for _ in range(self.workers)]
        for thread in self.threads:
            thread.start()  # each thread starts its worker process at once, in parallel

    def submit(self, job: dict) -> None:
        self.todo.put(job)

    def next(self, timeout: float | None = None) -> tuple[dict, dict] | None:
        """The next finished (job, result), or None if none finished within ``timeout``."""
        try:
            return self.done.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        for _ in self.threads:
            self.todo.put(None)
        for thread in self.threads:
            thread.join()

    def _serve(self) -> None:
        holder: list[WorkerProcess | None] = [None]

        def get() -> WorkerProcess:
            if holder[0] is None:
                holder[0] = WorkerProcess(self.box)
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
                job = self.todo.get()
                if job is None:
                    return
                try:
                    result = run_with_retry(get, replace, job)
                except Exception as error:  # noqa: BLE001 - report it as this job's failure
                    result = {"id": job.get("id"), "error": f"{type(error).__name__}: {error}"}
                self.done.put((job, result))
        finally:
            replace()


# -- Dask -----------------------------------------------------------------------------------
_LOCAL = threading.local()


def run_on_dask_worker(job_json: str, sandbox_mode: str) -> str:
    """The task a Dask worker runs: one job on this thread's warm worker process (started once)."""
    box = sandboxes.choose(sandbox_mode)

    def get() -> WorkerProcess:
        if getattr(_LOCAL, "worker", None) is None:
            _LOCAL.worker = WorkerProcess(box)
        return _LOCAL.worker

    def replace() -> None:
        worker = getattr(_LOCAL, "worker", None)
        if worker is not None:
            worker.close()
        _LOCAL.worker = None

    result = run_with_retry(get, replace, json.loads(job_json))
    result["sandbox"] = box.note
    return json.dumps(result)


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

    def submit(self, job: dict) -> None:
        future = self.client.submit(run_on_dask_worker, json.dumps(job), self.sandbox_mode, pure=False)
        self.pending[future] = job

    def next(self, timeout: float | None = None) -> tuple[dict, dict] | None:
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
        job = self.pending.pop(future)
        try:
            result = json.loads(future.result())
        except Exception as error:  # noqa: BLE001 - the cluster lost the task
            result = {"id": job.get("id"), "error": f"the cluster could not run it: {type(error).__name__}: {error}"}
        return job, result

    def close(self) -> None:
        self.client.close()
