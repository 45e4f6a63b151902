r"""Dictionary learning with greedy (OMP) codes: MOD and K-SVD.

Both minimise the representation error under a hard sparsity constraint,

.. math::

    \min_{D, H}\; \tfrac12\|X - H D^\top\|_F^2
    \quad\text{subject to}\quad \|h_i\|_0 \le s \text{ for every signal},
    \quad \|d_j\|_2 = 1 ,

alternating a *sparse coding* step (orthogonal matching pursuit with :math:`s`
nonzeros per signal, the dictionary fixed) with a *dictionary update* (the codes'
supports fixed):

* MOD, the method of optimal directions :cite:p:`engan1999mod`, replaces the
  whole dictionary by the least-squares solution :math:`D = X^\top H (H^\top H)^{-1}`;
* K-SVD :cite:p:`aharon2006ksvd` updates one atom at a time together with
  its coefficients, by the best rank-one approximation of the residual of the signals
  that use it.

They sit beside the online :math:`\ell_1` method :func:`sparsecoding.dictionary.learn_dictionary`
(module ``sparsecoding.dictionary``); the module is separate because its codes come
from a greedy pursuit, not from a lasso solver. NumPy arrays only. The chapter
*Coordinate descent and ADMM* compares the three on natural-image patches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._validation import DivergenceError, check_array, check_scalar, check_squarable
from .greedy import omp

__all__ = ["GreedyDictionaryResult", "mod", "ksvd"]


@dataclass
class GreedyDictionaryResult:
    """What :func:`mod` and :func:`ksvd` return.

    Attributes
    ----------
    D : numpy.ndarray
        ``(n_features, n_atoms)``, unit-norm atoms.
    codes : numpy.ndarray
        ``(n_signals, n_atoms)``, at most ``n_nonzero`` nonzeros per row, the codes of
        the last iteration (adjusted by its dictionary update: ``X ≈ codes @ D.T``).
    history : numpy.ndarray
        The mean error per signal :math:`\\frac{1}{2N}\\|X - HD^\\top\\|_F^2`:
        ``history[0]`` for the OMP codes of the initial dictionary, ``history[t]``
        after the dictionary update of iteration ``t``.
    n_replaced : int
        Atoms replaced by a badly represented signal before a coding step, because no
        signal used them or because they nearly repeated another atom.
    time : float
        Seconds spent learning.
    """

    D: np.ndarray
    codes: np.ndarray
    history: np.ndarray
    n_replaced: int
    time: float


def _omp_codes(D, X, n_nonzero):
    """OMP codes of the rows of ``X``, ``n_nonzero`` atoms each, by the package's
    batched :func:`sparsecoding.greedy.omp` (tested against scikit-learn's
    ``orthogonal_mp``). The one place that chooses the pursuit."""
    return np.asarray(omp(D, X, n_nonzero=n_nonzero).codes, dtype=D.dtype)


def _check(X, n_atoms, n_nonzero, n_iter, init, seed):
    X = check_squarable(check_array(X, "X", ndim=2), "X")
    if not isinstance(X, np.ndarray):
        raise TypeError("X must be a NumPy array (MOD and K-SVD run on NumPy arrays)")
    X = X.astype(np.float64, copy=False)
    n_signals, n_features = X.shape
    n_atoms = check_scalar(n_atoms, "n_atoms", low=1, integer=True)
    n_nonzero = check_scalar(n_nonzero, "n_nonzero", low=1, integer=True,
                             high=min(n_atoms, n_features))
    n_iter = check_scalar(n_iter, "n_iter", low=0, integer=True)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    rng = np.random.default_rng(seed)
    if isinstance(init, str):
        if init == "data":
            if n_atoms > n_signals:
                raise ValueError(
                    f"init='data' needs at least n_atoms={n_atoms} signals, got {n_signals}"
                )
            D = X[rng.choice(n_signals, n_atoms, replace=False)].T.copy()
        elif init == "random":
            D = rng.standard_normal((n_features, n_atoms))
        else:
            raise ValueError(f"init must be 'data', 'random' or an array, got {init!r}")
    else:
        D = check_array(init, "init", ndim=2).astype(np.float64, copy=True)
        if D.shape != (n_features, n_atoms):
            raise ValueError(
                f"init must have shape {(n_features, n_atoms)} (n_features, n_atoms), "
                f"got {D.shape}"
            )
    norms = np.linalg.norm(D, axis=0)
    dead = norms == 0
    if np.any(dead):  # a zero atom (a zero signal drawn): a random direction instead
        D[:, dead] = rng.standard_normal((n_features, int(dead.sum())))
        norms = np.linalg.norm(D, axis=0)
    return X, D / norms, n_nonzero, n_iter, rng


def _error(X, H, D):
    R = X - H @ D.T
    return 0.5 * float(np.sum(R * R)) / X.shape[0]


def _clear_atoms(X, H, D, coherence=0.99):
    """Replace the atoms that no signal uses or that nearly repeat an earlier atom
    (:math:`|d_i^\top d_j| >` ``coherence``) by the signals with the largest
    residuals, one each (the clearing of :cite:t:`aharon2006ksvd`; their
    coefficients are set to zero). Returns the number replaced."""
    used = np.any(H != 0, axis=0)
    C = np.abs(np.triu(D.T @ D, 1))
    repeat = np.any(C > coherence, axis=0)
    clear = np.flatnonzero(~used | repeat)
    if not len(clear):
        return 0
    H[:, clear] = 0.0
    R = X - H @ D.T
    worst = np.argsort(-np.sum(R * R, axis=1))
    n = 0
    for j, i in zip(clear, worst):
        norm = np.linalg.norm(X[i])
        if norm > 0:
            D[:, j] = X[i] / norm
            n += 1
    return n


def mod(X, n_atoms, *, n_nonzero, n_iter=10, init="data", seed=0, progress=False):
    r"""MOD, the method of optimal directions :cite:p:`engan1999mod`.

    Alternates OMP codes with :math:`s` = ``n_nonzero`` atoms per signal and the
    least-squares dictionary for those codes,

    .. math::

        D \leftarrow \arg\min_D \|X - HD^\top\|_F^2 = X^\top H\,(H^\top H)^{-1},

    followed by normalising the atoms (the codes rescaled so that :math:`HD^\top` does
    not change). Before each coding step, atoms that no signal used or that nearly
    repeat another (:math:`|d_i^\top d_j| > 0.99`) are replaced by the worst
    represented signals :cite:p:`aharon2006ksvd`.
    Compared with K-SVD and the online :math:`\ell_1` method in the chapter
    *Coordinate descent and ADMM*.

    Parameters
    ----------
    X : ``(n_signals, n_features)`` NumPy array
        The training signals, one per row.
    n_atoms : int
        Number of atoms.
    n_nonzero : int
        Nonzeros per code, at most ``min(n_atoms, n_features)``.
    n_iter : int
        Alternations (coding and dictionary update).
    init : ``"data"``, ``"random"`` or ``(n_features, n_atoms)`` array
        The initial dictionary: randomly chosen signals (the usual start), Gaussian
        vectors, or the given atoms; normalised.
    seed : int
        Seed of the initial dictionary.
    progress : bool
        Show a progress bar (tqdm) over the iterations.

    Returns
    -------
    GreedyDictionaryResult

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((200, 8))
    >>> res = mod(X, 12, n_nonzero=2, n_iter=5)
    >>> res.D.shape, bool(res.history[-1] < res.history[0])
    ((8, 12), True)
    """
    return _learn(X, n_atoms, n_nonzero, n_iter, init, seed, progress, "mod")


def ksvd(X, n_atoms, *, n_nonzero, n_iter=10, init="data", seed=0, progress=False):
    r"""K-SVD dictionary learning :cite:p:`aharon2006ksvd`.

    Alternates OMP codes with :math:`s` = ``n_nonzero`` atoms per signal and a sweep
    over the atoms that keeps every code's support: for atom :math:`j`, with
    :math:`\omega_j` the signals whose codes use it and

    .. math::

        E_j = X_{\omega_j} - H_{\omega_j} D^\top + h^{(j)}_{\omega_j} d_j^\top

    the residual of those signals without atom :math:`j`, the atom and its
    coefficients become the best rank-one approximation of :math:`E_j`: from its
    singular value decomposition :math:`E_j = \sum_r \sigma_r u_r v_r^\top`,
    :math:`d_j \leftarrow v_1` and :math:`h^{(j)}_{\omega_j} \leftarrow \sigma_1 u_1`.
    The error cannot increase in the sweep, and atoms stay unit-norm. Unused and
    repeated atoms are replaced as in :func:`mod`. Compared with MOD and the online
    :math:`\ell_1` method in the chapter *Coordinate descent and ADMM*.

    Parameters and result are those of :func:`mod`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((200, 8))
    >>> res = ksvd(X, 12, n_nonzero=2, n_iter=5)
    >>> bool(np.allclose(np.linalg.norm(res.D, axis=0), 1.0))
    True
    """
    return _learn(X, n_atoms, n_nonzero, n_iter, init, seed, progress, "ksvd")


def _learn(X, n_atoms, n_nonzero, n_iter, init, seed, progress, method):
    from tqdm.auto import tqdm

    X, D, n_nonzero, n_iter, rng = _check(X, n_atoms, n_nonzero, n_iter, init, seed)
    start = time.perf_counter()
    H = _omp_codes(D, X, n_nonzero)
    history = [_error(X, H, D)]
    n_replaced = 0
    for t in tqdm(range(n_iter), desc=method, disable=not progress):
        if t > 0:
            n_replaced += _clear_atoms(X, H, D)
            H = _omp_codes(D, X, n_nonzero)
        if method == "mod":
            D, H = _mod_update(X, H, D)
        else:
            D, H = _ksvd_update(X, H, D)
        history.append(_error(X, H, D))
        if not np.isfinite(history[-1]):
            raise DivergenceError(f"{method} diverged: the error became {history[-1]}; "
                                  "rescale X (divide it by a power of ten)")
    return GreedyDictionaryResult(D=D, codes=H, history=np.array(history),
                                  n_replaced=n_replaced,
                                  time=time.perf_counter() - start)


def _mod_update(X, H, D):
    used = np.any(H != 0, axis=0)
    D = D.copy()
    Hu = H[:, used]
    # the normal equations (H^T H) D^T = H^T X on the used atoms
    G = Hu.T @ Hu
    D[:, used] = np.linalg.lstsq(G, Hu.T @ X, rcond=None)[0].T
    norms = np.linalg.norm(D, axis=0)
    small = used & (norms <= 1e-12)
    H = H.copy()
    ok = used & ~small
    D[:, ok] /= norms[ok]
    H[:, ok] *= norms[ok]
    H[:, ~ok] = 0.0  # unused atoms keep their direction until they are cleared
    return D, H


def _ksvd_update(X, H, D):
    D, H = D.copy(), H.copy()
    R = X - H @ D.T
    for j in range(D.shape[1]):
        omega = np.flatnonzero(H[:, j])
        if omega.size == 0:  # unused: cleared before the next coding step
            continue
        E = R[omega] + np.outer(H[omega, j], D[:, j])
        U, S, Vt = np.linalg.svd(E, full_matrices=False)
        D[:, j] = Vt[0]
        H[omega, j] = S[0] * U[:, 0]
        R[omega] = E - np.outer(H[omega, j], D[:, j])
    return D, H
