"""Hidden tests: compare a learner's exercise with the reference in ``solutions`` on seeded
random inputs and edge cases.

A source notebook's test cell ends with ``hidden.check("mse_loss", mse_loss)`` between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; the student copy never shows it.
The checks look at behaviour only, so a correct solution in any style passes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograde.checks import Checker, quiet
from solutions import backprop, digits, network, shapes, update

CASES: dict[str, Callable[[Checker, Any], None]] = {}


def case(fn: Callable[[Checker, Any], None]) -> Callable[[Checker, Any], None]:
    """Register the hidden cases of the exercise named like the function."""
    CASES[fn.__name__] = fn
    return fn


def check(exercise: str, learner: Any) -> None:
    """Run the hidden cases of ``exercise`` against the learner's object."""
    checker = Checker(exercise)
    torch.manual_seed(20240917)
    CASES[exercise](checker, learner)
    checker.done("hidden_passed")


# -- helpers ---------------------------------------------------------------------------
def _same_architecture(check: Checker, learner_cls: type, reference_cls: type, size: int) -> None:
    """A learner network must have the reference's parameters and compute the same function."""
    net = check.call(learner_cls, what=f"{learner_cls.__name__}()")
    ref = reference_cls()
    check.equal(network.parameter_shapes(net), network.parameter_shapes(ref), "parameter names and shapes")
    check.call(net.load_state_dict, ref.state_dict(), what="load_state_dict(reference weights)")
    for batch in (1, 3):
        x = torch.randn(batch, 1, size, size)
        check.close(check.call(net, x), ref(x), f"output for a random input of shape {tuple(x.shape)}")


def _loss_cases(check: Checker, learner: Callable, builtin: Callable) -> None:
    for shape in [(4,), (3, 5), (2, 3, 4), (1, 10)]:
        output = torch.randn(shape, requires_grad=True)
        target = torch.randn(shape)
        got = check.call(learner, output, target)
        check.close(got, builtin(output, target), f"loss for random tensors of shape {shape}")
        check.true(got.requires_grad, "backpropagating through the loss",
                   "a tensor that autograd can backpropagate through", got, hint="graph")
        grad = torch.autograd.grad(got, output)[0]
        check.close(grad, torch.autograd.grad(builtin(output, target), output)[0], "its gradient")
    big = 1000 * torch.randn(6, 3)
    check.close(check.call(learner, big, torch.zeros(6, 3)), builtin(big, torch.zeros(6, 3)), "large values")
    for a, b in [((2, 3), (3,)), ((1, 10), (10,)), ((4, 1), (4,)), ((4, 1), (1, 4)), ((2, 3), (3, 2)),
                 ((1, 5), (5, 1)), ((3,), (1,)), ((2, 2, 1), (2, 1, 2))]:
        check.raises(ValueError, learner, torch.zeros(a), torch.zeros(b), what=f"shapes {a} and {b}")


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


# -- notebook 1 --------------------------------------------------------------------------
@case
def num_flat_features(check: Checker, learner: Callable) -> None:
    for shape in [(1, 16, 6, 6), (4, 16, 6, 6), (7, 576), (2, 3, 4, 5), (5, 1, 28, 28), (3, 2, 1, 4, 5)]:
        x = torch.zeros(shape)
        got = check.call(learner, x)
        check.equal(got, network.num_flat_features(x), f"num_flat_features of a tensor of shape {shape}")


@case
def Net(check: Checker, learner: type) -> None:  # noqa: N802 - the exercise is a class
    _same_architecture(check, learner, network.Net, 32)


@case
def count_parameters(check: Checker, learner: Callable) -> None:
    frozen = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
    frozen[0].weight.requires_grad_(False)
    for module in (network.Net(), nn.Linear(7, 2), nn.Conv2d(3, 8, 5), frozen, nn.ReLU()):
        got = check.call(learner, module)
        check.equal(got, network.count_parameters(module), f"count_parameters({type(module).__name__})")


@case
def parameter_shapes(check: Checker, learner: Callable) -> None:
    normed = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, bias=False))
    for module in (network.Net(), nn.Sequential(nn.Conv2d(3, 4, 2), nn.Flatten(), nn.Linear(4, 1)), nn.ReLU(),
                   normed):
        got = check.call(learner, module)
        check.equal(got, network.parameter_shapes(module), f"parameter_shapes({type(module).__name__})",
                    hint="named")


# -- notebook 2 --------------------------------------------------------------------------
@case
def mse_loss(check: Checker, learner: Callable) -> None:
    _loss_cases(check, learner, F.mse_loss)


@case
def l1_loss(check: Checker, learner: Callable) -> None:
    _loss_cases(check, learner, F.l1_loss)


@case
def cross_entropy(check: Checker, learner: Callable) -> None:
    for n, c in [(1, 10), (4, 3), (16, 10), (5, 2)]:
        logits = torch.randn(n, c, requires_grad=True)
        labels = torch.randint(0, c, (n,))
        got = check.call(learner, logits, labels)
        check.close(got, F.cross_entropy(logits, labels), f"random logits [{n}, {c}]")
        grad = torch.autograd.grad(got, logits)[0]
        check.close(grad, torch.autograd.grad(F.cross_entropy(logits, labels), logits)[0], "its gradient")
    for scale in (1000.0, -1000.0):
        logits = scale * torch.randn(8, 5)
        labels = torch.randint(0, 5, (8,))
        check.close(check.call(learner, logits, labels), F.cross_entropy(logits, labels),
                    f"logits of magnitude {abs(scale):g}", hint="not_finite")
    check.raises(ValueError, learner, torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), what="4 logits, 5 labels")
    check.raises(ValueError, learner, torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.long),
                 what="labels of shape (4, 3)")


# -- notebook 3 --------------------------------------------------------------------------
@case
def grad_fn_chain(check: Checker, learner: Callable) -> None:
    net = network.Net()
    loss = nn.MSELoss()(net(torch.randn(1, 1, 32, 32)), torch.randn(1, 10))
    w = torch.randn(3, requires_grad=True)
    other = ((w * 2).sin() + 1).sum()
    constant = torch.randn(3)
    graphs = [(loss, "the seed's loss"), (other, "((w * 2).sin() + 1).sum()"),
              ((constant * w).sum(), "(c * w).sum() where c needs no gradient (its input is None)"),
              ((constant + w.exp()).mean(), "(c + w.exp()).mean()"), (w.view(3, 1).t().sum(), "w.view(3, 1).t().sum()")]
    for tensor, label in graphs:
        for depth in (0, 1, 2, 3, 6, 50):
            got = check.call(learner, tensor, depth)
            check.equal(list(got) if type(got) is tuple else got, backprop.grad_fn_chain(tensor, depth),
                        f"grad_fn_chain({label}, {depth})", hint="first_input")
    got = check.call(learner, w, 3)
    check.equal(list(got) if type(got) is tuple else got, [], "a leaf tensor (no grad_fn)", hint="leaf")


@case
def linear_mse_grads(check: Checker, learner: Callable) -> None:
    for n, i, o in [(1, 3, 1), (4, 5, 2), (8, 16, 10)]:
        x, w, b, y = torch.randn(n, i), torch.randn(o, i), torch.randn(o), torch.randn(n, o)
        got = check.call(learner, x.clone(), w.clone(), b.clone(), y.clone())
        expected = backprop.linear_mse_grads(x, w, b, y)
        check.pair(got, "the return value: a pair (grad_w, grad_b)", hint="pair")
        check.close(got[0], expected[0], f"grad_w for x [{n}, {i}], w [{o}, {i}]")
        check.close(got[1], expected[1], f"grad_b for x [{n}, {i}], w [{o}, {i}]")


@case
def fresh_gradients(check: Checker, learner: Callable) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x, y = torch.randn(5, 4), torch.randn(5, 2)
    expected = backprop.fresh_gradients(copy.deepcopy(model), x, y, nn.MSELoss())
    for attempt in ("first call", "second call on the same model"):
        got = check.call(learner, model, x, y, nn.MSELoss())
        check.kind(got, dict, what=f"{attempt}: the return value", hint="names")
        names = list(got)
        check.equal(sorted(names) if all(type(k) is str for k in names) else names, sorted(expected),
                    f"{attempt}: parameter names", hint="names")
        for name in expected:
            check.close(got[name], expected[name], f"{attempt}: gradient of {name}", hint="accumulate")
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)
    got = check.call(learner, model, x, y, nn.MSELoss())
    for name in expected:
        check.close(got[name], expected[name], f"model holding old gradients: {name}", hint="accumulate")
    # The result belongs to the caller: later passes on the model must not change it.
    other_x, other_y = torch.randn(5, 4), torch.randn(5, 2)
    nn.MSELoss()(model(other_x), other_y).backward()
    check.call(learner, model, other_x, other_y, nn.MSELoss())
    for name in expected:
        check.close(got[name], expected[name], f"the first result after more passes on the model: {name}",
                    hint="clone")


# -- notebook 4 --------------------------------------------------------------------------
@case
def sgd_step(check: Checker, learner: Callable) -> None:
    for lr in (0.1, 0.01):
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
        model[2].bias.requires_grad_(False)  # a parameter with no gradient stays put
        ref = copy.deepcopy(model)
        x, y = torch.randn(6, 4), torch.randn(6, 1)
        for m in (model, ref):
            nn.MSELoss()(m(x), y).backward()
        torch.optim.SGD([p for p in ref.parameters() if p.requires_grad], lr=lr).step()
        before = [p.data_ptr() for p in model.parameters()]
        check.call(learner, model.parameters(), lr)
        for (name, p), r in zip(model.named_parameters(), ref.parameters()):
            check.close(p, r, f"{name} after one step with lr={lr}")
            check.true(p.grad_fn is None and p.is_leaf, f"{name} after the step",
                       "still a leaf parameter (update under torch.no_grad())", f"grad_fn={p.grad_fn}",
                       hint="no_grad")
        check.equal([p.data_ptr() for p in model.parameters()], before, "the same tensors, updated in place",
                    hint="in_place")


@case
def train_steps(check: Checker, learner: Callable) -> None:
    for steps, stale in [(1, False), (5, False), (4, True)]:
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
        if stale:
            for p in net.parameters():
                p.grad = torch.ones_like(p)
        ref = copy.deepcopy(net)
        x, y = torch.randn(10, 3), torch.randn(10, 2)
        got = check.call(learner, net, x, y, nn.MSELoss(), torch.optim.SGD(net.parameters(), lr=0.05), steps)
        expected = update.train_steps(ref, x, y, nn.MSELoss(), torch.optim.SGD(ref.parameters(), lr=0.05), steps)
        label = f"{steps} steps" + (" on a model holding old gradients" if stale else "")
        check.true(type(got) is list and all(type(v) is float for v in got), f"{label}: the return value",
                   "a list of Python floats (loss.item())", got, hint="floats")
        check.close(torch.tensor(got), torch.tensor(expected), f"{label}: the losses", hint="zero_grad")
        for (name, p), r in zip(net.named_parameters(), ref.parameters()):
            check.close(p, r, f"{label}: {name} afterwards", hint="zero_grad")


# -- notebook 5 --------------------------------------------------------------------------
@case
def conv2d_output_size(check: Checker, learner: Callable) -> None:
    for n, k, s, p, d in [(32, 3, 1, 0, 1), (15, 3, 1, 0, 1), (28, 5, 1, 2, 1), (7, 3, 2, 1, 1),
                          (10, 3, 3, 0, 1), (9, 3, 1, 0, 2), (224, 7, 2, 3, 1), (5, 5, 1, 0, 1),
                          (10, 3, 1, 0, 3), (20, 5, 2, 2, 2), (15, 4, 1, 1, 3), (11, 2, 1, 0, 4), (17, 3, 3, 2, 2),
                          (8, 3, 2, 0, 1), (12, 1, 5, 0, 1), (6, 3, 4, 3, 2)]:
        got = check.call(learner, n, k, stride=s, padding=p, dilation=d)
        check.equal(got, shapes.conv2d_output_size(n, k, s, p, d), f"n={n}, kernel={k}, stride={s}, "
                    f"padding={p}, dilation={d}", hint="floor")
    check.equal(check.call(learner, 32, 3), 30, "defaults: n=32, kernel=3")


@case
def pool2d_output_size(check: Checker, learner: Callable) -> None:
    for n, k, s, p, ceil in [(30, 2, None, 0, False), (13, 2, None, 0, False), (13, 2, None, 0, True),
                             (7, 3, 2, 1, True), (5, 2, 2, 1, True), (6, 3, 3, 1, True), (15, 3, 2, 0, False),
                             (1, 2, None, 1, True), (12, 4, 1, 2, False)]:
        got = check.call(learner, n, k, stride=s, padding=p, ceil_mode=ceil)
        check.equal(got, shapes.pool2d_output_size(n, k, s, p, ceil), f"n={n}, kernel={k}, stride={s}, "
                    f"padding={p}, ceil_mode={ceil}", hint="ceil")
    check.equal(check.call(learner, 13, 2), 6, "defaults: n=13, kernel=2")


@case
def trace_shapes(check: Checker, learner: Callable) -> None:
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5))
    nested = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), nn.Flatten(),
                           nn.Sequential(nn.Linear(72, 4), nn.Sequential(nn.Tanh(), nn.Linear(4, 2))))
    for model, shape in [(network.Net(), (1, 1, 32, 32)), (network.Net(), (4, 1, 32, 32)),
                         (shapes.Net28(), (2, 1, 28, 28)), (seq, (2, 3, 8, 8)), (nested, (3, 1, 8, 8))]:
        got = check.call(learner, model, shape)
        check.equal(got, shapes.trace_shapes(model, shape), f"{type(model).__name__} on {shape}", hint="leaf_hooks")
        left = [name for name, m in model.named_modules() if m._forward_hooks]
        check.equal(left, [], "hooks left on the model afterwards", hint="remove_hooks")
    # A forward pass that fails must not leave hooks behind either.
    broken = network.Net()
    try:
        with quiet():
            learner(broken, (1, 1, 28, 28))
    except Exception:  # noqa: BLE001, S110 - the Net cannot take 28x28; what matters is what is left
        pass
    left = [name for name, m in broken.named_modules() if m._forward_hooks]
    check.equal(left, [], "hooks left after a forward pass that failed (Net on 28x28)", hint="remove_hooks")


@case
def Net28(check: Checker, learner: type) -> None:  # noqa: N802 - the exercise is a class
    _same_architecture(check, learner, shapes.Net28, 28)


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


def _check_moved(check: Checker, probe: _Probe, labels_moved: list[bool], exercise: str) -> None:
    check.true(bool(probe.moved) and all(probe.moved) and all(labels_moved), f"{exercise}: each batch",
               "moved to the device, x.to(device) and y.to(device), before it is used",
               f"moved={probe.moved}, labels moved={labels_moved}", hint="device")


@case
def make_digit_tensors(check: Checker, learner: Callable) -> None:
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
        expected_x, expected_y = digits.make_digit_tensors(images, labels)
        check.kind(x, torch.Tensor, what=f"{label}: x", hint="dtypes")
        check.equal(x.dtype, torch.float32, f"{label}: x.dtype", hint="dtypes")
        check.equal(tuple(x.shape), tuple(expected_x.shape), f"{label}: the shape of x", hint="shape")
        check.close(x, expected_x, f"{label}: the values of x", hint=hint)
        check.kind(y, torch.Tensor, what=f"{label}: y", hint="dtypes")
        check.equal(y.dtype, torch.int64, f"{label}: y.dtype", hint="dtypes")
        check.equal(y.tolist(), expected_y.tolist(), f"{label}: the labels y", hint="labels")


@case
def train_one_epoch(check: Checker, learner: Callable) -> None:
    cpu = torch.device("cpu")
    # (model, inputs, batch size, criterion, what is special)
    settings = [
        (network.Net, torch.rand(20, 1, 32, 32), 8, nn.CrossEntropyLoss(), "the seed's Net, batches of 8, 8 and 4"),
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
        ref = copy.deepcopy(model)
        seed = int(torch.randint(0, 2**31, ()))
        torch.manual_seed(seed)
        got = check.call(learner, model, _loader(x, y, batch_size), criterion,
                         torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), cpu)
        torch.manual_seed(seed)
        expected = digits.train_one_epoch(ref, _loader(x, y, batch_size), criterion,
                                          torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9), cpu)
        check.kind(got, float, what=f"{label}: the return value, a Python float (use loss.item())", hint="float")
        check.true(model.training, f"{label}: model.training afterwards", "True", model.training, hint="train_mode")
        for (name, p), r in zip(model.named_parameters(), ref.parameters()):
            check.close(p, r, f"{label}: {name} after the epoch", hint="step", rtol=1e-4, atol=1e-5)
        check.close(got, expected, f"{label}: the mean loss of the epoch", hint="weighted")


@case
def evaluate(check: Checker, learner: Callable) -> None:
    cpu = torch.device("cpu")
    for n, batch_size, right in [(30, 8, 17), (9, 4, 9), (16, 16, 0), (25, 10, 4)]:
        model = network.Net()
        x = torch.rand(n, 1, 32, 32)
        with torch.no_grad():
            predicted = model(x).argmax(dim=1)
        # The first `right` labels agree with the model's prediction, the others differ from it.
        y = torch.cat([predicted[:right], (predicted[right:] + torch.randint(1, 10, (n - right,))) % 10])
        got = check.call(learner, model, _loader(x, y, batch_size), cpu)
        expected = digits.evaluate(model, _loader(x, y, batch_size), cpu)
        check.kind(got, float, what=f"{n} samples: the return value, a Python float", hint="float")
        check.close(got, expected, f"{n} samples in batches of {batch_size}, {right} predicted right",
                    hint="fraction" if got > 1 else "count")
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
