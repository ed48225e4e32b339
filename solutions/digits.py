"""Notebook 6: training the course's network on real handwritten digits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

# The notebook's settings; tests/test_digits.py checks that the notebook uses the same values.
SEED = 0
TEST_FRACTION = 0.2
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
EPOCHS = 10


def make_digit_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn 8x8 digit images (values 0..16) and their labels into the network's input.

    Returns ``x``, float32 of shape [N, 1, 32, 32] with values in [0, 1] (divided by 16, then
    resized with bilinear interpolation, align_corners=False), and ``y``, int64 of shape [N].
    """
    ### BEGIN SOLUTION
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    y = torch.as_tensor(labels, dtype=torch.long)
    return x, y
    ### END SOLUTION


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> float:
    """Train ``model`` for one pass over ``loader``; return the mean loss per sample, as a float."""
    ### BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count
    ### END SOLUTION


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Return the fraction of samples in ``loader`` whose highest logit is the true label."""
    ### BEGIN SOLUTION
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += (model(x).argmax(dim=1) == y).sum().item()
            count += len(y)
    return correct / count
    ### END SOLUTION


# -- not an exercise: the notebook's whole run, for tests/test_digits.py and bench_digits ---
def train_reference(epochs: int = EPOCHS, device: torch.device | str | None = None) -> dict[str, Any]:
    """Load the digits, split, train the course's Net and evaluate it, exactly as notebook 6 does.

    Returns the per-epoch ``losses`` and ``accuracies`` (on the test set), the final
    ``accuracy``, the training ``seconds``, the ``model`` and the dataset sizes.
    """
    from sklearn.datasets import load_digits

    from solutions.network import Net

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    digits = load_digits()
    x, y = make_digit_tensors(digits.images, digits.target)
    train_set, test_set = random_split(
        TensorDataset(x, y), [1 - TEST_FRACTION, TEST_FRACTION], generator=torch.Generator().manual_seed(SEED)
    )
    train_loader = DataLoader(
        train_set, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(SEED)
    )
    test_loader = DataLoader(test_set, batch_size=256)

    torch.manual_seed(SEED)
    model = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses, accuracies = [], []
    start = time.perf_counter()
    for _ in range(epochs):
        losses.append(train_one_epoch(model, train_loader, criterion, optimizer, device))
        accuracies.append(evaluate(model, test_loader, device))
    seconds = time.perf_counter() - start
    return {
        "losses": losses,
        "accuracies": accuracies,
        "accuracy": accuracies[-1],
        "seconds": seconds,
        "model": model,
        "train_size": len(train_set),
        "test_size": len(test_set),
        "device": str(device),
    }
