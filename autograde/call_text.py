"""How a check's message names a call of learner code that raised: the call, the error, the line.

``Net()(x) with x of shape (1, 1, 32, 32)``, ``conv2d_output_size(28, 5, padding=2)``: short values
are written in the call, a tensor or an array by its parameter name and shape, anything else by
its parameter name and type. A module is named by its class (``Net()``, ``Linear(...)``), never by
its whole multi-line repr.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from autograde import messages
from autograde.learner_frames import last_learner_line

INLINE = 24  # characters: a value whose repr is longer is named, not written out
ERROR_LIMIT = 500  # characters of the error itself


def module_name(module: Any) -> str:
    """``Net()`` for a module without settings of its own, ``Linear(...)`` for one with."""
    try:
        extra = module.extra_repr()
    except Exception:  # noqa: BLE001 - a learner's module may break extra_repr
        extra = "?"
    return f"{type(module).__name__}({'...' if extra else ''})"


def _is_module(value: Any) -> bool:
    import torch

    return isinstance(value, torch.nn.Module)


def callee(fn: Callable[..., Any]) -> str:
    """What is being called: a function's or class's name, a module or other object by its class."""
    if _is_module(fn):
        return module_name(fn)
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return getattr(fn, "__name__", type(fn).__name__)
    return f"{type(fn).__name__}()"


def _parameter_names(fn: Callable[..., Any], args: tuple, kwargs: dict) -> list[str]:
    """The names the learner's signature gives the positional arguments (arg1, ... when unknown)."""
    target = fn.forward if _is_module(fn) else fn
    try:
        signature = inspect.signature(target)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return [f"arg{i + 1}" for i in range(len(args))]
    names: list[str] = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            names.extend(f"{name}[{i}]" for i in range(len(value)))
        elif kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) and name not in kwargs:
            names.append(name)
    names += [f"arg{i + 1}" for i in range(len(names), len(args))]
    return names[: len(args)]


def _inline(value: Any) -> str | None:
    """The value as it would be written in the call, when that is short; None otherwise."""
    if _is_module(value):
        return module_name(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return None  # a tensor or an array: named, with its shape
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))) or (
            isinstance(value, (tuple, list, dict, set)) and len(value) <= INLINE // 2):
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a learner's object inside a tuple may break repr
            return None
        return text if len(text) <= INLINE and "\n" not in text else None
    return None


def _about(lang: str, name: str, value: Any) -> str:
    """One named argument: its shape, or its type."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return messages.text(lang, "arg_shape", name=name, shape=tuple(value.shape))
    return messages.text(lang, "arg_type", name=name, kind=type(value).__name__)


def describe(lang: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    """The call in the learner's language: ``calling Net()(x) with x of shape (1, 1, 32, 32)``."""
    named: list[str] = []
    written: list[str] = []
    items = list(zip(_parameter_names(fn, args, kwargs), args)) + [(k, v) for k, v in kwargs.items()]
    for i, (name, value) in enumerate(items):
        text = _inline(value)
        if text is None:
            named.append(_about(lang, name, value))
            text = name
        written.append(text if i < len(args) else f"{name}={text}")
    call = f"{callee(fn)}({', '.join(written)})"  # Net()(x) for a module, mse_loss(a, b) for a function
    if named:
        return messages.text(lang, "calling_with", call=call, args=", ".join(named))
    return messages.text(lang, "calling", call=call)


def raised(lang: str, exercise: str, what: str, error: BaseException, hint: str = "raised") -> str:
    """The message for learner code that raised: the call, the error, the learner's line, a hint.

    ``hint`` is the key of the hint for this very error (``Checker.call``'s ``error_hints``), else
    the generic one.
    """
    line = last_learner_line(error)
    try:
        detail = f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - a learner's exception class may break str()
        detail = type(error).__name__
    return messages.text(
        lang, "raised_failure", exercise=exercise, what=what,
        error=detail if len(detail) <= ERROR_LIMIT else detail[: ERROR_LIMIT - 3] + "...",
        where=messages.text(lang, "learner_line", line=line.line, code=line.code) if line else "",
        hint=messages.hint(lang, exercise, hint),
    )
