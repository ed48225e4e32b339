"""The course workspace: one folder holding what nbgrader needs (release, submitted,
autograded, feedback, the gradebook), with the source notebooks read from ``notebooks/``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config

from autograde import course, editions

DEFAULT_ROOT = course.REPO / "course"
CELL_TIMEOUT = 10  # seconds; nbgrader's default of 30 s is far more than any cell here needs
EXCHANGE = "exchange"  # nbgrader's exchange, inside the course folder unless a Workspace names another
# What a student copy holds where the solution was, in each edition's language (nbgrader's ClearSolutions).
# Grading recognises an untouched stub in any of them (autograde/repair.py, autograde/graded_class.py).
STUBS = {
    "en": "# YOUR CODE HERE\nraise NotImplementedError()",
    "ko": "# 여기에 코드를 작성하세요\nraise NotImplementedError()",
}
STUB = STUBS["en"]


def stub_for(lang: str) -> str:
    """The stub of the edition in ``lang`` (English for a language without an edition)."""
    return STUBS.get(lang, STUB)


@dataclass
class Workspace:
    """Where a class lives on disk, and which gradebook it uses."""

    root: Path = DEFAULT_ROOT
    db_url: str | None = None
    source: Path = field(default_factory=lambda: course.SOURCE)
    cell_timeout: int = CELL_TIMEOUT
    exchange: Path | None = None  # nbgrader's exchange folder (default: exchange/ in the course folder)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.source = Path(self.source).resolve()
        self.exchange = Path(self.exchange).resolve() if self.exchange else self.root / EXCHANGE

    @property
    def db(self) -> str:
        """The gradebook's SQLAlchemy URL; a bare ``postgresql://`` means the psycopg2 driver this course ships."""
        if self.db_url and self.db_url.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg2://" + self.db_url.split("://", 1)[1]
        return self.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def lang(self) -> str:
        """The language of the source notebooks (their ``metadata.course.lang``); English where they mix or say none."""
        langs = {nb.lang for nb in course.notebooks(self.source)}
        return langs.pop() if len(langs) == 1 else "en"

    def path(self, step: str, *parts: str) -> Path:
        """A path inside one nbgrader step folder (release, submitted, autograded, feedback)."""
        return self.root.joinpath(step, *parts)

    def config(self) -> Config:
        """The nbgrader configuration for this workspace."""
        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.source_directory = str(self.source)
        c.CourseDirectory.db_url = self.db
        c.CourseDirectory.course_id = "pytorch-nn-basics"
        c.ClearSolutions.code_stub = {"python": stub_for(self.lang)}
        c.Execute.timeout = self.cell_timeout
        c.Execute.interrupt_on_timeout = True
        # How long to wait for a cell's last outputs after it has finished (nbclient's default is 4 s): a
        # figure with many panels can take longer than that to arrive on a busy machine.
        c.Execute.iopub_timeout = 30
        # The kernel logs a warning about TCP transport on stderr; keep the terminal quiet.
        c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
        c.Validator.ignore_checksums = False
        # nbgrader checks its exchange on every start and logs a critical error when it is not writable.
        c.Exchange.root = str(self.exchange)
        return c

    def api(self, extra: Config | None = None):
        """An ``NbGraderAPI`` bound to this workspace, with ``extra`` merged into its config."""
        from nbgrader.apps import NbGraderAPI

        nbgrader_on_path()
        self.root.mkdir(parents=True, exist_ok=True)
        self.exchange.mkdir(parents=True, exist_ok=True)
        config = self.config()
        if extra is not None:
            config.merge(extra)
        api = NbGraderAPI(config=config)
        api.log.setLevel(logging.WARNING)
        return api


def template_for(nb: course.Notebook, edition: str) -> Path:
    """The source notebook of ``nb`` in ``edition`` (the learner's language), or ``nb``'s own."""
    if edition == nb.lang:
        return nb.path
    other = editions.EDITIONS.get(edition)
    if other is not None:
        candidate = other / nb.path.parent.name / nb.path.name
        if candidate.exists():
            return candidate
    return nb.path


def nbgrader_on_path() -> None:
    """nbgrader creates a new gradebook by running ``alembic``: make this environment's bin/ findable."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def release(ws: Workspace, assignments: list[str] | None = None) -> list[Path]:
    """Generate the student copy of the named assignments (default: all) into ``release/``.

    The assignments after 01_network get notebook 1's ``Net`` (``given/``) in their folder. What
    hands them to a graded class (the ``release`` command, :func:`autograde.exchange.publish`)
    first asks :func:`autograde.given.release_gate` whether 01_network is due.
    """
    from autograde import given

    api = ws.api()
    names = assignments or list(course.assignments(ws.source))
    unknown = sorted(set(names) - set(course.assignments(ws.source)))
    if unknown:
        raise ValueError(f"no such assignment: {', '.join(unknown)} (known: {', '.join(course.assignments(ws.source))})")
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader could not generate {name}:\n{result.get('error') or result.get('log')}")
        folder = ws.path("release", name)
        if given.gets_given(name, ws.source):
            (folder / "given").mkdir(exist_ok=True)
            for path in given.files():
                shutil.copyfile(path, folder / "given" / path.name)
        written.extend(sorted(folder.glob("*.ipynb")))
    return written


@contextlib.contextmanager
def scratch_workspace(source: Path | None = None) -> Iterator[Workspace]:
    """A throw-away workspace (own gradebook) for work that must not touch the instructor's."""
    with tempfile.TemporaryDirectory(prefix="course-") as tmp:
        yield Workspace(root=Path(tmp), source=source or course.SOURCE)


def student_copy(dest: Path, source: Path | None = None, released: list[Path] | None = None) -> tuple[list[Path], list[Path]]:
    """Put the student copy of every notebook under ``dest``; never overwrite a learner's file.

    Returns (written, kept): the new files, and the existing ones left as they were. ``dest`` also
    gets JupyterLab's default interface language for the edition (see autograde/lab_language.py).
    ``released``: notebooks already released from ``source`` (else a scratch workspace releases them).
    """
    from autograde import lab_language

    langs = {nb.lang for nb in course.notebooks(source or course.SOURCE)}
    lab_language.write_default(Path(dest), langs.pop() if len(langs) == 1 else "en")
    if released is None:
        with scratch_workspace(source) as ws:
            return student_copy(dest, source, release(ws))
    written, kept = [], []
    for nb in released:
        target = Path(dest) / nb.parent.name / nb.name
        if target.exists():
            kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, target)
        written.append(target)
    return written, kept
