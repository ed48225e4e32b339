"""Grade collected submissions: repaired, run on warm sandboxed workers, scored by nbgrader's rules.

``grade`` takes every collected submission (``submitted/STUDENT/ASSIGNMENT/``) through four steps:

1. **Read and repair** (here, one notebook at a time): the file is read without being modified
   (:func:`autograde.repair.load_submission`: a broken file is an error for that notebook only),
   rebuilt on its source notebook (:func:`autograde.repair.repair`: stripped metadata, reordered or
   duplicated cells, a solution turned into markdown, edited or deleted test cells), sanitised
   by nbgrader's own preprocessors (locked and test cells restored from the gradebook, hidden tests
   included), and its learner cells read for tampering (:mod:`autograde.tamper`).
2. **Run** on a pool of warm workers (:mod:`autograde.pool`, :mod:`autograde.worker`): each
   notebook in a fresh child forked from a worker that has imported torch once, with a per-cell
   timeout, a wall-clock cap per submission, a memory limit, no leftover processes, inside
   bubblewrap when the machine has it. A cell that kills the kernel costs its exercise only.
3. **Score** with nbgrader's preprocessors (``LimitOutput``, ``SaveAutoGrades``,
   ``AssignLatePenalties``): a test cell that shows an error scores zero, otherwise its points.
   The executed notebook goes to ``autograded/`` for feedback, as with ``nbgrader autograde``.
4. **Report**: one line per submission with its score, then what was repaired, flagged or lost,
   also written to ``reports/STUDENT/ASSIGNMENT.json``. A report holds a digest of everything
   the grade depends on, so a run that was stopped resumes where it stopped: an unchanged
   submission that has its report is not graded again (``--regrade`` forces it).

Only this process touches the gradebook, so SQLite is safe with any number of workers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograde import course, editions, messages, tamper
from autograde.workspace import Workspace

COSTS = {"06_digits": 20.0, "04_update": 2.0}  # relative run time, so long notebooks start first
REPORTS = "reports"


@dataclass
class Settings:
    """How to grade: limits, parallelism, sandbox."""

    workers: int = 0  # 0: one per core
    cell_timeout: float = 10.0
    submission_timeout: float = 300.0
    memory_limit_gib: float = 3.0
    sandbox: str = "auto"
    scheduler: str | None = None
    regrade: bool = False
    max_megabytes: float = 20.0

    def worker_count(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)))

    def fingerprint(self) -> dict:
        return {"cell_timeout": self.cell_timeout, "submission_timeout": self.submission_timeout,
                "memory_limit_gib": self.memory_limit_gib}


@dataclass
class GradeResult:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points
    max_scores: dict[str, float] = field(default_factory=dict)  # exercise name -> points available
    missing: list[str] = field(default_factory=list)  # notebooks not submitted (scored zero)
    errors: list[str] = field(default_factory=list)  # notebooks that could not be graded, and why
    notes: list[str] = field(default_factory=list)  # what was repaired, flagged or lost
    flags: list[str] = field(default_factory=list)  # exercises zeroed for tampering
    seconds: float = 0.0
    resumed: bool = False  # graded by an earlier run, unchanged since

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def score(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return sum(self.max_scores.values())

    def lines(self) -> list[str]:
        """The report: the score line, then one indented line per note, flag and error."""
        head = f"{self.student}/{self.assignment}: {self.score:g}/{self.max_score:g}"
        if self.missing:
            head += f" (not submitted, scored 0: {', '.join(self.missing)})"
        if self.resumed:
            head += " (unchanged since the last run)"
        return [head, *(f"  {n}" for n in self.notes), *(f"  FLAG {f}" for f in self.flags),
                *(f"  FAILED {e}" for e in self.errors)]


def exercise_name(grade_id: str) -> str:
    """The exercise a test cell grades: ``test_mse_loss`` -> ``mse_loss``."""
    return grade_id.removeprefix("test_")


@contextlib.contextmanager
def quiet_nbgrader() -> Iterator[None]:
    """Silence SQLAlchemy's session warnings that nbgrader triggers on every autograde."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"nbgrader(\.|$)")
        warnings.filterwarnings("ignore", message=r".*not in session.*")
        warnings.filterwarnings("ignore", message=r"Cell is missing an id field")  # learner files without cell ids
        yield


def submissions(ws: Workspace, students: list[str] | None = None,
                assignments: list[str] | None = None) -> tuple[list[tuple[str, str]], list[Path]]:
    """Collected (student, assignment) pairs in ``submitted/``, filtered; and folders that are no assignment."""
    known = course.assignments(ws.source)
    found, unknown = [], []
    submitted = ws.path("submitted")
    if not submitted.is_dir():
        return [], []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if students and student_dir.name not in students:
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignments and assignment_dir.name not in assignments:
                continue
            if assignment_dir.name not in known:
                unknown.append(assignment_dir)
                continue
            found.append((student_dir.name, assignment_dir.name))
    return found, unknown


def ensure_released(ws: Workspace, api, assignment: str) -> None:
    """nbgrader grades only assignments its gradebook knows: release the assignment if it is new."""
    from nbgrader.api import MissingEntry

    with api.gradebook as gb:
        try:
            gb.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    result = api.generate_assignment(assignment, force=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}")


def read_result(ws: Workspace, gb, student: str, assignment: str, result: GradeResult | None = None) -> GradeResult:
    """The grades the gradebook holds for one student and assignment (zero where nothing is graded).

    ``gb`` is an open nbgrader ``Gradebook``, or an ``NbGraderAPI`` whose gradebook is opened here.
    """
    from nbgrader.api import MissingEntry

    if hasattr(gb, "gradebook"):
        with gb.gradebook as opened:
            return read_result(ws, opened, student, assignment, result)
    result = result or GradeResult(student, assignment)
    for nb in course.assignments(ws.source).get(assignment, []):
        for ex in nb.exercises:
            result.scores[ex.name] = 0.0
            result.max_scores[ex.name] = ex.points
        try:
            submitted = gb.find_submission_notebook(nb.name, assignment, student)
        except MissingEntry:
            if nb.name not in result.missing:
                result.missing.append(nb.name)
            continue
        for grade in submitted.grades:
            name = exercise_name(grade.name)
            result.scores[name] = float(grade.score or 0.0)
            result.max_scores[name] = float(grade.max_score or 0.0)
    return result


# -- 1. read and repair --------------------------------------------------------------------
@dataclass
class Prepared:
    """One submitted notebook, ready to run (``job``) or already failed (``error``)."""

    student: str
    assignment: str
    notebook: course.Notebook
    nb: object | None = None  # the repaired, sanitised NotebookNode
    code_cells: list[int] = field(default_factory=list)  # indexes in nb.cells of the job's cells
    job: dict | None = None
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

    def flag_lines(self) -> list[str]:
        return [f"{self.notebook.name}/{ex}: scored 0 for tampering: {'; '.join(r)}" for ex, r in self.tampered.items()]


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


def sanitise(ws: Workspace, nb, resources: dict):
    """nbgrader's own clean-up before a run: clear outputs, restore locked cells from the gradebook."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

    config = ws.config()
    for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = pp(config=config).preprocess(nb, resources)
    return nb


def build_job(prepared: Prepared, settings: Settings) -> dict:
    """The worker's job for a repaired notebook: its code cells, who wrote each, what each counts for."""
    nb = prepared.nb
    cells, pending, locked_sources = [], [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = course.nbgrader_meta(cell)
        entry = {"source": cell.source, "exercise": None, "test": bool(meta.get("grade")),
                 "learner": not meta.get("locked")}
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
    poison = {}
    for entry in cells:
        if not entry["learner"]:
            continue
        found = tamper.scan(entry["source"], names)
        if found and entry["exercise"]:
            poison.setdefault(entry["exercise"], "; ".join(found))
        elif found:
            prepared.notes.append(f"{prepared.notebook.name}: code after the last test {'; '.join(found)}")
    lang = (prepared.nb.metadata.get("course") or {}).get("lang") or prepared.notebook.lang
    for exercise, what in poison.items():
        prepared.flag(exercise, what, static=True)
    return {
        "id": f"{prepared.student}/{prepared.assignment}/{prepared.notebook.name}",
        "cells": cells,
        "exercises": [ex.name for ex in prepared.notebook.exercises],
        "poison": {ex: messages.text(lang, "grading_static", what=what) for ex, what in poison.items()},
        "lang": lang,
        "cell_timeout": settings.cell_timeout,
        "submission_timeout": settings.submission_timeout,
        "memory_limit": int(settings.memory_limit_gib * 2**30),
        "cost": COSTS.get(prepared.notebook.name, 1.0),
    }


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


# -- 3. score --------------------------------------------------------------------------------
EVENT_TEXT = {
    "crash": "{exercise} scored 0: {detail}",
    "timeout": "{exercise}: {detail}",
    "time_limit": "{exercise}: {detail}",
    "memory": "{exercise}: ran out of memory ({detail})",
    "processes": "{detail}",
}


def describe_events(prepared: Prepared, result: dict) -> None:
    """Turn a worker's events into report lines, and tampering into flags."""
    name = prepared.notebook.name
    events = result.get("events", [])
    with_exercise = {e.get("kind") for e in events if e.get("exercise")}
    for event in events:
        kind, exercise = event.get("kind"), event.get("exercise")
        detail = str(event.get("detail", "")).strip()
        if kind == "tamper":
            if exercise:
                prepared.flag(exercise, detail)
            else:
                line = f"{name}: code outside the exercises changed what the tests rely on: {detail}"
                if line not in prepared.notes:
                    prepared.notes.append(line)
            continue
        if not exercise and kind in with_exercise:
            continue  # the same trouble, already named for an exercise
        text = EVENT_TEXT.get(kind, "{detail}").format(exercise=exercise or "a cell outside the exercises", detail=detail)
        line = f"{name}: {text}"
        if line not in prepared.notes:
            prepared.notes.append(line)


def zero_flagged(prepared: Prepared) -> None:
    """Make sure every test cell of a flagged exercise shows an error, so nbgrader scores it 0."""
    from nbformat.v4 import new_output

    for cell in prepared.nb.cells:
        meta = course.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        exercise = exercise_name(meta.get("grade_id", ""))
        if exercise in prepared.tampered and not any(o.get("output_type") == "error" for o in cell.outputs):
            text = f"This exercise scores 0: {'; '.join(prepared.tampered[exercise])}."
            cell.outputs.append(new_output("error", ename="GradingError", evalue=text, traceback=[f"GradingError: {text}"]))


def score(ws: Workspace, prepared: Prepared, result: dict) -> None:
    """Put the outputs into the notebook, let nbgrader score it, write the autograded copy."""
    import nbformat
    from nbformat.notebooknode import from_dict
    from nbgrader.preprocessors import AssignLatePenalties, LimitOutput, SaveAutoGrades

    if result.get("error"):
        prepared.error = f"{prepared.notebook.name}: could not be run: {result['error']}"
        return
    nb = prepared.nb
    for index, cell in zip(prepared.code_cells, result["cells"]):
        nb.cells[index].outputs = [from_dict(o) for o in cell["outputs"]]
        nb.cells[index].execution_count = cell["execution_count"]
    describe_events(prepared, result)
    zero_flagged(prepared)
    config = ws.config()
    resources = resources_for(ws, prepared.student, prepared.assignment, prepared.notebook.name)
    for pp in (LimitOutput, SaveAutoGrades, AssignLatePenalties):
        nb, resources = pp(config=config).preprocess(nb, resources)
    write_atomic(ws.path("autograded", prepared.student, prepared.assignment, f"{prepared.notebook.name}.ipynb"),
                 nbformat.writes(nb))


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a run killed mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.writing")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def begin(ws: Workspace, gb, student: str, assignment: str) -> None:
    """The gradebook rows a submission needs before its notebooks are scored (as nbgrader makes them)."""
    from nbgrader.coursedir import CourseDirectory

    gb.update_or_create_student(student)
    coursedir = CourseDirectory(config=ws.config())
    src = ws.path("submitted", student, assignment)
    timestamp = coursedir.get_existing_timestamp(str(src))
    if timestamp:
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(assignment, student)
    dest = ws.path("autograded", student, assignment)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in src.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and not path.name.startswith("."):
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def zero_notebook(gb, student: str, assignment: str, notebook: str) -> None:
    """A notebook that was not handed in, or could not be graded, scores zero."""
    submission = gb.find_submission_notebook(notebook, assignment, student)
    for grade in submission.grades:
        grade.auto_score = 0
        grade.needs_manual_grade = False
    gb.db.commit()


# -- 4. report and resume --------------------------------------------------------------------
def assignment_digest(notebooks: list[course.Notebook], settings: Settings) -> str:
    """What every grade of an assignment depends on: the grader, the reference, the source notebooks, the limits."""
    h = hashlib.sha256(json.dumps(settings.fingerprint(), sort_keys=True).encode())
    for package in ("autograde", "solutions"):
        for path in sorted((course.REPO / package).glob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    for nb in notebooks:
        for edition in sorted({nb.lang, *editions.EDITIONS}):  # sorted: set order changes between processes
            h.update(template_for(nb, edition).read_bytes())
    return h.hexdigest()


def digest(ws: Workspace, student: str, assignment: str, base: str) -> str:
    """What this submission's grade depends on: its files, and its assignment's digest ``base``."""
    h = hashlib.sha256(base.encode())
    folder = ws.path("submitted", student, assignment)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def report_path(ws: Workspace, student: str, assignment: str) -> Path:
    return ws.path(REPORTS, student, f"{assignment}.json")


def write_report(ws: Workspace, result: GradeResult, key: str) -> None:
    data = asdict(result)
    data.pop("resumed", None)
    write_atomic(report_path(ws, result.student, result.assignment),
                 json.dumps({"digest": key, "result": data}, indent=1, ensure_ascii=False))


def resumable(ws: Workspace, gb, student: str, assignment: str, key: str) -> GradeResult | None:
    """The earlier result, if this exact submission was graded and its grades are in the gradebook."""
    from nbgrader.api import MissingEntry

    path = report_path(ws, student, assignment)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("digest") != key:
        return None
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    data = saved["result"]
    result = GradeResult(**{k: v for k, v in data.items() if k in GradeResult.__dataclass_fields__})
    result.resumed = True
    return read_result(ws, gb, student, assignment, result)


# -- 2. the run ------------------------------------------------------------------------------
@dataclass
class Submission:
    result: GradeResult
    prepared: list[Prepared]
    key: str
    waiting: int = 0
    started: float = 0.0


def make_pool(settings: Settings):
    from autograde import pool, sandbox

    if settings.scheduler:
        return pool.DaskPool(settings.scheduler, settings.sandbox), f"cluster at {settings.scheduler}"
    box = sandbox.choose(settings.sandbox)
    return pool.LocalPool(settings.worker_count(), box), box.note


def grade_all(ws: Workspace, pairs: list[tuple[str, str]], settings: Settings | None = None,
              progress: bool = True, say=print) -> list[GradeResult]:
    """Grade every (student, assignment) pair; one result per pair, in the order given."""
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    settings = settings or Settings()
    if not pairs:
        return []
    api = ws.api()
    known = course.assignments(ws.source)
    bases = {a: assignment_digest(known[a], settings) for a in {a for _, a in pairs}}
    results: dict[tuple[str, str], GradeResult] = {}
    order = sorted(pairs, key=lambda p: -max(COSTS.get(nb.name, 1.0) for nb in known[p[1]]))
    bar = tqdm(total=len(pairs), desc="grading", unit="submission", disable=not progress)
    pool, where = None, ""
    with quiet_nbgrader(), Gradebook(ws.db, ws.config().CourseDirectory.course_id) as gb:
        todo: list[tuple[str, str, str]] = []
        for student, assignment in order:
            key = digest(ws, student, assignment, bases[assignment])
            earlier = None if settings.regrade else resumable(ws, gb, student, assignment, key)
            if earlier is not None:
                results[(student, assignment)] = earlier
                bar.update()
            else:
                todo.append((student, assignment, key))
        gb.db.commit()  # end the read transaction: releasing an assignment writes to the gradebook
        if todo:
            pool, where = make_pool(settings)  # the workers warm up while the assignments are checked
            for assignment in sorted({a for _, a, _ in todo}):
                ensure_released(ws, api, assignment)
            say(f"grading {len(todo)} submission(s) on {where}"
                + (f"; {len(results)} unchanged since the last run" if results else ""))
        running: dict[str, tuple[Submission, Prepared]] = {}
        queue_ = list(todo)
        try:
            while queue_ or running:
                if queue_:
                    finished = pool.next(timeout=0)
                else:
                    finished = pool.next(timeout=None if not settings.scheduler else 5)
                if finished is None and queue_:
                    student, assignment, key = queue_.pop(0)
                    sub = start_submission(ws, gb, student, assignment, key, settings, known[assignment])
                    for prepared in sub.prepared:
                        if prepared.job is not None:
                            running[prepared.job["id"]] = (sub, prepared)
                            pool.submit(prepared.job)
                    if sub.waiting == 0:
                        results[(student, assignment)] = finish_submission(ws, gb, sub)
                        bar.update()
                    continue
                if finished is None:
                    continue
                job, outcome = finished
                sub, prepared = running.pop(job["id"])
                try:
                    score(ws, prepared, outcome)
                except Exception as error:  # noqa: BLE001 - one notebook must not stop the class
                    prepared.error = f"{prepared.notebook.name}: could not be scored: {type(error).__name__}: {error}"
                sub.waiting -= 1
                if sub.waiting == 0:
                    results[(sub.result.student, sub.result.assignment)] = finish_submission(ws, gb, sub)
                    bar.update()
        finally:
            bar.close()
            if pool is not None:
                pool.close()
    return [results[p] for p in pairs]


def start_submission(ws: Workspace, gb, student: str, assignment: str, key: str, settings: Settings,
                     notebooks: list[course.Notebook]) -> Submission:
    sub = Submission(GradeResult(student, assignment), [], key, started=time.perf_counter())
    begin(ws, gb, student, assignment)
    for nb in notebooks:
        try:
            prepared = prepare(ws, student, assignment, nb, settings)
        except Exception as error:  # noqa: BLE001 - a notebook the repair cannot handle is that notebook's error
            prepared = Prepared(student, assignment, nb, error=f"{nb.name}: could not be read: {type(error).__name__}: {error}")
        sub.prepared.append(prepared)
        if prepared.job is not None:
            sub.waiting += 1
    return sub


def finish_submission(ws: Workspace, gb, sub: Submission) -> GradeResult:
    result = sub.result
    for prepared in sub.prepared:
        if prepared.missing or prepared.error:
            zero_notebook(gb, result.student, result.assignment, prepared.notebook.name)
        if prepared.missing:
            result.missing.append(prepared.notebook.name)
        if prepared.error:
            result.errors.append(prepared.error)
        result.notes.extend(prepared.notes)
        result.flags.extend(prepared.flag_lines())
    gb.db.expire_all()
    read_result(ws, gb, result.student, result.assignment, result)
    result.seconds = time.perf_counter() - sub.started
    write_report(ws, result, sub.key)
    return result


def grade_one(ws: Workspace, student: str, assignment: str, settings: Settings | None = None) -> GradeResult:
    """Grade one student's submission of one assignment."""
    if assignment not in course.assignments(ws.source):
        return GradeResult(student, assignment, errors=[f"{assignment} is not an assignment of this course"])
    if not ws.path("submitted", student, assignment).is_dir():
        return GradeResult(student, assignment, errors=[f"nothing collected for {student}/{assignment}"])
    return grade_all(ws, [(student, assignment)], settings, progress=False, say=lambda *_: None)[0]


# -- command line ------------------------------------------------------------------------
def parse_workers(text: str) -> int:
    if text == "auto":
        return 0
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("--workers must be a positive number or 'auto'")
    return value


def cmd_grade(args: argparse.Namespace) -> int:
    ws = Workspace(root=args.course_dir, db_url=args.db, cell_timeout=int(args.cell_timeout))
    pairs, unknown = submissions(ws, args.student, args.assignment)
    for folder in unknown:
        print(f"skipped {folder}: not an assignment of this course ({', '.join(course.assignments(ws.source))})")
    if not pairs:
        raise ValueError(f"nothing to grade in {ws.path('submitted')}"
                         + (" for the student/assignment asked" if args.student or args.assignment else "")
                         + "; run `autograde collect PATH` first")
    settings = Settings(workers=args.workers, cell_timeout=args.cell_timeout, submission_timeout=args.submission_timeout,
                        memory_limit_gib=args.memory_limit, sandbox=args.sandbox, scheduler=args.scheduler,
                        regrade=args.regrade, max_megabytes=args.max_megabytes)
    start = time.perf_counter()
    results = grade_all(ws, pairs, settings, progress=not args.no_progress)
    for r in results:
        for line in r.lines():
            print(line)
    failed = sorted({r.student for r in results if not r.ok})
    flagged = sorted({r.student for r in results if r.flags})
    print(f"graded {sum(r.ok for r in results)}, failed {len(results) - sum(r.ok for r in results)}, "
          f"in {time.perf_counter() - start:.1f} s")
    if flagged:
        print(f"flagged for tampering: {', '.join(flagged)}")
    if failed:
        print(f"students with errors: {len(failed)} ({', '.join(failed)})")
    return min(len(failed), 100)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "grade", help="autograde the collected submissions",
        description="Run every collected submission (COURSE_DIR/submitted/STUDENT/ASSIGNMENT/) and score it by "
        "nbgrader's rules: the locked test cells are restored from the source notebooks, each test cell that runs "
        "without an error earns its points, and the scores go into the gradebook. Notebooks run in parallel on "
        "warm workers, each in a fresh process with a per-cell timeout, a time cap per submission and a memory "
        "limit, inside bubblewrap when it is installed. Broken structure is repaired, tampering scores zero and "
        "is flagged, an unreadable file is an error for that student only. Submitted files are never modified; "
        "an unchanged submission graded before is not graded again (--regrade). The exit status is the number "
        "of students with an error (0: all graded).")
    p.add_argument("--student", action="append", metavar="S", help="grade only this student (repeatable)")
    p.add_argument("--assignment", action="append", metavar="A", help="grade only this assignment (repeatable)")
    p.add_argument("--workers", type=parse_workers, default=0, metavar="N|auto",
                   help="notebooks run at the same time (default: auto, one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the notebooks on a Dask cluster (e.g. tcp://10.0.0.5:8786) instead of this machine")
    p.add_argument("--cell-timeout", type=float, default=10.0, metavar="S", help="seconds one cell may run (default: 10)")
    p.add_argument("--submission-timeout", type=float, default=300.0, metavar="S",
                   help="seconds one notebook may run in all (default: 300)")
    p.add_argument("--memory-limit", type=float, default=3.0, metavar="GIB",
                   help="memory a student's code may take, in GiB (default: 3)")
    p.add_argument("--max-megabytes", type=float, default=20.0, metavar="MB",
                   help="larger submitted notebooks are refused (default: 20)")
    p.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                   help="run student code in bubblewrap: auto (when installed), on (required), off")
    p.add_argument("--regrade", action="store_true", help="grade again submissions that are unchanged since the last run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.set_defaults(func=cmd_grade)
