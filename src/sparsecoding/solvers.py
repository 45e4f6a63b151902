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

from dataclasses import dataclass, field

import numpy as np

from ._backend import is_tensor, namespace
from ._threads import map_on_cores
from ._validation import (
    check_array,
    check_choice,
    check_dictionary_and_signals,
    check_scalar,
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
        Whether every signal met the stopping rule before ``max_iter``.
    """

    codes: object
    objective: np.ndarray
    n_iter: int
    converged: bool
    extra: dict = field(default_factory=dict, repr=False)


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
    H = check_array(H, "H", ndim=(1, 2), like=X2)
    H2 = H.reshape(1, -1) if H.ndim == 1 else H
    if H2.shape != (X2.shape[0], D.shape[1]):
        raise ValueError(
            f"H must have shape {(X2.shape[0], D.shape[1])} (n_signals, n_atoms) to "
            f"match X and D, got {tuple(H.shape)}"
        )
    lam = _check_lam(lam)
    check_choice(reduction, "reduction", ("sum", "none"))
    xp = namespace(X2)
    R = H2 @ D.T - X2
    values = 0.5 * xp.sum(R * R, axis=1) + lam * xp.sum(xp.abs(H2), axis=1)
    if reduction == "sum":
        return xp.scalar(xp.sum(values))
    return values[0] if squeeze else values


def lambda_max(D, X):
    r"""The smallest :math:`\lambda` whose lasso solution is zero: :math:`\|D^\top x\|_\infty`.

    For :math:`\lambda \ge \lambda_{\max}` the code :math:`h = 0` satisfies the
    optimality condition :math:`D^\top x \in \lambda\,\partial\|0\|_1`. Returns one
    value per signal (a float for a single signal).
    """
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    xp = namespace(X2)
    values = xp.amax(xp.abs(X2 @ D), axis=1)
    return xp.scalar(values[0]) if squeeze else values


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
    D = check_array(D, "D", ndim=2)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    xp = namespace(D)
    smaller = min(D.shape)
    # Iterate on the smaller of D^T D and D D^T: they share their largest eigenvalue.
    M = D if D.shape[1] == smaller else D.T
    v = xp.random_normal((smaller,), like=D, seed=seed)
    v = v / xp.sqrt(xp.sum(v * v))
    estimate = 0.0
    for _ in range(max_iter):
        w = M.T @ (M @ v)
        new = xp.scalar(xp.sum(v * w))
        norm = xp.scalar(xp.sqrt(xp.sum(w * w)))
        if norm == 0.0:
            return 0.0
        v = w / norm
        if abs(new - estimate) <= tol * abs(new):
            estimate = new
            break
        estimate = new
    # The Rayleigh quotient approaches L from below; the last normalised product is a
    # slightly closer estimate.
    return max(estimate, norm)


def ridge(D, X, lam):
    r"""Ridge regression, in closed form: :math:`h = (D^\top D + \lambda I)^{-1} D^\top x`.

    The minimiser of :math:`\tfrac12\|x - Dh\|_2^2 + \tfrac{\lambda}{2}\|h\|_2^2`,
    the linear counterpart of the lasso (chapter *The sparse coding problem*).

    Parameters
    ----------
    D : ``(n_features, n_atoms)``
    X : ``(n_signals, n_features)`` or ``(n_features,)``
    lam : float, :math:`\lambda \ge 0` (with :math:`\lambda = 0`, ``D`` must have full
        column rank)

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
    xp = namespace(X2)
    A = D.T @ D + lam * xp.eye(D.shape[1], like=D)
    try:
        H = xp.solve(A, D.T @ X2.T).T
    except Exception as exc:  # LinAlgError (NumPy) or RuntimeError (torch)
        raise ValueError(
            "D.T @ D + lam * I is singular: use lam > 0 or a dictionary whose columns "
            f"are linearly independent ({exc})"
        ) from None
    return H[0] if squeeze else H


# --------------------------------------------------------------------------------------
# The proximal-gradient engine shared by ISTA, FISTA and continuation ISTA.
# --------------------------------------------------------------------------------------


class _Problem:
    """One chunk of signals, with the affine map needed for gradients and objectives.

    Two equivalent routes compute the gradient :math:`D^\\top(Dh - x)`:

    * ``"gram"``: keep :math:`A(h) = G h` with :math:`G = D^\\top D` and
      :math:`b = D^\\top x` precomputed; gradient :math:`A - b`; one product with an
      ``n_atoms``-square matrix per iteration.
    * ``"residual"``: keep :math:`A(h) = Dh - x`; gradient :math:`D^\\top A`; two
      products with ``D`` per iteration, cheaper when atoms outnumber features more
      than twice.

    :math:`A` is affine in :math:`h`, so the extrapolated point of FISTA gets its
    :math:`A` by the same extrapolation, without another product.
    """

    def __init__(self, xp, D, X, G, mode):
        self.xp, self.D, self.X, self.G, self.mode = xp, D, X, G, mode
        self.B = X @ D  # rows are D^T x
        self.half_xx = 0.5 * xp.sum(X * X, axis=1)

    def image(self, H):
        if self.mode == "gram":
            return H @ self.G
        return H @ self.D.T - self.X

    def grad(self, A):
        if self.mode == "gram":
            return A - self.B
        return A @ self.D

    def objective(self, H, A, lam):
        """Per-signal objective from the codes and their image."""
        xp = self.xp
        l1 = xp.sum(xp.abs(H), axis=1)
        if self.mode == "gram":
            smooth = self.half_xx + xp.sum(H * (0.5 * A - self.B), axis=1)
        else:
            smooth = 0.5 * xp.sum(A * A, axis=1)
        return smooth + lam * l1


def _check_init(init, X2, n_atoms):
    """Initial codes: an array like ``X2`` of shape ``(n_signals, n_atoms)`` (a 1-D
    ``init`` is one signal's code)."""
    init = check_array(init, "init", ndim=(1, 2), like=X2)
    init = init.reshape(1, -1) if init.ndim == 1 else init
    if tuple(init.shape) != (X2.shape[0], n_atoms):
        raise ValueError(
            f"init must have shape {(X2.shape[0], n_atoms)} (n_signals, n_atoms), "
            f"got {tuple(init.shape)}"
        )
    return init


def _default_chunk_size(D, X):
    """Signals per chunk: bounded memory; on NumPy arrays, also cache-sized."""
    n_features, n_atoms = D.shape[0], D.shape[1]
    per_signal = 8 * (n_atoms + n_features) * X.dtype.itemsize
    chunk = max(1, _CHUNK_BYTES // per_signal)
    if not is_tensor(X):
        chunk = min(chunk, max(64, _CPU_CHUNK_BYTES // (n_atoms * X.dtype.itemsize)))
    return chunk


def _choose_mode(D, mode):
    check_choice(mode, "mode", ("auto", "gram", "residual"))
    if mode == "auto":
        return "residual" if D.shape[1] > 2 * D.shape[0] else "gram"
    return mode


def _proximal_gradient(D, X, lam, *, max_iter, tol, init, lipschitz, momentum,
                       restart, n_layers, mode, chunk_size, name):
    """Validate, split into chunks, run :func:`_run_chunk` on each, gather."""
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    lam = _check_lam(lam)
    max_iter = check_scalar(max_iter, "max_iter", low=0, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    mode = _choose_mode(D, mode)
    xp = namespace(X2)
    n_signals, n_atoms = X2.shape[0], D.shape[1]
    if init is not None:
        init = _check_init(init, X2, n_atoms)
    if lipschitz is None:
        L = lipschitz_constant(D)
    else:
        L = check_scalar(lipschitz, "lipschitz", low=0.0, low_inclusive=False)
    if L == 0.0:  # D is zero: every code is optimal for any lam; zero is the sparsest
        L = 1.0
    if chunk_size is None:
        chunk_size = _default_chunk_size(D, X2)
    else:
        chunk_size = check_scalar(chunk_size, "chunk_size", low=1, integer=True)
    G = D.T @ D if mode == "gram" else None

    run_chunk = _run_chunk if is_tensor(X2) else _run_chunk_numpy

    def solve(start):
        stop = min(start + chunk_size, n_signals)
        problem = _Problem(xp, D, X2[start:stop], G, mode)
        H0 = None if init is None else init[start:stop]
        return run_chunk(
            problem, lam, L=L, max_iter=max_iter, tol=tol, H0=H0, momentum=momentum,
            restart=restart, n_layers=n_layers,
        )

    # on NumPy arrays, chunks run on all cores, each with one BLAS thread: products
    # and compiled passes of different chunks overlap (see sparsecoding._threads)
    starts = range(0, n_signals, chunk_size)
    results = (map_on_cores(solve, starts) if not is_tensor(X2)
               else [solve(start) for start in starts])
    codes, histories, iters, converged = [], [], [], True
    for H, hist, n_iter, ok in results:
        codes.append(H)
        histories.append(hist)
        iters.append(n_iter)
        converged &= ok
    n_iter = max(iters)
    total = np.zeros(n_iter + 1)
    for hist in histories:  # a chunk that stopped early keeps its last value
        total[: len(hist)] += hist
        total[len(hist):] += hist[-1]
    H = codes[0] if len(codes) == 1 else xp.concat(codes, axis=0)
    return SolverResult(
        codes=H[0] if squeeze else H,
        objective=total,
        n_iter=n_iter,
        converged=converged,
        extra={"lipschitz": L, "mode": mode, "solver": name},
    )


def _run_chunk(problem, lam, *, L, max_iter, tol, H0, momentum, restart, n_layers):
    """The proximal-gradient iteration on one chunk.

    Stopping rule: the scaled proximal-gradient step :math:`L\\|y - h^+\\|_\\infty`
    (zero exactly at a solution) is at most ``tol`` times
    :math:`\\lambda_{\\max} = \\|D^\\top x\\|_\\infty`, for every signal.
    """
    xp = problem.xp
    X = problem.X
    n, n_atoms = X.shape[0], problem.D.shape[1]
    H = xp.zeros((n, n_atoms), like=X) if H0 is None else xp.copy(H0)
    A = problem.image(H)
    F = problem.objective(H, A, lam)
    history = [xp.sum(F)]
    lam_max = xp.amax(xp.abs(problem.B), axis=1)  # (n,)
    threshold_tol = tol * lam_max
    if n_layers:  # geometric schedule lam_l = lam_max (lam / lam_max)^(l / n_layers)
        safe = xp.where(lam_max > lam, lam_max, xp.full_like_scalar(1.0, lam_max))
        ratio = xp.where(lam_max > lam, lam / safe, xp.full_like_scalar(1.0, lam_max))
    Y, AY = H, A
    t = 1.0
    if momentum and restart:
        t = xp.ones((n, 1), like=X)
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        if n_layers and k <= n_layers:
            lam_k = xp.where(lam_max > lam, lam_max * ratio ** (k / n_layers),
                             xp.full_like_scalar(lam, lam_max))[:, None]
        else:
            lam_k = lam
        V = Y - problem.grad(AY) / L
        thr = lam_k / L
        H_new = V - xp.clip(V, -thr, thr)  # soft thresholding
        A_new = problem.image(H_new)
        F_new = problem.objective(H_new, A_new, lam)
        history.append(xp.sum(F_new))
        step = xp.amax(xp.abs(H_new - Y), axis=1) * L
        done = not (n_layers and k < n_layers) and bool(xp.amax(step - threshold_tol) <= 0)
        if momentum:
            if restart:
                t_new = (1 + xp.sqrt(1 + 4 * t * t)) / 2
                beta = (t - 1) / t_new
                if restart == "function":
                    bad = (F_new > F)[:, None]
                else:  # gradient scheme: momentum points uphill
                    bad = xp.sum((Y - H_new) * (H_new - H), axis=1, keepdims=True) > 0
                beta = xp.where(bad, 0 * beta, beta)
                t = xp.where(bad, 1 + 0 * t_new, t_new)
            else:
                t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
                beta = (t - 1) / t_new
                t = t_new
            Y = H_new + beta * (H_new - H)
            AY = A_new + beta * (A_new - A)
        else:
            Y, AY = H_new, A_new
        H, A, F = H_new, A_new, F_new
        if done:
            converged = True
            break
    hist = np.array([xp.scalar(v) for v in history], dtype=np.float64) \
        if not is_tensor(X) else xp.to_numpy(xp.torch.stack(history)).astype(np.float64)
    return H, hist, k, converged


def _run_chunk_numpy(problem, lam, *, L, max_iter, tol, H0, momentum, restart, n_layers):
    """:func:`_run_chunk` for NumPy arrays, the same iteration written for speed.

    The same operations in the same precision, but: every array of the chunk's size is
    allocated once; everything elementwise runs in compiled passes over the codes
    (``sparsecoding._fused``) instead of a dozen NumPy passes; the image of the new
    codes is computed from their nonzero entries when they are sparse enough (the
    product with the most flops skips the zeros); and sums are added in another order.
    The iterates therefore agree with the generic loop to rounding, not bit for bit
    (except with the function restart, whose decisions depend on rounding-level
    differences of the objective: there the images are BLAS's and the objective is
    computed as in the generic loop).
    """
    from . import _fused

    X, D, B, mode = problem.X, problem.D, problem.B, problem.mode
    n, n_atoms = X.shape[0], D.shape[1]
    dt = X.dtype
    gram = mode == "gram"
    M = problem.G if gram else D.T         # image: H @ G, or H @ D.T - X
    M_rows = np.ascontiguousarray(M, dtype=dt)  # for the sparse product
    # the function restart compares objectives at rounding level: images as the
    # generic loop computes them (dense), so that its decisions are the same
    sparse_limit = -1 if restart == "function" else _SPARSE_IMAGE_DENSITY * n * n_atoms
    H = (np.zeros((n, n_atoms), dtype=dt) if H0 is None
         else np.array(H0, dtype=dt, copy=True, order="C"))
    Hn, V = np.empty_like(H), np.empty_like(H)
    A = problem.image(H)
    A = np.ascontiguousarray(A, dtype=dt)
    An = np.empty_like(A)
    Bc = np.ascontiguousarray(B, dtype=dt)
    half_xx = np.ascontiguousarray(problem.half_xx, dtype=np.float64)
    dot, l1, smooth = np.empty(n), np.empty(n), np.empty(n)
    Ld = dt.type(L)
    F = problem.objective(H, A, lam)
    history = [float(np.sum(F))]
    lam_max = np.max(np.abs(B), axis=1)
    threshold_tol = tol * lam_max
    thr = np.full(n, lam / L, dtype=dt)
    if n_layers:
        safe = np.where(lam_max > lam, lam_max, np.asarray(1.0, dtype=dt))
        ratio = np.where(lam_max > lam, lam / safe, np.asarray(1.0, dtype=dt))
    if momentum:
        Y, AY = H.copy(), A.copy()
    else:
        Y, AY = H, A
    t = 1.0
    if momentum and restart:
        t = np.ones(n, dtype=dt)
    one_four_two = np.array([1, 4, 2], dtype=dt)
    beta_rows = np.empty(n, dtype=dt)
    # the momentum step in the passes when beta is known by then: 1 (no restart),
    # 2 (gradient restart, decided row by row); else after the objective (function)
    fused = 0
    if momentum and restart != "function":
        fused = 2 if restart else 1
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        if n_layers and k <= n_layers:
            lam_k = np.where(lam_max > lam, lam_max * ratio ** (k / n_layers),
                             np.asarray(lam, dtype=dt))
            thr[:] = lam_k / L
        elif n_layers and k == n_layers + 1:
            thr.fill(lam / L)
        if gram:  # the gradient is AY - B, subtracted in the pass
            grad = AY
        else:
            grad = np.matmul(AY, D, out=V)
        if fused == 1:
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            beta_rows.fill((t - 1) / t_new)
            t = t_new
        n_far, n_nonzero, l1_sum = _fused.prox_pass(
            grad, Bc, gram, Y, H, Ld, thr, threshold_tol, Hn, dot, l1, fused, beta_rows,
            t if fused == 2 else one_four_two, one_four_two)
        if n_nonzero <= sparse_limit:
            _fused.sparse_image(Hn, M_rows, An)
        else:
            np.matmul(Hn, M, out=An)
        smooth_sum = _fused.smooth_pass(An, X, Hn, Bc, half_xx, gram, smooth, fused, A,
                                        beta_rows, AY)
        if momentum and restart == "function":
            # the restart compares objectives that differ by rounding near the
            # solution: computed as the generic loop does, so the decisions agree
            F_new = problem.objective(Hn, An, lam)
            history.append(float(np.sum(F_new)))
        else:
            history.append(smooth_sum + lam * l1_sum)
        # stop when every L|h+ - y| is at most tol lam_max
        done = not (n_layers and k < n_layers) and n_far == 0
        if momentum:
            if restart == "function":
                t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
                beta = (t - 1) / t_new
                bad = F_new > F
                beta_rows[:] = np.where(bad, 0 * beta, beta)
                t = np.where(bad, 1 + 0 * t_new, t_new)
                _fused.momentum_pass(Hn, H, An, A, beta_rows, Y, AY)
                F = F_new
            H, Hn = Hn, H
            A, An = An, A
        else:
            H, Hn = Hn, H
            A, An = An, A
            Y, AY = H, A
        if done:
            converged = True
            break
    return H, np.array(history, dtype=np.float64), k, converged


def ista(D, X, lam, *, max_iter=1000, tol=1e-6, init=None, lipschitz=None,
         mode="auto", chunk_size=None):
    r"""ISTA, the iterative shrinkage-thresholding algorithm.

    Minimises :math:`\tfrac12\|x - Dh\|_2^2 + \lambda\|h\|_1` for every row of ``X``
    with the proximal-gradient step

    .. math::

        h_{k+1} = S_{\lambda/L}\!\left(h_k - \tfrac1L D^\top(D h_k - x)\right),

    which decreases the objective monotonically and converges at the rate
    :math:`F(h_k) - F^\star \le L\|h_0 - h^\star\|^2 / (2k)` (Daubechies, Defrise and
    De Mol, 2004; Beck and Teboulle, 2009). Derived in the chapter *ISTA*.

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
        Stop when, for every signal, :math:`L\|h_{k+1} - h_k\|_\infty \le`
        ``tol`` :math:`\cdot\|D^\top x\|_\infty`.
    init : array, optional
        Starting codes (warm start), shaped like the result; zero by default.
    lipschitz : float, optional
        :math:`L`; computed by :func:`lipschitz_constant` when not given.
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
        name="ista",
    )


def fista(D, X, lam, *, max_iter=1000, tol=1e-6, init=None, lipschitz=None,
          restart=None, mode="auto", chunk_size=None):
    r"""FISTA, ISTA with Nesterov momentum (Beck and Teboulle, 2009).

    .. math::

        h_{k+1} &= S_{\lambda/L}\!\left(y_k - \tfrac1L D^\top(D y_k - x)\right), \\
        t_{k+1} &= \tfrac12\left(1 + \sqrt{1 + 4t_k^2}\right), \qquad
        y_{k+1} = h_{k+1} + \tfrac{t_k - 1}{t_{k+1}}(h_{k+1} - h_k),

    with :math:`t_1 = 1`, :math:`y_1 = h_0`. The objective converges at the rate
    :math:`O(1/k^2)` but need not decrease at every step; adaptive restart
    (O'Donoghue and Candès, 2015) resets the momentum of a signal when it does harm.
    Derived in the chapter *FISTA*.

    Parameters
    ----------
    restart : ``None``, ``"function"`` or ``"gradient"``
        ``"function"`` restarts a signal's momentum when its objective increases;
        ``"gradient"`` when the momentum points uphill,
        :math:`(y_k - h_{k+1})^\top(h_{k+1} - h_k) > 0`.

    Notes
    -----
    The other parameters and the result are those of :func:`ista`; the stopping rule
    measures :math:`L\|h_{k+1} - y_k\|_\infty`.

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
        name="fista",
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
        chunk_size=chunk_size, name="continuation_ista",
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
    lams_arr = check_array(np.asarray(lams, dtype=np.float64), "lams", ndim=1)
    if (lams_arr < 0).any():
        raise ValueError("lams must be non-negative")
    check_choice(solver, "solver", ("fista", "ista"))
    run = fista if solver == "fista" else ista
    D, X2, squeeze = check_dictionary_and_signals(D, X)
    L = kwargs.pop("lipschitz", None) or lipschitz_constant(D)
    results = [None] * len(lams_arr)
    init = None
    for i in np.argsort(-lams_arr, kind="stable"):
        res = run(D, X2, float(lams_arr[i]), max_iter=max_iter, tol=tol, init=init,
                  lipschitz=L, **kwargs)
        init = res.codes
        if squeeze:
            res.codes = res.codes[0]
        results[i] = res
    return results
