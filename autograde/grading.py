"""Grade collected submissions: the coordinator that schedules the notebooks and writes the gradebook.

``grade`` takes every collected submission (``submitted/STUDENT/ASSIGNMENT/``) through four steps:

1. **Prepare** (:mod:`autograde.prepare`, one notebook at a time): read without modifying it,
   repair, sanitise, read for tampering, build the :class:`autograde.protocol.Job`.
2. **Run** on a pool of warm workers (:mod:`autograde.pool`, :mod:`autograde.worker`): each
   notebook in a fresh child forked from a worker that has imported torch once, with limits on
   processor time per cell and per notebook (a busy machine costs no points; generous wall-clock
   caps are the backstop), a memory limit, no leftover processes, inside bubblewrap when the
   machine has it. A cell that kills the kernel costs its exercise only. Every job has a
   deadline; every answer is checked against its job.
3. **Score** (:mod:`autograde.scoring`): positive evidence for every test cell, tampering zeros,
   then nbgrader's preprocessors; the executed notebook goes to ``autograded/`` for feedback, as
   with ``nbgrader autograde``.
4. **Report** (:mod:`autograde.reports`): one line per submission with its score, then what was
   repaired, flagged or lost, also written to ``reports/STUDENT/ASSIGNMENT.json`` with a digest,
   so a run that was stopped resumes where it stopped (``--regrade`` forces it).

Only this process touches the gradebook (:mod:`autograde.gradebook`), so SQLite is safe with any
number of workers. Steps 1 and 3 depend on one notebook only, so they can move to the workers.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

from autograde import course, protocol
from autograde.gradebook import begin, ensure_released, quiet_nbgrader, read_result, resumable, submissions, zero_notebook
from autograde.prepare import COSTS, Prepared, prepare
from autograde.reports import GradeResult, assignment_digest, digest, invalidate, new_run, record, write_report
from autograde.scoring import score
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
@dataclass
class Submission:
    result: GradeResult
    prepared: list[Prepared]
    key: str
    waiting: int = 0
    started: float = 0.0


def make_pool(settings: Settings):
    from autograde import pool, process_limit, sandbox

    if settings.scheduler:
        return pool.DaskPool(settings.scheduler, settings.sandbox), f"cluster at {settings.scheduler}"
    box = sandbox.choose(settings.sandbox)
    return pool.LocalPool(settings.worker_count(), box), f"{box.note}; {process_limit.find().note}"


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
    run = new_run()  # this run's history file: what each submission scored when this run finished it
    bases = {a: assignment_digest(known[a], settings.fingerprint()) for a in {a for _, a in pairs}}
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
                            running[prepared.job.id] = (sub, prepared)
                            pool.submit(prepared.job)
                    if sub.waiting == 0:
                        results[(student, assignment)] = finish_submission(ws, gb, sub, run)
                        bar.update()
                    continue
                if finished is None:
                    continue
                job, answer = finished
                sub, prepared = running.pop(job.id)
                try:
                    if prepared.job is not job:
                        raise protocol.ProtocolError(f"an answer for {job.id} came back for another job")
                    answer.check(job)
                    score(ws, prepared, answer)
                except Exception as error:  # noqa: BLE001 - one notebook must not stop the class
                    prepared.error = f"{prepared.notebook.name}: could not be scored: {type(error).__name__}: {error}"
                sub.waiting -= 1
                if sub.waiting == 0:
                    results[(sub.result.student, sub.result.assignment)] = finish_submission(ws, gb, sub, run)
                    bar.update()
        finally:
            bar.close()
            if pool is not None:
                pool.close()
    return [results[p] for p in pairs]


def start_submission(ws: Workspace, gb, student: str, assignment: str, key: str, settings: Settings,
                     notebooks: list[course.Notebook]) -> Submission:
    sub = Submission(GradeResult(student, assignment), [], key, started=time.perf_counter())
    # The old report goes first: a run stopped from here on must grade this submission again.
    invalidate(ws, student, assignment)
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


def finish_submission(ws: Workspace, gb, sub: Submission, run: str) -> GradeResult:
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
    record(ws, run, result)
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
                        cell_wall_timeout=args.cell_wall_timeout, submission_wall_timeout=args.submission_wall_timeout,
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
