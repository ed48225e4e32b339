"""Notebook 2's picture: each loss against the error it measures, with its gradient.

The values come from PyTorch's own losses (``torch.nn.functional``, which the notebook's
exercises rebuild and its tests compare against) and the gradients from autograd through them,
one point at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from matplotlib.figure import Figure
from torch.nn.functional import cross_entropy, l1_loss, mse_loss

from explore.text import korean_figures, plot_text


def regression_curve(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                     errors: torch.Tensor) -> tuple[list[float], list[float]]:
    """The loss of one output ``error`` away from its target, and d loss / d output, for each error."""
    values, slopes = [], []
    for error in errors.tolist():
        output = torch.tensor([error], requires_grad=True)
        value = loss(output, torch.zeros(1))
        value.backward()
        values.append(value.item())
        slopes.append(output.grad.item())
    return values, slopes


def cross_entropy_curve(probabilities: torch.Tensor) -> tuple[list[float], list[float]]:
    """Cross-entropy when the right class gets probability p (of two classes), and d loss / d its logit."""
    values, slopes = [], []
    for p in probabilities.tolist():
        logits = torch.tensor([[torch.tensor(p).log().item(), torch.tensor(1 - p).log().item()]], requires_grad=True)
        value = cross_entropy(logits, torch.tensor([0]))
        value.backward()
        values.append(value.item())
        slopes.append(logits.grad[0, 0].item())
    return values, slopes


def draw_losses(fig: Figure | None = None) -> Figure:
    """Three panels side by side: MSE and L1 against output - target, cross-entropy against p."""
    korean_figures()  # before the axes and their texts are made
    fig = fig or Figure()
    fig.set_size_inches(10, 3.2)
    mse_ax, l1_ax, ce_ax = fig.subplots(1, 3)
    errors = torch.linspace(-3, 3, 121)
    loss_label, gradient_label = plot_text("loss", "손실"), plot_text("gradient", "변화도")
    for ax, loss, title in ((mse_ax, mse_loss, "MSE: (output − target)²"), (l1_ax, l1_loss, "L1: |output − target|")):
        values, slopes = regression_curve(loss, errors)
        ax.plot(errors, values, color="tab:blue", linewidth=2, label=loss_label)
        ax.plot(errors, slopes, color="tab:orange", linestyle="--", label=gradient_label)
        ax.set_xlabel(plot_text("error: output − target", "오차: output − target"))
        ax.set_ylim(-6.5, 9.5)
        ax.set_title(title, fontsize="medium")
    probabilities = torch.linspace(0.01, 1, 100)
    values, slopes = cross_entropy_curve(probabilities)
    ce_ax.plot(probabilities, values, color="tab:blue", linewidth=2, label=loss_label)
    ce_ax.plot(probabilities, slopes, color="tab:orange", linestyle="--",
               label=plot_text("gradient (right class's logit)", "변화도(맞는 클래스의 로짓)"))
    guess = cross_entropy(torch.zeros(1, 10), torch.tensor([0])).item()
    ce_ax.plot([0.1], [guess], marker="o", color="tab:red")
    ce_ax.annotate(plot_text(f"a uniform guess among 10\nclasses: {guess:.4f}", f"클래스 10개 중 고르게\n찍을 때: {guess:.4f}"),
                   (0.1, guess), textcoords="offset points", xytext=(8, 4), fontsize="small", color="tab:red")
    ce_ax.set_xlabel(plot_text("p: probability of the right class", "p: 맞는 클래스의 확률"))
    ce_ax.set_title(plot_text("cross-entropy: −log p", "교차 엔트로피: −log p"), fontsize="medium")
    for ax in (mse_ax, l1_ax, ce_ax):
        ax.axhline(0, color="black", linewidth=0.6)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="upper center")
    fig.tight_layout()
    return fig
