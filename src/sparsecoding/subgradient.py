r"""Subgradients of the lasso objective and the subgradient method.

For the lasso objective

.. math::

    F(h) = \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 ,

the subdifferential at :math:`h` is the box

.. math::

    \partial F(h) = \left\{ D^\top(Dh - x) + \lambda s \;:\;
    s_i = \operatorname{sign}(h_i) \text{ if } h_i \ne 0,\;
    s_i \in [-1, 1] \text{ if } h_i = 0 \right\}.

Its element of smallest norm is the steepest-descent direction (with a minus sign);
an arbitrary element need not even be a descent direction. The chapter *Subgradients
and steepest descent* explains both, and compares the subgradient method with ISTA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from array_api_compat import array_namespace, device

from ._arrays import no_grad, to_numpy
from ._validation import (
    DivergenceError,
    check_choice,
    check_dictionary_and_signals,
    check_scalar,
)
from .prox import _soft
from .solvers import SolverResult, _check_codes, _lasso_values, lipschitz_constant

__all__ = ["lasso_subgradient", "lasso_subdifferential_min_norm", "subgradient_method",
           "SubgradientResult"]


@dataclass
class SubgradientResult(SolverResult):
    """The result of :func:`subgradient_method`, with its running best objective.

    A :class:`~sparsecoding.SolverResult` and the record a method without a stopping
    rule needs.

    Attributes
    ----------
    best_objective : numpy.ndarray
        ``best_objective[k]``: the smallest objective each signal reached in the first
        ``k`` iterations, summed over signals (float64, monotone).
    step : str
        The rule of the step sizes.
    step_size : float
        The first step :math:`\\eta_0`.
    """

    best_objective: np.ndarray = None
    step: str = None
    step_size: float = None


def lasso_subgradient(D, X, H, lam):
    r"""One subgradient of the lasso objective: :math:`D^\top(Dh - x) + \lambda\operatorname{sign}(h)`.

    With :math:`\operatorname{sign}(0) = 0`, this is the element of
    :math:`\partial F(h)` that takes :math:`s_i = 0` on the zero coordinates, the
    choice most subgradient codes make. It is a valid subgradient, but in general not
    a descent direction (chapter *Subgradients and steepest descent*).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    H : codes, ``(n_signals, n_atoms)`` or ``(n_atoms,)``
    lam : float, :math:`\lambda \ge 0`

    Returns
    -------
    Array of the kind and shape of ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> lasso_subgradient(np.eye(2), np.array([1.0, 0.2]), np.array([0.0, 0.0]), 0.5)
    array([-1. , -0.2])
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    H2 = _check_codes(H, X2, D)
    lam = check_scalar(lam, "lam", low=0.0)
    xp = array_namespace(X2)
    G = (H2 @ D.T - X2) @ D + lam * xp.sign(H2)
    return G[0] if squeeze else G


def lasso_subdifferential_min_norm(D, X, H, lam):
    r"""The element of smallest norm of the lasso subdifferential :math:`\partial F(h)`.

    With :math:`g = D^\top(Dh - x)` the gradient of the smooth part, the
    minimum-norm subgradient is, coordinate by coordinate,

    .. math::

        v_i = \begin{cases}
            g_i + \lambda\operatorname{sign}(h_i) & h_i \ne 0, \\
            \operatorname{sign}(g_i)\max(|g_i| - \lambda, 0) & h_i = 0,
        \end{cases}

    that is, on a zero coordinate the gradient is shrunk towards zero by
    :math:`\lambda` (it is soft thresholding of :math:`g_i`). :math:`-v` is the
    direction of steepest descent of :math:`F` at :math:`h`, and :math:`v = 0`
    exactly at a minimiser. Chapter *Subgradients and steepest descent*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    H : codes, ``(n_signals, n_atoms)`` or ``(n_atoms,)``
    lam : float, :math:`\lambda \ge 0`

    Returns
    -------
    Array of the kind and shape of ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(3)
    >>> x = np.array([1.0, 0.2, -2.0])
    >>> h = np.array([0.5, 0.0, 0.0])
    >>> lasso_subdifferential_min_norm(D, x, h, 0.5)
    array([0. , 0. , 1.5])
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    H2 = _check_codes(H, X2, D)
    lam = check_scalar(lam, "lam", low=0.0)
    xp = array_namespace(X2)
    V = _min_norm(xp, (H2 @ D.T - X2) @ D, H2, lam)
    return V[0] if squeeze else V


def _min_norm(xp, G, H, lam):
    """The minimum-norm subgradient from the gradient ``G`` of the smooth part."""
    # off the support, soft thresholding of the gradient
    return xp.where(H != 0, G + lam * xp.sign(H), _soft(xp, G, lam))


def subgradient_method(D, X, lam, *, max_iter=1000, step="diminishing",
                       step_size=None, direction="sign", init=None):
    r"""The subgradient method for the lasso: :math:`h_{k+1} = h_k - \eta_k v_k`.

    Minimises :math:`F(h) = \tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1` for every row of
    ``X`` by stepping against a subgradient :math:`v_k \in \partial F(h_k)`. With
    diminishing steps :math:`\eta_k = \eta_0/\sqrt{k}` the best objective so far
    converges at the slow rate :math:`O(1/\sqrt{k})`, and the iterates are (almost)
    never exactly sparse: no step lands exactly on zero. It is the baseline that ISTA
    improves on (chapter *Subgradients and steepest descent*).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float, :math:`\lambda \ge 0`
    max_iter : int
        Number of iterations (there is no stopping rule: a subgradient does not
        vanish near a kink, so its size says nothing about convergence).
    step : ``"diminishing"``, ``"square_summable"`` or ``"constant"``
        :math:`\eta_k = \eta_0/\sqrt{k}`, :math:`\eta_0/k`, or :math:`\eta_0`.
    step_size : float, optional
        :math:`\eta_0 > 0`; :math:`1/L` with :math:`L = \|D\|_2^2` by default.
    direction : ``"sign"`` or ``"min_norm"``
        The subgradient used: :func:`lasso_subgradient` (:math:`\operatorname{sign}(0)
        = 0`) or :func:`lasso_subdifferential_min_norm`.
    init : array, optional
        Starting codes, shaped like the result; zero by default.

    Returns
    -------
    SubgradientResult
        ``objective[k]`` is the objective summed over signals at the ``k``-th iterate
        (not monotone); ``best_objective`` holds the running minimum per signal,
        summed. ``converged`` is always False.

    Examples
    --------
    >>> import numpy as np
    >>> res = subgradient_method(np.eye(2), np.array([2.0, 0.1]), 0.5, max_iter=2000)
    >>> bool(np.abs(res.codes - [1.5, 0.0]).max() < 0.02)  # close to the solution
    True
    >>> bool(res.codes[1] == 0)  # but not exactly sparse
    False
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = check_scalar(lam, "lam", low=0.0)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    check_choice(step, "step", ("diminishing", "square_summable", "constant"))
    check_choice(direction, "direction", ("sign", "min_norm"))
    if step_size is None:
        L = lipschitz_constant(D)
        eta0 = 1.0 / L if L > 0 else 1.0
    else:
        eta0 = check_scalar(step_size, "step_size", low=0.0, low_inclusive=False)
    xp = array_namespace(X2)
    n_signals, n_atoms = X2.shape[0], D.shape[1]
    if init is None:
        H = xp.zeros((n_signals, n_atoms), dtype=X2.dtype, device=device(X2))
    else:
        H = xp.asarray(_check_codes(init, X2, D, name="init"), copy=True)
    with no_grad(X2, H):
        F = _lasso_values(xp, D, X2, H, lam)
        best = F
        history, best_history = [xp.sum(F)], [xp.sum(best)]
        for k in range(1, max_iter + 1):
            G = (H @ D.T - X2) @ D
            if direction == "sign":
                V = G + lam * xp.sign(H)
            else:
                V = _min_norm(xp, G, H, lam)
            if step == "diminishing":
                eta = eta0 / np.sqrt(k)
            elif step == "square_summable":
                eta = eta0 / k
            else:
                eta = eta0
            H = H - eta * V
            F = _lasso_values(xp, D, X2, H, lam)
            best = xp.where(F < best, F, best)
            history.append(xp.sum(F))
            best_history.append(xp.sum(best))
    history = to_numpy(xp.stack(history)).astype(np.float64)
    best_history = to_numpy(xp.stack(best_history)).astype(np.float64)
    if not np.isfinite(history).all():  # divergence guard
        raise DivergenceError(
            f"the subgradient method diverged (the objective overflowed) with the first "
            f"step {eta0:.3g}: use a smaller step_size (1 / ||D||_2^2 by default), or "
            "rescale lam, D and X")
    return SubgradientResult(
        codes=H[0] if squeeze else H,
        objective=history,
        n_iter=max_iter,
        converged=False,
        best_objective=best_history,
        step=step,
        step_size=eta0,
    )
