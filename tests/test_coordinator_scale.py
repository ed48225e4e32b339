"""The grading process at scale: verdicts checked, gradebook written in batches, a killed run resumed exactly.

The class is simulated (``autograde/simulate.py``): the real coordinator grades synthetic
submissions on a pool whose workers answer at once with verdicts computed in advance by the real
worker-side code. Nothing here is timed: the tests check rows and scores.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from autograde import protocol, simulate
from autograde.protocol import ProtocolError, Task, Verdict


def small_class(tmp_path, n: int, db_url: str | None = None) -> simulate.Simulated:
    return simulate.build(tmp_path / "course", n, db_url)


def test_a_simulated_class_fills_the_gradebook_exactly_in_batches(tmp_path, monkeypatch):
    from autograde import grading

    monkeypatch.setattr(grading, "BATCH", 7)
    sim = small_class(tmp_path, 30)
    figures = simulate.grade(sim)
    assert figures.notebooks == 30
    assert figures.batches >= 30 // 7  # several transactions, not one per submission
    assert simulate.check(sim) == []
    held = simulate.gradebook_rows(sim.ws)["scores"]
    assert held["student001"] == {"test_mse_loss": 2.0, "test_l1_loss": 2.0, "test_cross_entropy": 3.0}  # full
    assert set(held["student003"].values()) == {0.0}  # blank
    reports = sorted(p.parent.name for p in sim.ws.path("reports").glob("*/02_losses.json"))
    assert reports == sim.students
    assert len(list(sim.ws.path("autograded").glob("*/02_losses/02_losses.ipynb"))) == 30

    again = simulate.grade(sim, regrade=True)  # every row updated in place, none added
    assert again.notebooks == 30
    assert simulate.check(sim) == []


def test_a_simulated_class_on_postgresql(tmp_path, postgres_server):
    sim = small_class(tmp_path, 12, postgres_server.create_database("simulated_small"))
    simulate.grade(sim)
    assert simulate.check(sim) == []
    simulate.grade(sim, regrade=True)
    assert simulate.check(sim) == []


def simulate_command(root, n: int, db: str | None) -> list[str]:
    return [sys.executable, "-m", "autograde.simulate", "--submissions", str(n), "--keep", str(root), "--batch", "10",
            *(["--db", db] if db else [])]


@pytest.mark.parametrize("database, stop_after", [("sqlite", 40), ("sqlite", 150), ("postgresql", 80)])
def test_a_batched_run_killed_midway_resumes_to_the_exact_gradebook(tmp_path, database, stop_after, request):
    """SIGKILL a batched run once some submissions are written; the next run grades the rest, and the
    gradebook is what an uninterrupted run gives: every score per cell, one row per submission."""
    n = 240
    db = None
    if database == "postgresql":
        db = request.getfixturevalue("postgres_server").create_database(f"killed_{stop_after}")
    root = tmp_path / "killed"
    first = subprocess.Popen(simulate_command(root, n, db), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    reports = root / "course" / "reports"
    deadline = time.monotonic() + 300
    while len(list(reports.glob("*/02_losses.json"))) < stop_after and time.monotonic() < deadline \
            and first.poll() is None:
        time.sleep(0.01)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = len(list(reports.glob("*/02_losses.json")))
    assert stop_after <= done_before < n, "the first run was not stopped midway"

    resumed = subprocess.run(simulate_command(root, n, db), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    graded = re.search(r"first run: (\d+) notebooks", resumed.stdout)
    assert graded and int(graded.group(1)) == n - done_before, resumed.stdout  # nothing graded twice, nothing lost
    assert "gradebook: exact" in resumed.stdout

    whole = small_class(tmp_path / "whole", n, postgres_db(request, f"whole_{stop_after}") if db else None)
    simulate.grade(whole)
    killed = simulate.build(root / "course", n, db)
    assert simulate.gradebook_rows(killed.ws) == simulate.gradebook_rows(whole.ws)


def postgres_db(request, name: str) -> str:
    return request.getfixturevalue("postgres_server").create_database(name)


# -- verdicts are checked like answers ---------------------------------------------------------
def task() -> Task:
    reference = {"grade_cells": {"test_a": 2.0, "test_b": 3.0}, "solution_cells": ["a", "b"], "task_cells": {}}
    return Task("s/a/nb", "t" * 32, "s", "a", "nb", "nb.ipynb", "", reference, {})


def verdict(**fields) -> str:
    data = {"id": "s/a/nb", "token": "t" * 32, "grades": [{"name": "test_a", "auto_score": 2.0},
                                                          {"name": "test_b", "auto_score": 0.0}]} | fields
    return protocol.dumps(data)


def test_a_valid_verdict_is_read_back():
    read = Verdict.from_json(verdict(comments=[{"name": "a", "auto_comment": "No response."}]), task())
    assert [(g.name, g.auto_score) for g in read.grades] == [("test_a", 2.0), ("test_b", 0.0)]


@pytest.mark.parametrize("fields, problem", [
    ({"token": "u" * 32}, "wrong token"),
    ({"id": "other/a/nb"}, "came for task"),
    ({"grades": [{"name": "test_a", "auto_score": 9.0}, {"name": "test_b", "auto_score": 0.0}]}, "more than its 2 points"),
    ({"grades": [{"name": "test_a", "auto_score": -1}]}, ">= 0"),
    ({"grades": [{"name": "test_a", "auto_score": 1.0}, {"name": "test_a", "auto_score": 1.0}]}, "each graded cell once"),
    ({"grades": [{"name": "test_other", "auto_score": 1.0}]}, "each graded cell once"),
    ({"grades": [{"name": "test_a", "auto_score": "2"}]}, "must be a number"),
    ({"comments": [{"name": "test_a", "auto_comment": None}]}, "not a solution"),
    ({"error": "boom"}, "failed verdict carries grades"),
    ({"extra": 1}, "unknown fields"),
])
def test_a_verdict_that_breaks_the_protocol_is_refused(fields, problem):
    """A worker's verdict can score only the task's graded cells, each once, within its points."""
    with pytest.raises(ProtocolError, match=problem):
        Verdict.from_json(verdict(**fields), task())
