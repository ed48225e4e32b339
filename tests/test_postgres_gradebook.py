"""The instructor's workflow with a PostgreSQL gradebook (``--db postgresql+psycopg2://...``).

The same three submissions of 02_losses (reference, one exercise wrong, blank) are graded twice
in one course folder: once into the default SQLite gradebook, once into a database on a real
PostgreSQL server started for the session (``tests/pgserver.py``). Both must give the same scores,
and ``export`` must write the same CSV from either gradebook.
"""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
import pgserver
import pytest
import sqlalchemy as sa
from test_instructor_workflow import points, read_csv, run, submission

ASSIGNMENT = "02_losses"
WRONG = {"mse_loss": ("** 2).mean()", "** 2).sum()")}  # the sum instead of the mean: mse_loss loses its points


def grade_rows(url: str) -> int:
    from nbgrader.api import Grade, Gradebook

    with Gradebook(url) as gb:
        return gb.db.query(Grade).count()


@pytest.fixture(scope="module")
def both(tmp_path_factory, postgres_url) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("postgres-gradebook")
    course_dir = tmp / "course"
    steps = SimpleNamespace(course_dir=course_dir, url=postgres_url)
    steps.release = run("--course-dir", course_dir, "release", "--before-due", ASSIGNMENT)
    released = course_dir / "release"
    inbox = tmp / "inbox"
    inbox.mkdir()
    for student, nb in [("reference", submission(released, ASSIGNMENT)),
                        ("one_wrong", submission(released, ASSIGNMENT, replace=WRONG)),
                        ("blank", submission(released, ASSIGNMENT, blank=True))]:
        nbformat.write(nb, inbox / f"{student}_{ASSIGNMENT}.ipynb")
    steps.collect = run("--course-dir", course_dir, "collect", inbox)

    steps.grade_sqlite = run("--course-dir", course_dir, "grade", "--no-progress")
    steps.export_sqlite = run("--course-dir", course_dir, "export", tmp / "sqlite.csv")
    steps.grade_pg = run("--course-dir", course_dir, "--db", postgres_url, "grade", "--no-progress")
    steps.export_pg = run("--course-dir", course_dir, "--db", postgres_url, "export", tmp / "postgres.csv")
    steps.rows_pg = grade_rows(postgres_url)
    steps.regrade_pg = run("--course-dir", course_dir, "--db", postgres_url, "grade", "--no-progress",
                           "--student", "one_wrong")
    steps.rows_pg_after_regrade = grade_rows(postgres_url)
    steps.export_pg_again = run("--course-dir", course_dir, "--db", postgres_url, "export", tmp / "again.csv")
    steps.csv_sqlite, steps.csv_pg, steps.csv_pg_again = tmp / "sqlite.csv", tmp / "postgres.csv", tmp / "again.csv"
    return steps


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_does_a_missing_server_skip_except_in_ci(monkeypatch, ci, outcome):
    def no_binaries():
        raise pgserver.Unavailable("no PostgreSQL server binaries")

    monkeypatch.setattr(pgserver, "bindir", no_binaries)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no PostgreSQL server binaries"):
        pgserver.start_or_skip()


def test_is_the_server_really_postgresql(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar()
    finally:
        engine.dispose()
    assert engine.dialect.name == "postgresql"
    assert version.startswith("PostgreSQL "), version


@pytest.mark.slow
def test_did_every_step_succeed(both):
    for name in ("release", "collect", "grade_sqlite", "export_sqlite", "grade_pg", "export_pg", "regrade_pg",
                 "export_pg_again"):
        step = getattr(both, name)
        assert step.rc == 0, f"{name} failed:\n{step.out}\n{step.err}"


@pytest.mark.slow
def test_are_the_gradebook_tables_in_postgresql(both):
    engine = sa.create_engine(both.url)
    try:
        with engine.connect() as conn:
            tables = set(conn.execute(sa.text(
                "select table_name from information_schema.tables where table_schema = 'public'")).scalars())
            graded = set(conn.execute(sa.text(
                "select student.id from submitted_assignment join student "
                "on submitted_assignment.student_id = student.id")).scalars())
    finally:
        engine.dispose()
    assert {"grade", "submitted_notebook", "student", "alembic_version"} <= tables
    assert graded == {"blank", "one_wrong", "reference"}


@pytest.mark.slow
def test_does_postgresql_give_the_same_scores_as_sqlite(both):
    assert read_csv(both.csv_pg) == read_csv(both.csv_sqlite)
    assert both.csv_pg.read_text() == both.csv_sqlite.read_text()


@pytest.mark.slow
def test_are_the_scores_the_expected_ones(both):
    _, rows = read_csv(both.csv_pg)
    full = sum(points(ASSIGNMENT).values())
    total = f"{ASSIGNMENT}/total"
    assert rows["reference"][total] == full
    assert rows["one_wrong"][total] == full - points(ASSIGNMENT)["mse_loss"]
    assert rows["one_wrong"][f"{ASSIGNMENT}/mse_loss"] == 0
    assert rows["blank"][total] == 0


@pytest.mark.slow
def test_does_regrading_replace_the_postgresql_rows(both):
    exercises = len(points(ASSIGNMENT))
    assert both.rows_pg == 3 * exercises
    assert both.rows_pg_after_regrade == both.rows_pg
    assert both.csv_pg_again.read_text() == both.csv_pg.read_text()
