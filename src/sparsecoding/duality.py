r"""Optimality certificates for the lasso: the dual problem and the duality gap.

For one signal :math:`x` the lasso (the *primal* problem) is

.. math::

    P(h) = \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 .

Its Fenchel dual is

.. math::

    \max_\theta \; \mathcal{D}(\theta) = \tfrac12\|x\|_2^2 - \tfrac12\|x - \theta\|_2^2
    \quad\text{subject to}\quad \|D^\top\theta\|_\infty \le \lambda ,

and at the optimum :math:`\theta^\star = x - D h^\star`, the residual. Any code
:math:`h` gives a dual-feasible point by rescaling its residual :math:`r = x - Dh`,

.. math::

    \theta(h) = s\, r, \qquad s = \min\!\left(1, \frac{\lambda}{\|D^\top r\|_\infty}\right),

and the *duality gap* :math:`P(h) - \mathcal{D}(\theta(h)) \ge P(h) - P^\star \ge 0`
bounds how far :math:`h` is from optimal, without knowing :math:`P^\star`: a
certificate. It is zero exactly at a solution :cite:p:`hastie2015statistical,fercoq2015mind` (the first, chapter 5). The chapter *Optimality and duality*
derives it.

Every lasso solver of the package uses one stopping rule built on it: a signal is
solved when its **relative duality gap**

.. math::

    \frac{P(h) - \mathcal{D}(\theta(h))}{P(0)}, \qquad P(0) = \tfrac12\|x\|_2^2 ,

is at most ``tol``. With :math:`\lambda = 0` (least squares) the dual feasible set is
:math:`D^\top\theta = 0` and the rescaled residual certifies nothing; there the rule is
the optimality (KKT) residual :math:`\|D^\top r\|_\infty \le` ``tol``
:math:`\cdot\|D^\top x\|_\infty`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from array_api_compat import array_namespace

from ._validation import (
    check_array,
    check_codes_scale,
    check_dictionary_and_signals,
    check_scalar,
)

__all__ = ["DualityGap", "duality_gap", "gap_safe_screen", "kkt_violation"]


@dataclass
class DualityGap:
    """Per-signal optimality certificates of codes ``H`` (arrays of the kind of ``X``).

    Attributes
    ----------
    gap : array, ``(n_signals,)``
        :math:`P(h) - \\mathcal{D}(\\theta(h)) \\ge 0`.
    relative : array, ``(n_signals,)``
        ``gap / P(0)`` with :math:`P(0) = \\tfrac12\\|x\\|^2` (zero for a zero signal).
    primal : array, ``(n_signals,)``
        :math:`P(h)`.
    dual : array, ``(n_signals,)``
        :math:`\\mathcal{D}(\\theta(h))`, a lower bound on :math:`P^\\star`.
    dual_point : array, ``(n_signals, n_features)``
        :math:`\\theta(h)`, one row per signal.
    """

    gap: object
    relative: object
    primal: object
    dual: object
    dual_point: object


def _check(D, X, H, lam):
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    H = check_codes_scale(check_array(H, "H", ndim=(1, 2), like=X2), D)
    H2 = H.reshape(1, -1) if H.ndim == 1 else H
    if tuple(H2.shape) != (X2.shape[0], D.shape[1]):
        raise ValueError(
            f"H must have shape {(X2.shape[0], D.shape[1])} (n_signals, n_atoms) to "
            f"match X and D, got {tuple(H.shape)}"
        )
    lam = check_scalar(lam, "lam", low=0.0)
    return D, X2, H2, lam, squeeze


def gap_from_residual(xp, X, R, C, l1, lam):
    """The gap from the residuals ``R = X - H D^T``, correlations ``C = R D`` and
    ``l1 = sum |H|`` per row (the form the solvers call: no product recomputed).

    Returns ``gap, relative, primal, dual, scale`` (one value per row). Work in the
    dtype of the inputs; the sums are accumulated by the array library.
    """
    half_xx = 0.5 * xp.sum(X * X, axis=1)
    rr = xp.sum(R * R, axis=1)
    xr = xp.sum(X * R, axis=1)
    cmax = xp.max(xp.abs(C), axis=1)
    return gap_from_sums(xp, half_xx, rr, xr, cmax, l1, lam)


def gap_from_sums(xp, half_xx, rr, xr, cmax, l1, lam):
    """:func:`gap_from_residual` from per-row sums only: ``half_xx`` = |x|^2 / 2,
    ``rr`` = |r|^2, ``xr`` = x.r, ``cmax`` = |D^T r|_inf and ``l1`` = |h|_1 (a solver
    that keeps ``D^T D h`` instead of the residual has these without a product).

    Returns ``gap, relative, primal, dual, scale`` (one value per row).
    """
    primal = 0.5 * rr + lam * l1
    one = xp.ones_like(cmax)
    if lam > 0:
        safe = xp.where(cmax > lam, cmax, one)
        scale = xp.where(cmax > lam, lam / safe, one)
    else:  # only a residual orthogonal to every atom is feasible
        scale = xp.where(cmax > 0, 0 * one, one)
    # D(s r) = s x.r - s^2 |r|^2 / 2
    dual = scale * xr - 0.5 * scale * scale * rr
    gap = primal - dual
    gap = xp.where(gap > 0, gap, 0 * gap)
    safe_den = xp.where(half_xx > 0, half_xx, one)
    relative = xp.where(half_xx > 0, gap / safe_den, 0 * gap)
    return gap, relative, primal, dual, scale


def duality_gap(D, X, H, lam):
    r"""The duality gap of codes ``H``: a certificate of how far they are from optimal.

    For each signal :math:`x` and code :math:`h`, with the residual :math:`r = x - Dh`
    rescaled into the dual feasible set,
    :math:`\theta = \min(1, \lambda/\|D^\top r\|_\infty)\, r`,

    .. math::

        \operatorname{gap}(h) = \tfrac12\|x - Dh\|^2 + \lambda\|h\|_1
        - \left(\tfrac12\|x\|^2 - \tfrac12\|x - \theta\|^2\right)
        \;\ge\; P(h) - P^\star \;\ge\; 0 .

    Derived in the chapter *Optimality and duality* :cite:p:`hastie2015statistical` (chapter 5).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    H : ``(n_signals, n_atoms)`` or ``(n_atoms,)``, the codes to certify
    lam : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    DualityGap
        ``gap``, ``relative`` (the gap divided by :math:`\tfrac12\|x\|^2`, the objective
        of the zero code), ``primal``, ``dual`` and ``dual_point``; per signal, or
        scalars and one vector for a single signal.

    Examples
    --------
    >>> import numpy as np
    >>> D, x = np.eye(2), np.array([2.0, -0.5])
    >>> float(duality_gap(D, x, np.array([1.0, 0.0]), 1.0).gap)  # the solution
    0.0
    >>> float(duality_gap(D, x, np.zeros(2), 1.0).gap)  # zero: P = 2.125, dual = 1.59375
    0.53125
    """
    D, X2, H2, lam, squeeze = _check(D, X, H, lam)
    xp = array_namespace(X2)
    R = X2 - H2 @ D.T
    C = R @ D
    l1 = xp.sum(xp.abs(H2), axis=1)
    gap, rel, primal, dual, scale = gap_from_residual(xp, X2, R, C, l1, lam)
    theta = scale[:, None] * R
    if squeeze:
        return DualityGap(gap[0], rel[0], primal[0], dual[0], theta[0])
    return DualityGap(gap, rel, primal, dual, theta)


def kkt_violation(D, X, H, lam):
    r"""How far codes are from the lasso's optimality (KKT) conditions, per signal.

    :math:`h` solves the lasso exactly when the correlations of its residual
    :math:`c = D^\top(x - Dh)` satisfy :math:`c_j = \lambda\operatorname{sign}(h_j)`
    where :math:`h_j \ne 0` and :math:`|c_j| \le \lambda` where :math:`h_j = 0`
    (chapter *Optimality and duality*). Returns the largest violation

    .. math::

        \max\Big(\max_{h_j \ne 0} |c_j - \lambda\operatorname{sign}(h_j)|,\;
        \max_{h_j = 0} (|c_j| - \lambda)_+\Big)

    divided by :math:`\|D^\top x\|_\infty` (zero for a signal orthogonal to every atom).

    Examples
    --------
    >>> import numpy as np
    >>> float(kkt_violation(np.eye(2), np.array([2.0, 0.5]), np.array([1.0, 0.0]), 1.0))
    0.0
    >>> float(kkt_violation(np.eye(2), np.array([2.0, 0.5]), np.array([0.0, 0.0]), 1.0))
    0.5
    """
    D, X2, H2, lam, squeeze = _check(D, X, H, lam)
    xp = array_namespace(X2)
    C = (X2 - H2 @ D.T) @ D
    sign = xp.sign(H2)
    on = xp.abs(C - lam * sign)
    off = xp.abs(C) - lam
    off = xp.where(off > 0, off, 0 * off)
    viol = xp.where(H2 != 0, on, off)
    worst = xp.max(viol, axis=1)
    scale = xp.max(xp.abs(X2 @ D), axis=1)
    one = xp.ones_like(scale)
    rel = xp.where(scale > 0, worst / xp.where(scale > 0, scale, one), 0 * worst)
    rel = rel + 0.0  # no negative zero
    return rel[0] if squeeze else rel


def gap_safe_screen(D, X, H, lam):
    r"""Find the atoms that are zero in every lasso solution: the gap-safe sphere test.

    The dual objective :math:`\mathcal{D}(\theta) = \tfrac12\|x\|^2 -
    \tfrac12\|x - \theta\|^2` is 1-strongly concave, so every dual-feasible
    :math:`\theta` satisfies
    :math:`\tfrac12\|\theta - \theta^\star\|^2 \le \mathcal{D}(\theta^\star) -
    \mathcal{D}(\theta) \le P(h) - \mathcal{D}(\theta)`: the dual optimum
    :math:`\theta^\star = x - Dh^\star` lies in the ball of centre
    :math:`\theta(h)` (the rescaled residual of any code :math:`h`) and radius
    :math:`\rho = \sqrt{2\,\operatorname{gap}(h)}`. Since
    :math:`|d_j^\top\theta^\star| < \lambda` forces :math:`h^\star_j = 0` in every
    solution (KKT conditions), atom :math:`j` can be removed when

    .. math::

        |d_j^\top\theta(h)| + \rho\,\|d_j\|_2 < \lambda .

    The test is *safe*: it never removes an atom that is active at the optimum, whatever
    ``H`` is; the closer ``H`` is to optimal, the smaller :math:`\rho` and the more atoms
    it removes :cite:p:`fercoq2015mind`. In floating point the gap is raised
    by a few units of rounding of :math:`P(h)` and :math:`\lambda` lowered by as much,
    so that rounding cannot remove an active atom. Derived and measured in the chapter
    *Optimality and duality*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    H : ``(n_signals, n_atoms)`` or ``(n_atoms,)``, any codes (zeros are allowed)
    lam : float
        :math:`\lambda \ge 0`; with :math:`\lambda = 0` nothing is screened.

    Returns
    -------
    array of bool
        The mask, of the kind of ``X``, ``(n_signals, n_atoms)`` or ``(n_atoms,)``:
        ``True`` where the atom is zero in every solution for that signal.

    Examples
    --------
    >>> import numpy as np
    >>> D, x = np.eye(3), np.array([3.0, 0.2, -0.1])
    >>> gap_safe_screen(D, x, np.array([2.0, 0.0, 0.0]), 1.0)  # the solution
    array([False,  True,  True])
    >>> gap_safe_screen(D, x, np.zeros(3), 1.0)  # far from it: nothing is safe
    array([False, False, False])
    """
    D, X2, H2, lam, squeeze = _check(D, X, H, lam)
    xp = array_namespace(X2)
    R = X2 - H2 @ D.T
    C = R @ D
    l1 = xp.sum(xp.abs(H2), axis=1)
    gap, _, _, _, scale = gap_from_residual(xp, X2, R, C, l1, lam)
    # rounding: the computed gap of an optimal code is zero while its true value may be
    # a few ulps of P(0) = |x|^2 / 2; widen the sphere and shrink lam by as much
    eps = 64.0 * float(xp.finfo(X2.dtype).eps)
    floor = eps * (0.5 * xp.sum(X2 * X2, axis=1) + lam * l1)
    radius = xp.sqrt(2.0 * (gap + floor))
    norms = xp.sqrt(xp.sum(D * D, axis=0))
    score = xp.abs(scale[:, None] * C) + radius[:, None] * norms[None, :]
    mask = score < lam * (1.0 - eps)
    return mask[0] if squeeze else mask
