"""Learner-facing checks: every failure names the exercise, what was expected, what came back
and one hint, in the learner's language.

A test cell reads like this::

    check = Checker("mse_loss")
    check.close(check.call(mse_loss, a, b), torch.tensor(2.0), hint="average")
    check.done()

``hint`` is a key into ``autograde.messages.HINTS`` (or plain text). Learner code always runs
through ``Checker.call``, which turns an exception into a friendly message and keeps
warnings off stderr: nbgrader scores a graded cell with any stderr output as zero.

The most specific hint wins. A known mistake has its own: ``mistakes={"sign": wrong_value}``
on ``equal`` or ``close`` names the hint for a result that equals that wrong value, and
``error_hints={"leaf Variable that requires grad": "no_grad"}`` on ``call`` names the hint for
an error whose text holds those words. A large tensor that differs is shown by the largest
difference, where it is and the values around it (``tensor_difference``).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch

from autograde import call_text, messages


class CheckFailed(AssertionError):
    """A check failed; the message is written for the learner.

    IPython shows it as the message alone (``_render_traceback_``): the frames of the checks, the
    hidden tests and the reference would only hide it. The cell still ends in an error output, which
    is what nbgrader's Validate, the grader and nbval look for. A message about learner code that
    raised names the learner's own line (``Checker.call``).
    """

    def __init__(self, exercise: str, text: str):
        super().__init__(text)
        self.exercise = exercise

    def __str__(self) -> str:
        return self.args[0]

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


SHORT_TENSOR = 12  # elements: a tensor with more is described, not printed
AROUND = 5  # values shown around the largest difference of two large tensors


def short(value: Any, limit: int = 300, lang: str = "en") -> str:
    """A short, readable rendering of a value for a message."""
    if isinstance(value, torch.Tensor):
        big = value.numel() > SHORT_TENSOR
        text = messages.text(lang, "big_tensor", shape=tuple(value.shape)) if big else repr(value)
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def quiet():
    """Run learner code with warnings and stderr captured; yield the list of warning texts."""
    caught: list[str] = []
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as records, contextlib.redirect_stderr(buffer):
        warnings.simplefilter("always")
        try:
            yield caught
        finally:
            caught.extend(f"{r.category.__name__}: {r.message}" for r in records)
            if buffer.getvalue().strip():
                caught.append(buffer.getvalue().strip())


class Checker:
    """Checks for one exercise, counting what passed and failing with a learner message."""

    def __init__(self, exercise: str, lang: str | None = None):
        self.exercise = exercise
        self.lang = lang or messages.language()
        self.passed = 0
        self.warned: list[str] = []

    # -- building messages ------------------------------------------------------------
    def fail(self, what: str, expected: Any, got: Any, hint: str | None = None) -> None:
        """Raise a CheckFailed that says what was checked, expected and got, with a hint.

        Two tensors of which one is too large to print are described by ``tensor_difference``:
        their shapes and dtypes where those differ, else the largest difference and the values
        around it. Its extra line goes under ``got``, so the message keeps the labels of ``failure``.
        ``what`` and a text ``expected`` or ``got`` are labels the code wrote in English: they
        are shown in the learner's language (:func:`autograde.messages.label`).
        """
        expected_text = messages.label(self.lang, expected) if isinstance(expected, str) else self._short(expected)
        got_text = messages.label(self.lang, got) if isinstance(got, str) else self._short(got)
        if type(expected) in TENSOR_TYPES and type(got) in TENSOR_TYPES and (
                expected.numel() > SHORT_TENSOR or got.numel() > SHORT_TENSOR):
            described = tensor_difference(self.lang, expected, got)
            if described is not None:
                expected_text, got_text, detail = described
                got_text += f"\n    {detail}" if detail else ""
        text = messages.failure(
            self.lang,
            exercise=self.exercise,
            what=messages.label(self.lang, what),
            expected=expected_text,
            got=got_text,
            hint=messages.hint(self.lang, self.exercise, hint),
        )
        raise CheckFailed(self.exercise, text) from None

    def ok(self) -> None:
        self.passed += 1

    def _short(self, value: Any) -> str:
        return short(value, lang=self.lang)

    # -- running learner code ---------------------------------------------------------
    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        what: str | None = None,
        error_hints: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call learner code; an exception becomes a message with the call and the learner's line.

        ``error_hints`` maps a piece of an error's text (or its class name) to the hint for that
        error, e.g. ``{"leaf Variable that requires grad": "no_grad"}``; any other error gets the
        generic ``raised`` hint.
        """
        try:
            with quiet() as caught:
                result = fn(*args, **kwargs)
        except CheckFailed:
            raise
        except NotImplementedError:
            what = what or call_text.describe(self.lang, fn, args, kwargs)
            self.fail(what, messages.text(self.lang, "a_result"), "NotImplementedError", "not_implemented")
        except Exception as error:  # noqa: BLE001 - any learner error becomes feedback
            what = messages.label(self.lang, what) if what else call_text.describe(self.lang, fn, args, kwargs)
            hint = error_hint(error, error_hints or {})
            raise CheckFailed(self.exercise, call_text.raised(self.lang, self.exercise, what, error, hint)) from None
        self.warned.extend(w for w in caught if w not in self.warned)
        return result

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run learner code only for what it leaves behind; an error it raises is no failure."""
        try:
            with quiet():
                fn(*args, **kwargs)
        except Exception:  # noqa: BLE001, S110 - the check that follows looks at the state, not at the error
            pass

    # -- comparisons --------------------------------------------------------------------
    # Learner code may return objects of its own classes, whose ``__eq__``, ``__bool__`` or
    # ``__torch_function__`` could answer anything. Every comparison therefore tests the exact
    # type first and only then compares values with the operators of built-in types.
    def equal(
        self, got: Any, expected: Any, what: str = "", hint: str | None = None, mistakes: dict[str, Any] | None = None
    ) -> None:
        """Check that got is expected: the same built-in types all the way down, equal values.

        ``mistakes`` maps a hint key to the wrong value a known mistake gives: a result equal to
        one of them gets that hint instead of ``hint``.
        """
        if not same(got, expected):
            hint = next((key for key, wrong in (mistakes or {}).items() if same(got, wrong)), hint)
            self.fail(what, expected, got if plain(got) else self._kind_of(got), hint)
        self.ok()

    def kind(self, got: Any, *types: type, what: str = "", hint: str | None = None) -> None:
        """Check that ``got`` is exactly one of ``types`` (a subclass is refused; bool is no int)."""
        if type(got) not in types:
            self.fail(what, messages.text(self.lang, "or").join(t.__name__ for t in types), self._kind_of(got), hint)
        self.ok()

    def pair(self, got: Any, what: str = "", hint: str | None = None) -> None:
        """Check that ``got`` is a tuple or list of exactly two items."""
        if type(got) not in (tuple, list) or len(got) != 2:
            self.fail(what, messages.text(self.lang, "a_pair"), self._kind_of(got), hint)
        self.ok()

    def close(
        self,
        got: Any,
        expected: torch.Tensor | float,
        what: str = "",
        hint: str | None = None,
        rtol: float = 1e-5,
        atol: float = 1e-6,
        mistakes: dict[str, Any] | None = None,
    ) -> None:
        """Check a tensor or number against the expected value, within float tolerance.

        An expected tensor wants a plain ``torch.Tensor`` (or a parameter) back; an expected
        Python number wants a Python ``int`` or ``float`` back. ``mistakes`` maps a hint key to
        the wrong value a known mistake gives (``{"sign": p + lr * grad}``): a result within
        tolerance of one of them gets that hint.
        """
        if isinstance(expected, torch.Tensor):
            if type(got) not in TENSOR_TYPES:
                self.fail(what, expected, self._kind_of(got), hint)
            got_t, expected_t = got, expected
        else:
            if type(got) not in (int, float):
                self.fail(what, expected, self._kind_of(got), hint)
            got_t, expected_t = torch.tensor(float(got)), torch.tensor(float(expected))
        if got_t.dtype in (torch.bool,) or got_t.is_complex() or got_t.is_sparse:
            self.fail(what, expected, messages.text(self.lang, "dtype", dtype=got_t.dtype), hint)
        if got_t.shape != expected_t.shape:
            self.fail(
                what,
                messages.text(self.lang, "shape", shape=tuple(expected_t.shape)),
                messages.text(self.lang, "shape", shape=tuple(got_t.shape)),
                hint,
            )
        got_d = got_t.detach().to(torch.float64)
        exp_d = expected_t.detach().to(torch.float64)
        if not bool(torch.isfinite(got_d).all()) and bool(torch.isfinite(exp_d).all()):
            self.fail(what, expected, got, hint or "not_finite")
        if not _within(got_d, exp_d, rtol, atol):
            for key, wrong in (mistakes or {}).items():
                wrong_d = torch.as_tensor(wrong).detach().to(torch.float64)
                if wrong_d.shape == got_d.shape and _within(got_d, wrong_d, rtol, atol):
                    hint = key
                    break
            self.fail(what, expected, got, hint)
        self.ok()

    def _kind_of(self, got: Any) -> str:
        """What came back, said without calling anything the value's own class defines."""
        if plain(got):
            return self._short(got)
        return messages.text(self.lang, "object_of", kind=type(got).__name__)

    def raises(
        self, error: type[BaseException], fn: Callable[..., Any], *args: Any, what: str = "", hint: str | None = None
    ) -> None:
        """Check that calling fn(*args) raises ``error``."""
        try:
            with quiet():
                result = fn(*args)
        except error:
            self.ok()
            return
        except NotImplementedError:
            self.fail(what, error.__name__, "NotImplementedError", "not_implemented")
        except Exception as other:  # noqa: BLE001
            self.fail(what, error.__name__, f"{type(other).__name__}: {other}", hint)
        self.fail(what, error.__name__, messages.text(self.lang, "returned", value=self._short(result)), hint)

    def true(self, condition: bool, what: str, expected: str, got: Any, hint: str | None = None) -> None:
        """Check a condition that has no single expected value: a bool, or a one-element bool tensor."""
        if type(condition) is torch.Tensor and condition.dtype == torch.bool and condition.numel() == 1:
            condition = bool(condition.item())
        if condition is not True:
            self.fail(what, expected, got if plain(got) else self._kind_of(got), hint)
        self.ok()

    def done(self, key: str = "passed") -> None:
        """Print the success line (and any warning the learner's code raised, as a note)."""
        print(messages.text(self.lang, key, exercise=self.exercise, n=self.passed))
        for warning in self.warned:
            print(messages.text(self.lang, "warning_note", warning=warning))


TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
NUMBERS = (int, float)


def _within(got: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> bool:
    """Every value of ``got`` within tolerance of ``expected`` (float64 tensors of one shape)."""
    return bool(((got - expected).abs() <= atol + rtol * expected.abs()).all())


def error_hint(error: BaseException, hints: dict[str, str]) -> str:
    """The hint for an error the learner's code raised: the first of ``hints`` whose words it holds."""
    try:
        said = f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - a learner's exception class may break str()
        said = type(error).__name__
    return next((key for words, key in hints.items() if words in said), "raised")


def _number(value: Any) -> str:
    """One value of a tensor, short: 0.25, 1.0, 1e-08, 3, True, nan."""
    if not isinstance(value, float):
        return str(value)
    text = f"{value:.4g}"
    return text if any(c in text for c in ".ena") else text + ".0"  # a float stays a float: 1.0, not 1


def _index(position: tuple[int, ...]) -> str:
    return f"({', '.join(map(str, position))}{',' if len(position) == 1 else ''})"


def tensor_difference(lang: str, expected: torch.Tensor, got: torch.Tensor) -> tuple[str, str, str] | None:
    """What two tensors of which one is too large to print differ in: (expected, got, extra line).

    Different shapes: both shapes. Different dtypes: both dtypes too. The same shape: the values
    around the largest difference (on the last dimension) and a line that says how large it is
    and where. None for a tensor this cannot read (sparse, on the meta device): the caller's
    short rendering stands.
    """
    try:
        exp = expected.detach().cpu()
        got_ = got.detach().cpu()
        if exp.is_sparse or got_.is_sparse or exp.is_complex() or got_.is_complex():
            return None
        exp_d, got_d = exp.to(torch.float64), got_.to(torch.float64)
    except Exception:  # noqa: BLE001 - a tensor on the meta device, a quantized one: no values to show
        return None

    def described(tensor: torch.Tensor, values: str = "") -> str:
        shape = tuple(tensor.shape)
        if exp.dtype != got_.dtype:
            text = messages.text(lang, "tensor_shape_dtype", shape=shape, dtype=tensor.dtype)
        else:
            text = messages.text(lang, "shape", shape=shape)
        return text + values

    if exp.shape != got_.shape:
        return described(exp), described(got_), ""
    difference = (got_d - exp_d).abs()
    agree = (got_d == exp_d) | (got_d.isnan() & exp_d.isnan())  # inf == inf, nan where nan is expected
    difference = torch.where(agree, torch.zeros_like(difference), difference.nan_to_num(nan=math.inf))
    if exp.numel() == 0 or not bool(difference.max() > 0) or (
            exp.dtype != got_.dtype and _within(got_d, exp_d, 1e-5, 1e-6)):
        return described(exp), described(got_), ""  # the values agree as far as the dtypes can tell
    position = tuple(int(i) for i in torch.unravel_index(difference.argmax(), difference.shape))
    last = position[-1]
    size = exp.shape[-1]
    start = max(0, min(last - AROUND // 2, size - AROUND))
    stop = min(size, start + AROUND)
    where = "[" + "".join(f"{i}, " for i in position[:-1]) + f"{start}:{stop}]"

    def around(tensor: torch.Tensor) -> str:
        values = tensor[position[:-1]][start:stop].tolist()
        return messages.text(lang, "tensor_around", where=where, values="[" + ", ".join(map(_number, values)) + "]")

    largest = (got_d - exp_d).abs()[position].item()  # nan where the learner's value is nan
    detail = messages.text(lang, "largest_difference", difference=_number(largest), index=_index(position))
    return described(exp, around(exp)), described(got_, around(got_)), detail


def plain(value: Any) -> bool:
    """Is ``value`` built only from built-in types (safe to print and compare)?"""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, torch.dtype, torch.device) or kind in TENSOR_TYPES:
        return True
    if kind in (tuple, list, torch.Size):
        return all(plain(v) for v in value)
    if kind is dict:
        return all(plain(k) and plain(v) for k, v in value.items())
    return False


def same(got: Any, expected: Any) -> bool:
    """``got`` equals ``expected`` with exactly the same built-in types; learner operators are never called.

    A shape may come back as a ``torch.Size`` where a tuple is expected; a float where a float is
    expected may be an int of the same value. Nothing else converts: ``True`` is not ``1`` and
    ``30.0`` is not ``30``.
    """
    kind = type(expected)
    if expected is None:
        return got is None
    if kind is bool:
        return type(got) is bool and got is expected
    if kind is int:
        return type(got) is int and int.__eq__(got, expected)
    if kind is float:
        return type(got) in NUMBERS and float(got) == expected
    if kind in (str, torch.dtype, torch.device):
        return type(got) is kind and kind.__eq__(expected, got) is True
    if kind in (tuple, torch.Size):
        return type(got) in (tuple, torch.Size) and _same_items(tuple.__iter__(got), expected)
    if kind is list:
        return type(got) is list and _same_items(list.__iter__(got), expected)
    if kind is dict:
        if type(got) is not dict or dict.__len__(got) != len(expected):
            return False
        keys = list(dict.__iter__(got))
        if not all(type(k) in (str, int) for k in keys) or set(keys) != set(expected):
            return False
        return all(same(dict.__getitem__(got, k), expected[k]) for k in expected)
    if isinstance(expected, torch.Tensor):
        return (type(got) in TENSOR_TYPES and got.dtype == expected.dtype and got.shape == expected.shape
                and bool(torch.equal(got.detach(), expected.detach())))
    raise TypeError(f"same() cannot compare with a {kind.__name__}")


def _same_items(got_items: Any, expected: Any) -> bool:
    got_list = list(got_items)
    return len(got_list) == len(expected) and all(same(g, e) for g, e in zip(got_list, expected))


def isclose(a: float, b: float) -> bool:
    """Float comparison used by the hidden tests for plain numbers."""
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
