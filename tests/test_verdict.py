"""Hidden tests judged outside the child: the observation message, the verdict, and the exploits they close.

The grading child only observes (``autograde.hidden``) and reports plain data; the worker checks the
message (``autograde.protocol``); the grader compares it with the reference's observations
(``autograde.verdict``). Each exploit of the review (tests/test_engine_review.py) has a named test here
of the rule that closes it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from forged import AlwaysEqual, EqualInt, EqualTensor

from autograde import hidden, protocol, sandbox, verdict
from autograde.protocol import ChildMessage, Expect, MissingObservations, Observations, ProtocolError
from solutions import losses, shapes

TOKEN = "t" * 32


def observed_line(cell=1, exercise="mse_loss", items=None, job="job-1", **extra):
    data = {"token": TOKEN, "kind": "observed", "cell": cell, "job": job, "exercise": exercise,
            "items": hidden.observe("mse_loss", losses.mse_loss) if items is None else items, **extra}
    return json.dumps(data).encode()


def cell_line(cell, status="ok"):
    return json.dumps({"token": TOKEN, "kind": "cell", "cell": cell,
                       "result": {"outputs": [], "execution_count": 1, "status": status}}).encode()


def start_line(cell):
    return json.dumps({"token": TOKEN, "kind": "start", "cell": cell}).encode()


def feed(expect, *lines, job="job-1"):
    for line in lines:
        expect.accept(ChildMessage.parse(line, TOKEN, expect.cells, job))


# -- the observation message ------------------------------------------------------------------
def test_are_the_reference_s_observations_a_valid_message():
    message = ChildMessage.parse(observed_line(), TOKEN, 3, "job-1")
    assert message.observed.exercise == "mse_loss" and len(message.observed.items) == 21


@pytest.mark.parametrize("values, dtype", [
    ([0.5, -2, 3.25], torch.float32), ([1.0, "nan", "-inf", "inf"], torch.float64), ([1, 2, -3], torch.int64),
    ([True, False], torch.bool),
])
def test_does_a_tensor_decode_to_its_numbers(values, dtype):
    decoded = verdict.decode({"t": "tensor", "dtype": str(dtype), "shape": [len(values)], "values": values})
    expected = torch.tensor([float(v) if isinstance(v, str) else v for v in values], dtype=dtype)
    assert decoded.dtype == dtype and torch.equal(decoded.isnan(), expected.isnan())
    assert torch.equal(decoded.nan_to_num(), expected.nan_to_num())


@pytest.mark.parametrize("values", [[True, 1.0], ["1.5"], [None]])
def test_is_a_float_tensor_holding_no_number_unreadable(values):
    with pytest.raises(verdict.Unreadable):
        verdict.decode({"t": "tensor", "dtype": "torch.float32", "shape": [len(values)], "values": values})


@pytest.mark.parametrize("item", [
    {"kind": "verdict", "what": "x", "hint": None},  # unknown kind
    {"kind": "equal", "what": "x", "hint": None, "value": {"t": "pickle", "v": "gASV"}},  # unknown value tag
    {"kind": "equal", "what": "x", "hint": None, "value": {"t": "float", "v": float("nan")}},  # NaN as a number
    {"kind": "equal", "what": "x", "hint": None, "value": {"t": "int", "v": True}},  # a bool posing as an int
    {"kind": "close", "what": "x", "hint": None, "value": {"t": "tensor", "dtype": "torch.float32", "shape": [2],
                                                           "values": [1.0]}, "rtol": 0, "atol": 0},  # short values
    {"kind": "check", "what": "x", "hint": None, "ok": "yes", "got": ""},  # ok must be a bool
    {"kind": "equal", "what": "x", "hint": None, "value": {"t": "int", "v": 1}, "passed": True},  # unknown field
    {"kind": "raised", "what": 3, "hint": None, "message": "m"},  # label not text
])
def test_is_a_malformed_observation_refused(item):
    with pytest.raises(ProtocolError):
        ChildMessage.parse(observed_line(items=[item]), TOKEN, 3, "job-1")


def test_is_an_oversized_observation_message_refused():
    one = {"kind": "equal", "what": "x", "hint": None, "value": {"t": "int", "v": 1}}
    with pytest.raises(ProtocolError, match="more than"):
        Observations("mse_loss", (one,) * (protocol.MAX_OBSERVATIONS + 1))
    huge = {"kind": "close", "what": "x", "hint": None, "rtol": 0, "atol": 0,
            "value": {"t": "tensor", "dtype": "torch.float32", "shape": [protocol.MAX_NUMBERS + 1],
                      "values": [0.0] * (protocol.MAX_NUMBERS + 1)}}
    with pytest.raises(ProtocolError, match="values"):
        Observations("mse_loss", (huge,))
    nested = {"t": "int", "v": 1}
    for _ in range(protocol.MAX_DEPTH + 2):
        nested = {"t": "list", "v": [nested]}
    with pytest.raises(ProtocolError, match="deep"):
        Observations("mse_loss", ({"kind": "equal", "what": "x", "hint": None, "value": nested},))


def test_are_observations_for_another_job_refused():
    with pytest.raises(ProtocolError, match="another job"):
        ChildMessage.parse(observed_line(job="job-2"), TOKEN, 3, "job-1")


def test_are_observations_of_the_wrong_exercise_refused():
    expect = Expect(3, (None, "mse_loss", None))
    with pytest.raises(ProtocolError, match="'l1_loss' from the hidden check of 'mse_loss'"):
        feed(expect, start_line(0), cell_line(0), start_line(1), observed_line(exercise="l1_loss"))


def test_are_duplicate_observations_refused():
    expect = Expect(3, (None, "mse_loss", None))
    with pytest.raises(ProtocolError, match="twice"):
        feed(expect, start_line(0), cell_line(0), start_line(1), observed_line(), observed_line())


def test_are_observations_from_a_cell_without_a_hidden_check_refused():
    expect = Expect(3, (None, "mse_loss", None))
    with pytest.raises(ProtocolError, match="holds no hidden check"):
        feed(expect, start_line(0), observed_line(cell=0))


def test_do_the_observations_reach_the_cell_result_and_nothing_else_does():
    expect = Expect(2, (None, "mse_loss"))
    forged = json.dumps({"token": TOKEN, "kind": "cell", "cell": 0, "result": {
        "outputs": [], "status": "ok", "observed": {"exercise": "mse_loss", "items": []}}}).encode()
    feed(expect, start_line(0), forged, start_line(1), observed_line(cell=1), cell_line(1))
    assert expect.results[0].observed is None  # observations come only from an "observed" message of the right cell
    assert expect.results[1].observed.exercise == "mse_loss"


# -- verdicts: forged objects and forged data cannot pass ------------------------------------
def test_does_the_reference_pass_and_a_wrong_answer_fail():
    assert verdict.verdict("mse_loss", hidden.observe("mse_loss", losses.mse_loss), "en") == (
        True, "✓ mse_loss: 21 more checks passed.")
    passed, message = verdict.verdict("mse_loss", hidden.observe("mse_loss", lambda o, t: ((o - t) ** 2).sum()), "ko")
    assert not passed and message.startswith("✗ mse_loss: ") and "기대한 값" in message


@pytest.mark.parametrize("forged", [AlwaysEqual(), EqualInt(30), torch.zeros(()).as_subclass(EqualTensor)],
                         ids=["always-equal object", "int subclass", "tensor subclass"])
@pytest.mark.parametrize("exercise", ["conv2d_output_size", "mse_loss"])
def test_do_forged_objects_become_plain_data_that_fails(exercise, forged):
    items = hidden.observe(exercise, lambda *args, **kwargs: forged)
    assert json.loads(json.dumps(items)) == items  # plain data
    passed, message = verdict.verdict(exercise, items, "en")
    assert not passed, message
    assert "an object of type" in message or "tensor" in message


def test_does_forged_data_that_names_a_built_in_type_fail():
    items = hidden.observe("conv2d_output_size", shapes.conv2d_output_size)
    items[0] = {**items[0], "value": {"t": "object", "v": "int"}}  # "an object whose type is named int"
    passed, message = verdict.verdict("conv2d_output_size", items, "en")
    assert not passed and "an object of type int" in message


def test_do_missing_extra_and_relabelled_observations_fail():
    items = hidden.observe("conv2d_output_size", shapes.conv2d_output_size)
    for changed in (items[:-1], items + items[-1:], [{**items[0], "what": "something else"}, *items[1:]], []):
        passed, message = verdict.verdict("conv2d_output_size", changed, "en")
        assert not passed and "scores 0" in message, message


def test_does_a_claimed_tolerance_count_for_nothing():
    items = hidden.observe("mse_loss", lambda o, t: ((o - t) ** 2).sum())
    loose = [{**item, "rtol": 1e9, "atol": 1e9} if item["kind"] == "close" else item for item in items]
    assert not verdict.verdict("mse_loss", loose, "en")[0]  # the tolerance is the reference's


def test_are_the_subject_s_random_draws_kept_out_of_the_inputs():
    def noisy(output, target):
        torch.randn(1000)  # a learner's own use of the generator must not change the next inputs
        return losses.mse_loss(output, target)

    assert verdict.verdict("mse_loss", hidden.observe("mse_loss", noisy), "en")[0]


# -- the three exploits of the review -----------------------------------------------------------
def test_forge_cells_via_send_a_test_cell_that_ends_without_observations_breaks_the_protocol():
    """The forger reports its remaining cells as passed through the child's own send: no observations, no pass."""
    expect = Expect(3, (None, "mse_loss", None))
    with pytest.raises(MissingObservations):
        feed(expect, start_line(0), cell_line(0), start_line(1), cell_line(1))
    # A test cell that failed needs no observations: its status already scores it zero.
    expect = Expect(3, (None, "mse_loss", None))
    feed(expect, start_line(0), cell_line(0), start_line(1), cell_line(1, status="error"))
    assert expect.results[1].observed is None


def test_self_restoring_patch_disarmed_checks_cannot_say_pass():
    """Whatever learner code does to the checks inside the test cell, the child only observes: a pass is decided
    by the grader from the observations (here: of a wrong mse_loss), never by what the child's checks said."""
    wrong = hidden.observe("mse_loss", lambda o, t: ((o - t) ** 2).sum())
    assert not verdict.verdict("mse_loss", wrong, "en")[0]
    sent = []
    hidden.SINK.append(lambda exercise, items: sent.append((exercise, items)))
    try:
        hidden.check("mse_loss", lambda o, t: ((o - t) ** 2).sum())  # in the child: observes, raises nothing
    finally:
        hidden.SINK.clear()
    assert [exercise for exercise, _ in sent] == ["mse_loss"] and sent[0][1] == wrong


def test_exec_reference_source_the_sandbox_holds_no_reference_and_no_job_can_plant_one():
    root = Path(sandbox.__file__).resolve().parent.parent
    prefix = sandbox.bwrap_prefix("bwrap")
    bound = [prefix[i + 1] for i, arg in enumerate(prefix) if arg == "--ro-bind"]
    assert not [p for p in bound if p.startswith(str(root / "solutions"))]
    if not sandbox.choose("auto").on:
        pytest.skip(f"no sandbox on this machine: {sandbox.choose('auto').note}")
    # The reference cannot be imported, and the folder where it would be cannot be made: the sandbox's
    # root is read-only, so no job leaves a module there for the next job of the same worker.
    probe = ("import importlib.util, os\n"
             f"folder = {str(root / 'solutions')!r}\n"
             "try:\n    os.makedirs(folder)\n    made = True\nexcept OSError:\n    made = False\n"
             "print(importlib.util.find_spec('solutions'), made, os.access('/tmp', os.W_OK))")
    for box in (sandbox.choose("auto"), sandbox.with_given(sandbox.choose("auto"))):
        shown = subprocess.run(box.command(sys.executable, "-P", "-c", probe), capture_output=True, text=True, timeout=120)
        assert shown.stdout.strip() == "None False True", shown.stderr


def test_does_the_worker_import_no_reference_and_not_the_given_network():
    code = ("import sys\nfrom autograde import worker\nworker.preload()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('solutions', 'given')))")
    shown = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=300)
    assert shown.stdout.strip().splitlines()[-1] == "[]", shown.stderr[-2000:]


def test_is_the_hidden_check_s_exercise_read_from_the_source():
    source = "check.done()\n### BEGIN HIDDEN TESTS\nfrom autograde import hidden\nhidden.check('l1_loss', l1_loss)\n" \
        "### END HIDDEN TESTS\n"
    assert protocol.hidden_exercise(source) == "l1_loss"
    assert protocol.hidden_exercise("hidden.check('l1_loss', l1_loss)") is None  # outside the marks: not the grader's


# -- the reference's observations, kept on disk -------------------------------------------------
@pytest.fixture
def cache(tmp_path, monkeypatch):
    from autograde import reference_cache

    monkeypatch.setenv("AUTOGRADE_CACHE_DIR", str(tmp_path))
    verdict.reference.cache_clear()
    yield reference_cache
    verdict.reference.cache_clear()


def test_is_the_reference_kept_and_read_back_as_computed(cache):
    computed = verdict.reference("mse_loss")
    kept = cache.folder() / "mse_loss.json"
    assert kept.exists()
    assert cache.load("mse_loss") == computed == tuple(json.loads(json.dumps(verdict.observe_reference("mse_loss"))))
    verdict.reference.cache_clear()
    assert verdict.reference("mse_loss") == computed


@pytest.mark.parametrize("text", [
    "{not json", "[]", '[{"kind": "verdict", "what": "x", "hint": null}]',
    '[{"kind": "check", "what": "x", "hint": null, "ok": false, "expected": null, "got": "", "expected_key": null}]',
])
def test_is_a_broken_kept_reference_computed_again(cache, text):
    path = cache.folder() / "mse_loss.json"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    assert cache.load("mse_loss") is None
    assert verdict.reference("mse_loss") == tuple(json.loads(json.dumps(verdict.observe_reference("mse_loss"))))
    assert cache.load("mse_loss") == verdict.reference("mse_loss")  # and written again


def test_does_another_processor_or_library_keep_its_own_references(cache, monkeypatch):
    here = cache.folder()
    cache.key.cache_clear()
    monkeypatch.setattr(cache, "_processor", lambda: "another processor")
    try:
        assert cache.folder() != here
        cache.key.cache_clear()
        monkeypatch.setattr(cache.metadata, "version", lambda package: "0.0")
        assert cache.folder() != here
    finally:
        cache.key.cache_clear()
