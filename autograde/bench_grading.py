"""``python -m autograde.bench_grading``: how long does grading a class take?

Builds N synthetic students (default 20) with a fixed mix of full, partial and blank submissions
for every notebook of the course, and grades them twice, in one run on this machine:

(a) the way an instructor would with plain nbgrader: a course folder with an ``nbgrader_config.py``
    equal to the course tool's configuration, ``nbgrader generate_assignment`` for each assignment,
    the submissions in ``submitted/``, then one ``nbgrader autograde ASSIGNMENT`` call per
    assignment, one after the other;
(b) with the course tool: ``python -m autograde --course-dir D grade --workers auto`` on its own copy,
    with the reference solutions' observations kept on this machine as any run after the first has
    them (:mod:`autograde.reference_cache`; the bench says whether it computed them first, and how long
    that took).

(c) the floor: the same notebooks' code (the graded copies (b) wrote, hidden tests included) run
    cell by cell in one warm IPython process, one notebook after the other, with no grading
    machinery at all (no fork, no sandbox, no limits, no capture, no scoring); its time counts
    from after the imports.

For (b) the processor time is split between the grading process (the coordinator: it schedules
the notebooks and writes the gradebook, and ``grade`` prints its share) and the workers (the
rest of its process tree): per notebook, these are the two figures of the sizing rule for a
cluster in docs/grading.md (``python -m autograde.simulate`` measures the coordinator's ceiling).

Both gradebooks are then read back: every student must have the same score for every exercise of
every notebook (the differences are printed and the exit status is 1 otherwise). Printed for each:
wall seconds, seconds per student and peak memory (the sum of the resident set sizes of the whole
process tree, kernels included, sampled from /proc every 0.2 s; shared pages count once per
process, so it overstates a little). The last lines are the ratios (a)/(b) and (b)/(c).

The mix: for student i and notebook j the submission is ``full`` (every solution cell filled with
the reference from the source notebook), ``partial`` (the exercises cycle through the reference,
the untouched stub and a wrong answer) or ``blank`` (the untouched student copy), following
``MIX`` from position i + j.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograde import course
from autograde.workspace import Workspace, nbgrader_on_path, release

MIX = ("full", "partial", "blank", "full", "partial")  # 40% full, 40% partial, 20% blank
PARTIAL = ("reference", "stub", "wrong")  # what a partial submission holds, exercise after exercise
SAMPLE_EVERY = 0.2  # seconds between two memory samples
PAGE = os.sysconf("SC_PAGE_SIZE")
BIN = Path(sys.executable).parent  # this environment's bin/: nbgrader, jupyter, alembic


# -- the class ---------------------------------------------------------------------------
def kind_of(student: int, notebook: int) -> str:
    """``full``, ``partial`` or ``blank``: what student ``student`` hands in for notebook ``notebook``."""
    return MIX[(student + notebook) % len(MIX)]


def student_ids(n: int) -> list[str]:
    return [f"student{i + 1:03d}" for i in range(n)]


def solution_cells(source: Path) -> dict[str, str]:
    """grade_id -> the source notebook's solution cell (the reference answer)."""
    nb = nbformat.read(source, as_version=4)
    return {m["grade_id"]: c.source for c in nb.cells
            if (m := course.nbgrader_meta(c)).get("solution") and not m.get("grade")}


def wrong_answer(name: str, reference: str) -> str:
    """A plausible wrong answer: the definition exists and runs, but gives the wrong result."""
    if reference.lstrip().startswith("class "):
        return (f"class {name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n\n"
                "    def forward(self, x):\n        return x.flatten(1)\n")
    return f"def {name}(*args, **kwargs):\n    return 0\n"


def build_submission(released: nbformat.NotebookNode, solutions: dict[str, str], kind: str,
                     offset: int = 0) -> nbformat.NotebookNode:
    """The release copy filled in as ``kind`` says; ``offset`` shifts which exercises a partial one gets right."""
    nb = nbformat.from_dict(released)
    if kind == "blank":
        return nb
    exercise = 0
    for cell in nb.cells:
        grade_id = course.nbgrader_meta(cell).get("grade_id")
        if grade_id not in solutions or course.nbgrader_meta(cell).get("grade"):
            continue
        answer = "reference" if kind == "full" else PARTIAL[(offset + exercise) % len(PARTIAL)]
        if answer == "reference":
            cell.source = solutions[grade_id]
        elif answer == "wrong":
            cell.source = wrong_answer(grade_id, solutions[grade_id])
        exercise += 1
    return nb


@dataclass
class Class:
    """The synthetic class: who handed in what."""

    students: list[str]
    notebooks: list[course.Notebook]
    kinds: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, notebook) -> kind

    def count(self, kind: str) -> int:
        return sum(k == kind for k in self.kinds.values())


def build_class(n: int, notebooks: list[course.Notebook], released: Path, *course_dirs: Path) -> Class:
    """Write every student's submissions into ``submitted/`` of each course folder; ``released`` holds the copies."""
    klass = Class(student_ids(n), notebooks)
    for j, nb in enumerate(notebooks):
        copy = nbformat.read(released / nb.assignment / nb.path.name, as_version=4)
        solutions = solution_cells(nb.path)
        for i, student in enumerate(klass.students):
            kind = kind_of(i, j)
            klass.kinds[(student, nb.name)] = kind
            submission = build_submission(copy, solutions, kind, offset=i)
            for root in course_dirs:
                target = root / "submitted" / student / nb.assignment / nb.path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(submission, target)
    return klass


# -- the two graders ---------------------------------------------------------------------
def nbgrader_config(ws: Workspace) -> str:
    """``nbgrader_config.py`` text with the same settings as the course tool's configuration."""
    lines = ["c = get_config()  # noqa", ""]
    for section, values in ws.config().items():
        for key, value in values.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    env.pop("PYTHONWARNINGS", None)
    return env


def tree_rss(root: int) -> int:
    """Bytes resident in memory for ``root`` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                resident = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = resident * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


@dataclass
class Measured:
    seconds: float = 0.0
    peak: int = 0  # bytes
    cpu: float = 0.0  # processor seconds of the whole process tree (user + system)
    failed: list[str] = field(default_factory=list)  # commands that exited with an error


def children_cpu() -> float:
    """Processor seconds used so far by this process's ended children and everything they waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # control groups version 1: processor time of a group, descendants included


class CpuGroup:
    """A ``cpuacct`` control group a command runs in, to count its whole tree's processor time.

    Counting ended children (``RUSAGE_CHILDREN``) misses what runs in bubblewrap: the workers are
    killed, not waited for, at the end, so their time never reaches this process. A control group
    counts every process started in it, however it ends. Where none can be made (not root, or no
    version-1 ``cpuacct``), :func:`make` returns None and the ended children's time is used.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def make(cls) -> CpuGroup | None:
        path = CPUACCT / f"autograde-bench-{os.getpid()}-{time.monotonic_ns()}"
        try:
            path.mkdir()
            (path / "cpuacct.usage").read_text()
        except OSError:
            return None
        return cls(path)

    def enter(self) -> None:
        """In the command's process, before it starts: join the group."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def remove(self) -> None:
        for _ in range(50):  # the last processes of the tree may take a moment to go
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


COORDINATOR = re.compile(r"^coordinator CPU: (\d+\.\d+) s for (\d+) notebook")


def coordinator_cpu(log: Path) -> tuple[float, int] | None:
    """(seconds, notebooks): what the last ``grade`` in ``log`` said of its grading process's processor time."""
    found = [m for line in log.read_text(encoding="utf-8").splitlines() if (m := COORDINATOR.match(line))]
    return (float(found[-1].group(1)), int(found[-1].group(2))) if found else None


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, into: Measured) -> None:
    """Run ``cmd``, adding its wall time to ``into`` and raising ``into.peak`` to its tree's peak memory."""
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        start, cpu, group = time.perf_counter(), children_cpu(), CpuGroup.make()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=group.enter if group else None)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                into.peak = max(into.peak, tree_rss(proc.pid))
                done.wait(SAMPLE_EVERY)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        into.seconds += time.perf_counter() - start
        if group is not None:
            into.cpu += group.seconds()
            group.remove()
        else:
            into.cpu += children_cpu() - cpu
        done.set()
        sampler.join()
    if rc != 0:
        into.failed.append(f"{' '.join(cmd)} exited {rc} (log: {log})")


def plain_nbgrader(root: Path, assignments: dict[str, list[course.Notebook]], log: Path) -> Measured:
    """(a): one ``nbgrader autograde ASSIGNMENT`` per assignment, serial."""
    measured = Measured()
    for assignment, nbs in assignments.items():
        run_measured([str(BIN / "nbgrader"), "autograde", assignment], root, environment(COURSE_LANG=nbs[0].lang),
                     log, measured)
    return measured


def accepts_workers() -> bool:
    """Does this version of ``autograde grade`` take ``--workers``?"""
    from autograde.cli import build_parser

    _, unknown = build_parser().parse_known_args(["grade", "--workers", "1"])
    return not unknown


def course_tool(root: Path, workers: str | None, log: Path) -> Measured:
    """(b): ``python -m autograde --course-dir ROOT grade [--workers W]``."""
    measured = Measured()
    cmd = [sys.executable, "-m", "autograde", "--course-dir", str(root), "grade", "--no-progress"]
    if workers is not None:
        cmd += ["--workers", workers]
    run_measured(cmd, root, environment(), log, measured)
    return measured


WARM_REFERENCES = ("from autograde import hidden, reference_cache, verdict\n"
                   "kept = all(reference_cache.load(e) is not None for e in hidden.OBSERVERS)\n"
                   "[verdict.reference(e) for e in hidden.OBSERVERS]\n"
                   "print('KEPT' if kept else 'COMPUTED')")


def warm_references(log: Path) -> str:
    """Have the reference observations kept on this machine, as a grading helper would; says how it went."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WARM_REFERENCES], capture_output=True, text=True, env=environment(),
                          stdin=subprocess.DEVNULL)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ keep the reference observations\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        raise RuntimeError(f"the reference observations could not be computed (log: {log})")
    if "KEPT" in done.stdout:
        return "already kept on this machine"
    return f"computed and kept first ({time.perf_counter() - start:.1f} s, once per machine and code version)"


def floor_main(paths: list[str]) -> None:
    """(c), in its own process: import what the notebooks need once, then run every notebook's code cells.

    A plain IPython shell, one notebook after the other: no fork, no sandbox, no limits, no
    output capture, no protocol, no scoring.
    """
    import io
    import sys as _sys

    from IPython.core.interactiveshell import InteractiveShell

    from autograde.worker import preload

    preload()  # the same imports as a grading worker's, and nothing of the grading machinery
    shell = InteractiveShell.instance()
    try:
        shell.enable_matplotlib("inline")  # as the grader's shell does; a plain shell may refuse
    except NotImplementedError:
        pass
    start = time.perf_counter()
    stdout, stderr, home = _sys.stdout, _sys.stderr, os.getcwd()
    paths = [os.path.abspath(p) for p in paths]
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            os.environ["COURSE_LANG"] = (nb.metadata.get("course") or {}).get("lang") or "en"
            shell.reset(new_session=False)
            _sys.stdout = _sys.stderr = io.StringIO()
            try:
                for cell in nb.cells:
                    if cell.cell_type == "code":
                        shell.run_cell(cell.source, silent=True)
            finally:
                _sys.stdout, _sys.stderr = stdout, stderr
        os.chdir(home)
    print(f"FLOOR {time.perf_counter() - start:.3f}")


def floor(tool: Workspace, log: Path) -> float:
    """(c): seconds to run the code of every notebook (b) graded, in one warm process."""
    graded = sorted(str(p) for p in tool.path("autograded").glob("*/*/*.ipynb"))
    cmd = [sys.executable, "-c", "import sys; from autograde.bench_grading import floor_main; floor_main(sys.argv[1:])",
           *graded]
    done = subprocess.run(cmd, capture_output=True, text=True, env=environment(), stdin=subprocess.DEVNULL)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ (c) floor over {len(graded)} notebooks\n{done.stdout}{done.stderr}")
    found = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("FLOOR ")]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the floor run failed (log: {log})")
    return float(found[0])


# -- reading the gradebooks --------------------------------------------------------------
def scores(db_url: str) -> dict[tuple[str, str], dict[str, float]]:
    """(student, notebook) -> grade cell -> points, for every graded notebook in a gradebook."""
    from nbgrader.api import Gradebook

    nbgrader_on_path()
    found: dict[tuple[str, str], dict[str, float]] = {}
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    found[(submission.student.id, nb.name)] = {g.name: float(g.score or 0.0) for g in nb.grades}
    return found


def differences(a: dict, b: dict, expected: list[tuple[str, str]]) -> list[str]:
    """What differs between the two gradebooks, one line per student and notebook."""
    lines = []
    for key in sorted(set(expected) | set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if left != right:
            lines.append(f"{key[0]}/{key[1]}: (a) {fmt_scores(left)}  (b) {fmt_scores(right)}")
    return lines


def fmt_scores(grades: dict[str, float] | None) -> str:
    if grades is None:
        return "not graded"
    return f"{sum(grades.values()):g} [" + ", ".join(f"{k} {v:g}" for k, v in sorted(grades.items())) + "]"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


# -- command line ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde.bench_grading", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="how many synthetic students (default: %(default)s)")
    parser.add_argument("--workers", default="auto", help="passed to `grade --workers` (default: %(default)s)")
    parser.add_argument("--assignment", action="append", metavar="A",
                        help="only this assignment (repeatable; default: every assignment of the course)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build and keep both course folders in DIR (default: a temporary folder, removed)")
    args = parser.parse_args(argv)

    everything = course.assignments()
    names = args.assignment or list(everything)
    unknown = sorted(set(names) - set(everything))
    if unknown or args.students < 1:
        parser.error(f"no such assignment: {', '.join(unknown)}" if unknown else "--students must be at least 1")
    assignments = {a: everything[a] for a in everything if a in names}
    notebooks = [nb for nbs in assignments.values() for nb in nbs]

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        return bench(work, args.students, assignments, notebooks, args.workers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, n: int, assignments: dict[str, list[course.Notebook]], notebooks: list[course.Notebook],
          workers: str) -> int:
    plain, tool = Workspace(root=work / "nbgrader"), Workspace(root=work / "autograde")
    for ws in (plain, tool):
        if ws.root.exists():
            shutil.rmtree(ws.root)
        ws.root.mkdir(parents=True)
    log = work / "bench.log"
    log.unlink(missing_ok=True)

    print(f"{n} students x {len(notebooks)} notebooks ({', '.join(nb.name for nb in notebooks)}), "
          f"{os.cpu_count()} CPU cores; folders and logs in {work}", flush=True)
    (plain.root / "nbgrader_config.py").write_text(nbgrader_config(plain), encoding="utf-8")
    setup = Measured()
    for assignment in assignments:
        run_measured([str(BIN / "nbgrader"), "generate_assignment", assignment, "--force"], plain.root, environment(),
                     log, setup)
    if setup.failed:
        print("setup failed:\n  " + "\n  ".join(setup.failed), file=sys.stderr)
        return 2
    release(tool, list(assignments))  # what `python -m autograde release` does
    klass = build_class(n, notebooks, plain.path("release"), plain.root, tool.root)
    print(f"submissions: {klass.count('full')} full, {klass.count('partial')} partial, {klass.count('blank')} blank",
          flush=True)

    a = plain_nbgrader(plain.root, assignments, log)
    print(f"(a) plain nbgrader, one `nbgrader autograde` per assignment, serial: {a.seconds:.1f} s, "
          f"{a.seconds / n:.2f} s per student, peak memory {mib(a.peak)}", flush=True)

    print(f"(b) the reference solutions' observations: {warm_references(log)}", flush=True)
    if accepts_workers():
        b = course_tool(tool.root, workers, log)
        label = f"`autograde grade --workers {workers}`"
    else:
        print("note: this `autograde grade` has no --workers option yet; (b) runs without it", flush=True)
        b = course_tool(tool.root, None, log)
        label = "`autograde grade` (no --workers)"
    print(f"(b) {label}: {b.seconds:.1f} s, {b.seconds / n:.2f} s per student, peak memory {mib(b.peak)}", flush=True)
    said = coordinator_cpu(log)
    if said is not None and said[1]:
        coordinator, graded = said
        print(f"(b) processor time per notebook: coordinator {coordinator / graded:.4f} s (the grading process, "
              f"start-up excluded), workers {(b.cpu - coordinator) / graded:.2f} s ({graded} notebooks)", flush=True)
    c = floor(tool, log)
    print(f"(c) floor, the same notebooks' code in one warm process, no grading machinery: {c:.1f} s, "
          f"{c / n:.2f} s per student", flush=True)
    print(f"peak memory = the sum of RSS over each command's whole process tree (kernels included), "
          f"sampled from /proc every {SAMPLE_EVERY} s")

    for failure in a.failed + b.failed:
        print(f"FAILED: {failure}")
    diff = differences(scores(plain.db), scores(tool.db), list(klass.kinds))
    if diff:
        print(f"scores DIFFER for {len(diff)} of {len(klass.kinds)} student notebooks:")
        for line in diff:
            print(f"  {line}")
    else:
        print(f"scores: identical for all {len(klass.kinds)} student notebooks")
    print(f"overhead (b)/(c): {b.seconds / c:.2f}x")
    print(f"speed-up (a)/(b): {a.seconds / b.seconds:.1f}x")
    return 1 if diff or a.failed or b.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
