"""Where a grading worker runs: inside bubblewrap when the machine has it, else as a plain process.

In the sandbox a worker (and so every student's code) sees only what it needs to run Python:
the system's ``/usr`` and libraries, the Python installation and the course's packages
(``autograde``, ``explore``), all read-only, and an empty ``/tmp``. The reference solutions
(``solutions/``) are not there: the hidden tests are judged outside (:mod:`autograde.verdict`).
``given`` (notebook 1's ``Net``) is there only for the assignments after 01_network
(:func:`for_job`), so no one grading 01_network can import it. Everything but ``/tmp`` and
``/dev/shm`` is read-only, the sandbox's own root included, so no job can leave a module or a
compiled file anywhere for the next job of the same worker to import. The course
folder (other students' submissions, the gradebook, the source notebooks with their hidden
tests) is not there at all, there is no network (a new network namespace with nothing in it),
and processes see only their own process tree. The environment is cleared down to what Python
needs. The worker runs with ``python -P`` from ``/tmp``, so ``/tmp`` is not on ``sys.path``, and
it empties ``/tmp`` after every job (``--wipe-tmp``): nothing one student's code writes there is
seen by the next.

``--sandbox auto`` (the default) uses bubblewrap when ``bwrap`` is found and works, and says
"sandbox: off" with the reason otherwise; ``--sandbox on`` refuses to grade without it;
``--sandbox off`` never uses it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODES = ("auto", "on", "off")
PACKAGES = ("autograde", "explore")
GIVEN = ("given",)  # mounted only for the assignments after 01_network (autograde/given.py)
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
          "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
          "/etc/fonts", "/etc/localtime", "/etc/mime.types", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
TMP_BYTES = 512 * 2**20  # the worker's /tmp, which holds each job's private folder
SHM_BYTES = 256 * 2**20  # /dev/shm (shared memory, e.g. for DataLoader workers)
ROOT_READ_ONLY = ("--remount-ro", "/")  # the sandbox's own root (where bubblewrap makes mount points)
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "COURSE_LANG")


@dataclass(frozen=True)
class Sandbox:
    """How workers start: ``argv`` prefix, whether it isolates, and a line for the report."""

    prefix: tuple[str, ...]
    on: bool
    note: str

    def command(self, *argv: str) -> list[str]:
        return [*self.prefix, *argv]


def _package_dirs(names: tuple[str, ...] = PACKAGES) -> list[str]:
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            found.extend(str(Path(p).resolve()) for p in spec.submodule_search_locations)
    return found


@functools.cache
def _sizes_tmpfs(bwrap: str) -> bool:
    """Does this bubblewrap take ``--size`` for a tmpfs?"""
    try:
        shown = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--size" in shown.stdout + shown.stderr


def bwrap_prefix(bwrap: str) -> tuple[str, ...]:
    """The bubblewrap command line in front of the worker's."""
    # --cap-drop ALL: run as root (a container), bubblewrap would keep every capability inside, and the
    # student's code could remount the read-only folders (the grader's own code) read-write.
    # The two in-memory folders get a size where bubblewrap can set one (0.8 and later): what a student's
    # code writes there is memory that the per-child memory limit (RLIMIT_AS) does not count.
    shm, tmp = (["--size", str(SHM_BYTES)], ["--size", str(TMP_BYTES)]) if _sizes_tmpfs(bwrap) else ([], [])
    args = [bwrap, "--die-with-parent", "--unshare-all", "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", *shm, "--tmpfs", "/dev/shm", "--remount-ro", "/dev", *tmp, "--tmpfs", "/tmp"]
    for path in SYSTEM:
        args += ["--ro-bind-try", path, path]
    python_dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    for path in sorted(python_dirs) + _package_dirs():
        args += ["--ro-bind", path, path]
    for name in KEEP_ENV:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--chdir", "/tmp", *ROOT_READ_ONLY, "--"]
    return tuple(args)


@functools.cache
def mounts_given(box: Sandbox) -> bool:
    """Does code in ``box`` see the ``given`` package (a box that does not isolate sees everything)?"""
    return not box.on or all(path in box.prefix for path in _package_dirs(GIVEN))


def with_given(box: Sandbox) -> Sandbox:
    """``box`` with the ``given`` package mounted too, read-only (``box`` itself if it sees it already)."""
    if mounts_given(box):
        return box
    binds = [arg for path in _package_dirs(GIVEN) for arg in ("--ro-bind", path, path)]
    end = (*ROOT_READ_ONLY, "--")  # the root goes read-only last, after every mount point is made
    if box.prefix[-len(end):] != end:
        raise ValueError(f"not a bubblewrap prefix that ends with {' '.join(end)}: {box.prefix}")
    return Sandbox((*box.prefix[:-len(end)], *binds, *end), True, box.note)


def for_job(box: Sandbox, job_id: str) -> Sandbox:
    """The sandbox for the job ``<student>/<assignment>/<notebook>``: with ``given`` only after 01_network."""
    from autograde import given

    parts = job_id.split("/")
    return with_given(box) if len(parts) >= 3 and given.gets_given(parts[-2]) else box


@functools.cache
def choose(mode: str = "auto") -> Sandbox:
    """The sandbox for ``mode`` on this machine (checked once per process)."""
    if mode not in MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return Sandbox((), False, "sandbox: off (--sandbox off)")
    bwrap = shutil.which("bwrap")
    problem = None
    if not bwrap:
        problem = "bubblewrap (bwrap) is not installed"
    else:
        prefix = bwrap_prefix(bwrap)
        probe = subprocess.run([*prefix, sys.executable, "-c", "import autograde.worker"],
                               capture_output=True, text=True, timeout=120)
        if probe.returncode == 0:
            return Sandbox(prefix, True, "sandbox: on (bubblewrap: no network, no course folder, read-only system)")
        problem = f"bubblewrap does not work here: {(probe.stderr.strip().splitlines() or ['no message'])[-1]}"
    if mode == "on":
        raise RuntimeError(f"--sandbox on, but {problem}")
    return Sandbox((), False, f"sandbox: off ({problem}); student code runs with this user's rights")
