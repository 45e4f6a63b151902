r"""Compiled elementwise passes of the proximal-gradient loop on NumPy arrays.

One ISTA/FISTA iteration is two matrix products (BLAS) and a dozen elementwise
operations. NumPy runs each operation as its own pass over the codes, on one thread;
here they are fused into compiled passes, each reading a signal's row once:

* ``prox_pass``: from the gradient, the new codes
  :math:`h^+ = S_{\theta}(y - \nabla / L)`, and per signal the number of entries with
  :math:`L|h^+ - y|` above the tolerance (the stopping test), the number of nonzero
  codes, :math:`(h^+ - y)\cdot(h^+ - h)` (the gradient restart) and :math:`\|h^+\|_1`;
* ``sparse_image``: the image of the new codes from their nonzero entries, when few;
* ``smooth_pass``: the smooth part of the objective of every signal, from the image of
  the new codes (subtracting the signals first in the residual form);
* the momentum step :math:`y = h^+ + \beta (h^+ - h)`, and the same for the images:
  at the end of each row of the two passes above when :math:`\beta` is known by then
  (no restart, or the gradient restart, decided by that row's statistics), else in
  ``momentum_pass`` (the function restart, decided by the objective).

Every elementwise value is computed with the same operations, in the same order and
precision, as in the generic loop of :mod:`sparsecoding.solvers`; the sums (objective,
restart test) and the sparse products are added in another order, so the iterates
agree with the generic loop's to rounding.

Each pass runs on one thread; :func:`sparsecoding._threads.map_on_cores` runs chunks
of signals on the cores side by side.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# One thread per pass: a second pool of threads next to BLAS's made an iteration 30
# times slower on 2 cores (measured; see sparsecoding._threads).
_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _prox_row(v_i, b_i, gram, y_i, h_i, L, t, tol, hn_i):
    """One row of :func:`prox_pass`; returns how many ``L |hn - y|`` are not at most
    ``tol``, how many ``hn`` are not zero, ``(hn - y).(hn - h)`` and ``|hn|_1``.

    ``reassoc`` lets the sums be vectorised (added in any order); every elementwise
    value is computed as written. The stopping test counts instead of taking the
    largest ``|hn - y|``: the same decision (rounding is monotone), but a count
    vectorises and a running maximum does not (measured: 49 against 104 microseconds
    for 512 x 256 codes). A NaN counts as far."""
    n_far = 0
    n_nonzero = 0
    s_dot = 0.0
    s_l1 = 0.0
    for j in range(hn_i.shape[0]):
        y = y_i[j]
        v = y - (v_i[j] - b_i[j]) / L if gram else y - v_i[j] / L
        c = v if v < t else t  # np.clip(v, -t, t), as selects
        c = c if c > -t else -t
        hn = v - c
        hn_i[j] = hn
        d = hn - y
        n_far += not (abs(d) * L <= tol)
        n_nonzero += hn != 0
        s_dot += d * (hn - h_i[j])
        s_l1 += abs(hn)
    return n_far, n_nonzero, s_dot, s_l1


@nb.njit(**_OPTS)
def prox_pass(V, B, gram, Y, H, L, thr, tol, Hn, dot, l1, momentum, beta, t, one_four_two):
    """``Hn = soft(Y - (V - B if gram else V) / L, thr)`` and per-row statistics;
    returns the number of entries not within the stopping tolerance, the number of
    nonzero codes and the sum of ``l1``.

    With ``momentum`` 1, also the next extrapolated point ``Y = Hn + beta (Hn - H)``,
    row by row while the row is in cache. With 2 (gradient restart), first the
    momentum coefficients of the row, as the generic loop computes them (in the codes'
    precision: ``one_four_two`` holds 1, 4 and 2 in it): ``t+ = (1 + sqrt(1 + 4 t t)) / 2``,
    ``beta = (t - 1) / t+``, then ``beta = 0`` and ``t = 1`` if
    ``(hn - y).(hn - h) < 0``, else ``t = t+``."""
    n, p = V.shape
    n_far = 0
    n_nonzero = 0
    l1_sum = 0.0
    one, four, two = one_four_two[0], one_four_two[1], one_four_two[2]
    for i in range(n):
        y_i, hn_i, h_i = Y[i], Hn[i], H[i]
        f_i, z_i, dot[i], l1[i] = _prox_row(
            V[i], B[i] if gram else V[i], gram, y_i, h_i, L, thr[i], tol[i], hn_i)
        n_far += f_i
        n_nonzero += z_i
        l1_sum += l1[i]
        if momentum:
            if momentum == 2:
                t_i = t[i]
                t_new = (one + np.sqrt(one + four * t_i * t_i)) / two
                if dot[i] < 0:
                    beta[i] = 0.0
                    t[i] = one
                else:
                    beta[i] = (t_i - one) / t_new
                    t[i] = t_new
            b = beta[i]
            for j in range(p):
                y_i[j] = hn_i[j] + b * (hn_i[j] - h_i[j])
    return n_far, n_nonzero, l1_sum


@nb.njit(**_OPTS)
def sparse_image(Hn, M, out):
    """``out = Hn @ M`` from the nonzero entries of each row of ``Hn`` only.

    ``M`` is C-contiguous (its rows are the atoms' images). With a fraction ``d`` of
    nonzero codes this costs ``d`` of the dense product's flops, plus a scan of the
    codes: measured on 512 x 256 codes and one core, 154 against 366 microseconds for
    BLAS at d = 5 % with 64 features (``D.T``), 245 against 1,400 with the Gram matrix.
    The sums run in another order than BLAS's: the images agree to rounding."""
    n, p = Hn.shape
    m = M.shape[1]
    idx = np.empty(p, np.int64)
    for i in range(n):
        h = Hn[i]
        k = 0
        for j in range(p):  # branch-free compaction of the nonzero positions
            idx[k] = j
            k += h[j] != 0
        o = out[i]
        for c in range(m):
            o[c] = 0
        for q in range(k):
            j = idx[q]
            a = h[j]
            M_j = M[j]
            for c in range(m):
                o[c] += a * M_j[c]


@nb.njit(**_OPTS)
def smooth_pass(An, X, Hn, B, half_xx, gram, out, momentum, A, beta, AY):
    """Per row: residual form ``An -= X`` and ``out = |An|^2 / 2``; Gram form
    ``out = |x|^2 / 2 + Hn.(An / 2 - B)``. With ``momentum``, also the image of the
    extrapolated point, ``AY = An + beta (An - A)``. Returns the sum of ``out``."""
    n, m = An.shape
    total = 0.0
    for i in range(n):
        s = 0.0
        if gram:
            for j in range(m):
                s += Hn[i, j] * (0.5 * An[i, j] - B[i, j])
            out[i] = half_xx[i] + s
        else:
            for j in range(m):
                a = An[i, j] - X[i, j]
                An[i, j] = a
                s += a * a
            out[i] = 0.5 * s
        total += out[i]
        if momentum:
            b = beta[i]
            for j in range(m):
                AY[i, j] = An[i, j] + b * (An[i, j] - A[i, j])
    return total


@nb.njit(**_OPTS)
def momentum_pass(Hn, H, An, A, beta, Y, AY):
    """``Y = Hn + beta (Hn - H)`` and ``AY = An + beta (An - A)``, one beta per row."""
    n = Hn.shape[0]
    for i in range(n):
        b = beta[i]
        for j in range(Hn.shape[1]):
            Y[i, j] = Hn[i, j] + b * (Hn[i, j] - H[i, j])
        for j in range(An.shape[1]):
            AY[i, j] = An[i, j] + b * (An[i, j] - A[i, j])
