"""Learner-facing checks: every failure names the exercise, what was expected, what came back
and one hint, in the learner's language.

A test cell reads like this::

    check = Checker("mse_loss")
    check.close(check.call(mse_loss, a, b), torch.tensor(2.0), hint="average")
    check.done()

``hint`` is a key into ``autograde.messages.HINTS`` (or plain text). Learner code always runs
through ``Checker.call``, which turns an exception into a friendly message and keeps
warnings off stderr: nbgrader scores a graded cell with any stderr output as zero.
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


def short(value: Any, limit: int = 300, lang: str = "en") -> str:
    """A short, readable rendering of a value for a message."""
    if isinstance(value, torch.Tensor):
        big = value.numel() > 12
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

        ``what`` and a text ``expected`` or ``got`` are labels the code wrote in English: they
        are shown in the learner's language (:func:`autograde.messages.label`).
        """
        text = messages.failure(
            self.lang,
            exercise=self.exercise,
            what=messages.label(self.lang, what),
            expected=messages.label(self.lang, expected) if isinstance(expected, str) else self._short(expected),
            got=messages.label(self.lang, got) if isinstance(got, str) else self._short(got),
            hint=messages.hint(self.lang, self.exercise, hint),
        )
        raise CheckFailed(self.exercise, text) from None

    def ok(self) -> None:
        self.passed += 1

    def _short(self, value: Any) -> str:
        return short(value, lang=self.lang)

    # -- running learner code ---------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, what: str | None = None, **kwargs: Any) -> Any:
        """Call learner code; an exception becomes a message with the call and the learner's line."""
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
            raise CheckFailed(self.exercise, call_text.raised(self.lang, self.exercise, what, error)) from None
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
    def equal(self, got: Any, expected: Any, what: str = "", hint: str | None = None) -> None:
        """Check that got is expected: the same built-in types all the way down, equal values."""
        if not same(got, expected):
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
    ) -> None:
        """Check a tensor or number against the expected value, within float tolerance.

        An expected tensor wants a plain ``torch.Tensor`` (or a parameter) back; an expected
        Python number wants a Python ``int`` or ``float`` back.
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
        if not bool(((got_d - exp_d).abs() <= atol + rtol * exp_d.abs()).all()):
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
