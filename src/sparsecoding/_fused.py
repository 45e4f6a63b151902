r"""Compiled passes of the proximal-gradient engine on NumPy arrays (with Numba).

One lasso iteration of :mod:`sparsecoding.solvers` is one or two matrix products
(BLAS) and a dozen elementwise operations. With Numba, the engine's lasso step on
NumPy arrays runs those operations as a few compiled passes, each reading a signal's
row once; they are the same steps, in the same order and precision, as the array
expressions of the engine (which run instead on tensors, or without Numba):

* :func:`prox_pass`: the gradient step and soft thresholding
  :math:`h^+ = S_{\theta}(y - \nabla / L)` (the formula of
  :func:`sparsecoding.prox.soft_threshold`, compiled from
  :func:`sparsecoding.prox._soft_scalar`), per signal :math:`\|h^+\|_1` and the
  number of nonzero codes. With FISTA's momentum the point
  :math:`y = h + \beta (h - h^-)` is never stored: the pass forms it from the last two
  codes while their rows are in cache (in the Gram form, the image of :math:`y` too),
  and with the gradient restart it decides each row's next :math:`\beta` by
  :math:`(y - h^+)\cdot(h^+ - h)` (the coefficients by
  :func:`sparsecoding.solvers._momentum`, compiled). Storing :math:`y` and its image
  would cost two more passes over memory of the codes' size per iteration;
* :func:`sparse_image`: the image of the new codes from their nonzero entries, when
  few;
* :func:`smooth_pass`: in the residual form, the smooth part of the objective of
  every signal and, with the momentum, the image of the next point,
  :math:`A_y = A^+ + \beta (A^+ - A)` (small: the next product needs it);
* :func:`momentum_pass`: the next point and its image alone (the function restart,
  decided by the objective after the passes).

The sums are added in another order than NumPy's, so the iterates agree with the
array expressions to rounding (``tests/test_solvers.py`` checks it).
"""

from __future__ import annotations

import numpy as np

from ._compile import jit
from .prox import _soft_scalar
from .solvers import _momentum

_soft = jit(inline="always")(_soft_scalar)
_next_momentum = jit(inline="always")(_momentum)

#: what :func:`prox_pass` and :func:`smooth_pass` do after a row: nothing (ISTA),
#: extrapolate with the given ``beta``, or first decide the row's gradient restart
NO_MOMENTUM, MOMENTUM, GRADIENT_RESTART = 0, 1, 2


@jit(fastmath={"reassoc"})
def _prox_row(g_i, h_i, hp_i, b, L, t, hn_i, want_dot):
    """One row of :func:`prox_pass` (residual form). ``reassoc`` lets the sums be
    vectorised (added in any order); every elementwise value is computed as written."""
    n_nonzero = 0
    s_dot = 0.0
    s_l1 = 0.0
    for j in range(hn_i.shape[0]):
        h = h_i[j]
        y = h + b * (h - hp_i[j])
        hn = _soft(y - g_i[j] / L, t)
        hn_i[j] = hn
        n_nonzero += hn != 0
        if want_dot:
            s_dot += (y - hn) * (hn - h)
        s_l1 += abs(hn)
    return n_nonzero, s_dot, s_l1


@jit(fastmath={"reassoc"})
def _prox_row_gram(a_i, ap_i, b_i, h_i, hp_i, b, L, t, hn_i, want_dot):
    """One row of :func:`prox_pass` (Gram form): the image of ``y`` by the same
    extrapolation, then the gradient ``ay - b_i``; also ``h.(a / 2 - b_i)``, the
    smooth part of the objective of ``h`` (less half the squared norm of ``x``), from
    the values the row reads anyway."""
    n_nonzero = 0
    s_dot = 0.0
    s_l1 = 0.0
    for j in range(hn_i.shape[0]):
        h = h_i[j]
        y = h + b * (h - hp_i[j])
        a = a_i[j]
        hn = _soft(y - ((a + b * (a - ap_i[j])) - b_i[j]) / L, t)
        hn_i[j] = hn
        n_nonzero += hn != 0
        if want_dot:
            s_dot += (y - hn) * (hn - h)
        s_l1 += abs(hn)
    # a second loop over the same row, now in the first-level cache: one more sum in
    # the loop above stops it from being vectorised in single precision
    s_smooth = 0.0
    for j in range(hn_i.shape[0]):
        s_smooth += h_i[j] * (0.5 * a_i[j] - b_i[j])
    return n_nonzero, s_dot, s_l1, s_smooth


@jit
def prox_pass(G, B, gram, H, Hp, A, Ap, L, thr, Hn, l1, momentum, t, beta, smooth):
    """``Hn = soft(Y - grad / L, thr)`` row by row, with ``l1`` per row; returns the
    number of nonzero codes.

    The point ``Y`` is not stored: without momentum it is ``H`` (give ``Hp = H``,
    ``Ap = A``); with it (``momentum``
    :data:`MOMENTUM` or :data:`GRADIENT_RESTART`) it is FISTA's extrapolation
    ``H + beta (H - Hp)`` of the last two codes, formed row by row while they are in
    cache, with the row's ``beta`` (in the codes' precision, as the array expressions
    use it). The gradient at ``Y``: in the Gram form ``AY - B``, with the image ``AY``
    of ``Y`` extrapolated alike from the images ``A`` and ``Ap`` of the codes;
    otherwise given in ``G``. With :data:`GRADIENT_RESTART`, each row's ``beta`` and
    ``t`` (float64) are then moved on by ``_momentum``, restarted (``keep`` = 0) where
    ``(y - hn).(hn - h) > 0``, for the next point. In the Gram form ``smooth`` gets
    each row's ``h.(a / 2 - b)`` for the codes ``H`` and their image ``A`` (the
    objective of the codes before, one step late, without a pass of its own)."""
    n_nonzero = 0
    for i in range(Hn.shape[0]):
        # without momentum Hp is H, so that y = h + beta (h - h) = h
        want_dot = momentum == GRADIENT_RESTART
        if gram:
            z_i, dot, l1[i], smooth[i] = _prox_row_gram(A[i], Ap[i], B[i], H[i], Hp[i],
                                                        beta[i], L, thr[i], Hn[i],
                                                        want_dot)
        else:
            z_i, dot, l1[i] = _prox_row(G[i], H[i], Hp[i], beta[i], L, thr[i], Hn[i],
                                        want_dot)
        n_nonzero += z_i
        if momentum == GRADIENT_RESTART:
            beta[i], t[i] = _next_momentum(t[i], 0.0 if dot > 0 else 1.0)
    return n_nonzero


@jit
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


@jit(fastmath={"reassoc"})
def _residual_row(an_i, x_i):
    """``an -= x`` and ``|an|^2`` of one row, summed in any order (vectorised)."""
    s = 0.0
    for j in range(an_i.shape[0]):
        a = an_i[j] - x_i[j]
        an_i[j] = a
        s += a * a
    return s


@jit
def smooth_pass(An, X, out, momentum, A, beta, AY):
    """Per row (residual form): ``An -= X`` and ``out = |An|^2 / 2``; with
    ``momentum``, then the image of the next point, ``AY = An + beta (An - A)`` (the
    next product needs it). The Gram form has no smooth pass: its objective comes out
    of :func:`prox_pass`, which also extrapolates the images itself."""
    n, m = An.shape
    for i in range(n):
        out[i] = 0.5 * _residual_row(An[i], X[i])
        if momentum:
            b = beta[i]
            for j in range(m):
                AY[i, j] = An[i, j] + b * (An[i, j] - A[i, j])


@jit
def momentum_pass(Hn, H, An, A, beta, Y, AY):
    """``Y = Hn + beta (Hn - H)`` and ``AY = An + beta (An - A)``, one beta per row."""
    n = Hn.shape[0]
    for i in range(n):
        b = beta[i]
        for j in range(Hn.shape[1]):
            Y[i, j] = Hn[i, j] + b * (Hn[i, j] - H[i, j])
        for j in range(An.shape[1]):
            AY[i, j] = An[i, j] + b * (An[i, j] - A[i, j])
