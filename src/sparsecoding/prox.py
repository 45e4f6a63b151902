r"""Proximal operators and projections.

Every function takes a NumPy array or a torch tensor and returns the same kind.
The chapter *Soft thresholding and the proximal operator* derives them.
"""

from __future__ import annotations

import numbers

import numpy as np
from array_api_compat import array_namespace, device

from ._arrays import is_torch, sigmoid
from ._validation import check_array, check_scalar

_ANY_NDIM = tuple(range(0, 9))

__all__ = [
    "soft_threshold",
    "hard_threshold",
    "sigshrink",
    "project_simplex",
    "sparsemax",
    "sparsemax_jacobian",
]


def _check_threshold(threshold, v, name="lam"):
    """A non-negative scalar, or an array broadcastable against ``v``."""
    if is_torch(threshold) or hasattr(threshold, "__len__"):
        t = check_array(threshold, name, ndim=_ANY_NDIM, like=v)
        if bool(array_namespace(t).any(t < 0)):
            raise ValueError(f"{name} must be non-negative everywhere")
        try:
            shape = np.broadcast_shapes(tuple(t.shape), tuple(v.shape))
        except ValueError:
            shape = None
        if shape != tuple(v.shape):
            raise ValueError(
                f"{name} of shape {tuple(t.shape)} does not broadcast against v of "
                f"shape {tuple(v.shape)}: pass a scalar or an array of v's shape"
            )
        return t
    t = check_scalar(threshold, name, low=0.0)
    # a threshold above the dtype's range acts as its largest number (no overflow)
    return min(t, float(array_namespace(v).finfo(v.dtype).max))


def soft_threshold(v, lam):
    r"""Soft thresholding :math:`S_\lambda(v) = \operatorname{sign}(v)\max(|v| - \lambda, 0)`.

    The proximal operator of :math:`\lambda|\cdot|`, applied elementwise:

    .. math::

        S_\lambda(v) = \arg\min_h \tfrac12 (h - v)^2 + \lambda |h| .

    Derived in the chapter *Soft thresholding and the proximal operator*.

    Parameters
    ----------
    v : array_like or torch.Tensor
        Input of any shape.
    lam : float or array
        :math:`\lambda \ge 0`; an array must broadcast against ``v``.

    Returns
    -------
    Array of the same kind and shape as ``v``.

    Examples
    --------
    >>> soft_threshold([-2.0, -0.5, 0.0, 0.5, 2.0], 1.0)
    array([-1.,  0.,  0.,  0.,  1.])
    """
    v = check_array(v, "v", ndim=_ANY_NDIM, allow_empty=True)
    t = _check_threshold(lam, v)
    return _soft(array_namespace(v), v, t)


def _soft(xp, v, t):
    """Soft thresholding without checks (the solvers' inner loops call it):
    ``v - clip(v, -t, t)`` equals :math:`\\operatorname{sign}(v)\\max(|v| - t, 0)` with
    a single temporary."""
    return v - xp.clip(v, -t, t)


def _soft_scalar(v, t):
    """:func:`_soft` on one number, written for compiled loops (``sparsecoding._fused``
    compiles it): the same formula, ``v - clip(v, -t, t)``, as two selects."""
    c = v if v < t else t
    c = c if c > -t else -t
    return v - c


def hard_threshold(v, lam):
    r"""Hard thresholding :math:`H_\lambda(v) = v\,[|v| > \lambda]`, elementwise.

    The proximal operator of the :math:`\ell_0` penalty
    :math:`\tfrac{\lambda^2}{2}[h \ne 0]`: it keeps large entries unchanged and sets
    the others to zero. Compared with soft thresholding in the chapter *Soft
    thresholding and the proximal operator*.

    Examples
    --------
    >>> hard_threshold([-2.0, -0.5, 0.5, 2.0], 1.0)
    array([-2., -0.,  0.,  2.])
    """
    v = check_array(v, "v", ndim=_ANY_NDIM, allow_empty=True)
    t = _check_threshold(lam, v)
    xp = array_namespace(v)
    return xp.where(xp.abs(v) > t, v, 0 * v)


def sigshrink(v, lam, tau=10.0):
    r"""SigShrink, a smooth surrogate of soft thresholding.

    .. math::

        \operatorname{SigShrink}_{\lambda,\tau}(v) = \frac{v}{1 + e^{-\tau(|v| - \lambda)}} .

    It tends to hard thresholding as :math:`\tau \to \infty` and is differentiable
    everywhere. Discussed in the chapters *Soft thresholding and the proximal
    operator* and *Homotopy and unrolled networks*.

    Parameters
    ----------
    v : array_like or torch.Tensor
    lam : float or array
        :math:`\lambda \ge 0`.
    tau : float
        Steepness :math:`\tau > 0`.

    Examples
    --------
    >>> sigshrink([0.0, 1.0, 3.0], 1.0, tau=10.0).round(4)
    array([0. , 0.5, 3. ])
    """
    v = check_array(v, "v", ndim=_ANY_NDIM, allow_empty=True)
    t = _check_threshold(lam, v)
    tau = check_scalar(tau, "tau", low=0.0, low_inclusive=False)
    xp = array_namespace(v)
    # the logistic function is saturated beyond |tau z| = 1000: clipping z there keeps
    # tau * z from overflowing (a huge lam or tau) without changing the result
    bound = min(1e3 / tau, float(xp.finfo(v.dtype).max))
    return v * sigmoid(tau * xp.clip(xp.abs(v) - t, min=-bound, max=bound))


def project_simplex(v, radius=1.0, axis=-1):
    r"""Euclidean projection onto the simplex, along ``axis``.

    .. math::

        \Pi_\Delta(v) = \arg\min_{w} \|w - v\|_2^2
        \quad\text{subject to}\quad w \ge 0,\ \textstyle\sum_i w_i = r .

    The solution is :math:`w_i = \max(v_i - \tau, 0)` with the threshold :math:`\tau`
    found by sorting (Held, Wolfe and Crowder; Michelot), in
    :math:`O(n \log n)`. Used in the chapter *Sparsemax and constrained problems*.

    Parameters
    ----------
    v : array_like or torch.Tensor
        Points to project; every 1-D slice along ``axis`` is projected.
    radius : float
        :math:`r > 0`, the sum of the projected entries.
    axis : int
        The axis along which the entries sum to ``radius``.

    Examples
    --------
    >>> project_simplex([0.5, 0.0, 1.0])
    array([0.25, 0.  , 0.75])
    """
    return _project_simplex(v, radius, axis, "v")


def _check_axis(axis, ndim):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__} {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return int(axis)


def _project_simplex(v, radius, axis, name):
    v = check_array(v, name, ndim=_ANY_NDIM[1:])
    radius = check_scalar(radius, "radius", low=0.0, low_inclusive=False)
    axis = _check_axis(axis, v.ndim)
    xp = array_namespace(v)
    info = xp.finfo(v.dtype)
    if not float(info.tiny) <= radius <= float(info.max):
        raise ValueError(
            f"radius {radius!r} is outside the range of {str(v.dtype).replace('torch.', '')}"
            f" ({float(info.tiny):.1e} to {float(info.max):.1e}): rescale v and radius"
        )
    moved = xp.moveaxis(v, axis, -1)
    # Shift by the largest entry first (the projection commutes with adding a constant
    # to every entry, which only moves the threshold): the entries near the top, where
    # the support lies, are then computed without cancellation against a large value,
    # and a radius far below the entries' size is not lost in rounding.
    # The shifted entries are clipped at -max (a spread above the dtype's range).
    top = xp.max(moved, axis=-1, keepdims=True)
    big = xp.finfo(v.dtype).max
    moved = xp.clip(moved - top, min=-big)
    u = xp.sort(moved, axis=-1, descending=True)
    css = xp.cumulative_sum(u, axis=-1) - radius
    k = xp.arange(1, u.shape[-1] + 1, dtype=u.dtype, device=device(u))
    support = u - css / k > 0  # true for the first k(v) sorted entries
    n_support = xp.sum(xp.astype(support, xp.int64), axis=-1, keepdims=True)
    tau = xp.take_along_axis(css, n_support - 1, axis=-1) / xp.astype(n_support, u.dtype)
    out = xp.clip(moved - tau, min=0)
    return xp.moveaxis(out, -1, axis)


def sparsemax(z, axis=-1):
    r"""Sparsemax :cite:p:`martins2016sparsemax`: the projection of ``z`` onto the simplex.

    .. math::

        \operatorname{sparsemax}(z) = \arg\min_{p \in \Delta} \|p - z\|_2^2,
        \qquad \operatorname{sparsemax}_i(z) = [z_i - \tau(z)]_+ .

    Unlike softmax, it returns exact zeros. Derived in the chapter *Sparsemax and
    constrained problems*.

    Examples
    --------
    >>> sparsemax([-2.0, 0.0, 0.5])
    array([0.  , 0.25, 0.75])
    """
    return _project_simplex(z, 1.0, axis, "z")


def sparsemax_jacobian(z):
    r"""Jacobian of :func:`sparsemax` at ``z``: :math:`J = \operatorname{diag}(s) - s s^\top / |S(z)|`.

    Here :math:`s` is the indicator vector of the support
    :math:`S(z) = \{i : \operatorname{sparsemax}_i(z) > 0\}` :cite:p:`martins2016sparsemax`. The Jacobian depends on ``z`` only through its support; it is symmetric,
    and :math:`J\mathbf 1 = 0`.

    Parameters
    ----------
    z : array_like or torch.Tensor
        ``(n,)`` or a batch ``(n_points, n)``.

    Returns
    -------
    ``(n, n)``, or ``(n_points, n, n)`` for a batch.

    Examples
    --------
    >>> sparsemax_jacobian([-2.0, 0.0, 0.5])
    array([[ 0. ,  0. ,  0. ],
           [ 0. ,  0.5, -0.5],
           [ 0. , -0.5,  0.5]])
    """
    z = check_array(z, "z", ndim=(1, 2))
    p = sparsemax(z, axis=-1)
    xp = array_namespace(z)
    s = xp.astype(p > 0, p.dtype)
    n_support = xp.sum(s, axis=-1, keepdims=True)
    outer = s[..., :, None] * s[..., None, :] / n_support[..., None]
    diag = s[..., :, None] * xp.eye(z.shape[-1], dtype=p.dtype, device=device(p))
    return diag - outer
