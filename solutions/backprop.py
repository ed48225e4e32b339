"""Notebook 3: backpropagation with autograd."""

from collections.abc import Callable

import torch
import torch.nn as nn


def grad_fn_chain(tensor: torch.Tensor, depth: int) -> list[str]:
    """Return the class names of up to ``depth`` autograd nodes, following each first input."""
    ### BEGIN SOLUTION
    names = []
    node = tensor.grad_fn
    while node is not None and len(names) < depth:
        names.append(type(node).__name__)
        node = node.next_functions[0][0] if node.next_functions else None
    return names
    ### END SOLUTION


def linear_mse_grads(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (dL/dw, dL/db) for L = mean((x @ w.T + b - y) ** 2), worked out by hand."""
    ### BEGIN SOLUTION
    error = x @ w.T + b - y
    d_out = 2 * error / error.numel()
    return d_out.T @ x, d_out.sum(dim=0)
    ### END SOLUTION


def fresh_gradients(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Return each parameter's gradient of criterion(model(x), y) from this pass alone."""
    ### BEGIN SOLUTION
    model.zero_grad()
    criterion(model(x), y).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    ### END SOLUTION
