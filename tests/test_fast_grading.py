"""``grade`` in parallel: several local workers, warm workers that stay clean, and a Dask cluster.

The same small class (02_losses: full, partial and blank submissions) is graded several ways;
every way must give the same CSV as one worker grading alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import hostile_submissions as H
import nbformat
import pytest
from test_instructor_workflow import run
from test_robust_grading import hand_in, reference_sources

from autograde.workspace import Workspace, release

BUSY_SECONDS = 1.5  # processor time the busy student's mse_loss cell uses, under the 3 s cell limit
OPTIONS = ("--cell-timeout", "3")


def class_of(student_copy, solutions) -> dict[str, dict[str, bytes]]:
    """Eight students: full, partial (one or two exercises wrong or left out) and blank; and a busy one."""
    busy = H.solved(student_copy, solutions)
    H.append_code(busy, "mse_loss", H.BURN.format(seconds=BUSY_SECONDS))
    students = {"student_busy": H.files(busy)}
    for i in range(8):
        nb = H.solved(student_copy, solutions) if i % 4 else student_copy
        if i % 4 == 2:
            H.wrong_mse(nb)
        if i % 4 == 3:
            H.cell_of(nb, "cross_entropy").source = "# YOUR CODE HERE\nraise NotImplementedError()"
        students[f"student{i}"] = H.files(nb)
    return students


@pytest.fixture(scope="module")
def course_template(tmp_path_factory) -> Path:
    """A released course with the class handed in, copied for each way of grading."""
    ws = Workspace(root=tmp_path_factory.mktemp("fast-template"))
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    for student, handed in class_of(student_copy, reference_sources()).items():
        hand_in(ws, student, handed)
    return ws.root


def graded_copy(template: Path, dest: Path, *options: str) -> SimpleNamespace:
    shutil.copytree(template, dest)
    result = run("--course-dir", dest, "grade", "--no-progress", *options)
    assert result.rc == 0, result.out
    exported = run("--course-dir", dest, "export", dest / "grades.csv")
    assert exported.rc == 0, exported.out
    return SimpleNamespace(out=result.out, csv=(dest / "grades.csv").read_text(), root=dest)


@pytest.fixture(scope="module")
def serial(course_template, tmp_path_factory):
    return graded_copy(course_template, tmp_path_factory.mktemp("serial") / "course", "--workers", "1", *OPTIONS)


def test_several_workers_give_the_serial_scores_and_every_row(serial, course_template, tmp_path):
    """Six workers on this 2-core machine: each notebook gets a third of a core, and loses nothing for it.

    The cell limit is processor time, so the busy student's 1.5 s of work passes its 3 s limit
    however long it waits for a core (the wall-clock cap is only the generous backstop).
    """
    parallel = graded_copy(course_template, tmp_path / "course", "--workers", "6", *OPTIONS)
    assert parallel.csv == serial.csv
    for graded in (serial, parallel):
        with contextlib.closing(sqlite3.connect(graded.root / "gradebook.db")) as db:
            rows = db.execute("select count(*), count(auto_score) from grade").fetchone()
        assert rows == (9 * 3, 9 * 3)  # 9 students x 3 graded cells, every one scored
        assert not [line for line in graded.out.splitlines() if "processor time" in line or "wall clock" in line]
    totals = {line.split(",")[0]: line.split(",")[-1] for line in serial.csv.splitlines()[2:]}
    assert totals == {"student_busy": "7"} | {f"student{i}": ["0", "7", "5", "4"][i % 4] for i in range(8)}


def test_several_workers_with_a_postgresql_gradebook(serial, course_template, tmp_path, postgres_server):
    # the bare postgresql:// an instructor would type
    url = postgres_server.create_database("fast_grading").replace("postgresql+psycopg2://", "postgresql://")
    shutil.copytree(course_template, tmp_path / "course")
    result = run("--course-dir", tmp_path / "course", "--db", url, "grade", "--workers", "3", "--no-progress")
    assert result.rc == 0, result.out
    exported = run("--course-dir", tmp_path / "course", "--db", url, "export", tmp_path / "grades.csv")
    assert exported.rc == 0, exported.out
    assert (tmp_path / "grades.csv").read_text() == serial.csv


def test_a_warm_worker_gives_the_next_student_a_clean_interpreter(tmp_path):
    ws = Workspace(root=tmp_path)
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    solutions = reference_sources()
    dirty = H.solved(student_copy, solutions)
    H.append_code(dirty, "mse_loss", """
import builtins, json, os, sys, numpy
builtins.LEFT_BY_A = True
json.dumps = None
numpy.pi = 3.0
os.environ["LEFT_BY_A"] = "1"
sys.path.append("/left-by-a")
torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)
open("left-by-a.txt", "w").write("A")
open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "left-by-a.txt"), "w").write("A")
print("A ran in worker", os.getppid())
""")
    clean = H.solved(student_copy, solutions)
    H.append_code(clean, "mse_loss", """
import builtins, json, os, sys, numpy
seen = {
    "builtins": hasattr(builtins, "LEFT_BY_A"),
    "json.dumps": json.dumps is None,
    "numpy.pi": numpy.pi != 3.141592653589793,
    "environment": "LEFT_BY_A" in os.environ,
    "sys.path": "/left-by-a" in sys.path,
    "default dtype": torch.get_default_dtype() != torch.float32,
    "files": os.path.exists("left-by-a.txt") or os.path.exists(os.path.join(os.environ.get("TMPDIR", "/tmp"), "left-by-a.txt")),
}
print("B ran in worker", os.getppid())
print("B sees:", sorted(k for k, v in seen.items() if v) or "nothing of A")
""")
    hand_in(ws, "a_dirty", H.files(dirty))
    hand_in(ws, "b_clean", H.files(clean))
    # the same worker grades a student who plants a module in every folder, then one who looks for it
    hand_in(ws, "a_plants", H.plant_module(H.solved(student_copy, solutions)))
    hand_in(ws, "b_probes", H.honest_with_probe(H.solved(student_copy, solutions)))
    result = run("--course-dir", ws.root, "grade", "--workers", "1", "--no-progress")
    assert result.rc == 0, result.out
    assert f"a_plants/{H.ASSIGNMENT}: 7/7" in result.out.splitlines()
    probe = "".join(o.get("text", "") for o in H.cell_of(nbformat.read(
        ws.path("autograded", "b_probes", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4), "mse_loss").outputs)
    assert "PROBE clean not importable" in probe
    printed = {}
    for student in ("a_dirty", "b_clean"):
        nb = nbformat.read(ws.path("autograded", student, H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
        printed[student] = "".join(o.get("text", "") for o in H.cell_of(nb, "mse_loss").outputs)
    worker_a = printed["a_dirty"].split("A ran in worker ")[1].split()[0]
    worker_b = printed["b_clean"].split("B ran in worker ")[1].split()[0]
    assert worker_a == worker_b, "both students must be graded by the same warm worker"
    assert "B sees: nothing of A" in printed["b_clean"]
    assert f"b_clean/{H.ASSIGNMENT}: 7/7" in result.out.splitlines()


@pytest.fixture
def environment_kept():
    """Dask's nanny sets OMP_NUM_THREADS=1 and more in this process's environment; put it back
    (later notebooks' kernels inherit it, and one thread trains notebook 6 to other digits)."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_a_dask_cluster_gives_the_same_scores(serial, course_template, tmp_path, environment_kept):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        on_cluster = graded_copy(course_template, tmp_path / "course", "--scheduler", cluster.scheduler_address)
    assert f"on cluster at {cluster.scheduler_address}" in on_cluster.out
    assert on_cluster.csv == serial.csv


def test_does_the_run_order_group_the_sandboxes_and_start_the_longest_first():
    """A warm worker restarts to mount given/ or not: the assignments after 01_network run together."""
    from autograde import course
    from autograde.grading import run_order

    known = course.assignments()
    pairs = [(f"s{i}", a) for i in range(3) for a in known]  # student after student, as collected
    order = [a for _, a in run_order(pairs, known)]
    switches = sum(x != y for x, y in zip(order, order[1:]) if "01_network" in (x, y))
    assert switches == 1 and order[-1] == "01_network" and order[:3] == ["06_digits"] * 3, order
    assert sorted(run_order(pairs, known)) == sorted(pairs)
