"""Where a grading worker runs: inside bubblewrap when the machine has it, else as a plain process.

In the sandbox a worker (and so every student's code) sees only what it needs to run Python:
the system's ``/usr`` and libraries, the Python installation and the course's packages
(``autograde``, ``explore``), all read-only, and an empty ``/tmp``. Of the reference solutions
only what notebooks 2-6 are given is there: ``solutions/__init__.py`` and ``solutions/network.py``
(the seed's ``Net``), each bound read-only on its own; the other references are not, so no
learner code can import or read them (the hidden tests are judged outside: :mod:`autograde.verdict`). The course
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
GIVEN_MODULES = ("solutions", "solutions.network")  # of the references, only what later notebooks are given
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
          "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
          "/etc/fonts", "/etc/localtime", "/etc/mime.types", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
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


def _package_dirs() -> list[str]:
    found = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            found.extend(str(Path(p).resolve()) for p in spec.submodule_search_locations)
    return found


def _given_files() -> list[str]:
    """The files of :data:`GIVEN_MODULES` (``solutions/__init__.py``, ``solutions/network.py``)."""
    found = []
    for name in GIVEN_MODULES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and os.path.isfile(spec.origin):
            found.append(str(Path(spec.origin).resolve()))
    return found


def bwrap_prefix(bwrap: str) -> tuple[str, ...]:
    """The bubblewrap command line in front of the worker's."""
    # --cap-drop ALL: run as root (a container), bubblewrap would keep every capability inside, and the
    # student's code could remount the read-only folders (the grader's own code) read-write.
    args = [bwrap, "--die-with-parent", "--unshare-all", "--new-session", "--clearenv", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--tmpfs", "/tmp"]
    for path in SYSTEM:
        args += ["--ro-bind-try", path, path]
    python_dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    for path in sorted(python_dirs) + _package_dirs():
        args += ["--ro-bind", path, path]
    # The given files' folder is an empty, read-only tmpfs with just those files in it: no job can add a
    # module or a compiled file there for the next job to import.
    given = _given_files()
    for folder in sorted({str(Path(f).parent) for f in given}):
        args += ["--tmpfs", folder]
        for path in given:
            if str(Path(path).parent) == folder:
                args += ["--ro-bind", path, path]
        args += ["--remount-ro", folder]
    for name in KEEP_ENV:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--chdir", "/tmp", "--"]
    return tuple(args)


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
        probe = subprocess.run([*prefix, sys.executable, "-c", "import autograde.worker, solutions.network"],
                               capture_output=True, text=True, timeout=120)
        if probe.returncode == 0:
            return Sandbox(prefix, True, "sandbox: on (bubblewrap: no network, no course folder, read-only system)")
        problem = f"bubblewrap does not work here: {(probe.stderr.strip().splitlines() or ['no message'])[-1]}"
    if mode == "on":
        raise RuntimeError(f"--sandbox on, but {problem}")
    return Sandbox((), False, f"sandbox: off ({problem}); student code runs with this user's rights")
