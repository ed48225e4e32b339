"""Step 1 of grading, one notebook at a time: read the submission, repair it, sanitise it, build its job.

This runs beside the notebook's run, away from the gradebook and the course folder: the grader
sends a :class:`autograde.protocol.Task` holding the submitted file and what the gradebook knows
of the source notebook (:func:`autograde.gradebook.reference_of`). The notebook is read without
being modified (:func:`autograde.repair.parse_submission`), rebuilt on its source notebook
(:func:`autograde.repair.repair`), sanitised by nbgrader's own preprocessors (locked and test
cells restored from the reference the gradebook gave, hidden tests included), and its learner
cells read for tampering (:mod:`autograde.tamper`). The result is a :class:`Prepared` notebook
holding the :class:`autograde.protocol.Job` a worker runs.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from autograde import course, given, protocol, tamper
from autograde.gradebook import exercise_name

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
    grades: tuple[protocol.GradeVerdict, ...] = ()  # set by scoring: each graded cell's score
    comments: tuple[protocol.CommentVerdict, ...] = ()

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


class Reference:
    """The gradebook's answers to nbgrader's sanitising preprocessors, from a task's reference (no database)."""

    def __init__(self, reference: dict) -> None:
        from nbgrader.api import MissingEntry

        self.missing = MissingEntry
        self.cells = {c["name"]: SimpleNamespace(**c) for c in reference["source_cells"]}
        points = {**reference["grade_cells"], **reference["task_cells"]}
        self.points = {name: SimpleNamespace(name=name, max_score=value) for name, value in points.items()}
        self.notebook = SimpleNamespace(
            kernelspec=reference["kernelspec"], source_cells=list(self.cells.values()),
            grade_cells=[self.points[n] for n in reference["grade_cells"]],
            solution_cells=[SimpleNamespace(name=n) for n in reference["solution_cells"]],
            task_cells=[self.points[n] for n in reference["task_cells"]])

    def find_notebook(self, notebook: str, assignment: str):
        return self.notebook

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        if name not in self.cells:
            raise self.missing(name)
        return self.cells[name]

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        if name not in self.points:
            raise self.missing(name)
        return self.points[name]


@functools.cache
def metadata_check():
    """nbgrader's check of the cells' nbgrader metadata (its ``CheckCellMetadata``), remembering the cells
    that passed: a cell's check depends on its type and its metadata alone, and its JSON-schema part
    costs milliseconds each time (the schema is checked again on every call). Failures are checked
    again, so each says what nbgrader says."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError
    from nbgrader.preprocessors import CheckCellMetadata

    class Remembering(MetadataValidator):
        passed: set[str] = set()

        def validate_cell(self, cell) -> None:
            key = json.dumps([cell.get("cell_type"), cell.get("metadata", {}).get("nbgrader")], sort_keys=True)
            if key in self.passed:
                return
            super().validate_cell(cell)
            if len(self.passed) < 10_000:
                self.passed.add(key)

    validator = Remembering()

    class Check(CheckCellMetadata):
        def preprocess(self, nb, resources):
            try:
                validator.validate_nb(nb)
            except ValidationError:
                raise ValidationError("Notebook failed to validate; the nbgrader metadata may be corrupted.") from None
            return nb, resources

    return Check


def sanitise(nb, resources: dict, reference: dict):
    """nbgrader's own clean-up before a run: clear outputs, restore locked cells as the gradebook holds them."""
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, NbGraderPreprocessor, OverwriteCells

    class OverwriteFromReference(OverwriteCells):
        def preprocess(self, nb, resources):
            self.notebook_id = resources["nbgrader"]["notebook"]
            self.assignment_id = resources["nbgrader"]["assignment"]
            self.gradebook = Reference(reference)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
            return nb, resources

    for pp in (ClearOutput, DeduplicateIds):
        nb, resources = pp().preprocess(nb, resources)
    if reference["kernelspec"]:  # nbgrader's OverwriteKernelspec
        nb.metadata["kernelspec"] = json.loads(reference["kernelspec"])
    for pp in (OverwriteFromReference, metadata_check()):
        nb, resources = pp().preprocess(nb, resources)
    return nb


def job_limits(settings: Settings) -> dict:
    """The limits a job runs under (:class:`autograde.protocol.Job`'s fields), from the grading settings."""
    cell_wall, submission_wall = settings.walls()
    return {"cell_timeout": settings.cell_timeout, "cell_wall_timeout": cell_wall,
            "submission_timeout": settings.submission_timeout, "submission_wall_timeout": submission_wall,
            "memory_limit": int(settings.memory_limit_gib * 2**30)}


def build_job(prepared: Prepared, settings: Settings | dict) -> protocol.Job:
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
    limits = settings if isinstance(settings, dict) else job_limits(settings)
    return protocol.Job(
        id=f"{prepared.student}/{prepared.assignment}/{prepared.notebook.name}",
        token=secrets.token_hex(16),
        cells=tuple(protocol.CellJob(**entry) for entry in cells),
        exercises=tuple(ex.name for ex in prepared.notebook.exercises),
        lang=prepared.lang,
        cost=COSTS.get(prepared.notebook.name, 1.0),
        **limits,
    )


def notebook_of(reference: dict) -> course.Notebook:
    """The source notebook a task's reference describes."""
    return course.Notebook(path=Path(reference["file"]), assignment=reference["assignment"], reference=reference["module"],
                           lang=reference["lang"],
                           exercises=tuple(course.Exercise(name, points) for name, points in reference["exercises"]))


def prepare(task: protocol.Task) -> Prepared:
    """Read, repair and sanitise one submitted notebook; never raises for a bad submission."""
    import nbformat

    from autograde import repair

    reference = task.reference
    nb = notebook_of(reference)
    prepared = Prepared(task.student, task.assignment, nb)
    try:
        loaded = repair.parse_submission(task.file_name, base64.b64decode(task.content))
    except repair.SubmissionError as error:
        prepared.error = f"{nb.name}: {error}"
        return prepared
    prepared.notes.extend(f"{nb.name}: {note}" for note in loaded.notes)
    edition = repair.edition_of(loaded.notebook)
    templates = reference["templates"]
    template = nbformat.reads(templates.get(edition, templates[nb.lang]), as_version=4)
    fixed = repair.repair(loaded.notebook, template)
    prepared.notes.extend(f"repaired {nb.name}: {note}" for note in fixed.notes)
    fixed.notebook.metadata.setdefault("course", {})["lang"] = edition
    for cell in fixed.notebook.cells:  # nbformat 4.5 wants an id on every cell
        if "id" not in cell:
            cell["id"] = uuid.uuid4().hex[:8]
    fixed.notebook.nbformat, fixed.notebook.nbformat_minor = 4, max(5, fixed.notebook.get("nbformat_minor", 5))
    resources = resources_for(task.student, task.assignment, nb.name)
    prepared.nb = sanitise(fixed.notebook, resources, reference)
    prepared.job = build_job(prepared, task.limits)
    return prepared


def resources_for(student: str, assignment: str, notebook: str) -> dict:
    return {"nbgrader": {"notebook": notebook, "assignment": assignment, "student": student}}
