"""Notebook 5's dimension explorer: every shape through the course's network, and where it breaks.

The network is notebook 1's ``Net``: conv1 -> ReLU -> pool -> conv2 -> ReLU -> pool -> flatten
-> fc1 -> fc2 -> fc3, with fc1 built for 16 * 6 * 6 = 576 features. The sizes come from PyTorch
itself (the layers run on shape-only "meta" tensors); where a layer collapses the map, PyTorch
refuses, and the size shown is the notebook's floor (or ceiling) formula.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explore.text import say

CHANNELS = (1, 6, 16)  # input, conv1 and conv2 channels of the course's network
FC1_IN = 16 * 6 * 6  # the features the fc1 of the course's network was built for
FC_OUT = (120, 84, 10)  # fc1, fc2 and fc3 outputs


@dataclass(frozen=True)
class Step:
    """One row of the trace: a layer, what it does, and its output shape (None past a break)."""

    name: str
    layer: str
    shape: tuple[int, ...] | None
    note: str = ""  # what goes wrong at this layer, if it is the one that breaks


@dataclass(frozen=True)
class ShapeTrace:
    """The shapes of one configuration, and the first thing that breaks (None if it all fits)."""

    steps: tuple[Step, ...]
    sizes: tuple[int, ...]  # the side length after each conv and pool; below 1 where a layer collapses the map
    flat: int | None  # the features reaching fc1, None when the map collapsed before
    problem: str | None
    broken: str | None = None  # the first layer that does not fit
    torch_says: str | None = None  # PyTorch's own error for it, where it names the sizes

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line: the side lengths, the flat features, and what breaks, if anything."""
        chain = " -> ".join(str(n) for n in self.sizes)
        if self.flat is None:
            return f"{chain}: " + say(f"{self.broken} collapses the map ✗", f"{self.broken}에서 맵이 사라집니다 ✗")
        if self.ok:
            return f"{chain} -> {self.flat}: " + say(f"fc1 fits ({FC1_IN}) ✓", f"fc1과 맞습니다 ({FC1_IN}) ✓")
        return f"{chain} -> {self.flat}: " + say(f"fc1 expects {FC1_IN} ✗", f"fc1은 {FC1_IN}개를 기대합니다 ✗")

    def table(self) -> str:
        """The trace as plain text, one layer a line, then the verdict."""
        lines = [f"{say('layer', '계층'):8} {say('operation', '연산'):34} {say('output shape', '출력 모양')}"]
        for step in self.steps:
            lines.append(f"{step.name:8} {step.layer:34} {step.note or _shape_text(step.shape)}")
        lines.append(self.verdict())
        if self.torch_says:
            lines.append(f"  PyTorch: {self.torch_says}")
        return "\n".join(lines)

    def html(self) -> str:
        """The trace as an HTML table for the widget, the broken row in red."""
        head = "".join(f"<th style='text-align:left;padding:0 1em 0 0'>{h}</th>"
                       for h in (say("layer", "계층"), say("operation", "연산"), say("output shape", "출력 모양")))
        rows = []
        for step in self.steps:
            style = " style='color:#c00;font-weight:bold'" if step.note else ""
            cells = (step.name, step.layer, step.note or _shape_text(step.shape))
            rows.append(f"<tr{style}>" + "".join(f"<td style='padding:0 1em 0 0'><code>{html.escape(c)}</code></td>"
                                                 for c in cells) + "</tr>")
        colour = "#080" if self.ok else "#c00"
        torch_says = f"<br><code>PyTorch: {html.escape(self.torch_says)}</code>" if self.torch_says else ""
        return (f"<table class='shape-trace'><tr>{head}</tr>{''.join(rows)}</table>"
                f"<p class='shape-verdict' style='color:{colour};font-weight:bold'>{html.escape(self.verdict())}"
                f"{torch_says}</p>")

    def verdict(self) -> str:
        """✓ and what fc1 gets, or ✗ and what breaks."""
        if self.ok:
            return "✓ " + say(f"every layer fits: fc1 gets the {FC1_IN} features it expects",
                              f"모든 계층이 맞습니다: fc1이 기대하는 특성 {FC1_IN}개가 들어갑니다")
        return "✗ " + self.problem


def trace_net(
    size: int = 32,
    kernel_size: int = 3,
    padding: int = 0,
    stride: int = 1,
    pool_size: int = 2,
    pool_stride: int | None = None,
    ceil_mode: bool = False,
) -> ShapeTrace:
    """Trace a 1 x size x size image through the course's network with these conv and pool settings."""
    conv_text = _call("Conv2d", "{c_in}, {c_out}, " + str(kernel_size), stride=(stride, 1), padding=(padding, 0))
    pool_stride = None if pool_stride == pool_size else pool_stride  # the default: as wide as the window
    pool_text = _call("max_pool2d", str(pool_size), stride=(pool_stride, None), ceil_mode=(ceil_mode, False))
    steps = [Step(say("input", "입력"), "", (1, CHANNELS[0], size, size))]
    sizes = [size]
    n = size
    for i in (1, 2):
        c_in, c_out = CHANNELS[i - 1], CHANNELS[i]
        for name, layer, out, window, extra in (
            (f"conv{i}", conv_text.format(c_in=c_in, c_out=c_out) + " + ReLU",
             lambda n: _conv_size(n, kernel_size, stride, padding), kernel_size, padding),
            (f"pool{i}", pool_text, lambda n: _pool_size(n, pool_size, pool_stride, ceil_mode), pool_size, 0),
        ):
            new = out(n)
            if new < 1:
                steps.append(Step(name, layer, None, f"✗ {new}×{new}"))
                problem = _collapse(name, window, n, extra, new)
                rest = _rest(name, conv_text, pool_text)
                return ShapeTrace(tuple(steps + rest), (*sizes, new), None, problem, name)
            n = new
            sizes.append(n)
            steps.append(Step(name, layer, (1, c_out, n, n)))
    flat = CHANNELS[-1] * n * n
    steps.append(Step("flatten", "torch.flatten(x, 1)", (1, flat)))
    if flat == FC1_IN:
        return ShapeTrace(tuple(steps + _linear_steps(fits=True)), tuple(sizes), flat, None)
    problem = say(
        f"fc1 expects {FC1_IN} features but gets {CHANNELS[-1]} × {n} × {n} = {flat}: "
        f"it would need nn.Linear({flat}, {FC_OUT[0]})",
        f"fc1은 특성 {FC1_IN}개를 기대하지만 {CHANNELS[-1]} × {n} × {n} = {flat}개가 들어옵니다: "
        f"nn.Linear({flat}, {FC_OUT[0]})이어야 합니다",
    )
    torch_says = f"mat1 and mat2 shapes cannot be multiplied (1x{flat} and {FC1_IN}x{FC_OUT[0]})"
    return ShapeTrace(tuple(steps + _linear_steps(fits=False, note=True)), tuple(sizes), flat, problem, "fc1", torch_says)


def _conv_size(n: int, kernel_size: int, stride: int, padding: int) -> int:
    """The side length a Conv2d gives a n x n map, as PyTorch computes it (the formula where it refuses)."""
    image, kernel = torch.empty(1, 1, n, n, device="meta"), torch.empty(1, 1, kernel_size, kernel_size, device="meta")
    try:
        return F.conv2d(image, kernel, stride=stride, padding=padding).shape[-1]
    except RuntimeError:
        return (n + 2 * padding - kernel_size) // stride + 1


def _pool_size(n: int, window: int, stride: int | None, ceil_mode: bool) -> int:
    """The side length max_pool2d gives a n x n map, as PyTorch computes it (the formula where it refuses)."""
    stride = window if stride is None else stride
    try:
        return F.max_pool2d(torch.empty(1, 1, n, n, device="meta"), window, stride, ceil_mode=ceil_mode).shape[-1]
    except RuntimeError:
        return (-(-(n - window) // stride) if ceil_mode else (n - window) // stride) + 1


def _linear_steps(fits: bool, note: bool = False) -> list[Step]:
    """fc1, fc2 and fc3, with their output shapes only if fc1 accepts the flattened features."""
    ins = (FC1_IN, *FC_OUT[:-1])
    names = ("fc1", "fc2", "fc3")
    wants = say(f"✗ needs (1, {FC1_IN})", f"✗ (1, {FC1_IN})이 필요")
    return [Step(name, f"Linear({i}, {o})" + (" + ReLU" if name != "fc3" else ""), (1, o) if fits else None,
                 wants if note and name == "fc1" else "")
            for name, i, o in zip(names, ins, FC_OUT)]


def _rest(broken: str, conv_text: str, pool_text: str) -> list[Step]:
    """The layers after the one that broke, without shapes."""
    order = ["conv1", "pool1", "conv2", "pool2"]
    rest = []
    for name in order[order.index(broken) + 1:]:
        i = int(name[-1])
        layer = conv_text.format(c_in=CHANNELS[i - 1], c_out=CHANNELS[i]) + " + ReLU" if name.startswith("conv") else pool_text
        rest.append(Step(name, layer, None))
    rest.append(Step("flatten", "torch.flatten(x, 1)", None))
    return rest + _linear_steps(fits=False)


def _collapse(name: str, window: int, n: int, padding: int, new: int) -> str:
    """Why ``name`` breaks: its window does not fit in the map it gets."""
    padded = say(f" padded by {padding}", f"(패딩 {padding})") if padding else ""
    what = say("kernel", "커널") if name.startswith("conv") else say("window", "창")
    return say(
        f"{name} breaks: a {window}×{window} {what} does not fit in the {n}×{n} map{padded}; "
        f"the size formula gives {new}, and a size must be at least 1",
        f"{name}에서 멈춥니다: {window}×{window} {what}이 {n}×{n} 맵{padded}에 들어가지 않습니다. "
        f"크기 공식의 결과는 {new}인데, 크기는 1 이상이어야 합니다",
    )


def _call(function: str, args: str, **options: tuple[object, object]) -> str:
    """``function(args, key=value, ...)``, listing only the options that differ from their default."""
    extra = [f"{key}={value}" for key, (value, default) in options.items() if value != default]
    return f"{function}({', '.join([args, *extra])})"


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else str(shape)
