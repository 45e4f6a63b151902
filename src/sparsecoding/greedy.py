r"""Greedy pursuit: sparse codes with a prescribed number of nonzeros.

The lasso of the other solvers trades the residual against the :math:`\ell_1` norm. The
greedy methods attack the combinatorial problem it relaxes,

.. math::

    \min_h \tfrac12 \|x - D h\|_2^2 \quad \text{subject to} \quad \|h\|_0 \le s ,

directly, by choosing atoms one at a time (matching pursuit, orthogonal matching
pursuit) or by projecting gradient steps onto the :math:`s`-sparse vectors (iterative
hard thresholding, CoSaMP, subspace pursuit). The chapter *Greedy pursuit* derives them
and measures them against the lasso; the chapter *When does sparse recovery work* says
when they find the sparsest code.

Every function is batched over signals: ``X`` is ``(n_signals, n_features)`` (or one
signal ``(n_features,)``), ``D`` is ``(n_features, n_atoms)``, and the codes come back
``(n_signals, n_atoms)``, of the kind, device and dtype of ``X`` (NumPy in, NumPy out; a
torch tensor in, a tensor out on its device). The code is written once against the array
API standard (``array_api_compat``); each signal keeps its own support and stops on its
own, and the batch moves together with one matrix product per step. The results are
:class:`~sparsecoding.solvers.SolverResult` objects whose ``objective[k]`` is the
residual :math:`\sum_i \tfrac12\|x_i - D h_i\|_2^2` after ``k`` steps.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace, device

from ._arrays import detach
from ._validation import (
    DivergenceError,
    check_choice,
    check_dictionary_and_signals,
    check_scalar,
)
from .solvers import SolverResult, lipschitz_constant

__all__ = ["matching_pursuit", "omp", "iht", "cosamp", "subspace_pursuit"]


# --------------------------------------------------------------------------- helpers


def _prepare(D, X):
    """Validate, detach tensors (no autograd graph inside a solver), take the namespace."""
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    return detach(D), detach(X2), squeeze, array_namespace(X2)


def _check_n_nonzero(n_nonzero, D, X2, xp, name="n_nonzero", high=None):
    """Validate a sparsity: an integer, or one integer per signal.

    Returns ``(s_max, s)`` with ``s`` a ``(n_signals,)`` integer array of the namespace
    of ``X2`` (on its device).
    """
    high = D.shape[1] if high is None else high
    n_signals = X2.shape[0]
    if isinstance(n_nonzero, (list, tuple)) or getattr(n_nonzero, "ndim", 0) == 1:
        values = np.asarray(
            n_nonzero.tolist() if hasattr(n_nonzero, "tolist") else n_nonzero)
        if values.dtype.kind not in "iu" or values.shape != (n_signals,):
            raise TypeError(
                f"{name} must be an integer or one integer per signal (shape "
                f"({n_signals},)), got {values.dtype} values of shape {values.shape}")
    else:
        values = np.asarray([check_scalar(n_nonzero, name, low=1, integer=True)])
    if values.size and values.min() < 1:
        raise ValueError(f"{name} must be >= 1, got {int(values.min())}")
    if values.size and values.max() > high:
        raise ValueError(
            f"{name} must be at most {high} for a dictionary of shape "
            f"{tuple(D.shape)}, got {int(values.max())}"
        )
    s_max = int(values.max()) if values.size else 1
    s_vec = np.broadcast_to(values, (n_signals,)).astype(np.int64)
    return s_max, xp.asarray(s_vec, device=device(X2))


def _check_tol(tol):
    if tol is None:
        return None
    return check_scalar(tol, "tol", low=0.0)


def _sq_norms(xp, A):
    return xp.sum(A * A, axis=1)


def _one_hot(xp, idx, n, like):
    """``(n_signals, n)`` array with a one in column ``idx[i]`` of row ``i``."""
    ar = xp.arange(n, device=device(like))
    return xp.astype(ar[None, :] == idx[:, None], like.dtype)


def _scatter(xp, idx, values, n, like):
    """Dense ``(n_signals, n)`` codes from per-signal indices and values (sums repeats)."""
    H = xp.zeros((like.shape[0], n), dtype=like.dtype, device=device(like))
    for k in range(idx.shape[1]):
        H = H + _one_hot(xp, idx[:, k], n, like) * values[:, k : k + 1]
    return H


def _top_mask(xp, V, s):
    """Boolean mask of the ``s[i]`` entries of largest magnitude in row ``i`` of ``V``.

    ``s`` is a ``(n_signals,)`` integer array with entries in ``1..n_atoms``. Entries
    tied with the ``s``-th largest magnitude are all kept, and zeros never are.
    """
    A = xp.abs(V)
    n = A.shape[1]
    thr = xp.take_along_axis(xp.sort(A, axis=1), (n - s)[:, None], axis=1)
    return (A >= thr) & (A > 0)


def _hard_threshold_s(xp, V, s):
    """Keep the ``s`` largest entries (in magnitude) of each row of ``V``."""
    return xp.where(_top_mask(xp, V, s), V, xp.zeros_like(V))


def _finish(xp, X2, H, squeeze, objective, n_iter, converged, extra):
    codes = H[0, ...] if squeeze else H
    return SolverResult(
        codes=codes,
        objective=np.asarray(objective, dtype=np.float64),
        n_iter=int(n_iter),
        converged=bool(converged),
        extra=extra,
    )


def _check_finite(xp, A, what):
    if not bool(xp.all(xp.isfinite(A))):
        raise DivergenceError(f"{what} produced non-finite values (overflow): rescale "
                              "D and X (divide them by a power of ten)")


# ---------------------------------------------------------------- matching pursuit


def matching_pursuit(D, X, *, max_iter=None, tol=None):
    r"""Matching pursuit: add one atom's projection to the code at each step.

    Starting from :math:`h = 0` and :math:`r = x`, each step picks the atom most
    correlated with the residual and removes its projection
    :cite:p:`mallat1993matching`:

    .. math::

        j = \arg\max_k \frac{|d_k^\top r|}{\|d_k\|_2}, \qquad
        h_j \leftarrow h_j + \frac{d_j^\top r}{\|d_j\|_2^2}, \qquad
        r \leftarrow r - \frac{d_j^\top r}{\|d_j\|_2^2}\, d_j .

    The residual norm never increases, and for unit-norm atoms
    :math:`\|x\|^2 = \sum_t (d_{j_t}^\top r_t)^2 + \|r\|^2`. An atom may be chosen many
    times. Explained in the chapter *Greedy pursuit*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        Atoms need not have unit norm; atoms of norm zero are never chosen.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    max_iter : int, optional
        Number of steps (default ``10 * n_features``).
    tol : float, optional
        Stop a signal when :math:`\|x - Dh\|_2 \le \mathrm{tol}\,\|x\|_2`.

    Returns
    -------
    SolverResult
        ``codes`` of the kind, device and dtype of ``X``; ``objective[k]`` the residual
        :math:`\sum_i \tfrac12\|x_i - Dh_i\|^2` after ``k`` steps; ``converged`` whether
        every signal met ``tol`` (``False`` without ``tol``: matching pursuit has no other
        stopping rule); ``extra["residual"]`` the residuals ``X - H @ D.T``.

    Examples
    --------
    >>> import numpy as np
    >>> res = matching_pursuit(np.eye(3), np.array([3.0, 0.0, -1.0]), max_iter=2)
    >>> res.codes
    array([ 3.,  0., -1.])
    """
    D, X2, squeeze, xp = _prepare(D, X)
    n_features, n_atoms = D.shape
    if max_iter is None:
        max_iter = 10 * n_features
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = _check_tol(tol)
    norms2 = xp.sum(D * D, axis=0)
    positive = norms2 > 0
    inv_norm = xp.where(positive, 1.0 / xp.sqrt(xp.where(positive, norms2, 1.0)),
                        xp.zeros_like(norms2))
    G = D.T @ D
    R = X2 * 1.0
    C = X2 @ D  # correlations D^T r, one row per signal
    H = xp.zeros((X2.shape[0], n_atoms), dtype=X2.dtype, device=device(X2))
    xx = _sq_norms(xp, X2)
    rr = xx * 1.0
    objective = [0.5 * float(xp.sum(rr))]
    thr2 = None if tol is None else tol * tol * xx
    active = (rr > 0) if thr2 is None else (rr > thr2)
    active = active & xp.any(positive)  # D = 0: h = 0 is the only code
    n_iter = 0
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        n_iter += 1
        j = xp.argmax(xp.abs(C) * inv_norm[None, :], axis=1)
        onehot = _one_hot(xp, j, n_atoms, X2)
        coef = xp.sum(onehot * C, axis=1) / xp.sum(onehot * norms2[None, :], axis=1)
        coef = xp.where(active, coef, xp.zeros_like(coef))
        H = H + onehot * coef[:, None]
        R = R - coef[:, None] * xp.take(D, j, axis=1).T
        C = C - coef[:, None] * xp.take(G, j, axis=0)
        rr = _sq_norms(xp, R)
        objective.append(0.5 * float(xp.sum(rr)))
        if thr2 is not None:
            active = active & (rr > thr2)
        else:
            active = active & (rr > 0)
    _check_finite(xp, H, "matching_pursuit")
    converged = tol is not None and not bool(xp.any(active))
    residual = R[0, ...] if squeeze else R
    return _finish(xp, X2, H, squeeze, objective, n_iter, converged,
                   {"residual": residual, "solver": "matching_pursuit"})


# --------------------------------------------------------- orthogonal matching pursuit


def omp(D, X, *, n_nonzero=None, tol=None):
    r"""Orthogonal matching pursuit, batched, with an incremental Cholesky update.

    Approximates, for every row :math:`x` of ``X``,

    .. math::

        \min_h \tfrac12 \|x - D h\|_2^2 \quad \text{subject to} \quad \|h\|_0 \le s

    greedily :cite:p:`pati1993orthogonal,tropp2004greed`: at step :math:`k` it adds the
    atom :math:`j = \arg\max_k |d_k^\top r| / \|d_k\|` most correlated with the residual
    to the support :math:`S`, then projects :math:`x` orthogonally onto the span of the
    chosen atoms, :math:`h_S = (D_S^\top D_S)^{-1} D_S^\top x`, so the residual is
    orthogonal to every chosen atom and no atom is chosen twice.

    The projection is not recomputed from scratch. With the Cholesky factor
    :math:`G_{SS} = D_S^\top D_S = L L^\top`, a new atom :math:`j` adds one row,

    .. math::

        L_{\text{new}} = \begin{pmatrix} L & 0 \\ w^\top & \sqrt{G_{jj} - \|w\|^2}
        \end{pmatrix}, \qquad L w = G_{Sj},

    and the code follows from :math:`z = L^{-1} D_S^\top x`, which gains one entry,
    :math:`h_S = L^{-\top} z` and :math:`\|r\|^2 = \|x\|^2 - \|z\|^2`
    :cite:p:`rubinstein2008efficient`. The function keeps :math:`L^{-1}` (updated by the
    same bordering) so that every step is a batched matrix product in NumPy or torch;
    with the Gram matrix :math:`G = D^\top D` computed once, a step costs
    :math:`O(k\,n_{\text{atoms}})` per signal. Derived in the chapter *Greedy pursuit*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        Atoms need not have unit norm (the choice uses normalised correlations; the
        codes are the least-squares coefficients of the atoms as given).
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    n_nonzero : int or array of int, optional
        Largest number of atoms per signal, :math:`s` (one value, or one per signal,
        shape ``(n_signals,)``). Default: a tenth of the atoms,
        ``max(1, n_atoms // 10)``, when ``tol`` is not given either (scikit-learn's
        default), otherwise ``min(n_features, n_atoms)``.
    tol : float, optional
        Stop a signal when :math:`\|x - Dh\|_2 \le \mathrm{tol}\,\|x\|_2` (relative
        residual norm). scikit-learn's ``orthogonal_mp(..., tol=t)`` bounds the squared
        residual instead: for a unit-norm signal, ``t = tol**2``.

    Returns
    -------
    SolverResult
        ``codes`` of the kind, device and dtype of ``X``; ``objective[k]`` the residual
        :math:`\sum_i \tfrac12\|x_i - Dh_i\|^2` after ``k`` steps (from the identity
        above); ``n_iter`` the number of steps (the largest support);
        ``converged`` whether every signal met its stopping rule (reached ``n_nonzero``
        atoms or ``tol``, or a zero residual) rather than running out of linearly
        independent atoms; ``extra["n_nonzero"]`` the support size of each signal.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]])
    >>> omp(D, np.array([0.6, 0.8]), n_nonzero=1).codes
    array([0., 0., 1.])
    """
    D, X2, squeeze, xp = _prepare(D, X)
    n_features, n_atoms = D.shape
    rank_cap = min(n_features, n_atoms)
    tol = _check_tol(tol)
    if n_nonzero is None:
        n_nonzero = min(max(1, n_atoms // 10), rank_cap) if tol is None else rank_cap
    s_max, s_vec = _check_n_nonzero(n_nonzero, D, X2, xp, high=rank_cap)
    dtype, dev = X2.dtype, device(X2)
    n_signals = X2.shape[0]
    eps = float(np.finfo(np.float32 if "float32" in str(dtype) else np.float64).eps)

    G = D.T @ D
    diagG = xp.sum(D * D, axis=0)
    positive = diagG > 0
    inv_norm = xp.where(positive, 1.0 / xp.sqrt(xp.where(positive, diagG, 1.0)),
                        xp.zeros_like(diagG))
    C0 = X2 @ D  # D^T x
    C = C0 * 1.0  # D^T r
    xx = _sq_norms(xp, X2)
    rr = xx * 1.0
    thr2 = None if tol is None else tol * tol * xx
    chosen = xp.zeros((n_signals, n_atoms), dtype=xp.bool, device=dev)
    Linv = xp.zeros((n_signals, 0, 0), dtype=dtype, device=dev)
    z = xp.zeros((n_signals, 0), dtype=dtype, device=dev)
    GS = xp.zeros((n_signals, 0, n_atoms), dtype=dtype, device=dev)  # rows G[S, :]
    indices, used = [], []
    objective = [0.5 * float(xp.sum(rr))]
    done_ok = (rr <= 0) if thr2 is None else (rr <= thr2)
    active = ~done_ok
    gamma = z
    for k in range(s_max):
        active = active & (s_vec > k)
        if not bool(xp.any(active)):
            break
        score = xp.abs(C) * inv_norm[None, :]
        score = xp.where(chosen, -xp.ones_like(score), score)
        j = xp.argmax(score, axis=1)
        onehot = _one_hot(xp, j, n_atoms, X2)
        g = (GS @ onehot[:, :, None])[:, :, 0]  # G[S, j]
        w = (Linv @ g[:, :, None])[:, :, 0]
        gjj = xp.sum(onehot * diagG[None, :], axis=1)
        dd = gjj - _sq_norms(xp, w)
        # An atom (numerically) in the span of the chosen ones ends that signal's walk.
        independent = (dd > 100 * eps * gjj) & (gjj > 0)
        active = active & independent
        a = xp.astype(active, dtype)
        d = xp.where(active, xp.sqrt(xp.where(active, dd, 1.0)), xp.ones_like(dd))
        new_row = xp.concat(
            [-((w[:, None, :] @ Linv)[:, 0, :]) / d[:, None] * a[:, None],
             (1.0 / d)[:, None]], axis=1)
        Lnew = xp.zeros((n_signals, k + 1, k + 1), dtype=dtype, device=dev)
        Lnew[:, :k, :k] = Linv
        Lnew[:, k, :] = new_row
        Linv = Lnew
        c0j = xp.sum(onehot * C0, axis=1)
        znew = (c0j - xp.sum(w * z, axis=1)) / d * a
        z = xp.concat([z, znew[:, None]], axis=1)
        onehot = onehot * a[:, None]
        GS = xp.concat([GS, (xp.take(G, j, axis=0) * a[:, None])[:, None, :]], axis=1)
        chosen = chosen | (onehot > 0)
        indices.append(j)
        used.append(a)
        gamma = (xp.permute_dims(Linv, (0, 2, 1)) @ z[:, :, None])[:, :, 0]
        C = C0 - (gamma[:, None, :] @ GS)[:, 0, :]
        rr = xp.clip(xx - _sq_norms(xp, z), 0.0, None)
        objective.append(0.5 * float(xp.sum(rr)))
        met = (rr <= 0) if thr2 is None else (rr <= thr2)
        done_ok = done_ok | (active & met) | (active & (s_vec == k + 1))
        active = active & ~met  # a stalled signal stays inactive and not done
    H = xp.zeros((n_signals, n_atoms), dtype=dtype, device=dev)
    for k, (j, a) in enumerate(zip(indices, used)):
        H = H + _one_hot(xp, j, n_atoms, X2) * (gamma[:, k] * a)[:, None]
    _check_finite(xp, H, "omp")
    counts = np.asarray(xp.sum(xp.astype(chosen, xp.int64), axis=1).tolist(),
                        dtype=np.int64)
    # Signals with a zero residual stop early legitimately.
    exact = rr <= 0
    converged = bool(xp.all(done_ok | exact))
    return _finish(xp, X2, H, squeeze, objective, len(indices), converged,
                   {"n_nonzero": counts, "solver": "omp"})


# ------------------------------------------------------- iterative hard thresholding


def iht(D, X, *, n_nonzero, step="normalized", max_iter=500, tol=1e-7,
        kappa=2.0, c=0.01):
    r"""Iterative hard thresholding: a gradient step, then keep the :math:`s` largest.

    Approximates :math:`\min_h \tfrac12\|x - Dh\|_2^2` subject to :math:`\|h\|_0 \le s`
    by the projected-gradient iteration :cite:p:`blumensath2009iterative`

    .. math::

        h \leftarrow H_s\!\left(h + \mu\, D^\top (x - D h)\right),

    where :math:`H_s` keeps the :math:`s` entries of largest magnitude and sets the
    others to zero. With ``step="fixed"``, :math:`\mu = 1/L`, :math:`L = \|D\|_2^2`: the
    residual then never increases (each step minimises a majorizer). With
    ``step="normalized"`` (normalised IHT, :cite:p:`blumensath2010normalized`),
    :math:`\mu = \|g_\Gamma\|^2 / \|D_\Gamma g_\Gamma\|^2` is the exact line-search step
    on the current support :math:`\Gamma`, shrunk by :math:`\kappa(1 - c)` while the
    support changes and :math:`\mu > (1-c)\|h_+ - h\|^2 / \|D(h_+ - h)\|^2`; this makes
    the method independent of the scale of ``D``. A step costs two products with
    :math:`D`. Explained in the chapter *Greedy pursuit*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    n_nonzero : int or array of int
        The sparsity :math:`s` (required): one value, or one per signal.
    step : ``"normalized"`` or ``"fixed"``
    max_iter : int
    tol : float
        Stop a signal when :math:`\|h_+ - h\|_2 \le \mathrm{tol}\,\|h_+\|_2` or its
        residual is zero.
    kappa, c : float
        The shrink factor :math:`\kappa > 1/(1-c)` and the margin :math:`0 < c < 1` of
        normalised IHT.

    Returns
    -------
    SolverResult
        ``objective[k]`` the residual :math:`\sum_i\tfrac12\|x_i - Dh_i\|^2` after ``k``
        steps; ``converged`` whether every signal met ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> iht(np.eye(3), np.array([3.0, 0.1, -1.0]), n_nonzero=2).codes
    array([ 3.,  0., -1.])
    """
    D, X2, squeeze, xp = _prepare(D, X)
    _, s = _check_n_nonzero(n_nonzero, D, X2, xp)
    check_choice(step, "step", ("normalized", "fixed"))
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    c = check_scalar(c, "c", low=0.0, low_inclusive=False, high=1.0)
    kappa = check_scalar(kappa, "kappa", low=1.0 / (1.0 - c) if c < 1 else 1.0,
                         low_inclusive=False)
    dtype = X2.dtype
    n_signals = X2.shape[0]
    if step == "fixed":
        L = lipschitz_constant(D)
        if L == 0.0:
            raise ValueError("D must not be zero (its Lipschitz constant is 0)")
    H = xp.zeros((n_signals, D.shape[1]), dtype=dtype, device=device(X2))
    R = X2 * 1.0
    rr = _sq_norms(xp, R)
    objective = [0.5 * float(xp.sum(rr))]
    active = rr > 0
    support = _top_mask(xp, X2 @ D, s)
    n_iter = 0
    tiny = float(np.finfo(np.float64).tiny)
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        n_iter += 1
        # Only the signals still moving are computed; the others keep their codes.
        act = active & active  # a copy: active is updated in place below
        Ha, Ra, sa, supp = H[act, ...], R[act, ...], s[act], support[act, ...]
        Gr = Ra @ D  # the negative gradient D^T (x - Dh)
        if step == "fixed":
            mu = xp.full((Ha.shape[0],), 1.0 / L, dtype=dtype, device=device(X2))
        else:
            gS = xp.where(supp, Gr, xp.zeros_like(Gr))
            num = _sq_norms(xp, gS)
            den = _sq_norms(xp, gS @ D.T)
            mu = xp.where(den > tiny, num / xp.where(den > tiny, den, 1.0),
                          xp.zeros_like(num))
        Hn = _hard_threshold_s(xp, Ha + mu[:, None] * Gr, sa)
        if step == "normalized":
            for _ in range(60):  # backtracking while the support changes
                changed = xp.any((Hn != 0) != supp, axis=1)
                dH = Hn - Ha
                num = _sq_norms(xp, dH)
                den = _sq_norms(xp, dH @ D.T)
                omega = (1.0 - c) * num / xp.where(den > tiny, den, 1.0)
                bad = changed & (den > tiny) & (mu > omega)
                if not bool(xp.any(bad)):
                    break
                mu = xp.where(bad, mu / (kappa * (1.0 - c)), mu)
                Hn = xp.where(bad[:, None],
                              _hard_threshold_s(xp, Ha + mu[:, None] * Gr, sa), Hn)
        change = _sq_norms(xp, Hn - Ha)
        Rn = X2[act, ...] - Hn @ D.T
        rn = _sq_norms(xp, Rn)
        H[act, ...] = Hn
        R[act, ...] = Rn
        rr[act] = rn
        support[act, ...] = Hn != 0
        active[act] = (change > tol * tol * _sq_norms(xp, Hn)) & (rn > 0)
        objective.append(0.5 * float(xp.sum(rr)))
    _check_finite(xp, H, "iht")
    return _finish(xp, X2, H, squeeze, objective, n_iter, not bool(xp.any(active)),
                   {"solver": "iht", "step": step})


# ------------------------------------------------------ CoSaMP and subspace pursuit


def _least_squares_on(xp, D, X2, C0, mask, p):
    """Least-squares codes of each signal on the atoms of ``mask`` (at most ``p`` each).

    Gathers the chosen columns into ``(n_signals, n_features, p)`` (padding slots get a
    zero column and a unit diagonal, hence a zero coefficient) and solves the normal
    equations by a batched solve. A relative ridge of ``100 * eps`` times the largest
    diagonal entry keeps the solve defined when the chosen atoms are linearly dependent
    (more atoms than features); it moves well-conditioned solutions by about as much as
    round-off. Returns dense codes.
    """
    n_signals = X2.shape[0]
    n_features, n_atoms = D.shape
    eps = float(np.finfo(np.float32 if "float32" in str(X2.dtype) else np.float64).eps)
    score = xp.astype(mask, X2.dtype)
    idx = xp.argsort(score, axis=1, descending=True, stable=True)[:, :p]
    valid = xp.take_along_axis(score, idx, axis=1)  # 1 for a real slot, 0 for padding
    DT = xp.reshape(xp.take(D, xp.reshape(idx, (-1,)), axis=1), (n_features, n_signals, p))
    DT = xp.permute_dims(DT, (1, 0, 2)) * valid[:, None, :]
    A = xp.permute_dims(DT, (0, 2, 1)) @ DT
    eye = xp.eye(p, dtype=X2.dtype, device=device(X2))
    scale = xp.max(xp.sum(DT * DT, axis=1), axis=1)
    ridge = 100 * eps * xp.where(scale > 0, scale, xp.ones_like(scale))
    A = A + eye[None, :, :] * ((1.0 - valid) + ridge[:, None])[:, None, :]
    rhs = xp.take_along_axis(C0, idx, axis=1) * valid
    b = xp.linalg.solve(A, rhs[:, :, None])[:, :, 0] * valid
    return _scatter(xp, idx, b, n_atoms, X2)


def _support_pursuit(D, X, n_nonzero, max_iter, tol, variant):
    D, X2, squeeze, xp = _prepare(D, X)
    n_features, n_atoms = D.shape
    s_max, s = _check_n_nonzero(n_nonzero, D, X2, xp, high=min(n_features, n_atoms))
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    n_proxy = xp.clip(2 * s if variant == "cosamp" else s, None, n_atoms)
    p = min((3 if variant == "cosamp" else 2) * s_max, n_atoms)
    C0 = X2 @ D
    H = xp.zeros((X2.shape[0], n_atoms), dtype=X2.dtype, device=device(X2))
    R = X2 * 1.0
    xx = _sq_norms(xp, X2)
    rr = xx * 1.0
    objective = [0.5 * float(xp.sum(rr))]
    active = rr > tol * tol * xx
    n_iter = 0
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        n_iter += 1
        # Only the signals still moving are computed; the others keep their codes.
        act = active & active  # a copy: active is updated in place below
        Xa, Ha, Ra, sa, C0a = X2[act, ...], H[act, ...], R[act, ...], s[act], C0[act, ...]
        merged = _top_mask(xp, Ra @ D, n_proxy[act]) | (Ha != 0)
        B = _least_squares_on(xp, D, Xa, C0a, merged, p)
        Hn = _hard_threshold_s(xp, B, sa)
        if variant == "subspace":  # re-fit on the s atoms kept
            Hn = _least_squares_on(xp, D, Xa, C0a, Hn != 0, s_max)
        Rn = Xa - Hn @ D.T
        rn = _sq_norms(xp, Rn)
        if variant == "subspace":
            # Dai and Milenkovic stop when the residual no longer decreases, keeping
            # the previous code.
            keep = rn < rr[act]
        else:
            keep = xp.ones_like(rn, dtype=xp.bool)
        change = xp.where(keep, _sq_norms(xp, Hn - Ha), xp.zeros_like(rn))
        Hn = xp.where(keep[:, None], Hn, Ha)
        H[act, ...] = Hn
        R[act, ...] = xp.where(keep[:, None], Rn, Ra)
        rr[act] = xp.where(keep, rn, rr[act])
        stalled = change <= (tol * tol) * _sq_norms(xp, Hn)
        active[act] = keep & (rr[act] > tol * tol * xx[act]) & ~stalled
        objective.append(0.5 * float(xp.sum(rr)))
    _check_finite(xp, H, variant)
    met = rr <= tol * tol * xx
    return _finish(xp, X2, H, squeeze, objective, n_iter, not bool(xp.any(active)),
                   {"solver": variant, "residual_met": met})


def cosamp(D, X, *, n_nonzero, max_iter=50, tol=1e-7):
    r"""CoSaMP: compressive sampling matching pursuit.

    Approximates :math:`\min_h \tfrac12\|x - Dh\|_2^2` subject to
    :math:`\|h\|_0 \le s` :cite:p:`needell2009cosamp`. Each iteration

    1. forms the proxy :math:`u = D^\top r` and its :math:`2s` largest entries
       :math:`\Omega`;
    2. merges them with the current support, :math:`T = \Omega \cup \operatorname{supp} h`
       (at most :math:`3s` atoms);
    3. solves least squares on :math:`T`, :math:`b_T = D_T^{+} x`, and keeps the
       :math:`s` largest entries: :math:`h = H_s(b)`, :math:`r = x - Dh`.

    A step costs one product with :math:`D^\top` and a least-squares solve with at most
    :math:`3s` columns, :math:`O(n_{\text{features}}\, s^2 + s^3)` per signal. Explained
    in the chapter *Greedy pursuit*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    n_nonzero : int or array of int
        The sparsity :math:`s`, at most ``min(n_features, n_atoms)``: one value, or
        one per signal.
    max_iter : int
    tol : float
        Stop a signal when :math:`\|r\|_2 \le \mathrm{tol}\,\|x\|_2` or when its code
        changes by less than ``tol`` (relative).

    Returns
    -------
    SolverResult
        ``objective[k]`` the residual :math:`\sum_i\tfrac12\|x_i - Dh_i\|^2` after ``k``
        iterations; ``converged`` whether every signal stopped before ``max_iter``;
        ``extra["residual_met"]`` which signals reached the residual tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> cosamp(np.eye(3), np.array([3.0, 0.1, -1.0]), n_nonzero=1).codes
    array([3., 0., 0.])
    """
    return _support_pursuit(D, X, n_nonzero, max_iter, tol, "cosamp")


def subspace_pursuit(D, X, *, n_nonzero, max_iter=50, tol=1e-7):
    r"""Subspace pursuit: CoSaMP with :math:`s` new candidates and a second fit.

    Approximates :math:`\min_h \tfrac12\|x - Dh\|_2^2` subject to
    :math:`\|h\|_0 \le s` :cite:p:`dai2009subspace`. Each iteration merges the current
    support with the :math:`s` largest entries of :math:`D^\top r`, solves least squares
    on these (at most :math:`2s`) atoms, keeps the :math:`s` largest coefficients and
    solves least squares again on them. A signal stops when its residual no longer
    decreases (keeping the previous code) or meets ``tol``. Explained in the chapter
    *Greedy pursuit*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    n_nonzero : int or array of int
        The sparsity :math:`s`, at most ``min(n_features, n_atoms)``: one value, or
        one per signal.
    max_iter : int
    tol : float
        As in :func:`cosamp`.

    Returns
    -------
    SolverResult
        As :func:`cosamp`.

    Examples
    --------
    >>> import numpy as np
    >>> subspace_pursuit(np.eye(3), np.array([3.0, 0.1, -1.0]), n_nonzero=2).codes
    array([ 3.,  0., -1.])
    """
    return _support_pursuit(D, X, n_nonzero, max_iter, tol, "subspace")
