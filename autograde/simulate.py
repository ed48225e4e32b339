"""``python -m autograde.simulate``: the grading process's ceiling, with the notebooks' runs simulated.

A cluster makes the notebooks' runs as fast as one likes; what it cannot speed up is the one
grading process that schedules the notebooks and writes the gradebook. This measures it: a
synthetic class of N submissions of one assignment (the mix of ``make bench``: full, partial and
blank) is graded by the real coordinator (:func:`autograde.grading.grade_all`: resume digests,
reading the submitted files, building and sending the tasks, checking the verdicts, the
gradebook's batched writes, ``autograded/``, the reports and the run's history), on a pool whose
workers answer at once with precomputed verdicts. Each verdict was computed once per kind of
submission by the real worker-side code (:mod:`autograde.tasks`: prepare, then score an answer
in which a test passes exactly when its exercise holds the reference).

Printed: notebooks per second (wall) and the grading process's processor time per notebook
(user + system, all its threads), which is what bounds a cluster; then the gradebook is read
back and checked (one submission row per student, one grade row per graded cell, every score as
the kind says). ``--db`` grades into another gradebook (``postgresql://...``); ``--postgres``
starts a throw-away PostgreSQL server for the run (Debian's ``postgresql`` package, as the tests do).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograde import course, tasks
from autograde.bench_grading import PARTIAL, build_submission, kind_of, solution_cells, student_ids
from autograde.protocol import Answer, CellResult, Observations, Task
from autograde.workspace import Workspace, release

ASSIGNMENT = "02_losses"


def variant(student: int) -> tuple[str, int]:
    """(kind, offset) of student ``student``'s submission; partial ones differ by their offset modulo 3."""
    kind = kind_of(student, 0)
    return kind, (student % len(PARTIAL) if kind == "partial" else 0)


def passes(kind: str, offset: int, exercises: int) -> list[bool]:
    """Which exercises hold the reference (what a real run would pass)."""
    if kind == "blank":
        return [False] * exercises
    return [kind == "full" or PARTIAL[(offset + k) % len(PARTIAL)] == "reference" for k in range(exercises)]


def answer_for(job, passed: dict[str, bool]) -> Answer:
    """A worker's answer as if every cell ran, each test passing exactly when its exercise holds the reference.

    A passing test cell that holds a hidden check reports what the reference itself would have shown
    its hidden tests, so the grader's verdict (computed as in a real run) passes it.
    """
    from autograde import verdict

    cells = []
    for count, cell in enumerate(job.cells, 1):
        if cell.test and not passed.get(cell.exercise, True):
            error = {"output_type": "error", "ename": "AssertionError", "evalue": "wrong", "traceback": ["AssertionError"]}
            cells.append(CellResult((error,), count, "error"))
        elif cell.hidden:
            cells.append(CellResult((), count, "ok", Observations(cell.hidden, verdict.reference(cell.hidden))))
        else:
            cells.append(CellResult((), count, "ok"))
    return Answer(job.id, job.token, tuple(cells))


class SimPool:
    """A pool whose workers answer at once: each task's verdict was computed in advance for its kind of submission.

    It still does what a real pool does in the grading process: it serialises each task as it
    would send it, and hands back the verdict as JSON text to be checked.
    """

    def __init__(self, verdicts: dict[str, str]) -> None:
        self.verdicts = verdicts  # student -> the verdict's JSON without its id and token
        self.done: deque = deque()
        self.sent = 0

    def submit(self, task: Task) -> None:
        self.sent += len(task.to_json())
        head = json.dumps({"id": task.id, "token": task.token})[:-1]
        self.done.append((task, head + ", " + self.verdicts[task.student]))

    def next(self, timeout: float | None = None):
        return self.done.popleft() if self.done else None

    def close(self) -> None:
        pass


@dataclass
class Simulated:
    ws: Workspace
    students: list[str]
    expected: dict[str, dict[str, float]]  # student -> grade cell -> points
    verdicts: dict[str, str]


def build(root: Path, n: int, db_url: str | None = None, assignment: str = ASSIGNMENT) -> Simulated:
    """A released course with ``n`` synthetic submissions, and each one's precomputed verdict.

    A course folder built before (same ``n``) is reused as it is: only the verdicts are computed again.
    """
    import base64

    from nbgrader.api import Gradebook

    from autograde.gradebook import reference_of
    from autograde.grading import Settings
    from autograde.prepare import job_limits
    from autograde.protocol import Job

    ws = Workspace(root=root, db_url=db_url)
    built = ws.path("release", assignment).is_dir()
    if not built:
        release(ws, [assignment])
    (nb,) = course.assignments(ws.source)[assignment]
    copy = nbformat.read(ws.path("release", assignment, nb.path.name), as_version=4)
    solutions = solution_cells(nb.path)
    with Gradebook(ws.db) as gb:
        reference = reference_of(ws, gb, nb)
    exercises = [ex.name for ex in nb.exercises]
    texts: dict[tuple[str, int], str] = {}
    verdicts: dict[tuple[str, int], str] = {}
    expected_by: dict[tuple[str, int], dict[str, float]] = {}
    students = student_ids(n)
    for i in range(n):
        key = variant(i)
        if key not in texts:
            texts[key] = nbformat.writes(build_submission(copy, solutions, key[0], offset=key[1]))
            task = Task(id="simulated", token="simulated", student="simulated", assignment=assignment, notebook=nb.name,
                        file_name=nb.path.name, content=base64.b64encode(texts[key].encode()).decode(),
                        reference=reference, limits=job_limits(Settings()))
            job_json, state = tasks.start(task.to_json())
            passed = dict(zip(exercises, passes(*key, len(exercises)), strict=True))
            verdict = json.loads(tasks.finish(state, answer_for(Job.from_json(job_json), passed).to_json()))
            if verdict["error"]:
                raise RuntimeError(f"the simulated verdict for {key} failed: {verdict['error']}")
            verdicts[key] = json.dumps({k: v for k, v in verdict.items() if k not in ("id", "token")})[1:]
            expected_by[key] = {f"test_{ex}": (points if ok else 0.0) for ex, points, ok in
                                zip(exercises, [e.points for e in nb.exercises], passed.values(), strict=True)}
        if not built:
            folder = ws.path("submitted", students[i], assignment)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / nb.path.name).write_text(texts[key], encoding="utf-8")
    return Simulated(ws, students, {s: expected_by[variant(i)] for i, s in enumerate(students)},
                     {s: verdicts[variant(i)] for i, s in enumerate(students)})


@dataclass
class Figures:
    notebooks: int
    seconds: float
    cpu: float
    batches: int

    @property
    def per_second(self) -> float:
        return self.notebooks / max(self.seconds, 1e-9)

    @property
    def cpu_per_notebook(self) -> float:
        return self.cpu / max(self.notebooks, 1)


def grade(sim: Simulated, regrade: bool = False) -> Figures:
    """Grade the simulated class with the real coordinator; its wall and processor time."""
    from autograde.grading import Settings, grade_all

    pairs = [(s, ASSIGNMENT) for s in sim.students]
    stats: dict = {}
    pool = SimPool(sim.verdicts)
    wall, cpu = time.perf_counter(), time.process_time()
    grade_all(sim.ws, pairs, Settings(regrade=regrade), progress=False, say=lambda *_: None, pool=pool, stats=stats)
    return Figures(stats["notebooks"], time.perf_counter() - wall, time.process_time() - cpu, stats["batches"])


def gradebook_rows(ws: Workspace) -> dict:
    """What the gradebook holds: rows per table, and student -> grade cell -> score."""
    import sqlalchemy as sa
    from nbgrader.api import Grade, Gradebook, SubmittedAssignment, SubmittedNotebook

    with Gradebook(ws.db) as gb:
        counts = {t.__tablename__: gb.db.query(t).count() for t in (SubmittedAssignment, SubmittedNotebook, Grade)}
        rows = gb.db.execute(sa.text(
            "select sa.student_id, bc.name, g.auto_score from grade g join submitted_notebook sn on g.notebook_id = sn.id "
            "join submitted_assignment sa on sn.assignment_id = sa.id join base_cell bc on g.cell_id = bc.id"))
        scores: dict[str, dict[str, float]] = {}
        for student, cell, score in rows:
            scores.setdefault(student, {})[cell] = score
    return {"counts": counts, "scores": scores}


def check(sim: Simulated) -> list[str]:
    """What differs between the gradebook and what every simulated submission should have scored."""
    held = gradebook_rows(sim.ws)
    problems = []
    graded = sum(len(v) for v in sim.expected.values())
    want = {"submitted_assignment": len(sim.students), "submitted_notebook": len(sim.students), "grade": graded}
    if held["counts"] != want:
        problems.append(f"rows: {held['counts']}, expected {want}")
    if held["scores"] != sim.expected:
        wrong = sorted(s for s in sim.expected if held["scores"].get(s) != sim.expected[s])
        problems.append(f"scores differ for {len(wrong)} students, e.g. {wrong[:3]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000, help="synthetic submissions (default: %(default)s)")
    parser.add_argument("--db", default=None, help="gradebook URL (default: SQLite in the course folder)")
    parser.add_argument("--postgres", action="store_true", help="grade into a throw-away PostgreSQL server")
    parser.add_argument("--regrade", action="store_true", help="then grade the class again (--regrade: rows updated)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the course in DIR and keep it (a course built there before is graded again, resumed)")
    parser.add_argument("--batch", type=int, default=None, help="submissions per gradebook transaction")
    args = parser.parse_args(argv)
    if args.batch:
        from autograde import grading

        grading.BATCH = args.batch
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="simulate-grading-"))
    server = None
    try:
        db = args.db
        if args.postgres:
            sys.path.insert(0, str(course.REPO / "tests"))
            import pgserver

            server = pgserver.start()
            db = server.create_database("simulated")
        sim = build(work / "course", args.submissions, db)
        where = "PostgreSQL" if sim.ws.db.startswith("postgresql") else "SQLite"
        print(f"{args.submissions} simulated submissions of {ASSIGNMENT} (one notebook each), gradebook on {where}")
        runs = [("first run", False)] + ([("--regrade", True)] if args.regrade else [])
        failed = False
        for label, regrade in runs:
            figures = grade(sim, regrade)
            print(f"{label}: {figures.notebooks} notebooks in {figures.seconds:.1f} s: {figures.per_second:.0f} notebooks/s, "
                  f"coordinator CPU {figures.cpu:.1f} s = {figures.cpu_per_notebook:.4f} s per notebook "
                  f"({figures.batches} gradebook transactions)", flush=True)
            problems = check(sim)
            for problem in problems:
                print(f"WRONG: {problem}")
            failed = failed or bool(problems)
        if not failed:
            print(f"gradebook: exact ({len(sim.students)} submissions, one row each, every graded cell scored as expected)")
        return 1 if failed else 0
    finally:
        if server is not None:
            pgserver.stop(server)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
