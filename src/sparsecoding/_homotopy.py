r"""The exact lasso solution by homotopy: following the regularisation path.

For one signal :math:`x`, the lasso solution

.. math::

    h(\lambda) = \arg\min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1

is a piecewise-linear function of :math:`\lambda` :cite:p:`osborne2000homotopy,efron2004lars` (the second's *LARS-lasso* variant). It is
zero for :math:`\lambda \ge \lambda_{\max} = \|D^\top x\|_\infty`; below, on a segment
where the active set :math:`A` and the signs :math:`s = \operatorname{sign}(h_A)` do not
change, the optimality condition :math:`D_A^\top(x - D_A h_A) = \lambda s` gives

.. math::

    h_A(\lambda) = (D_A^\top D_A)^{-1}\left(D_A^\top x - \lambda s\right),

linear in :math:`\lambda`. A segment ends at a *breakpoint*, where an inactive atom's
correlation :math:`|d_j^\top(x - Dh)|` reaches :math:`\lambda` (the atom joins) or an
active coefficient reaches zero (the atom leaves). The algorithm walks from breakpoint
to breakpoint down to the target :math:`\lambda`: an exact solution in a finite number
of steps, about one per atom of the final support. The chapter *Homotopy and unrolled
networks* derives it.

The walk is sequential along the path, so it runs one signal at a time, in compiled
code when Numba is installed (``sparsecoding._lars``, on the Gram matrix
:math:`D^\top D`, blocks of signals shared among the CPU cores), in float64; a torch
tensor in gives a tensor out on its device. :func:`homotopy_path` records the
breakpoints of one signal with the same walk. Atoms tied at a breakpoint join one
after the other by steps of zero length, and an atom that has just left may come back
at the next breakpoint (see ``_lars`` for the rules and the guard against cycling).
When few atoms are correlated with a signal beyond :math:`\lambda`, :func:`homotopy`
walks first on a working set of the most correlated atoms and checks the KKT
conditions of all the others, walking again with those that violate them: the same
exact solution, in shorter steps (``_lars``, *Working set*).

``converged`` is a certificate, not a promise: after the walk each signal's relative
duality gap (:mod:`sparsecoding.duality`) is computed, and a signal is solved only when
it is at most ``tol``. A signal that the walk cannot finish exactly (its active atoms
became linearly dependent, as with duplicated atoms) or that fails the certificate is
finished by FISTA with restart, started from where the walk stopped, and certified in
the same way.

Signals are coded in blocks (:data:`_BLOCK_BYTES` of float64 working arrays): the
results are written into arrays allocated once, so that the memory beyond them does
not grow with the number of signals.

The functions are public at the top of the package: ``sparsecoding.homotopy``,
``sparsecoding.homotopy_path``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from array_api_compat import array_namespace, device

from ._arrays import like, to_numpy
from ._validation import check_dictionary_and_signals, check_scalar
from .duality import duality_gap, kkt_violation
from .solvers import SolverResult, _lasso_values, _sum_histories, fista

__all__ = ["homotopy", "homotopy_path", "HomotopyPath", "HomotopyResult"]

#: Signals coded together: about this many bytes of float64 working arrays (their
#: signals and codes), enough rows to share among the cores.
_BLOCK_BYTES = 32 * 2**20


@dataclass
class HomotopyResult(SolverResult):
    """The result of :func:`homotopy`, with the steps of each signal's walk.

    A :class:`~sparsecoding.SolverResult` (its ``n_iter`` is the largest number of
    steps) and what the walk adds.

    Attributes
    ----------
    n_steps : numpy.ndarray
        Steps (atoms added or dropped) of each signal's walk, int64.
    lambda_max : numpy.ndarray
        :math:`\\lambda_{\\max} = \\|D^\\top x\\|_\\infty` of each signal, where its path starts.
    n_finished_by_fista : int
        Signals the walk could not finish exactly, finished by FISTA.
    n_degenerate : int
        Signals whose active atoms became linearly dependent during the walk.
    """

    n_steps: np.ndarray = None
    lambda_max: np.ndarray = None
    n_finished_by_fista: int = 0
    n_degenerate: int = 0

    def __post_init__(self):
        # what SolverResult's does (the typed fields also by name in ``extra``), with
        # the names listed once: dataclasses.fields costs more than a one-signal walk
        for name in _TYPED_FIELDS:
            self.extra.setdefault(name, getattr(self, name))


_TYPED_FIELDS = tuple(f.name for f in fields(HomotopyResult)[len(fields(SolverResult)):])


@dataclass
class HomotopyPath:
    """The breakpoints of the lasso path of one signal.

    Attributes
    ----------
    lambdas : numpy.ndarray
        ``(n_breaks,)``, decreasing: :math:`\\lambda_{\\max}` first, the target last.
    codes : numpy.ndarray
        ``(n_breaks, n_atoms)``: the solution at each breakpoint; the solution between
        two breakpoints is their linear interpolation in :math:`\\lambda`.
    active : list of numpy.ndarray
        The active atoms on the segment that starts at each breakpoint.
    events : list of tuple
        ``("add", j)`` or ``("drop", j)``: what happened at each breakpoint but the
        last (one per step).
    converged : bool
        Whether the path reached the target with a relative duality gap at most ``tol``.
    """

    lambdas: np.ndarray
    codes: np.ndarray
    active: list = field(default_factory=list)
    events: list = field(default_factory=list)
    converged: bool = True

    @property
    def n_steps(self) -> int:
        """Number of steps (atoms added or dropped) taken along the path."""
        return len(self.events)


_MAX_STEPS = 10_000_000


def _check_inputs(D, X, lam, max_steps, tol, names=("D", "X")):
    D, X2, squeeze = check_dictionary_and_signals(D, X, names)
    lam = check_scalar(lam, "lam", low=0.0)
    tol = check_scalar(tol, "tol", low=0.0)
    n_atoms = D.shape[1]
    limited = max_steps is not None
    if max_steps is None:
        max_steps = 8 * n_atoms + 8
    # The walk keeps one objective value per step (a few arrays of max_steps floats),
    # so an absurd limit is refused here rather than by the allocator.
    max_steps = check_scalar(max_steps, "max_steps", low=1, integer=True,
                             high=_MAX_STEPS)
    return D, X2, squeeze, lam, max_steps, tol, limited


def _certificates(D, X, H, lam, chunk=16_384):
    """Relative duality gap and relative KKT violation of each row, from the residuals
    (chunks of rows: bounded memory)."""
    rel_gap = np.empty(X.shape[0])
    kkt = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        s = slice(start, start + chunk)
        rel_gap[s] = duality_gap(D, X[s], H[s], lam).relative
        kkt[s] = kkt_violation(D, X[s], H[s], lam)
    return rel_gap, kkt


def _certified(rel_gap, kkt, lam, tol):
    """The package's stopping rule (see :mod:`sparsecoding.duality`)."""
    return kkt <= tol if lam == 0.0 else rel_gap <= tol


def homotopy(D, X, lam, *, max_steps=None, tol=1e-10, gram=None):
    r"""The exact lasso solution by the homotopy (LARS-lasso) path.

    Solves, for every row :math:`x` of ``X``,

    .. math::

        \min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1

    by starting at :math:`\lambda_{\max} = \|D^\top x\|_\infty` with :math:`h = 0` and
    following the piecewise-linear solution path, adding or dropping one atom at each
    breakpoint, until the target :math:`\lambda` :cite:p:`osborne2000homotopy,efron2004lars`.
    Derived in the chapter *Homotopy and unrolled networks*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float
        :math:`\lambda \ge 0`. With :math:`\lambda = 0` and more atoms than features
        the path ends at one interpolating solution.
    max_steps : int, optional
        Largest number of steps per signal. By default ``8 * n_atoms + 8``, and a signal
        whose walk does not end is finished by FISTA; when given, such a signal is
        returned where the walk stopped, with ``converged=False``. At most 10⁷ (the
        walk keeps one objective value per step).
    tol : float
        A signal is solved when its relative duality gap,
        :math:`(P(h) - \mathcal{D}(\theta))/\tfrac12\|x\|^2`, is at most ``tol``
        (for :math:`\lambda = 0`, the KKT residual relative to
        :math:`\|D^\top x\|_\infty`); the same rule as every lasso solver of the
        package (:mod:`sparsecoding.duality`). The walk is exact up to rounding, so
        the default is small.
    gram : ``(n_atoms, n_atoms)`` array, optional
        :math:`D^\top D`, when the caller has it (computed here otherwise; the walk
        works on it).

    Returns
    -------
    HomotopyResult
        ``codes`` of the kind, device and dtype of ``X``; ``objective[s]`` the
        objective summed over signals after ``s`` steps (a signal that finished keeps
        its final value; the last entry is the objective of the returned codes);
        ``n_iter`` the largest number of steps over the signals; ``converged`` whether
        every signal is certified solved; ``gap`` the relative duality gap of each
        signal; ``n_steps`` the steps of each signal and ``lambda_max``
        (:class:`HomotopyResult`).

    Examples
    --------
    >>> import numpy as np
    >>> res = homotopy(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0)
    >>> res.codes, res.n_steps
    (array([ 1. ,  0. , -0.5]), array([2]))
    >>> homotopy(np.eye(2), np.array([1.0, 1.0]), 0.5).codes  # two atoms tied
    array([0.5, 0.5])
    """
    D, X2, squeeze, lam, max_steps, tol, limited = _check_inputs(D, X, lam, max_steps,
                                                                 tol)
    Dn = to_numpy(D, np.float64)
    if gram is not None:
        gram = to_numpy(gram, np.float64)
        if gram.shape != (Dn.shape[1], Dn.shape[1]):
            raise ValueError(f"gram must be D.T @ D, of shape {(Dn.shape[1],) * 2}, "
                             f"got {gram.shape}")
    return _homotopy_checked(Dn, X2, squeeze, lam, max_steps, tol, limited, gram)


def _homotopy_checked(Dn, X2, squeeze, lam, max_steps, tol, limited, gram=None,
                      resid=None):
    """:func:`homotopy` on checked arguments: ``Dn`` the dictionary in float64 NumPy,
    ``X2`` the signals as rows (array or tensor), ``gram`` and ``resid`` (see
    ``_lars.homotopy_batch``) when the caller has them."""
    from ._lars import HAVE_NUMBA

    n, (n_features, n_atoms) = X2.shape[0], Dn.shape
    block = max(256, _BLOCK_BYTES // (8 * (n_features + n_atoms)))
    # the correlations of every block computed the same way: a signal's code does not
    # depend on the blocks
    blas = n >= 128 or not HAVE_NUMBA
    steps, lam_max, rel_gap = np.zeros(n, np.int64), np.zeros(n), np.zeros(n)
    solved = np.zeros(n, bool)
    if n <= block and isinstance(X2, np.ndarray):
        # one block of NumPy signals (one signal per call, most often): its arrays
        # are the results
        H, objective, n_fista, n_degenerate = _homotopy_block(
            Dn, to_numpy(X2, np.float64), lam, max_steps, tol, limited, steps, lam_max,
            rel_gap, solved, gram, resid, blas)
        codes = H if X2.dtype == np.float64 else H.astype(X2.dtype)
    else:
        xp = array_namespace(X2)
        # the results, allocated once; a block's float64 arrays are its working set
        codes = xp.empty((n, n_atoms), dtype=X2.dtype, device=device(X2))
        histories, n_fista, n_degenerate = [], 0, 0
        for start in range(0, n, block):
            s = slice(start, min(start + block, n))
            H, obj, n_fin, n_deg = _homotopy_block(
                Dn, to_numpy(X2[s], np.float64), lam, max_steps, tol, limited, steps[s],
                lam_max[s], rel_gap[s], solved[s], gram, resid, blas)
            codes[s] = like(H, X2)
            histories.append(obj)
            n_fista += n_fin
            n_degenerate += n_deg
        objective = _sum_histories(histories)
    return HomotopyResult(
        codes=codes[0] if squeeze else codes,
        objective=objective,
        n_iter=int(steps.max()),
        converged=bool(solved.all()),
        gap=rel_gap[0] if squeeze else rel_gap,
        n_steps=steps,
        lambda_max=lam_max,
        n_finished_by_fista=n_fista,
        n_degenerate=n_degenerate,
    )


def _homotopy_block(D, X, lam, max_steps, tol, limited, steps, lam_max, rel_gap,
                    solved, gram=None, resid=None, blas=None):
    """The walk for a block of signals (float64 NumPy), finished by FISTA where it
    could not end exactly; fills the per-signal arrays given and returns the codes,
    the objective history, and the numbers finished by FISTA and degenerate."""
    from ._lars import DEGENERATE, DONE, MAX_STEPS, homotopy_batch

    H, steps[:], status, lam_max[:], rel_gap[:], kkt, objective = homotopy_batch(
        D, X, lam, max_steps, gram, resid, blas)
    solved[:] = status == DONE
    solved &= _certified(rel_gap, kkt, lam, tol)
    if solved.all():
        return H, objective, 0, 0
    rest = ~solved
    if limited:
        rest &= status != MAX_STEPS
    rest = np.flatnonzero(rest)
    if rest.size:
        # finish by FISTA from where the walk stopped, then certify again
        fin = fista(D, X[rest], lam, init=H[rest], restart="gradient",
                    tol=min(tol, 1e-12), max_iter=max(20_000, 50 * max_steps))
        cert, viol = _certificates(D, X[rest], fin.codes, lam)
        # keep, signal by signal, whichever of the two codes has the smaller gap
        better = np.where(lam == 0.0, viol <= kkt[rest], cert <= rel_gap[rest])
        keep = rest[better]
        H[keep] = fin.codes[better]
        rel_gap[keep], kkt[keep] = cert[better], viol[better]
        solved[rest] = _certified(rel_gap[rest], kkt[rest], lam, tol)
        objective = objective.copy()
        objective[-1] = float(np.sum(_lasso_values(np, D, X, H, lam)))
    n_degenerate = int(np.count_nonzero(status == DEGENERATE))
    return H, objective, int(rest.size), n_degenerate


def homotopy_path(D, x, lam=0.0, *, max_steps=None, tol=1e-10):
    r"""The breakpoints of the lasso path of one signal, from :math:`\lambda_{\max}` to ``lam``.

    The same walk as :func:`homotopy`, recording the solution at every breakpoint, for
    plotting the path (chapter *Homotopy and unrolled networks*). Atoms tied at a
    breakpoint join by steps of zero length, so a level may appear twice.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    x : ``(n_features,)``, one signal
    lam : float
        Where to stop, :math:`\lambda \ge 0`.
    max_steps : int, optional
    tol : float
        The certificate of the last breakpoint, as in :func:`homotopy`.

    Returns
    -------
    HomotopyPath
        ``lambdas``, ``codes``, ``active``, ``events`` (NumPy, float64) and
        ``converged``. A path the walk could not finish exactly (dependent atoms)
        ends where the walk stopped, with ``converged=False``.

    Examples
    --------
    >>> import numpy as np
    >>> path = homotopy_path(np.eye(2), np.array([2.0, -1.0]))
    >>> path.lambdas
    array([2., 1., 0.])
    >>> path.events
    [('add', 0), ('add', 1)]
    """
    from ._lars import DONE, homotopy_record

    D, X2, squeeze, lam, max_steps, tol, _ = _check_inputs(D, x, lam, max_steps, tol,
                                                           names=("D", "x"))
    if not squeeze:
        raise ValueError(f"x must be one signal of shape (n_features,), got {tuple(X2.shape)}")
    Dn, xn = to_numpy(D, np.float64), to_numpy(X2, np.float64)
    lambdas, codes, rec_events, status, rel_gap, kkt = homotopy_record(
        Dn, xn[0], lam, max_steps)
    events, actives, current = [], [], []
    for e in rec_events[1:]:
        j = abs(int(e)) - 1
        if e > 0:
            events.append(("add", j))
            current.append(j)
        else:
            events.append(("drop", j))
            current.remove(j)
        actives.append(np.array(current, dtype=int))
    if len(lambdas) == 1:
        actives = [np.array([], dtype=int)]
    converged = bool(status == DONE and _certified(rel_gap, kkt, lam, tol))
    return HomotopyPath(lambdas.copy(), codes.copy(), actives, events, converged)
