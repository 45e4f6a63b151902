r"""The homotopy (LARS-lasso) walk: the one implementation, compiled when Numba is there.

The walk of :func:`sparsecoding.homotopy` and
:func:`sparsecoding.homotopy_path`, written on the Gram matrix
:math:`G = D^\top D` and the correlations :math:`b = D^\top x`, so that no step touches
the dictionary itself:

* the correlations :math:`c = b - G h` are updated in place,
  :math:`c \leftarrow c - \gamma\, G_{:,A} d`, one product with the active columns of
  :math:`G` per step;
* the direction :math:`d = (G_{AA})^{-1} s` comes from a Cholesky factor of
  :math:`G_{AA}` that grows by one row when an atom joins (a triangular solve) and
  loses one when an atom leaves (Givens rotations, ``chol_delete``);
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

After the walk the code is polished on its final active set and signs. Its relative
duality gap and KKT violation are computed from the correlations the walk keeps
(``gap_and_kkt``), and the caller decides with them whether the signal is solved. When
the atoms' norms span orders of magnitude, correlations kept as :math:`b - Gh` lose
their digits; there the walk computes them from the residual :math:`x - Dh` itself
(``needs_residual``).

Working set
-----------
Most atoms never join a short path. When the atoms whose correlation
:math:`|d_j^\top x|` reaches :math:`\lambda` are few (``walk_all``'s rule), the walk
runs first on a working set: the atoms of largest :math:`|d_j^\top x|`, at least 64 and
one and a half times as many as reach :math:`\lambda`, at most half of the atoms. Each
step then costs that many operations instead of ``n_atoms``, and only the rows of the
Gram matrix of the atoms that join are copied. The code it ends with, zero elsewhere,
is the lasso solution exactly when no other atom violates the KKT condition
:math:`|d_j^\top(x - Dh)| \le \lambda`; the violators join the working set and the walk
runs again (``walk_working_set``), and when the set would exceed half of the atoms,
or its walk does not end, the walk runs on all atoms. The same certificate as for the
walk on all atoms is then computed on all atoms.

A long step (to below a thousandth of the current level, as to a tiny :math:`\lambda`) is taken
in the exact form of the segment (``precise_step``), so that the next level is not
computed as a difference of two large numbers.

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

    def _jit_borrowed(fn):
        # no reference counting: a function that allocates no array and returns none
        # only borrows the arrays it is given (its caller holds them), and counting
        # them (an atomic operation per array, on entry and exit, and per view) cost
        # about a tenth of the walk on short paths
        return _nb.njit(cache=True, nogil=True, error_model="numpy", _nrt=False)(fn)

    def _jit_inline(fn):
        # inlined where it is called (numba IR): a call of a compiled function costs
        # an atomic reference count per array argument, in and out, which on the
        # walk's short steps cost as much as the arithmetic
        return _nb.njit(cache=True, nogil=True, error_model="numpy",
                        inline="always")(fn)

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by the no-Numba test run
    def _jit(fn):
        return fn

    _jit_inline = _jit_borrowed = _jit

    HAVE_NUMBA = False

# status of one signal
DONE, MAX_STEPS, DEGENERATE = 0, 1, 2
# recorded events: +(j + 1) when atom j joins, -(j + 1) when it leaves


@_jit_inline
def forward_solve(Lc, start, k, rhs, out):
    """Rows ``start`` to ``k - 1`` of the solution of ``Lc out = rhs`` (the rows
    before ``start`` are in ``out`` already: they do not depend on the rows of ``Lc``
    below); ``out`` may be ``rhs``. Each row's sum in two halves: two chains of
    dependent operations, each half as long."""
    kc = Lc.shape[1] - 1
    for m in range(start, k):
        s0 = rhs[m]
        s1 = 0.0
        q = 0
        while q + 2 <= m:
            s0 -= Lc[m, q] * out[q]
            s1 -= Lc[m, q + 1] * out[q + 1]
            q += 2
        if q < m:
            s0 -= Lc[m, q] * out[q]
        out[m] = (s0 + s1) * Lc[m, kc]


@_jit_inline
def chol_append(G, idx, k, j, Lc, w):
    """Add atom ``j`` as row ``k`` of the Cholesky factor of ``G[idx, idx]``.

    ``Lc`` has one column more than rows: its last column holds the reciprocals of
    the diagonal, so that the triangular solves multiply where they would divide (a
    division's latency is three to four multiplications', on the solves' chains of
    dependent operations).
    """
    for m in range(k):
        w[m] = G[idx[m], j]
    forward_solve(Lc, 0, k, w, w)
    kc = Lc.shape[1] - 1
    piv = G[j, j]
    for m in range(k):
        piv -= w[m] * w[m]
        Lc[k, m] = w[m]
    if not piv > 1e-10 * G[j, j]:
        return False
    Lc[k, k] = np.sqrt(piv)
    Lc[k, kc] = 1.0 / Lc[k, k]
    return True


@_jit_inline
def back_solve(Lc, k, out):
    """Solve ``Lc^T y = out`` in place for the leading ``k`` rows."""
    kc = Lc.shape[1] - 1
    for m in range(k - 1, -1, -1):  # by rows of Lc (contiguous): out[q] -= Lc[m, q] out[m]
        out[m] *= Lc[m, kc]
        om = out[m]
        for q in range(m):
            out[q] -= Lc[m, q] * om


@_jit_inline
def chol_solve(Lc, k, rhs, out):
    """Solve ``Lc Lc^T out = rhs`` for the leading ``k`` rows."""
    forward_solve(Lc, 0, k, rhs, out)
    back_solve(Lc, k, out)


@_jit_inline
def add_rows(G, idx, coef, k, scale, out):
    """``out += scale * G[idx[:k]].T @ coef[:k]``: four rows of ``G`` per pass over
    ``out`` (one load and store of ``out`` for four rows, not for each)."""
    p = out.shape[0]
    m = 0
    while m + 4 <= k:
        r0, r1, r2, r3 = idx[m], idx[m + 1], idx[m + 2], idx[m + 3]
        c0, c1 = scale * coef[m], scale * coef[m + 1]
        c2, c3 = scale * coef[m + 2], scale * coef[m + 3]
        for j in range(p):
            out[j] += (G[r0, j] * c0 + G[r1, j] * c1) + (G[r2, j] * c2 + G[r3, j] * c3)
        m += 4
    while m < k:
        r0 = idx[m]
        c0 = scale * coef[m]
        for j in range(p):
            out[j] += G[r0, j] * c0
        m += 1


@_jit_borrowed
def chol_delete(Lc, k, m):
    """Remove row and column ``m`` from the ``k x k`` Cholesky factor ``Lc`` in place.

    The rows below ``m`` move up by one, which leaves one entry above the diagonal in
    each; Givens rotations of neighbouring columns remove them (``O((k - m)^2)``
    operations, against ``O(k^3)`` for a new factorisation).
    """
    for i in range(m, k - 1):
        for q in range(i + 2):
            Lc[i, q] = Lc[i + 1, q]
    for j in range(m, k - 1):
        x = Lc[j, j]
        y = Lc[j, j + 1]
        rho = np.sqrt(x * x + y * y)
        cs = x / rho
        sn = y / rho
        Lc[j, j] = rho
        Lc[j, j + 1] = 0.0
        for i in range(j + 1, k - 1):
            u = Lc[i, j]
            v = Lc[i, j + 1]
            Lc[i, j] = cs * u + sn * v
            Lc[i, j + 1] = cs * v - sn * u
    kc = Lc.shape[1] - 1
    for i in range(m, k - 1):
        Lc[i, kc] = 1.0 / Lc[i, i]


@_jit_inline
def join_step(c, a, level, blocked, just_dropped, gbuf):
    r"""The smallest step ``gamma >= 0`` at which an inactive atom joins; its index.

    ``blocked`` is ``0`` for an inactive atom and ``inf`` for an active one; ``gbuf``
    receives each atom's step. Of the two signs, the one whose step is shorter is
    found without dividing (when both denominators are positive,
    :math:`(\ell - c_j)/(1 - a_j) < (\ell + c_j)/(1 + a_j)` exactly when
    :math:`\ell a_j < c_j`), so that each atom costs one division; the passes are
    branch-free, and the minimum and its index are taken in four independent lanes
    in the same pass. The just-dropped atom may join only by a step longer than the
    guard (no zero-length cycle).
    """
    p = c.shape[0]
    for j in range(p):
        aj = a[j]
        cj = c[j]
        den_p = 1.0 - aj
        den_m = 1.0 + aj
        # the shorter of the two steps; the other sign when its denominator is not
        # positive (the correlation does not gain on the level with that sign)
        plus = (level * aj < cj and den_p > 1e-14) or not den_m > 1e-14
        num = level - cj if plus else level + cj
        den = den_p if plus else den_m
        ok = den > 1e-14
        g = max(num / (den if ok else 1.0), 0.0)
        gbuf[j] = (g if ok else np.inf) + blocked[j]
    if just_dropped >= 0:
        j = just_dropped
        guard = 1e-12 * level
        g = np.inf
        den1 = 1.0 - a[j]
        den2 = 1.0 + a[j]
        if den1 > 1e-14:
            g1 = (level - c[j]) / den1
            if g1 > guard:
                g = g1
        if den2 > 1e-14:
            g2 = (level + c[j]) / den2
            if g2 > guard and g2 < g:
                g = g2
        gbuf[j] = g + blocked[j]
    # the minimum and its first index in four lanes (a single running minimum is one
    # long chain of dependent comparisons); strict comparisons keep a lane's first
    # index, and the lanes' smallest index among their equal minima is the first
    m0 = m1 = m2 = m3 = np.inf
    i0 = i1 = i2 = i3 = -1
    q = p - p % 4
    for j in range(0, q, 4):
        g0, g1, g2, g3 = gbuf[j], gbuf[j + 1], gbuf[j + 2], gbuf[j + 3]
        i0 = j if g0 < m0 else i0
        m0 = g0 if g0 < m0 else m0
        i1 = j + 1 if g1 < m1 else i1
        m1 = g1 if g1 < m1 else m1
        i2 = j + 2 if g2 < m2 else i2
        m2 = g2 if g2 < m2 else m2
        i3 = j + 3 if g3 < m3 else i3
        m3 = g3 if g3 < m3 else m3
    for j in range(q, p):
        i0 = j if gbuf[j] < m0 else i0
        m0 = gbuf[j] if gbuf[j] < m0 else m0
    best = min(min(m0, m1), min(m2, m3))
    jbest = -1
    if best < np.inf:
        jbest = p
        if m0 == best:
            jbest = i0
        if m1 == best and i1 < jbest:
            jbest = i1
        if m2 == best and i2 < jbest:
            jbest = i2
        if m3 == best and i3 < jbest:
            jbest = i3
    return best, jbest


@_jit_inline
def support_sums(b, c, h, idx, k):
    """``b.h``, ``c.h`` and ``|h|_1`` over the active atoms ``idx[:k]``."""
    bh = 0.0
    ch = 0.0
    l1 = 0.0
    for m in range(k):
        j = idx[m]
        bh += b[j] * h[j]
        ch += c[j] * h[j]
        l1 += abs(h[j])
    return bh, ch, l1


@_jit_inline
def objective_at(b, c, h, idx, k, lam, half_xx):
    r"""The lasso objective of ``h`` from the Gram quantities:
    :math:`\tfrac12(\|x\|^2 - b^\top h - c^\top h) + \lambda\|h\|_1`."""
    bh, ch, l1 = support_sums(b, c, h, idx, k)
    return 0.5 * max(2.0 * half_xx - bh - ch, 0.0) + lam * l1


@_jit_borrowed
def gap_and_kkt(b, c, h, idx, k, lam, half_xx):
    r"""Primal objective, relative duality gap and relative KKT violation of ``h``.

    From the correlations :math:`c = D^\top(x - Dh)` the walk keeps:
    :math:`\|r\|^2 = \|x\|^2 - b^\top h - c^\top h` and
    :math:`x^\top r = \|x\|^2 - b^\top h`, with :math:`b = D^\top x`; the dual point
    is the residual scaled into :math:`\|D^\top\theta\|_\infty \le \lambda`, as in
    :mod:`sparsecoding.duality`. O(n_atoms) work.
    """
    p = b.shape[0]
    bh, ch, l1 = support_sums(b, c, h, idx, k)
    xx = 2.0 * half_xx
    rr = max(xx - bh - ch, 0.0)
    xr = xx - bh
    cmax = 0.0
    bmax = 0.0
    viol = 0.0
    for j in range(p):  # selects, not branches
        cj = c[j]
        hj = h[j]
        cmax = max(cmax, abs(cj))
        bmax = max(bmax, abs(b[j]))
        e = abs(cj - (lam if hj > 0.0 else -lam)) if hj != 0.0 else abs(cj) - lam
        viol = max(viol, e)
    primal = 0.5 * rr + lam * l1
    if lam > 0.0:
        scale = 1.0 if cmax <= lam else lam / cmax
    else:
        scale = 1.0 if cmax == 0.0 else 0.0
    dual = scale * xr - 0.5 * scale * scale * rr
    gap = max(primal - dual, 0.0)
    rel = gap / half_xx if half_xx > 0.0 else 0.0
    kkt = viol / bmax if bmax > 0.0 else 0.0
    return primal, rel, kkt


@_jit_borrowed
def image_of_active(D, idx, k, coef, out):
    """``out = D[:, idx[:k]] @ coef[:k]``."""
    f = D.shape[0]
    for q in range(f):
        out[q] = 0.0
    for m in range(k):
        j = idx[m]
        cm = coef[m]
        for q in range(f):
            out[q] += D[q, j] * cm


@_jit_borrowed
def correlate(D, v, out):
    """``out = D.T @ v``, along the rows of ``D``."""
    f, p = D.shape
    for j in range(p):
        out[j] = 0.0
    for q in range(f):
        vq = v[q]
        for j in range(p):
            out[j] += D[q, j] * vq


@_jit_borrowed
def residual_correlations(D, x, h, idx, k, r, c):
    """``c = D.T @ (x - D h)`` from the residual itself (``h`` zero off ``idx[:k]``)."""
    f = D.shape[0]
    for q in range(f):
        r[q] = x[q]
    for m in range(k):
        j = idx[m]
        hj = h[j]
        for q in range(f):
            r[q] -= D[q, j] * hj
    correlate(D, r, c)


@_jit_borrowed
def precise_step(G, b, Lc, lam, level, k, idx, sgn, d, a, h, c, blocked, just_dropped,
                 rhs, u, D, x, r, resid):
    r"""One step in the exact form of the segment, for long steps.

    On the segment, :math:`h_A(t) = u - t d` with :math:`u = G_{AA}^{-1} b_A` and
    :math:`d = G_{AA}^{-1} s`, and :math:`c(t) = e + t a` with
    :math:`e = b - G_{:,A} u`. The next level is the largest :math:`t < \ell` among
    :math:`t = \sigma e_j/(1 - \sigma a_j)` (an atom joins), :math:`t = u_m/d_m` (a
    coefficient reaches zero) and :math:`\lambda` (the end), each computed without a
    subtraction from :math:`\ell`. Updates ``h`` and ``c`` in place; returns
    ``(t, event, j_add, m_drop)`` with event 0 (end), 1 (join) or 2 (leave).
    """
    p = b.shape[0]
    for m in range(k):
        rhs[m] = b[idx[m]]
    chol_solve(Lc, k, rhs, u)
    # e = b - G[:, A] u (or D^T (x - D_A u)), kept in c until t is known
    if resid:
        image_of_active(D, idx, k, u, r)
        for q in range(r.shape[0]):
            r[q] = x[q] - r[q]
        correlate(D, r, c)
    else:
        for j in range(p):
            c[j] = b[j]
        add_rows(G, idx, u, k, -1.0, c)
    guard = level * (1.0 - 1e-12)
    t_best = lam
    event = 0
    j_add = -1
    m_drop = -1
    for m in range(k):
        if sgn[m] * d[m] < 0.0:
            t = u[m] / d[m]
            if t < level and t > t_best:
                t_best = t
                event = 2
                m_drop = m
    for j in range(p):
        if blocked[j] != 0.0:
            continue
        for sigma in (1.0, -1.0):
            den = 1.0 - sigma * a[j]
            if den > 1e-14:
                t = sigma * c[j] / den
                limit = guard if j == just_dropped else level
                if t < limit and t > t_best:
                    t_best = t
                    event = 1
                    j_add = j
    for m in range(k):
        h[idx[m]] = u[m] - t_best * d[m]
    for j in range(p):
        c[j] += t_best * a[j]
    return t_best, event, j_add, m_drop


@_jit_inline
def fill_row(G_all, wset, G, j):
    """Row ``j`` of the Gram block ``G`` of the atoms ``wset``, from ``G_all``."""
    jg = wset[j]
    for q in range(G.shape[0]):
        G[j, q] = G_all[jg, wset[q]]


@_jit_borrowed
def walk(G, b, lam, max_steps, half_xx, h, c, a, d, rhs, w, z, idx, sgn, blocked, gbuf,
         Lc, obj, rec_lam, rec_h, rec_event, D, x, r, resid, G_all=None, wset=None):
    """Follow the path of one signal down to ``lam``.

    Returns ``(steps, status, lam_max, k)`` with ``k`` the final number of active atoms
    (their indices in ``idx[:k]``). ``obj[s]`` receives the objective (at the target
    ``lam``) after ``s`` steps. When ``rec_lam`` has room, breakpoint ``s`` is recorded:
    its level, its code and the event that ended the segment before it.

    With a non-empty ``wset``, the walk is on the atoms ``wset`` of a larger
    dictionary whose Gram matrix is ``G_all``: ``G`` is their Gram block, of which the
    walk reads only the rows of active atoms, so a row is copied from ``G_all`` when
    its atom joins.
    """
    p = G.shape[0]
    kcap = Lc.shape[0]
    n_rec = rec_lam.shape[0]
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
    obj[0] = half_xx
    if n_rec > 0:
        rec_lam[0] = max(lam_max, lam)
        for j in range(p):
            rec_h[0, j] = 0.0
        rec_event[0] = 0
    if lam >= lam_max or lam_max == 0.0:
        return 0, DONE, lam_max, 0
    # rows copied on joining (an empty wset, as None: G is the whole Gram matrix)
    lazy = wset is not None and wset.shape[0] > 0
    if lazy:
        fill_row(G_all, wset, G, j0)
    if not chol_append(G, idx, 0, j0, Lc, w):
        return 0, DEGENERATE, lam_max, 0
    idx[0] = j0
    sgn[0] = 1.0 if c[j0] > 0 else -1.0
    blocked[j0] = np.inf
    if n_rec > 1:
        rec_event[1] = j0 + 1
    k = 1
    level = lam_max
    just_dropped = -1
    steps = 0
    status = MAX_STEPS
    # z = Lc^{-1} s, kept from step to step: its first n_z rows stay valid while the
    # rows of Lc above them do not change (an atom joining adds a row; one leaving
    # changes the rows from its own down), so each step computes only the new rows
    # (the same operations as a full forward substitution) and then solves Lc^T d = z
    n_z = 0
    while True:
        forward_solve(Lc, n_z, k, sgn, z)
        n_z = k
        for m in range(k):
            d[m] = z[m]
        back_solve(Lc, k, d)
        if resid:
            image_of_active(D, idx, k, d, r)
            correlate(D, r, a)
        else:
            for j in range(p):
                a[j] = 0.0
            add_rows(G, idx, d, k, 1.0, a)
        gamma_add, j_add = join_step(c, a, level, blocked, just_dropped, gbuf)
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
        event = 0  # 0: the end, 1: an atom joins, 2: an atom leaves
        if gamma < gamma_end:
            event = 2 if gamma_drop <= gamma_add else 1
        if gamma > 0.999 * level:
            # a long step, to a level below a thousandth of this one: level - gamma
            # would lose the digits of the next level (a tiny lam, or levels spanning
            # many orders of magnitude); take it in the exact form h_A(t) = u - t d,
            # c(t) = e + t a, with the next level t computed directly (precise_step)
            t, event, j_add, m_drop = precise_step(G, b, Lc, lam, level, k, idx, sgn, d,
                                                   a, h, c, blocked, just_dropped, rhs, w,
                                                   D, x, r, resid)
            level = t
        else:
            for m in range(k):
                h[idx[m]] += gamma * d[m]
            if resid:
                residual_correlations(D, x, h, idx, k, r, c)
            else:
                for j in range(p):
                    c[j] -= gamma * a[j]
            level -= gamma
        steps += 1
        obj[steps] = objective_at(b, c, h, idx, k, lam, half_xx)
        if steps < n_rec:
            rec_lam[steps] = level
            for j in range(p):
                rec_h[steps, j] = h[j]
        if event == 0:
            status = DONE
            break
        if steps >= max_steps:
            break
        if event == 2:
            jd = idx[m_drop]
            h[jd] = 0.0
            blocked[jd] = 0.0
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
                blocked[jn] = np.inf
                k = 1
                n_z = 0
                if lazy:
                    fill_row(G_all, wset, G, jn)
                if not chol_append(G, idx, 0, jn, Lc, w):
                    return steps, DEGENERATE, lam_max, k
            else:
                chol_delete(Lc, k + 1, m_drop)
                n_z = min(n_z, m_drop)
        else:
            if lazy and k < kcap:
                fill_row(G_all, wset, G, j_add)
            if k >= kcap or not chol_append(G, idx, k, j_add, Lc, w):
                return steps, DEGENERATE, lam_max, k
            idx[k] = j_add
            sgn[k] = -1.0 if c[j_add] < 0 else 1.0
            blocked[j_add] = np.inf
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
            if resid:
                residual_correlations(D, x, h, idx, k, r, c)
            else:
                for j in range(p):
                    c[j] = b[j]
                add_rows(G, idx, w, k, -1.0, c)
            if steps < n_rec:
                for j in range(p):
                    rec_h[steps, j] = h[j]
            obj[steps] = objective_at(b, c, h, idx, k, lam, half_xx)
    return steps, status, lam_max, k


def gram(D):
    """``D.T @ D``: BLAS on one thread, so that no spinning BLAS threads are left to
    compete with the walk (see ``homotopy_batch``); measured 10 to 25 times faster
    than compiled loops at 256 x 1024."""
    from ._threads import kernels_own_the_cores

    with kernels_own_the_cores():
        return D.T @ D


@_jit_borrowed
def top_atoms(b, kw, counts, wset):
    r"""At least ``kw`` atoms of largest ``|b_j|`` into ``wset``, in increasing order;
    returns their number.

    The threshold comes from a histogram of :math:`|b_j|` in ``counts.shape[0]`` bins
    over :math:`[0, \max_j |b_j|]`: the lower edge of the bin in which the count from
    the top reaches ``kw`` (so a few atoms more than ``kw`` may be kept, all of them
    at least as large as every atom left out). Branch-free passes, unlike a selection.
    """
    p = b.shape[0]
    nb = counts.shape[0]
    top = 0.0
    for j in range(p):
        top = max(top, abs(b[j]))
    for q in range(nb):
        counts[q] = 0
    scale = (nb - 1e-9) / top if top > 0.0 else 0.0
    for j in range(p):
        counts[int(abs(b[j]) * scale)] += 1
    total = 0
    q = nb - 1
    while q > 0:
        total += counts[q]
        if total >= kw:
            break
        q -= 1
    thr = q / scale if q > 0 else -1.0
    m = 0
    for j in range(p):
        wset[m] = j
        m += abs(b[j]) >= thr
    return m


@_jit_borrowed
def walk_working_set(G, b, lam, max_steps, half_xx, h, c, kw, wset, counts, inset, buf,
                     ha, aa, d, rhs, w, z, idx, sgn, blocked, gbuf, Lc, obj, rec_lam,
                     rec_h, rec_event, D, x, r):
    r"""The walk on a working set of atoms, made exact by the KKT conditions of all.

    The walk runs on (about) the ``kw`` atoms of largest :math:`|b_j|` (the rows of
    their Gram block that it needs copied into ``buf``), so that each step costs
    ``kw`` operations instead of ``n_atoms``. Its code, zero elsewhere, is the lasso
    solution when every other atom satisfies :math:`|d_j^\top(x - Dh)| \le \lambda`;
    the atoms that violate it join the working set and the walk runs again, until
    none does. Returns ``(steps, status, k)`` as ``walk`` (the last walk's steps,
    ``idx[:k]`` the atoms of ``h``, ``c`` their correlations), or ``status = -1`` when
    the working set grew past half the atoms or its walk did not end (the caller
    then walks on all atoms). ``wset`` has room for ``n_atoms + 1`` entries: the
    violators are collected without branches, each atom written one place further.
    """
    p = b.shape[0]
    m = top_atoms(b, kw, counts, wset)
    if 2 * m > p:
        return 0, -1, 0
    while True:
        gw = buf[: m * m].reshape((m, m))
        bw = ha[m:2 * m]
        for i in range(m):
            bw[i] = b[wset[i]]
        hw = ha[:m]
        steps, status, _, k = walk(gw, bw, lam, max_steps, half_xx, hw, c[:m], aa[:m],
                                   d, rhs, w, z, idx, sgn, blocked[:m], gbuf[:m], Lc, obj,
                                   rec_lam, rec_h, rec_event, D, x, r, False, G,
                                   wset[:m])
        if status != DONE:
            return steps, -1, 0
        # the code on all atoms and its correlations c = b - G h
        for j in range(p):
            h[j] = 0.0
            c[j] = b[j]
            inset[j] = False
        for i in range(m):
            inset[wset[i]] = True
        for q in range(k):
            jg = wset[idx[q]]
            d[q] = hw[idx[q]]
            idx[q] = jg
            h[jg] = d[q]
        add_rows(G, idx, d, k, -1.0, c)
        bound = lam * (1.0 + 1e-12)
        m_new = m
        for j in range(p):  # branch-free (wset has room for one more entry than atoms)
            wset[m_new] = j
            m_new += (abs(c[j]) > bound) & (not inset[j])
        if m_new == m:
            return steps, status, k
        if 2 * m_new > p:
            return steps, -1, 0
        m = m_new


@_jit
def walk_all(D, X, B, G, lam, max_steps, kcap, H, steps, status, lam_max, rel_gap, kkt,
             obj_sum, final_obj, resid, kw, ws_factor):
    r"""Every row of ``X``: the walk, its certificates, and the objective after each
    step summed over the rows (``obj_sum``; a row that finished early adds its final
    value to the later entries through ``final_obj``, the caller completes it).

    ``B`` holds the correlations ``X @ D`` of the rows when the caller computed them
    (one matrix product for the block), or has no rows, and then each row's are
    computed here, along the rows of ``D``. With ``kw > 0`` a row is walked first on a
    working set (``walk_working_set``) of ``max(kw, ws_factor * n)`` atoms, ``n`` the
    number of atoms with :math:`|d_j^\top x| \ge \lambda`, when that is at most half
    of the atoms; on all atoms otherwise, or when that does not end.
    """
    n, f = X.shape
    p = G.shape[0]
    given = B.shape[0] == n and n > 0
    b = np.empty(p)
    c = np.empty(p)
    a = np.empty(p)
    d = np.empty(kcap)
    rhs = np.empty(kcap)
    w = np.empty(kcap)
    z = np.empty(kcap)
    idx = np.empty(kcap, np.int64)
    sgn = np.empty(kcap)
    blocked = np.zeros(p)
    gbuf = np.empty(p)
    Lc = np.zeros((kcap, kcap + 1))
    obj = np.empty(max_steps + 1)
    rec_lam = np.empty(0)
    rec_h = np.empty((0, p))
    rec_event = np.empty(0, np.int64)
    r = np.empty(f)
    no_set = np.empty(0, np.int64)  # the walk on all atoms: one compiled walk for both
    use_ws = kw > 0 and 2 * kw <= p and lam > 0.0 and not resid
    cap = p // 2 if use_ws else 0
    wset = np.empty(p + 1, np.int64)
    inset = np.zeros(p, np.bool_)
    counts = np.zeros(64, np.int64)
    # the working set's Gram block and code, allocated when a row first needs them
    # (with one signal per call, most calls never do)
    buf = np.empty(0)
    ha = np.empty(0)
    for i in range(n):
        x = X[i]
        xx = 0.0
        for q in range(f):
            xx += x[q] * x[q]
        if given:
            for j in range(p):
                b[j] = B[i, j]
        else:
            correlate(D, x, b)
        h = H[i]
        s_ = -1
        if use_ws:
            lm = 0.0
            n_above = 0
            for j in range(p):
                v = abs(b[j])
                lm = max(lm, v)
                n_above += v >= lam
            m = max(kw, int(ws_factor * n_above))
            if lam < lm and 2 * m <= p:
                if buf.shape[0] == 0:
                    buf = np.empty(cap * cap)
                    ha = np.empty(2 * cap)
                st_, s_, k = walk_working_set(G, b, lam, max_steps, 0.5 * xx, h, c, m,
                                              wset, counts, inset, buf, ha, a, d, rhs,
                                              w, z, idx, sgn, blocked, gbuf, Lc, obj,
                                              rec_lam, rec_h, rec_event, D, x, r)
        if s_ < 0:
            st_, s_, lm, k = walk(G, b, lam, max_steps, 0.5 * xx, h, c, a, d, rhs, w,
                                  z, idx, sgn, blocked, gbuf, Lc, obj, rec_lam, rec_h,
                                  rec_event, D, x, r, resid, G, no_set)
        steps[i] = st_
        status[i] = s_
        lam_max[i] = lm
        _, rel_gap[i], kkt[i] = gap_and_kkt(b, c, h, idx, k, lam, 0.5 * xx)
        for s in range(st_ + 1):
            obj_sum[s] += obj[s]
        final_obj[st_ + 1] += obj[st_]


#: the first working set of a signal: at least this many times the number of atoms
#: whose correlation with it reaches lam (with fewer, it missed atoms of the solution
#: too often: measured on dense Gaussian signals)
WS_FACTOR = 1.5


def working_set_size(n_atoms):
    """The fewest atoms in a first working set (0: no working set)."""
    return 64 if n_atoms >= 256 else 0


def needs_residual(D):
    """Whether to compute correlations from residuals: when the atoms' norms differ by
    more than a factor of 1000, the Gram form loses the digits of the small ones."""
    norms = np.sqrt(np.einsum("ij,ij->j", D, D))
    top = norms.max() if norms.size else 0.0
    return bool(top > 0 and norms.min() < 1e-3 * top)


def homotopy_batch(D, X, lam, max_steps, G=None, resid=None, blas=None, kw=None):
    """Run the walk for every row of ``X`` (float64 arrays); ``G`` is ``D.T @ D`` and
    ``resid`` is ``needs_residual(D)`` when the caller has them.

    Returns ``H, steps, status, lam_max, rel_gap, kkt, objective`` (the relative
    duality gap and KKT violation of each row, see ``gap_and_kkt``), where ``objective[s]``
    is the objective summed over the rows after ``s`` steps (a row that finished keeps
    its final value), of length ``max(steps) + 1``.

    The correlations ``X @ D`` are one matrix product per block of rows when ``blas``
    (default: at least 128 rows), otherwise compiled loops, row by row. BLAS runs only
    on one thread here: inside the blocks shared among the cores BLAS is limited to one
    thread, and with one worker BLAS has one; small calls do not use it, because on a
    machine with few cores BLAS threads keep spinning for a while after a call and
    then compete with the walk (measured on 2 cores: 104 ms instead of 71 ms for 10,000
    signals). A row's correlations do not depend on the blocks (a caller that codes
    signals in blocks passes the same ``blas`` for all of them). Blocks of at least 64
    rows are shared among the cores in Python threads
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
    G = gram(D) if G is None else np.ascontiguousarray(G, dtype=np.float64)
    if resid is None:
        resid = needs_residual(D)
    if blas is None:
        blas = n >= 128 or not HAVE_NUMBA
    if kw is None:
        kw = working_set_size(p)
    # asking BLAS for its thread count costs about a millisecond (threadpoolctl scans the
    # loaded libraries): only when there are blocks to share
    n_workers = workers() if HAVE_NUMBA and n >= 128 else 1
    n_blocks = max(1, min(4 * n_workers, n // 64)) if n_workers > 1 else 1
    sums = np.zeros((n_blocks, max_steps + 2))
    finals = np.zeros((n_blocks, max_steps + 2))
    lam, max_steps = float(lam), int(max_steps)
    no_rows = np.empty((0, p))
    # with BLAS, the correlations of this many rows at a time (about 256 kB)
    chunk = max(2, 2**15 // p) if blas else max(n, 1)

    def run(blk, start, stop):
        for lo in range(start, stop, chunk):
            hi = min(lo + chunk, stop)
            Xs = X[lo:hi]
            if not blas:
                B = no_rows
            elif hi - lo == 1:  # a product of two rows: the kernel of the others
                B = np.ascontiguousarray((np.concatenate((Xs, Xs)) @ D)[:1])
            else:
                B = Xs @ D
            walk_all(D, Xs, B, G, lam, max_steps, kcap, H[lo:hi], steps[lo:hi],
                     status[lo:hi], lam_max[lo:hi], rel_gap[lo:hi], kkt[lo:hi],
                     sums[blk], finals[blk], resid, kw, WS_FACTOR)

    if n_blocks == 1:
        run(0, 0, n)
    else:
        bounds = np.linspace(0, n, n_blocks + 1).astype(np.int64)
        map_on_cores(lambda blk: run(blk, bounds[blk], bounds[blk + 1]),
                     range(n_blocks), n_workers)
    last = int(steps.max()) if n else 0
    if n_blocks == 1:
        objective = sums[0, : last + 1]
        objective += np.cumsum(finals[0, : last + 1])
    else:
        objective = sums[:, : last + 1].sum(axis=0)
        objective += np.cumsum(finals[:, : last + 1].sum(axis=0))
    return H, steps, status, lam_max, rel_gap, kkt, objective


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
    blocked = np.zeros(p)
    Lc = np.zeros((kcap, kcap + 1))
    obj = np.empty(max_steps + 1)
    rec_lam = np.zeros(max_steps + 1)
    rec_h = np.zeros((max_steps + 1, p))
    rec_event = np.zeros(max_steps + 2, np.int64)
    half_xx = 0.5 * float(x @ x)
    steps, status, _, k = walk(G, b, float(lam), int(max_steps), half_xx, h, c, a, d,
                               rhs, w, np.empty(kcap), idx, sgn, blocked, gbuf, Lc, obj,
                               rec_lam, rec_h, rec_event, D, x, np.empty(f),
                               needs_residual(D), G, np.empty(0, np.int64))
    _, rel_gap, kkt = gap_and_kkt(b, c, h, idx, k, float(lam), half_xx)
    return (rec_lam[: steps + 1], rec_h[: steps + 1], rec_event[: steps + 1], status,
            rel_gap, kkt)
