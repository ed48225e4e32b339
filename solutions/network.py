"""Notebook 1: defining the network."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def num_flat_features(x: torch.Tensor) -> int:
    """Return how many values one sample of a batch holds (all dimensions but the first)."""
    ### BEGIN SOLUTION
    num_features = 1
    for size in x.shape[1:]:
        num_features *= size
    return num_features
    ### END SOLUTION


class Net(nn.Module):
    """The course's CNN: two 3x3 convolutions with max pooling, then three linear layers."""

    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
        ### END SOLUTION


def count_parameters(module: nn.Module) -> int:
    """Return the number of learnable values (not tensors) in ``module``."""
    ### BEGIN SOLUTION
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
    ### END SOLUTION


def parameter_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Return a dict from each parameter's name to its shape as a tuple of ints."""
    ### BEGIN SOLUTION
    return {name: tuple(p.shape) for name, p in module.named_parameters()}
    ### END SOLUTION
