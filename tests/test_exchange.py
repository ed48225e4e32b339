"""nbgrader's exchange, as JupyterLab's Assignments tab uses it: does `release --publish` put the
student copy where students fetch it, and does `collect --exchange` take each student's newest
submission with the same checks as a folder (a bad file stops the whole collection)?

The student's side runs nbgrader's own fetch and submit (the code behind the Assignments tab's
Fetch and Submit buttons), each student with a folder and a cache of their own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from test_instructor_workflow import run, submission
from traitlets.config import Config

from autograde import exchange, formgrader
from autograde.workspace import Workspace

ASSIGNMENT = "02_losses"
WRONG = {"mse_loss": ("** 2).mean()", "** 2).sum()")}


def student_side(course_dir: Path, exchange_dir: Path, student: str, home: Path) -> Config:
    """What a student's server knows: the exchange and the course id (from the hub's image), no course folder."""
    c = Config()
    c.Exchange.root = str(exchange_dir)
    c.Exchange.cache = str(home / ".cache")
    c.Exchange.assignment_dir = str(home)
    c.CourseDirectory.course_id = exchange.course_id(Workspace(root=course_dir))
    c.CourseDirectory.assignment_id = ASSIGNMENT
    c.CourseDirectory.student_id = student
    return c


def fetch(config: Config) -> None:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    ExchangeFactory(config=config).FetchAssignment(
        coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config).start()


def submit(config: Config) -> None:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    ExchangeFactory(config=config).Submit(
        coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config).start()


@pytest.fixture(scope="module")
def published_once(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("exchange")
    course_dir, exchange_dir = tmp / "course", tmp / "exchange"
    released = run("--course-dir", course_dir, "--exchange-dir", exchange_dir, "release", "--publish", "--before-due", ASSIGNMENT)
    assert released.rc == 0, released.out + released.err
    return {"course_dir": course_dir, "exchange_dir": exchange_dir, "out": released.out}


@pytest.fixture
def published(published_once, tmp_path) -> dict:
    """A fresh copy of the published course and its exchange for each test."""
    course_dir, exchange_dir = tmp_path / "course", tmp_path / "exchange"
    shutil.copytree(published_once["course_dir"], course_dir, symlinks=True)
    shutil.copytree(published_once["exchange_dir"], exchange_dir)
    formgrader.write_config(Workspace(root=course_dir, exchange=exchange_dir))  # the copy's own links and paths
    return {"course_dir": course_dir, "exchange_dir": exchange_dir, "out": published_once["out"], "tmp": tmp_path}


def hand_in(published: dict, student: str, nb: nbformat.NotebookNode) -> Path:
    """Fetch the assignment as ``student``, put ``nb`` in its place, submit."""
    home = published["tmp"] / "home" / student
    config = student_side(published["course_dir"], published["exchange_dir"], student, home)
    if not (home / ASSIGNMENT).exists():
        fetch(config)
    nbformat.write(nb, home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    submit(config)
    return home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def test_does_collect_take_each_students_newest_submission_from_the_exchange(published):
    assert "published" in published["out"]
    release = published["course_dir"] / "release"
    hand_in(published, "alice", submission(release, ASSIGNMENT, blank=True))
    alice = hand_in(published, "alice", submission(release, ASSIGNMENT))  # submitted again, solved
    bob = hand_in(published, "bob", submission(release, ASSIGNMENT, replace=WRONG))

    collected = run("--course-dir", published["course_dir"], "--exchange-dir", published["exchange_dir"],
                    "collect", "--exchange")
    assert collected.rc == 0, collected.out + collected.err
    submitted = published["course_dir"] / "submitted"
    assert (submitted / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == alice.read_bytes()
    assert (submitted / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == bob.read_bytes()
    assert (submitted / "alice" / ASSIGNMENT / "timestamp.txt").exists()
    assert sum(line.startswith("older") and "alice+02_losses+" in line for line in collected.out.splitlines()) == 1
    status = run("--course-dir", published["course_dir"], "status")
    assert [line.split() for line in status.out.splitlines() if line.startswith(("alice", "bob"))] == [
        ["alice", "-", "collected", "-", "-", "-", "-"], ["bob", "-", "collected", "-", "-", "-", "-"]]


def test_does_a_bad_file_in_the_exchange_stop_the_whole_collection(published):
    release = published["course_dir"] / "release"
    hand_in(published, "alice", submission(release, ASSIGNMENT))
    inbound = exchange.inbound(Workspace(root=published["course_dir"], exchange=published["exchange_dir"]))
    forged = inbound / "mallory+02_losses+2026-01-01 00:00:00.000000 UTC+x"
    forged.mkdir()
    (forged / f"{ASSIGNMENT}.ipynb").write_text("{ not a notebook")
    collected = run("--course-dir", published["course_dir"], "--exchange-dir", published["exchange_dir"],
                    "collect", "--exchange")
    assert collected.rc != 0
    assert "mallory+02_losses+" in collected.err and "nothing was copied" in collected.err
    assert not (published["course_dir"] / "submitted").exists()


def test_does_publishing_again_replace_the_students_copy(published):
    again = run("--course-dir", published["course_dir"], "--exchange-dir", published["exchange_dir"],
                "release", "--publish", "--before-due", ASSIGNMENT)
    assert again.rc == 0, again.err
    outbound = exchange.outbound(Workspace(root=published["course_dir"], exchange=published["exchange_dir"]))
    assert (outbound / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == (
        published["course_dir"] / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
