"""One set of array operations for NumPy arrays and torch tensors.

The solvers are written once against the small interface below; :func:`namespace`
picks the NumPy or the torch implementation from the input. torch is never imported
here: a tensor can only exist if the caller has imported torch already.
"""

from __future__ import annotations

import sys

import numpy as np


def is_tensor(a) -> bool:
    """True when ``a`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


class NumpyOps:
    """Array operations on NumPy arrays."""

    name = "numpy"

    @staticmethod
    def clip(a, lo, hi):
        return np.clip(a, lo, hi)

    @staticmethod
    def relu(a):
        return np.maximum(a, 0)

    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    sqrt = staticmethod(np.sqrt)

    @staticmethod
    def sigmoid(a):
        from scipy.special import expit

        return expit(a)

    @staticmethod
    def sum(a, axis=None, keepdims=False):
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def amax(a, axis=None, keepdims=False):
        return np.max(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def ones(shape, like):
        return np.ones(shape, dtype=like.dtype)

    @staticmethod
    def eye(n, like):
        return np.eye(n, dtype=like.dtype)

    @staticmethod
    def copy(a):
        return np.array(a, copy=True)

    @staticmethod
    def sort_desc(a, axis=-1):
        return -np.sort(-a, axis=axis)

    @staticmethod
    def cumsum(a, axis=-1):
        return np.cumsum(a, axis=axis)

    @staticmethod
    def arange(n, like):
        return np.arange(1, n + 1, dtype=like.dtype)

    @staticmethod
    def take_along(a, idx, axis=-1):
        return np.take_along_axis(a, idx, axis=axis)

    @staticmethod
    def count_true(cond, axis=-1, keepdims=True):
        return np.sum(cond, axis=axis, keepdims=keepdims)

    @staticmethod
    def solve(A, B):
        return np.linalg.solve(A, B)

    @staticmethod
    def concat(parts, axis=0):
        return np.concatenate(parts, axis=axis)

    @staticmethod
    def to_numpy(a):
        return np.asarray(a)

    @staticmethod
    def scalar(a) -> float:
        return float(a)

    @staticmethod
    def full_like_scalar(value, like):
        return np.asarray(value, dtype=like.dtype)

    @staticmethod
    def random_normal(shape, like, seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal(shape).astype(like.dtype)


class TorchOps:
    """The same operations on torch tensors, on the tensor's own device."""

    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch

    def clip(self, a, lo, hi):
        if isinstance(lo, (int, float)):
            return self.torch.clamp(a, lo, hi)
        return self.torch.clamp(a, min=lo, max=hi)

    def relu(self, a):
        return self.torch.clamp(a, min=0)

    def abs(self, a):
        return self.torch.abs(a)

    def sign(self, a):
        return self.torch.sign(a)

    def sqrt(self, a):
        return self.torch.sqrt(a)

    def sigmoid(self, a):
        return self.torch.sigmoid(a)

    def sum(self, a, axis=None, keepdims=False):
        if axis is None:
            return self.torch.sum(a)
        return self.torch.sum(a, dim=axis, keepdim=keepdims)

    def amax(self, a, axis=None, keepdims=False):
        if axis is None:
            return self.torch.amax(a)
        return self.torch.amax(a, dim=axis, keepdim=keepdims)

    def where(self, cond, a, b):
        return self.torch.where(cond, a, b)

    def zeros(self, shape, like):
        return self.torch.zeros(shape, dtype=like.dtype, device=like.device)

    def ones(self, shape, like):
        return self.torch.ones(shape, dtype=like.dtype, device=like.device)

    def eye(self, n, like):
        return self.torch.eye(n, dtype=like.dtype, device=like.device)

    def copy(self, a):
        return a.clone()

    def sort_desc(self, a, axis=-1):
        return self.torch.sort(a, dim=axis, descending=True).values

    def cumsum(self, a, axis=-1):
        return self.torch.cumsum(a, dim=axis)

    def arange(self, n, like):
        return self.torch.arange(1, n + 1, dtype=like.dtype, device=like.device)

    def take_along(self, a, idx, axis=-1):
        return self.torch.take_along_dim(a, idx, dim=axis)

    def count_true(self, cond, axis=-1, keepdims=True):
        return self.torch.sum(cond, dim=axis, keepdim=keepdims)

    def solve(self, A, B):
        return self.torch.linalg.solve(A, B)

    def concat(self, parts, axis=0):
        return self.torch.cat(parts, dim=axis)

    def to_numpy(self, a):
        return a.detach().cpu().numpy()

    def scalar(self, a) -> float:
        return float(a.item()) if hasattr(a, "item") else float(a)

    def full_like_scalar(self, value, like):
        return self.torch.as_tensor(value, dtype=like.dtype, device=like.device)

    def random_normal(self, shape, like, seed):
        gen = self.torch.Generator(device="cpu").manual_seed(seed)
        out = self.torch.randn(shape, generator=gen, dtype=like.dtype)
        return out.to(like.device)


_NUMPY = NumpyOps()
_TORCH = None


def namespace(a):
    """The operations that fit ``a``: :class:`TorchOps` for a tensor, else NumPy's."""
    global _TORCH
    if is_tensor(a):
        if _TORCH is None:
            _TORCH = TorchOps()
        return _TORCH
    return _NUMPY
