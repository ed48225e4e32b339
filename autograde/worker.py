"""A warm grading worker: import torch once, then fork a clean child for every notebook.

``python -m autograde.worker`` reads jobs (one JSON object per line) on stdin and answers each
with one JSON line on stdout. Start-up pays for what no submission can influence (the
interpreter, torch, scikit-learn, matplotlib, IPython, the checks); each job then runs in a
child forked from that clean state, so nothing one student's code did (globals, patched
functions, files in the working folder) is seen by the next.

The worker is started with ``python -P`` (neither its working folder nor ``/tmp`` is on
``sys.path``). For each job (a :class:`autograde.protocol.Job`) the worker:

- forks a child that keeps no descriptor but its own result pipe (stdin, stdout and stderr on
  ``/dev/null``, then captured per cell), in its own session, private working and temporary
  folder (removed afterwards), memory limit (``RLIMIT_AS``) and processor-time limit
  (``RLIMIT_CPU``, the hard stop); the child runs the cells (:func:`autograde.kernel.run_cells`);
- reads the child's messages under the protocol (:class:`autograde.protocol.ChildMessage`: the
  run's token, cell indexes in order, sizes, and the observations of each hidden check, which a
  test cell that ran to the end must have reported); a message that breaks it counts as a crash
  of the cell that was running (for missing observations: of the learner cell that ran last);
- measures the child's processor time from outside and kills it when a cell goes past its limit
  (processor time, or the generous wall-clock backstop) by more than a grace period, or the
  notebook past its own;
- when the child dies (``os._exit``, a segfault, the memory killer) or is killed, runs the
  notebook again in a fresh child, skipping the cells that killed it, so every other exercise is
  still graded and the lost one scores zero with the reason;
- afterwards, whatever happened, reaps the child and kills every process it left behind (the
  worker is a child subreaper, so orphans come back to it); in the sandbox it also empties its
  private ``/tmp`` (``--wipe-tmp``).

The answer (:class:`autograde.protocol.Answer`) holds each cell's outputs, execution count and
status, and the events (crashes, timeouts, memory, tampering) the report shows.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time

from autograde import protocol
from autograde.protocol import Answer, CellResult, Event, Job

GRACE = 3.0  # seconds a cell may outlive its limit before the child is killed
POLL = 0.25  # seconds between two looks at a child's processor time
TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
SHARED_FOLDERS = ("/dev/shm",)  # writable in the sandbox besides /tmp, and kept by it from one job to the next


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def warm(light: bool = False):
    """Import everything a notebook of the course needs, once; return the IPython shell to fork."""
    preload(light)
    from autograde import kernel

    return kernel.make_shell()


def preload(light: bool = False) -> None:
    """Import what the course's notebooks use and run one training step (the lazy parts of torch).

    ``light``: for a worker without ``given/``, which runs 01_network only: that notebook uses
    neither the widgets nor scikit-learn, so their imports (over a second) are left out. The rest
    stays, whatever a notebook uses: importing the optimizers' compiler in a child would rewrap
    ``torch.manual_seed`` there, a change the tamper check would see.
    """
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

    import autograde.checks  # noqa: F401
    import autograde.hidden  # noqa: F401

    if not light:
        try:
            import ipywidgets  # noqa: F401
            import sklearn.datasets  # noqa: F401
        except ImportError:
            pass

    # Never the reference solutions (``solutions/`` is not in the sandbox); the hidden tests' fixture network
    # comes from ``given/``, which is there only for the assignments after 01_network.


def _vm_size() -> int:
    """This process's virtual memory size in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _close_other_fds(keep: int) -> None:
    """Leave the child only stdin/stdout/stderr (on /dev/null) and ``keep``: never the worker's own pipes."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _child(job: Job, skip: dict[int, str], write_fd: int, token: str, shell, scratch: str, cpu_left: float) -> None:
    """In the forked child: drop every descriptor but its result pipe, set the limits, run the cells; never returns."""
    code = 0
    encode = json.JSONEncoder(ensure_ascii=False).encode  # bound before the learner's code can replace json.dumps

    def send(kind: str, **fields: object) -> None:
        data = (encode(protocol.child_line(token, kind, **{k: protocol.plain(v) for k, v in fields.items()})) + "\n").encode()
        while data:
            data = data[os.write(write_fd, data):]

    try:
        _close_other_fds(write_fd)
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        import resource

        if job.memory_limit > 0:
            ceiling = _vm_size() + job.memory_limit
            resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # The worker measures processor time from outside (/proc, exact); this is the hard stop if it cannot.
        # The kernel counts RLIMIT_CPU in clock ticks, which on a loaded machine charge this process for
        # time others used (seen: the limit reached after 70% of it), so it is set well above the budget.
        seconds = max(1, math.ceil(2 * cpu_left + GRACE))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 2))
        os.chdir(scratch)
        os.environ.update(HOME=scratch, TMPDIR=scratch, MPLCONFIGDIR=os.path.join(scratch, ".matplotlib"),
                          COURSE_LANG=job.lang)
        tempfile.tempdir = scratch
        from autograde import kernel

        kernel.run_cells(job, skip, send, shell=shell)
    except BaseException as error:  # noqa: BLE001 - the child must always end with os._exit
        code = 70
        try:
            send("broken", detail=f"{type(error).__name__}: {error}")
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


CLEAN_UP_SECONDS = 60.0  # how long a clean-up waits for killed processes to be gone
_still_exiting: set[int] = set()  # processes the last clean-up killed that had not yet ended


def process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, state, session id) of every process this one can see."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), fields[0], int(fields[3]))
    return found


def clean_up(session: int) -> int:
    """Kill what a child left running (its session, and orphans reparented to this worker); return how many.

    It waits until they are gone (a process with a large memory map takes a while to exit), so that
    nothing one job started is still there, and blamed, when the next job's clean-up looks.
    """
    global _still_exiting
    me, killed = os.getpid(), set()
    deadline = time.monotonic() + CLEAN_UP_SECONDS
    while True:
        table = process_table()
        victims = {pid for pid, (parent, state, sid) in table.items()
                   if pid != me and state != "Z" and (sid == session or parent == me)}
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed |= victims
        while True:  # reap what has ended
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not victims or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # Killed but not yet gone after the deadline: not counted again against the next job.
    counted = killed - _still_exiting
    _still_exiting = victims
    return len(counted)


def cpu_seconds(pid: int) -> float:
    """Processor time (user + system) ``pid`` has used, with its children that ended; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS


class Run:
    """One child running the notebook once: what it reported (checked against the protocol), and how it ended."""

    def __init__(self, job: Job, skip: dict[int, str], shell, scratch: str, cpu_left: float) -> None:
        self.token = secrets.token_hex(16)
        read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(read_fd)
            _child(job, skip, write_fd, self.token, shell, scratch, cpu_left)
        os.close(write_fd)
        self.read_fd = read_fd
        self.buffer = b""
        self.job = job
        self.expect = protocol.Expect(len(job.cells), tuple(c.hidden for c in job.cells))
        self.events: list[Event] = []
        self.broken: str | None = None  # the grading kernel itself failed, or broke the protocol, because of the cell's code
        self.violated = False
        self.blamed: int | None = None  # the cell a protocol violation is charged to
        self.cell_started = time.monotonic()
        self.cell_cpu = 0.0  # the child's processor time when the current cell started
        self.cpu = 0.0  # the child's processor time, last measured
        self.status: int | None = None

    @property
    def current(self) -> int | None:
        return self.expect.current

    @property
    def done(self) -> bool:
        return self.expect.done and not self.violated

    def read(self, timeout: float) -> bool:
        """Take in what arrived within ``timeout`` seconds; False at end of stream or after a violation."""
        ready, _, _ = select.select([self.read_fd], [], [], max(timeout, 0))
        self.cpu = cpu_seconds(self.pid) or self.cpu
        if not ready:
            return True
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            return False
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        try:
            if len(self.buffer) > protocol.MAX_MESSAGE:
                raise protocol.ProtocolError(f"a message from the child is larger than {protocol.MAX_MESSAGE} bytes")
            for line in lines:
                message = protocol.ChildMessage.parse(line, self.token, self.expect.cells, self.job.id)
                if message.kind == "broken":
                    self.broken = message.detail[:200]
                    continue
                self.expect.accept(message)
                if message.kind == "start":
                    self.cell_started, self.cell_cpu = time.monotonic(), self.cpu
                elif message.kind == "cell":
                    self.events.extend(message.events)
        except protocol.ProtocolError as error:
            self.broken = str(error)[:300]
            self.violated = True
            # blamed on the cell that was running (or had just run) when the bad message came
            current = self.expect.current if self.expect.current is not None else self.expect.next - 1
            if isinstance(error, protocol.MissingObservations):
                # Only learner code stops a hidden check from reporting (or forges the cells that follow it):
                # the learner cell that ran last before this test cell is the one not to run again.
                current = next((i for i in range(current, -1, -1) if self.job.cells[i].learner), current)
            self.blamed = current if current >= 0 else None
            return False
        return True

    def kill(self) -> None:
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def wait(self) -> int:
        """Reap the child (killed first if it has not ended) and every process it left; return its status."""
        if self.status is None:
            try:
                os.close(self.read_fd)
            except OSError:
                pass
            _, self.status = os.waitpid(self.pid, 0)
        return self.status


def _time_limit(job: Job, cpu_used: float, started: float) -> tuple[str, dict] | None:
    """The notebook's limit it has reached, as a message key and its values; None if neither."""
    if cpu_used >= job.submission_timeout:
        return "grading_time_limit", {"seconds": f"{job.submission_timeout:g}"}
    if time.monotonic() - started >= job.submission_wall_timeout:
        return "grading_wall_limit", {"seconds": f"{job.submission_wall_timeout:g}"}
    return None


def _watch(run: Run, job: Job, cpu_before: float, started: float) -> str | None:
    """Follow one child until it ends; kill it when it outlives a limit. Returns ``limit``, ``hung`` or None."""
    while True:
        now = time.monotonic()
        if _time_limit(job, cpu_before + run.cpu, started):
            run.kill()
            return "limit"
        if run.current is not None and (run.cpu - run.cell_cpu > job.cell_timeout + GRACE
                                        or now - run.cell_started > job.cell_wall_timeout + GRACE):
            run.kill()
            return "hung"
        if not run.read(POLL) or run.expect.done:
            # After "done" nothing more is read: a process the student's code forked may still hold the
            # pipe open, and waiting for it to close would let that process hold up the batch.
            return None


def run_job(job: Job, shell) -> Answer:
    """Grade-run one notebook: fork, watch, re-run after a crash; return outputs and events."""
    from autograde import messages

    lang, cells = job.lang, job.cells
    started = time.monotonic()
    skip: dict[int, str] = {}
    events: list[Event] = []
    runs, leftovers, cpu_used = 0, 0, 0.0
    final: dict[int, CellResult] = {}
    scratch_root = tempfile.mkdtemp(prefix="grade-")
    try:
        while True:
            runs += 1
            scratch = tempfile.mkdtemp(dir=scratch_root)
            run = Run(job, skip, shell, scratch, job.submission_timeout - cpu_used)
            ended = None
            try:
                ended = _watch(run, job, cpu_used, started)
            finally:  # whatever happened, the child and everything it started are gone before the next run
                if not run.expect.done or run.violated:
                    run.kill()
                elif not _ended_within(run.pid, GRACE):
                    run.kill()  # it said done but did not end (learner code that forged "done" and sleeps)
                status = run.wait()
                leftovers += clean_up(run.pid)
                remove_tree(scratch)
            cpu_used += run.cpu
            final = dict(run.expect.results)
            events.extend(run.events)
            if run.done:
                break
            index = run.blamed if run.violated else run.current
            hit = None
            if ended == "limit" or _over_cpu(status):
                hit = _time_limit(job, cpu_used, started) or ("grading_time_limit", {"seconds": f"{job.submission_timeout:g}"})
            if hit or index is None:
                if hit:
                    key, values, how = *hit, "time_limit"
                elif run.violated:
                    key, values, how = "grading_protocol", {"detail": run.broken}, "protocol"
                else:
                    key, values, how = "grading_crashed", {"how": run.broken or _describe(status)}, "crash"
                lost = sorted({c.exercise for i, c in enumerate(cells) if c.exercise and i not in final})
                for i in range(len(cells)):
                    if i not in final:
                        final[i] = CellResult((_error(messages.text(lang, key, **values)),), None, "not_run")
                for exercise in lost:
                    events.append(Event(how, exercise, messages.text("en", key, **values)))
                break
            if ended == "hung":
                over_cpu = run.cpu - run.cell_cpu > job.cell_timeout + GRACE
                limit = messages.text(lang, "grading_cpu_seconds" if over_cpu else "grading_wall_seconds",
                                      seconds=f"{job.cell_timeout if over_cpu else job.cell_wall_timeout:g}")
                limit_en = messages.text("en", "grading_cpu_seconds" if over_cpu else "grading_wall_seconds",
                                         seconds=f"{job.cell_timeout if over_cpu else job.cell_wall_timeout:g}")
                skip[index] = messages.text(lang, "grading_hung", limit=limit)
                events.append(Event("hung", cells[index].exercise, messages.text("en", "grading_hung", limit=limit_en)))
                continue
            if run.violated:
                key, values, kind = "grading_protocol", {"detail": run.broken}, "protocol"
            else:
                key, values, kind = "grading_crashed", {"how": run.broken or _describe(status)}, "crash"
            skip[index] = messages.text(lang, key, **values)
            events.append(Event(kind, cells[index].exercise, messages.text("en", key, **values)))
    finally:
        remove_tree(scratch_root)
    if leftovers:
        events.append(Event("processes", None, "processes left running were killed"))
    return Answer(job.id, job.token, tuple(final.get(i, CellResult()) for i in range(len(cells))), tuple(events),
                  runs=runs, seconds=round(time.monotonic() - started, 3))


def _ended_within(pid: int, seconds: float) -> bool:
    """Has the child ``pid`` ended (or does it end within ``seconds``)? It is not reaped."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _over_cpu(status: int) -> bool:
    """Did the kernel's hard processor-time limit (``RLIMIT_CPU``) end the child?"""
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU


def _error(text: str) -> dict:
    return {"output_type": "error", "ename": "GradingError", "evalue": text, "traceback": [f"GradingError: {text}"]}


def remove_tree(path: str) -> None:
    """``shutil.rmtree``, also of folders a job locked (``chmod 0``): they are opened up first."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    folders = [path]
    while folders:
        folder = folders.pop()
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        with contextlib.suppress(OSError):
            folders.extend(e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
    shutil.rmtree(path, ignore_errors=True)


def wipe(folder: str, keep: str = "") -> None:
    """Remove everything in ``folder`` (the sandbox's private /tmp) but ``keep``: nothing a job wrote survives it."""
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if path == keep:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(path)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def remove_ipc() -> None:
    """Remove every System V shared memory segment, semaphore set and message queue (the sandbox's own).

    They outlive the processes that made them; in the sandbox's private IPC namespace they would
    reach the next job. Never called outside the sandbox, where they are the machine's.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, f"{kind}ctl")(ident, IPC_RMID, None)


def serve(stdin, stdout, wipe_tmp: bool = False, light: bool = False) -> None:
    """Answer jobs until stdin closes."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a job come back here, to be killed
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker ends with the grader
    # Not dumpable: no process of a job (same user) may open /proc/WORKER/fd (the answer pipe), /mem or ptrace it.
    _prctl(PR_SET_DUMPABLE, 0)
    shell = warm(light)
    stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            job = Job.from_json(line)
        except protocol.ProtocolError as error:
            answer = Answer("", "", error=f"the worker could not read the job: {error}")
        else:
            try:
                answer = run_job(job, shell)
            except Exception as error:  # noqa: BLE001 - a broken job must not end the worker
                answer = Answer.failed(job, f"{type(error).__name__}: {error}")
        if wipe_tmp:
            wipe(tempfile.gettempdir())
            for folder in SHARED_FOLDERS:
                if os.path.isdir(folder):
                    wipe(folder)
            remove_ipc()
        stdout.write(answer.to_json() + "\n")
        stdout.flush()


def main() -> None:
    # The protocol owns the original stdout; anything else printed goes to stderr.
    protocol_out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, protocol_out, wipe_tmp="--wipe-tmp" in sys.argv[1:], light="--light" in sys.argv[1:])


if __name__ == "__main__":
    main()
