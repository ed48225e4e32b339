"""nbgrader's own Formgrader on a course folder that `autograde` released and graded, with no hand
edits: does it read the course's settings from the folder, show the same scores as `export`, open
the source notebooks from its Edit links, keep a manual grade that `status` then reports, and refuse
to grade by itself (grading is `python -m autograde grade`'s job)?

The browser part follows tests/test_browser.py: skipped without Chromium or Playwright, a failure
under CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from test_browser import browser, expect  # noqa: F401  (fixture: the headless Chromium)
from test_instructor_workflow import read_csv, run, submission
from test_launch import free_port, wait_for
from traitlets.config.loader import PyFileConfigLoader

from autograde import course, formgrader
from autograde.workspace import Workspace

pytestmark = pytest.mark.slow  # grades notebooks, starts servers and a browser

ASSIGNMENT = "02_losses"
WRONG = {"mse_loss": ("** 2).mean()", "** 2).sum()")}  # one exercise lost
TOKEN = "course-formgrader-test"


def file_config(course_dir: Path):
    """The course folder's nbgrader_config.py as nbgrader loads it."""
    return PyFileConfigLoader(formgrader.CONFIG, path=str(course_dir)).load_config()


def nbgrader_api(course_dir: Path):
    """nbgrader's own API configured only by the course folder's file, as the Formgrader is."""
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=file_config(course_dir))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> SimpleNamespace:
    """A course folder with 02_losses released, two students collected and graded, and exported."""
    tmp = tmp_path_factory.mktemp("formgrader")
    course_dir = tmp / "course"
    assert run("--course-dir", course_dir, "release", "--before-due", ASSIGNMENT).rc == 0
    inbox = tmp / "inbox"
    for student, replace in {"reference": None, "one_wrong": WRONG}.items():
        target = inbox / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(submission(course_dir / "release", ASSIGNMENT, replace=replace), target)
    assert run("--course-dir", course_dir, "collect", inbox).rc == 0
    grade = run("--course-dir", course_dir, "grade", "--no-progress")
    assert grade.rc == 0, grade.out + grade.err
    assert run("--course-dir", course_dir, "export", tmp / "grades.csv").rc == 0
    _, rows = read_csv(tmp / "grades.csv")
    return SimpleNamespace(course_dir=course_dir, rows=rows, tmp=tmp)


def test_does_release_write_a_config_that_nbgrader_reads_on_its_own(graded):
    api = nbgrader_api(graded.course_dir)
    assert Path(api.coursedir.root) == graded.course_dir.resolve()
    assert api.coursedir.course_id == Workspace().config().CourseDirectory.course_id
    assert ASSIGNMENT in api.get_source_assignments()
    assert (graded.course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").samefile(
        course.assignments()[ASSIGNMENT][0].path)
    with api.gradebook as gb:
        assert {s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions} == {"reference", "one_wrong"}
    exchange = Path(file_config(graded.course_dir).Exchange.root)
    assert exchange.is_dir() and os.access(exchange, os.W_OK)


def test_does_the_config_follow_the_course_folder_when_it_moves(graded, tmp_path):
    moved = tmp_path / "elsewhere"
    (tmp_path / "elsewhere").mkdir()
    (moved / formgrader.CONFIG).write_text((graded.course_dir / formgrader.CONFIG).read_text())
    config = file_config(moved)
    assert config.CourseDirectory.root == str(moved)
    assert config.CourseDirectory.db_url == f"sqlite:///{moved / 'gradebook.db'}"


def test_does_a_postgresql_course_get_its_database_in_the_config(tmp_path):
    ws = Workspace(root=tmp_path / "course", db_url="postgresql://grader@db.example/course")
    formgrader.write_config(ws)
    assert file_config(ws.root).CourseDirectory.db_url == "postgresql+psycopg2://grader@db.example/course"


def test_do_nbgraders_own_autograde_and_feedback_refuse_and_leave_the_course_untouched(graded, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in (graded.course_dir / "autograded").rglob("*")}
    api = nbgrader_api(graded.course_dir)
    with api.gradebook as gb:
        scores_before = [(g.name, g.score) for g in gb.find_submission_notebook(
            ASSIGNMENT, ASSIGNMENT, "one_wrong").grades]
    result = api.autograde(ASSIGNMENT, "one_wrong")
    assert not result["success"]
    assert "python -m autograde grade" in result["error"]
    assert {p: p.stat().st_mtime_ns for p in (graded.course_dir / "autograded").rglob("*")} == before
    with api.gradebook as gb:
        assert [(g.name, g.score) for g in gb.find_submission_notebook(
            ASSIGNMENT, ASSIGNMENT, "one_wrong").grades] == scores_before
    feedback = api.generate_feedback(ASSIGNMENT, "one_wrong")  # would show the hidden tests
    assert not feedback["success"]
    assert "python -m autograde feedback" in feedback["error"]
    assert not (graded.course_dir / "feedback").exists()


def test_do_status_and_export_keep_a_manual_grade_from_the_formgrader(graded):
    course_dir = graded.tmp / "manual"
    shutil.copytree(graded.course_dir, course_dir, symlinks=True)
    with Workspace(root=course_dir).api().gradebook as gb:
        grade = gb.find_grade("test_l1_loss", ASSIGNMENT, ASSIGNMENT, "one_wrong")
        grade.manual_score = 1.5
        gb.db.commit()
    regrade = run("--course-dir", course_dir, "grade", "--regrade", "--student", "one_wrong", "--no-progress")
    assert regrade.rc == 0, regrade.out + regrade.err  # the manual score must survive grading again
    assert any(line.startswith("one_wrong/") and "(manual: l1_loss 1.5)" in line for line in regrade.out.splitlines()), \
        regrade.out  # and grade's own report names it
    status = run("--course-dir", course_dir, "status")
    assert run("--course-dir", course_dir, "export", course_dir / "manual.csv").rc == 0
    assert read_csv(course_dir / "manual.csv")[1]["one_wrong"][f"{ASSIGNMENT}/l1_loss"] == 1.5
    got = graded.rows["one_wrong"]
    full_l1 = got[f"{ASSIGNMENT}/l1_loss"]
    total = got[f"{ASSIGNMENT}/total"] - full_l1 + 1.5
    line = next(x for x in status.out.splitlines() if x.startswith("one_wrong"))
    assert f"{total:g}/" in line and "(manual: l1_loss 1.5)" in line, status.out
    reference = next(x for x in status.out.splitlines() if x.startswith("reference"))
    assert "manual" not in reference


# -- in the browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(graded):
    """JupyterLab started in the course folder, as an instructor starts it (nothing but the folder's config)."""
    tmp = graded.tmp / "lab"
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}
    args = [Path(sys.executable).parent / "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={TOKEN}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    tmp.mkdir()
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(args, cwd=graded.course_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/status?token={TOKEN}")
        yield {"base": base, "log": tmp / "lab.log"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_does_the_formgrader_show_the_scores_that_export_writes(browser, lab, graded):  # noqa: F811
    # The Formgrader's own requests carry no token: send it with every request, as a logged-in instructor would.
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  extra_http_headers={"Authorization": f"token {TOKEN}"})
    page = context.new_page()
    page.goto(f"{lab['base']}/formgrader/manage_submissions/{ASSIGNMENT}")
    rows = page.locator("#main-table tr", has=page.locator("td.score"))
    expect(rows).to_have_count(2, timeout=30_000)
    shown = {}
    for i in range(2):
        row = rows.nth(i)
        score = row.locator("td.score").inner_text()
        shown[row.locator("td.student-id").inner_text().strip()] = [float(x) for x in score.split("/")]
    assert shown == {s: [graded.rows[s][f"{ASSIGNMENT}/total"], pytest.approx(max(
        r[f"{ASSIGNMENT}/total"] for r in graded.rows.values()))] for s in ("reference", "one_wrong")}
    assert shown["one_wrong"][0] < shown["reference"][0]

    page.goto(f"{lab['base']}/formgrader/manage_assignments")
    edit = page.locator("#main-table td.name a", has_text=ASSIGNMENT)
    expect(edit).to_be_visible(timeout=30_000)
    assert "Unwritable directory" not in page.content()
    href = edit.get_attribute("href")
    target = href.split("/tree/", 1)[1].removeprefix("./")  # the Formgrader links to /tree/./source/...
    assert target == f"source/{ASSIGNMENT}"
    with urllib.request.urlopen(f"{lab['base']}/api/contents/{target}?token={TOKEN}&content=1") as answer:
        assert answer.status == 200
    context.close()
    assert "Unwritable directory" not in lab["log"].read_text()
