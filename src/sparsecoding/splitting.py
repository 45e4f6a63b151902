r"""Coordinate descent and ADMM for the lasso.

Both minimise, for each signal :math:`x` (a row of ``X``) independently,

.. math::

    F(h) = \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 ,

with the contract of ``sparsecoding.solvers``: ``solver(D, X, lam, *, max_iter,
tol)`` returns a :class:`~sparsecoding.solvers.SolverResult` whose codes have the kind,
device and dtype of ``X``, and ``tol`` is the book's single stopping rule: every
signal's relative duality gap :math:`\operatorname{gap}(h)/(\tfrac12\|x\|^2)` at most
``tol`` (:func:`sparsecoding.duality.gap_from_residual`; for :math:`\lambda = 0` the
optimality residual :math:`\|D^\top r\|_\infty \le` ``tol``
:math:`\cdot\|D^\top x\|_\infty`).

* :func:`sparsecoding.coordinate_descent` minimises over one coefficient at a time, the method of
  glmnet and of scikit-learn's ``Lasso`` :cite:p:`friedman2007pathwise,friedman2010glmnet`.
* :func:`sparsecoding.admm` splits :math:`h = z` and alternates a ridge solve, a soft thresholding
  and a dual update :cite:p:`boyd2011admm`.

Both are batched: every step acts on all signals at once. The chapter *Coordinate
descent and ADMM* derives them and measures them against ISTA, FISTA and the homotopy.
"""

from __future__ import annotations

import numpy as np

from array_api_compat import array_namespace, is_torch_namespace

from ._validation import (
    DivergenceError,
    check_dictionary_and_signals,
    check_scalar,
)
from .duality import gap_from_residual
from .prox import soft_threshold
from .solvers import SolverResult, _check_codes, _relative_kkt

__all__ = ["coordinate_descent", "admm"]

#: The active set has settled when a restricted gap falls below this fraction of the
#: full gap (measured on image patches and a random dictionary: 0.1 to 0.9 give about
#: the same work; waiting until every restricted problem was solved cost 4 to 5 times more).
_SETTLE = 0.5


# --------------------------------------------------------------------------------------
# Shared pieces: validation, the stopping rule
# --------------------------------------------------------------------------------------


def _check_common(D, X, lam, max_iter, tol, init):
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = check_scalar(lam, "lam", low=0.0)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    if init is not None:
        init = _check_codes(init, X2, D, "init")
    return D, X2, squeeze, lam, max_iter, tol, init


def _certificate(xp, X, D, H, C, lam, lam_max):
    """Per-signal relative optimality measure (the book's stopping rule) and objective.

    ``C`` are the correlations :math:`D^\\top r` of the residuals, one row per signal
    (recomputed exactly when ``None``). Returns ``relative, primal``.
    """
    R = X - H @ D.T
    if C is None:
        C = R @ D
    l1 = xp.sum(xp.abs(H), axis=1)
    _, relative, primal, _, _ = gap_from_residual(xp, X, R, C, l1, lam)
    if lam == 0:  # least squares: the KKT residual relative to ||D^T x||_inf
        relative = _relative_kkt(xp, xp.max(xp.abs(C), axis=1), lam_max)
    return relative, primal


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _rows(xp, A):
    """A row-major copy of ``A`` (rows of the transposed codes are then contiguous)."""
    out = xp.zeros(A.shape, dtype=A.dtype, device=A.device)
    out[...] = A
    return out


def _finish(xp, H, history, n_iter, converged, squeeze, extra):
    for v in history:
        if not np.isfinite(v):
            raise DivergenceError(
                f"{extra['solver']} diverged: the objective became {v} (check the "
                "scale of X and D, and rho for admm)"
            )
    return SolverResult(
        codes=H[0] if squeeze else H,
        objective=np.asarray(history, dtype=np.float64),
        n_iter=n_iter,
        converged=converged,
        extra=extra,
    )


# --------------------------------------------------------------------------------------
# Coordinate descent
# --------------------------------------------------------------------------------------


def _sweep(xp, Ht, Ct, G, diag, coords, lam):
    """One cyclic pass over ``coords``, all signals at once (codes stored transposed).

    ``Ht`` is ``(n_atoms, n_signals)``, ``Ct = (D^T r)`` for every signal, same shape.
    Coordinate ``j`` moves to the minimiser of :math:`F` along :math:`e_j`,
    :math:`h_j \\leftarrow S_{\\lambda/G_{jj}}(h_j + c_j/G_{jj})`, and the correlations
    follow by the covariance update :math:`c \\leftarrow c - G_{:,j}\\,\\delta`.
    """
    n_signals = Ht.shape[1]
    for j in coords:
        g = diag[j]
        old = Ht[j, :]
        new = soft_threshold(old + Ct[j, :] / g, lam / g)
        delta = new - old
        changed = xp.nonzero(delta)[0]
        n_changed = int(changed.shape[0])
        if n_changed == 0:
            continue
        Ht[j, :] = new
        if 4 * n_changed < n_signals:  # few signals moved: update only their columns
            Ct[:, changed] = Ct[:, changed] - G[:, j:j + 1] * delta[changed][None, :]
        else:
            Ct -= G[:, j:j + 1] * delta[None, :]


def coordinate_descent(D, X, lam, *, max_iter=1000, tol=1e-6, init=None,
                       active_set=True):
    r"""Cyclic coordinate descent for the lasso, with the covariance update and active sets.

    Minimises :math:`F(h) = \tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1` for every row of
    ``X`` one coefficient at a time. Along coordinate :math:`j` the problem is a
    one-dimensional lasso whose solution is a soft thresholding of the partial
    residual's correlation,

    .. math::

        h_j \leftarrow \frac{1}{\|d_j\|^2}\,
        S_\lambda\!\big(d_j^\top(x - D h) + \|d_j\|^2 h_j\big)
        = S_{\lambda/G_{jj}}\!\left(h_j + \frac{c_j}{G_{jj}}\right),

    where :math:`c = D^\top(x - Dh)` and :math:`G = D^\top D`. The *covariance update*
    keeps :math:`c` current with one column of :math:`G` per changed coefficient,
    :math:`c \leftarrow c - G_{:,j}(h_j^{\text{new}} - h_j)`, so a sweep costs
    :math:`O(k^2)` per signal whatever the number of features :cite:p:`friedman2007pathwise,friedman2010glmnet`. *Active
    sets*: after a full sweep, sweeps visit only the coefficients that are nonzero
    (for some signal of the batch) until the active set has settled, that is until,
    for some unsolved signal, the duality gap of the problem restricted to the active
    atoms is below half of its full gap (the atoms left out are then what keeps the
    gap open); a full sweep then lets new coefficients enter. All signals are
    updated together: coordinate :math:`j` of every signal in one vector operation.
    Derived in the chapter *Coordinate descent and ADMM*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        The dictionary, one atom per column. Atoms of norm zero get zero coefficients.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        The signals, one per row.
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    max_iter : int
        Largest number of sweeps (full or over the active set).
    tol : float
        Stop when every signal's relative duality gap
        :math:`\operatorname{gap}(h)/(\tfrac12\|x\|^2)` is at most ``tol``
        (``sparsecoding.duality``); for :math:`\lambda = 0`, when
        :math:`\|D^\top r\|_\infty \le` ``tol`` :math:`\cdot\|D^\top x\|_\infty`.
    init : array, optional
        Starting codes (warm start), shaped like the result; zero by default.
    active_set : bool
        Use active-set sweeps (default) or only full sweeps.

    Returns
    -------
    SolverResult
        ``objective[k]`` is :math:`\sum_i F(h_i)` after ``k`` sweeps;
        ``extra["full_sweeps"]`` counts the full sweeps and ``extra["relative_gap"]``
        holds the final relative gap of every signal (float64 NumPy array).

    Examples
    --------
    >>> import numpy as np
    >>> coordinate_descent(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0).codes
    array([ 1. ,  0. , -0.5])
    """
    D, X2, squeeze, lam, max_iter, tol, init = _check_common(D, X, lam, max_iter, tol,
                                                            init)
    active_set = _check_bool(active_set, "active_set")
    xp = array_namespace(X2)
    n_atoms = D.shape[1]
    G = D.T @ D
    B = X2 @ D
    lam_max = xp.max(xp.abs(B), axis=1)
    diag = [float(v) for v in xp.linalg.diagonal(G)]
    usable = [j for j in range(n_atoms) if diag[j] > 0]
    if init is None:
        Ht = xp.zeros((n_atoms, X2.shape[0]), dtype=X2.dtype, device=X2.device)
        Ct = _rows(xp, B.T)
    else:
        Ht = _rows(xp, init.T)
        unused = [j for j in range(n_atoms) if diag[j] == 0]
        if unused:  # the coefficient of a zero atom does nothing: zero is optimal
            Ht[unused, :] = 0
        Ct = _rows(xp, B.T - G @ Ht)

    relative, primal = _certificate(xp, X2, D, Ht.T, Ct.T, lam, lam_max)
    history = [float(xp.sum(primal))]
    converged = bool(xp.all(relative <= tol))
    full = True
    n_full = n_updates = 0
    k = 0
    while not converged and k < max_iter:
        k += 1
        if full:
            coords = usable
            n_full += 1
        else:
            nonzero = xp.any(Ht != 0, axis=1)
            coords = [j for j in usable if bool(nonzero[j])]
        _sweep(xp, Ht, Ct, G, diag, coords, lam)
        n_updates += len(coords)
        if full:  # the correlations drift by rounding: refresh them at every full sweep
            Ct = _rows(xp, B.T - G @ Ht)
        relative, primal = _certificate(xp, X2, D, Ht.T, Ct.T, lam, lam_max)
        history.append(float(xp.sum(primal)))
        if not bool(xp.all(relative <= tol)):
            if not active_set:
                full = True
            elif full:
                full = False
            else:
                # the active set has settled when, for some unsolved signal, the gap
                # computed with the active correlations only is well below the full one
                mask = xp.asarray([bool(nonzero[j]) and diag[j] > 0
                                   for j in range(n_atoms)], device=X2.device)
                Ca = xp.where(mask[:, None], Ct, 0 * Ct)
                rel_a, _ = _certificate(xp, X2, D, Ht.T, Ca.T, lam, lam_max)
                full = bool(xp.any((rel_a <= _SETTLE * relative) & (relative > tol)))
            continue
        # every signal meets the rule with the running correlations: confirm with
        # exact ones (the certificate must not rest on accumulated rounding)
        relative, primal = _certificate(xp, X2, D, Ht.T, None, lam, lam_max)
        converged = bool(xp.all(relative <= tol))
        if not converged:
            Ct = _rows(xp, B.T - G @ Ht)
            full = True
    H = _rows(xp, Ht.T)
    rel_np = np.asarray([float(v) for v in relative], dtype=np.float64)
    return _finish(xp, H, history, k, converged, squeeze,
                   {"solver": "coordinate_descent", "full_sweeps": n_full,
                    "coordinate_updates": n_updates,
                    "relative_gap": rel_np})


# --------------------------------------------------------------------------------------
# ADMM
# --------------------------------------------------------------------------------------


def _triangular_solve(xp, L, B, *, lower, transpose=False):
    """Solve ``L Y = B`` (or ``L^T Y = B``) for a triangular ``L``.

    The array API standard has no triangular solve; this is the one place that asks
    the array library for its own (SciPy's for NumPy arrays, ``torch.linalg``'s for
    tensors).
    """
    if is_torch_namespace(xp):
        import torch

        M = L.T if transpose else L
        return torch.linalg.solve_triangular(M, B, upper=(lower == transpose))
    from scipy.linalg import solve_triangular

    return solve_triangular(L, B, lower=lower, trans=1 if transpose else 0,
                            check_finite=False)


class _RidgeSolver:
    r"""Solves :math:`(D^\top D + \rho I)\, h = q` for many right-hand sides with a
    cached Cholesky factor.

    With more atoms than features (:math:`k > m`) it factors the smaller
    :math:`m \times m` matrix :math:`I + DD^\top/\rho` and applies the matrix inversion
    lemma,

    .. math::

        (D^\top D + \rho I)^{-1} q
        = \frac1\rho\Big(q - D^\top \big(I + DD^\top/\rho\big)^{-1} \frac{Dq}{\rho}\Big).
    """

    def __init__(self, xp, D, rho):
        self.xp, self.D, self.rho = xp, D, rho
        m, k = D.shape
        self.small = k > m
        if self.small:
            M = D @ D.T / rho + xp.eye(m, dtype=D.dtype, device=D.device)
        else:
            M = D.T @ D + rho * xp.eye(k, dtype=D.dtype, device=D.device)
        self.L = xp.linalg.cholesky(M)

    def _solve(self, Q):  # rows of Q are right-hand sides
        xp = self.xp
        Y = _triangular_solve(xp, self.L, Q.T, lower=True)
        return _triangular_solve(xp, self.L, Y, lower=True, transpose=True).T

    def __call__(self, Q):
        if not self.small:
            return self._solve(Q)
        rho, D = self.rho, self.D
        S = self._solve((Q @ D.T) / rho)
        return (Q - S @ D) / rho


def _default_rho(xp, D, lam_max_all, lam):
    r"""The default penalty: :math:`\rho = \lambda` clipped to
    :math:`[10^{-3}, 1]\cdot\|D\|_F^2/k`, the mean squared atom norm.

    Scaling :math:`D \to cD` scales the best :math:`\rho` by :math:`c^2` and the
    signals' scale enters through :math:`\lambda`; the chapter *Coordinate descent
    and ADMM* measures the number of iterations against :math:`\rho`.
    """
    scale = float(xp.sum(D * D)) / D.shape[1]
    if scale == 0:
        return 1.0
    rho = lam if lam > 0 else scale
    return float(min(max(rho, 1e-3 * scale), scale))


def admm(D, X, lam, *, rho=None, max_iter=1000, tol=1e-6, init=None,
         adaptive_rho=True, mu=10.0, tau=2.0):
    r"""ADMM for the lasso, splitting :math:`h = z` :cite:p:`boyd2011admm` (section 6.4).

    The lasso is written as :math:`\min_{h,z} \tfrac12\|x - Dh\|^2 + \lambda\|z\|_1`
    subject to :math:`h = z`. With the scaled dual variable :math:`u` and the
    penalty :math:`\rho > 0` of the augmented Lagrangian
    :math:`\tfrac12\|x - Dh\|^2 + \lambda\|z\|_1 + \tfrac\rho2\|h - z + u\|^2`,
    each iteration minimises over :math:`h`, then over :math:`z`, then takes a dual
    ascent step:

    .. math::

        h &\leftarrow (D^\top D + \rho I)^{-1}\big(D^\top x + \rho (z - u)\big), \\
        z &\leftarrow S_{\lambda/\rho}(h + u), \\
        u &\leftarrow u + h - z .

    The :math:`h`-update is a ridge solve with a matrix that does not change: its
    Cholesky factor is computed once (of :math:`I + DD^\top/\rho`, by the matrix
    inversion lemma, when atoms outnumber features). The returned codes are
    :math:`z`, which are exactly sparse; the stopping rule and the objective are
    evaluated at :math:`z`. :math:`\rho` trades the two: a large :math:`\rho` keeps
    :math:`h` close to :math:`z` (small primal residual :math:`h - z`) but moves
    :math:`z` slowly (large dual residual :math:`\rho(z - z_{\text{prev}})`), a small
    one the reverse. With ``adaptive_rho`` the penalty is rebalanced during the run
    (residual balancing, :cite:t:`boyd2011admm`, section 3.4.1): multiplied by ``tau`` when
    the primal residual exceeds ``mu`` times the dual one, divided by ``tau`` in the
    opposite case (the factor is refactored, :math:`u` rescaled).
    Derived in the chapter *Coordinate descent and ADMM*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        The dictionary, one atom per column.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        The signals, one per row.
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    rho : float, optional
        The penalty :math:`\rho > 0`. By default :math:`\lambda`, clipped to
        :math:`[10^{-3}, 1]` times the mean squared norm of the atoms (the choice is
        measured in the chapter).
    max_iter : int
        Largest number of iterations.
    tol : float
        Stop when every signal's relative duality gap at :math:`z` is at most ``tol``
        (as :func:`sparsecoding.coordinate_descent`).
    init : array, optional
        Starting codes :math:`z_0` (warm start), shaped like the result; zero by
        default. The scaled dual starts at
        :math:`u_0 = \Pi_{[-\lambda,\lambda]}(D^\top(x - Dz_0))/\rho`, the
        correlations of the residual clipped to the dual feasible box, which is the
        optimal :math:`u` when :math:`z_0` is optimal.
    adaptive_rho : bool
        Rebalance :math:`\rho` by the residuals, at most every 10 iterations (default;
        the chapter measures it within a small factor of the best fixed :math:`\rho`
        on the book's problems, where the starting value alone can be ten times off).
    mu, tau : float
        The balancing thresholds (``mu > 1``, ``tau > 1``).

    Returns
    -------
    SolverResult
        ``extra["rho"]`` is the final penalty and ``extra["relative_gap"]`` the final
        relative gaps.

    Examples
    --------
    >>> import numpy as np
    >>> res = admm(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0, tol=1e-10)
    >>> res.codes.round(6) + 0.0
    array([ 1. ,  0. , -0.5])
    """
    D, X2, squeeze, lam, max_iter, tol, init = _check_common(D, X, lam, max_iter, tol,
                                                            init)
    adaptive_rho = _check_bool(adaptive_rho, "adaptive_rho")
    mu = check_scalar(mu, "mu", low=1.0, low_inclusive=False)
    tau = check_scalar(tau, "tau", low=1.0, low_inclusive=False)
    xp = array_namespace(X2)
    B = X2 @ D
    lam_max = xp.max(xp.abs(B), axis=1)
    if rho is None:
        rho = _default_rho(xp, D, lam_max, lam)
    else:
        rho = check_scalar(rho, "rho", low=0.0, low_inclusive=False)
    solve = _RidgeSolver(xp, D, rho)

    Z = (xp.zeros((X2.shape[0], D.shape[1]), dtype=X2.dtype, device=X2.device)
         if init is None else xp.asarray(init, copy=True))
    C0 = (X2 - Z @ D.T) @ D
    U = xp.clip(C0, -lam, lam) / rho
    relative, primal = _certificate(xp, X2, D, Z, C0, lam, lam_max)
    history = [float(xp.sum(primal))]
    converged = bool(xp.all(relative <= tol))
    k = 0
    last_change = 0
    while not converged and k < max_iter:
        k += 1
        Hk = solve(B + rho * (Z - U))
        Z_old = Z
        Z = soft_threshold(Hk + U, lam / rho)
        U = U + Hk - Z
        relative, primal = _certificate(xp, X2, D, Z, None, lam, lam_max)
        history.append(float(xp.sum(primal)))
        converged = bool(xp.all(relative <= tol))
        if adaptive_rho and not converged and k - last_change >= 10:
            r_norm = float(xp.sqrt(xp.sum((Hk - Z) ** 2)))
            s_norm = rho * float(xp.sqrt(xp.sum((Z - Z_old) ** 2)))
            factor = tau if r_norm > mu * s_norm else (
                1 / tau if s_norm > mu * r_norm else 1.0)
            if factor != 1.0:
                rho *= factor
                U = U / factor
                solve = _RidgeSolver(xp, D, rho)
                last_change = k
    rel_np = np.asarray([float(v) for v in relative], dtype=np.float64)
    return _finish(xp, Z, history, k, converged, squeeze,
                   {"solver": "admm", "rho": rho, "relative_gap": rel_np})
