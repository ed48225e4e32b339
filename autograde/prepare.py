"""Step 1 of grading, one notebook at a time: read the submission, repair it, sanitise it, build its job.

Nothing here touches the gradebook for writing: a notebook is read without being modified
(:func:`autograde.repair.load_submission`), rebuilt on its source notebook
(:func:`autograde.repair.repair`), sanitised by nbgrader's own preprocessors (locked and test
cells restored from the gradebook, hidden tests included), and its learner cells read for
tampering (:mod:`autograde.tamper`). The result is a :class:`Prepared` notebook holding the
:class:`autograde.protocol.Job` a worker runs.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autograde import course, given, protocol, tamper
from autograde.gradebook import exercise_name
from autograde.workspace import Workspace, template_for

if TYPE_CHECKING:
    from autograde.grading import Settings

COSTS = {"06_digits": 20.0, "04_update": 2.0}  # relative run time, so long notebooks start first


@dataclass
class Prepared:
    """One submitted notebook, ready to run (``job``) or already failed (``error``)."""

    student: str
    assignment: str
    notebook: course.Notebook
    nb: object | None = None  # the repaired, sanitised NotebookNode
    code_cells: list[int] = field(default_factory=list)  # indexes in nb.cells of the job's cells
    job: protocol.Job | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    missing: bool = False
    tampered: dict[str, list[str]] = field(default_factory=dict)  # exercise -> what it did

    def flag(self, exercise: str, what: str, static: bool = False) -> None:
        """Record tampering; a run-time finding is kept only when reading the code found nothing."""
        reasons = self.tampered.setdefault(exercise, [])
        if static or not reasons:
            if what not in reasons:
                reasons.append(what)

    @property
    def lang(self) -> str:
        """The learner's language: the edition the notebook was written in."""
        return ((self.nb.metadata.get("course") or {}).get("lang") if self.nb is not None else None) or self.notebook.lang

    def flag_lines(self) -> list[str]:
        return [f"{self.notebook.name}/{ex}: scored 0 for tampering: {'; '.join(r)}" for ex, r in self.tampered.items()]


def sanitise(ws: Workspace, nb, resources: dict):
    """nbgrader's own clean-up before a run: clear outputs, restore locked cells from the gradebook."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

    config = ws.config()
    for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = pp(config=config).preprocess(nb, resources)
    return nb


def build_job(prepared: Prepared, settings: Settings) -> protocol.Job:
    """The worker's job for a repaired notebook: its code cells, who wrote each, what each counts for."""
    nb = prepared.nb
    cells: list[dict] = []
    pending: list[dict] = []
    locked_sources = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = course.nbgrader_meta(cell)
        test = bool(meta.get("grade"))
        # Which test cells hold a hidden check comes from the source notebook: nbgrader has just restored
        # every test cell from the gradebook, whatever the submission held.
        entry = {"source": cell.source, "exercise": None, "test": test, "learner": not meta.get("locked"),
                 "hidden": protocol.hidden_exercise(cell.source) if test else None}
        if meta.get("locked"):
            locked_sources.append(cell.source)
        cells.append(entry)
        prepared.code_cells.append(index)
        pending.append(entry)
        if entry["test"]:
            for waiting in pending:
                waiting["exercise"] = exercise_name(meta.get("grade_id", ""))
            pending = []
    names = tamper.grader_names(locked_sources)
    # given/ holds 01_network's answer (Net): importing it there is taking the reference.
    forbidden = () if given.gets_given(prepared.assignment) else ("given",)
    for entry in cells:
        if not entry["learner"]:
            continue
        found = tamper.scan(entry["source"], names, extra=forbidden)
        if found and entry["exercise"]:
            prepared.flag(entry["exercise"], "; ".join(found), static=True)
        elif found:
            prepared.notes.append(f"{prepared.notebook.name}: code after the last test {'; '.join(found)}")
    cell_wall, submission_wall = settings.walls()
    return protocol.Job(
        id=f"{prepared.student}/{prepared.assignment}/{prepared.notebook.name}",
        token=secrets.token_hex(16),
        cells=tuple(protocol.CellJob(**entry) for entry in cells),
        exercises=tuple(ex.name for ex in prepared.notebook.exercises),
        lang=prepared.lang,
        cell_timeout=settings.cell_timeout,
        cell_wall_timeout=cell_wall,
        submission_timeout=settings.submission_timeout,
        submission_wall_timeout=submission_wall,
        memory_limit=int(settings.memory_limit_gib * 2**30),
        cost=COSTS.get(prepared.notebook.name, 1.0),
    )


def prepare(ws: Workspace, student: str, assignment: str, nb: course.Notebook, settings: Settings) -> Prepared:
    """Read, repair and sanitise one submitted notebook; never raises for a bad submission."""
    import nbformat

    from autograde import repair

    prepared = Prepared(student, assignment, nb)
    folder = ws.path("submitted", student, assignment)
    path, problem = repair.find_notebook(folder, nb.name)
    if path is None:
        if problem:
            prepared.error = f"{nb.name}: {problem}"
        else:
            prepared.missing = True
        return prepared
    try:
        loaded = repair.load_submission(path, max_bytes=int(settings.max_megabytes * 2**20))
    except repair.SubmissionError as error:
        prepared.error = f"{nb.name}: {error}"
        return prepared
    prepared.notes.extend(f"{nb.name}: {note}" for note in loaded.notes)
    edition = repair.edition_of(loaded.notebook)
    template = nbformat.read(template_for(nb, edition), as_version=4)
    fixed = repair.repair(loaded.notebook, template)
    prepared.notes.extend(f"repaired {nb.name}: {note}" for note in fixed.notes)
    fixed.notebook.metadata.setdefault("course", {})["lang"] = edition
    for cell in fixed.notebook.cells:  # nbformat 4.5 wants an id on every cell
        if "id" not in cell:
            cell["id"] = uuid.uuid4().hex[:8]
    fixed.notebook.nbformat, fixed.notebook.nbformat_minor = 4, max(5, fixed.notebook.get("nbformat_minor", 5))
    resources = resources_for(ws, student, assignment, nb.name)
    prepared.nb = sanitise(ws, fixed.notebook, resources)
    prepared.job = build_job(prepared, settings)
    return prepared


def resources_for(ws: Workspace, student: str, assignment: str, notebook: str) -> dict:
    return {"nbgrader": {"notebook": notebook, "assignment": assignment, "student": student, "db_url": ws.db}}
