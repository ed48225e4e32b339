"""A student's code cannot fill the machine with processes: each grading worker has its own cap.

The fork loop here is bounded (at most 300 children, each asleep), so it is harmless on a machine
where no cap can be set; there the cap's own test is skipped and says why.
"""

from __future__ import annotations

import sys

import pytest

from autograde import pool, process_limit, sandbox
from autograde.protocol import CellJob, Job

FORK_LOOP = """
import os, time
children = []
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
except BlockingIOError:
    pass
print(len(children))
"""

LIMIT = process_limit.find()
needs_cap = pytest.mark.skipif(LIMIT.kind == "none", reason=LIMIT.note)


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def job(name: str, *sources: str) -> Job:
    return Job(f"alice/fork/{name}", "t0ken", tuple(CellJob(s) for s in sources), cell_timeout=20,
               cell_wall_timeout=60, submission_timeout=40, submission_wall_timeout=120)


@pytest.mark.slow
@needs_cap
def test_does_a_fork_loop_stop_at_the_workers_cap_and_leave_the_worker_able_to_grade(monkeypatch):
    monkeypatch.setattr(process_limit, "MAX_TASKS", 64)  # a smaller cap than grading's, for a shorter loop
    worker = pool.WorkerProcess(sandbox.choose("auto"))
    group = worker.group
    try:
        forked = worker.run(job("loop", FORK_LOOP))
        count = int(printed(forked.cells[0]))
        assert 0 < count < process_limit.MAX_TASKS
        assert any(e.kind == "processes" for e in forked.events), forked.events  # the sleepers were killed

        honest = worker.run(job("honest", "print(sum(range(10)))"))
        assert printed(honest.cells[0]).strip() == "45"
        assert honest.events == ()
    finally:
        worker.close()
    assert group is None or not group.exists()  # the worker's group goes with it


@needs_cap
def test_does_a_capped_command_run_inside_its_own_group_with_the_cap():
    argv, group = process_limit.start([sys.executable, "-c", "print(open('/proc/self/cgroup').read())"])
    try:
        import subprocess

        shown = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        if group is not None:
            assert group.name in shown
            assert (group / "pids.max").read_text().strip() == str(process_limit.MAX_TASKS)
    finally:
        process_limit.remove(group)
    assert group is None or not group.exists()


def test_does_grading_say_how_processes_are_limited():
    assert LIMIT.kind in ("cgroup", "rlimit", "none")
    assert LIMIT.note.startswith("processes: ")
    if LIMIT.kind == "none":
        assert "not limited" in LIMIT.note


@pytest.mark.slow
def test_does_a_forked_sleeper_holding_the_result_pipe_not_hold_up_the_notebook():
    """A process the student's code forks inherits the child's result pipe; the worker stops reading at
    "done" instead of waiting for the pipe to close, so the notebook ends well inside its wall-clock cap
    (with no time-limit line) and the sleeper is killed."""
    sleeper = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\n    os._exit(0)\nprint('forked')"
    worker = pool.WorkerProcess(sandbox.choose("auto"))
    try:
        answer = worker.run(Job("alice/fork/sleeper", "t0ken", (CellJob(sleeper), CellJob("print(2 + 2)")),
                                cell_wall_timeout=60, submission_wall_timeout=100))
    finally:
        worker.close()
    assert [c.status for c in answer.cells] == ["ok", "ok"]
    assert printed(answer.cells[1]).strip() == "4"
    assert [e.kind for e in answer.events] == ["processes"], answer.events
