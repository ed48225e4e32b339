"""Grade collected submissions: the coordinator that schedules the notebooks and writes the gradebook.

``grade`` takes every collected submission (``submitted/STUDENT/ASSIGNMENT/``) through four steps;
the first three run away from this process, on the workers, one notebook at a time
(:mod:`autograde.tasks`), and only JSON crosses:

1. **Prepare** (:mod:`autograde.prepare`): read without modifying it, repair, sanitise, read for
   tampering, build the :class:`autograde.protocol.Job`. The grader sends the submitted file and
   what the gradebook knows of the source notebook (a :class:`autograde.protocol.Task`).
2. **Run** on a pool of warm workers (:mod:`autograde.pool`, :mod:`autograde.worker`): each
   notebook in a fresh child forked from a worker that has imported torch once, with limits on
   processor time per cell and per notebook (a busy machine costs no points; generous wall-clock
   caps are the backstop), a memory limit, no leftover processes, inside bubblewrap when the
   machine has it. A cell that kills the kernel costs its exercise only. Every job has a
   deadline; every answer is checked against its job.
3. **Score** (:mod:`autograde.scoring`): positive evidence for every test cell, tampering zeros,
   then nbgrader's rule for each graded cell; the result is a :class:`autograde.protocol.Verdict`,
   checked here against its task (id, token, one score per graded cell within its points).
4. **Write** (this module, :func:`autograde.gradebook.write_batch`): the verdicts go into the
   gradebook in batches, one transaction per batch, and the graded copies into ``autograded/``
   (for feedback, as with ``nbgrader autograde``); then each submission's report
   (:mod:`autograde.reports`): one line per submission with its score, then what was repaired,
   flagged or lost, also written to ``reports/STUDENT/ASSIGNMENT.json`` with a digest, so a run
   that was stopped resumes where it stopped (``--regrade`` forces it).

A submission's report is removed before its task is sent and written only after its batch is
committed: a run killed at any moment leaves every submission either graded (report and rows)
or graded again by the next run, whose write updates the same rows (never duplicates them).
Only this process touches the gradebook (:mod:`autograde.gradebook`), so SQLite is safe with any
number of workers.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograde import course, protocol, repair
from autograde.gradebook import (
    AssignmentIds,
    Finished,
    assignment_ids,
    ensure_released,
    fill_result,
    quiet_nbgrader,
    read_result,
    reference_of,
    resumable,
    submission_timestamp,
    submissions,
    write_batch,
)
from autograde.prepare import COSTS, job_limits
from autograde.protocol import Task, Verdict
from autograde.reports import GradeResult, assignment_digest, digest, invalidate, new_run, record_all, write_atomic, write_report
from autograde.workspace import Workspace

# Other commands (status, export, feedback) read the gradebook through these names.
__all__ = ["GradeResult", "Settings", "grade_all", "grade_one", "quiet_nbgrader", "read_result", "register", "submissions"]


@dataclass
class Settings:
    """How to grade: limits, parallelism, sandbox."""

    workers: int = 0  # 0: one per core
    cell_timeout: float = 10.0  # seconds of processor time one cell may use
    submission_timeout: float = 300.0  # seconds of processor time one notebook may use
    cell_wall_timeout: float | None = None  # wall-clock backstop per cell; default: 6x cell_timeout, at least 60 s
    submission_wall_timeout: float | None = None  # wall-clock backstop per notebook; default: 3x submission_timeout
    memory_limit_gib: float = 3.0
    sandbox: str = "auto"
    scheduler: str | None = None
    regrade: bool = False
    max_megabytes: float = 20.0

    def worker_count(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)))

    def walls(self) -> tuple[float, float]:
        """The wall-clock backstops (cell, notebook): generous, for code that sleeps or blocks."""
        cell = self.cell_wall_timeout or max(60.0, 6 * self.cell_timeout)
        return cell, self.submission_wall_timeout or max(3 * self.submission_timeout, cell)

    def fingerprint(self) -> dict:
        return {"cell_timeout": self.cell_timeout, "submission_timeout": self.submission_timeout,
                "walls": list(self.walls()), "memory_limit_gib": self.memory_limit_gib}


# -- the run -----------------------------------------------------------------------------------
BATCH = 200  # finished submissions written to the gradebook in one transaction
BATCH_SECONDS = 1.0  # the longest a finished submission waits for its batch
IN_FLIGHT = 256  # tasks sent and not answered yet (each holds its submitted file)


@dataclass
class Submission:
    result: GradeResult
    key: str
    notebooks: list[str]
    verdicts: dict[str, Verdict | None] = field(default_factory=dict)  # notebook -> verdict (None: not handed in)
    problems: dict[str, str] = field(default_factory=dict)  # notebook -> why it could not be sent
    timestamp: datetime | None = None
    waiting: int = 0
    started: float = 0.0


class Tasks:
    """What the workers need per notebook of an assignment (read from the gradebook once), and the tasks built from it."""

    def __init__(self, ws: Workspace, gb, settings: Settings) -> None:
        self.ws, self.gb, self.settings = ws, gb, settings
        self.limits = job_limits(settings)
        self.references: dict[tuple[str, str], dict] = {}

    def task(self, student: str, assignment: str, nb: course.Notebook, path, raw: bytes) -> Task:
        key = (assignment, nb.name)
        if key not in self.references:
            self.references[key] = reference_of(self.ws, self.gb, nb)
        return Task(id=f"{student}/{assignment}/{nb.name}", token=secrets.token_hex(16), student=student,
                    assignment=assignment, notebook=nb.name, file_name=path.name,
                    content=base64.b64encode(raw).decode("ascii"), reference=self.references[key], limits=self.limits)


def make_pool(settings: Settings, first: list[str] | None = None):
    """The pool the notebooks run on, and a line that says where. ``first``: the assignments of the tasks
    that will wait first, so that on this machine a worker starts with the sandbox they need."""
    from autograde import pool, process_limit, sandbox

    if settings.scheduler:
        return pool.DaskPool(settings.scheduler, settings.sandbox), f"cluster at {settings.scheduler}"
    box = sandbox.choose(settings.sandbox)
    workers = settings.worker_count()
    return pool.LocalPool(workers, box, starting_sandboxes(workers, first or [])), f"{box.note}; {process_limit.find().note}"


def starting_sandboxes(workers: int, assignments: list[str]) -> list[bool]:
    """Whether each of ``workers`` starts with ``given/`` mounted, for tasks of ``assignments``: as many start
    without it as the share of those tasks that must not see it asks for, and at least one when any does."""
    from autograde.pool import needs_given

    without = sum(not needs_given(a) for a in assignments)
    plain = min(workers, max(1 if without else 0, round(workers * without / max(1, len(assignments)))))
    return [False] * plain + [True] * (workers - plain)


def grade_all(ws: Workspace, pairs: list[tuple[str, str]], settings: Settings | None = None,
              progress: bool = True, say=print, pool=None, stats: dict | None = None) -> list[GradeResult]:
    """Grade every (student, assignment) pair; one result per pair, in the order given.

    ``pool``: where the tasks go (default: :func:`make_pool`); ``stats`` gets the number of
    notebooks sent and of gradebook transactions.
    """
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    settings = settings or Settings()
    stats = stats if stats is not None else {}
    stats.update(notebooks=0, batches=0)
    if not pairs:
        return []
    api = ws.api()
    known = course.assignments(ws.source)
    run = new_run()  # this run's history file: what each submission scored when this run finished it
    bases = {a: assignment_digest(known[a], settings.fingerprint()) for a in {a for _, a in pairs}}
    results: dict[tuple[str, str], GradeResult] = {}
    order = run_order(pairs, known, ws.source)
    bar = tqdm(total=len(pairs), desc="grading", unit="submission", disable=not progress)
    own_pool, where = pool is None, "the given pool"
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
        ids: dict[str, AssignmentIds] = {}
        if todo:
            if pool is None:
                first = [a for _, a, _ in todo[:IN_FLIGHT]]
                pool, where = make_pool(settings, first)  # the workers warm up while the assignments are checked
            for assignment in sorted({a for _, a, _ in todo}):
                ensure_released(ws, api, assignment)
                ids[assignment] = assignment_ids(gb, assignment)
            gb.db.commit()
            say(f"grading {len(todo)} submission(s) on {where}"
                + (f"; {len(results)} unchanged since the last run" if results else ""))
        tasks = Tasks(ws, gb, settings)
        running: dict[str, tuple[Submission, Task]] = {}
        ready: list[Submission] = []
        ready_since = 0.0
        queue_ = todo[::-1]  # popped from the end: the order above
        wait = 5.0 if settings.scheduler else None

        def flush() -> None:
            write_submissions(ws, gb, ids, known, ready, run, results)
            stats["batches"] += 1
            bar.update(len(ready))
            ready.clear()

        try:
            while queue_ or running or ready:
                finished = pool.next(timeout=0)
                if finished is None:
                    if queue_ and len(running) < IN_FLIGHT:
                        student, assignment, key = queue_.pop()
                        sub = start_submission(ws, tasks, student, assignment, key, known[assignment], pool, running)
                        stats["notebooks"] += sub.waiting
                        if sub.waiting == 0:
                            ready_since = ready_since if ready else time.monotonic()
                            ready.append(sub)
                        continue
                    if ready and (not running or time.monotonic() - ready_since >= BATCH_SECONDS):
                        flush()
                        continue
                    if not running:
                        continue
                    finished = pool.next(timeout=BATCH_SECONDS if ready else wait)
                    if finished is None:
                        continue
                task, text = finished
                sub, sent = running.pop(task.id)
                try:
                    if sent is not task:
                        raise protocol.ProtocolError(f"a verdict for {task.id} came back for another task")
                    verdict = Verdict.from_json(text, sent)
                except Exception as error:  # noqa: BLE001 - one notebook must not stop the class
                    verdict = Verdict.failed(sent, f"{sent.notebook}: could not be scored: {type(error).__name__}: {error}")
                sub.verdicts[sent.notebook] = verdict
                sub.waiting -= 1
                if sub.waiting == 0:
                    ready_since = ready_since if ready else time.monotonic()
                    ready.append(sub)
                    if len(ready) >= BATCH:
                        flush()
        finally:
            bar.close()
            if own_pool and pool is not None:
                pool.close()
    return [results[p] for p in pairs]


def run_order(pairs: list[tuple[str, str]], known: dict[str, list[course.Notebook]],
              source: Path | None = None) -> list[tuple[str, str]]:
    """The order to grade (student, assignment) pairs in: the assignments whose sandbox mounts ``given/``
    together, then the others (a warm worker restarts to switch: the sandbox is set when it starts), and
    within each group the longest notebooks first, so none starts last and holds up the end of the run."""
    from autograde import given

    mounts = {a: given.gets_given(a, source) for a in {a for _, a in pairs}}

    def cost(pair: tuple[str, str]) -> float:
        return max(COSTS.get(nb.name, 1.0) for nb in known[pair[1]])

    return sorted(pairs, key=lambda p: (not mounts[p[1]], -cost(p)))


def start_submission(ws: Workspace, tasks: Tasks, student: str, assignment: str, key: str,
                     notebooks: list[course.Notebook], pool, running: dict) -> Submission:
    """Send a task for each notebook of a submission that was handed in; the report goes first."""
    sub = Submission(GradeResult(student, assignment), key, [nb.name for nb in notebooks], started=time.perf_counter())
    # The old report goes first: a run stopped from here on must grade this submission again.
    invalidate(ws, student, assignment)
    sub.timestamp = submission_timestamp(ws, student, assignment)
    folder = ws.path("submitted", student, assignment)
    for nb in notebooks:
        path, problem = repair.find_notebook(folder, nb.name)
        if path is None:
            if problem:
                sub.problems[nb.name] = f"{nb.name}: {problem}"
            sub.verdicts[nb.name] = None
            continue
        try:
            raw = repair.read_submission(path, max_bytes=int(tasks.settings.max_megabytes * 2**20))
        except repair.SubmissionError as error:
            sub.problems[nb.name] = f"{nb.name}: {error}"
            sub.verdicts[nb.name] = None
            continue
        task = tasks.task(student, assignment, nb, path, raw)
        running[task.id] = (sub, task)
        sub.waiting += 1
        pool.submit(task)
    return sub


def write_submissions(ws: Workspace, gb, ids: dict[str, AssignmentIds], known: dict[str, list[course.Notebook]],
                      batch: list[Submission], run: str, results: dict[tuple[str, str], GradeResult]) -> None:
    """One batch: the graded copies into ``autograded/``, the grades in one transaction, then the reports."""
    finished = []
    for sub in batch:
        result = sub.result
        dest = ws.path("autograded", result.student, result.assignment)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        src = ws.path("submitted", result.student, result.assignment)
        for path in src.rglob("*"):  # the other files handed in, as nbgrader copies them
            if path.is_file() and path.suffix != ".ipynb" and not path.name.startswith("."):
                target = dest / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        verdicts: dict[str, Verdict | None] = {}
        for name in sub.notebooks:
            verdict = sub.verdicts.get(name)
            if verdict is None:
                if name in sub.problems:
                    result.errors.append(sub.problems[name])
                else:
                    result.missing.append(name)
                verdicts[name] = None
                continue
            if verdict.error:
                result.errors.append(verdict.error)
            result.notes.extend(verdict.notes)
            result.flags.extend(verdict.flags)
            verdicts[name] = None if verdict.error else verdict
            if verdict.notebook is not None and not verdict.error:
                write_atomic(dest / f"{name}.ipynb", verdict.notebook)
        finished.append(Finished(result.student, result.assignment, sub.timestamp, verdicts))
    scored = write_batch(gb, ids, finished)
    for sub in batch:
        result = fill_result(known[sub.result.assignment], sub.result, scored[(sub.result.student, sub.result.assignment)])
        result.seconds = time.perf_counter() - sub.started
        write_report(ws, result, sub.key)
        results[(result.student, result.assignment)] = result
    record_all(ws, run, [sub.result for sub in batch])


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
                        cell_wall_timeout=args.cell_wall_timeout, submission_wall_timeout=args.submission_wall_timeout,
                        memory_limit_gib=args.memory_limit, sandbox=args.sandbox, scheduler=args.scheduler,
                        regrade=args.regrade, max_megabytes=args.max_megabytes)
    start, cpu, stats = time.perf_counter(), time.process_time(), {}
    results = grade_all(ws, pairs, settings, progress=not args.no_progress, stats=stats)
    cpu = time.process_time() - cpu
    for r in results:
        for line in r.lines():
            print(line)
    failed = sorted({r.student for r in results if not r.ok})
    flagged = sorted({r.student for r in results if r.flags})
    if stats.get("notebooks"):
        print(f"coordinator CPU: {cpu:.2f} s for {stats['notebooks']} notebook(s), "
              f"{cpu / stats['notebooks']:.4f} s per notebook")
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
        "warm workers, each in a fresh process with limits on processor time per cell and per submission "
        "(a busy machine costs no points; generous wall-clock caps are the backstop) and a memory limit, "
        "inside bubblewrap when it is installed. Broken structure is repaired, tampering scores zero and "
        "is flagged, an unreadable file is an error for that student only. Submitted files are never modified; "
        "an unchanged submission graded before is not graded again (--regrade). The exit status is the number "
        "of students with an error (0: all graded).")
    p.add_argument("--student", action="append", metavar="S", help="grade only this student (repeatable)")
    p.add_argument("--assignment", action="append", metavar="A", help="grade only this assignment (repeatable)")
    p.add_argument("--workers", type=parse_workers, default=0, metavar="N|auto",
                   help="notebooks run at the same time (default: auto, one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the notebooks on a Dask cluster (e.g. tcp://10.0.0.5:8786) instead of this machine")
    p.add_argument("--cell-timeout", type=float, default=10.0, metavar="S",
                   help="seconds of processor time one cell may use (default: 10)")
    p.add_argument("--submission-timeout", type=float, default=300.0, metavar="S",
                   help="seconds of processor time one notebook may use in all (default: 300)")
    p.add_argument("--cell-wall-timeout", type=float, default=None, metavar="S",
                   help="wall-clock backstop per cell, for code that sleeps or blocks (default: 6x --cell-timeout, "
                   "at least 60)")
    p.add_argument("--submission-wall-timeout", type=float, default=None, metavar="S",
                   help="wall-clock backstop per notebook (default: 3x --submission-timeout)")
    p.add_argument("--memory-limit", type=float, default=3.0, metavar="GIB",
                   help="memory a student's code may take, in GiB (default: 3)")
    p.add_argument("--max-megabytes", type=float, default=20.0, metavar="MB",
                   help="larger submitted notebooks are refused (default: 20)")
    p.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                   help="run student code in bubblewrap: auto (when installed), on (required), off")
    p.add_argument("--regrade", action="store_true", help="grade again submissions that are unchanged since the last run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.set_defaults(func=cmd_grade)
