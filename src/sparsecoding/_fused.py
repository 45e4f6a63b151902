r"""Compiled elementwise passes of the proximal-gradient loop on NumPy arrays.

One ISTA/FISTA iteration is two matrix products (BLAS) and a dozen elementwise
operations. NumPy runs each operation as its own pass over the codes, on one thread;
here they are fused into compiled passes, each reading a signal's row once:

* ``prox_pass``: from the gradient, the new codes
  :math:`h^+ = S_{\theta}(y - \nabla / L)`, and per signal the largest
  :math:`|h^+ - y|` (the stopping test), :math:`(h^+ - y)\cdot(h^+ - h)` (the gradient
  restart) and :math:`\|h^+\|_1`;
* ``smooth_pass``: the smooth part of the objective of every signal, from the image of
  the new codes (subtracting the signals first in the residual form);
* ``momentum_pass``: :math:`y = h^+ + \beta (h^+ - h)` and the same for the images.

Every elementwise value is computed with the same operations, in the same order and
precision, as in the NumPy loop of :mod:`sparsecoding.solvers`, so the iterates agree to
the last bit; only the sums (objective, restart test) are added in another order.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# One thread: BLAS threads keep spinning for a while after each product, and a second
# pool of threads competing with them for the cores made an iteration 30 times slower
# on 2 cores (measured); the products between the passes use the cores instead.
_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@nb.njit(cache=True, nogil=True, error_model="numpy",
          fastmath={"reassoc", "nsz", "nnan", "ninf"})
def _row_stats(hn, y, h):
    """Largest ``|hn - y|``, ``(hn - y).(hn - h)`` and ``|hn|_1`` of one row.

    Sums in any order (``fastmath``: vectorised); the values summed are exact."""
    s_max = 0.0
    s_dot = 0.0
    s_l1 = 0.0
    for j in range(hn.shape[0]):
        d = hn[j] - y[j]
        s_max = max(s_max, abs(d))
        s_dot += d * (hn[j] - h[j])
        s_l1 += abs(hn[j])
    return s_max, s_dot, s_l1


@nb.njit(**_OPTS)
def prox_pass(V, B, gram, Y, H, L, thr, Hn, step, dot, l1):
    """``Hn = soft(Y - (V - B if gram else V) / L, thr)`` and per-row statistics."""
    n, p = V.shape
    for i in range(n):
        t = thr[i]
        v_i, y_i, hn_i = V[i], Y[i], Hn[i]
        if gram:
            b_i = B[i]
            for j in range(p):
                v = y_i[j] - (v_i[j] - b_i[j]) / L
                c = v if v < t else t  # np.clip(v, -t, t), as selects
                c = c if c > -t else -t
                hn_i[j] = v - c
        else:
            for j in range(p):
                v = y_i[j] - v_i[j] / L
                c = v if v < t else t  # np.clip(v, -t, t), as selects
                c = c if c > -t else -t
                hn_i[j] = v - c
        step[i], dot[i], l1[i] = _row_stats(hn_i, y_i, H[i])


@nb.njit(**_OPTS)
def smooth_pass(An, X, Hn, B, half_xx, gram, out):
    """Per row: residual form ``An -= X`` and ``out = |An|^2 / 2``; Gram form
    ``out = |x|^2 / 2 + Hn.(An / 2 - B)``."""
    n = An.shape[0]
    for i in range(n):
        s = 0.0
        if gram:
            for j in range(An.shape[1]):
                s += Hn[i, j] * (0.5 * An[i, j] - B[i, j])
            out[i] = half_xx[i] + s
        else:
            for j in range(An.shape[1]):
                a = An[i, j] - X[i, j]
                An[i, j] = a
                s += a * a
            out[i] = 0.5 * s


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
