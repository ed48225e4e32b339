"""Does the instant feedback name the exercise, what was expected, what came back and a hint,
in the learner's language, and never write to stderr?"""

import warnings

import pytest
import torch
from forged import AlwaysEqual, EqualInt, EqualTensor

from autograde import messages
from autograde.checks import Checker, CheckFailed


def failure(fn):
    with pytest.raises(CheckFailed) as info:
        fn()
    return str(info.value)


def test_does_a_wrong_value_say_expected_got_and_hint():
    check = Checker("mse_loss", lang="en")
    text = failure(lambda: check.close(torch.tensor(3.0), torch.tensor(5.0), "mse_loss(a, b)", hint="mean_all"))
    assert text.splitlines()[0] == "✗ mse_loss: mse_loss(a, b)"
    assert "expected: tensor(5.)" in text and "got:      tensor(3.)" in text
    assert messages.HINTS["mse_loss"]["mean_all"]["en"] in text


def test_is_a_check_failure_more_than_a_bare_assertion_error():
    check = Checker("Net", lang="en")
    text = failure(lambda: check.equal((1, 10), (2, 10), "net(x).shape", hint="forward_shape"))
    assert isinstance(CheckFailed("Net", text), AssertionError)
    assert text.strip() and "Net" in text and "hint:" in text


def test_does_the_untouched_stub_get_an_explanation_not_a_traceback():
    def mse_loss(output, target):
        raise NotImplementedError()

    check = Checker("mse_loss", lang="en")
    text = failure(lambda: check.call(mse_loss, torch.zeros(1), torch.zeros(1)))
    assert "NotImplementedError" in text and "Replace `raise NotImplementedError()`" in text


def test_does_a_crash_in_learner_code_name_the_error():
    check = Checker("l1_loss", lang="en")
    text = failure(lambda: check.call(lambda a, b: a @ b, torch.zeros(2, 3), torch.zeros(2, 3)))
    assert "RuntimeError" in text and "l1_loss" in text


def test_does_a_shape_mismatch_say_both_shapes():
    check = Checker("mse_loss", lang="en")
    text = failure(lambda: check.close(torch.zeros(1, 10), torch.zeros(10)))
    assert "(10,)" in text and "(1, 10)" in text


def test_does_a_missing_error_say_what_came_back_instead():
    check = Checker("mse_loss", lang="en")
    text = failure(lambda: check.raises(ValueError, lambda a, b: a.sum(), torch.zeros(2), torch.zeros(3)))
    assert "ValueError" in text and "returned" in text


def test_do_warnings_from_learner_code_stay_off_stderr(capsys):
    def noisy():
        warnings.warn("torch says something", UserWarning)
        return 1

    check = Checker("num_flat_features", lang="en")
    assert check.call(noisy) == 1
    check.done()
    out = capsys.readouterr()
    assert out.err == ""
    assert "✓ num_flat_features" in out.out and "torch says something" in out.out


def test_does_a_korean_learner_get_korean_feedback(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "ko")
    check = Checker("mse_loss")
    text = failure(lambda: check.close(torch.tensor(3.0), torch.tensor(5.0), "mse_loss(a, b)", hint="mean_all"))
    assert "기대한 값" in text and messages.HINTS["mse_loss"]["mean_all"]["ko"] in text


@pytest.mark.parametrize("session,lang", [("01_network/01_network.ipynb", "en"),
                                          ("ko/01_network/01_network.ipynb", "ko"),
                                          ("01_network/01_network.ko.ipynb", "ko")])
def test_is_the_language_read_from_the_notebook_path_in_jupyterlab(monkeypatch, session, lang):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", session)
    assert messages.language() == lang


def test_does_every_hint_exist_in_every_language():
    for exercise, hints in messages.HINTS.items():
        for key, texts in hints.items():
            assert set(texts) == set(messages.LANGUAGES), (exercise, key)
    for key, texts in {**messages.TEXTS, **messages.GENERIC_HINTS}.items():
        assert set(texts) == set(messages.LANGUAGES), key


# -- comparisons that learner objects cannot fool ---------------------------------------------
@pytest.mark.parametrize("forged", [AlwaysEqual(), EqualInt(3)], ids=["always-equal", "int subclass"])
@pytest.mark.parametrize("expected", [30, 2.5, "conv1", (16, 6, 3, 3), [("fc1", (1, 120))], {"weight": (3, 4)}])
def test_does_equal_refuse_an_object_that_claims_equality(forged, expected):
    check = Checker("conv2d_output_size", lang="en")
    text = failure(lambda: check.equal(forged, expected))
    assert type(forged).__name__ in text


@pytest.mark.parametrize("got, expected", [
    (30.0, 30), (True, 1), (1, True), ([16, 6], (16, 6)), ((1, 2), [1, 2]), ({"w": [3, 4]}, {"w": (3, 4)}),
    ({"w": (3, 4), "b": (3,)}, {"w": (3, 4)}), (torch.float64, torch.float32), ("a", "b"),
])
def test_does_equal_compare_types_before_values(got, expected):
    check = Checker("num_flat_features", lang="en")
    failure(lambda: check.equal(got, expected))


@pytest.mark.parametrize("got, expected", [
    (30, 30), (2, 2.0), (torch.Size([16, 6]), (16, 6)), ({"w": torch.Size([3, 4])}, {"w": (3, 4)}),
    ([("fc1", torch.Size([1, 120]))], [("fc1", (1, 120))]), (torch.int64, torch.int64), (None, None),
])
def test_does_equal_accept_the_same_value_in_a_safe_form(got, expected):
    check = Checker("num_flat_features", lang="en")
    check.equal(got, expected)
    assert check.passed == 1


def test_does_close_refuse_a_tensor_subclass_that_overrides_torch_functions():
    forged = torch.zeros(()).as_subclass(EqualTensor)
    check = Checker("mse_loss", lang="en")
    assert "EqualTensor" in failure(lambda: check.close(forged, torch.tensor(5.0)))


@pytest.mark.parametrize("got", [AlwaysEqual(), True, "5.0", EqualInt(5), torch.tensor(5.0)])
def test_does_close_want_a_plain_number_where_a_number_is_expected(got):
    check = Checker("evaluate", lang="en")
    failure(lambda: check.close(got, 5.0))


def test_does_close_want_a_tensor_where_a_tensor_is_expected():
    check = Checker("mse_loss", lang="en")
    failure(lambda: check.close(5.0, torch.tensor(5.0)))
    check.close(torch.tensor(5.0), torch.tensor(5.0))
    check.close(torch.nn.Parameter(torch.ones(2)), torch.ones(2))
    assert check.passed == 2


@pytest.mark.parametrize("condition", [AlwaysEqual(), 1, "yes", torch.tensor([True, True])])
def test_does_true_accept_only_a_real_true(condition):
    check = Checker("evaluate", lang="en")
    failure(lambda: check.true(condition, "a condition", "True", condition))


def test_do_kind_and_pair_refuse_subclasses():
    class Pair(tuple):
        pass

    class Real(float):
        pass

    check = Checker("linear_mse_grads", lang="en")
    failure(lambda: check.pair(Pair((1, 2))))
    failure(lambda: check.pair((1, 2, 3)))
    failure(lambda: check.kind(Real(1.0), float))
    failure(lambda: check.kind(True, int))
    check.pair([1, 2])
    check.kind(1.0, float)
    assert check.passed == 2


def test_does_attempt_swallow_the_learners_error_quietly(capsys):
    def noisy():
        warnings.warn("noise", UserWarning)
        raise RuntimeError("the forward pass failed")

    Checker("trace_shapes", lang="en").attempt(noisy)
    assert capsys.readouterr().err == ""
