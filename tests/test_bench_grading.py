"""The grading benchmark (``make bench``) still builds its class and compares the two graders.

Nothing here is timed: the benchmark runs on three students and one assignment, and the tests
check what it builds and what it concludes, not how fast it is.
"""

from __future__ import annotations

import contextlib
import io
import re
from types import SimpleNamespace

import nbformat
import pytest
from traitlets.config import Config

from autograde import bench_grading, course
from autograde.workspace import Workspace

ASSIGNMENT = "02_losses"


def exercise_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {m["grade_id"]: c.source for c in nb.cells
            if (m := course.nbgrader_meta(c)).get("solution") and not m.get("grade")}


def test_is_the_mix_deterministic_and_mixed():
    kinds = [bench_grading.kind_of(i, j) for i in range(20) for j in range(6)]
    assert kinds == [bench_grading.kind_of(i, j) for i in range(20) for j in range(6)]
    assert {k: kinds.count(k) for k in set(kinds)} == {"full": 48, "partial": 48, "blank": 24}
    assert [bench_grading.kind_of(i, 0) for i in range(3)] == ["full", "partial", "blank"]


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_does_each_kind_fill_the_release_copy_as_it_says(released, offset):
    nb = course.assignments()[ASSIGNMENT][0]
    copy = nbformat.read(released.path("release", ASSIGNMENT, nb.path.name), as_version=4)
    solutions = bench_grading.solution_cells(nb.path)

    assert exercise_cells(bench_grading.build_submission(copy, solutions, "full")) == solutions
    assert bench_grading.build_submission(copy, solutions, "blank") == copy
    partial = exercise_cells(bench_grading.build_submission(copy, solutions, "partial", offset=offset))
    right = [name for name, source in partial.items() if source == solutions[name]]
    stubs = [name for name, source in partial.items() if source == exercise_cells(copy)[name]]
    wrong = [name for name, source in partial.items() if name not in right + stubs]
    assert len(right) == len(stubs) == len(wrong) == 1  # three exercises: one of each
    compile(partial[wrong[0]], "<wrong>", "exec")
    assert "NotImplementedError" in exercise_cells(copy)[stubs[0]]
    assert exercise_cells(copy) != partial  # the copy itself is not modified


def test_is_the_nbgrader_config_the_course_tools(tmp_path):
    ws = Workspace(root=tmp_path)
    config = Config()
    exec(bench_grading.nbgrader_config(ws), {"get_config": lambda: config})
    assert config == ws.config()


def test_are_score_differences_found():
    same = {("s1", "02_losses"): {"test_mse_loss": 2.0}}
    assert bench_grading.differences(same, dict(same), list(same)) == []
    other = {("s1", "02_losses"): {"test_mse_loss": 0.0}}
    assert bench_grading.differences(same, other, list(same)) == [
        "s1/02_losses: (a) 2 [test_mse_loss 2]  (b) 0 [test_mse_loss 0]"]
    assert bench_grading.differences(same, {}, list(same)) == ["s1/02_losses: (a) 2 [test_mse_loss 2]  (b) not graded"]


def test_is_the_coordinators_processor_time_read_from_the_grade_log(tmp_path):
    log = tmp_path / "bench.log"
    log.write_text("$ nbgrader autograde 02_losses\ngraded 3, failed 0, in 9.1 s\n"
                   "coordinator CPU: 0.61 s for 3 notebook(s), 0.2033 s per notebook\n", encoding="utf-8")
    assert bench_grading.coordinator_cpu(log) == (0.61, 3)
    log.write_text("graded 3, failed 0, in 9.1 s\n", encoding="utf-8")
    assert bench_grading.coordinator_cpu(log) is None


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> SimpleNamespace:
    keep = tmp_path_factory.mktemp("bench")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bench_grading.main(["--students", "3", "--assignment", ASSIGNMENT, "--keep", str(keep)])
    return SimpleNamespace(rc=rc, lines=out.getvalue().strip().splitlines(), keep=keep)


@pytest.mark.slow
def test_does_the_small_bench_agree_and_end_with_the_ratio(bench):
    assert bench.rc == 0, "\n".join(bench.lines)
    assert "scores: identical for all 3 student notebooks" in bench.lines
    assert re.fullmatch(r"speed-up \(a\)/\(b\): \d+(\.\d+)?x", bench.lines[-1])
    assert any(line.startswith("(a) plain nbgrader") for line in bench.lines)
    assert any(line.startswith("(b) `autograde grade") for line in bench.lines)
    assert any(re.fullmatch(r"\(b\) the reference solutions' observations: (already kept on this machine|computed and "
                            r"kept first \(\d+\.\d s, once per machine and code version\))", line) for line in bench.lines)
    assert any(line.startswith("(c) floor, the same notebooks' code in one warm process") for line in bench.lines)
    assert any(re.fullmatch(r"overhead \(b\)/\(c\): \d+\.\d+x", line) for line in bench.lines)
    assert any(re.match(r"\(b\) processor time per notebook: coordinator \d+\.\d{4} s .*workers \d+\.\d\d s", line)
               for line in bench.lines)


@pytest.mark.slow
def test_do_full_partial_and_blank_score_what_they_hold(bench):
    full = course.assignments()[ASSIGNMENT][0].points
    for folder in ("nbgrader", "autograde"):
        scores = bench_grading.scores(Workspace(root=bench.keep / folder).db)
        totals = {student: sum(grades.values()) for (student, _), grades in scores.items()}
        assert totals["student001"] == full  # full
        assert 0 < totals["student002"] < full  # partial
        assert totals["student003"] == 0  # blank
