"""Collect trusts nothing in the inbox: links, special files, huge files and odd student ids.

Regression tests for issue 13 point 9 (a symlink to the instructor's source notebook was collected
byte for byte; every notebook was parsed before any size limit) and the student-id rule (``김민수``
was refused). No kernel runs here.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest

from autograde import collect, course, repair, roster
from autograde.cli import main

SOURCE = course.assignments()["02_losses"][0].path  # holds the reference solutions


def run(*argv: str | Path) -> SimpleNamespace:
    """``python -m autograde ARGV`` in-process: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return SimpleNamespace(rc=rc, out=out.getvalue(), err=err.getvalue())


def submitted(course_dir: Path) -> list[str]:
    root = course_dir / "submitted"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def inbox(tmp_path) -> Path:
    """One honest hand-in, so that the collection would otherwise succeed."""
    (tmp_path / "inbox" / "alice").mkdir(parents=True)
    (tmp_path / "inbox" / "alice" / "02_losses.ipynb").write_bytes(SOURCE.read_bytes())
    return tmp_path / "inbox"


# -- links and special files ----------------------------------------------------------------
def test_is_a_symlink_to_the_source_notebook_refused_not_followed(tmp_path, inbox):
    (inbox / "mallory").mkdir()
    os.symlink(SOURCE, inbox / "mallory" / "02_losses.ipynb")
    result = run("--course-dir", tmp_path / "course", "collect", inbox)
    assert result.rc == 2
    assert "mallory/02_losses.ipynb: a symbolic link; collect never follows links" in result.err
    assert submitted(tmp_path / "course") == []


def test_does_skip_bad_collect_the_honest_files_but_never_the_link(tmp_path, inbox):
    (inbox / "mallory").mkdir()
    os.symlink(SOURCE, inbox / "mallory" / "02_losses.ipynb")
    result = run("--course-dir", tmp_path / "course", "collect", "--skip-bad", inbox)
    assert result.rc == 1 and "NOT COLLECTED" in result.out
    assert submitted(tmp_path / "course") == ["alice/02_losses/02_losses.ipynb"]


def test_is_a_symlinked_folder_refused_not_walked(tmp_path, inbox):
    os.symlink(SOURCE.parent, inbox / "mallory")  # a "student folder" that is the instructor's source folder
    result = run("--course-dir", tmp_path / "course", "collect", inbox)
    assert result.rc == 2 and "mallory: a symbolic link" in result.err
    assert submitted(tmp_path / "course") == []


def test_is_a_symlink_inside_a_zip_refused(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice_02_losses.ipynb", SOURCE.read_text(encoding="utf-8"))
        link = zipfile.ZipInfo("mallory_02_losses.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(SOURCE))  # what `zip --symlinks` stores: the target path
    result = run("--course-dir", tmp_path / "course", "collect", archive)
    assert result.rc == 2
    assert "download.zip:mallory_02_losses.ipynb: a symbolic link" in result.err
    assert submitted(tmp_path / "course") == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_is_a_named_pipe_refused_without_reading_it(tmp_path, inbox):
    os.mkfifo(inbox / "bob_02_losses.ipynb")  # reading it would block forever
    result = run("--course-dir", tmp_path / "course", "collect", inbox)
    assert result.rc == 2 and "bob_02_losses.ipynb: not a regular file" in result.err


# -- size before parsing -----------------------------------------------------------------------
def test_is_an_oversized_notebook_refused_before_it_is_read(tmp_path, inbox, monkeypatch):
    big = inbox / "bob_02_losses.ipynb"
    big.write_bytes(b"{" + b" " * (2 * 2**20))  # not even JSON: had it been parsed, the message would say so
    parsed = []
    def spy(path, **kw):
        parsed.append(path.name)
        return repair.load_submission(path, **kw)

    monkeypatch.setattr(collect, "load_submission", spy)
    result = run("--course-dir", tmp_path / "course", "collect", "--max-megabytes", "1", inbox)
    assert result.rc == 2
    assert "bob_02_losses.ipynb: 2.0 MB, over the 1 MB limit (not read" in result.err
    assert "bob_02_losses.ipynb" not in parsed and "02_losses.ipynb" in parsed


def test_is_an_oversized_zip_member_refused_before_it_is_extracted(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice_02_losses.ipynb", SOURCE.read_text(encoding="utf-8"))
        zf.writestr("bob_02_losses.ipynb", "{" + " " * (3 * 2**20))  # 3 MB that compresses to a few KB
    result = run("--course-dir", tmp_path / "course", "collect", "--max-megabytes", "1", archive)
    assert result.rc == 2 and "bob_02_losses.ipynb: 3.0 MB, over the 1 MB limit" in result.err


def test_does_collect_default_to_the_graders_size_limit():
    args = main.__globals__["build_parser"]().parse_args(["collect", "x"])
    assert args.max_megabytes * 2**20 == repair.MAX_BYTES


# -- student ids -----------------------------------------------------------------------------
@pytest.mark.parametrize("student", ["김민수", "kim.minsu@uni.ac.kr", "Zoë", "2024-001", "नमस्ते", "O_Neil"])
def test_which_student_ids_are_accepted(student):
    assert roster.id_problem(roster.normal(student)) is None


@pytest.mark.parametrize("student", ["..", ".hidden", "-rf", "a..b", "a/b", "a\\b", "tab\there", "nul\x00",
                                     "two words", "bidi\u202eevil", "", "x" * 101, "_leading"])
def test_which_student_ids_are_refused(student):
    assert roster.id_problem(roster.normal(student))


def test_are_a_decomposed_and_a_composed_hangul_id_one_student():
    composed, decomposed = "김민수", unicodedata.normalize("NFD", "김민수")
    assert composed != decomposed and len(decomposed) > len(composed)
    notebooks = collect.notebook_index()
    assert collect.place(PurePosixPath(f"{decomposed}/02_losses.ipynb"), notebooks) == \
        collect.place(PurePosixPath(f"{composed}_02_losses.ipynb"), notebooks) == (composed, "02_losses", "02_losses")


def test_does_a_korean_name_collect_into_one_nfc_folder(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / unicodedata.normalize("NFD", "김민수")).mkdir(parents=True)  # as macOS's Finder stores it
    (inbox / unicodedata.normalize("NFD", "김민수") / "02_losses.ipynb").write_bytes(SOURCE.read_bytes())
    archive = tmp_path / "later.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민수_01_network.ipynb", course.assignments()["01_network"][0].path.read_text(encoding="utf-8"))
    assert run("--course-dir", tmp_path / "course", "collect", inbox).rc == 0
    assert run("--course-dir", tmp_path / "course", "collect", archive).rc == 0
    assert submitted(tmp_path / "course") == ["김민수/01_network/01_network.ipynb", "김민수/02_losses/02_losses.ipynb"]


def test_is_a_dot_folder_student_refused(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / ".git").mkdir(parents=True)
    (inbox / ".git" / "02_losses.ipynb").write_bytes(SOURCE.read_bytes())
    result = run("--course-dir", tmp_path / "course", "collect", inbox)
    assert result.rc == 2 and "'.git' is not a usable student id" in result.err


def test_is_a_zip_path_that_leaves_the_archive_refused(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice_02_losses.ipynb", SOURCE.read_text(encoding="utf-8"))
        zf.writestr("../../bob_02_losses.ipynb", SOURCE.read_text(encoding="utf-8"))
    result = run("--course-dir", tmp_path / "course", "collect", archive)
    assert result.rc == 2 and "a path outside the archive" in result.err
    assert submitted(tmp_path / "course") == [] and not (tmp_path.parent / "bob_02_losses.ipynb").exists()
