r"""Bases, over-complete dictionaries and their two simplest representations.

An orthonormal basis (the discrete cosine transform) gives every signal one set of
coordinates; an over-complete dictionary gives infinitely many, among which
:func:`min_l2_representation` picks the one of least Euclidean norm and
:func:`basis_pursuit` the one of least :math:`\ell_1` norm. The chapter *Bases and
over-complete dictionaries* explains them.

Conventions as everywhere in the package: a dictionary ``D`` is
``(n_features, n_atoms)`` with one atom per column, signals ``X`` are
``(n_signals, n_features)`` and codes ``(n_signals, n_atoms)``, so ``X ≈ H @ D.T``.
"""

from __future__ import annotations

import numpy as np

from array_api_compat import array_namespace

from ._arrays import like, to_numpy
from ._validation import check_dictionary_and_signals, check_scalar

__all__ = ["dct_matrix", "dct2_basis", "min_l2_representation", "basis_pursuit"]


def dct_matrix(n):
    r"""The orthonormal DCT-II matrix :math:`C \in \mathbb{R}^{n \times n}`.

    .. math::

        C_{kj} = s_k \cos\!\Big(\frac{\pi (2j + 1) k}{2n}\Big),\qquad
        s_0 = \sqrt{1/n},\ s_k = \sqrt{2/n}\ (k \ge 1),

    so that :math:`y = C x` is the DCT-II of :math:`x` with orthonormal scaling and
    :math:`C^\top C = I`. Its *rows* are the cosine basis vectors; as a dictionary
    with atoms in columns, use :math:`C^\top`. Chapter *Bases and over-complete
    dictionaries*.

    Examples
    --------
    >>> C = dct_matrix(4)
    >>> bool(np.allclose(C @ C.T, np.eye(4)))
    True
    >>> C[0].round(3)
    array([0.5, 0.5, 0.5, 0.5])
    """
    n = check_scalar(n, "n", low=1, integer=True)
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    C = np.cos(np.pi * (2 * j + 1) * k / (2 * n))
    C[0] *= np.sqrt(1.0 / n)
    C[1:] *= np.sqrt(2.0 / n)
    return C


def dct2_basis(p):
    r"""The 2-D DCT atoms for :math:`p \times p` patches, as columns of a :math:`p^2 \times p^2` matrix.

    Atom :math:`(k, l)` is the outer product of rows :math:`k` and :math:`l` of
    :func:`dct_matrix`, flattened in row-major (C) order like the patches of
    :func:`sparsecoding.data.extract_patches`. Column ``k * p + l`` holds the atom of
    vertical frequency ``k`` and horizontal frequency ``l``; column 0 is the constant
    patch. The matrix is orthogonal, so the coefficients of a patch ``x`` are
    ``D.T @ x``. Chapter *Bases and over-complete dictionaries*.

    Examples
    --------
    >>> D = dct2_basis(8)
    >>> D.shape, bool(np.allclose(D.T @ D, np.eye(64)))
    ((64, 64), True)
    """
    p = check_scalar(p, "p", low=1, integer=True)
    C = dct_matrix(p)
    # atom (k, l) = outer(C[k], C[l]).ravel(); kron(C, C) has these as rows
    return np.kron(C, C).T


def min_l2_representation(D, X):
    r"""The representation of least Euclidean norm, through the pseudo-inverse.

    .. math::

        h^\dagger = \arg\min_h \|h\|_2 \ \text{ s.t. }\ D h = x
        \quad\Longrightarrow\quad h^\dagger = D^+ x ,

    which for a dictionary of full row rank is :math:`D^\top (D D^\top)^{-1} x`. When
    :math:`x` is not in the span of the atoms, :math:`D^+ x` is the least-norm
    least-squares solution. Almost every entry is nonzero. Chapter *Bases and
    over-complete dictionaries*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``

    Returns
    -------
    Codes of the kind of ``X`` (NumPy or torch), ``(n_signals, n_atoms)`` or
    ``(n_atoms,)``.

    Examples
    --------
    >>> D = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> min_l2_representation(D, np.array([1.0, 1.0])).round(4)
    array([0.3333, 0.3333, 0.6667])
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    H = X2 @ array_namespace(X2).linalg.pinv(D).T
    return H[0] if squeeze else H


def basis_pursuit(D, X, *, tol=1e-9):
    r"""Solve basis pursuit: the representation of least :math:`\ell_1` norm, by linear programming.

    .. math::

        \min_h \|h\|_1 \quad\text{s.t.}\quad D h = x .

    Splitting :math:`h = u - v` with :math:`u, v \ge 0` turns it into the linear program
    :math:`\min \mathbf 1^\top (u + v)` s.t. :math:`D(u - v) = x`, solved by
    ``scipy.optimize.linprog`` (HiGHS) for each signal. A vertex of the feasible set
    has at most ``n_features`` nonzeros, so the solution is sparse
    :cite:p:`chen1998atomic`. Chapter *Bases and over-complete dictionaries*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        Every signal must lie in the span of the atoms.
    tol : float
        Entries of absolute value below ``tol`` are set exactly to zero (the solver
        returns them up to round-off).

    Returns
    -------
    Codes of the kind of ``X``, ``(n_signals, n_atoms)`` or ``(n_atoms,)``.

    Examples
    --------
    >>> D = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> basis_pursuit(D, np.array([1.0, 1.0])).round(4)
    array([0., 0., 1.])
    """
    from scipy.optimize import linprog

    D, X2, squeeze = check_dictionary_and_signals(D, X)
    tol = check_scalar(tol, "tol", low=0.0)
    Dn, Xn = to_numpy(D, np.float64), to_numpy(X2, np.float64)
    n_atoms = Dn.shape[1]
    A_eq = np.hstack([Dn, -Dn])
    c = np.ones(2 * n_atoms)
    H = np.zeros((Xn.shape[0], n_atoms))
    for i, x in enumerate(Xn):
        res = linprog(c, A_eq=A_eq, b_eq=x, bounds=(0, None), method="highs")
        if res.status != 0:
            raise ValueError(
                f"basis pursuit failed for signal {i} ({res.message}): is X[{i}] in the "
                "span of the atoms of D?"
            )
        h = res.x[:n_atoms] - res.x[n_atoms:]
        h[np.abs(h) < tol] = 0.0
        H[i] = h
    H = like(H, X2)
    return H[0] if squeeze else H
