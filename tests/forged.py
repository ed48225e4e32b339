"""Objects a learner could return to forge a passing check: each claims to equal anything."""

import torch


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __bool__(self):
        return True

    def __repr__(self):
        raise RuntimeError("a learner's __repr__ is never called")

    __hash__ = object.__hash__


class EqualInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class EqualTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.tensor(True)
