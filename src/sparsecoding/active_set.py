r"""A batched active-set solver for the lasso, exact where its optimality check holds.

For each signal :math:`x` (a row of ``X``) it minimises

.. math::

    F(h) = \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 ,

by guessing the support and the signs of the solution, solving the small linear
system that the solution satisfies on that support, and checking the optimality
conditions; signals whose check fails get a corrected support and try again. All
signals move together (stacked small systems, no loop over signals). The chapter
*Homotopy and unrolled networks* explains why the lasso solution is piecewise linear
in :math:`\lambda` and fixed by its support and signs.
"""

from __future__ import annotations

import numpy as np

from ._backend import is_tensor
from ._validation import check_array, check_dictionary_and_signals, check_scalar
from .solvers import SolverResult, fista

__all__ = ["lasso_active_set"]


def _reduced_solve(Gflat, n_atoms, Dt, X, B, lam, S):
    r"""Solve :math:`D_S^\top D_S h_S = D_S^\top x - \lambda s_S` for every row of ``S``.

    ``S`` holds the guessed signs (``0`` off the support), ``(n, n_atoms)`` int8.
    Supports are padded to the largest size with identity rows. Returns the dense codes
    and the gradient :math:`D^\top(Dh - x)`, or ``None`` where the stacked system is
    singular.
    """
    n = S.shape[0]
    rows, cols = np.nonzero(S)
    counts = np.bincount(rows, minlength=n)
    k_max = int(counts.max()) if n else 0
    H = np.zeros((n, n_atoms))
    if k_max == 0:
        return H, -B
    pos = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
    idx = np.zeros((n, k_max), np.intp)
    idx[rows, pos] = cols
    valid = np.zeros((n, k_max), bool)
    valid[rows, pos] = True
    M = np.take(Gflat, idx[:, :, None] * n_atoms + idx[:, None, :])
    M[~(valid[:, :, None] & valid[:, None, :])] = 0.0
    diag = np.arange(k_max)
    M[:, diag, diag] += ~valid
    rhs = np.zeros((n, k_max))
    rhs[rows, pos] = B[rows, cols] - lam * S[rows, cols]
    try:
        h_s = np.linalg.solve(M, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None
    H[rows, cols] = h_s[rows, pos]
    R = H @ Dt
    R -= X
    return H, R @ Dt.T


def _solve_chunk(G, Dt, X, lam, *, max_iter, tol, S0, n_add_first, n_add):
    """Active-set rounds on one chunk; returns codes, solved mask and rounds."""
    n_atoms = G.shape[0]
    Gflat = G.ravel()
    B = X @ Dt.T
    n = X.shape[0]
    thr = lam + tol * np.maximum(np.max(np.abs(B), axis=1), lam)  # (n,)
    H = np.zeros((n, n_atoms))
    solved = np.zeros(n, bool)
    todo = np.arange(n)
    S = np.zeros((n, n_atoms), np.int8)
    Hc, g = np.zeros((n, n_atoms)), -B
    if S0 is not None and S0.any():
        out = _reduced_solve(Gflat, n_atoms, Dt, X, B, lam, S0)
        if out is not None:  # else (a support too large to solve) start empty
            S = S0.copy()
            Hc, g = out
    rounds = 0
    for rounds in range(max_iter + 1):
        Ss = S[todo]
        viol = (np.abs(g) > thr[todo, None]) & (Ss == 0)
        flip = (Ss != 0) & (np.sign(Hc) != Ss)
        Ss[flip] = 0
        fail = viol.any(axis=1) | flip.any(axis=1)
        ok = ~fail
        H[todo[ok]] = Hc[ok]
        solved[todo[ok]] = True
        H[todo[fail]] = Hc[fail]  # best so far, for a warm-started fallback
        if not fail.any() or rounds == max_iter:
            break
        todo, Ss, viol, g = todo[fail], Ss[fail], viol[fail], g[fail]
        # add the worst violators, with the sign the optimality condition asks for
        score = np.abs(g)
        score[~viol] = 0.0
        r = np.arange(len(todo))
        for _ in range(n_add_first if rounds == 0 else n_add):
            j = np.argmax(score, axis=1)
            v = score[r, j] > 0
            if not v.any():
                break
            Ss[r[v], j[v]] = -np.sign(g[r[v], j[v]]).astype(np.int8)
            score[r, j] = 0.0
        S[todo] = Ss
        out = _reduced_solve(Gflat, n_atoms, Dt, X[todo], B[todo], lam, Ss)
        if out is None:  # a singular system: leave these signals to the fallback
            break
        Hc, g = out
    return H, solved, rounds


def lasso_active_set(D, X, lam, *, max_iter=50, tol=1e-9, warm_iter=0, n_add=3,
                     fallback_iter=5000, chunk_size=16384):
    r"""Solve the lasso exactly by a batched active-set method.

    Minimises, for every row :math:`x` of ``X``,

    .. math::

        F(h) = \tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1 .

    A code :math:`h` with support :math:`S` and signs :math:`s_S` is optimal if and
    only if the Karush-Kuhn-Tucker conditions hold:

    .. math::

        D_S^\top(x - D_S h_S) = \lambda s_S, \qquad \operatorname{sign}(h_S) = s_S,
        \qquad |d_j^\top(x - D h)| \le \lambda \quad (j \notin S).

    The first condition gives :math:`h_S = (D_S^\top D_S)^{-1}(D_S^\top x - \lambda s_S)`,
    one small linear system per signal; all of them are solved at once. Each round checks
    the other two conditions for every unsolved signal, removes atoms whose sign
    disagrees with the guess, adds the ``n_add`` atoms that violate the bound most (with
    the sign :math:`-\operatorname{sign}(d_j^\top(Dh - x))`) and solves again. The
    chapter *Homotopy and unrolled networks* derives these conditions.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        The dictionary, one atom per column.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        The signals, one per row.
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    max_iter : int
        Largest number of active-set rounds.
    tol : float
        Relative slack of the bound: a signal is solved when
        :math:`|d_j^\top(x - Dh)| \le \lambda + \text{tol}\cdot\max(\|D^\top x\|_\infty,
        \lambda)` off the support and the signs agree.
    warm_iter : int
        If positive, the first support and signs are those of ``warm_iter`` FISTA
        iterations (with gradient restart; at most ``n_features // 2`` largest atoms);
        with ``0`` the support starts empty and grows.
    n_add : int
        Atoms added per round and signal (twice as many in the first round).
    fallback_iter : int
        Signals not solved after ``max_iter`` rounds are finished by FISTA, warm-started
        from their last codes, with at most this many iterations (``0``: no fallback).
    chunk_size : int
        Signals processed together (bounds memory).

    Returns
    -------
    SolverResult
        ``objective`` holds the summed objective at the zero code and at the result;
        ``n_iter`` is the largest number of rounds; ``converged`` tells whether every
        signal passed the check (or the fallback met its tolerance); ``extra`` has
        ``rounds``, ``exact_fraction`` (signals solved by the active set) and
        ``fallback_signals``.

    Notes
    -----
    Where the check passes, the codes are exact up to the rounding of the linear solve;
    no iteration count trades accuracy for time. Computations run in float64 on NumPy;
    float32 input and torch tensors (on any device) are converted, and the codes are
    returned in the kind, dtype and device of ``X``. The padding of supports to a common
    size uses identity rows, so the stacked systems stay non-singular whenever each
    :math:`D_S` has full column rank.

    Examples
    --------
    >>> import numpy as np
    >>> res = lasso_active_set(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0)
    >>> res.codes, res.converged
    (array([ 1. ,  0. , -0.5]), True)
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = check_scalar(lam, "lam", low=0.0)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    warm_iter = check_scalar(warm_iter, "warm_iter", low=0, integer=True)
    n_add = check_scalar(n_add, "n_add", low=1, integer=True)
    fallback_iter = check_scalar(fallback_iter, "fallback_iter", low=0, integer=True)
    chunk_size = check_scalar(chunk_size, "chunk_size", low=1, integer=True)

    like = X2
    if is_tensor(X2):
        Dn = D.detach().cpu().numpy().astype(np.float64)
        Xn = X2.detach().cpu().numpy().astype(np.float64)
    else:
        Dn = np.asarray(D, dtype=np.float64)
        Xn = np.asarray(X2, dtype=np.float64)
    n_signals = Xn.shape[0]
    Dt = np.ascontiguousarray(Dn.T)
    G = Dn.T @ Dn

    S0 = None
    if warm_iter > 0:
        Hw = fista(Dn, Xn, lam, max_iter=warm_iter, tol=0.0, restart="gradient").codes
        # keep at most n_features // 2 atoms per signal, the largest, so systems stay small
        cap = max(1, Dn.shape[0] // 2)
        if cap < Hw.shape[1]:
            small = np.argpartition(-np.abs(Hw), cap - 1, axis=1)[:, cap:]
            np.put_along_axis(Hw, small, 0.0, axis=1)
        S0 = np.sign(Hw).astype(np.int8)

    H = np.zeros((n_signals, Dn.shape[1]))
    solved = np.zeros(n_signals, bool)
    rounds = 0
    for start in range(0, n_signals, chunk_size):
        stop = min(start + chunk_size, n_signals)
        Hc, ok, r = _solve_chunk(
            G, Dt, Xn[start:stop], lam, max_iter=max_iter, tol=tol,
            S0=None if S0 is None else S0[start:stop],
            n_add_first=2 * n_add, n_add=n_add,
        )
        H[start:stop], solved[start:stop] = Hc, ok
        rounds = max(rounds, r)

    converged = bool(solved.all())
    n_fallback = int((~solved).sum())
    if n_fallback and fallback_iter > 0:
        rest = np.nonzero(~solved)[0]
        init = H[rest]
        R = Xn[rest] - init @ Dt
        worse = (0.5 * np.sum(R * R, axis=1) + lam * np.sum(np.abs(init), axis=1)
                 > 0.5 * np.sum(Xn[rest] ** 2, axis=1))
        init[worse] = 0.0  # never start the fallback from codes worse than zero
        res = fista(Dn, Xn[rest], lam, max_iter=fallback_iter, tol=tol,
                    init=init, restart="gradient")
        H[rest] = res.codes
        converged = bool(res.converged)

    def total(codes):
        R = Xn - codes @ Dt
        return 0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(codes)))

    objective = np.array([0.5 * float(np.sum(Xn * Xn)), total(H)])
    codes = check_array(H, "codes", ndim=2, like=like)
    return SolverResult(
        codes=codes[0] if squeeze else codes,
        objective=objective,
        n_iter=rounds,
        converged=converged,
        extra={"solver": "lasso_active_set", "rounds": rounds,
               "exact_fraction": float(solved.mean()),
               "fallback_signals": n_fallback},
    )
