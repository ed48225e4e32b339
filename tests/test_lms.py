"""Canvas and Moodle round trip: their downloads collect into one student per person, and export
writes the gradebook files they import.

The fixture downloads are named exactly as the platforms' own code names them (see
``autograde/lms.py`` for the sources): Canvas ``{name}[_LATE]_{user id}_{attachment id}_{file}``
with ``-1`` on a re-upload; Moodle ``{Full Name}_{participant id}_assignsubmission_file/{file}``
(or ``..._file_{file}``) with `` (1)`` on a re-upload. No kernel runs here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import nbformat
import pytest

from autograde import collect, course, lms
from autograde.cli import main


def run(*argv: str | Path) -> SimpleNamespace:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return SimpleNamespace(rc=rc, out=out.getvalue(), err=err.getvalue())


def notebook(name: str, version: str = "v1") -> str:
    """The source notebook ``name``, marked with ``version`` so that tests can tell copies apart."""
    nb = nbformat.read(next(n.path for n in course.notebooks() if n.name == name), as_version=4)
    nb.metadata["fixture"] = version
    return nbformat.writes(nb)


def make_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def submitted(course_dir: Path) -> dict[str, str]:
    """submitted/ path -> the fixture version of the notebook there."""
    root = course_dir / "submitted"
    return {p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))["metadata"].get("fixture", "")
            for p in sorted(root.rglob("*.ipynb"))} if root.exists() else {}


# -- the examples of issue 20 ------------------------------------------------------------------------
CANVAS_ISSUE = {
    "kimminsu_123456_7890123_01_network.ipynb": notebook("01_network"),
    "kimminsu_123456_7890456_02_losses-1.ipynb": notebook("02_losses"),
    "kimminsu_LATE_123456_7890789_03_backprop.ipynb": notebook("03_backprop"),
}
MOODLE_ISSUE = {  # the participant id is per assignment in Moodle, so it differs between the three
    "Kim Minsu_88_assignsubmission_file/01_network.ipynb": notebook("01_network"),
    "Kim Minsu_91_assignsubmission_file_02_losses (1).ipynb": notebook("02_losses"),
    "Kim Minsu_95_assignsubmission_file/03_backprop.ipynb": notebook("03_backprop"),
}


@pytest.mark.parametrize("files, platform, student", [(CANVAS_ISSUE, "Canvas", "123456"),
                                                      (MOODLE_ISSUE, "Moodle", "Kim_Minsu")])
def test_does_the_download_of_the_issue_collect_into_one_student(tmp_path, files, platform, student):
    result = run("--course-dir", tmp_path / "c", "collect", make_zip(tmp_path / "submissions.zip", files))
    assert result.rc == 0, result.err
    assert f"as a {platform} download (every notebook is named as {platform} names its downloads" in result.out
    assert sorted(submitted(tmp_path / "c")) == [f"{student}/01_network/01_network.ipynb",
                                                 f"{student}/02_losses/02_losses.ipynb",
                                                 f"{student}/03_backprop/03_backprop.ipynb"]
    assert platform == "Moodle" or "03_backprop.ipynb (late)" in result.out  # Moodle's names carry no late mark


# -- a class: rosters, late work, re-uploads, spaces, Hangul, a stray file -------------------------
CANVAS_ROSTER = """\
Student,ID,SIS User ID,SIS Login ID,Section,01_network (5001),02_losses (5002),Current Score,Final Score
    Points Possible,,,,,7,9,(read only),(read only)
"Kim, Minsu",123456,2024001,kminsu,Section A,,,,
"Smith, Anna Lee",456789,2024002,asmith,Section A,,,,
"이, 서연",777001,2024003,slee,Section B,,,,
"Park, Jisoo",888001,2024004,jpark,Section B,,,,
"""
CANVAS_CLASS = {
    "kimminsu_123456_100_01_network.ipynb": notebook("01_network"),
    "kimminsu_123456_200_02_losses.ipynb": notebook("02_losses", "first"),
    "kimminsu_LATE_123456_300_02_losses-1.ipynb": notebook("02_losses", "re-upload"),
    "smithannalee_456789_150_01_network.ipynb": notebook("01_network"),
    "smithannalee_456789_151_notes.pdf": "not a notebook",
    "이서연_777001_160_02_losses.ko.ipynb": notebook("02_losses", "hangul"),
}
STRAY = {"smithannalee_456789_152_homework.ipynb": notebook("01_network")}  # belongs to no notebook

MOODLE_ROSTER = """\
First name,Last name,ID number,Institution,Department,Email address,Assignment: 01_network (Real)
Minsu,Kim,2024001,,,kim@uni.ac.kr,-
Anna Lee,Smith,2024002,,,anna@uni.ac.kr,-
서연,이,2024003,,,lee@uni.ac.kr,-
Jisoo,Park,2024004,,,park@uni.ac.kr,-
"""
MOODLE_CLASS = {
    "Minsu Kim_88_assignsubmission_file/01_network.ipynb": notebook("01_network", "first"),
    "Minsu Kim_88_assignsubmission_file/01_network (1).ipynb": notebook("01_network", "re-upload"),
    "Minsu Kim_88_assignsubmission_onlinetext_onlinetext.html": "<p>done</p>",
    "Anna Lee Smith_89_assignsubmission_file/work/01_network.ipynb": notebook("01_network", "space"),
    "이서연_90_assignsubmission_file_01_network.ko.ipynb": notebook("01_network", "hangul"),
}
MOODLE_STRAY = {"Anna Lee Smith_89_assignsubmission_file/homework.ipynb": notebook("01_network")}


@pytest.fixture
def rosters(tmp_path) -> SimpleNamespace:
    (tmp_path / "canvas.csv").write_text(CANVAS_ROSTER, encoding="utf-8")
    (tmp_path / "moodle.csv").write_text(MOODLE_ROSTER, encoding="utf-8-sig")  # Moodle writes a BOM
    return SimpleNamespace(canvas=tmp_path / "canvas.csv", moodle=tmp_path / "moodle.csv")


@pytest.mark.parametrize("platform, files, stray, placed", [("canvas", CANVAS_CLASS, STRAY, 4),
                                                           ("moodle", MOODLE_CLASS, MOODLE_STRAY, 3)])
def test_does_a_file_of_no_notebook_stop_the_whole_collection(tmp_path, rosters, platform, files, stray, placed):
    archive = make_zip(tmp_path / "d.zip", files | stray)
    result = run("--course-dir", tmp_path / "c", "collect", "--roster", getattr(rosters, platform), archive)
    assert result.rc == 2
    assert "homework.ipynb' is no notebook of the course" in result.err and "nothing was copied" in result.err
    assert submitted(tmp_path / "c") == {}
    skipping = run("--course-dir", tmp_path / "c", "collect", "--skip-bad", "--roster", getattr(rosters, platform), archive)
    assert skipping.rc == 1 and "NOT COLLECTED" in skipping.out and "homework.ipynb" in skipping.out
    assert len(submitted(tmp_path / "c")) == placed


def test_does_a_canvas_class_collect_by_the_rosters_ids(tmp_path, rosters):
    result = run("--course-dir", tmp_path / "c", "collect", "--roster", rosters.canvas,
                 make_zip(tmp_path / "d.zip", CANVAS_CLASS))
    assert result.rc == 0, result.err
    assert submitted(tmp_path / "c") == {
        "2024001/01_network/01_network.ipynb": "v1",
        "2024001/02_losses/02_losses.ipynb": "re-upload",  # the newest upload wins
        "2024002/01_network/01_network.ipynb": "v1",
        "2024003/02_losses/02_losses.ipynb": "hangul",
    }
    assert "older      " in result.out and "kimminsu_123456_200_02_losses.ipynb: an older upload than" in result.out
    assert "02_losses.ipynb (late)" in result.out
    assert "skipped    " in result.out and "notes.pdf: not a notebook" in result.out
    assert "not handed in  01_network: Park, Jisoo (2024004)" in result.out
    assert "not handed in  02_losses: Smith, Anna Lee (2024002)" in result.out
    assert (tmp_path / "c" / collect.ROSTER_FILE).read_text(encoding="utf-8") == CANVAS_ROSTER


def test_does_a_moodle_class_collect_by_the_rosters_ids(tmp_path, rosters):
    result = run("--course-dir", tmp_path / "c", "collect", "--roster", rosters.moodle,
                 make_zip(tmp_path / "d.zip", MOODLE_CLASS))
    assert result.rc == 0, result.err
    assert submitted(tmp_path / "c") == {
        "2024001/01_network/01_network.ipynb": "re-upload",
        "2024002/01_network/01_network.ipynb": "space",
        "2024003/01_network/01_network.ipynb": "hangul",
    }
    assert "01_network.ipynb: an older upload than" in result.out
    assert "onlinetext.html: not a notebook" in result.out
    assert "not handed in  01_network: Jisoo Park (2024004)" in result.out


def test_are_moodle_names_the_ids_without_a_roster(tmp_path):
    result = run("--course-dir", tmp_path / "c", "collect", make_zip(tmp_path / "d.zip", MOODLE_CLASS))
    assert result.rc == 0, result.err
    assert sorted(submitted(tmp_path / "c")) == ["Anna_Lee_Smith/01_network/01_network.ipynb",
                                                 "Minsu_Kim/01_network/01_network.ipynb",
                                                 "이서연/01_network/01_network.ipynb"]


@pytest.mark.parametrize("platform, name", [("canvas", "ghost_999_1_01_network.ipynb"),
                                            ("moodle", "Ghost Writer_99_assignsubmission_file_01_network.ipynb")])
def test_is_a_student_missing_from_the_roster_an_error_for_that_file(tmp_path, rosters, platform, name):
    files = (CANVAS_CLASS if platform == "canvas" else MOODLE_CLASS) | {name: notebook("01_network")}
    result = run("--course-dir", tmp_path / "c", "collect", "--roster", getattr(rosters, platform),
                 make_zip(tmp_path / "d.zip", files))
    assert result.rc == 2 and f"{name}: " in result.err and f"is not on the roster {platform}.csv" in result.err
    assert submitted(tmp_path / "c") == {}


def test_are_two_people_with_one_moodle_name_refused(tmp_path):
    files = {"Minsu Kim_88_assignsubmission_file/01_network.ipynb": notebook("01_network"),
             "Minsu Kim_97_assignsubmission_file/01_network.ipynb": notebook("01_network")}
    result = run("--course-dir", tmp_path / "c", "collect", make_zip(tmp_path / "d.zip", files))
    assert result.rc == 2 and "2 different people in this download (88, 97) would be one student 'Minsu_Kim'" in result.err


def test_are_two_uploads_nothing_orders_refused(tmp_path):
    files = {"Minsu Kim_88_assignsubmission_file/a/01_network.ipynb": notebook("01_network"),
             "Minsu Kim_88_assignsubmission_file/b/01_network.ipynb": notebook("01_network")}
    result = run("--course-dir", tmp_path / "c", "collect", make_zip(tmp_path / "d.zip", files))
    assert result.rc == 2 and "nothing says which was uploaded last" in result.err


@pytest.mark.parametrize("name, why", [
    ("anon_x7k2q_4711_01_network.ipynb", "anonymous grading"),
    ("LATE_anon_x7k2q_4711_01_network.ipynb", "anonymous grading"),
    ("Participant_42_assignsubmission_file_01_network.ipynb", "blind marking"),
])
def test_are_anonymous_downloads_refused_with_a_reason(tmp_path, name, why):
    lms_choice = "moodle" if "assignsubmission" in name else "canvas"
    result = run("--course-dir", tmp_path / "c", "collect", "--lms", lms_choice,
                 make_zip(tmp_path / "d.zip", {name: notebook("01_network")}))
    assert result.rc == 2 and why in result.err


def test_is_a_mixed_download_not_guessed(tmp_path):
    files = CANVAS_ISSUE | {"alice_01_network.ipynb": notebook("01_network")}
    archive = make_zip(tmp_path / "d.zip", files)
    result = run("--course-dir", tmp_path / "c", "collect", archive)
    assert result.rc == 2 and "3 of 4 notebooks are named as Canvas names downloads" in result.err
    assert submitted(tmp_path / "c") == {}
    chosen = run("--course-dir", tmp_path / "c", "collect", "--lms", "canvas", archive)
    assert chosen.rc == 2 and "alice_01_network.ipynb: not named as {name}_{user id}" in chosen.err


def test_does_lms_none_keep_the_plain_layouts(tmp_path):
    result = run("--course-dir", tmp_path / "c", "collect", "--lms", "none",
                 make_zip(tmp_path / "d.zip", {"alice_01_network.ipynb": notebook("01_network")}))
    assert result.rc == 0 and "plain layout (--lms none)" in result.out
    assert list(submitted(tmp_path / "c")) == ["alice/01_network/01_network.ipynb"]


# -- the name parsers themselves -------------------------------------------------------------
@pytest.mark.parametrize("file, expected", [
    ("02_losses.ipynb", ("02_losses.ipynb", 0)),
    ("02_losses-1.ipynb", ("02_losses.ipynb", 1)),
    ("02_losses-12.ko.ipynb", ("02_losses.ko.ipynb", 12)),
    ("02_losses.ko-2.ipynb", ("02_losses.ko.ipynb", 2)),
    ("02_losses (3).ipynb", ("02_losses.ipynb", 3)),
    ("02_losses-0b5d6c1e-8a7f-4c1e-9d2a-3f4e5a6b7c8d.ipynb", ("02_losses.ipynb", 8)),
])
def test_which_re_upload_suffixes_are_understood(file, expected):
    assert lms.copy_number(file) == expected


def test_does_a_canvas_name_give_the_user_not_the_attachment():
    upload = lms.canvas_upload(PurePosixPath("o_neil_LATE_123456_7890789_03_backprop.ipynb"))
    assert (upload.user, upload.name, upload.file, upload.late, upload.order) == \
        ("123456", "o_neil", "03_backprop.ipynb", True, (7890789, 0))


def test_does_a_moodle_folder_give_the_name_and_the_file():
    upload = lms.moodle_upload(PurePosixPath("download/Anna Lee Smith_89_assignsubmission_file/sub/01_network (2).ipynb"))
    assert (upload.user, upload.name, upload.file, upload.order) == ("89", "Anna Lee Smith", "01_network (2).ipynb", (2,))


def test_does_a_canvas_roster_read_ids_columns_and_skip_points_possible(rosters):
    from autograde import roster

    people = roster.read(rosters.canvas, list(course.assignments()))
    assert [p.student for p in people.people] == ["2024001", "2024002", "2024003", "2024004"]
    assert people.columns == {"01_network": "01_network (5001)", "02_losses": "02_losses (5002)"}
    assert people.by_canvas_id("777001").name == "이, 서연"


def test_is_a_roster_with_a_repeated_id_refused(tmp_path):
    from autograde import roster

    path = tmp_path / "r.csv"
    path.write_text(CANVAS_ROSTER + '"Kim, Other",999999,2024001,kother,Section A,,,,\n', encoding="utf-8")
    with pytest.raises(roster.RosterError, match="2024001' is also on row"):
        roster.read(path)


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


# -- export --lms: the import files, column by column ------------------------------------------------
def points(assignment: str) -> str:
    return f"{sum(nb.points for nb in course.assignments()[assignment]):g}"


@pytest.fixture
def graded_table(monkeypatch):
    """export reads these scores (assignment totals) instead of a gradebook: no grading needed."""
    from autograde import export

    def fake(scores: dict[str, dict[str, float]]):
        table = export.empty_table()
        for student, per_assignment in scores.items():
            row = dict.fromkeys(table.columns, 0.0)
            row.update({f"{a}/total": v for a, v in per_assignment.items()})
            table.rows[student] = row
        monkeypatch.setattr(export, "build_table", lambda ws, api=None: table)
    return fake


def test_is_the_canvas_import_the_gradebook_format_column_by_column(tmp_path, rosters, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", "--roster", rosters.canvas,
               make_zip(tmp_path / "d.zip", CANVAS_CLASS)).rc == 0
    graded_table({"2024001": {"01_network": 5, "02_losses": 2.5}, "2024002": {"01_network": 7},
                  "2024003": {"02_losses": 9}})
    result = run("--course-dir", course_dir, "export", "--lms", "canvas", tmp_path / "canvas.csv")
    assert result.rc == 0, result.err
    rows = read_rows(tmp_path / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_network (5001)", "02_losses (5002)"]
    assert rows[1] == ["Points Possible", "", "", "", "", points("01_network"), points("02_losses")]
    assert rows[2:] == [
        ["Kim, Minsu", "123456", "2024001", "kminsu", "Section A", "5", "2.5"],
        ["Smith, Anna Lee", "456789", "2024002", "asmith", "Section A", "7", "0"],
        ["이, 서연", "777001", "2024003", "slee", "Section B", "0", "9"],
        ["Park, Jisoo", "888001", "2024004", "jpark", "Section B", "0", "0"],  # on the roster, handed in nothing
    ]
    assert "left out (nobody handed them in): 03_backprop" in result.out
    assert f"points possible: 01_network {points('01_network')}, 02_losses {points('02_losses')}" in result.out


def test_is_the_moodle_import_keyed_by_the_rosters_identifiers(tmp_path, rosters, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", "--roster", rosters.moodle,
               make_zip(tmp_path / "d.zip", MOODLE_CLASS)).rc == 0
    graded_table({"2024001": {"01_network": 6}, "2024002": {"01_network": 7}, "2024003": {"01_network": 1.5}})
    result = run("--course-dir", course_dir, "export", "--lms", "moodle", tmp_path / "moodle.csv")
    assert result.rc == 0, result.err
    assert read_rows(tmp_path / "moodle.csv") == [
        ["First name", "Last name", "ID number", "Email address", "01_network"],
        ["Minsu", "Kim", "2024001", "kim@uni.ac.kr", "6"],
        ["Anna Lee", "Smith", "2024002", "anna@uni.ac.kr", "7"],
        ["서연", "이", "2024003", "lee@uni.ac.kr", "1.5"],
        ["Jisoo", "Park", "2024004", "park@uni.ac.kr", "0"],
    ]
    assert f"maximum grade must be: 01_network {points('01_network')}" in result.out


def test_does_a_canvas_import_without_roster_use_the_canvas_user_ids(tmp_path, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", make_zip(tmp_path / "d.zip", CANVAS_ISSUE)).rc == 0
    graded_table({"123456": {"01_network": 7, "02_losses": 1, "03_backprop": 4}})
    assert run("--course-dir", course_dir, "export", "--lms", "canvas", tmp_path / "canvas.csv").rc == 0
    rows = read_rows(tmp_path / "canvas.csv")
    assert rows[0][5:] == ["01_network", "02_losses", "03_backprop"]  # Canvas matches these titles or creates them
    assert rows[2] == ["123456", "123456", "", "", "", "7", "1", "4"]


def test_does_a_moodle_import_without_roster_say_what_it_needs(tmp_path, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", make_zip(tmp_path / "d.zip", MOODLE_ISSUE)).rc == 0
    graded_table({"Kim_Minsu": {"01_network": 7}})
    result = run("--course-dir", course_dir, "export", "--lms", "moodle", tmp_path / "moodle.csv")
    assert result.rc == 2 and "needs every student e-mail addresses" in result.err and "Kim_Minsu" in result.err
    assert not (tmp_path / "moodle.csv").exists()


def test_is_a_graded_student_missing_from_the_roster_refused_at_export(tmp_path, rosters, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", "--roster", rosters.canvas,
               make_zip(tmp_path / "d.zip", CANVAS_CLASS)).rc == 0
    graded_table({"2024001": {"01_network": 5}, "stranger": {"01_network": 7}})
    result = run("--course-dir", course_dir, "export", "--lms", "canvas", tmp_path / "canvas.csv")
    assert result.rc == 2 and "on the roster; these are not: stranger" in result.err


def test_is_a_roster_of_the_other_platform_refused_at_export(tmp_path, rosters, graded_table):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", "--roster", rosters.moodle,
               make_zip(tmp_path / "d.zip", MOODLE_CLASS)).rc == 0
    graded_table({"2024001": {"01_network": 6}})
    result = run("--course-dir", course_dir, "export", "--lms", "canvas", tmp_path / "canvas.csv")
    assert result.rc == 2 and "is a Moodle roster; the Canvas import needs Canvas's own ids" in result.err


def test_is_a_semicolon_separated_roster_read_alike(tmp_path):
    from autograde import roster

    path = tmp_path / "r.csv"
    path.write_text(CANVAS_ROSTER.replace(",", ";").replace('"Kim; Minsu"', '"Kim, Minsu"'), encoding="utf-8-sig")
    people = roster.read(path, list(course.assignments()))
    assert [(p.student, p.name) for p in people.people][:1] == [("2024001", "Kim, Minsu")]


def test_can_the_kept_roster_be_given_again(tmp_path, rosters):
    course_dir = tmp_path / "c"
    assert run("--course-dir", course_dir, "collect", "--roster", rosters.canvas,
               make_zip(tmp_path / "d.zip", CANVAS_CLASS)).rc == 0
    again = run("--course-dir", course_dir, "collect", "--roster", course_dir / collect.ROSTER_FILE,
                make_zip(tmp_path / "d.zip", CANVAS_CLASS))
    assert again.rc == 0 and "unchanged  " in again.out
