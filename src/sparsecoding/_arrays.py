"""What the array API standard lacks, for NumPy arrays and torch tensors, in one place.

The package dispatches with ``array_api_compat.array_namespace``: the namespace of the
input is taken once at each public entry, and algorithms are written against it. The
few operations the standard does not have are here: conversion to and from NumPy,
random normal numbers from a seed, the sigmoid, and switching autograd off. torch is never
imported here: a tensor can only exist if the caller has imported torch already.

Mixed inputs follow one rule (:func:`sparsecoding._validation.check_dictionary_and_signals`):
the signals ``X`` decide. The dictionary is converted to the kind, device and dtype
of ``X`` (a NumPy ``D`` with a torch ``X`` becomes a tensor on ``X``'s device); a torch
``D`` with NumPy ``X`` is refused (a tensor, possibly on a GPU, is never copied to the
host silently).
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np
from array_api_compat import array_namespace, device


def is_torch(a) -> bool:
    """True when ``a`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def is_numpy(a) -> bool:
    """True when ``a`` is a NumPy array (or scalar)."""
    return isinstance(a, (np.ndarray, np.generic))


def to_numpy(a, dtype=None):
    """``a`` as a NumPy array, of ``dtype`` if given (a tensor is detached and copied
    to the host)."""
    if is_torch(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def like(a, ref):
    """The NumPy array ``a`` as an array of the kind, dtype and device of ``ref`` (for
    results computed on the host, such as the homotopy's or a linear program's)."""
    xp = array_namespace(ref)
    return xp.asarray(a, dtype=ref.dtype, device=device(ref))


def detach(a):
    """``a`` cut from any autograd graph (a tensor's ``detach``; arrays as they are)."""
    return a.detach() if is_torch(a) else a


def synchronize(a):
    """Wait for the device of ``a`` (a CUDA tensor) to finish its queued work."""
    if is_torch(a) and a.device.type == "cuda":
        import torch

        torch.cuda.synchronize(a.device)


def no_grad(*arrays):
    """A context in which operations on these arrays build no autograd graph."""
    if any(is_torch(a) for a in arrays):
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def random_normal(shape, like, seed):
    """Standard normal numbers from ``seed``, of the kind, dtype and device of ``like``
    (drawn on the CPU, so that a seed gives the same numbers on every device)."""
    if is_torch(like):
        import torch

        gen = torch.Generator(device="cpu").manual_seed(seed)
        return torch.randn(shape, generator=gen, dtype=like.dtype).to(like.device)
    return np.random.default_rng(seed).standard_normal(shape).astype(like.dtype)


def sigmoid(a):
    """The logistic function :math:`1 / (1 + e^{-a})`, elementwise and stable."""
    if is_torch(a):
        import torch

        return torch.sigmoid(a)
    from scipy.special import expit

    return expit(a)
