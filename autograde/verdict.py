"""Judge an exercise's hidden tests from the observations of the learner's code, outside the child.

:mod:`autograde.hidden` turns each exercise's hidden tests into an observer: it runs the subject on
seeded inputs and records labelled observations. In grading, the child that runs the learner's
notebook only observes and reports; this module, in the trusted grading process, runs the same
observer on the reference (``solutions``, once per exercise and run: :func:`reference`) and
compares, first mismatch first, with the checks' own rules and messages
(:class:`autograde.checks.Checker`): exact for ints, bools, strings, shapes and dtypes, within the
observer's tolerance for floats and tensors, types before values.

Learner data is decoded into built-in values only: an object of the learner's class arrives as
its type's name and becomes an instance of a fresh class of that name here, which equals nothing.
The tolerance, the hint and what a property must be always come from the reference's observation.

The interface is one call: ``verdict(exercise, observations, lang) -> (passed, message)``.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import re
from typing import Any

REFERENCE_MODULES = ("network", "losses", "backprop", "update", "shapes", "digits")


class Unreadable(ValueError):
    """Observations that cannot be what an observer records."""


@functools.cache
def reference(exercise: str) -> tuple[dict, ...]:
    """The observations of ``exercise``'s observer on the reference solution: once per process, and kept
    on disk for the next run on this machine (:mod:`autograde.reference_cache`)."""
    from autograde import reference_cache

    kept = reference_cache.load(exercise)
    if kept is not None:
        return kept
    items = tuple(json.loads(json.dumps(observe_reference(exercise))))  # as a kept copy reads back: one form
    reference_cache.store(exercise, items)
    return items


def observe_reference(exercise: str) -> tuple[dict, ...]:
    """Run ``exercise``'s observer on the reference solution, here and now."""
    from autograde import hidden

    for name in REFERENCE_MODULES:
        module = importlib.import_module(f"solutions.{name}")
        if hasattr(module, exercise) and exercise in hidden.OBSERVERS:
            items = tuple(hidden.observe(exercise, getattr(module, exercise), "en"))
            bad = [item for item in items if item["kind"] in ("raised", "error") or item.get("ok") is False]
            if bad:
                raise RuntimeError(f"the reference of {exercise} fails its own hidden tests: {bad[0]}")
            return items
    raise LookupError(f"no reference and hidden tests for {exercise!r}")


def verdict(exercise: str, observations: list[dict] | tuple[dict, ...], lang: str) -> tuple[bool, str]:
    """Do the learner's ``observations`` of ``exercise`` match the reference's? Returns (passed, message).

    The message is the learner's feedback, in ``lang``: the success line, or the first mismatch
    rendered like the checks' messages.
    """
    from autograde import messages
    from autograde.checks import Checker, CheckFailed

    expected = reference(exercise)
    checker = Checker(exercise, lang)
    try:
        for index, wanted in enumerate(expected):
            if index >= len(observations):
                raise Unreadable(f"{len(observations)} observations for {len(expected)}")
            got = observations[index]
            if type(got) is not dict:
                raise Unreadable("an observation is not an object")
            if got.get("kind") == "raised":
                return False, _text(got.get("message"))
            if got.get("kind") == "error":
                return False, messages.text(lang, "hidden_error", exercise=exercise, error=_text(got.get("message")))
            if got.get("kind") != wanted["kind"] or got.get("what") != wanted["what"]:
                raise Unreadable(f"observation {index + 1} is not {wanted['what']!r}")
            _compare(checker, got, wanted)
        if len(observations) != len(expected):
            raise Unreadable(f"{len(observations)} observations for {len(expected)}")
    except CheckFailed as failed:
        return False, str(failed)
    except (Unreadable, TypeError, ValueError, KeyError, OverflowError, RuntimeError, RecursionError) as error:
        return False, messages.text(lang, "hidden_unreadable", exercise=exercise, why=str(error)[:200])
    return True, messages.text(lang, "hidden_passed", exercise=exercise, n=checker.passed)


def _text(value: object) -> str:
    if type(value) is not str:
        raise Unreadable("a message is not text")
    return value


def _compare(checker, got: dict, wanted: dict) -> None:
    """One observation against the reference's: passes (``checker.ok``) or raises CheckFailed."""
    from autograde import messages

    kind, what, hint = wanted["kind"], wanted["what"], wanted.get("hint")
    if kind == "equal":
        checker.equal(decode(got.get("value")), decode(wanted["value"]), what, hint)
    elif kind == "close":
        hints = wanted.get("hints") or []
        if got.get("hint") in hints:
            hint = got["hint"]
        expected = decode(wanted["value"])
        value = decode(got.get("value"))
        if isinstance(value, _Large) or isinstance(expected, _Large):
            checker.fail(what, f"{expected}", f"{value}", hint)
        checker.close(value, expected, what, hint, rtol=wanted["rtol"], atol=wanted["atol"])
    elif kind in ("check", "raises"):
        if got.get("ok") is True:
            checker.ok()
            return
        expected = wanted.get("expected")
        if wanted.get("expected_key"):
            expected = messages.text(checker.lang, wanted["expected_key"])
        shown = _text(got.get("got"))
        if kind == "raises" and got.get("not_implemented") is True:
            hint = "not_implemented"
        checker.fail(what, expected, shown, hint)
    else:
        raise Unreadable(f"unknown kind of observation {kind!r}")


# -- plain data back into values -----------------------------------------------------------
class Foreign:
    """What an object of a class the learner defined becomes: a value of its type's name, equal to nothing."""


class _Large:
    """A tensor too large to send in full: its shape and dtype."""

    def __init__(self, shape: list[int], dtype: str) -> None:
        self.shape, self.dtype = tuple(shape), dtype

    def __repr__(self) -> str:
        return f"a tensor of shape {self.shape} ({self.dtype}, too large to compare)"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _number(value: object) -> float:
    if type(value) is str and value in ("nan", "inf", "-inf"):
        return float(value)
    if type(value) in (int, float):
        return float(value)
    raise Unreadable("a number is not a number")


def _dtype(name: object):
    import torch

    dtype = getattr(torch, str(name).removeprefix("torch."), None) if type(name) is str else None
    if type(dtype) is not torch.dtype:
        raise Unreadable(f"unknown dtype {name!r}")
    return dtype


def decode(data: Any) -> Any:
    """The built-in value ``data`` (from :func:`autograde.hidden.encode`) stands for."""
    import torch

    if type(data) is not dict:
        raise Unreadable("a value is not an object")
    tag, value = data.get("t"), data.get("v")
    if tag == "none":
        return None
    if tag == "bool" and type(value) is bool:
        return value
    if tag == "int" and type(value) is int:
        return value
    if tag == "float":
        return _number(value)
    if tag == "str" and type(value) is str:
        return value
    if tag in ("tuple", "list", "size") and type(value) is list:
        items = [decode(v) for v in value]
        if tag == "size":
            if not all(type(v) is int and v >= 0 for v in items):
                raise Unreadable("a torch.Size holds something other than sizes")
            return torch.Size(items)
        return tuple(items) if tag == "tuple" else items
    if tag == "dict" and type(value) is list:
        out = {}
        for pair in value:
            if type(pair) is not list or len(pair) != 2:
                raise Unreadable("a dict entry is not a pair")
            key = decode(pair[0])
            if type(key) not in (str, int, bool, float, tuple) and key is not None:
                key = Foreign()
            out[key] = decode(pair[1])
        return out
    if tag == "dtype":
        return _dtype(value)
    if tag == "device" and type(value) is str:
        try:
            return torch.device(value)
        except RuntimeError:
            raise Unreadable(f"unknown device {value!r}") from None
    if tag == "tensor":
        return _tensor(data)
    if tag == "object" and type(value) is str:
        name = value if _NAME.fullmatch(value) else "object"
        return type(name, (Foreign,), {})()
    raise Unreadable(f"a malformed value ({tag!r})")


def _tensor(data: dict):
    import torch

    shape, values, dtype = data.get("shape"), data.get("values"), _dtype(data.get("dtype"))
    if type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape) or len(shape) > 16:
        raise Unreadable("a tensor's shape is not a list of sizes")
    if values is None:
        return _Large(shape, str(dtype))
    if type(values) is not list or len(values) != math.prod(shape):
        raise Unreadable("a tensor's values do not fill its shape")
    if dtype.is_floating_point:
        plain = set(map(type, values)) <= {float, int}  # else "nan", "inf" or "-inf" among them, or a bad value
        flat = torch.tensor(values if plain else [_number(v) for v in values], dtype=torch.float64)
    elif dtype == torch.bool:
        if not all(type(v) is bool for v in values):
            raise Unreadable("a bool tensor holds something other than bools")
        flat = torch.tensor(values, dtype=torch.bool)
    else:
        if not all(type(v) is int for v in values):
            raise Unreadable("an integer tensor holds something other than integers")
        flat = torch.tensor(values, dtype=torch.int64)
    return flat.to(dtype).reshape(shape)
