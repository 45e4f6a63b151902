r"""The homotopy (LARS-lasso) walk: the one implementation, compiled when Numba is there.

The walk of :func:`sparsecoding.homotopy.homotopy` and
:func:`sparsecoding.homotopy.homotopy_path`, written on the Gram matrix
:math:`G = D^\top D` and the correlations :math:`b = D^\top x`, so that no step touches
the dictionary itself:

* the correlations :math:`c = b - G h` are updated in place,
  :math:`c \leftarrow c - \gamma\, G_{:,A} d`, one product with the active columns of
  :math:`G` per step;
* the direction :math:`d = (G_{AA})^{-1} s` comes from a Cholesky factor of
  :math:`G_{AA}` that grows by one row when an atom joins (a triangular solve) and is
  rebuilt when one leaves;
* blocks of signals are shared among the cores in Python threads (see ``_threads``).

Events at a breakpoint
----------------------
An inactive atom :math:`j` joins when :math:`|c_j - \gamma a_j| = \ell - \gamma`
(:math:`\ell` the current level of :math:`\lambda`, :math:`a = G_{:,A} d`); for the
sign :math:`\sigma = \pm1` this happens at
:math:`\gamma = (\ell - \sigma c_j)/(1 - \sigma a_j)` when the denominator is positive
(the correlation then gains on the level). A step of zero length is allowed: an atom
whose correlation is already at the level and gaining joins at once, so that atoms
tied at a breakpoint (or at :math:`\lambda_{\max}`) all join, one after the other, as
long as the path needs them. An active coefficient leaves when it reaches zero while
moving towards it, at :math:`\gamma = -h_m/d_m` with :math:`s_m d_m < 0`, again
possibly at once. An atom that has just left may join again at the next breakpoint
(the path can need it back immediately, with the opposite sign or after the direction
changed), but not by a step of zero length: that guard keeps degenerate breakpoints
from cycling.

After the walk the code is polished on its final active set and signs, and its
relative duality gap and optimality (KKT) violation are computed from the Gram
quantities; the caller decides with them whether the signal is solved.

Without Numba the same functions run as plain Python and NumPy (slowly, but the
same algorithm). With Numba they are compiled once, cached next to this file, and run
with the GIL released.
"""

from __future__ import annotations

import numpy as np

from ._threads import map_on_cores, workers

try:  # Numba is an optional accelerator: the same functions run uncompiled without it
    import numba as _nb

    def _jit(fn):
        return _nb.njit(cache=True, nogil=True, error_model="numpy")(fn)

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by the no-Numba test run
    def _jit(fn):
        return fn

    HAVE_NUMBA = False

# status of one signal
DONE, MAX_STEPS, DEGENERATE = 0, 1, 2
# recorded events: +(j + 1) when atom j joins, -(j + 1) when it leaves


@_jit
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


@_jit
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


@_jit
def join_step(c, a, level, active, just_dropped, gbuf):
    """The smallest step ``gamma >= 0`` at which an inactive atom joins; its index.

    ``gbuf`` receives each atom's step (``inf`` for active atoms). The just-dropped atom
    may join only by a step longer than the guard (no zero-length cycle).
    """
    p = c.shape[0]
    guard = 1e-12 * max(level, 1e-300)
    for j in range(p):
        g = np.inf
        if not active[j]:
            den1 = 1.0 - a[j]
            den2 = 1.0 + a[j]
            if den1 > 1e-14:
                g1 = (level - c[j]) / den1
                g = max(g1, 0.0)
            if den2 > 1e-14:
                g2 = max((level + c[j]) / den2, 0.0)
                if g2 < g:
                    g = g2
            if j == just_dropped and g <= guard:
                # only a later root: recompute without the zero-length ones
                g = np.inf
                if den1 > 1e-14:
                    g1 = (level - c[j]) / den1
                    if g1 > guard:
                        g = g1
                if den2 > 1e-14:
                    g2 = (level + c[j]) / den2
                    if g2 > guard and g2 < g:
                        g = g2
        gbuf[j] = g
    best = np.inf
    jbest = -1
    for j in range(p):
        if gbuf[j] < best:
            best = gbuf[j]
            jbest = j
    return best, jbest


@_jit
def gap_and_kkt(b, c, h, idx, sgn, k, lam, half_xx):
    """Relative duality gap and relative KKT violation from the Gram quantities.

    With :math:`c = b - Gh`: :math:`\\|r\\|^2 = \\|x\\|^2 - b^\\top h - c^\\top h` and
    :math:`x^\\top r = \\|x\\|^2 - b^\\top h`.
    """
    p = b.shape[0]
    bh = 0.0
    ch = 0.0
    l1 = 0.0
    for m in range(k):
        j = idx[m]
        bh += b[j] * h[j]
        ch += c[j] * h[j]
        l1 += abs(h[j])
    xx = 2.0 * half_xx
    rr = max(xx - bh - ch, 0.0)
    xr = xx - bh
    cmax = 0.0
    bmax = 0.0
    for j in range(p):
        cmax = max(cmax, abs(c[j]))
        bmax = max(bmax, abs(b[j]))
    primal = 0.5 * rr + lam * l1
    if lam > 0.0:
        scale = 1.0 if cmax <= lam else lam / cmax
    else:
        scale = 1.0 if cmax == 0.0 else 0.0
    dual = scale * xr - 0.5 * scale * scale * rr
    gap = max(primal - dual, 0.0)
    rel = gap / half_xx if half_xx > 0.0 else 0.0
    # KKT: |c_j| <= lam off the support, c_j = lam s_j on it
    viol = 0.0
    for j in range(p):
        v = abs(c[j]) - lam
        if v > viol and h[j] == 0.0:
            viol = v
    for m in range(k):
        j = idx[m]
        if h[j] != 0.0:
            s = 1.0 if h[j] > 0.0 else -1.0
            v = abs(c[j] - lam * s)
            if v > viol:
                viol = v
    kkt = viol / bmax if bmax > 0.0 else 0.0
    return primal, rel, kkt


@_jit
def walk(G, b, lam, max_steps, half_xx, h, c, a, d, rhs, w, idx, sgn, active, gbuf,
         Lc, obj, rec_lam, rec_h, rec_event):
    """Follow the path of one signal down to ``lam``.

    Returns ``(steps, status, lam_max, k)`` with ``k`` the final number of active atoms
    (their indices in ``idx[:k]``). ``obj[s]`` receives the objective (at the target
    ``lam``) after ``s`` steps. When ``rec_lam`` has room, breakpoint ``s`` is recorded:
    its level, its code and the event that ended the segment before it.
    """
    p = G.shape[0]
    kcap = Lc.shape[0]
    n_rec = rec_lam.shape[0]
    lam_max = 0.0
    j0 = 0
    for j in range(p):
        c[j] = b[j]
        h[j] = 0.0
        active[j] = False
        v = abs(b[j])
        if v > lam_max:
            lam_max = v
            j0 = j
    obj[0] = half_xx
    if n_rec > 0:
        rec_lam[0] = max(lam_max, lam)
        for j in range(p):
            rec_h[0, j] = 0.0
        rec_event[0] = 0
    if lam >= lam_max or lam_max == 0.0:
        return 0, DONE, lam_max, 0
    if not chol_append(G, idx, 0, j0, Lc, w):
        return 0, DEGENERATE, lam_max, 0
    idx[0] = j0
    sgn[0] = 1.0 if c[j0] > 0 else -1.0
    active[j0] = True
    if n_rec > 1:
        rec_event[1] = j0 + 1
    k = 1
    level = lam_max
    just_dropped = -1
    steps = 0
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
        gamma_add, j_add = join_step(c, a, level, active, just_dropped, gbuf)
        # an active coefficient reaches zero while moving towards it
        gamma_drop = np.inf
        m_drop = -1
        for m in range(k):
            if sgn[m] * d[m] < 0.0:
                g = max(-h[idx[m]] / d[m], 0.0)
                if g < gamma_drop:
                    gamma_drop = g
                    m_drop = m
        gamma_end = level - lam
        gamma = min(gamma_add, gamma_drop, gamma_end)
        for m in range(k):
            h[idx[m]] += gamma * d[m]
        for j in range(p):
            c[j] -= gamma * a[j]
        level -= gamma
        steps += 1
        bh = 0.0
        ch = 0.0
        l1 = 0.0
        for m in range(k):
            jj = idx[m]
            bh += b[jj] * h[jj]
            ch += c[jj] * h[jj]
            l1 += abs(h[jj])
        obj[steps] = 0.5 * max(2.0 * half_xx - bh - ch, 0.0) + lam * l1
        if steps < n_rec:
            rec_lam[steps] = level
            for j in range(p):
                rec_h[steps, j] = h[j]
        if gamma == gamma_end:
            status = DONE
            break
        if steps >= max_steps:
            break
        if gamma_drop <= gamma_add:
            jd = idx[m_drop]
            h[jd] = 0.0
            active[jd] = False
            for m in range(m_drop, k - 1):
                idx[m] = idx[m + 1]
                sgn[m] = sgn[m + 1]
            k -= 1
            just_dropped = jd
            if steps + 1 < n_rec:
                rec_event[steps + 1] = -(jd + 1)
            if steps < n_rec:
                rec_h[steps, jd] = 0.0
            if k == 0:
                # every coefficient left: the level equals the largest correlation;
                # start again from it as at lambda_max
                best = -1.0
                jn = -1
                for j in range(p):
                    if j != jd and abs(c[j]) > best:
                        best = abs(c[j])
                        jn = j
                if jn < 0:
                    return steps, DEGENERATE, lam_max, 0
                idx[0] = jn
                sgn[0] = 1.0 if c[jn] > 0 else -1.0
                active[jn] = True
                k = 1
            for m in range(k):  # rebuild the factor
                if not chol_append(G, idx, m, idx[m], Lc, w):
                    return steps, DEGENERATE, lam_max, k
        else:
            if k >= kcap or not chol_append(G, idx, k, j_add, Lc, w):
                return steps, DEGENERATE, lam_max, k
            idx[k] = j_add
            sgn[k] = -1.0 if c[j_add] < 0 else 1.0
            active[j_add] = True
            k += 1
            just_dropped = -1
            if steps + 1 < n_rec:
                rec_event[steps + 1] = j_add + 1
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
            # correlations of the polished code: c = b - G h
            for j in range(p):
                c[j] = b[j]
            for m in range(k):
                row = G[idx[m]]
                hm = w[m]
                for j in range(p):
                    c[j] -= row[j] * hm
            if steps < n_rec:
                for j in range(p):
                    rec_h[steps, j] = h[j]
    return steps, status, lam_max, k


@_jit
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


@_jit
def walk_all(D, X, G, lam, max_steps, kcap, H, steps, status, lam_max, rel_gap, kkt,
             obj_sum, final_obj):
    """Every row of ``X``: correlations, the walk, its certificates, and the objective
    after each step summed over the rows (``obj_sum``; a row that finished early adds its
    final value to the later entries through ``final_obj``, the caller completes it)."""
    n, f = X.shape
    p = G.shape[0]
    b = np.empty(p)
    c = np.empty(p)
    a = np.empty(p)
    d = np.empty(kcap)
    rhs = np.empty(kcap)
    w = np.empty(kcap)
    idx = np.empty(kcap, np.int64)
    sgn = np.empty(kcap)
    active = np.zeros(p, np.bool_)
    gbuf = np.empty(p)
    Lc = np.zeros((kcap, kcap))
    obj = np.empty(max_steps + 1)
    rec_lam = np.empty(0)
    rec_h = np.empty((0, p))
    rec_event = np.empty(0, np.int64)
    for i in range(n):
        x = X[i]
        xx = 0.0
        for q in range(f):
            xx += x[q] * x[q]
        for j in range(p):  # b = D^T x, along the rows of D
            b[j] = 0.0
        for q in range(f):
            xq = x[q]
            for j in range(p):
                b[j] += D[q, j] * xq
        h = H[i]
        st_, s_, lm, k = walk(G, b, lam, max_steps, 0.5 * xx, h, c, a, d, rhs, w, idx,
                              sgn, active, gbuf, Lc, obj, rec_lam, rec_h, rec_event)
        steps[i] = st_
        status[i] = s_
        lam_max[i] = lm
        primal, rg, kv = gap_and_kkt(b, c, h, idx, sgn, k, lam, 0.5 * xx)
        rel_gap[i] = rg
        kkt[i] = kv
        obj[st_] = primal
        for s in range(st_ + 1):
            obj_sum[s] += obj[s]
        final_obj[st_ + 1] += primal


def homotopy_batch(D, X, lam, max_steps):
    """Run the walk for every row of ``X`` (float64 arrays).

    Returns ``H, steps, status, lam_max, rel_gap, kkt, objective`` where ``objective[s]``
    is the objective summed over the rows after ``s`` steps (a row that finished keeps
    its final value), of length ``max(steps) + 1``.

    The products with the dictionary are compiled loops, not BLAS: on a machine with few
    cores, BLAS threads keep spinning for a while after a call and then compete with
    the walk's (measured on 2 cores: 104 ms instead of 71 ms for 10,000 signals).
    Blocks of at least 64 rows are shared among the cores in Python threads
    (:func:`sparsecoding._threads.map_on_cores`), a few blocks per thread so that
    signals with long paths do not leave a core idle.
    """
    D = np.ascontiguousarray(D, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, f = X.shape
    p = D.shape[1]
    kcap = max(1, min(p, f))
    H = np.empty((n, p))
    steps = np.zeros(n, np.int64)
    status = np.zeros(n, np.int64)
    lam_max = np.zeros(n)
    rel_gap = np.zeros(n)
    kkt = np.zeros(n)
    G = gram(D)
    n_workers = workers() if HAVE_NUMBA else 1
    n_blocks = max(1, min(4 * n_workers, n // 64)) if n_workers > 1 else 1
    bounds = np.linspace(0, n, n_blocks + 1).astype(np.int64)
    sums = np.zeros((n_blocks, max_steps + 2))
    finals = np.zeros((n_blocks, max_steps + 2))

    def run(blk):
        s = slice(bounds[blk], bounds[blk + 1])
        walk_all(D, X[s], G, float(lam), int(max_steps), kcap, H[s], steps[s],
                 status[s], lam_max[s], rel_gap[s], kkt[s], sums[blk], finals[blk])

    map_on_cores(run, range(n_blocks), n_workers)
    last = int(steps.max()) if n else 0
    objective = sums.sum(axis=0) + np.cumsum(finals.sum(axis=0))
    return H, steps, status, lam_max, rel_gap, kkt, objective[: last + 1]


def homotopy_record(D, x, lam, max_steps):
    """Run the walk for one signal and record every breakpoint.

    Returns ``lambdas, codes, events, status, rel_gap, kkt`` (events as signed atom
    numbers, see the module's docstring; ``events[0]`` is unused).
    """
    D = np.ascontiguousarray(D, dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    f, p = D.shape
    kcap = max(1, min(p, f))
    G = gram(D)
    b = D.T @ x
    h = np.zeros(p)
    c, a, gbuf = np.empty(p), np.empty(p), np.empty(p)
    d, rhs, w, sgn = np.empty(kcap), np.empty(kcap), np.empty(kcap), np.empty(kcap)
    idx = np.empty(kcap, np.int64)
    active = np.zeros(p, np.bool_)
    Lc = np.zeros((kcap, kcap))
    obj = np.empty(max_steps + 1)
    rec_lam = np.zeros(max_steps + 1)
    rec_h = np.zeros((max_steps + 1, p))
    rec_event = np.zeros(max_steps + 2, np.int64)
    half_xx = 0.5 * float(x @ x)
    steps, status, _, k = walk(G, b, float(lam), int(max_steps), half_xx, h, c, a, d,
                               rhs, w, idx, sgn, active, gbuf, Lc, obj, rec_lam, rec_h,
                               rec_event)
    _, rel_gap, kkt = gap_and_kkt(b, c, h, idx, sgn, k, float(lam), half_xx)
    return (rec_lam[: steps + 1], rec_h[: steps + 1], rec_event[: steps + 1], status,
            rel_gap, kkt, h)
