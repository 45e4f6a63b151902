r"""Compiled block-coordinate update of a dictionary's columns (NumPy arrays only).

Given the running statistics :math:`A = \sum_i h_i h_i^\top` and
:math:`B = \sum_i x_i h_i^\top` of online dictionary learning, each column in turn is
moved to the minimiser of the surrogate objective over that column and projected on
the unit ball:

.. math::

    u = d_j + \frac{b_j - D a_j}{A_{jj}}, \qquad d_j \leftarrow \frac{u}{\max(1, \|u\|_2)}.

In NumPy each column costs half a dozen calls (a matrix-vector product, a norm, two
assignments) of a few microseconds each; for 100 atoms and mini-batches of 256 the
sweep took as long as the exact codes of the batch. Compiled, a column is one pass over
``D`` (measured in ``benchmarks/``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _dot(a, b):
    """``a . b``, summed in any order (vectorised)."""
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k] * b[k]
    return s


@nb.njit(cache=True, nogil=True, error_model="numpy")
def update_columns(D, A_rows, B, start, tiny):
    """Update columns ``start, start + 1, ...`` of ``D`` in place, in turn.

    ``A_rows[j]`` is column ``j`` of :math:`A` (a C-contiguous copy of its transpose).
    Stops before the first column ``j`` whose :math:`A_{jj}` is not above ``tiny`` (an
    atom no code has used: the caller resamples it) and returns ``j``; returns the
    number of columns when all were updated."""
    m, p = D.shape
    u = np.empty(m, dtype=D.dtype)
    for j in range(start, p):
        a_jj = A_rows[j, j]
        if not a_jj > tiny:
            return j
        a_j = A_rows[j]
        s2 = 0.0
        for r in range(m):
            u_r = D[r, j] + (B[r, j] - _dot(D[r], a_j)) / a_jj
            u[r] = u_r
            s2 += u_r * u_r
        scale = max(1.0, math.sqrt(s2))
        for r in range(m):
            D[r, j] = u[r] / scale
    return p
