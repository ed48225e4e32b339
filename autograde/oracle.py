"""Does a learner's exercise behave exactly like the reference? A much stronger judge than the
hidden tests, used to decide whether a mutant that no test caught is *equivalent*.

For each exercise, :data:`INPUTS` builds many inputs: seeded random ones of many shapes and
sizes, and the edge cases (zero-size dimensions, frozen parameters, buffers, nested containers,
graphs with ``None`` inputs, every small convolution and pooling setting PyTorch accepts...).
Both functions are called on identical fresh copies; what they return, what they raise, and what
they leave in their arguments (parameters, gradients, training mode, hooks, optimizer state)
must agree.
"""

from __future__ import annotations

import itertools
import math
import random
import signal
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from solutions import backprop, digits, losses, network, shapes, update

Case = Callable[[], tuple]  # builds fresh arguments (seeded inside)
RTOL, ATOL = 1e-4, 1e-6


def _seeded(seed: int, build: Callable[[], tuple]) -> Case:
    def case() -> tuple:
        torch.manual_seed(seed)
        return build()

    return case


# -- comparing what came back and what was left behind ----------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if type(a) is not type(b) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.requires_grad != b.requires_grad:
            return False
        x, y = a.detach().double(), b.detach().double()
        return bool(((x - y).abs() <= ATOL + RTOL * y.abs()).all() | (x.isnan() & y.isnan()).all())
    if {type(a), type(b)} <= {tuple, torch.Size} or (  # a shape, or a pair of tensors as a list
            {type(a), type(b)} <= {tuple, list} and all(isinstance(v, torch.Tensor) for v in (*a, *b))):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, nn.Module):
        return _state(a) == _state(b) or _same(_state(a), _state(b))
    return a == b


def _state(arg: Any) -> Any:
    """What an argument holds after the call, as comparable values."""
    if isinstance(arg, nn.Module):
        return {
            "params": {n: p.detach().clone() for n, p in arg.named_parameters()},
            "buffers": {n: b.clone() for n, b in arg.named_buffers()},
            "training": [m.training for m in arg.modules()],
            "hooks": [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in arg.modules()],
        }
    if isinstance(arg, torch.optim.Optimizer):
        return [[p.detach().clone() for p in group["params"]] for group in arg.param_groups]
    if isinstance(arg, torch.Tensor):
        return arg.detach().clone()
    return None


class Watch:
    """An object a case does not pass to the function but whose state is compared afterwards."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _outcome(fn: Callable, case: tuple) -> tuple:
    """What calling ``fn`` on the case did: its error, its result, the state of its arguments, and
    what each forward pass of a model argument saw (training mode, autograd, a batch moved to
    the device), and which returned tensors are the model's own parameters or gradients."""
    args = tuple(a for a in case if not isinstance(a, Watch))
    watched = [a.obj for a in case if isinstance(a, Watch)]
    seen: list[tuple] = []
    storage = [p.data_ptr() for a in (*args, *watched) if isinstance(a, nn.Module) for p in a.parameters()]
    handles = [a.register_forward_pre_hook(lambda m, inputs: seen.append(
        (m.training, torch.is_grad_enabled(), all(type(i) is torch.Tensor for i in inputs))))
        for a in args if isinstance(a, nn.Module)]
    try:
        result = fn(*args)
        error = None
    except Exception as e:  # noqa: BLE001 - raising is part of the behaviour compared
        result, error = None, type(e)
    finally:
        for handle in handles:
            handle.remove()
    owned = {t.data_ptr() for a in (*args, *watched) if isinstance(a, nn.Module)
             for p in a.parameters() for t in (p, p.grad) if t is not None}
    aliases = [t.data_ptr() in owned for t in _tensors(result)]
    if isinstance(result, nn.Module):
        result = _state(result)
    kept = storage == [p.data_ptr() for a in (*args, *watched) if isinstance(a, nn.Module) for p in a.parameters()]
    return error, result, [_state(a) for a in (*args, *watched)], seen, aliases, kept


def _timed(fn: Callable, args: tuple, seconds: int = 10) -> tuple:
    def stop(signum, frame):
        raise TimeoutError("the oracle's call ran too long")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        return _outcome(fn, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def differs(exercise: str, learner: Callable) -> str | None:
    """The first input on which ``learner`` and the reference disagree, described; None if none."""
    import warnings

    reference = REFERENCES[exercise]
    modes = exercise in ("train_one_epoch", "evaluate")  # the exercises whose contract names the modes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, case in enumerate(INPUTS[exercise]()):
            rng = torch.get_rng_state()
            expected = _timed(reference, case())
            torch.set_rng_state(rng)
            try:
                got = _timed(learner, case())
            except TimeoutError:
                return f"input {number}: ran too long"
            if expected[0] is not got[0]:
                return f"input {number}: raised {got[0]} where the reference raised {expected[0]}"
            if expected[0] is None and not _same(got[1], expected[1]):
                return f"input {number}: returned something else"
            if exercise == "evaluate":  # it may leave eval mode on or put back the mode the model had
                before = _state(case()[0])["training"]
                if got[2][0]["training"] not in (before, [False] * len(before)):
                    return f"input {number}: left the model in another mode"
                got[2][0]["training"] = expected[2][0]["training"]
            if not all(_same(g, e) for g, e in zip(got[2], expected[2])):
                return f"input {number}: left its arguments in another state"
            if modes and got[3] != expected[3]:
                return f"input {number}: the model ran in another mode (training, autograd, device): {got[3]}"
            if got[4] != expected[4]:
                return f"input {number}: returned the model's own tensors, not copies"
            if got[5] != expected[5]:
                return f"input {number}: replaced the parameters' storage instead of updating it in place"
    return None


# -- inputs per exercise ------------------------------------------------------------------------
def _shapes(rng: random.Random, count: int, max_rank: int = 4, max_size: int = 5) -> Iterator[tuple[int, ...]]:
    for _ in range(count):
        yield tuple(rng.randint(0 if rng.random() < 0.1 else 1, max_size) for _ in range(rng.randint(1, max_rank)))


def _modules() -> list[Callable[[], nn.Module]]:
    def frozen():
        m = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
        m[0].weight.requires_grad_(False)
        return m

    def shared():
        layer = nn.Linear(4, 4)
        return nn.Sequential(layer, nn.Tanh(), layer)

    return [network.Net, shapes.Net28, lambda: nn.Linear(7, 2), lambda: nn.Conv2d(3, 8, 5), frozen, nn.ReLU,
            lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1, bias=False)),
            shared, lambda: nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Sequential(nn.Linear(2, 3))}),
            lambda: nn.LSTM(3, 4), lambda: nn.Embedding(10, 3), lambda: nn.LayerNorm(6)]


def _flat_inputs() -> Iterator[Case]:
    rng = random.Random(1)
    for shape in itertools.chain([(1, 16, 6, 6), (3, 0, 2), (1,), (7,)], _shapes(rng, 60, 5, 6)):
        if shape[0] > 0 and len(shape) > 1:  # a batch of at least one sample of at least one dimension
            yield lambda shape=shape: (torch.zeros(shape),)


def _module_inputs() -> Iterator[Case]:
    for seed, build in enumerate(_modules()):
        yield _seeded(seed, lambda build=build: (build(),))


def _loss_inputs(classes: bool = False) -> Iterator[Case]:
    rng = random.Random(2)
    if classes:
        for n, c in [(1, 1), (1, 10), (4, 3), (16, 10), (5, 2), (3, 7), (64, 4)]:
            for scale in (1.0, 0.01, 100.0, 1000.0, -1000.0):
                yield _seeded(n * c, lambda n=n, c=c, scale=scale: (
                    (scale * torch.randn(n, c)).requires_grad_(), torch.randint(0, c, (n,))))
        for logits, labels in [((4, 3), (5,)), ((4, 3), (4, 3)), ((4,), (4,)), ((2, 3, 4), (2,)), ((4, 3), (4, 1)),
                               ((4, 3), ())]:
            yield lambda logits=logits, labels=labels: (torch.zeros(logits), torch.zeros(labels, dtype=torch.long))
        return
    for shape in itertools.chain([(4,), (3, 5), (2, 3, 4), (1, 10), (1,), (6, 1), (2, 1, 3)], _shapes(rng, 25)):
        for scale in (1.0, 1000.0, 1e-3):
            if 0 in shape:
                continue
            yield _seeded(len(shape), lambda shape=shape, scale=scale: (
                (scale * torch.randn(shape)).requires_grad_(), scale * torch.randn(shape)))
    for a, b in [((2, 3), (3,)), ((1, 10), (10,)), ((4, 1), (4,)), ((4, 1), (1, 4)), ((2, 3), (3, 2)), ((3,), (1,)),
                 ((1,), (3,)), ((2, 2, 1), (2, 1, 2)), ((5,), (5, 1)), ((), (1,))]:
        yield lambda a=a, b=b: (torch.zeros(a), torch.zeros(b))


def _graph(index: int) -> torch.Tensor:
    w = torch.randn(3, requires_grad=True)
    c = torch.randn(3)
    graphs = [
        lambda: nn.MSELoss()(network.Net()(torch.randn(2, 1, 32, 32)), torch.randn(2, 10)),
        lambda: ((w * 2).sin() + 1).sum(), lambda: (c * w).sum(), lambda: (w * c).sum(),
        lambda: (c + w.exp()).mean(), lambda: w.view(3, 1).t().sum(), lambda: torch.stack([w, c]).sum(),
        lambda: (c @ w) * 2, lambda: F.cross_entropy(w.unsqueeze(0), torch.tensor([1])), lambda: w, lambda: c,
        lambda: torch.cat([c, w]).relu().max(),
    ]
    return graphs[index]()


def _graph_inputs() -> Iterator[Case]:
    for index in range(12):
        for depth in (0, 1, 2, 3, 4, 7, 100):
            yield _seeded(index, lambda index=index, depth=depth: (_graph(index), depth))


def _linear_inputs() -> Iterator[Case]:
    for n, i, o in [(1, 1, 1), (1, 3, 1), (4, 5, 2), (8, 16, 10), (3, 2, 5), (10, 1, 3), (2, 7, 7)]:
        yield _seeded(n * i * o, lambda n=n, i=i, o=o: (torch.randn(n, i), torch.randn(o, i), torch.randn(o),
                                                       torch.randn(n, o)))


def _small_model(seed: int, old_grads: bool = False, frozen: bool = False, dropout: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(4, 6), nn.ReLU()] + ([nn.Dropout(0.5)] if dropout else []) + [nn.Linear(6, 3)]
    model = nn.Sequential(*layers)
    if frozen:
        model[0].bias.requires_grad_(False)
    if old_grads:
        for p in model.parameters():
            p.grad = torch.full_like(p, 3.0) if p.requires_grad else None
    return model


def _fresh_inputs() -> Iterator[Case]:
    for seed in range(12):
        yield _seeded(seed, lambda seed=seed: (_small_model(seed, old_grads=seed % 2 == 1),
                                               torch.randn(5, 4), torch.randn(5, 3), nn.MSELoss()))


def _sgd_inputs() -> Iterator[Case]:
    def ready(seed: int, lr: float, as_list: bool) -> tuple:
        model = _small_model(seed, frozen=seed % 2 == 0)
        nn.MSELoss()(model(torch.randn(5, 4)), torch.randn(5, 3)).backward()
        params = list(model.parameters()) if as_list else model.parameters()
        return params, lr, Watch(model)

    for seed, lr in itertools.product(range(4), (0.1, 0.01, 1.0, 0.0)):
        yield _seeded(seed, lambda seed=seed, lr=lr: ready(seed, lr, seed % 2 == 1))


def _train_steps_inputs() -> Iterator[Case]:
    for seed, steps in itertools.product(range(3), (0, 1, 2, 5)):
        def build(seed=seed, steps=steps):
            model = _small_model(seed, old_grads=seed == 1)
            return model, torch.randn(6, 4), torch.randn(6, 3), nn.MSELoss(), torch.optim.SGD(
                model.parameters(), lr=0.05, momentum=0.5 if seed == 2 else 0.0), steps
        yield _seeded(seed, build)


def _size_inputs(pool: bool) -> Iterator[Case]:
    if pool:
        for n, k, s, p, ceil in itertools.product(range(1, 15), range(1, 5), (None, 1, 2, 3), range(0, 3),
                                                  (False, True)):
            if p <= k // 2 and n + 2 * p >= k:
                yield lambda n=n, k=k, s=s, p=p, ceil=ceil: (n, k, s, p, ceil)
        return
    for n, k, s, p, d in itertools.product(range(1, 14), range(1, 6), range(1, 4), range(0, 3), range(1, 4)):
        if n + 2 * p >= d * (k - 1) + 1:
            yield lambda n=n, k=k, s=s, p=p, d=d: (n, k, s, p, d)


def _trace_inputs() -> Iterator[Case]:
    models = [
        (network.Net, (1, 1, 32, 32)), (network.Net, (3, 1, 32, 32)), (shapes.Net28, (2, 1, 28, 28)),
        (lambda: nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Flatten(),
                               nn.Sequential(nn.Linear(72, 4), nn.Sequential(nn.Tanh(), nn.Linear(4, 2)))),
         (3, 1, 8, 8)),
        (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(64, 5)), (2, 3, 8, 8)),
        (network.Net, (1, 1, 28, 28)), (lambda: nn.Linear(3, 2), (4, 3)), (nn.Identity, (2, 2)),
    ]
    for seed, (build, shape) in enumerate(models):
        yield _seeded(seed, lambda build=build, shape=shape: (build(), shape))


def _digit_inputs() -> Iterator[Case]:
    for seed, (n, top) in enumerate([(1, 16), (5, 16), (12, 9), (3, 0), (20, 16)]):
        def build(n=n, top=top):
            images = torch.randint(0, top + 1, (n, 8, 8)).double().numpy()
            return images, torch.randint(0, 10, (n,)).numpy()
        yield _seeded(seed, build)


def _loader(n: int, batch: int, size: int = 8):
    from autograde.hidden import Unmoved

    x = torch.rand(n, 1, size, size).as_subclass(Unmoved)
    dataset = torch.utils.data.TensorDataset(x, torch.randint(0, 10, (n,)).as_subclass(Unmoved))
    return torch.utils.data.DataLoader(dataset, batch_size=batch, generator=torch.Generator())


def _classifier(seed: int, dropout: bool, eval_mode: bool, old_grads: bool) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Flatten(), nn.Linear(64, 16), nn.ReLU()] + ([nn.Dropout(0.5)] if dropout else []) + [nn.Linear(16, 10)]
    model = nn.Sequential(*layers)
    if eval_mode:
        model.eval()
    if old_grads:
        for p in model.parameters():
            p.grad = torch.ones_like(p)
    return model


def _epoch_inputs() -> Iterator[Case]:
    cpu = torch.device("cpu")
    for seed, (n, batch) in enumerate([(12, 4), (10, 3), (7, 7), (9, 2), (16, 5)]):
        def build(seed=seed, n=n, batch=batch):
            model = _classifier(seed, dropout=seed % 2 == 0, eval_mode=seed % 3 == 0, old_grads=seed == 1)
            criterion = nn.CrossEntropyLoss(label_smoothing=0.1 if seed == 2 else 0.0)
            return model, _loader(n, batch), criterion, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), cpu
        yield _seeded(seed, build)


def _evaluate_inputs() -> Iterator[Case]:
    cpu = torch.device("cpu")
    for seed, (n, batch) in enumerate([(12, 4), (10, 3), (7, 7), (9, 2), (30, 8), (1, 1)]):
        yield _seeded(seed, lambda seed=seed, n=n, batch=batch: (
            _classifier(seed, dropout=True, eval_mode=seed % 2 == 0, old_grads=False), _loader(n, batch), cpu))


REFERENCES: dict[str, Callable] = {
    "num_flat_features": network.num_flat_features, "count_parameters": network.count_parameters,
    "parameter_shapes": network.parameter_shapes, "mse_loss": losses.mse_loss, "l1_loss": losses.l1_loss,
    "cross_entropy": losses.cross_entropy, "grad_fn_chain": backprop.grad_fn_chain,
    "linear_mse_grads": backprop.linear_mse_grads, "fresh_gradients": backprop.fresh_gradients,
    "sgd_step": update.sgd_step, "train_steps": update.train_steps,
    "conv2d_output_size": shapes.conv2d_output_size, "pool2d_output_size": shapes.pool2d_output_size,
    "trace_shapes": shapes.trace_shapes, "make_digit_tensors": digits.make_digit_tensors,
    "train_one_epoch": digits.train_one_epoch, "evaluate": digits.evaluate,
}

INPUTS: dict[str, Callable[[], Iterator[Case]]] = {
    "num_flat_features": _flat_inputs, "count_parameters": _module_inputs, "parameter_shapes": _module_inputs,
    "mse_loss": _loss_inputs, "l1_loss": _loss_inputs, "cross_entropy": lambda: _loss_inputs(classes=True),
    "grad_fn_chain": _graph_inputs, "linear_mse_grads": _linear_inputs, "fresh_gradients": _fresh_inputs,
    "sgd_step": _sgd_inputs, "train_steps": _train_steps_inputs,
    "conv2d_output_size": lambda: _size_inputs(pool=False), "pool2d_output_size": lambda: _size_inputs(pool=True),
    "trace_shapes": _trace_inputs, "make_digit_tensors": _digit_inputs, "train_one_epoch": _epoch_inputs,
    "evaluate": _evaluate_inputs,
}


# -- the two networks: compare architectures and the function they compute ---------------------
def _network_differs(learner: type, reference: type, size: int) -> str | None:
    try:
        net, ref = learner(), reference()
        if network.parameter_shapes(net) != network.parameter_shapes(ref):
            return "other parameters"
        net.load_state_dict(ref.state_dict())
    except Exception as e:  # noqa: BLE001
        return f"could not be built or loaded: {type(e).__name__}"
    torch.manual_seed(5)
    for batch in (1, 2, 7):
        for scale in (1.0, 10.0):
            x = scale * torch.randn(batch, 1, size, size)
            try:
                got = net(x)
            except Exception as e:  # noqa: BLE001
                return f"forward raised {type(e).__name__}"
            if not _same(got.detach(), ref(x).detach()):
                return f"another output for a batch of {batch}"
    return None


def differs_any(exercise: str, learner: Any) -> str | None:
    """:func:`differs`, also for the two network classes."""
    if exercise == "Net":
        return _network_differs(learner, network.Net, 32)
    if exercise == "Net28":
        return _network_differs(learner, shapes.Net28, 28)
    return differs(exercise, learner)
