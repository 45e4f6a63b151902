"""Input checks shared by the PyTorch modules of :mod:`sparsecoding.nn`.

A module's ``forward`` and ``loss`` check their tensors before torch sees them, so that a
wrong input fails with a :class:`TypeError` or :class:`ValueError` that names the argument
and says what the model expects (its number of features, its dtype, its device), rather
than deep inside torch ("mat1 and mat2 shapes cannot be multiplied"), and so that NaN or
inf never flows silently into a result.
"""

from __future__ import annotations

import torch


def _reference(module):
    """The dtype and device of ``module``'s first parameter (float32 on the CPU if none)."""
    for p in module.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


def check_tensor(x, name, module, *, shape_text):
    """Check kind, dtype, device and finiteness of a floating-point input of ``module``.

    ``shape_text`` describes the expected shape in the messages. The shape itself is
    checked by the caller (:func:`check_features` or its own rule).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch tensor of shape {shape_text}, got "
            f"{type(x).__name__} (convert it with torch.as_tensor({name}, "
            f"dtype=torch.float32))"
        )
    dtype, device = _reference(module)
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype ({dtype}, the dtype of the model), "
            f"got {x.dtype} (convert it with {name}.to({dtype}))"
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the model's parameters are {dtype}: convert "
            f"{name} with {name}.to({dtype}) or the model with model.to({x.dtype})"
        )
    if x.device != device:
        raise ValueError(
            f"{name} is on device {x.device} but the model is on {device}: move one of "
            f"them with .to(device)"
        )
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values, got NaN or inf")
    return x


def check_features(x, name, module, n_features, *, what="n_inputs", ndim=(1, 2)):
    """Check an input of shape ``(n_signals, n_features)`` (or ``(n_features,)`` if 1-D ok)."""
    shape_text = (f"(n_signals, {n_features})" if ndim == (2,)
                  else f"(n_signals, {n_features}) or ({n_features},)")
    check_tensor(x, name, module, shape_text=shape_text)
    if x.ndim not in ndim:
        raise ValueError(f"{name} must have shape {shape_text}, got {tuple(x.shape)}")
    if x.shape[-1] != n_features:
        raise ValueError(
            f"{name} has {x.shape[-1]} features (shape {tuple(x.shape)}) but the model "
            f"expects {n_features} ({what}={n_features}): {name} must have shape "
            f"{shape_text}"
        )
    return x


def check_batch(x, name):
    """A loss needs at least one signal: refuse an empty batch (its mean is NaN)."""
    if x.ndim >= 2 and x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one signal, got shape {tuple(x.shape)}")
    return x


def check_labels(y, name, n_signals, n_classes, device):
    """Class labels: a 1-D integer tensor of ``n_signals`` values in ``[0, n_classes)``."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of integer class labels, got "
                        f"{type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels (torch.long), got dtype "
                        f"{y.dtype} (convert with {name}.long())")
    if y.ndim != 1 or y.shape[0] != n_signals:
        raise ValueError(f"{name} must have shape ({n_signals},), one label per signal of "
                         f"x, got {tuple(y.shape)}")
    if y.device != device:
        raise ValueError(f"{name} is on device {y.device} but x is on {device}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"{name} must hold labels in 0..{n_classes - 1}, got values from "
                         f"{int(y.min())} to {int(y.max())}")
    return y.long()
