"""Hidden tests as observations: run a learner's exercise on seeded inputs and record what it did.

A source notebook's test cell ends with ``hidden.check("mse_loss", mse_loss)`` between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; the student copy never shows it.

Each exercise has an *observer* (a function registered with :func:`case`): given the subject
(the learner's function or class) it calls it on fixed or seeded inputs and records a list of
labelled observations (values, tensors, shapes, dtypes, "raised ValueError", true/false
properties) with :class:`Observer`. An observer never needs the reference: a network gets
deterministic seeded weights per parameter instead of the reference's, and every input is drawn
from a seeded stream that the subject's own use of the random generator cannot move. The same
observer run on the reference (``solutions``), in a trusted process, gives the expected
observations; :func:`autograde.verdict.verdict` compares the two.

Observations are plain data built by exact-type conversion (:func:`encode`): an object of the
learner's own class becomes only its type's name, so an ``__eq__`` or ``__torch_function__``
that lies is never asked anything when the observations are compared.

Where the check runs decides what :func:`check` does:

- in the grading child (:mod:`autograde.kernel` puts a sink in :data:`SINK` while a test cell
  that holds a hidden check runs), it only observes and hands the observations to the sink, which
  reports them to the worker; the grader judges them outside the child;
- anywhere else (the instructor's source notebooks, the tests), it compares on the spot against
  the reference and raises :class:`~autograde.checks.CheckFailed` with the same message the
  grader would give.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde import messages
from autograde.checks import TENSOR_TYPES, Checker, CheckFailed, plain, quiet, short

SEED = 20240917
MAX_TENSOR_VALUES = 1 << 17  # values of one tensor sent in full; a larger one is sent as its shape and dtype only
MAX_ITEMS = 10_000  # items of one list, tuple or dict kept
MAX_DEPTH = 8
OBSERVERS: dict[str, Callable[[Observer, Any], None]] = {}
CASES = OBSERVERS  # the name the course's structure tests use


def _Net() -> nn.Module:  # noqa: N802 - builds a Net, read like the class
    """Notebook 1's Net as the later notebooks are given it (``given/``: in the sandbox for them only).

    Notebook 1's own observers never use it (their fixture is :class:`Small28`): grading notebook 1,
    the sandbox holds no Net but the learner's."""
    from given.network import Net

    return Net()
SINK: list[Callable[[str, list[dict]], None]] = []  # set by the grading kernel while a hidden check's cell runs


def case(fn: Callable[[Observer, Any], None]) -> Callable[[Observer, Any], None]:
    """Register the observer of the exercise named like the function."""
    OBSERVERS[fn.__name__] = fn
    return fn


def check(exercise: str, learner: Any) -> None:
    """Observe ``learner``; in the grading child report the observations, elsewhere judge them now."""
    observer = Observer(exercise)
    items = observe(exercise, learner, observer=observer)
    if SINK:
        SINK[0](exercise, items)
        return
    from autograde import verdict

    passed, message = verdict.verdict(exercise, items, observer.lang)
    if not passed:
        raise CheckFailed(exercise, message)
    print(message)
    for warning in observer.warned:
        print(messages.text(observer.lang, "warning_note", warning=warning))


def observe(exercise: str, subject: Any, lang: str | None = None, observer: Observer | None = None) -> list[dict]:
    """The observations of ``exercise``'s observer on ``subject`` (the learner's object or the reference)."""
    observer = observer or Observer(exercise, lang)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        try:
            OBSERVERS[exercise](observer, subject)
        except Stop:
            pass
        except Exception as error:  # noqa: BLE001 - what the subject's objects did to the observer is an observation
            observer.items.append({"kind": "error", "what": "", "hint": None,
                                   "message": f"{type(error).__name__}: {error}"[:2000]})
    return observer.items


class Stop(Exception):  # noqa: N818 - not an error: the observer cannot go on with what it got
    """The subject did something after which the observer cannot go on (it raised, or returned the wrong kind)."""


# -- plain data from values, by exact type -------------------------------------------------
def _float(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # "nan", "inf", "-inf": JSON has no such numbers


def encode(value: Any, depth: int = 0) -> dict:
    """``value`` as plain JSON data, by its exact type; anything else is only its type's name.

    Methods of built-in types are called through the type (``list.__iter__(value)``), so a subclass
    could not answer for them, and a subclass is no built-in type anyway.
    """
    kind = type(value)
    if depth > MAX_DEPTH:
        return {"t": "object", "v": "a value nested too deep"}
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": bool.__bool__(value)}
    if kind is int:
        number = int.__int__(value)
        return {"t": "int", "v": number} if abs(number) < 2**63 else {"t": "object", "v": "int beyond 64 bits"}
    if kind is float:
        return {"t": "float", "v": _float(float.__float__(value))}
    if kind is str:
        return {"t": "str", "v": str.__str__(value)[:2000]}
    if kind in (tuple, list, torch.Size):
        items = list(kind.__iter__(value)) if kind is not torch.Size else list(tuple.__iter__(value))
        name = {tuple: "tuple", list: "list", torch.Size: "size"}[kind]
        return {"t": name, "v": [encode(v, depth + 1) for v in items[:MAX_ITEMS]]}
    if kind is dict:
        pairs = list(dict.items(value))[:MAX_ITEMS]
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in pairs]}
    if kind is torch.dtype:
        return {"t": "dtype", "v": str(value)}
    if kind is torch.device:
        return {"t": "device", "v": str(value)}
    if kind in TENSOR_TYPES:
        return _encode_tensor(value)
    return {"t": "object", "v": getattr(kind, "__name__", "object")[:100]}


def _encode_tensor(value: torch.Tensor) -> dict:
    tensor = torch.Tensor.detach(value)
    if tensor.is_sparse or tensor.is_complex() or tensor.layout != torch.strided:
        return {"t": "object", "v": f"{tensor.dtype} tensor ({tensor.layout})"}
    data = {"t": "tensor", "dtype": str(tensor.dtype), "shape": list(tensor.shape)}
    if tensor.numel() > MAX_TENSOR_VALUES:
        data["values"] = None
        return data
    flat = tensor.cpu().reshape(-1)
    if tensor.is_floating_point():
        data["values"] = [_float(v) for v in flat.to(torch.float64).tolist()]
    else:
        data["values"] = flat.tolist()
    return data


# -- the observer --------------------------------------------------------------------------
class Observer:
    """Records what an exercise's subject did, one labelled observation per check.

    The methods mirror :class:`~autograde.checks.Checker` without its expected values: ``equal``
    and ``close`` record a value (compared exactly, or within ``rtol``/``atol``), ``kind``,
    ``pair``, ``true`` and ``raises`` record a property that must hold. A call of the subject that
    raises, or a property that does not hold, ends the observation (:class:`Stop`): what follows
    would depend on it. Every call of the subject runs on a random generator of its own, seeded
    by the observation's position, so the inputs drawn afterwards are the same for every subject.
    """

    def __init__(self, exercise: str, lang: str | None = None) -> None:
        self.exercise = exercise
        self.checker = Checker(exercise, lang)
        self.lang = self.checker.lang
        self.items: list[dict] = []

    @property
    def warned(self) -> list[str]:
        return self.checker.warned

    def _add(self, kind: str, what: str, hint: str | None, **fields: Any) -> None:
        self.items.append({"kind": kind, "what": what, "hint": hint, **fields})

    def call(self, fn: Callable[..., Any], *args: Any, what: str | None = None, **kwargs: Any) -> Any:
        """Call the subject; if it raises, record the learner's message (with their line) and stop."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED + len(self.items))
            try:
                return self.checker.call(fn, *args, what=what, **kwargs)
            except CheckFailed as failed:
                self._add("raised", what or "", None, message=str(failed)[:4000])
                raise Stop from None

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run the subject only for what it leaves behind; an error it raises is no observation."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED + len(self.items))
            self.checker.attempt(fn, *args, **kwargs)

    def equal(self, got: Any, what: str = "", hint: str | None = None) -> None:
        self._add("equal", what, hint, value=encode(got))

    def close(self, got: Any, what: str = "", hint: str | None = None, rtol: float = 1e-5, atol: float = 1e-6,
              hints: tuple[str, ...] = ()) -> None:
        """A tensor or number compared within tolerance; the observation stops if it is neither."""
        self._add("close", what, hint, value=encode(got), rtol=rtol, atol=atol, hints=list(hints))
        if type(got) not in (*TENSOR_TYPES, int, float):
            raise Stop

    def _property(self, kind: str, ok: bool, what: str, hint: str | None, expected: str | None, got: str,
                  **fields: Any) -> None:
        self._add(kind, what, hint, ok=ok, expected=expected, got=got[:2000], **fields)
        if not ok:
            raise Stop

    def _shown(self, got: Any) -> str:
        return got if type(got) is str else short(got) if plain(got) else self.checker._kind_of(got)

    def kind(self, got: Any, *types: type, what: str = "", hint: str | None = None) -> None:
        self._property("check", type(got) in types, what, hint, " or ".join(t.__name__ for t in types),
                       self.checker._kind_of(got))

    def pair(self, got: Any, what: str = "", hint: str | None = None) -> None:
        ok = type(got) in (tuple, list) and len(got) == 2
        self._property("check", ok, what, hint, None, self.checker._kind_of(got), expected_key="a_pair")

    def true(self, condition: Any, what: str, expected: str, got: Any, hint: str | None = None) -> None:
        if type(condition) is torch.Tensor and condition.dtype == torch.bool and condition.numel() == 1:
            condition = bool(condition.item())
        self._property("check", condition is True, what, hint, expected, self._shown(got))

    def raises(self, error: type[BaseException], fn: Callable[..., Any], *args: Any, what: str = "",
               hint: str | None = None) -> None:
        """Whether calling ``fn(*args)`` raises ``error``, and what it did instead."""
        outcome, missing = None, False
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED + len(self.items))
            try:
                with quiet():
                    result = fn(*args)
            except error:
                outcome = ""
            except NotImplementedError:
                outcome, missing = "NotImplementedError", True
            except Exception as other:  # noqa: BLE001 - any other outcome is what the subject did
                outcome = f"{type(other).__name__}: {other}"
            else:
                outcome = messages.text(self.lang, "returned", value=self._shown(result))
        self._property("raises", outcome == "", what, hint, error.__name__, outcome, not_implemented=missing)


# -- helpers ---------------------------------------------------------------------------
def _shapes_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


def _seeded_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """Deterministic weights for every floating-point entry of ``net``'s state, from its name and shape.

    Two networks with the same parameter names and shapes get the same weights, whoever wrote them:
    the observation needs no reference network to copy weights from.
    """
    state = {}
    for name, value in net.state_dict().items():
        if type(value) not in TENSOR_TYPES or not value.is_floating_point():
            state[name] = value
            continue
        shape = tuple(value.shape)
        generator = torch.Generator().manual_seed(zlib.crc32(f"{name}{shape}".encode()))
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else max(shape[0] if shape else 1, 1)
        state[name] = ((torch.rand(shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)).to(value.dtype)
    return state


def _same_architecture(check: Observer, learner_cls: type, size: int) -> None:
    """A network's parameter names and shapes, then its outputs with seeded weights on seeded inputs."""
    net = check.call(learner_cls, what=f"{getattr(learner_cls, '__name__', 'the class')}()")
    check.equal(_shapes_of(net), "parameter names and shapes")
    check.call(net.load_state_dict, _seeded_state(net), what="load_state_dict(seeded weights)")
    for batch in (1, 3):
        x = torch.randn(batch, 1, size, size)
        check.close(check.call(net, x), f"output for a random input of shape {tuple(x.shape)}")


def _loss_cases(check: Observer, learner: Callable) -> None:
    for shape in [(4,), (3, 5), (2, 3, 4), (1, 10)]:
        output = torch.randn(shape, requires_grad=True)
        target = torch.randn(shape)
        got = check.call(learner, output, target)
        check.close(got, f"loss for random tensors of shape {shape}")
        check.true(got.requires_grad, "backpropagating through the loss",
                   "a tensor that autograd can backpropagate through", got, hint="graph")
        check.close(torch.autograd.grad(got, output)[0], "its gradient")
    big = 1000 * torch.randn(6, 3)
    check.close(check.call(learner, big, torch.zeros(6, 3)), "large values")
    for a, b in [((2, 3), (3,)), ((1, 10), (10,)), ((4, 1), (4,)), ((4, 1), (1, 4)), ((2, 3), (3, 2)),
                 ((1, 5), (5, 1)), ((3,), (1,)), ((2, 2, 1), (2, 1, 2))]:
        check.raises(ValueError, learner, torch.zeros(a), torch.zeros(b), what=f"shapes {a} and {b}")


def _entry(got: Any, name: str) -> Any:
    """``got[name]`` for a dict that holds ``name``; None otherwise (the observation then says so)."""
    return dict.get(got, name) if type(got) is dict else None


# -- notebook 1 --------------------------------------------------------------------------
@case
def num_flat_features(check: Observer, learner: Callable) -> None:
    for shape in [(1, 16, 6, 6), (4, 16, 6, 6), (7, 576), (2, 3, 4, 5), (5, 1, 28, 28), (3, 2, 1, 4, 5)]:
        got = check.call(learner, torch.zeros(shape))
        check.equal(got, f"num_flat_features of a tensor of shape {shape}")


@case
def Net(check: Observer, learner: type) -> None:  # noqa: N802 - the exercise is a class
    _same_architecture(check, learner, 32)


@case
def count_parameters(check: Observer, learner: Callable) -> None:
    frozen = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
    frozen[0].weight.requires_grad_(False)
    for module in (Small28(), nn.Linear(7, 2), nn.Conv2d(3, 8, 5), frozen, nn.ReLU()):
        check.equal(check.call(learner, module), f"count_parameters({type(module).__name__})")


@case
def parameter_shapes(check: Observer, learner: Callable) -> None:
    normed = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, bias=False))
    for module in (Small28(), nn.Sequential(nn.Conv2d(3, 4, 2), nn.Flatten(), nn.Linear(4, 1)), nn.ReLU(),
                   normed):
        check.equal(check.call(learner, module), f"parameter_shapes({type(module).__name__})", hint="named")


# -- notebook 2 --------------------------------------------------------------------------
@case
def mse_loss(check: Observer, learner: Callable) -> None:
    _loss_cases(check, learner)


@case
def l1_loss(check: Observer, learner: Callable) -> None:
    _loss_cases(check, learner)


@case
def cross_entropy(check: Observer, learner: Callable) -> None:
    for n, c in [(1, 10), (4, 3), (16, 10), (5, 2)]:
        logits = torch.randn(n, c, requires_grad=True)
        labels = torch.randint(0, c, (n,))
        got = check.call(learner, logits, labels)
        check.close(got, f"random logits [{n}, {c}]")
        check.close(torch.autograd.grad(got, logits)[0], "its gradient")
    for scale in (1000.0, -1000.0):
        logits = scale * torch.randn(8, 5)
        labels = torch.randint(0, 5, (8,))
        check.close(check.call(learner, logits, labels), f"logits of magnitude {abs(scale):g}", hint="not_finite")
    check.raises(ValueError, learner, torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), what="4 logits, 5 labels")
    check.raises(ValueError, learner, torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.long),
                 what="labels of shape (4, 3)")


# -- notebook 3 --------------------------------------------------------------------------
@case
def grad_fn_chain(check: Observer, learner: Callable) -> None:
    net = _Net()
    loss = nn.MSELoss()(net(torch.randn(1, 1, 32, 32)), torch.randn(1, 10))
    w = torch.randn(3, requires_grad=True)
    other = ((w * 2).sin() + 1).sum()
    constant = torch.randn(3)
    graphs = [(loss, "the course's loss"), (other, "((w * 2).sin() + 1).sum()"),
              ((constant * w).sum(), "(c * w).sum() where c needs no gradient (its input is None)"),
              ((constant + w.exp()).mean(), "(c + w.exp()).mean()"), (w.view(3, 1).t().sum(), "w.view(3, 1).t().sum()")]
    for tensor, label in graphs:
        for depth in (0, 1, 2, 3, 6, 50):
            got = check.call(learner, tensor, depth)
            check.equal(list(got) if type(got) is tuple else got, f"grad_fn_chain({label}, {depth})",
                        hint="first_input")
    got = check.call(learner, w, 3)
    check.equal(list(got) if type(got) is tuple else got, "a leaf tensor (no grad_fn)", hint="leaf")


@case
def linear_mse_grads(check: Observer, learner: Callable) -> None:
    for n, i, o in [(1, 3, 1), (4, 5, 2), (8, 16, 10)]:
        x, w, b, y = torch.randn(n, i), torch.randn(o, i), torch.randn(o), torch.randn(n, o)
        got = check.call(learner, x.clone(), w.clone(), b.clone(), y.clone())
        check.pair(got, "the return value: a pair (grad_w, grad_b)", hint="pair")
        check.close(got[0], f"grad_w for x [{n}, {i}], w [{o}, {i}]")
        check.close(got[1], f"grad_b for x [{n}, {i}], w [{o}, {i}]")


@case
def fresh_gradients(check: Observer, learner: Callable) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    names = [name for name, _ in model.named_parameters()]
    x, y = torch.randn(5, 4), torch.randn(5, 2)
    for attempt in ("first call", "second call on the same model"):
        got = check.call(learner, model, x, y, nn.MSELoss())
        check.kind(got, dict, what=f"{attempt}: the return value", hint="names")
        keys = list(dict.__iter__(got))
        check.equal(sorted(keys) if all(type(k) is str for k in keys) else keys, f"{attempt}: parameter names",
                    hint="names")
        for name in names:
            check.close(_entry(got, name), f"{attempt}: gradient of {name}", hint="accumulate")
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)
    got = check.call(learner, model, x, y, nn.MSELoss())
    for name in names:
        check.close(_entry(got, name), f"model holding old gradients: {name}", hint="accumulate")
    # The result belongs to the caller: later passes on the model must not change it.
    other_x, other_y = torch.randn(5, 4), torch.randn(5, 2)
    nn.MSELoss()(model(other_x), other_y).backward()
    check.call(learner, model, other_x, other_y, nn.MSELoss())
    for name in names:
        check.close(_entry(got, name), f"the first result after more passes on the model: {name}", hint="clone")


# -- notebook 4 --------------------------------------------------------------------------
@case
def sgd_step(check: Observer, learner: Callable) -> None:
    for lr in (0.1, 0.01):
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
        model[2].bias.requires_grad_(False)  # a parameter with no gradient stays put
        x, y = torch.randn(6, 4), torch.randn(6, 1)
        nn.MSELoss()(model(x), y).backward()
        before = [p.data_ptr() for p in model.parameters()]
        check.call(learner, model.parameters(), lr)
        for name, p in model.named_parameters():
            check.close(p, f"{name} after one step with lr={lr}")
            check.true(p.grad_fn is None and p.is_leaf, f"{name} after the step",
                       "still a leaf parameter (update under torch.no_grad())", f"grad_fn={p.grad_fn}",
                       hint="no_grad")
        check.equal([p.data_ptr() == ptr for p, ptr in zip(model.parameters(), before)],
                    "the same tensors, updated in place", hint="in_place")


@case
def train_steps(check: Observer, learner: Callable) -> None:
    for steps, stale in [(1, False), (5, False), (4, True)]:
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
        if stale:
            for p in net.parameters():
                p.grad = torch.ones_like(p)
        x, y = torch.randn(10, 3), torch.randn(10, 2)
        got = check.call(learner, net, x, y, nn.MSELoss(), torch.optim.SGD(net.parameters(), lr=0.05), steps)
        label = f"{steps} steps" + (" on a model holding old gradients" if stale else "")
        check.true(type(got) is list and all(type(v) is float for v in got), f"{label}: the return value",
                   "a list of Python floats (loss.item())", got, hint="floats")
        check.close(torch.tensor(got), f"{label}: the losses", hint="zero_grad")
        for name, p in net.named_parameters():
            check.close(p, f"{label}: {name} afterwards", hint="zero_grad")


# -- notebook 5 --------------------------------------------------------------------------
@case
def conv2d_output_size(check: Observer, learner: Callable) -> None:
    for n, k, s, p, d in [(32, 3, 1, 0, 1), (15, 3, 1, 0, 1), (28, 5, 1, 2, 1), (7, 3, 2, 1, 1),
                          (10, 3, 3, 0, 1), (9, 3, 1, 0, 2), (224, 7, 2, 3, 1), (5, 5, 1, 0, 1),
                          (10, 3, 1, 0, 3), (20, 5, 2, 2, 2), (15, 4, 1, 1, 3), (11, 2, 1, 0, 4), (17, 3, 3, 2, 2),
                          (8, 3, 2, 0, 1), (12, 1, 5, 0, 1), (6, 3, 4, 3, 2)]:
        got = check.call(learner, n, k, stride=s, padding=p, dilation=d)
        check.equal(got, f"n={n}, kernel={k}, stride={s}, padding={p}, dilation={d}", hint="floor")
    check.equal(check.call(learner, 32, 3), "defaults: n=32, kernel=3")


@case
def pool2d_output_size(check: Observer, learner: Callable) -> None:
    for n, k, s, p, ceil in [(30, 2, None, 0, False), (13, 2, None, 0, False), (13, 2, None, 0, True),
                             (7, 3, 2, 1, True), (5, 2, 2, 1, True), (6, 3, 3, 1, True), (15, 3, 2, 0, False),
                             (1, 2, None, 1, True), (12, 4, 1, 2, False)]:
        got = check.call(learner, n, k, stride=s, padding=p, ceil_mode=ceil)
        check.equal(got, f"n={n}, kernel={k}, stride={s}, padding={p}, ceil_mode={ceil}", hint="ceil")
    check.equal(check.call(learner, 13, 2), "defaults: n=13, kernel=2")


class Small28(nn.Module):
    """A small network for 28x28 images, built from named submodules (a fixture, not an exercise)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 5)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 5 * 5, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        return self.head(self.pool(F.relu(self.conv2(x))))


@case
def trace_shapes(check: Observer, learner: Callable) -> None:
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5))
    nested = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Flatten(),
                           nn.Sequential(nn.Linear(72, 4), nn.Sequential(nn.Tanh(), nn.Linear(4, 2))))
    for model, shape in [(_Net(), (1, 1, 32, 32)), (_Net(), (4, 1, 32, 32)),
                         (Small28(), (2, 1, 28, 28)), (seq, (2, 3, 8, 8)), (nested, (3, 1, 8, 8))]:
        got = check.call(learner, model, shape)
        check.equal(got, f"{type(model).__name__} on {shape}", hint="leaf_hooks")
        left = [name for name, m in model.named_modules() if m._forward_hooks]
        check.equal(left, "hooks left on the model afterwards", hint="remove_hooks")
    # A forward pass that fails must not leave hooks behind either.
    broken = _Net()
    check.attempt(learner, broken, (1, 1, 28, 28))  # the Net cannot take 28x28; what matters is what is left
    left = [name for name, m in broken.named_modules() if m._forward_hooks]
    check.equal(left, "hooks left after a forward pass that failed (Net on 28x28)", hint="remove_hooks")


@case
def Net28(check: Observer, learner: type) -> None:  # noqa: N802 - the exercise is a class
    _same_architecture(check, learner, 28)


# -- notebook 6 --------------------------------------------------------------------------
def _digit_arrays(n: int, top: int = 16) -> tuple[Any, Any]:
    """n random 8x8 images with whole values 0..top (float64, as load_digits gives) and int64 labels."""
    images = torch.randint(0, top + 1, (n, 8, 8)).to(torch.float64).numpy()
    labels = torch.randint(0, 10, (n,)).numpy()
    return images, labels


def _loader(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.utils.data.DataLoader:
    """Batches in a fixed order; the loader's own generator keeps the global RNG untouched."""
    dataset = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, generator=torch.Generator())


class _Probe(nn.Module):
    """A tiny classifier that records, at each forward pass, whether it was in training mode,
    whether autograd was recording and whether its input had been moved to the device."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.seen: list[tuple[bool, bool]] = []
        self.moved: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled()))
        self.moved.append(type(x) is torch.Tensor)
        return self.fc(torch.flatten(x, 1))


_MOVES = {torch.Tensor.to, torch.Tensor.cpu, torch.Tensor.cuda}


class Unmoved(torch.Tensor):
    """A batch as a loader gives it on the host: moving it (``.to(device)``) makes it a plain tensor.

    On a machine without a GPU, ``x.to(device)`` changes nothing a test could see; this marks
    whether the learner's loop moved each batch, as it must for the notebook's GPU run.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **(kwargs or {}))
            if func in _MOVES:
                return result.as_subclass(torch.Tensor)
        return torch._tensor._convert(result, cls)


def _unmoved_loader(n: int, batch_size: int) -> torch.utils.data.DataLoader:
    x = torch.rand(n, 1, 8, 8).as_subclass(Unmoved)
    y = torch.randint(0, 10, (n,)).as_subclass(Unmoved)
    return _loader(x, y, batch_size)


def _check_moved(check: Observer, probe: _Probe, labels_moved: list[bool], exercise: str) -> None:
    check.true(bool(probe.moved) and all(probe.moved) and all(labels_moved), f"{exercise}: each batch",
               "moved to the device, x.to(device) and y.to(device), before it is used",
               f"moved={probe.moved}, labels moved={labels_moved}", hint="device")




@case
def make_digit_tensors(check: Observer, learner: Callable) -> None:
    from sklearn.datasets import load_digits

    real = load_digits()
    # (what, images, labels, hint if the values differ); values below 16 catch dividing by the maximum
    inputs = [("the first 20 digits of load_digits()", real.images[:20], real.target[:20], "interpolate")]
    for n, top in [(1, 16), (7, 16), (12, 9)]:
        inputs.append((f"{n} random images with values 0..{top}", *_digit_arrays(n, top),
                       "interpolate" if top == 16 else "scale16"))
    for label, images, labels, hint in inputs:
        got = check.call(learner, images.copy(), labels.copy())
        check.pair(got, f"{label}: the return value, a pair (x, y)", hint="pair")
        x, y = got
        check.kind(x, torch.Tensor, what=f"{label}: x", hint="dtypes")
        check.equal(x.dtype, f"{label}: x.dtype", hint="dtypes")
        check.equal(tuple(x.shape), f"{label}: the shape of x", hint="shape")
        check.close(x, f"{label}: the values of x", hint=hint)
        check.kind(y, torch.Tensor, what=f"{label}: y", hint="dtypes")
        check.equal(y.dtype, f"{label}: y.dtype", hint="dtypes")
        check.equal(y.tolist(), f"{label}: the labels y", hint="labels")


@case
def train_one_epoch(check: Observer, learner: Callable) -> None:
    cpu = torch.device("cpu")
    # (model, inputs, batch size, criterion, what is special)
    settings = [
        (_Net, torch.rand(20, 1, 32, 32), 8, nn.CrossEntropyLoss(), "the course's Net, batches of 8, 8 and 4"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), torch.rand(12, 1, 8, 8), 4,
         nn.CrossEntropyLoss(label_smoothing=0.2), "CrossEntropyLoss(label_smoothing=0.2)"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10)),
         torch.rand(24, 1, 8, 8), 6, nn.CrossEntropyLoss(), "a model with dropout, left in eval mode"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), torch.rand(10, 1, 8, 8), 5, nn.CrossEntropyLoss(),
         "a model holding old gradients"),
    ]
    probe, labels_moved = _Probe(), []

    def recording_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        labels_moved.append(type(target) is torch.Tensor)
        return F.cross_entropy(output, target.as_subclass(torch.Tensor))

    check.call(learner, probe, _unmoved_loader(6, 3), recording_loss, torch.optim.SGD(probe.parameters(), lr=0.1), cpu)
    _check_moved(check, probe, labels_moved, "train_one_epoch")
    for build, x, batch_size, criterion, label in settings:
        y = torch.randint(0, 10, (len(x),))
        model = build()
        if "eval mode" in label:
            model.eval()
        if "old gradients" in label:
            for p in model.parameters():
                p.grad = torch.ones_like(p)
        got = check.call(learner, model, _loader(x, y, batch_size), criterion,
                         torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), cpu)
        check.kind(got, float, what=f"{label}: the return value, a Python float (use loss.item())", hint="float")
        check.true(model.training, f"{label}: model.training afterwards", "True", model.training, hint="train_mode")
        for name, p in model.named_parameters():
            check.close(p, f"{label}: {name} after the epoch", hint="step", rtol=1e-4, atol=1e-5)
        check.close(got, f"{label}: the mean loss of the epoch", hint="weighted")


@case
def evaluate(check: Observer, learner: Callable) -> None:
    cpu = torch.device("cpu")
    for n, batch_size, right in [(30, 8, 17), (9, 4, 9), (16, 16, 0), (25, 10, 4)]:
        model = _Net()
        x = torch.rand(n, 1, 32, 32)
        with torch.no_grad():
            predicted = model(x).argmax(dim=1)
        # The first `right` labels agree with the model's prediction, the others differ from it.
        y = torch.cat([predicted[:right], (predicted[right:] + torch.randint(1, 10, (n - right,))) % 10])
        got = check.call(learner, model, _loader(x, y, batch_size), cpu)
        check.kind(got, float, what=f"{n} samples: the return value, a Python float", hint="float")
        check.close(got, f"{n} samples in batches of {batch_size}, {right} predicted right",
                    hint="fraction" if got > 1 else "count", hints=("fraction", "count"))
    probe = _Probe()
    probe.train()
    check.call(learner, probe, _loader(torch.rand(6, 1, 8, 8), torch.randint(0, 10, (6,)), 3), cpu)
    check.true(bool(probe.seen) and not any(training for training, _ in probe.seen),
               "the model's mode during evaluate", "eval mode in every forward pass (model.eval())",
               f"training={[training for training, _ in probe.seen]}", hint="eval")
    check.true(not any(grad for _, grad in probe.seen), "autograd during evaluate",
               "off in every forward pass (torch.no_grad())", f"grad enabled={[grad for _, grad in probe.seen]}",
               hint="no_grad")
    probe = _Probe()
    check.call(learner, probe, _unmoved_loader(6, 4), cpu)
    _check_moved(check, probe, [True], "evaluate")
