"""Do the hidden tests give full marks to every correct solution, whatever its style, and
catch the mistakes learners really make?"""

import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from forged import AlwaysEqual, EqualInt, EqualTensor

from autograde import hidden
from autograde.checks import CheckFailed
from solutions import backprop, losses, network, shapes, update

REFERENCES = {
    name: getattr(module, name)
    for module in (network, losses, backprop, update, shapes)
    for name in dir(module)
    if name in hidden.CASES
}


def passes(exercise, learner):
    hidden.check(exercise, learner)
    return True


def fails(exercise, learner):
    with pytest.raises(CheckFailed) as info:
        hidden.check(exercise, learner)
    message = str(info.value)
    assert message.startswith(f"✗ {exercise}:"), message
    if " raised " in message.splitlines()[0]:  # the learner's code raised: the call and the error say what happened
        assert "calling " in message and "hint:" in message, message
    else:
        assert "expected:" in message and "got:" in message and "hint:" in message, message
    return message


@pytest.mark.parametrize("exercise", sorted(REFERENCES))
def test_does_the_reference_pass_its_own_hidden_tests(exercise):
    assert passes(exercise, REFERENCES[exercise])


@pytest.mark.parametrize("exercise", sorted(REFERENCES))
def test_does_the_untouched_stub_fail_with_a_friendly_message(exercise):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    message = fails(exercise, stub)
    assert "NotImplementedError" in message and "raise NotImplementedError()" in message


# -- correct solutions in another style get full marks ------------------------------------
class SequentialStyleNet(nn.Module):
    """nn.MaxPool2d modules, reshape, and the seed's super() call."""

    def __init__(self, fc1_in=576):
        super(SequentialStyleNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(fc1_in, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


class Net28Alternative(SequentialStyleNet):
    def __init__(self):
        super().__init__(fc1_in=400)


def warning_mse(output, target):
    warnings.warn("a harmless warning from the learner's code", UserWarning)
    if output.shape != target.shape:
        raise ValueError("shapes differ")
    return F.mse_loss(output, target)


def builtin_cross_entropy(logits, labels):
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError("bad shapes")
    return F.cross_entropy(logits, labels)


def chain_via_tuple(tensor, depth):
    out, node = (), tensor.grad_fn
    for _ in range(depth):
        if node is None:
            break
        out += (node.name() if False else type(node).__name__,)
        node = node.next_functions[0][0] if len(node.next_functions) else None
    return out


def sgd_with_sub_(params, lr):
    for p in params:
        if p.grad is not None:
            p.data.sub_(lr * p.grad)


def trace_with_size(model, input_shape):
    records, handles = [], []
    leaves = [(n, m) for n, m in model.named_modules() if n and len(list(m.children())) == 0]
    for name, module in leaves:
        handles.append(module.register_forward_hook(lambda m, i, o, name=name: records.append((name, o.size()))))
    try:
        model(torch.zeros(*input_shape))
    finally:
        for h in handles:
            h.remove()
    return records


ALTERNATIVES = {
    "Net": SequentialStyleNet,
    "Net28": Net28Alternative,
    "num_flat_features": lambda x: math.prod(x.shape[1:]),
    "count_parameters": lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad),
    "parameter_shapes": lambda m: {n: p.size() for n, p in m.named_parameters()},
    "mse_loss": warning_mse,
    "cross_entropy": builtin_cross_entropy,
    "grad_fn_chain": chain_via_tuple,
    "sgd_step": sgd_with_sub_,
    "trace_shapes": trace_with_size,
    "pool2d_output_size": lambda n, k, stride=None, padding=0, ceil_mode=False: F.max_pool2d(
        torch.zeros(1, 1, n, n), k, stride, padding, ceil_mode=ceil_mode
    ).shape[-1],
    "conv2d_output_size": lambda n, k, stride=1, padding=0, dilation=1: math.floor(
        (n + 2 * padding - dilation * (k - 1) - 1) / stride + 1
    ),
}


@pytest.mark.parametrize("exercise", sorted(ALTERNATIVES))
def test_does_a_correct_solution_in_another_style_get_full_marks(exercise, capsys):
    assert passes(exercise, ALTERNATIVES[exercise])
    assert capsys.readouterr().err == "", "nothing may reach stderr: nbgrader would score the cell 0"


# -- the mistakes learners make are caught --------------------------------------------------
class ForgotReLUNet(SequentialStyleNet):
    def forward(self, x):
        x = self.pool(self.conv1(x))
        x = self.pool(self.act(self.conv2(x)))
        return self.fc3(self.act(self.fc2(self.act(self.fc1(torch.flatten(x, 1))))))


class ViewMinusOneNet28(SequentialStyleNet):
    """Keeps fc1 at 576 inputs; view(-1, 576) then silently changes the batch size."""

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x.view(-1, 576))))))


def naive_cross_entropy(logits, labels):
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError("bad shapes")
    probs = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -probs[torch.arange(len(labels)), labels].log().mean()


def fresh_without_zero_grad(model, x, y, criterion):
    criterion(model(x), y).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def sgd_rebinding(params, lr):
    for p in params:
        p = p - lr * p.grad  # noqa: PLW2901 - the mistake under test


def train_zeroing_after_step(net, x, y, criterion, optimizer, steps):
    out = []
    for _ in range(steps):
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        out.append(loss.item())
    return out


def trace_keeping_hooks(model, input_shape):
    records = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            module.register_forward_hook(lambda m, i, o, name=name: records.append((name, tuple(o.shape))))
    model(torch.zeros(input_shape))
    return records


MISTAKES = {
    "mse_loss (sum, not mean)": ("mse_loss", lambda o, t: ((o - t) ** 2).sum()),
    "mse_loss (no shape check)": ("mse_loss", lambda o, t: ((o - t) ** 2).mean()),
    "mse_loss (detached numpy)": ("mse_loss", lambda o, t: torch.tensor(((o - t) ** 2).mean().item())
                                  if o.shape == t.shape else (_ for _ in ()).throw(ValueError("shape"))),
    "l1_loss (squares)": ("l1_loss", lambda o, t: losses.mse_loss(o, t)),
    "cross_entropy (naive softmax overflows)": ("cross_entropy", naive_cross_entropy),
    "cross_entropy (softmax applied twice)": ("cross_entropy", lambda z, y: builtin_cross_entropy(z.softmax(1), y)),
    "Net (ReLU forgotten)": ("Net", ForgotReLUNet),
    "Net28 (view(-1, 576))": ("Net28", ViewMinusOneNet28),
    "num_flat_features (counts the batch)": ("num_flat_features", lambda x: x.numel()),
    "count_parameters (counts tensors)": ("count_parameters", lambda m: len(list(m.parameters()))),
    "count_parameters (counts frozen)": ("count_parameters", lambda m: sum(p.numel() for p in m.parameters())),
    "parameter_shapes (in, out order)": ("parameter_shapes",
                                         lambda m: {n: tuple(reversed(p.shape)) for n, p in m.named_parameters()}),
    "grad_fn_chain (last input)": ("grad_fn_chain", lambda t, d: [type(t.grad_fn).__name__][:d]
                                   + [type(t.grad_fn.next_functions[-1][0]).__name__][: max(0, d - 1)]),
    "linear_mse_grads (forgets the 2)": ("linear_mse_grads", lambda x, w, b, y: tuple(
        g / 2 for g in backprop.linear_mse_grads(x, w, b, y))),
    "fresh_gradients (no zero_grad)": ("fresh_gradients", fresh_without_zero_grad),
    "sgd_step (rebinds the name)": ("sgd_step", sgd_rebinding),
    "sgd_step (adds the gradient)": ("sgd_step", lambda ps, lr: update.sgd_step(ps, -lr)),
    "train_steps (zero_grad after step)": ("train_steps", train_zeroing_after_step),
    "conv2d_output_size (ignores padding)": ("conv2d_output_size",
                                             lambda n, k, stride=1, padding=0, dilation=1: (n - k) // stride + 1),
    "pool2d_output_size (rounds up)": ("pool2d_output_size", lambda n, k, stride=None, padding=0, ceil_mode=False:
                                       -(-(n + 2 * padding - k) // (stride or k)) + 1),
    "pool2d_output_size (ceil without the padding rule)": (
        "pool2d_output_size",
        lambda n, k, stride=None, padding=0, ceil_mode=False: (
            -(-(n + 2 * padding - k) // (stride or k)) + 1 if ceil_mode else (n + 2 * padding - k) // (stride or k) + 1
        ),
    ),
    "trace_shapes (leaves hooks behind)": ("trace_shapes", trace_keeping_hooks),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_is_a_common_mistake_caught(mistake):
    exercise, learner = MISTAKES[mistake]
    fails(exercise, learner)


# -- the cases of the grading-accuracy review: wrong code that used to get full marks --------
def loss_without_same_ndim_check(o, t):
    if o.dim() != t.dim():
        raise ValueError("shapes differ")
    return ((o - t) ** 2).mean()


def chain_skipping_none(tensor, depth):
    names, node = [], tensor.grad_fn
    while node is not None and len(names) < depth:
        names.append(type(node).__name__)
        node = next((f for f, _ in node.next_functions if f is not None), None)
    return names


def fresh_returning_grad_itself(model, x, y, criterion):
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
    criterion(model(x), y).backward()
    return {n: p.grad for n, p in model.named_parameters()}


def trace_without_finally(model, input_shape):
    records, handles = [], []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            handles.append(module.register_forward_hook(lambda m, i, o, name=name: records.append((name, tuple(o.shape)))))
    model(torch.zeros(input_shape))
    for h in handles:
        h.remove()
    return records


def trace_hooking_containers(model, input_shape):
    records, handles = [], []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(lambda m, i, o, name=name: records.append((name, tuple(o.shape)))))
    try:
        model(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return records


def epoch_without_device(model, loader, criterion, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


REVIEW_MISTAKES = {
    "mse_loss ([4, 1] vs [1, 4] broadcast)": ("mse_loss", loss_without_same_ndim_check),
    "grad_fn_chain (skips a None input)": ("grad_fn_chain", chain_skipping_none),
    "fresh_gradients (returns p.grad itself)": ("fresh_gradients", fresh_returning_grad_itself),
    "conv2d_output_size (dilation * kernel_size)": (
        "conv2d_output_size", lambda n, k, stride=1, padding=0, dilation=1: (n + 2 * padding - dilation * k) // stride + 1),
    "conv2d_output_size (/ instead of //)": (
        "conv2d_output_size", lambda n, k, stride=1, padding=0, dilation=1:
        (n + 2 * padding - dilation * (k - 1) - 1) / stride + 1),
    "trace_shapes (no try/finally)": ("trace_shapes", trace_without_finally),
    "trace_shapes (hooks containers)": ("trace_shapes", trace_hooking_containers),
    "parameter_shapes (from state_dict)": ("parameter_shapes",
                                           lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}),
    "train_one_epoch (never moves to device)": ("train_one_epoch", epoch_without_device),
}


@pytest.mark.parametrize("mistake", sorted(REVIEW_MISTAKES))
def test_is_a_mistake_the_review_found_caught(mistake):
    exercise, learner = REVIEW_MISTAKES[mistake]
    fails(exercise, learner)


# -- forged answers: objects that claim equality are refused by type --------------------------
@pytest.mark.parametrize("forged", [AlwaysEqual(), EqualInt(7)], ids=["always-equal object", "int subclass"])
@pytest.mark.parametrize("exercise", ["conv2d_output_size", "count_parameters", "num_flat_features",
                                      "pool2d_output_size"])
def test_does_an_object_that_claims_equality_lose(exercise, forged):
    fails(exercise, lambda *args, **kwargs: forged)


def test_does_a_tensor_subclass_fool_no_loss_check():
    forged = torch.zeros(()).as_subclass(EqualTensor)
    fails("mse_loss", lambda o, t: forged)
