"""``grade`` on broken, slow, hostile and unreadable submissions (tests/hostile_submissions.py).

The whole batch is graded in one run of the real command, as an instructor would; each test then
checks one student's exact score and report lines, or a property of the whole run (exit status,
files untouched, no process left, isolation). Smaller runs check the sandbox-off path and that a
run killed halfway resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import hostile_submissions as H
import nbformat
import pytest
from test_instructor_workflow import run, tree

from autograde import course, sandbox
from autograde.reports import report_path
from autograde.workspace import Workspace, release

OPTIONS = ["--cell-timeout", "4", "--submission-timeout", "10", "--cell-wall-timeout", "30",
           "--submission-wall-timeout", "60", "--memory-limit", "1", "--no-progress"]


def report_of(out: str, student: str) -> list[str]:
    """The score line of ``student`` and the indented lines under it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{student}/{H.ASSIGNMENT}: "))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def reference_sources() -> dict[str, str]:
    src = nbformat.read(course.SOURCE / H.NOTEBOOK / f"{H.NOTEBOOK}.ipynb", as_version=4)
    return {H.meta(c)["grade_id"]: c.source for c in src.cells if H.meta(c).get("solution")}


def hand_in(ws: Workspace, student: str, handed: dict[str, bytes]) -> None:
    folder = ws.path("submitted", student, H.ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in handed.items():
        (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def listener():
    """A TCP server on this machine that the sandboxed code must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, listener):
    """Every fixture submission, plus a snooping one, graded in one run."""
    ws = Workspace(root=tmp_path_factory.mktemp("hostile-course"))
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    solutions = reference_sources()
    for name, (builder, _, _) in H.EXPECTED.items():
        hand_in(ws, name, builder(H.solved(student_copy, solutions)))
    targets = {"gradebook": str(ws.root / "gradebook.db"),
               "other_student": str(ws.path("submitted", "exit_in_mse", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb")),
               "hidden_tests": str(course.SOURCE / H.NOTEBOOK / f"{H.NOTEBOOK}.ipynb")}
    hand_in(ws, "snoop", H.snoop(H.solved(student_copy, solutions), targets, listener))
    before = tree(ws.path("submitted"))
    result = run("--course-dir", ws.root, "grade", *OPTIONS)
    return SimpleNamespace(ws=ws, before=before, **vars(result))


@pytest.mark.parametrize("name", list(H.EXPECTED))
def test_each_fixture_scores_exactly_and_says_why(batch, name):
    _, score, lines = H.EXPECTED[name]
    handed = next(batch.ws.path("submitted", name, H.ASSIGNMENT).iterdir())
    expected = [line.format(size=handed.stat().st_size) for line in lines]
    report = report_of(batch.out, name)
    assert report[0] == f"{name}/{H.ASSIGNMENT}: {score:g}/{H.FULL}", report
    assert report[1:] == expected


def test_exit_status_counts_the_students_with_errors(batch):
    assert batch.rc == len(H.UNREADABLE)
    assert f"students with errors: {len(H.UNREADABLE)} ({', '.join(sorted(H.UNREADABLE))})" in batch.out
    assert f"graded {len(H.EXPECTED) + 1 - len(H.UNREADABLE)}, failed {len(H.UNREADABLE)}," in batch.out


def test_every_student_has_a_line(batch):
    for student in [*H.EXPECTED, "snoop"]:
        assert report_of(batch.out, student)


def test_does_the_run_keep_one_history_line_per_submission_with_its_report_scores(batch):
    """Grading's own history (reports/_runs/), which the class report's progress reads."""
    from autograde import reports

    (name, entries), = reports.runs(batch.ws)
    assert sorted(e["student"] for e in entries) == sorted([*H.EXPECTED, "snoop"]), name
    for entry in entries:
        saved = json.loads(reports.report_path(batch.ws, entry["student"], entry["assignment"]).read_text("utf-8"))
        assert entry["scores"] == saved["result"]["scores"]


def test_submitted_files_are_never_modified(batch):
    assert tree(batch.ws.path("submitted")) == batch.before


def test_no_process_is_left_running(batch):
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if H.MARKER.encode() in (entry / "cmdline").read_bytes():
                    leftovers.append(entry.name)
    assert not leftovers


def printed_in(ws: Workspace, student: str, grade_id: str) -> str:
    nb = nbformat.read(ws.path("autograded", student, H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), 4)
    return "".join(o.get("text", "") for o in H.cell_of(nb, grade_id).outputs)


def test_no_student_finds_what_an_earlier_one_left(batch):
    probes = [name for name, (builder, _, _) in H.EXPECTED.items() if builder is H.honest_with_probe]
    assert len(probes) == len(H.EXPLOITS)
    for student in probes:
        assert "PROBE clean not importable" in printed_in(batch.ws, student, "mse_loss"), student
    assert "PLANTER could not import its module" in printed_in(batch.ws, "plant_module", "mse_loss")


def test_a_silenced_traceback_still_fails_the_test_in_the_graded_notebook(batch):
    nb = nbformat.read(batch.ws.path("autograded", "silenced_traceback", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), 4)
    errors = [o for o in H.cell_of(nb, "test_mse_loss").outputs if o.get("output_type") == "error"]
    assert [o["evalue"] for o in errors] == [
        "This test scores 0: the grader has no evidence that it ran to the end without an error "
        "(it ended in an error that showed no traceback)."]


def test_kernel_death_reason_reaches_the_feedback(batch):
    result = run("--course-dir", batch.ws.root, "feedback", "--student", "exit_in_mse", "--no-progress")
    assert result.rc == 0, result.out
    html = batch.ws.path("feedback", "exit_in_mse", H.ASSIGNMENT, f"{H.NOTEBOOK}.html").read_text()
    assert "the kernel died while running this cell (the process exited with status 1)" in html
    assert "✓ l1_loss" in html and "✓ cross_entropy" in html


def test_tampered_exercise_shows_zero_and_why_in_the_graded_notebook(batch):
    nb = nbformat.read(batch.ws.path("autograded", "patch_allclose", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), 4)
    test = H.cell_of(nb, "test_mse_loss")
    assert any(o.get("ename") == "GradingError" and "torch.allclose" in o.get("evalue", "") for o in test.outputs)
    assert not any(o.output_type == "error" for o in H.cell_of(nb, "test_l1_loss").outputs)


def test_sandbox_keeps_the_course_folder_and_network_away(batch):
    if not sandbox.choose("auto").on:
        pytest.skip(f"no sandbox on this machine: {sandbox.choose('auto').note}")
    assert "sandbox: on (bubblewrap" in batch.out
    nb = nbformat.read(batch.ws.path("autograded", "snoop", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), 4)
    printed = "".join(o.get("text", "") for o in H.cell_of(nb, "l1_loss").outputs)
    assert re.findall(r"SNOOP (\w+) (\w+)", printed) == [
        ("gradebook", "blocked"), ("other_student", "blocked"), ("hidden_tests", "blocked"), ("network", "blocked")]
    assert report_of(batch.out, "snoop")[0] == f"snoop/{H.ASSIGNMENT}: {H.FULL}/{H.FULL}"


def test_without_bubblewrap_grading_works_and_says_the_sandbox_is_off(tmp_path, monkeypatch):
    ws = Workspace(root=tmp_path)
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    hand_in(ws, "alice", H.files(H.solved(student_copy, reference_sources())))
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.choose.cache_clear()
    try:
        result = run("--course-dir", ws.root, "grade", "--no-progress")
    finally:
        sandbox.choose.cache_clear()
    assert result.rc == 0
    assert "on sandbox: off (bubblewrap (bwrap) is not installed); student code runs with this user's rights" in result.out
    assert f"alice/{H.ASSIGNMENT}: {H.FULL}/{H.FULL}" in result.out.splitlines()


def test_a_run_killed_halfway_resumes_where_it_stopped(tmp_path):
    ws = Workspace(root=tmp_path)
    release(ws, [H.ASSIGNMENT])
    student_copy = nbformat.read(ws.path("release", H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb"), as_version=4)
    solutions = reference_sources()
    students = [f"s{i}" for i in range(6)]
    for student in students:
        nb = H.solved(student_copy, solutions)
        H.append_code(nb, "cross_entropy", "import time\ntime.sleep(1.5)")  # slow enough to stop the run halfway
        hand_in(ws, student, H.files(nb))
    command = [sys.executable, "-m", "autograde", "--course-dir", str(ws.root), "grade", "--workers", "1", "--no-progress"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    reports = ws.path("reports")
    deadline = time.monotonic() + 240
    while len(list(reports.glob("*/*.json"))) < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = len(list(reports.glob("*/*.json")))
    assert 2 <= done_before < len(students), "the first run was not stopped halfway"

    second = run("--course-dir", ws.root, "grade", "--no-progress")
    assert second.rc == 0
    assert f"grading {len(students) - done_before} submission(s) on " in second.out
    assert f"; {done_before} unchanged since the last run" in second.out
    for student in students:
        assert any(line.startswith(f"{student}/{H.ASSIGNMENT}: {H.FULL}/{H.FULL}") for line in second.out.splitlines())

    # A --regrade stopped after it began a submission: its old report goes before anything of it is
    # touched, so a submission without a report is graded again even when the kill also caught its
    # autograded/ copy emptied (that window is milliseconds wide; it is recreated here for one).
    graded = [ws.path("autograded", s, H.ASSIGNMENT, f"{H.NOTEBOOK}.ipynb") for s in students]
    saved = [report_path(ws, s, H.ASSIGNMENT) for s in students]
    assert all(path.exists() for path in saved)
    again = subprocess.Popen([*command, "--regrade"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while all(path.exists() for path in saved) and time.monotonic() < deadline and again.poll() is None:
        time.sleep(0.02)
    assert again.poll() is None, "the regrade ended before it could be stopped:\n" + again.stdout.read().decode()
    os.killpg(again.pid, signal.SIGKILL)
    again.wait()
    emptied = [s for s, path in zip(students, saved) if not path.exists()]
    assert emptied, "the regrade was not stopped midway"
    graded[students.index(emptied[0])].unlink(missing_ok=True)

    third = run("--course-dir", ws.root, "grade", "--no-progress")
    assert third.rc == 0, third.out
    for student in emptied:
        assert f"{student}/{H.ASSIGNMENT}: {H.FULL}/{H.FULL}" in third.out.splitlines()  # graded, not "unchanged"
    for student in students:
        assert any(line.startswith(f"{student}/{H.ASSIGNMENT}: {H.FULL}/{H.FULL}") for line in third.out.splitlines())
    assert all(path.exists() for path in graded)
