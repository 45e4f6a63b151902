r"""Solvers for the lasso (sparse coding with a fixed dictionary).

Every solver minimises, for each signal :math:`x` (a row of ``X``) independently,

.. math::

    F(h) = \tfrac12 \|x - D h\|_2^2 + \lambda \|h\|_1 ,

with the dictionary ``D`` of shape ``(n_features, n_atoms)`` (one atom per column),
signals ``X`` of shape ``(n_signals, n_features)`` and codes ``H`` of shape
``(n_signals, n_atoms)``, so that ``X ≈ H @ D.T``. A single signal of shape
``(n_features,)`` gives a code of shape ``(n_atoms,)``.

The solvers are batched (all signals move together, one matrix product per
iteration), run on NumPy arrays and on torch tensors (CPU or CUDA) from the same code,
in float32 or float64, and process very many signals in chunks of bounded memory.
The chapters *ISTA*, *FISTA* and *Homotopy and unrolled networks* derive them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from array_api_compat import array_namespace
from array_api_compat import device as _device

from . import _compile
from ._arrays import is_numpy, no_grad, random_normal
from ._arrays import to_numpy as _to_numpy
from ._threads import map_on_cores
from .duality import gap_from_sums
from .prox import _soft
from ._validation import (
    DivergenceError,
    check_array,
    check_choice,
    check_codes_scale,
    check_dictionary_and_signals,
    check_scalar,
    check_squarable,
)

__all__ = [
    "SolverResult",
    "lasso_objective",
    "lipschitz_constant",
    "ridge",
    "ista",
    "fista",
    "continuation_ista",
    "lambda_max",
    "lasso_path",
]

#: Whether the NumPy lasso steps run as compiled passes when Numba is installed (a
#: switch for the tests, which compare them with the array expressions).
_USE_COMPILED = True

#: Working memory per chunk of signals, in bytes (about 8 arrays of the chunk's size).
_CHUNK_BYTES = 256 * 2**20
#: On the CPU, one ``(chunk, n_atoms)`` array of about this size keeps a chunk's working
#: arrays in cache (measured in ``benchmarks/``); each chunk also stops on its own.
_CPU_CHUNK_BYTES = 2**20
#: On NumPy arrays, the image of the new codes (``H @ D.T`` or ``H @ G``) is computed
#: from their nonzero entries only when at most this fraction of a chunk's codes is
#: nonzero; above it, BLAS's dense product is faster (measured in ``_fused``).
_SPARSE_IMAGE_DENSITY = 0.15


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    codes : array or tensor
        ``(n_signals, n_atoms)``, or ``(n_atoms,)`` for a single signal; the same kind,
        device and dtype as the input ``X``.
    objective : numpy.ndarray
        ``objective[k]`` is the objective :math:`\\sum_i F(h_i)` summed over signals
        after ``k`` iterations (``objective[0]`` at the starting point), in float64.
        Its length is ``n_iter + 1``.
    n_iter : int
        Iterations run (for chunked runs, the largest over chunks).
    converged : bool
        Whether every signal met the stopping rule before ``max_iter``: its relative
        duality gap at most ``tol`` (see :mod:`sparsecoding.duality`).
    gap : numpy.ndarray or float, optional
        The final relative duality gap of each signal,
        :math:`(P(h) - \\mathcal D(\\theta(h))) / \\tfrac12\\|x\\|^2`
        (with :math:`\\lambda = 0`, the relative optimality residual
        :math:`\\|D^\\top r\\|_\\infty / \\|D^\\top x\\|_\\infty`); float64, a float
        for a single signal. ``None`` for solvers that do not compute it.
    lipschitz : float, optional
        The Lipschitz constant :math:`L` the proximal-gradient solvers used (the
        last one found, with backtracking).
    extra : dict
        Details particular to one solver, by name. Solvers with a result type of
        their own (:class:`~sparsecoding.HomotopyResult`,
        :class:`~sparsecoding.subgradient.SubgradientResult`) give them as typed
        attributes, and ``extra`` holds the same values by name for code written
        before; empty for the proximal-gradient solvers.
    """

    codes: object
    objective: np.ndarray
    n_iter: int
    converged: bool
    gap: object = None
    lipschitz: float = None
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # the typed fields of a subclass, also by name in ``extra`` (older code)
        for f in fields(self)[len(fields(SolverResult)):]:
            self.extra.setdefault(f.name, getattr(self, f.name))


def _check_lam(lam):
    return check_scalar(lam, "lam", low=0.0)


def lasso_objective(D, X, H, lam, *, reduction="sum"):
    r"""The lasso objective :math:`\tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1`.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    H : ``(n_signals, n_atoms)`` or ``(n_atoms,)``, the codes
    lam : float, :math:`\lambda \ge 0`
    reduction : ``"sum"`` or ``"none"``
        ``"sum"`` returns the total over signals as a float; ``"none"`` one value per
        signal, as an array of the kind of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> lasso_objective(np.eye(2), np.array([1.0, 0.0]), np.array([0.5, 0.0]), 0.5)
    0.375
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    H2 = _check_codes(H, X2, D)
    lam = _check_lam(lam)
    check_choice(reduction, "reduction", ("sum", "none"))
    values = _lasso_values(array_namespace(X2), D, X2, H2, lam)
    if reduction == "sum":
        return float(values.sum())
    return values[0] if squeeze else values


def _check_codes(H, X2, D, name="H"):
    """Codes (or starting codes) for the signals ``X2`` and the dictionary ``D``: an
    array like ``X2`` of shape ``(n_signals, n_atoms)`` (a 1-D one is one signal's
    code) whose image does not overflow; returned 2-D."""
    H = check_codes_scale(check_array(H, name, ndim=(1, 2), like=X2), D, name)
    H2 = H.reshape(1, -1) if H.ndim == 1 else H
    if tuple(H2.shape) != (X2.shape[0], D.shape[1]):
        raise ValueError(
            f"{name} must have shape {(X2.shape[0], D.shape[1])} (n_signals, n_atoms) "
            f"to match X and D, got {tuple(H.shape)}"
        )
    return H2


def _lasso_values(xp, D, X, H, lam):
    """The lasso objective of each row, without checks (the one place it is written
    from the codes; the engine's Gram form keeps its own, from ``D^T D h``)."""
    R = H @ D.T - X
    return 0.5 * xp.sum(R * R, axis=1) + lam * xp.sum(xp.abs(H), axis=1)


def lambda_max(D, X):
    r"""The smallest :math:`\lambda` whose lasso solution is zero: :math:`\|D^\top x\|_\infty`.

    For :math:`\lambda \ge \lambda_{\max}` the code :math:`h = 0` satisfies the
    optimality condition :math:`D^\top x \in \lambda\,\partial\|0\|_1`. Returns one
    value per signal (a float for a single signal).
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    xp = array_namespace(X2)
    values = xp.max(xp.abs(X2 @ D), axis=1)
    return float(values[0]) if squeeze else values


def lipschitz_constant(D, *, max_iter=100, tol=1e-7, seed=0):
    r"""The Lipschitz constant :math:`L = \|D\|_2^2 = \lambda_{\max}(D^\top D)` by power iteration.

    :math:`L` is the Lipschitz constant of the gradient
    :math:`\nabla_h \tfrac12\|x - Dh\|^2 = D^\top(Dh - x)`; ISTA takes steps
    :math:`\eta = 1/L`. Power iteration multiplies a random vector by :math:`D^\top D`
    until the Rayleigh quotient changes by less than ``tol`` (relative). The chapter
    *ISTA* explains it.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
    max_iter : int
    tol : float
    seed : int
        Seed of the random starting vector.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> round(lipschitz_constant(np.diag([3.0, 1.0])), 6)
    9.0
    """
    D = check_squarable(check_array(D, "D", ndim=2), "D")
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0.0, high=1.0)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    with no_grad(D):
        return _power_iteration(D, max_iter, tol, seed)


def _power_iteration(D, max_iter, tol, seed):
    # Scale before squaring: iterate on D / s, s the power of two at or below
    # max|D_ij| (the squares neither overflow nor underflow; dividing by a power of two
    # is exact, so L is the unscaled computation's number wherever that one is finite),
    # and scale back, refusing an L the dtype cannot hold.
    xp = array_namespace(D)
    peak = float(xp.max(xp.abs(D)))
    if peak == 0.0:
        return 0.0
    scale = 2.0 ** math.floor(math.log2(peak))  # a Python float: D keeps its dtype
    # iterate on the smaller of D^T D and D D^T: they share their largest eigenvalue
    M = D / scale if D.shape[1] <= D.shape[0] else D.T / scale
    v0 = random_normal((min(D.shape),), like=D, seed=seed)
    L = float(_power_steps(M, v0, max_iter, tol)[0]) * scale * scale
    if not np.isfinite(L) or L > float(xp.finfo(D.dtype).max):
        raise ValueError(
            f"D has entries up to {peak:.1e}: its Lipschitz constant ||D||_2^2 "
            f"overflows {str(D.dtype).replace('torch.', '')}; rescale D (divide it by a "
            "power of ten)"
        )
    return L


def _power_steps(M, v, max_iter, tol):
    """Power iteration on :math:`M^\\top M` from ``v``, the one implementation (also
    warm-started by dictionary learning): stops when the Rayleigh quotient changes by
    at most ``tol`` (relative) or after ``max_iter`` products. Returns the estimate of
    :math:`\\|M\\|_2^2` and the last unit vector."""
    xp = array_namespace(M)
    v = v / xp.sqrt(xp.sum(v * v))
    estimate = norm = 0.0
    for _ in range(max_iter):
        w = M.T @ (M @ v)
        new = float(xp.sum(v * w))
        norm = float(xp.sqrt(xp.sum(w * w)))
        if norm == 0.0:
            return 0.0, v
        v = w / norm
        if abs(new - estimate) <= tol * abs(new):
            estimate = new
            break
        estimate = new
    # The Rayleigh quotient approaches L from below; the last normalised product is a
    # slightly closer estimate.
    return max(estimate, norm), v


def ridge(D, X, lam):
    r"""Ridge regression, in closed form: :math:`h = (D^\top D + \lambda I)^{-1} D^\top x`.

    The minimiser of :math:`\tfrac12\|x - Dh\|_2^2 + \tfrac{\lambda}{2}\|h\|_2^2`,
    the linear counterpart of the lasso (chapter *The sparse coding problem*).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float
        The weight :math:`\lambda \ge 0` (with :math:`\lambda = 0`, ``D`` must have
        full column rank).

    Returns
    -------
    Codes of the kind of ``X``, ``(n_signals, n_atoms)`` or ``(n_atoms,)``.

    Examples
    --------
    >>> import numpy as np
    >>> ridge(np.eye(2), np.array([2.0, -1.0]), 1.0)
    array([ 1. , -0.5])
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = _check_lam(lam)
    xp = array_namespace(X2)
    A = D.T @ D + lam * xp.eye(D.shape[1], dtype=D.dtype, device=_device(D))
    try:
        H = xp.linalg.solve(A, D.T @ X2.T).T
    except Exception as exc:  # LinAlgError (NumPy) or RuntimeError (torch)
        raise ValueError(
            "D.T @ D + lam * I is singular: use lam > 0 or a dictionary whose columns "
            f"are linearly independent ({exc})"
        ) from None
    return H[0] if squeeze else H


# --------------------------------------------------------------------------------------
# The proximal-gradient engine: ISTA, FISTA, continuation, projected gradient and
# deblurring (sparsecoding.imaging) are all this one loop on a different problem.
# --------------------------------------------------------------------------------------

#: The stopping test (the duality gap) runs at the first iteration, then every this
#: many iterations and at the last: in the residual mode it costs one product with
#: ``D`` (half an iteration), in the Gram mode a few elementwise passes.
_CHECK_EVERY = 10


def _momentum(t, keep):
    r"""FISTA's momentum :cite:p:`beck2009fista`: the coefficient :math:`\beta` of this
    iteration and the next :math:`t`,

    .. math::

        t^+ = \tfrac12\left(1 + \sqrt{1 + 4t^2}\right), \qquad
        \beta = \frac{t - 1}{t^+},

    and where ``keep`` is 0 instead of 1 (an adaptive restart) :math:`\beta = 0` and
    :math:`t^+ = 1`. Elementwise, one formula for floats, arrays of any kind and the
    compiled passes of :mod:`sparsecoding._fused`, which compile this function."""
    t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
    return keep * ((t - 1) / t_new), keep * t_new + (1 - keep)


class _Momentum:
    r"""FISTA's momentum for the engine, with an optional adaptive restart per row
    :cite:p:`odonoghue2015restart`: ``"function"``, where the objective went up;
    ``"gradient"``, where the momentum points uphill, :math:`(y - h^+)\cdot(h^+ - h) > 0`.
    ``t`` is a float without restart, else float64 per row. With ``constant``, the
    momentum is that number at every iteration (no :math:`t`, no restart)."""

    def __init__(self, xp, restart, n_rows, device, constant=None):
        self.xp, self.restart, self.constant = xp, restart, constant
        self.t = 1.0
        if restart is not None:
            self.t = xp.ones((n_rows,), dtype=xp.float64, device=device)

    def advance(self, keep=1.0):
        """This iteration's :math:`\beta` (a float, or per row); :math:`t` moves on."""
        if self.constant is not None:
            return self.constant
        beta, self.t = _momentum(self.t, keep)
        return beta

    def coefficients(self, Hn, H, Y, F_new, F):
        """:meth:`advance`, restarted per row as ``restart`` says."""
        xp = self.xp
        if self.restart is None:
            return self.advance()
        if self.restart == "function":
            uphill = F_new > F
        else:
            uphill = xp.sum((Y - Hn) * (Hn - H), axis=1) > 0
        return self.advance(xp.astype(~uphill, xp.float64))


class _Composite:
    r"""One chunk of a composite problem :math:`\min_h f(h) + g(h)`, row by row.

    ``f`` is a least-squares term through an affine map: the engine keeps the image
    :math:`A = \mathcal A(h)` of the codes beside them, and gets the image of the
    extrapolated point of FISTA by the same extrapolation, without another product.
    A subclass gives ``image``, ``grad`` (from the image), ``smooth`` (:math:`f` per
    row), ``penalty`` (:math:`g` per row), ``prox``, ``lam_at`` (the threshold weight
    of iteration ``k``) and ``certificate`` (per row, compared with ``tol``). ``step``
    and ``extrapolate`` below are the definitions; a subclass may run them as compiled
    passes (the same operations), as :class:`_CompiledLasso` does.
    """

    check_every = _CHECK_EVERY
    smooth_scale = 0.0  # the size of the terms summed in ``smooth`` (for rounding)
    #: whether :meth:`step` returns the objective of the codes it started from, one
    #: iteration late, instead of that of the new codes (see :func:`_pgm`)
    lagged_objective = False

    def initial(self, H0):
        xp = self.xp
        if H0 is None:
            return xp.zeros(self.shape, dtype=self.dtype, device=self.device)
        return xp.asarray(H0, copy=True)

    def lam_at(self, k):
        return 0.0

    def initial_image(self, H, H0):
        """The image of the starting codes ``H`` (``H0`` is what the caller gave)."""
        return self.image(H)

    def prox_step(self, Y, AY, L, thr):
        """The proximal-gradient step from ``Y``: new codes, their image and the
        objective per row."""
        Hn = self.prox(Y - self.grad(AY, Y) / L, thr)
        An = self.image(Hn)
        return Hn, An, self.smooth(Hn, An) + self.penalty(Hn)

    def next_point(self, Hn, H, An, A, Y, F_new, F, momentum):
        """The point the next step starts from, and its image: the new codes (ISTA) or
        FISTA's extrapolation with the coefficients of ``momentum``."""
        if momentum is None:
            return Hn, An
        return self.extrapolate(Hn, H, An, A, momentum.coefficients(Hn, H, Y, F_new, F))

    def step(self, H, A, Y, AY, L, thr, momentum=None, F=None):
        """One iteration: :meth:`prox_step` then :meth:`next_point`. Returns the new
        codes, their image, the objective per row, the next point and its image."""
        Hn, An, F_new = self.prox_step(Y, AY, L, thr)
        return (Hn, An, F_new) + self.next_point(Hn, H, An, A, Y, F_new, F, momentum)

    def extrapolate(self, Hn, H, An, A, beta):
        b = beta if isinstance(beta, float) else self.xp.astype(beta, self.dtype)[:, None]
        return Hn + b * (Hn - H), An + b * (An - A)


class _Lasso(_Composite):
    """One chunk of lasso problems. Two equivalent routes give the gradient
    :math:`D^\\top(Dh - x)`:

    * ``"gram"``: :math:`A = G h` with :math:`G = D^\\top D` and :math:`b = D^\\top x`
      precomputed; gradient :math:`A - b`; one product with an ``n_atoms``-square
      matrix per iteration;
    * ``"residual"``: :math:`A = Dh - x`; gradient :math:`D^\\top A`; two products
      with ``D`` per iteration, cheaper when atoms outnumber features more than twice.

    With ``n_layers``, the threshold follows the geometric schedule of continuation.
    """

    def __init__(self, xp, D, X, G, mode, lam, n_layers=0):
        self.xp, self.D, self.X, self.G, self.mode, self.lam = xp, D, X, G, mode, lam
        self.gram = mode == "gram"
        self.shape = (X.shape[0], D.shape[1])
        self.dtype, self.device = X.dtype, _device(X)
        self.B = X @ D  # rows are D^T x
        self.half_xx = 0.5 * xp.sum(X * X, axis=1)
        self.smooth_scale = self.half_xx
        self.lam_max = xp.max(xp.abs(self.B), axis=1)
        self.n_layers = n_layers
        self.lam_rows = xp.full((X.shape[0],), lam, dtype=self.dtype, device=self.device)
        if n_layers:  # lam_l = lam_max (lam / lam_max)^(l / n_layers), lam_max > lam
            above = self.lam_max > lam
            self.above = above
            one = xp.ones_like(self.lam_max)
            self.ratio = xp.where(above, lam / xp.where(above, self.lam_max, one), one)

    def lam_at(self, k):
        if self.n_layers and k <= self.n_layers:
            return self.xp.where(self.above,
                                 self.lam_max * self.ratio ** (k / self.n_layers),
                                 self.lam_rows)
        return self.lam_rows

    def image(self, H):
        return H @ self.G if self.gram else H @ self.D.T - self.X

    def initial_image(self, H, H0):
        if H0 is not None:
            return self.image(H)
        # the image of zero codes, without a product: 0 (Gram) or -x (residual)
        return self.xp.zeros_like(self.B) if self.gram else -self.X

    def grad(self, AY, Y):
        return AY - self.B if self.gram else AY @ self.D

    def smooth(self, H, A):
        xp = self.xp
        if self.gram:
            return self.half_xx + xp.sum(H * (0.5 * A - self.B), axis=1)
        return 0.5 * xp.sum(A * A, axis=1)

    def penalty(self, H):
        return self.lam * self.xp.sum(self.xp.abs(H), axis=1)

    def prox(self, V, thr):
        return _soft(self.xp, V, thr[:, None])

    def certificate(self, H, A, Y=None):
        """Per signal: the relative duality gap, or with ``lam = 0`` the relative KKT
        residual (:mod:`sparsecoding.duality`)."""
        xp = self.xp
        if self.gram:  # correlations D^T r = b - G h; x.r = |x|^2 - h.b
            C = self.B - A
            xr = 2 * self.half_xx - xp.sum(H * self.B, axis=1)
        else:  # A = Dh - x = -r
            C = -(A @ self.D)
            xr = -xp.sum(self.X * A, axis=1)
        cmax = xp.max(xp.abs(C), axis=1)
        if self.lam == 0:
            return _relative_kkt(xp, cmax, self.lam_max)
        rr = 2 * self.smooth(H, A)  # |r|^2, in both modes
        l1 = xp.sum(xp.abs(H), axis=1)
        return gap_from_sums(xp, self.half_xx, rr, xr, cmax, l1, self.lam)[1]


def _relative_kkt(xp, cmax, lam_max):
    r"""The stopping measure of least squares (``lam = 0``), per signal:
    :math:`\|D^\top r\|_\infty / \|D^\top x\|_\infty` (0 where :math:`D^\top x = 0`)."""
    pos = lam_max > 0
    return xp.where(pos, cmax / xp.where(pos, lam_max, xp.ones_like(cmax)), 0 * cmax)


def _free(buffers, *live):
    """The first of ``buffers`` that is none of ``live``."""
    return next(b for b in buffers if all(b is not a for a in live))


class _CompiledLasso(_Lasso):
    """:class:`_Lasso` on NumPy arrays with the step and the extrapolation run as the
    compiled passes of :mod:`sparsecoding._fused` (Numba): every array of the chunk's
    size is allocated once, the elementwise operations of a step, FISTA's momentum
    included, run in two passes, and the image of the new codes is computed from their
    nonzero entries when they are sparse enough (the product with the most flops then
    skips the zeros). With the momentum, the next point is not stored: the next step
    forms it from the last two codes (``self.prev`` keeps the older ones), and in the
    residual form its image is written over ``AY``.

    With the function restart, whose decisions compare objectives that differ by
    rounding near the solution, the images are BLAS's and the objective is computed
    by the array expressions, so that the decisions are the same as without Numba;
    the extrapolation follows the passes (:meth:`extrapolate`).
    """

    def __init__(self, xp, D, X, G, mode, lam, n_layers=0, exact_objective=False):
        super().__init__(xp, D, X, G, mode, lam, n_layers)
        from . import _fused

        self.fused = _fused
        n, p = self.shape
        m = p if self.gram else D.shape[0]
        dt = X.dtype
        self.codes = [np.empty((n, p), dtype=dt) for _ in range(3)]
        self.images = [np.empty((n, m), dtype=dt) for _ in range(3)]
        self.V = np.empty((n, p), dtype=dt)
        self.M = G if self.gram else D.T  # image: H @ G, or H @ D.T - X
        self.M_rows = np.ascontiguousarray(self.M)  # for the sparse product
        self.Bc = np.ascontiguousarray(self.B)
        self.hxx = np.asarray(self.half_xx, dtype=np.float64)
        self.l1, self.l1_prev, self.sm = np.empty(n), np.empty(n), np.empty(n)
        self.beta, self.no_t = np.empty(n, dtype=dt), np.empty(0)
        self.exact = exact_objective
        # the Gram form's prox pass reads the codes, their image and B: the objective
        # of those codes comes from it, one step late, and the smooth pass is skipped
        self.lagged_objective = self.gram and not exact_objective
        self.sparse_limit = -1 if exact_objective else _SPARSE_IMAGE_DENSITY * n * p

    def initial(self, H0):
        H = self.codes[0]
        if H0 is None:
            H.fill(0)
        else:
            H[...] = H0
        self.prev = None  # the codes and image before H, for FISTA's next point
        self.beta.fill(0)
        np.sum(np.abs(H), axis=1, out=self.l1)  # |h|_1 of the codes, as steps leave it
        return H

    def step(self, H, A, Y, AY, L, thr, momentum=None, F=None):
        fused = self.fused
        kind, t = fused.NO_MOMENTUM, self.no_t
        if momentum is not None and not self.exact:  # fused into the passes
            kind = fused.MOMENTUM if momentum.restart is None else fused.GRADIENT_RESTART
            if kind == fused.GRADIENT_RESTART:  # decided row by row in prox_pass
                t = momentum.t
            # the point y = Hc + beta (Hc - Hp) is formed in prox_pass, never stored
            Hc, Ac = H, A
            Hp, Ap = self.prev if self.prev is not None else (H, A)
            Hn = _free(self.codes, H, Hp)
            An = _free(self.images, A, Ap if self.gram else AY)
        else:  # the point Y and its image are given (ISTA: H and A)
            Hn, An = _free(self.codes, H, Y), _free(self.images, A, AY)
            Hc, Ac = Hp, Ap = Y, AY
        grad = Ac if self.gram else np.matmul(AY, self.D, out=self.V)
        self.l1, self.l1_prev = self.l1_prev, self.l1  # keep |h|_1 of the codes Hc
        n_nonzero = fused.prox_pass(grad, self.Bc, self.gram, Hc, Hp, Ac, Ap,
                                    self.dtype.type(L), thr, Hn, self.l1, kind, t,
                                    self.beta, self.sm)
        if kind == fused.MOMENTUM:
            self.beta.fill(momentum.advance())  # the next point's
        if n_nonzero <= self.sparse_limit:
            fused.sparse_image(Hn, self.M_rows, An)
        else:
            np.matmul(Hn, self.M, out=An)
        if self.exact:
            if not self.gram:
                np.subtract(An, self.X, out=An)
            F_new = _Lasso.smooth(self, Hn, An) + _Lasso.penalty(self, Hn)
            return (Hn, An, F_new) + self.next_point(Hn, H, An, A, Y, F_new, F, momentum)
        extrapolate = kind != fused.NO_MOMENTUM
        if self.lagged_objective:  # the objective of Hc, computed in the prox pass
            F_new = self.hxx + self.sm + self.lam * self.l1_prev
        else:
            fused.smooth_pass(An, self.X, self.sm, extrapolate, A, self.beta, AY)
            F_new = self.sm + self.lam * self.l1
        if not extrapolate:
            return Hn, An, F_new, Hn, An
        self.prev = (H, A)
        # the engine's Y is not used by the next step; AY is, in the residual form
        return Hn, An, F_new, Hn, An if self.gram else AY

    def extrapolate(self, Hn, H, An, A, beta):
        Y, AY = _free(self.codes, Hn, H), _free(self.images, An, A)
        self.beta[...] = beta
        self.fused.momentum_pass(Hn, H, An, A, self.beta, Y, AY)
        return Y, AY


def _backtrack(problem, Y, AY, L, k, eta=2.0):
    """Beck and Teboulle's backtracking: from ``L``, multiply by ``eta`` until the
    quadratic model at ``Y`` bounds the smooth part at the new codes, for every row.
    Returns ``L`` and :meth:`_Composite.prox_step`'s result with it."""
    xp = problem.xp
    fY, gY = problem.smooth(Y, AY), problem.grad(AY, Y)
    # the test compares values computed by different routes (rounding of the size of
    # |f| and, in the Gram form, of |x|^2 / 2): a slack of 100 roundings
    slack = 100 * xp.finfo(problem.dtype).eps * (xp.abs(fY) + problem.smooth_scale)
    while True:
        out = problem.prox_step(Y, AY, L, problem.lam_at(k) / L)
        S = out[0] - Y
        bound = fY + xp.sum(gY * S, axis=1) + 0.5 * L * xp.sum(S * S, axis=1)
        if bool(xp.all(problem.smooth(out[0], out[1]) <= bound + slack)):
            return L, out
        L *= eta
        if not L < 1e300:
            raise ValueError("backtracking found no step size: the smooth part is not "
                             "finite (check the inputs)")


# Divergence guard: NumPy's overflow warnings are silenced inside the engine, whose
# _check_divergence raises a DivergenceError with advice when the objective stops being
# finite (np.errstate, a context decorator, restores the error state on exit).
@np.errstate(over="ignore", invalid="ignore")
def _pgm(problem, H0, *, L, backtracking=False, momentum=False, restart=None,
         max_iter=1000, tol=None, first_check=1):
    r"""The proximal-gradient method on one chunk (SPORCO's ``pgm`` is a model).

    Each iteration (:meth:`_Composite.step`): a gradient step on the smooth part from
    the point ``Y`` and the proximal operator, with the step ``1/L`` (fixed, or found
    by backtracking); the objective of the new codes; the next point ``Y``: the new
    codes (``momentum=False``, ISTA) or the extrapolation of :class:`_Momentum`
    (``True``: FISTA's :math:`\beta_k`; a float: that constant :math:`\beta`), with an adaptive
    restart of the momentum per row (``"function"``: the objective went up;
    ``"gradient"``: the momentum points uphill, :math:`(y - h^+)\cdot(h^+ - h) > 0`).
    Then the stopping test, every ``problem.check_every`` iterations from
    ``first_check`` on: every row's certificate at most ``tol`` (with ``tol`` zero or
    None, never: ``max_iter`` iterations run). A problem may compute the next point in
    the passes of the step (:class:`_CompiledLasso`): the certificate must then not
    need the old ``Y``. A problem whose ``lagged_objective`` is true returns from
    ``step`` the objective of the codes the step started from (known only once their
    image has been read again): the history then takes it one step late, and that of
    the last codes is computed after the loop.

    Returns ``H, objective (float64, one value per iteration), n_iter, converged,
    certificate (per row, or None), L``.
    """
    xp = problem.xp
    H = problem.initial(H0)
    A = problem.initial_image(H, H0)
    F = problem.smooth(H, A) + problem.penalty(H)
    history = [xp.sum(F)]
    # momentum: False (ISTA), True (FISTA's t_k) or a float (that constant momentum)
    constant = None if isinstance(momentum, (bool, np.bool_)) else float(momentum)
    mom = None
    if momentum or constant is not None:
        mom = _Momentum(xp, restart, F.shape[0], problem.device, constant)
    Y, AY = H, A
    cert, cert_k, converged, k = None, -1, False, 0
    for k in range(1, max_iter + 1):
        if backtracking:
            L, (Hn, An, F_new) = _backtrack(problem, Y, AY, L, k)
            Y_next, AY_next = problem.next_point(Hn, H, An, A, Y, F_new, F, mom)
        else:
            Hn, An, F_new, Y_next, AY_next = problem.step(
                H, A, Y, AY, L, problem.lam_at(k) / L, mom, F)
        if not problem.lagged_objective or k > 1:
            history.append(xp.sum(F_new))
        if k % problem.check_every == 0 and not bool(xp.isfinite(history[-1])):
            break  # diverged: _check_divergence below raises
        if tol and k >= first_check and (
                (k - first_check) % problem.check_every == 0 or k == max_iter):
            cert, cert_k = problem.certificate(Hn, An, Y), k
            if bool(xp.all(cert <= tol)):
                H, A, converged = Hn, An, True
                break
        H, A, F, Y, AY = Hn, An, F_new, Y_next, AY_next
    if len(history) < k + 1:  # a lagged objective: that of the last codes is missing
        history.append(xp.sum(problem.smooth(H, A) + problem.penalty(H)))
    if tol is not None and cert_k != k:
        cert = problem.certificate(H, A, H)
        converged = bool(xp.all(cert <= tol))
    objective = np.asarray(_to_numpy(xp.stack(history)), dtype=np.float64)
    _check_divergence(objective, L, converged)
    return H, objective, k, converged, cert, L


def _check_divergence(objective, L, converged):
    """Divergence guard: a non-finite objective, or an unconverged run that ends above
    where it started, means the step ``1/L`` was too long (``L`` below the gradient's
    Lipschitz constant): raise instead of returning the iterates as data."""
    bad = not np.isfinite(objective[-1])
    if not bad and not converged and len(objective) > 1:
        start, end = objective[0], objective[-1]
        bad = end > start + 1e-4 * abs(start)
    if bad:
        raise DivergenceError(
            f"the iterates diverged (objective {objective[0]:.3g} at the start, "
            f"{objective[-1]:.3g} at the end) with the step 1/L, L = {L:.3g}: "
            "lipschitz is below the gradient's Lipschitz constant (||D||_2^2 for the "
            "lasso, see lipschitz_constant); leave lipschitz=None to compute it, or "
            "use lipschitz='backtracking'"
        )


def _default_chunk_size(D, X, on_cpu=None):
    """Signals per chunk: bounded memory; on NumPy arrays, also cache-sized."""
    if on_cpu is None:
        on_cpu = is_numpy(X)
    n_features, n_atoms = D.shape[0], D.shape[1]
    per_signal = 8 * (n_atoms + n_features) * X.dtype.itemsize
    chunk = max(1, _CHUNK_BYTES // per_signal)
    if on_cpu:
        chunk = min(chunk, max(64, _CPU_CHUNK_BYTES // (n_atoms * X.dtype.itemsize)))
    return chunk


def _choose_mode(D, mode):
    check_choice(mode, "mode", ("auto", "gram", "residual"))
    if mode == "auto":
        return "residual" if D.shape[1] > 2 * D.shape[0] else "gram"
    return mode


def _check_lipschitz(lipschitz, D):
    """``(L, backtracking)``: a given :math:`L > 0`, the power iteration's, or for
    ``"backtracking"`` a lower bound to start from (the largest squared atom norm)."""
    if isinstance(lipschitz, str):
        check_choice(lipschitz, "lipschitz", ("backtracking",))
        xp = array_namespace(D)
        L = float(xp.max(xp.sum(D * D, axis=0)))
        return (L if L > 0 else 1.0), True
    if lipschitz is None:
        L = lipschitz_constant(D)
    else:
        L = check_scalar(lipschitz, "lipschitz", low=0.0, low_inclusive=False)
    # D = 0: every code is optimal for any lam; zero, the sparsest, is what comes out
    return (L if L > 0 else 1.0), False


def _strong_momentum(mu, L, backtracking, restart):
    r"""The constant momentum :math:`(\sqrt L - \sqrt\mu)/(\sqrt L + \sqrt\mu)` of
    the strongly convex case, after checking ``mu`` against the other arguments."""
    mu = check_scalar(mu, "mu", low=0.0, low_inclusive=False)
    if backtracking:
        raise ValueError("mu needs a fixed Lipschitz constant (its momentum is "
                         "computed from L): give lipschitz as a number or None, "
                         "not 'backtracking'")
    if restart is not None:
        raise ValueError(f"mu and restart={restart!r} exclude each other: the momentum "
                         "is either the constant one of mu or FISTA's with restarts")
    if mu > L:
        raise ValueError(f"mu must be at most the Lipschitz constant L = {L:.6g} (the "
                         f"eigenvalues of D^T D lie in [mu, L]), got {mu!r}")
    return (math.sqrt(L) - math.sqrt(mu)) / (math.sqrt(L) + math.sqrt(mu))


def _proximal_gradient(D, X, lam, *, max_iter, tol, init, lipschitz, momentum,
                       restart, n_layers, mode, chunk_size, mu=None):
    """Validate, split the signals into chunks, run :func:`_pgm` on each, gather."""
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = _check_lam(lam)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    mode = _choose_mode(D, mode)
    xp = array_namespace(X2)
    n_signals, n_atoms = X2.shape[0], D.shape[1]
    if init is not None:
        init = _check_codes(init, X2, D, "init")
    L, backtracking = _check_lipschitz(lipschitz, D)
    if mu is not None:
        momentum = _strong_momentum(mu, L, backtracking, restart)
    on_numpy = is_numpy(X2)
    if chunk_size is None:
        chunk_size = _default_chunk_size(D, X2, on_numpy)
    else:
        chunk_size = check_scalar(chunk_size, "chunk_size", low=1, integer=True)
    G = D.T @ D if mode == "gram" else None
    compiled = on_numpy and _USE_COMPILED and _compile.have_numba() and not backtracking

    # the results go into arrays allocated once: memory beyond them is bounded by the
    # working arrays of the chunks in flight, whatever the number of signals
    H = xp.empty((n_signals, n_atoms), dtype=X2.dtype, device=_device(X2))
    gap = np.empty(n_signals)

    def solve(start):
        stop = min(start + chunk_size, n_signals)
        Xc = X2[start:stop]
        if compiled:
            problem = _CompiledLasso(xp, D, Xc, G, mode, lam, n_layers,
                                     exact_objective=restart == "function")
        else:
            problem = _Lasso(xp, D, Xc, G, mode, lam, n_layers)
        H0 = None if init is None else init[start:stop]
        Hc, objective, n_iter, converged, cert, Lc = _pgm(
            problem, H0, L=L, backtracking=backtracking, momentum=momentum,
            restart=restart, max_iter=max_iter, tol=tol, first_check=max(1, n_layers))
        H[start:stop] = Hc
        gap[start:stop] = _to_numpy(cert)
        return objective, n_iter, converged, Lc

    # on NumPy arrays, chunks run on all cores, each with one BLAS thread: products
    # and compiled passes of different chunks overlap (see sparsecoding._threads)
    with no_grad(X2):
        starts = range(0, n_signals, chunk_size)
        results = (map_on_cores(solve, starts) if on_numpy
                   else [solve(start) for start in starts])
    return SolverResult(
        codes=H[0] if squeeze else H,
        objective=_sum_histories([r[0] for r in results]),
        n_iter=max(r[1] for r in results),
        converged=all(r[2] for r in results),
        gap=gap[0] if squeeze else gap,
        lipschitz=max(r[3] for r in results),
    )


def _sum_histories(histories):
    """Objective histories of chunks (or signals) summed iteration by iteration, as
    float64; one that stopped early adds its last value to the later iterations."""
    total = np.zeros(max(len(h) for h in histories))
    for hist in histories:
        total[: len(hist)] += hist
        total[len(hist):] += hist[-1]
    return total


def ista(D, X, lam, *, max_iter=1000, tol=1e-6, init=None, lipschitz=None,
         mode="auto", chunk_size=None):
    r"""ISTA, the iterative shrinkage-thresholding algorithm.

    Minimises :math:`\tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1` for every row of ``X``
    with the proximal-gradient step

    .. math::

        h_{k+1} = S_{\lambda/L}\!\left(h_k - \tfrac1L D^\top(D h_k - x)\right),

    which decreases the objective monotonically and converges at the rate
    :math:`F(h_k) - F^\star \le L\|h_0 - h^\star\|^2 / (2k)` :cite:p:`daubechies2004iterative,beck2009fista`. Derived in the chapter *ISTA*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)``, array or tensor
        The dictionary, one atom per column.
    X : ``(n_signals, n_features)`` or ``(n_features,)``
        The signals, one per row.
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    max_iter : int
        Largest number of iterations.
    tol : float
        Stop when every signal's relative duality gap
        :math:`(P(h) - \mathcal D(\theta(h))) / \tfrac12\|x\|^2` is at most ``tol``
        (:mod:`sparsecoding.duality`; with :math:`\lambda = 0`, when
        :math:`\|D^\top r\|_\infty \le` ``tol`` :math:`\cdot\|D^\top x\|_\infty`).
        The gap is computed at the first iteration and then every 10 (in the
        residual mode it costs one product with ``D``); with ``tol=0``, exactly
        ``max_iter`` iterations run.
    init : array, optional
        Starting codes (warm start), shaped like the result; zero by default.
    lipschitz : float or ``"backtracking"``, optional
        :math:`L`; computed by :func:`lipschitz_constant` when not given. With
        ``"backtracking"``, :math:`L` starts at the largest squared atom norm and is
        doubled until the quadratic model bounds the smooth part
        :cite:p:`beck2009fista`.
    mode : ``"auto"``, ``"gram"`` or ``"residual"``
        How gradients are computed (see the chapter *ISTA*); ``"auto"`` uses
        ``"residual"`` when atoms outnumber features more than twice.
    chunk_size : int, optional
        Signals processed together; by default chosen to bound memory.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(3)
    >>> ista(D, np.array([2.0, 0.5, -1.5]), 1.0).codes
    array([ 1. ,  0. , -0.5])
    """
    return _proximal_gradient(
        D, X, lam, max_iter=max_iter, tol=tol, init=init, lipschitz=lipschitz,
        momentum=False, restart=None, n_layers=0, mode=mode, chunk_size=chunk_size,
    )


def fista(D, X, lam, *, max_iter=1000, tol=1e-6, init=None, lipschitz=None,
          restart=None, mu=None, mode="auto", chunk_size=None):
    r"""FISTA, ISTA with Nesterov momentum :cite:p:`beck2009fista`.

    .. math::

        h_{k+1} &= S_{\lambda/L}\!\left(y_k - \tfrac1L D^\top(D y_k - x)\right), \\
        t_{k+1} &= \tfrac12\left(1 + \sqrt{1 + 4t_k^2}\right), \qquad
        y_{k+1} = h_{k+1} + \tfrac{t_k - 1}{t_{k+1}}(h_{k+1} - h_k),

    with :math:`t_1 = 1`, :math:`y_1 = h_0`. The objective converges at the rate
    :math:`O(1/k^2)` but need not decrease at every step; adaptive restart
    :cite:p:`odonoghue2015restart` resets the momentum of a signal when it does harm.
    When the eigenvalues of :math:`D^\top D` lie in :math:`[\mu, L]` with
    :math:`\mu > 0`, the constant momentum

    .. math::

        y_{k+1} = h_{k+1} + \beta (h_{k+1} - h_k), \qquad
        \beta = \frac{\sqrt L - \sqrt\mu}{\sqrt L + \sqrt\mu},

    gives the linear rate :math:`F(h_k) - F^\star \le (1 - \sqrt{\mu/L})^k
    (F(h_0) - F^\star + \tfrac\mu2\|h_0 - h^\star\|^2)`
    :cite:p:`nesterov2004introductory,beck2017first`. Derived in the chapter *FISTA*.

    Parameters
    ----------
    restart : ``None``, ``"function"`` or ``"gradient"``
        ``"function"`` restarts a signal's momentum when its objective increases;
        ``"gradient"`` when the momentum points uphill,
        :math:`(y_k - h_{k+1})^\top(h_{k+1} - h_k) > 0`.
    mu : float, optional
        The strong convexity modulus :math:`\mu`, a lower bound :math:`0 < \mu \le L`
        on the eigenvalues of :math:`D^\top D` (the smallest one for the best rate).
        With it, the momentum is the constant :math:`\beta` above instead of
        :math:`(t_k - 1)/t_{k+1}`; it needs a fixed :math:`L` (not ``"backtracking"``)
        and no ``restart``.

    Notes
    -----
    The other parameters and the result are those of :func:`ista`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> D = rng.standard_normal((20, 30)); D /= np.linalg.norm(D, axis=0)
    >>> X = rng.standard_normal((5, 20))
    >>> res = fista(D, X, 0.1, restart="gradient", tol=1e-8)
    >>> res.converged, res.codes.shape
    (True, (5, 30))
    """
    check_choice(restart, "restart", (None, "function", "gradient"))
    return _proximal_gradient(
        D, X, lam, max_iter=max_iter, tol=tol, init=init, lipschitz=lipschitz,
        momentum=True, restart=restart, n_layers=0, mode=mode, chunk_size=chunk_size,
        mu=mu,
    )


def continuation_ista(D, X, lam, *, n_layers=10, max_iter=1000, tol=1e-6,
                      lipschitz=None, mode="auto", chunk_size=None):
    r"""ISTA with continuation (homotopy) of :math:`\lambda`: a fixed stack of layers.

    Layer :math:`l = 1, \dots, L_{\text{layers}}` applies one ISTA step with the
    threshold of the geometric schedule

    .. math::

        \lambda_l = \lambda_{\max}\left(\frac{\lambda}{\lambda_{\max}}\right)^{l/L_{\text{layers}}},
        \qquad \lambda_{\max} = \|D^\top x\|_\infty ,

    starting from :math:`h_0 = 0`, so that the first layer is
    :math:`S_{\lambda_1/L}(D^\top x / L)` and the last uses the target
    :math:`\lambda`. After the layers, plain ISTA steps with :math:`\lambda` follow
    until the stopping rule of :func:`ista` holds or ``max_iter`` is reached. With
    ``max_iter=n_layers`` it is exactly the fixed network of layers. The objective
    history is measured with the target :math:`\lambda`. Derived in the chapter
    *Homotopy and unrolled networks*.

    Parameters
    ----------
    n_layers : int
        Number of continuation layers (:math:`\ge 1`).

    Notes
    -----
    The other parameters and the result are those of :func:`ista`.

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(3)
    >>> continuation_ista(D, np.array([2.0, 0.5, -1.5]), 1.0, n_layers=5).codes
    array([ 1. ,  0. , -0.5])
    """
    n_layers = check_scalar(n_layers, "n_layers", low=1, integer=True)
    return _proximal_gradient(
        D, X, lam, max_iter=max_iter, tol=tol, init=None, lipschitz=lipschitz,
        momentum=False, restart=None, n_layers=n_layers, mode=mode,
        chunk_size=chunk_size,
    )


def lasso_path(D, X, lams, *, solver="fista", max_iter=2000, tol=1e-6, **kwargs):
    r"""Solve the lasso for a sequence of :math:`\lambda`, warm-starting each from the last.

    The :math:`\lambda` are visited from the largest to the smallest (where solutions
    are sparser and cheaper), each solve starting from the previous codes. Used in the
    chapter *The sparse coding problem* to follow the number of nonzeros along the
    regularisation path.

    Parameters
    ----------
    D, X : as in :func:`ista`
    lams : 1-D sequence of non-negative floats
    solver : ``"fista"`` or ``"ista"``
    max_iter, tol, **kwargs : passed to the solver

    Returns
    -------
    list of SolverResult, in the order of ``lams`` as given.
    """
    lams_arr = np.asarray(_to_numpy(check_array(lams, "lams", ndim=1)), dtype=np.float64)
    if (lams_arr < 0).any():
        raise ValueError("lams must be non-negative")
    check_choice(solver, "solver", ("fista", "ista"))
    run = fista if solver == "fista" else ista
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    L = kwargs.pop("lipschitz", None)
    if L is None:
        L = lipschitz_constant(D) or None  # D = 0: let the solver choose
    results = [None] * len(lams_arr)
    init = None
    for i in np.argsort(-lams_arr, kind="stable"):
        res = run(D, X2, float(lams_arr[i]), max_iter=max_iter, tol=tol, init=init,
                  lipschitz=L, **kwargs)
        init = res.codes
        if squeeze:
            res.codes, res.gap = res.codes[0], res.gap[0]
        results[i] = res
    return results
