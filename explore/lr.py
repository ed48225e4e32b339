"""Notebook 4's learning-rate explorer: a few SGD steps of the course's network at one rate.

The set-up is the notebook's: notebook 1's ``Net`` seeded with 0, one random 1x32x32 image and
a random target (drawn right after the network, as the notebook does), MSE loss, plain SGD.
Each step is the one the notebook's ``train_steps`` test spells out (zero the gradients, forward,
loss, backward, ``optimizer.step()``); the network is the given ``Net`` (``given.network``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch
import torch.nn as nn
import torch.optim as optim
from matplotlib.figure import Figure

from explore.text import korean_figures, plot_text, say
from given.network import Net

STEPS = 20
SLOW = 0.2  # a rate that lowers the loss by less than this fraction in STEPS steps is slow
EXAMPLES = {"slow": 0.001, "good": 0.05, "diverging": 1.5}
Y_RANGE = (1e-8, 1e4)  # fixed, so that curves stay comparable as the rate changes; lines may leave it
COLOURS = {"slow": "tab:blue", "good": "tab:green", "unstable": "tab:orange", "diverging": "tab:red"}
VERDICTS_KO = {"slow": "느림", "good": "좋음", "unstable": "불안정", "diverging": "발산"}


@dataclass(frozen=True)
class Run:
    """The losses of one run, one per step (before its update), ending early at the first inf or nan."""

    lr: float
    losses: tuple[float, ...]
    steps: int

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.losses[-1]) or self.losses[-1] >= self.losses[0]

    @property
    def verdict(self) -> str:
        """slow, good, unstable (the loss goes up on the way down) or diverging."""
        if self.diverged:
            return "diverging"
        if self.losses[-1] > (1 - SLOW) * self.losses[0]:
            return "slow"
        if any(b > a for a, b in zip(self.losses, self.losses[1:])):
            return "unstable"
        return "good"

    def describe(self) -> str:
        """One sentence on what this rate did to the loss."""
        first, last, n = self.losses[0], self.losses[-1], len(self.losses)
        if not math.isfinite(last):
            return say(f"lr = {self.lr:.3g}: diverging, the loss reached {last} at step {n} "
                       f"(after {_num(first)}, {', '.join(_num(v) for v in self.losses[1:-1])})",
                       f"lr = {self.lr:.3g}: 발산, 손실이 {n}번째 단계에서 {last}이 되었습니다 "
                       f"({_num(first)}, {', '.join(_num(v) for v in self.losses[1:-1])} 다음)")
        words = {
            "slow": say("slow", VERDICTS_KO["slow"]), "good": say("good", VERDICTS_KO["good"]),
            "unstable": say("unstable, the loss jumps up on the way down", "불안정, 내려가다가 손실이 튀어 오릅니다"),
            "diverging": say("diverging", VERDICTS_KO["diverging"]),
        }[self.verdict]
        return say(f"lr = {self.lr:.3g}: {words}; the loss went from {_num(first)} to {_num(last)}"
                   f"{_change(first, last)} in {n} steps",
                   f"lr = {self.lr:.3g}: {words}; 손실이 {n}단계 동안 {_num(first)}에서 {_num(last)}로 "
                   f"바뀌었습니다{_change(first, last)}")


@cache
def run_lr(lr: float, steps: int = STEPS, seed: int = 0) -> Run:
    """Train a freshly seeded Net on the notebook's image and target with SGD at ``lr`` (same inputs, same run)."""
    threads = torch.get_num_threads()
    # One small image: a second thread only adds waiting, and a lot of it on a busy machine.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():  # leave the notebook's own random numbers where they were
            torch.manual_seed(seed)
            net = Net()
            image, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
            optimizer = optim.SGD(net.parameters(), lr=lr)
            losses: list[float] = []
            for _ in range(steps):
                # One step at a time, so that a run stops at its first inf or nan: nothing is learned after
                # it, and arithmetic on inf and nan is slow.
                optimizer.zero_grad()
                loss = nn.MSELoss()(net(image), target)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                if not math.isfinite(losses[-1]):
                    break
    finally:
        torch.set_num_threads(threads)
    return Run(lr, tuple(losses), steps)


def draw_runs(runs: list[Run], fig: Figure | None = None, highlight: Run | None = None) -> Figure:
    """Loss against step on a log scale, one line a run, coloured by its verdict."""
    korean_figures()  # before the axes and their texts are made
    fig = fig or Figure()
    fig.set_size_inches(7, 3.6)
    ax = fig.subplots()
    low, high = Y_RANGE
    steps = max(run.steps for run in runs)
    for run in runs:
        colour = COLOURS[run.verdict]
        finite = [(i, v) for i, v in enumerate(run.losses, start=1) if math.isfinite(v)]
        faint = highlight is not None and run is not highlight
        ax.plot([i for i, _ in finite], [v for _, v in finite], marker="o", markersize=3,
                color=colour, linewidth=1 if faint else 2.5, alpha=0.35 if faint else 1,
                label=f"lr = {run.lr:.3g} ({plot_text(run.verdict, VERDICTS_KO[run.verdict])})")
        if len(finite) < len(run.losses):
            step = len(run.losses)
            ax.plot([step], [high], marker="x", markersize=9, color=colour, alpha=0.35 if faint else 1)
            ax.annotate(f"{run.losses[-1]}", (step, high), textcoords="offset points", xytext=(6, -12), color=colour,
                        alpha=0.35 if faint else 1)
    ax.set_yscale("log")
    ax.set_ylim(low, high * 1.5)
    ax.set_xlim(0.5, steps + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(plot_text("step", "단계"))
    ax.set_ylabel(plot_text("MSE loss (log scale)", "MSE 손실(로그 눈금)"))
    ax.set_title(plot_text(f"{steps} SGD steps of the course's network on one image",
                           f"이미지 한 장으로 학습 노트의 신경망을 SGD로 {steps}단계 학습"))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


def _num(value: float) -> str:
    return f"{value:.3g}"


def _change(first: float, last: float) -> str:
    """ (-59%), or nothing where the numbers say it better than a percentage rounded to -100%."""
    return f" ({last / first - 1:+.0%})" if last >= first / 10 else ""
