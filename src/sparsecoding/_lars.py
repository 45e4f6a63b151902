r"""Compiled kernel of the homotopy (LARS-lasso) path, many signals in parallel.

The walk is the one of :func:`sparsecoding.homotopy._path_one`, written for Numba on
the Gram matrix :math:`G = D^\top D` and the correlations :math:`b = D^\top x`, so that
no step touches the dictionary itself:

* the correlations :math:`c = b - G h` are updated in place, :math:`c \leftarrow c -
  \gamma\, G_{:,A} d`, one product with the active columns of :math:`G` per step;
* the direction :math:`d = (G_{AA})^{-1} s` comes from a Cholesky factor of
  :math:`G_{AA}` that grows by one row when an atom joins (a triangular solve) and is
  rebuilt when one leaves (rare);
* blocks of signals are shared among the cores in Python threads (see ``_threads``).

A signal whose active Gram matrix stops being positive definite (an atom in the span of
the active ones: duplicate atoms, or more active atoms than features) is reported, and
the caller finishes it with the NumPy walk, which falls back to least squares. The
test ``test_homotopy.py::test_compiled_walk_equals_the_numpy_walk`` checks that both
walks take the same steps and give the same codes.

Numba is imported only when the kernel is first used; it compiles once and caches the
machine code next to this file.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._threads import map_on_cores, workers

# status of one signal
DONE, MAX_STEPS, DEGENERATE = 0, 1, 2


@nb.njit(cache=True, nogil=True, error_model="numpy")
def chol_append(G, idx, k, j, Lc, w):
    """Add atom ``j`` as row ``k`` of the Cholesky factor of ``G[idx, idx]``."""
    for m in range(k):
        s = G[idx[m], j]
        for q in range(m):
            s -= Lc[m, q] * w[q]
        w[m] = s / Lc[m, m]
    piv = G[j, j]
    for m in range(k):
        piv -= w[m] * w[m]
        Lc[k, m] = w[m]
    if not piv > 1e-10 * G[j, j]:
        return False
    Lc[k, k] = np.sqrt(piv)
    return True

@nb.njit(cache=True, nogil=True, error_model="numpy")
def chol_solve(Lc, k, rhs, out):
    """Solve ``Lc Lc^T out = rhs`` for the leading ``k`` rows."""
    for m in range(k):
        s = rhs[m]
        for q in range(m):
            s -= Lc[m, q] * out[q]
        out[m] = s / Lc[m, m]
    for m in range(k - 1, -1, -1):
        s = out[m]
        for q in range(m + 1, k):
            s -= Lc[q, m] * out[q]
        out[m] = s / Lc[m, m]

@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"nsz", "arcp", "contract", "reassoc"})
def join_step(c, a, level, eps, blocked, gbuf):
    """The smallest positive step at which an unblocked atom's correlation reaches the level.

    ``blocked`` is ``0`` for a candidate atom and ``inf`` for an active (or just
    dropped) one; ``gbuf`` receives every atom's step. Two branch-free passes, so that
    the compiler vectorises both (one pass with a running minimum does not vectorise
    and takes 2.5 times as long).
    """
    for j in range(c.shape[0]):
        den1 = 1.0 - a[j]
        den2 = 1.0 + a[j]
        g1 = (level - c[j]) / den1
        g2 = (level + c[j]) / den2
        g1 = g1 if den1 > 1e-14 else np.inf
        g2 = g2 if den2 > 1e-14 else np.inf
        g1 = g1 if g1 > eps else np.inf
        g2 = g2 if g2 > eps else np.inf
        gbuf[j] = min(g1, g2) + blocked[j]
    best = np.inf
    for j in range(c.shape[0]):
        best = min(best, gbuf[j])
    return best


@nb.njit(cache=True, nogil=True, error_model="numpy")
def walk(G, b, lam, max_steps, h, c, a, d, rhs, w, idx, sgn, blocked, gbuf, Lc):
    """Follow the path of one signal down to ``lam``; returns (steps, status, lam_max)."""
    p = G.shape[0]
    kcap = Lc.shape[0]
    lam_max = 0.0
    j0 = 0
    for j in range(p):
        c[j] = b[j]
        h[j] = 0.0
        blocked[j] = 0.0
        v = abs(b[j])
        if v > lam_max:
            lam_max = v
            j0 = j
    if lam >= lam_max or lam_max == 0.0:
        return 0, DONE, lam_max
    eps = 1e-12 * max(lam_max, 1.0)
    if not chol_append(G, idx, 0, j0, Lc, w):
        return 1, DEGENERATE, lam_max
    idx[0] = j0
    sgn[0] = 1.0 if c[j0] > 0 else -1.0
    blocked[j0] = np.inf
    k = 1
    level = lam_max
    just_dropped = -1
    steps = 1
    status = MAX_STEPS
    while True:
        chol_solve(Lc, k, sgn, d)
        for j in range(p):
            a[j] = 0.0
        for m in range(k):
            row = G[idx[m]]
            dm = d[m]
            for j in range(p):
                a[j] += row[j] * dm
        # an inactive atom joins when |c_j - gamma a_j| = level - gamma
        gamma_add = join_step(c, a, level, eps, blocked, gbuf)
        j_add = -1
        if gamma_add < np.inf:
            for j in range(p):
                if gbuf[j] == gamma_add:
                    j_add = j
                    break
        # an active coefficient reaches zero
        gamma_drop = np.inf
        m_drop = -1
        for m in range(k):
            if d[m] != 0.0:
                g = -h[idx[m]] / d[m]
                if g > eps and g < gamma_drop:
                    gamma_drop = g
                    m_drop = m
        gamma_end = level - lam
        gamma = min(gamma_add, gamma_drop, gamma_end)
        for m in range(k):
            h[idx[m]] += gamma * d[m]
        for j in range(p):
            c[j] -= gamma * a[j]
        level -= gamma
        if gamma == gamma_end:
            status = DONE
            break
        if steps >= max_steps:
            break
        steps += 1
        if gamma_drop <= gamma_add:
            jd = idx[m_drop]
            h[jd] = 0.0
            for m in range(m_drop, k - 1):
                idx[m] = idx[m + 1]
                sgn[m] = sgn[m + 1]
            k -= 1
            if just_dropped >= 0:
                blocked[just_dropped] = 0.0
            just_dropped = jd  # stays blocked for one step
            if k == 0:  # not on a valid path; restart from the largest correlation
                best = -1.0
                for j in range(p):
                    if abs(c[j]) > best:
                        best = abs(c[j])
                        jd = j
                idx[0] = jd
                sgn[0] = 1.0 if c[jd] > 0 else -1.0
                blocked[jd] = np.inf
                k = 1
            for m in range(k):  # rebuild the factor
                if not chol_append(G, idx, m, idx[m], Lc, w):
                    return steps, DEGENERATE, lam_max
        else:
            if k >= kcap or not chol_append(G, idx, k, j_add, Lc, w):
                return steps, DEGENERATE, lam_max
            idx[k] = j_add
            sgn[k] = -1.0 if c[j_add] < 0 else 1.0
            blocked[j_add] = np.inf
            k += 1
            if just_dropped >= 0:
                blocked[just_dropped] = 0.0
            just_dropped = -1
    if status == DONE and k > 0:
        # polish: the exact solution on the final active set and signs
        for m in range(k):
            rhs[m] = b[idx[m]] - lam * sgn[m]
        chol_solve(Lc, k, rhs, w)
        same = True
        for m in range(k):
            if w[m] * sgn[m] <= 0.0:
                same = False
        if same:
            for m in range(k):
                h[idx[m]] = w[m]
    return steps, status, lam_max


@nb.njit(cache=True, nogil=True, error_model="numpy")
def gram(D):
    """``D.T @ D`` in compiled loops (see ``homotopy_batch`` for why not BLAS).

    Sums of outer products of the rows, so that the inner loop runs along a row and
    vectorises.
    """
    f, p = D.shape
    G = np.zeros((p, p))
    for q in range(f):
        for i in range(p):
            v = D[q, i]
            for j in range(p):
                G[i, j] += v * D[q, j]
    return G


@nb.njit(cache=True, nogil=True, error_model="numpy")
def walk_all(D, Dt, X, G, lam, max_steps, kcap, H, steps, status, lam_max, objective):
    """Every row of ``X``: correlations, the walk, and the objective at the result.

    One thread, the GIL released: ``homotopy_batch`` shares blocks of rows among
    cores."""
    n, f = X.shape
    p = G.shape[0]
    b = np.empty(p)
    c = np.empty(p)
    a = np.empty(p)
    r = np.empty(f)
    d = np.empty(kcap)
    rhs = np.empty(kcap)
    w = np.empty(kcap)
    idx = np.empty(kcap, np.int64)
    sgn = np.empty(kcap)
    blocked = np.empty(p)
    gbuf = np.empty(p)
    Lc = np.zeros((kcap, kcap))
    for i in range(n):
        x = X[i]
        for j in range(p):  # b = D^T x, along the rows of D
            b[j] = 0.0
        for q in range(f):
            xq = x[q]
            for j in range(p):
                b[j] += D[q, j] * xq
        h = H[i]
        st_, s_, lm = walk(G, b, lam, max_steps, h, c, a, d, rhs, w, idx, sgn,
                           blocked, gbuf, Lc)
        steps[i] = st_
        status[i] = s_
        lam_max[i] = lm
        for q in range(f):  # the objective, from the residual itself
            r[q] = x[q]
        l1 = 0.0
        for j in range(p):
            if h[j] != 0.0:
                l1 += abs(h[j])
                for q in range(f):
                    r[q] -= h[j] * Dt[j, q]
        rr = 0.0
        for q in range(f):
            rr += r[q] * r[q]
        objective[i] = 0.5 * rr + lam * l1


def homotopy_batch(D, X, lam, max_steps):
    """Run the compiled walk for every row of ``X`` (float64 arrays).

    Returns ``H, steps, status, lam_max, objective`` (the last per signal); rows with
    ``status == DEGENERATE`` must be finished by the caller.

    The products with the dictionary are compiled loops, not BLAS: on a machine with few
    cores, BLAS threads keep spinning for a while after a call and then compete with
    the walk's (measured on 2 cores: 104 ms instead of 71 ms for 10,000 signals).
    Blocks of at least 64 rows are shared among the cores in Python threads
    (:func:`sparsecoding._threads.map_on_cores`), a few blocks per thread so that
    signals with long paths do not leave a core idle.
    """
    D = np.ascontiguousarray(D, dtype=np.float64)
    Dt = np.ascontiguousarray(D.T)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, f = X.shape
    p = Dt.shape[0]
    kcap = max(1, min(p, f))
    H = np.empty((n, p))
    steps = np.zeros(n, np.int64)
    status = np.zeros(n, np.int64)
    lam_max = np.zeros(n)
    objective = np.zeros(n)
    G = gram(D)
    n_workers = workers()
    n_blocks = max(1, min(4 * n_workers, n // 64)) if n_workers > 1 else 1
    bounds = np.linspace(0, n, n_blocks + 1).astype(np.int64)

    def run(b):
        s = slice(bounds[b], bounds[b + 1])
        walk_all(D, Dt, X[s], G, float(lam), int(max_steps), kcap, H[s], steps[s],
                 status[s], lam_max[s], objective[s])

    map_on_cores(run, range(n_blocks), n_workers)
    return H, steps, status, lam_max, objective
