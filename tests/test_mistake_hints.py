"""Does a learner's mistake meet the hint that explains it, in the notebook's own visible check?

Each learner solution here is an entry of ``tests/catalogue/wrong.cells`` (the mistakes learners
really make), run in the namespace of its notebook's setup cell, then the visible half of the
exercise's test cell, as a learner's kernel runs them. The rules:

- the most specific check comes first, so a tailored hint is reached (``Net28`` with notebook 1's
  ``fc1`` hears about ``fc1``, not that its forward pass raised);
- an error the learner's code raises can carry its own hint (``error_hints``): ``sgd_step``
  outside ``torch.no_grad()``, or without the ``p.grad is None`` guard;
- a wrong value a known mistake gives has its own hint (``mistakes``): the wrong sign, the
  forgotten learning rate, a name rebound instead of a tensor updated, a closure that binds
  late;
- a large tensor that differs is shown by the largest difference, where it is, and the values
  around it (the hidden test of ``make_digit_tensors`` with ``align_corners=True``);
- the visible check catches ``fresh_gradients`` zeroing after ``backward`` and
  ``conv2d_output_size`` rounding with ``round()``.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
from grading_trials import WRONG, Entry
from sklearn.datasets import load_digits

from autograde import course, hidden, messages, trial
from autograde.checks import Checker, CheckFailed


def entry(exercise: str, what: str) -> Entry:
    """The catalogued mistake of ``exercise`` whose description starts with ``what``."""
    (found,) = [e for e in WRONG if e.exercise == exercise and e.what.startswith(what)]
    return found


def cells(exercise: str) -> tuple[str, str]:
    """The setup cell and the visible half of the test cell of the notebook that holds ``exercise``."""
    nb = nbformat.read(trial.notebook_of(exercise).path, as_version=4)
    by_id = {course.nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells}
    return by_id["setup"], by_id[f"test_{exercise}"].split(trial.HIDDEN_MARK)[0]


def message(exercise: str, source: str, lang: str, monkeypatch) -> str | None:
    """What the visible check says about the learner's ``source``: its ✗ message, or None if it passed."""
    monkeypatch.setenv("COURSE_LANG", lang)
    setup, test = cells(exercise)
    namespace: dict = {}
    exec(setup, namespace)  # noqa: S102 - the course's own cells and catalogue
    exec(source, namespace)  # noqa: S102
    try:
        exec(test, namespace)  # noqa: S102
    except CheckFailed as failed:
        return str(failed)
    return None


def hint(exercise: str, key: str, lang: str) -> str:
    return messages.hint(lang, exercise, key)


LANGS = ["en", "ko"]


# -- check order: the tailored hint is reached ------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_does_net28_with_notebook_1s_fc1_hear_about_fc1_not_that_forward_raised(lang, monkeypatch):
    text = message("Net28", entry("Net28", "Net copied unchanged").source, lang, monkeypatch)
    assert text is not None and "Net28().fc1.weight.shape" in text.splitlines()[0]
    assert "(120, 400)" in text and "(120, 576)" in text
    assert hint("Net28", "fc1_in", lang) in text
    assert "RuntimeError" not in text and hint("Net28", "raised", lang) not in text


def test_is_the_fc1_check_before_the_forward_check_in_the_net28_cell():
    _, test = cells("Net28")
    assert test.index("fc1.weight") < test.index("torch.zeros(3, 1, 28, 28)")


# -- a raised error with its own hint --------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_does_sgd_step_outside_no_grad_get_the_no_grad_hint_with_its_error(lang, monkeypatch):
    text = message("sgd_step", entry("sgd_step", "no torch.no_grad()").source, lang, monkeypatch)
    assert text is not None
    assert "a leaf Variable that requires grad is being used in an in-place operation" in text.splitlines()[0]
    assert "sgd_step(params, 0.1)" in text.splitlines()[0]
    assert hint("sgd_step", "leaf_in_place", lang) in text and "torch.no_grad()" in text
    assert hint("sgd_step", "raised", lang) not in text


@pytest.mark.parametrize("lang", LANGS)
def test_does_sgd_step_without_the_none_guard_get_the_none_grad_hint(lang, monkeypatch):
    text = message("sgd_step", entry("sgd_step", "no None guard").source, lang, monkeypatch)
    assert text is not None and "TypeError" in text.splitlines()[0]
    assert hint("sgd_step", "none_grad", lang) in text


def test_does_an_error_without_a_listed_hint_keep_the_generic_one():
    def sgd_step(params, lr):
        raise KeyError("momentum")

    check = Checker("sgd_step", lang="en")
    with pytest.raises(CheckFailed) as info:
        check.call(sgd_step, [], 0.1, error_hints={"leaf Variable that requires grad": "leaf_in_place"})
    assert hint("sgd_step", "raised", "en") in str(info.value)


def test_can_an_error_be_matched_by_its_class_name_and_a_broken_str():
    class Unprintable(Exception):
        def __str__(self):
            raise ValueError("no")

    def learner():
        raise Unprintable()

    check = Checker("sgd_step", lang="en")
    with pytest.raises(CheckFailed) as info:
        check.call(learner, error_hints={"Unprintable": "none_grad"})
    assert hint("sgd_step", "none_grad", "en") in str(info.value)


# -- a known wrong value with its own hint -----------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("mistake", "key"), [
    ("adds the gradient", "sign"),
    ("forgets the learning rate", "lr"),
    ("rebinds the name", "in_place"),
])
def test_does_a_wrong_sgd_step_get_the_hint_for_its_mistake(mistake, key, lang, monkeypatch):
    text = message("sgd_step", entry("sgd_step", mistake).source, lang, monkeypatch)
    label = messages.label(lang, "weight after sgd_step(..., lr=0.1) vs optim.SGD")
    assert text is not None and text.splitlines()[0].startswith(f"✗ sgd_step: {label}")
    assert hint("sgd_step", key, lang) in text
    others = {"sign", "lr", "in_place", "step"} - {key}
    assert not any(hint("sgd_step", other, lang) in text for other in others)


def test_does_the_sign_mistake_no_longer_hear_about_rebinding_a_name(monkeypatch):
    text = message("sgd_step", entry("sgd_step", "adds the gradient").source, "en", monkeypatch)
    assert "rebinds" not in text and "p -= lr * p.grad" in text


@pytest.mark.parametrize("lang", LANGS)
def test_does_a_late_binding_closure_in_trace_shapes_get_its_hint(lang, monkeypatch):
    text = message("trace_shapes", entry("trace_shapes", "late binding").source, lang, monkeypatch)
    assert text is not None and "trace_shapes(Net(), (1, 1, 32, 32))" in text.splitlines()[0]
    assert "('fc3', (1, 6, 30, 30))" in text  # every entry named after the last layer
    assert hint("trace_shapes", "late_binding", lang) in text and "name=name" in text


def test_does_a_different_trace_mistake_keep_the_general_hint(monkeypatch):
    text = message("trace_shapes", entry("trace_shapes", "records the input shapes").source, "en", monkeypatch)
    assert hint("trace_shapes", "leaf_hooks", "en") in text
    assert hint("trace_shapes", "late_binding", "en") not in text


def test_does_a_mistake_hint_need_the_exact_wrong_value():
    check = Checker("sgd_step", lang="en")
    weight = torch.ones(3)
    with pytest.raises(CheckFailed) as info:  # neither the right value nor a known wrong one
        check.close(weight * 7, weight * 2, "w", hint="step", mistakes={"sign": weight * 3})
    assert hint("sgd_step", "step", "en") in str(info.value)
    with pytest.raises(CheckFailed) as info:
        check.equal([1, 2], [1, 3], "names", hint="step", mistakes={"sign": (1, 2)})  # a tuple is not a list
    assert hint("sgd_step", "step", "en") in str(info.value)
    check.close(weight * 2, weight * 2, "w", hint="step", mistakes={"sign": weight * 2})  # right wins


# -- the visible checks that catch two more mistakes -------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("what", ["zero_grad after backward", "zero_grad(set_to_none=False) after backward"])
def test_does_the_visible_check_catch_zeroing_after_backward(what, lang, monkeypatch):
    text = message("fresh_gradients", entry("fresh_gradients", what).source, lang, monkeypatch)
    held = "on a model holding an earlier pass's" if lang == "en" else "이전 역전파의 변화도가 남은 모델에서"
    assert text is not None and held in text.splitlines()[0]
    assert hint("fresh_gradients", "accumulate", lang) in text


@pytest.mark.parametrize("lang", LANGS)
def test_does_the_visible_check_catch_round_instead_of_floor(lang, monkeypatch):
    text = message("conv2d_output_size", entry("conv2d_output_size", "round() instead of floor").source,
                   lang, monkeypatch)
    assert text is not None and "conv2d_output_size(29, 3, stride=3)" in text.splitlines()[0]
    assert hint("conv2d_output_size", "round_down", lang) in text


@pytest.mark.parametrize(("exercise", "what"), [
    ("fresh_gradients", "zero_grad after backward"),
    ("conv2d_output_size", "round() instead of floor"),
])
def test_does_the_catalogue_record_them_as_caught_by_the_visible_check(exercise, what):
    assert entry(exercise, what).caught_by == "visible"


@pytest.mark.parametrize("exercise", ["Net28", "sgd_step", "trace_shapes", "fresh_gradients", "conv2d_output_size"])
def test_does_the_reference_still_pass_the_visible_check(exercise, monkeypatch):
    source = dict(trial.solution_sources(trial.notebook_of(exercise)))[exercise]
    assert message(exercise, source, "en", monkeypatch) is None


# -- a large tensor: the largest difference, where it is, the values around it ------------------
def _hidden_message(learner) -> str:
    with pytest.raises(CheckFailed) as info:
        hidden.check("make_digit_tensors", learner)
    return str(info.value)


def digit_mistake(what: str, n: int):
    """The catalogued make_digit_tensors mistake ``what``, and what it and the reference make of n digits."""
    from solutions.digits import make_digit_tensors

    namespace: dict = {}
    exec(cells("make_digit_tensors")[0], namespace)  # noqa: S102
    exec(entry("make_digit_tensors", what).source, namespace)  # noqa: S102
    learner = namespace["make_digit_tensors"]
    images, labels = load_digits().images[:n], load_digits().target[:n]
    return learner, learner(images, labels)[0], make_digit_tensors(images, labels)[0]


@pytest.mark.parametrize("lang", LANGS)
def test_does_a_large_tensor_show_the_largest_difference_and_its_neighbours(lang, monkeypatch):
    """align_corners=True: the visible check catches it on 4 values; the hidden one on a whole image."""
    monkeypatch.setenv("COURSE_LANG", lang)
    learner, got, expected = digit_mistake("align_corners=True", 20)  # the hidden test's first input
    text = _hidden_message(learner)
    first, expected_line, got_line, largest, said = text.splitlines()
    assert first.startswith("✗ make_digit_tensors: ") and messages.label(lang, "the values of x") in first
    difference = (got - expected).abs()
    n, c, row, col = (int(i) for i in torch.unravel_index(difference.argmax(), difference.shape))
    assert "(20, 1, 32, 32)" in expected_line and "(20, 1, 32, 32)" in got_line
    label = "largest difference: " if lang == "en" else "가장 큰 차이: "
    assert largest.strip().startswith(label) and f"({n}, {c}, {row}, {col})" in largest
    assert f"{difference.max().item():.4g}" in largest
    start = max(0, min(col - 2, 32 - 5))
    where = f"[{n}, {c}, {row}, {start}:{start + 5}]"
    for line, tensor in ((expected_line, expected), (got_line, got)):
        assert where in line
        shown = [float(v) for v in line.rsplit("[", 1)[1].rstrip("]").split(", ")]
        assert shown == pytest.approx(tensor[n, c, row, start:start + 5].tolist(), abs=1e-4)
    assert said.lstrip().startswith(("hint:", "힌트:"))


def test_does_the_largest_difference_name_the_right_place_and_values():
    expected = torch.full((1, 1, 32, 32), 0.25)  # notebook 6: "an image of 4s becomes all 0.25"
    got = expected.clone()
    got[0, 0, 3, 30] = 1.0
    with pytest.raises(CheckFailed) as info:
        Checker("make_digit_tensors", lang="en").close(got, expected, "an image of 4s", hint="scale16")
    lines = str(info.value).splitlines()
    assert lines[1] == "    expected: a tensor of shape (1, 1, 32, 32); at [0, 0, 3, 27:32]: [0.25, 0.25, 0.25, 0.25, 0.25]"
    assert lines[2] == "    got:      a tensor of shape (1, 1, 32, 32); at [0, 0, 3, 27:32]: [0.25, 0.25, 0.25, 1.0, 0.25]"
    assert lines[3] == "    largest difference: 0.75 at index (0, 0, 3, 30)"


@pytest.mark.parametrize("lang", LANGS)
def test_does_a_large_tensor_of_another_dtype_say_so(lang, monkeypatch):
    """The missing .float(): float64 where float32 is expected, the values equal as far as float32 tells."""
    monkeypatch.setenv("COURSE_LANG", lang)
    _, got, expected = digit_mistake("float64: the missing .float()", 3)
    with pytest.raises(CheckFailed) as info:
        Checker("make_digit_tensors").equal(got, expected, "x")
    lines = str(info.value).splitlines()
    assert "torch.float32" in lines[1] and "torch.float64" in lines[2] and "(3, 1, 32, 32)" in lines[2]
    assert len(lines) == 4  # no difference line: the values agree


@pytest.mark.parametrize("lang", LANGS)
def test_does_a_large_tensor_of_another_shape_say_so(lang):
    """No channel dimension: [N, 32, 32] where [N, 1, 32, 32] is expected."""
    check = Checker("make_digit_tensors", lang=lang)
    with pytest.raises(CheckFailed) as info:
        check.equal(torch.zeros(2, 32, 32), torch.zeros(2, 1, 32, 32), "x")
    lines = str(info.value).splitlines()
    assert "(2, 1, 32, 32)" in lines[1] and "(2, 32, 32)" in lines[2] and len(lines) == 4


def test_does_a_nan_show_as_nan_where_it_is():
    expected = torch.arange(20.0)
    got = expected.clone()
    got[13] = float("nan")
    with pytest.raises(CheckFailed) as info:
        Checker("cross_entropy", lang="en").close(got, expected, "x")
    assert "largest difference: nan at index (13,)" in str(info.value)
    assert "at [11:16]: [11.0, 12.0, nan, 14.0, 15.0]" in str(info.value)


def test_does_a_small_tensor_still_print_whole():
    with pytest.raises(CheckFailed) as info:
        Checker("mse_loss", lang="en").close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]), "x")
    assert "tensor([1., 3.])" in str(info.value) and "largest difference" not in str(info.value)


# -- notebook 1's per-layer count works with any style of Net -----------------------------------
@pytest.mark.parametrize("style", ["nn.MaxPool2d and nn.ReLU modules", "torch.relu and nn.Flatten"])
def test_does_the_per_layer_count_work_with_modules_that_have_no_weights(style, capsys):
    from grading_trials import RIGHT

    from solutions.network import count_parameters

    nb = nbformat.read(trial.notebook_of("Net").path, as_version=4)
    (cell,) = [c.source for c in nb.cells if c.get("id") == "24a1ef2c"]
    (learner,) = [e.source for e in RIGHT if e.exercise == "Net" and e.what.startswith(style)]
    namespace: dict = {"count_parameters": count_parameters}
    exec(cells("Net")[0], namespace)  # noqa: S102
    exec(learner, namespace)  # noqa: S102
    namespace["net"] = namespace["Net"]()
    exec(cell, namespace)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed[:-1]] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert printed[-1] == "10 tensors, 81,194 learnable values"


# -- the class report counts a raised error by the hint it was shown ------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_does_the_class_report_read_a_raised_error_and_its_own_hint(lang, monkeypatch):
    from autograde import mistakes

    text = message("sgd_step", entry("sgd_step", "no torch.no_grad()").source, lang, monkeypatch)
    output = {"output_type": "error", "ename": "CheckFailed", "evalue": text}
    kind, what, key, shown, said = mistakes.classify("sgd_step", [output])
    assert (kind, key, said) == ("check", "leaf_in_place", lang)
    assert what.startswith(("calling sgd_step(params, 0.1)", "sgd_step(params, 0.1)")) and what.endswith("→ RuntimeError")
    assert shown == text
