"""Notebook 2: loss functions."""

import torch


def mse_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element; refuse tensors of different shapes."""
    ### BEGIN SOLUTION
    if output.shape != target.shape:
        raise ValueError(
            f"mse_loss: output has shape {tuple(output.shape)} but target has shape "
            f"{tuple(target.shape)}; they must match"
        )
    return ((output - target) ** 2).mean()
    ### END SOLUTION


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over every element; refuse tensors of different shapes."""
    ### BEGIN SOLUTION
    if output.shape != target.shape:
        raise ValueError(
            f"l1_loss: output has shape {tuple(output.shape)} but target has shape "
            f"{tuple(target.shape)}; they must match"
        )
    return (output - target).abs().mean()
    ### END SOLUTION


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of raw ``logits`` [N, C] against integer class ``labels`` [N]."""
    ### BEGIN SOLUTION
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: logits must be [N, C] and labels [N]; got logits "
            f"{tuple(logits.shape)} and labels {tuple(labels.shape)}"
        )
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs.gather(1, labels.long().unsqueeze(1)).squeeze(1)
    return -picked.mean()
    ### END SOLUTION
