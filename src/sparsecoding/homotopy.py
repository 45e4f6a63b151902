r"""The exact lasso solution by homotopy: following the regularisation path.

For one signal :math:`x`, the lasso solution

.. math::

    h(\lambda) = \arg\min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1

is a piecewise-linear function of :math:`\lambda` (Osborne, Presnell and Turlach,
2000; Efron, Hastie, Johnstone and Tibshirani, 2004, the *LARS-lasso* variant). It is
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

The walk is sequential along the path, so :func:`homotopy` runs it one signal at a time
in compiled code (``sparsecoding._lars``, with Numba, on the Gram matrix
:math:`D^\top D`, the signals shared among the CPU cores), in float64; a torch tensor
in gives a tensor out on its device. :func:`homotopy_path` records the breakpoints of
one signal with the same walk written in NumPy (``_path_one``), which is also the
fallback for the rare signal whose active atoms become linearly dependent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._backend import is_tensor
from ._validation import check_dictionary_and_signals, check_scalar
from .solvers import SolverResult

__all__ = ["homotopy", "homotopy_path", "HomotopyPath"]


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
        ``("add", j)`` or ``("drop", j)``: what happened at each breakpoint after the
        first (one per step).
    """

    lambdas: np.ndarray
    codes: np.ndarray
    active: list = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        """Number of steps (atoms added or dropped) taken along the path."""
        return len(self.events)


def _solve_gram(G, b):
    try:
        return np.linalg.solve(G, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(G, b, rcond=None)[0]


def _path_one(D, x, lam, max_steps, record):
    """Follow the path of one signal from lambda_max down to ``lam``."""
    n_atoms = D.shape[1]
    h = np.zeros(n_atoms)
    c = D.T @ x
    lam_max = float(np.max(np.abs(c))) if n_atoms else 0.0
    lambdas, codes, actives, events = [lam_max], [h.copy()], [], []
    if lam >= lam_max or lam_max == 0.0:
        return h, lam_max, 0, True, HomotopyPath(
            np.array([max(lam_max, lam)]), h[None].copy(), [np.array([], int)], [])
    eps = 1e-12 * max(lam_max, 1.0)
    j0 = int(np.argmax(np.abs(c)))
    active = [j0]
    signs = [float(np.sign(c[j0]))]
    events.append(("add", j0))
    level = lam_max  # the current lambda
    just_dropped = None
    converged = False
    n_steps = 1
    while True:
        A = np.array(active)
        s = np.array(signs)
        DA = D[:, A]
        d = _solve_gram(DA.T @ DA, s)  # h_A grows by gamma * d as lambda drops by gamma
        a = D.T @ (DA @ d)  # correlations fall by gamma * a
        c = D.T @ (x - D @ h)
        # Joining: |c_j - gamma a_j| = level - gamma for an inactive j.
        gamma_add, j_add = np.inf, None
        inactive = np.ones(n_atoms, bool)
        inactive[A] = False
        if just_dropped is not None:
            inactive[just_dropped] = False
        for sign in (1.0, -1.0):
            denom = 1.0 - sign * a
            with np.errstate(divide="ignore", invalid="ignore"):
                g = (level - sign * c) / denom
            ok = inactive & (denom > 1e-14) & (g > eps)
            if ok.any():
                k = int(np.argmin(np.where(ok, g, np.inf)))
                if g[k] < gamma_add:
                    gamma_add, j_add = float(g[k]), k
        # Leaving: an active coefficient crosses zero.
        gamma_drop, k_drop = np.inf, None
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -h[A] / d
        ok = np.isfinite(g) & (g > eps)
        if ok.any():
            k = int(np.argmin(np.where(ok, g, np.inf)))
            gamma_drop, k_drop = float(g[k]), k
        gamma_end = level - lam
        gamma = min(gamma_add, gamma_drop, gamma_end)
        h[A] += gamma * d
        level -= gamma
        if record:
            lambdas.append(level)
            codes.append(h.copy())
            actives.append(A.copy())
        if gamma == gamma_end:
            converged = True
            break
        if n_steps >= max_steps:
            break
        n_steps += 1
        if gamma_drop <= gamma_add:
            j = int(A[k_drop])
            h[j] = 0.0
            del active[k_drop]
            del signs[k_drop]
            events.append(("drop", j))
            just_dropped = j
            if not active:  # cannot happen on a valid path; restart from the top
                c = D.T @ (x - D @ h)
                j = int(np.argmax(np.abs(c)))
                active, signs = [j], [float(np.sign(c[j]))]
        else:
            cj = float(D[:, j_add] @ (x - D @ h))
            active.append(j_add)
            signs.append(float(np.sign(cj)) or 1.0)
            events.append(("add", j_add))
            just_dropped = None
    if converged and active:
        # Polish: the exact solution on the final active set and signs.
        A = np.array(active)
        DA = D[:, A]
        hA = _solve_gram(DA.T @ DA, DA.T @ x - lam * np.array(signs))
        if np.all(np.sign(hA) == np.array(signs)):
            h[:] = 0.0
            h[A] = hA
            if record:
                codes[-1] = h.copy()
    path = None
    if record:
        path = HomotopyPath(np.array(lambdas), np.array(codes), actives, events)
    return h, lam_max, n_steps, converged, path


def _check_inputs(D, X, lam, max_steps):
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = check_scalar(lam, "lam", low=0.0)
    n_atoms = D.shape[1]
    if max_steps is None:
        max_steps = 8 * n_atoms + 8
    max_steps = check_scalar(max_steps, "max_steps", low=1, integer=True)
    return D, X2, squeeze, lam, max_steps


def _to_numpy64(a):
    if is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def homotopy(D, X, lam, *, max_steps=None):
    r"""The exact lasso solution by the homotopy (LARS-lasso) path.

    Solves, for every row :math:`x` of ``X``,

    .. math::

        \min_h \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1

    by starting at :math:`\lambda_{\max} = \|D^\top x\|_\infty` with :math:`h = 0` and
    following the piecewise-linear solution path, adding or dropping one atom at each
    breakpoint, until the target :math:`\lambda` (Osborne, Presnell and Turlach, 2000;
    Efron et al., 2004). Derived in the chapter *Homotopy and unrolled networks*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float
        :math:`\lambda \ge 0`. With :math:`\lambda = 0` and more atoms than features
        the path ends at one interpolating solution.
    max_steps : int, optional
        Largest number of steps per signal (default ``8 * n_atoms + 8``).

    Returns
    -------
    SolverResult
        ``codes`` of the kind, device and dtype of ``X``; ``n_iter`` the largest
        number of steps over the signals; ``converged`` whether every path reached
        ``lam``; ``objective`` a one-element array holding the final objective summed
        over signals (the path has no iterations to record);
        ``extra["n_steps"]`` the steps of each signal and ``extra["lambda_max"]``.

    Examples
    --------
    >>> import numpy as np
    >>> res = homotopy(np.eye(3), np.array([2.0, 0.5, -1.5]), 1.0)
    >>> res.codes, res.extra["n_steps"]
    (array([ 1. ,  0. , -0.5]), array([2]))
    """
    D, X2, squeeze, lam, max_steps = _check_inputs(D, X, lam, max_steps)
    Dn, Xn = _to_numpy64(D), _to_numpy64(X2)
    try:
        from ._lars import DEGENERATE, DONE, homotopy_batch
    except ImportError:  # without Numba: the NumPy walk for every signal
        homotopy_batch = None
    if homotopy_batch is not None and Xn.shape[0]:
        H, steps, status, lam_max, per_signal = homotopy_batch(Dn, Xn, lam, max_steps)
        rest = np.nonzero(status == DEGENERATE)[0]
        converged = bool(np.all(status[status != DEGENERATE] == DONE))
    else:
        H = np.zeros((Xn.shape[0], Dn.shape[1]))
        steps = np.zeros(Xn.shape[0], dtype=np.int64)
        lam_max = np.zeros(Xn.shape[0])
        per_signal = np.zeros(Xn.shape[0])
        rest = np.arange(Xn.shape[0])
        converged = True
    for i in rest:  # signals whose active Gram matrix became singular
        H[i], lam_max[i], steps[i], ok, _ = _path_one(Dn, Xn[i], lam, max_steps, False)
        r = Xn[i] - Dn @ H[i]
        per_signal[i] = 0.5 * float(r @ r) + lam * float(np.sum(np.abs(H[i])))
        converged &= ok
    objective = float(np.sum(per_signal))
    codes = H[0] if squeeze else H
    if is_tensor(X2):
        import torch

        codes = torch.as_tensor(codes, dtype=X2.dtype, device=X2.device)
    elif codes.dtype != X2.dtype:
        codes = codes.astype(X2.dtype)
    return SolverResult(
        codes=codes,
        objective=np.array([objective]),
        n_iter=int(steps.max()) if len(steps) else 0,
        converged=bool(converged),
        extra={"n_steps": steps, "lambda_max": lam_max, "solver": "homotopy"},
    )


def homotopy_path(D, x, lam=0.0, *, max_steps=None):
    r"""The breakpoints of the lasso path of one signal, from :math:`\lambda_{\max}` to ``lam``.

    The same walk as ``homotopy``, recording the solution at every breakpoint, for
    plotting the path (chapter *Homotopy and unrolled networks*).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    x : ``(n_features,)``, one signal
    lam : float
        Where to stop, :math:`\lambda \ge 0`.
    max_steps : int, optional

    Returns
    -------
    HomotopyPath
        ``lambdas``, ``codes``, ``active`` and ``events`` (NumPy, float64).

    Examples
    --------
    >>> import numpy as np
    >>> path = homotopy_path(np.eye(2), np.array([2.0, -1.0]))
    >>> path.lambdas
    array([2., 1., 0.])
    >>> path.events
    [('add', 0), ('add', 1)]
    """
    D, X2, squeeze, lam, max_steps = _check_inputs(D, x, lam, max_steps)
    if not squeeze:
        raise ValueError(f"x must be one signal of shape (n_features,), got {tuple(X2.shape)}")
    *_, path = _path_one(_to_numpy64(D), _to_numpy64(X2)[0], lam, max_steps, True)
    return path
