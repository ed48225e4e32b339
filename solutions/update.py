"""Notebook 4: updating the weights."""

from collections.abc import Callable, Iterable

import torch
import torch.nn as nn


def sgd_step(params: Iterable[torch.Tensor], lr: float) -> None:
    """Move every parameter that has a gradient one step against it, in place: p -= lr * grad."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
    ### END SOLUTION


def train_steps(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
) -> list[float]:
    """Run ``steps`` optimizer steps on (x, y); return each step's loss, before its update."""
    ### BEGIN SOLUTION
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION
