"""Notebook 5: tracing tensor dimensions through the CNN."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv2d_output_size(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Return the output height (or width) of a Conv2d for an input of size ``n``."""
    ### BEGIN SOLUTION
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    ### END SOLUTION


def pool2d_output_size(
    n: int, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False
) -> int:
    """Return the output height (or width) of max_pool2d for an input of size ``n``."""
    ### BEGIN SOLUTION
    stride = kernel_size if stride is None else stride
    span = n + 2 * padding - kernel_size
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # A window that would start inside the right padding is dropped (PyTorch's rule).
    if (out - 1) * stride >= n + padding:
        out -= 1
    return out
    ### END SOLUTION


def trace_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """Run a zero tensor of ``input_shape`` through ``model``; list (layer name, output shape)."""
    ### BEGIN SOLUTION
    trace = []
    handles = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            hook = lambda mod, inp, out, name=name: trace.append((name, tuple(out.shape)))  # noqa: E731
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return trace
    ### END SOLUTION


class Net28(nn.Module):
    """The course's network, adapted to a 1x28x28 input: only fc1 changes (16*5*5 = 400 inputs)."""

    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
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
