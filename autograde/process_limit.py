"""A cap on how many processes (and threads) one grading worker and the students' code under it may have.

Without it, a submission that forks in a loop fills the machine's process table, and every other
student's notebook on that machine fails to start its threads. The cap is a ``pids`` control group
per worker: the worker is started inside its own group with ``pids.max`` set, so every process its
children fork counts against that worker's cap and no one else's; a fork past the cap fails with
``BlockingIOError`` inside the student's code, which then loses that cell like any other error.

Control groups version 1 (``/sys/fs/cgroup/pids``) and version 2 (a delegated ``/sys/fs/cgroup``
with the ``pids`` controller) both work when the grader may create a group there, which is the case
when it runs as root in a container or VM. Where it may not, a non-root grader falls back to
``RLIMIT_NPROC`` (which counts all the user's processes, so the cap is set above what the user runs
already). A root grader without control groups has no cap, and grading says so
("processes: not limited"); the worker still kills every process a job leaves behind.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MAX_TASKS = 256  # processes and threads per worker: a worker with torch uses about 20
CGROUP_ROOT = Path("/sys/fs/cgroup")
_names = itertools.count()


@dataclass(frozen=True)
class Limit:
    """How this machine caps a worker's processes: a control-group folder, ``RLIMIT_NPROC``, or nothing."""

    kind: str  # "cgroup", "rlimit" or "none"
    parent: Path | None
    note: str


def _own_group(version: int) -> Path | None:
    """The folder of this process's ``pids`` group (version 1) or of its unified group (version 2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if version == 1 and "pids" in controllers.split(","):
            return CGROUP_ROOT / "pids" / path.lstrip("/")
        if version == 2 and controllers == "" and (CGROUP_ROOT / "cgroup.controllers").exists():
            return CGROUP_ROOT / path.lstrip("/")
    return None


def _make_group(parent: Path, tasks: int) -> Path:
    group = parent / f"autograde-{os.getpid()}-{next(_names)}"
    group.mkdir()
    try:
        (group / "pids.max").write_text(str(tasks))
    except OSError:
        group.rmdir()
        raise
    return group


def _works(parent: Path) -> bool:
    """Can a process be started inside a new group under ``parent``, and does the group count it?"""
    try:
        group = _make_group(parent, 8)
    except OSError:
        return False
    try:
        probe = subprocess.run(enter(group, ["sh", "-c", "cat /proc/self/cgroup"]), capture_output=True, text=True,
                               timeout=30)
        return probe.returncode == 0 and group.name in probe.stdout
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        remove(group)


@functools.cache
def find() -> Limit:
    """The best cap this machine allows (checked once per process)."""
    for version in (1, 2):
        parent = _own_group(version)
        if parent is not None and (parent / "cgroup.procs").exists() and _works(parent):
            return Limit("cgroup", parent, f"processes: at most {MAX_TASKS} per worker (pids control group)")
    if os.getuid() != 0:
        return Limit("rlimit", None, f"processes: at most {MAX_TASKS} per worker beyond what this user runs (RLIMIT_NPROC)")
    return Limit("none", None, "processes: not limited (no pids control group this grader may create); "
                               "leftover processes are still killed after every job")


def _user_tasks() -> int:
    """Processes and threads this user runs now (what ``RLIMIT_NPROC`` counts)."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
    return count


def start(argv: list[str], limit: Limit | None = None) -> tuple[list[str], Path | None]:
    """``argv`` wrapped so that it starts under the cap, and the group to remove afterwards (or None)."""
    limit = limit or find()
    if limit.kind == "cgroup":
        try:
            group = _make_group(limit.parent, MAX_TASKS)
        except OSError:
            return argv, None
        return enter(group, argv), group
    if limit.kind == "rlimit":
        return ["sh", "-c", f'ulimit -u {_user_tasks() + MAX_TASKS} && exec "$@"', "sh", *argv], None
    return argv, None


def enter(group: Path, argv: list[str]) -> list[str]:
    """``argv``, run by a shell that first moves itself into ``group`` (its children inherit it)."""
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group), *argv]


def remove(group: Path | None) -> None:
    """Remove a worker's group once its processes are gone (the kernel refuses while any is still exiting)."""
    for _ in range(50):
        if group is None or not group.exists():
            return
        with contextlib.suppress(OSError):
            group.rmdir()
            return
        time.sleep(0.05)
