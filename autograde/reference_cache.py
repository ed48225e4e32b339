"""The reference solutions' observations, kept on disk for this machine and this code.

:func:`autograde.verdict.reference` runs an exercise's hidden tests on its reference solution;
for the whole course that is seconds of processor time (notebook 6's observers train networks),
which every grading helper of every run spent again. The observations depend only on the course's
code and on the numeric libraries running on this processor, so they are kept in
``$XDG_CACHE_HOME/autograde/references/KEY/`` (``~/.cache`` by default; ``AUTOGRADE_CACHE_DIR``
overrides it), where KEY digests the course's code (``autograde``, ``solutions``, ``given``), the
versions of Python, torch, NumPy and scikit-learn, the processor's model and the kernels torch
chose for it, and torch's thread count. Another machine, another library or a changed line of the
course computes them afresh.

A file that does not read back as the valid, passing observations of its exercise is ignored
(and written again). Student code never reaches the folder: the sandbox mounts no home directory
and nothing writable of the grader's. Without a sandbox, student code runs with the grader's
rights and could change any of its files, the gradebook included (docs/grading.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from autograde import course, protocol


def folder() -> Path:
    base = os.environ.get("AUTOGRADE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "autograde")
    return Path(base) / "references" / key()


def _processor() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        return ""


@functools.cache
def key() -> str:
    """What the reference observations depend on, digested."""
    import torch

    h = hashlib.sha256()
    course.hash_code(h, ("autograde", "solutions", "given"))
    versions = {}
    for package in ("torch", "numpy", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    machine = {"python": sys.version, "platform": platform.machine(), "processor": _processor(),
               "kernels": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
    h.update(json.dumps([versions, machine], sort_keys=True).encode())
    return h.hexdigest()[:32]


def _path(exercise: str) -> Path | None:
    if not exercise.isidentifier():
        return None
    return folder() / f"{exercise}.json"


def load(exercise: str) -> tuple[dict, ...] | None:
    """The kept observations of ``exercise``'s reference, or None (none kept, or not valid)."""
    path = _path(exercise)
    if path is None:
        return None
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        observed = protocol.Observations(exercise, tuple(items))
    except (OSError, ValueError, TypeError):
        return None
    if not observed.items or any(item["kind"] in ("raised", "error") or item.get("ok") is False for item in observed.items):
        return None
    return observed.items


def store(exercise: str, items: tuple[dict, ...]) -> None:
    """Keep ``items`` for the next run; a folder that cannot be written only means no keeping."""
    path = _path(exercise)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{exercise}.", suffix=".writing")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(list(items), out, ensure_ascii=False, allow_nan=False)
        os.replace(tmp, path)  # whole or not at all, whichever of several helpers writes last
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
