"""Input checks shared by every public function.

Each check raises :class:`TypeError` (wrong kind of object or dtype) or
:class:`ValueError` (right kind, wrong value: shape, sign, finiteness), and the message
names the argument and says what was expected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._arrays import is_torch as is_tensor

_FLOAT_DTYPES = ("float32", "float64")


class DivergenceError(ValueError, FloatingPointError):
    """A computation that diverged or overflowed on the inputs given: a
    :class:`ValueError` (the inputs or a step size are wrong for the problem) that is
    also a :class:`FloatingPointError`; its message says which argument to change."""


def _describe(a) -> str:
    if is_tensor(a):
        return f"a torch tensor of dtype {a.dtype} and shape {tuple(a.shape)}"
    if isinstance(a, np.ndarray):
        return f"an array of dtype {a.dtype} and shape {a.shape}"
    return f"an object of type {type(a).__name__}"


def check_array(a, name: str, *, ndim=(1, 2), like=None, allow_empty: bool = False):
    """Validate a real floating-point array and return it as NumPy array or tensor.

    Parameters
    ----------
    a : array_like or torch.Tensor
        The input. Lists and integer arrays are converted to floating point.
    name : str
        The argument's name, used in error messages.
    ndim : int or tuple of int
        The accepted numbers of dimensions.
    like : array or tensor, optional
        If given, ``a`` is converted to the same kind (NumPy or torch), device and
        dtype as ``like``.
    allow_empty : bool
        Whether an array with no elements is accepted.
    """
    return _check_array(a, name, ndim, like, allow_empty)[0]


def _check_array(a, name, ndim=(1, 2), like=None, allow_empty=False):
    """:func:`check_array`, also returning the largest absolute entry (0.0 when empty),
    found by the same two reductions that check finiteness."""
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a real numeric array, got {_describe(a)}")
    tensor = is_tensor(a)
    if tensor:
        import torch

        if a.is_complex():
            raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
        if a.dtype == torch.bool:
            raise TypeError(f"{name} must be a real numeric array, got a boolean tensor")
        if not a.is_floating_point():
            a = a.to(torch.get_default_dtype())
    else:
        if not isinstance(a, np.ndarray):
            try:
                a = np.asarray(a)
            except (ValueError, TypeError) as exc:
                raise TypeError(f"{name} must be a real numeric array ({exc})") from None
        kind = a.dtype.kind
        if kind == "c":
            raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
        if kind not in "iuf":  # booleans, objects, strings, dates
            raise TypeError(
                f"{name} must be a real numeric array, got {_describe(a)}"
            )
        if kind in "iu" or a.dtype.itemsize == 2:  # integers and float16
            a = a.astype(np.float64)
    if like is not None:
        a = as_like(a, like)
        tensor = is_tensor(a)
    if a.ndim not in ndims:
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {expected}, got shape {tuple(a.shape)}")
    size = a.numel() if tensor else a.size
    if not allow_empty and size == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(a.shape)}")
    if size == 0:
        return a, 0.0
    # min and max propagate NaN and are inf with any inf: no temporary of a's size
    values = a.detach() if tensor else a
    lo, hi = float(values.min()), float(values.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return a, max(hi, -lo)


# largest and smallest normal numbers of the NumPy float types (np.finfo costs
# microseconds a call, which one-signal calls notice)
_NP_LIMITS = {np.dtype(t): (float(np.finfo(t).max), float(np.finfo(t).tiny))
              for t in (np.float16, np.float32, np.float64)}


def _limits(a):
    """``(largest, smallest normal)`` of ``a``'s floating dtype."""
    if is_tensor(a):
        import torch

        fi = torch.finfo(a.dtype)
        return float(fi.max), float(fi.tiny)
    limits = _NP_LIMITS.get(a.dtype)
    if limits is None:
        fi = np.finfo(a.dtype)
        limits = float(fi.max), float(fi.tiny)
    return limits


def _dtype_name(a):
    return str(a.dtype).replace("torch.", "")


def max_abs(a) -> float:
    """The largest absolute entry of ``a`` as a Python float (0.0 when empty)."""
    # max and -min: two reductions, no temporary of a's size (a may be 10^6 signals)
    if is_tensor(a):
        return float(max(a.detach().max(), -a.detach().min())) if a.numel() else 0.0
    return float(max(a.max(), -a.min())) if a.size else 0.0


def check_squarable(a, name: str, *, n_terms=None, underflow=True, peak=None):
    """Refuse an array whose sums of squares overflow (or underflow) its dtype.

    The solvers form sums of ``n_terms`` products of entries (norms, ``D^T D``,
    ``X D``); with entries above about ``sqrt(finfo.max / n_terms)`` these overflow
    to inf and the result would be NaN. With ``underflow``, a nonzero array whose
    largest square is below the smallest normal number (all precision lost) is
    refused too. Raises :class:`ValueError` naming ``name`` and saying how to
    rescale. ``peak`` is the largest absolute entry when already known. Returns ``a``.
    """
    floating = a.dtype.is_floating_point if is_tensor(a) else a.dtype.kind == "f"
    if not floating:
        return a
    n = max(a.shape) if n_terms is None and a.ndim else (n_terms or 1)
    big, tiny = _limits(a)
    m = max_abs(a) if peak is None else peak
    if m * m * 4.0 * max(n, 1) > big:
        raise ValueError(
            f"{name} has entries up to {m:.1e}: the sums of squares the computation "
            f"forms overflow {_dtype_name(a)} (largest {big:.1e}); rescale {name} "
            f"(divide it by a power of ten) before calling"
        )
    if underflow and 0.0 < m and m * m < tiny:
        raise ValueError(
            f"{name} has entries of at most {m:.1e}: their squares underflow "
            f"{_dtype_name(a)} "
            f"(smallest normal number {tiny:.1e}) and lose all precision; rescale "
            f"{name} (multiply it by a power of ten) before calling"
        )
    return a


def check_scale_pair(D, X, names=("D", "X"), peaks=None):
    """Refuse a dictionary and signals whose products ``X D`` or squares overflow
    (``peaks``: their largest absolute entries, when already known)."""
    mD, mX = (max_abs(D), max_abs(X)) if peaks is None else peaks  # one pass over each
    check_squarable(D, names[0], peak=mD)
    check_squarable(X, names[1], peak=mX)
    big = _limits(X)[0]
    if mD * mX * 4.0 * max(D.shape[0], 1) > big:
        raise ValueError(
            f"{names[0]} (entries up to {mD:.1e}) and {names[1]} (up to {mX:.1e}) give "
            f"correlations {names[1]} @ {names[0]} that overflow; rescale them"
        )


def check_codes_scale(H, D, name="H"):
    """Refuse codes whose image ``H @ D.T`` (or whose squares) overflow; return ``H``."""
    mH, mD = max_abs(H), max_abs(D)
    check_squarable(H, name, underflow=False, peak=mH)
    big = _limits(H)[0]
    if mH * mD * 4.0 * max(D.shape[1], 1) > big:
        raise ValueError(
            f"{name} (entries up to {mH:.1e}) with D (up to {mD:.1e}) gives an image "
            f"{name} @ D.T that overflows; rescale them"
        )
    return H


def as_like(a, like):
    """Convert ``a`` to the kind, device and dtype of ``like``."""
    if is_tensor(like):
        import torch

        return torch.as_tensor(a, dtype=like.dtype, device=like.device)
    if is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=like.dtype)


def check_solver_float(a, name: str):
    """Require a float32 or float64 dtype (what the solvers compute in)."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype.itemsize in (4, 8):
        return a
    dtype = _dtype_name(a)
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {dtype}")
    return a


def check_scalar(value, name: str, *, low=0.0, low_inclusive=True, integer=False,
                 high=None):
    """Validate a finite real scalar (or integer) with a lower bound; return it."""
    if type(value) in (float, int):  # the common case, without the generic checks
        pass
    elif is_tensor(value) or isinstance(value, np.ndarray):
        if value.ndim != 0 and (getattr(value, "size", None) != 1 and
                                getattr(value, "numel", lambda: 0)() != 1):
            raise TypeError(f"{name} must be a scalar, got {_describe(value)}")
        value = value.item()
    if type(value) not in (float, int) and (
            isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)):
        kind = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}")
    if integer:
        if isinstance(value, float) and not float(value).is_integer():
            raise TypeError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None:
        bad = value < low if low_inclusive else value <= low
        if bad:
            op = ">=" if low_inclusive else ">"
            raise ValueError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def check_choice(value, name: str, choices):
    """Validate that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(map(repr, choices))}, got {value!r}")
    return value


def check_dictionary_and_signals(D, X, names=("D", "X"), d_peak=None):
    """Validate a dictionary and signals for a solver; return ``D, X2, squeeze``.

    ``D`` is ``(n_features, n_atoms)``; ``X`` is ``(n_signals, n_features)`` or a single
    signal ``(n_features,)``. ``X2`` is always 2-D and ``squeeze`` tells whether the
    result must be returned 1-D. ``D`` is converted to the kind, device and dtype of
    ``X``: the signals decide (NumPy in gives NumPy out, a tensor in gives a tensor out
    on its device, and the codes have the dtype of ``X`` whatever ``D``'s). A torch
    ``D`` with NumPy ``X`` is refused, so that a tensor is never copied off its device
    silently. ``d_peak``, when given, says that ``D`` is a NumPy float array that passed
    these checks before (unchanged since), with this largest absolute entry.
    """
    nD, nX = names
    X, mX = _check_array(X, nX, (1, 2))
    D0, mD = (D, d_peak) if d_peak is not None else _check_array(D, nD, 2)
    if is_tensor(X):
        import torch

        D = torch.as_tensor(D0, dtype=X.dtype, device=X.device)
    else:
        if is_tensor(D0):
            raise TypeError(
                f"{nD} is a torch tensor but {nX} is not: pass both as tensors, or both "
                f"as NumPy arrays (a NumPy {nD} with a tensor {nX} follows {nX})"
            )
        D = D0.astype(X.dtype, copy=False)
    if D is not D0:  # converted: its largest entry may have rounded (or overflowed)
        mD = max_abs(D)
    check_solver_float(X, nX)
    squeeze = X.ndim == 1
    X2 = X.reshape(1, -1) if squeeze else X
    if X2.shape[1] != D.shape[0]:
        raise ValueError(
            f"{nX} has {X2.shape[1]} features per signal but {nD} has {D.shape[0]} "
            f"rows: expected {nX} of shape (n_signals, n_features) and {nD} of shape "
            "(n_features, n_atoms)"
        )
    check_scale_pair(D, X2, names, peaks=(mD, mX))
    return D, X2, squeeze


def check_image_shape(shape, name: str = "shape"):
    """Validate an image shape: an integer (square) or a pair of positive integers."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape), int(shape))
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name} must be a pair of positive integers, got {shape!r}") \
            from None
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{name} must be a pair of positive integers, got {shape!r}")
    return shape


def check_atom_images(D, shape=None):
    """Validate a dictionary whose atoms (columns) are images; return ``(D, shape)``.

    ``D`` comes back as a float64 NumPy array (tensors are copied to the CPU). Without
    ``shape`` the atoms must be square images (``n_features`` a perfect square).
    """
    if is_tensor(D):
        D = D.detach().cpu().numpy()
    D = check_array(D, "D", ndim=2).astype(np.float64, copy=False)
    n_features = D.shape[0]
    if shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise ValueError(
                f"D has {n_features} rows, not a square number: pass shape=(rows, cols)"
            )
        shape = (side, side)
    shape = check_image_shape(shape)
    if shape[0] * shape[1] != n_features:
        raise ValueError(
            f"shape {shape} has {shape[0] * shape[1]} pixels but D has {n_features} rows"
        )
    return D, shape


def check_epochs_or_steps(epochs, steps, n_items, batch_size, *, default_epochs, low=1):
    """``(epochs, steps)`` of a loop over ``n_items`` in batches of ``batch_size``,
    whose length is given either in ``epochs`` (passes) or in ``steps`` (batches),
    checked; ``epochs`` counts a last pass that ``steps`` cuts short. With neither,
    ``default_epochs``."""
    if epochs is not None and steps is not None:
        raise TypeError("give the length as epochs or as steps, not both")
    per_epoch = -(-n_items // batch_size)
    if steps is None:
        epochs = (default_epochs if epochs is None
                  else check_scalar(epochs, "epochs", low=low, integer=True))
        return epochs, epochs * per_epoch
    steps = check_scalar(steps, "steps", low=low, integer=True)
    return -(-steps // per_epoch), steps
