r"""The block-coordinate sweep over a dictionary's columns (one implementation).

Given the running statistics :math:`A = \sum_i h_i h_i^\top` and
:math:`B = \sum_i x_i h_i^\top` of online dictionary learning, each column in turn is
moved to the minimiser of the surrogate objective over that column and projected on
the unit ball:

.. math::

    u = d_j + \frac{b_j - D a_j}{A_{jj}}, \qquad d_j \leftarrow \frac{u}{\max(1, \|u\|_2)}.

:func:`update_columns` is written once, in operations that NumPy arrays, torch
tensors and Numba share. On NumPy arrays it runs compiled when Numba is installed (in
NumPy each column costs half a dozen calls of a few microseconds each; for 100 atoms
and mini-batches of 256 the sweep took as long as the exact codes of the batch); on
tensors, and without Numba, the same function runs as Python.
"""

from __future__ import annotations

import math

from ._compile import jit, python_function


@jit
def update_columns(D, A_rows, B, start, tiny):
    """Update columns ``start, start + 1, ...`` of ``D`` in place, in turn.

    ``A_rows[j]`` is column ``j`` of :math:`A` (contiguous: the rows of ``A.T``).
    Stops before the first column ``j`` whose :math:`A_{jj}` is not above ``tiny`` (an
    atom no code has used: the caller resamples it) and returns ``j``; returns the
    number of columns when all were updated."""
    p = D.shape[1]
    for j in range(start, p):
        a_jj = A_rows[j, j]
        if not a_jj > tiny:
            return j
        u = D[:, j] + (B[:, j] - D @ A_rows[j]) / a_jj
        D[:, j] = u / max(1.0, math.sqrt((u * u).sum()))
    return p


#: The same function, never compiled (for torch tensors).
update_columns_python = python_function(update_columns)
