r"""The lasso front door: one call that picks the package's fastest solver for the problem.

:func:`lasso` solves, for every row :math:`x` of ``X``,

.. math::

    \min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1,

with the stopping rule of every lasso solver of the package (each signal's relative
duality gap at most ``tol``, :mod:`sparsecoding.duality`), and chooses the method from
the problem by rules measured on a grid of regimes (``benchmarks/grid.py``, the page
*Benchmarks* of the appendix). :func:`choose_method` returns the choice and its reason
without solving.

**The rule, and the measurement behind it.** Every method of the package was timed to a relative objective error of
:math:`10^{-6}` on seven regimes (benchmark-like 64×256 with 5-sparse signals and
:math:`\lambda = 0.03`; a large dictionary 256×1024, 20-sparse; coherent, smooth atoms
64×512; an under-complete 256×64; a small :math:`\lambda = 0.002` with supports of
about 57 atoms out of 64 features; one signal at a time; :math:`\lambda` at half of
:math:`\lambda_{\max}`), side by side in one process:

* the homotopy (:func:`~sparsecoding.homotopy`, exact, on the Gram matrix
  with a Cholesky factor updated by one row per breakpoint) was the fastest method of
  the package on every regime, on the CPU; it is at most about one step per atom of the
  solution, so its cost follows the support size, not :math:`\lambda/\lambda_{\max}`;
* FISTA with gradient restart (the proximal-gradient engine) needed 5 to 140 times
  longer than the homotopy (least on the large dictionary and with one signal per
  call, most where the problem is badly conditioned on the support: small
  :math:`\lambda`, coherent atoms), and coordinate descent and ADMM (NumPy, one vector
  operation per coordinate or iteration) 20 to 1,700 times longer;
* gap-safe screening (:func:`~sparsecoding.gap_safe_screen`) after a first
  FISTA run halved FISTA's time on the large dictionary, still three times the
  homotopy's, and saved nothing elsewhere; the homotopy itself never touches the atoms
  it would remove (an inactive atom costs one comparison per breakpoint);
* the Gram matrix :math:`D^\top D` is what the walk works on: computed once per call by
  BLAS on one thread, and kept for the next call with the same dictionary (one signal
  per call: several times faster; large dictionary: about twice);
* with one signal per call, the walk itself takes a few tens of microseconds, so the
  call's fixed costs decide: the arguments are checked once, a dictionary equal to the
  cached one is checked by that comparison (it passed the checks before), and the
  results of a single block are returned without copies.

Hence: the homotopy for arrays on the CPU (NumPy, or torch tensors on the CPU); on an
accelerator (a torch tensor on a GPU), where the sequential walk cannot use the device,
FISTA with gradient restart on the device (a rule by construction: no GPU was
available for the grid). The measured times are on the benchmark page.
"""

from __future__ import annotations

import numpy as np

from ._arrays import is_torch, to_numpy
from ._homotopy import _homotopy_checked
from ._validation import check_choice, check_dictionary_and_signals, check_scalar, max_abs
from .solvers import fista

__all__ = ["lasso", "choose_method"]

# The last dictionary the front door coded with: a copy of it (float64), its largest
# absolute entry, D^T D and whether the walk needs residuals (see _lars.needs_residual).
# Calls that code signals a few at a time with the same dictionary compute them once,
# and check the dictionary by one comparison with the copy (a dictionary that passed the
# checks before). One entry, replaced as a whole (a tuple), so concurrent calls see an
# old entry or a new one, never half.
_GRAM = None

#: The methods :func:`lasso` can run.
METHODS = ("homotopy", "fista")


def _on_accelerator(X):
    if not is_torch(X):
        return False
    return X.device.type != "cpu"


def _cached_entry(D):
    """The cache entry of ``D`` when it is a float64 NumPy array equal, entry by entry,
    to the cached copy (O(n_features n_atoms), against O(n_features n_atoms^2) for the
    Gram matrix); ``None`` otherwise."""
    entry = _GRAM
    if (entry is not None and type(D) is np.ndarray and D.dtype == np.float64
            and entry[0].shape == D.shape and np.array_equal(entry[0], D)):
        return entry
    return None


def _cached_gram(Dn):
    """``(D.T @ D, needs_residual(D))`` of the checked float64 NumPy ``Dn``, from the
    cache when ``Dn`` is unchanged."""
    global _GRAM
    entry = _cached_entry(Dn)
    if entry is not None:
        return entry[2], entry[3]
    from ._lars import gram, needs_residual

    G = gram(Dn)
    resid = needs_residual(Dn)
    _GRAM = (Dn.copy(), max_abs(Dn), G, resid)
    return G, resid


def choose_method(D, X, lam, *, tol=1e-6):
    r"""The method :func:`lasso` would use, and why.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float
        :math:`\lambda \ge 0`.
    tol : float
        The relative duality gap asked for.

    Returns
    -------
    method : str
        One of ``"homotopy"`` and ``"fista"`` (``METHODS``).
    reason : str
        The rule that chose it, in words.

    Examples
    --------
    >>> import numpy as np
    >>> choose_method(np.eye(3), np.ones(3), 0.5)[0]
    'homotopy'
    """
    D, X2, _ = check_dictionary_and_signals(D, X)
    check_scalar(lam, "lam", low=0.0)
    check_scalar(tol, "tol", low=0.0)
    return _choose(X2)


def _choose(X2):
    """The rule of :func:`choose_method`, on checked signals."""
    if _on_accelerator(X2):
        return "fista", (f"signals on {X2.device}: FISTA with gradient restart runs on "
                         "the device, the homotopy's sequential walk would not")
    return "homotopy", ("on the CPU the exact homotopy was the fastest method on every "
                        "measured regime (shape, lam/lam_max, sparsity)")


def lasso(D, X, lam, *, tol=1e-6, method="auto", max_iter=None):
    r"""Solve the lasso with the method the problem calls for.

    For every row :math:`x` of ``X``,

    .. math::

        \min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 .

    The method is chosen by :func:`choose_method` from where the data live and the rule
    measured on a grid of regimes (see :mod:`sparsecoding.auto` and the appendix page
    *Benchmarks*): the exact homotopy :cite:p:`osborne2000homotopy,efron2004lars` on the
    CPU, FISTA with gradient restart :cite:p:`beck2009fista,odonoghue2015restart` on an
    accelerator. The chapters *Homotopy and unrolled networks* and *FISTA* explain them.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        The dictionary, one atom per column.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        The signals, one per row.
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    tol : float
        Stop when every signal's relative duality gap
        :math:`\operatorname{gap}(h)/\tfrac12\|x\|^2` is at most ``tol``, the rule of
        every lasso solver of the package (:mod:`sparsecoding.duality`).
    method : ``"auto"``, ``"homotopy"`` or ``"fista"``
        ``"auto"`` (default) applies the measured rule; a name forces that method.
    max_iter : int, optional
        Iteration limit of FISTA (default 100,000); the homotopy takes at most
        ``8 * n_atoms + 8`` steps per signal.

    Returns
    -------
    SolverResult
        The result of the method that ran (``codes`` of the kind, device and dtype of
        ``X``, ``objective``, ``n_iter``, ``converged``), with ``extra["method"]``
        the method and ``extra["rule"]`` why it was chosen.

    Examples
    --------
    >>> import numpy as np
    >>> res = lasso(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0)
    >>> res.codes, res.extra["method"]
    (array([ 1. ,  0. , -0.5]), 'homotopy')
    """
    check_choice(method, "method", ("auto",) + METHODS)
    tol = check_scalar(tol, "tol", low=0.0)
    if max_iter is None:
        max_iter = 100_000
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    # a dictionary equal to the cached one passed the checks before: one comparison
    # instead of the checks (calls of one signal notice the difference)
    entry = _cached_entry(D)
    D2, X2, squeeze = check_dictionary_and_signals(
        D, X, d_peak=None if entry is None else entry[1])
    lam = check_scalar(lam, "lam", low=0.0)
    if method == "auto":
        method, rule = _choose(X2)
    else:
        rule = "chosen by the caller"
    if method == "homotopy":
        Dn = to_numpy(D2, np.float64)
        # the entry that matched D is Dn's when no conversion took place
        G, resid = (entry[2], entry[3]) if entry is not None and Dn is D else \
            _cached_gram(Dn)
        res = _homotopy_checked(Dn, X2, squeeze, lam, 8 * Dn.shape[1] + 8, tol, False,
                                G, resid)
    else:
        res = fista(D, X, lam, tol=tol, max_iter=max_iter, restart="gradient")
    res.extra["method"] = method
    res.extra["rule"] = rule
    return res
