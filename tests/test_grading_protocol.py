"""The grading engine's protocol and its guards, one unit at a time (no notebook is graded here).

What crosses between the grader, a worker and the child running a notebook is checked by
``autograde.protocol``; the worker's child keeps no descriptor but its result pipe; the pool
gives up a worker that is stopped, wedged or answers for another job; a test cell passes only on
positive evidence. The whole story, with real submissions, is in tests/test_robust_grading.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograde import course, grading, pool, prepare, protocol, sandbox, scoring, worker
from autograde.protocol import Answer, CellJob, CellResult, ChildMessage, Event, Expect, Job, Observations, ProtocolError


def job(cells: int = 2, **limits) -> Job:
    return Job("alice/02_losses/02_losses", "t0ken", tuple(CellJob(f"x = {i}", "mse_loss", i % 2 == 1) for i in range(cells)),
               ("mse_loss",), **limits)


def answer_line(j: Job, **changes) -> str:
    data = {"id": j.id, "token": j.token, "cells": [{"outputs": [], "execution_count": i, "status": "ok"}
                                                     for i in range(len(j.cells))], "events": []}
    data.update(changes)
    return json.dumps(data)


# -- the messages ----------------------------------------------------------------------------
def test_does_a_job_survive_the_trip_to_the_worker():
    j = job(3, cell_timeout=2.5)
    assert Job.from_json(j.to_json()) == j


@pytest.mark.parametrize("change, problem", [
    ({"id": "bob/02_losses/02_losses"}, "came for job"),
    ({"token": "guessed"}, "wrong token"),
    ({"cells": [{"outputs": [], "status": "ok"}]}, "1 cell results for 2 code cells"),
    ({"cells": []}, "0 cell results for 2 code cells"),
    ({"cells": [{"outputs": [{"output_type": "stream", "name": "stdout", "text": 1}]}] * 2}, "malformed stream"),
    ({"cells": [{"outputs": [{"output_type": "mystery"}]}] * 2}, "unknown output type"),
    ({"cells": [{"status": "fine"}] * 2}, "unknown cell status"),
    ({"events": [{"kind": "party"}]}, "unknown event kind"),
    ({"extra": 1}, "unknown fields"),
])
def test_is_a_forged_short_or_malformed_answer_refused(change, problem):
    with pytest.raises(ProtocolError, match=problem):
        Answer.from_json(answer_line(job(), **change), job())


def test_is_an_answer_that_is_not_json_or_too_large_refused():
    with pytest.raises(ProtocolError, match="not JSON"):
        Answer.from_json('{"id": "x", "cells": [', job())
    with pytest.raises(ProtocolError, match="larger than"):
        protocol.loads("x" * 11, "a message", limit=10)


def observed_tensor(values: list) -> Observations:
    """Observations holding one tensor, as they arrive: through JSON (a bare NaN arrives as a float)."""
    value = {"t": "tensor", "dtype": "torch.float32", "shape": [len(values)], "values": values}
    item = json.loads(json.dumps({"kind": "equal", "what": "x", "value": value}))
    return Observations("mse_loss", (item,))


@pytest.mark.parametrize("values", [
    [0.5, -1.25, 3.0], [1e308, 1e308, -1e308], [1, -2, 2**63 - 1, -2**63 + 1], [True, False], [0.5, "nan", "-inf", 2],
    [],
])
def test_are_a_tensors_numbers_taken_whether_checked_at_once_or_one_by_one(values):
    assert observed_tensor(values).items[0]["value"]["values"] == values


@pytest.mark.parametrize("values, problem", [
    ([0.5, float("nan")], "finite or written as text"),
    ([float("inf"), 1.0], "finite or written as text"),
    ([float("-inf"), float("inf")], "finite or written as text"),
    ([2**63], "must be a number"),
    ([1, -2**63], "must be a number"),
    ([1.0, "7"], "must be a number"),
    ([None], "must be a number"),
    ([[1.0]], "must be a number"),
])
def test_is_a_tensor_with_a_bad_number_refused(values, problem):
    with pytest.raises(ProtocolError, match=problem):
        observed_tensor(values)


def test_does_the_metadata_check_refuse_a_bad_cell_after_a_good_one_passed():
    good = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t1", "points": 1, "schema_version": 3}})
    check = prepare.metadata_check()()
    for _ in range(2):  # the second time from what it remembers
        check.preprocess(nbformat.v4.new_notebook(cells=[copy.deepcopy(good)]), {})
    for broken in ({"points": "one"}, {"grade_id": ""}, {"points": None}, {"schema_version": 2}):
        cell = copy.deepcopy(good)
        cell.metadata.nbgrader.update(broken)
        for _ in range(2):
            with pytest.raises(Exception, match="failed to validate|Outdated schema"):
                check.preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    twice = [copy.deepcopy(good), copy.deepcopy(good)]
    twice[1].id = "another"
    with pytest.raises(Exception, match="failed to validate"):  # nbgrader's own notebook-wide rule: unique ids
        check.preprocess(nbformat.v4.new_notebook(cells=twice), {})


def test_does_a_cell_pass_only_on_positive_evidence():
    assert CellResult((), 1, "ok").passed
    assert not CellResult((), 1, "error").passed  # an error that showed nothing
    assert not CellResult().passed  # never ran
    failed = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}
    assert not CellResult((failed,), 1, "ok").passed


def test_does_the_worker_take_the_childs_messages_only_in_order():
    def line(kind, **fields):
        return json.dumps(protocol.child_line("run", kind, **fields)).encode()

    def feed(*lines):
        expect = Expect(2)
        for raw in lines:
            expect.accept(ChildMessage.parse(raw, "run", 2))
        return expect

    ok = {"outputs": [], "execution_count": 1, "status": "ok"}
    assert feed(line("start", cell=0), line("cell", cell=0, result=ok), line("start", cell=1),
                line("cell", cell=1, result=ok), line("done")).done
    for bad, problem in [
        ([line("start", cell=1)], "out of order"),
        ([line("start", cell=0), line("cell", cell=1, result=ok)], "out of order"),
        ([line("start", cell=0), line("done")], "done before every cell reported"),
        ([line("start", cell=0), line("start", cell=1)], "out of order"),
        ([line("start", cell=2)], "out of range"),
        ([line("start", cell="0")], "must be an integer"),
        ([json.dumps({"token": "other", "kind": "done"}).encode()], "wrong token"),
    ]:
        with pytest.raises(ProtocolError, match=problem):
            feed(*bad)


def test_are_the_limits_and_events_checked_when_built():
    with pytest.raises(ProtocolError, match="cell_timeout must be positive"):
        job(cell_timeout=0)
    with pytest.raises(ProtocolError):
        job(memory_limit=-1)
    with pytest.raises(ProtocolError, match="unknown event kind"):
        Event("anything")


# -- the grader's side: short answers, evidence ------------------------------------------------
def prepared_notebook() -> prepare.Prepared:
    """The source of 02_losses as if repaired, with the job built from it."""
    nb_info = course.assignments()["02_losses"][0]
    prepared = prepare.Prepared("alice", "02_losses", nb_info, nb=nbformat.read(nb_info.path, as_version=4))
    prepared.job = prepare.build_job(prepared, grading.Settings())
    return prepared


def test_does_a_short_answer_score_the_notebook_zero_with_the_reason():
    prepared = prepared_notebook()
    short = Answer(prepared.job.id, prepared.job.token, (CellResult((), 1, "ok"),))
    scoring.score(None, prepared, short)
    assert prepared.error == (f"02_losses: could not be scored: the answer had 1 cell results for "
                              f"{len(prepared.code_cells)} code cells")


def test_does_a_test_cell_without_evidence_score_zero_and_say_why():
    prepared = prepared_notebook()
    cells = [CellResult((), 1, "error" if job_cell.test and job_cell.exercise == "mse_loss" else "ok")
             for job_cell in prepared.job.cells]
    for index, result in zip(prepared.code_cells, cells):
        prepared.nb.cells[index].outputs = list(result.outputs)
    scoring.require_evidence(prepared, Answer(prepared.job.id, prepared.job.token, tuple(cells)))
    test = next(c for c in prepared.nb.cells if course.nbgrader_meta(c).get("grade_id") == "test_mse_loss")
    assert [o["ename"] for o in test.outputs] == ["GradingError"]
    assert prepared.notes == ["02_losses: mse_loss scored 0: its test cell gave no evidence that it passed "
                              "(it ended in an error that showed no traceback)"]


def test_does_a_silenced_traceback_leave_the_cell_failed():
    """nbgrader's test_showtraceback_exploit, against the engine: the status comes from run_cell's result."""
    script = textwrap.dedent("""
        from autograde import kernel
        shell = kernel.make_shell()
        type(shell).showtraceback = lambda *args, **kwargs: None
        kernel.CURRENT.clear()
        failure = kernel._execute(shell, "assert 1 == 2", 5, 10)
        print(type(failure).__name__, len(kernel.CURRENT))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["AssertionError", "0"], out.stderr


def test_does_a_processor_timer_that_fires_early_let_the_cell_go_on():
    """On a loaded machine ITIMER_PROF, counted in clock ticks, fires before the cell used its limit.

    Seen on a 2-core machine grading two batches at once: a cell that burned 3.5 s was stopped at a
    4 s limit. The cell here signals itself as such a timer would; only the exact clock may stop it.
    """
    script = textwrap.dedent("""
        import signal
        from autograde import kernel
        shell = kernel.make_shell()
        signal.signal(signal.SIGPROF, kernel._on_timer)
        burn = ("import os, signal, time\\n_t = time.process_time()\\nos.kill(os.getpid(), signal.SIGPROF)\\n"
                "while time.process_time() - _t < {}:\\n    pass")
        early = kernel._execute(shell, burn.format(0.5), 1.5, 60)
        over = kernel._execute(shell, burn.format(30), 1.5, 60)
        print(type(early).__name__, type(over).__name__, getattr(over, "cpu", None))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["NoneType", "CellTimeout", "True"], out.stderr


# -- the worker's child holds nothing but its result pipe ---------------------------------------
def open_fds(upto: int = 1024) -> list[int]:
    found = []
    for fd in range(upto):
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    return found


def test_does_the_child_keep_only_its_result_pipe():
    read_fd, write_fd = os.pipe()
    extra = os.open(os.devnull, os.O_RDONLY)  # as the worker's own protocol pipes would be
    pid = os.fork()
    if pid == 0:
        try:
            worker._close_other_fds(write_fd)
            null = os.stat(os.devnull)
            on_null = [(os.fstat(fd).st_rdev == null.st_rdev) for fd in (0, 1, 2)]
            os.write(write_fd, json.dumps({"open": open_fds(), "null": on_null}).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    os.close(extra)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd) as pipe:
        seen = json.loads(pipe.read())
    assert seen == {"open": [0, 1, 2, write_fd], "null": [True, True, True]}


# -- the pool gives up a worker that stopped, wedged or answers for someone else -----------------
def fake_worker(body: str) -> pool.WorkerProcess:
    """A WorkerProcess whose process runs ``body`` (Python) instead of the real worker."""
    script = "import json, os, signal, sys, time\nprint(json.dumps({'ready': True}), flush=True)\n" + textwrap.dedent(body)
    return pool.WorkerProcess(sandbox.Sandbox((sys.executable, "-c", script), False, "fake"))


@pytest.mark.parametrize("body, said", [
    ("os.kill(os.getpid(), signal.SIGSTOP)", "its grading worker was stopped by a signal, so it was killed and replaced"),
    ("time.sleep(600)", "its grading worker gave no answer within 2 s, so it was killed and replaced"),
])
def test_is_a_stopped_or_wedged_worker_killed_and_the_notebook_failed(monkeypatch, body, said):
    monkeypatch.setattr(protocol, "DEADLINE_MARGIN", 0.0)
    j = job(cell_wall_timeout=1, submission_wall_timeout=1)
    holder = [fake_worker(body)]
    first = holder[0]

    def replace():
        holder[0].close()
        holder[0] = None

    answer = pool.run_with_retry(lambda: holder[0], replace, j)
    assert answer.error.startswith(said) and answer.cells == ()
    assert first.proc.poll() is not None  # killed, not left stopped


def test_is_an_answer_for_another_job_refused_and_the_worker_replaced():
    j = job()
    other = answer_line(j, id="bob/02_losses/02_losses")
    holder = [fake_worker(f"sys.stdin.readline()\nprint({other!r}, flush=True)\ntime.sleep(600)")]
    replaced = []

    def replace():
        holder[0].close()
        replaced.append(True)

    answer = pool.run_with_retry(lambda: holder[0], replace, j)
    assert answer.error.startswith("its grading worker's answer broke the protocol (an answer for job 'bob/")
    assert replaced == [True]
