r"""Dictionary learning: the sparse codes and the dictionary, learned together.

Given signals :math:`x_1, \dots, x_N` (the rows of ``X``), dictionary learning solves

.. math::

    \min_{D \in \mathcal{C}} \; \frac1N \sum_{i=1}^N \min_{h_i}
    \tfrac12\|x_i - D h_i\|_2^2 + \lambda\|h_i\|_1 ,
    \qquad \mathcal{C} = \{D : \|d_j\|_2 \le 1 \text{ for every column } j\},

which is convex in the codes for a fixed :math:`D` and convex in :math:`D` for fixed
codes, but not jointly. The norm constraint stops :math:`D` from growing while the
codes shrink (which would drive the penalty to zero without making anything sparse).
The chapter *Dictionary learning on natural images* derives the algorithm.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from array_api_compat import array_namespace, device as _device

from ._arrays import is_numpy, is_torch, synchronize, to_numpy
from ._threads import kernels_own_the_cores
from ._validation import (check_array, check_choice, check_epochs_or_steps, check_scalar,
                          check_squarable)
from ._homotopy import homotopy
from .solvers import _lasso_values, _power_steps, fista

__all__ = ["DictionaryResult", "normalize_columns", "learn_dictionary", "denoise_image"]


def normalize_columns(D, max_norm=1.0):
    r"""Project every column of ``D`` onto the ball :math:`\|d_j\|_2 \le` ``max_norm``.

    The Euclidean projection onto the constraint set of dictionary learning,
    :math:`d_j \mapsto d_j / \max(1, \|d_j\|_2 / C)`: columns inside the ball are
    unchanged, longer ones are rescaled to norm :math:`C`, zero columns stay zero.
    Explained in the chapter *Dictionary learning on natural images*.

    Parameters
    ----------
    D : ``(n_features, n_atoms)`` array or tensor
    max_norm : float
        The radius :math:`C > 0`.

    Returns
    -------
    array or tensor of the kind, device and dtype of ``D``

    Examples
    --------
    >>> import numpy as np
    >>> normalize_columns(np.array([[3.0, 0.3, 0.0], [4.0, 0.4, 0.0]]))
    array([[0.6, 0.3, 0. ],
           [0.8, 0.4, 0. ]])
    """
    D = check_array(D, "D", ndim=2)
    max_norm = check_scalar(max_norm, "max_norm", low=0.0, low_inclusive=False)
    xp = array_namespace(D)
    # Scale before squaring: with s_j the power of two at or below max_i |d_ij|, the
    # squares of d_j / s_j neither overflow nor underflow, and (s_j a power of two)
    # ||d_j|| = s_j ||d_j / s_j|| exactly, the same number as the unscaled formula
    # wherever that one does not overflow.
    peak = xp.max(xp.abs(D), axis=0, keepdims=True)
    one = xp.ones_like(peak)
    s = xp.where(peak > 0, 2.0 ** xp.floor(xp.log2(xp.where(peak > 0, peak, one))), one)
    U = D / s
    q = xp.sqrt(xp.sum(U * U, axis=0, keepdims=True))
    q = xp.where(q > 0, q, xp.ones_like(q))
    ratio = q * (s / max_norm)  # ||d_j|| / max_norm (inf when it overflows)
    inside = xp.clip(ratio, min=1.0)
    return xp.where(xp.isfinite(ratio), D / inside, U * (max_norm / q))


@dataclass
class DictionaryResult:
    """What :func:`learn_dictionary` returns.

    Attributes
    ----------
    D : array or tensor
        ``(n_features, n_atoms)``, each column of norm at most 1; NumPy when ``X`` was
        a NumPy array, else a tensor on the device of the computation.
    objective : numpy.ndarray
        ``objective[e]``: the mean objective
        :math:`\\tfrac12\\|x - Dh\\|^2 + \\lambda\\|h\\|_1` over the signals of epoch
        ``e`` (over those coded, in an epoch cut short by ``steps``), each measured
        with the codes and the dictionary of its mini-batch (the online estimate that
        the algorithm drives down).
    time : float
        Wall-clock seconds of the learning.
    codes : array or tensor
        ``(n_signals, n_atoms)``: the last codes of every signal (from the last epoch).
    A, B : array or tensor
        The accumulated statistics, with forgetting: ``A`` ``(n_atoms, n_atoms)``
        from :math:`H^\\top H` and ``B`` ``(n_features, n_atoms)`` from
        :math:`X^\\top H`.
    n_resampled : int
        Unused atoms replaced by signals.
    n_restarts : int
        Mini-batches coded again after the tracked Lipschitz constant proved too small.
    device : str
        Where the learning ran.
    extra : dict
        The five fields above by name, for code written before.
    """

    D: object
    objective: np.ndarray
    time: float
    codes: object
    A: object = field(default=None, repr=False)
    B: object = field(default=None, repr=False)
    n_resampled: int = 0
    n_restarts: int = 0
    device: str = "cpu"
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for name in ("A", "B", "n_resampled", "n_restarts", "device"):
            self.extra.setdefault(name, getattr(self, name))


def _unit_columns(D, rng):
    """Scale every column to unit norm; a zero column becomes a random unit vector."""
    norms = np.linalg.norm(D, axis=0)
    zero = norms < 1e-12
    if zero.any():
        D[:, zero] = rng.standard_normal((D.shape[0], int(zero.sum())))
        norms = np.linalg.norm(D, axis=0)
    return D / norms


def _top_singular_squared(D, v, n_iter):
    """Warm-started power iteration on D^T D: returns (estimate of ||D||_2^2, vector),
    the estimate the Rayleigh quotient at the last vector."""
    xp = array_namespace(D)
    _, v = _power_steps(D, v, n_iter, 0.0)
    Dv = D @ v
    return float(xp.sum(Dv * Dv)), v


def learn_dictionary(X, n_atoms, lam, *, epochs=None, steps=None, batch_size=256, seed=0,
                     init="data", device=None, progress=True, code_max_iter=200,
                     code_tol=1e-3, dict_passes=1, D_init=None, coder="auto",
                     forgetting=5.0):
    r"""Online mini-batch dictionary learning :cite:p:`mairal2010online`.

    Minimises :math:`\frac1N\sum_i \tfrac12\|x_i - Dh_i\|^2 + \lambda\|h_i\|_1` subject
    to :math:`\|d_j\|_2 \le 1`, alternating over mini-batches of signals:

    1. **codes** for the batch with :math:`D` fixed: the lasso, solved exactly by
       :func:`~sparsecoding.homotopy` (compiled, on the CPU), or by
       :func:`~sparsecoding.fista` warm-started from the codes the same signals got in
       the previous epoch, with the Lipschitz constant :math:`\|D\|_2^2` tracked by a
       warm-started power iteration (and recomputed in full, the batch coded again,
       if the objective of a batch increases);
    2. **statistics**, with forgetting of old batches:
       :math:`A \leftarrow \beta_t A + \frac1b H^\top H`,
       :math:`B \leftarrow \beta_t B + \frac1b X_b^\top H` (:math:`b` signals per
       batch; :math:`\beta_t` the mini-batch schedule of :cite:t:`mairal2010online`, section 3.4,
       counted as SPAMS counts it, raised to the power ``forgetting``);
    3. **dictionary** with the codes fixed: block-coordinate descent on the
       surrogate :math:`\tfrac12\operatorname{tr}(D^\top D A) - \operatorname{tr}(D^\top B)`,
       one column at a time,

       .. math::

           d_j \leftarrow \Pi\!\left(d_j + \frac{b_j - D a_j}{A_{jj}}\right), \qquad
           \Pi(u) = u / \max(1, \|u\|_2),

       where an atom no batch uses (:math:`A_{jj} \approx 0`) is replaced by a signal.
       On NumPy arrays the sweep is compiled (``sparsecoding._bcd``), and BLAS runs
       on one thread during the learning while the homotopy uses the cores.

    The same code runs on NumPy arrays and on torch tensors (CPU or CUDA): pass a
    tensor, or ``device="cuda"``. By default NumPy arrays are coded by the homotopy
    and tensors by FISTA, which keeps a GPU busy where the homotopy's sequential walk
    cannot. Explained in the chapter *Dictionary learning on
    natural images*.

    Parameters
    ----------
    X : ``(n_signals, n_features)`` array or tensor
        The training signals, one per row.
    n_atoms : int
        Number of atoms (columns of ``D``).
    lam : float
        The sparsity weight :math:`\lambda \ge 0`.
    epochs : int, optional
        Passes over the data (10 when neither ``epochs`` nor ``steps`` is given).
    steps : int, optional
        Number of mini-batches, instead of ``epochs`` (as in
        :func:`sparsecoding.training.fit`): the first ``steps`` batches of the
        epoch-by-epoch order, so ``steps = k * ceil(n_signals / batch_size)`` learns
        exactly as ``epochs = k``, and a smaller number stops inside an epoch.
    batch_size : int
        Signals per mini-batch.
    seed : int
        Seed of the initial dictionary and of the order of the signals.
    init : ``"data"`` or ``"random"``
        Initial atoms: randomly chosen signals, or Gaussian vectors; scaled to unit
        norm. Ignored when ``D_init`` is given. Signals are the default, chosen by
        measurement on natural-image patches (the appendix page *Benchmarks*,
        ``benchmarks/dictionary_spams.py``): after one epoch on 8x8 and 16x16 patches
        the dictionary started from patches has a clearly lower objective than the one
        started from Gaussian atoms (``test_data_init_wins_on_natural_image_patches``
        in ``tests/test_dictionary.py``). On synthetic signals that are sums of a few
        planted atoms, signals start the learning among mixtures of atoms: with
        SPAMS's slow forgetting (``forgetting=1``) Gaussian atoms recover the planted
        ones far more often, with the default forgetting both starts recover them
        (``test_random_init_recovers_planted_atoms_where_data_init_does_not``).
    device : str or torch.device, optional
        Compute with torch on this device. By default torch on the tensor's device when
        ``X`` is a tensor, else NumPy.
    progress : bool
        Show a progress bar (tqdm) over the mini-batches.
    code_max_iter, code_tol : int, float
        ``max_iter`` and ``tol`` of the FISTA solves of the codes.
    dict_passes : int
        Sweeps of block-coordinate descent over the columns per mini-batch.
    D_init : ``(n_features, n_atoms)`` array, optional
        The initial dictionary (projected onto the constraint set).
    coder : ``"auto"``, ``"homotopy"`` or ``"fista"``
        How the codes of a batch are computed: exactly, by the homotopy path (on the
        CPU, in float64, whatever the device), or by warm-started FISTA (on the device
        of ``X``). ``"auto"``: the homotopy for NumPy input, FISTA for tensors.

    forgetting : float
        The power :math:`\rho \ge 0` of the forgetting factor: with :math:`t` batches
        seen, :math:`\theta = tb` for :math:`t < b`, else :math:`b^2 + t - b`, capped
        at twice the number of signals, and
        :math:`\beta_t = ((\theta + 1 - b)/(\theta + 1))^\rho`, so that in the first
        epochs batch :math:`s` weighs about :math:`s^\rho` in the statistics.
        :math:`\rho = 1` is SPAMS's ``trainDL``; larger powers forget faster the
        batches coded with the early, poor dictionaries, and the dictionary moves
        faster. The default, 5, was chosen by measurement (``benchmarks/dictionary_spams.py``):
        on standardised natural-image patches, lam = 0.1, after one epoch the mean
        objective was 5 % lower than with :math:`\rho = 1` on 8x8 patches with 128
        atoms (1.62 against 1.71) and 3 % lower on 16x16 patches with 256 atoms (7.82
        against 8.06), and the objective on held-out whitened 8x8 patches after 8
        epochs (64 atoms, lam = 2, the setting of the chapter) was the same (21.13
        against 21.16); powers of 10 and 20 were worse there.

    Returns
    -------
    DictionaryResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 16))
    >>> res = learn_dictionary(X, 8, 0.5, epochs=3, batch_size=50, progress=False)
    >>> res.D.shape, bool(np.all(np.linalg.norm(res.D, axis=0) <= 1 + 1e-12))
    ((16, 8), True)
    >>> bool(res.objective[-1] < res.objective[0])
    True
    """
    numpy_in = not is_torch(X)
    X = check_squarable(check_array(X, "X", ndim=2), "X")
    n_atoms = check_scalar(n_atoms, "n_atoms", low=1, integer=True)
    lam = check_scalar(lam, "lam", low=0.0)
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    n_batches = -(-X.shape[0] // batch_size)
    epochs, steps = check_epochs_or_steps(epochs, steps, X.shape[0], batch_size,
                                          default_epochs=10)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    check_choice(init, "init", ("data", "random"))
    code_max_iter = check_scalar(code_max_iter, "code_max_iter", low=1, integer=True)
    code_tol = check_scalar(code_tol, "code_tol", low=0.0)
    dict_passes = check_scalar(dict_passes, "dict_passes", low=1, integer=True)
    check_choice(coder, "coder", ("auto", "homotopy", "fista"))
    forgetting = check_scalar(forgetting, "forgetting", low=0.0)
    n_signals, n_features = X.shape
    rng = np.random.default_rng(seed)

    if D_init is not None:
        D_init = to_numpy(D_init)
        D0 = np.array(check_array(D_init, "D_init", ndim=2), dtype=np.float64)
        if D0.shape != (n_features, n_atoms):
            raise ValueError(
                f"D_init must have shape {(n_features, n_atoms)} (n_features, n_atoms), "
                f"got {D0.shape}"
            )
        D0 = np.asarray(normalize_columns(D0))
    elif init == "data":
        rows = rng.choice(n_signals, size=n_atoms, replace=n_atoms > n_signals)
        X_np = to_numpy(X)
        D0 = _unit_columns(np.array(X_np[rows].T, dtype=np.float64), rng)
    else:
        D0 = _unit_columns(rng.standard_normal((n_features, n_atoms)), rng)

    if device is not None or is_torch(X):
        import torch

        dev = torch.device(device) if device is not None else X.device
        X = torch.as_tensor(X, device=dev)
        if X.dtype not in (torch.float32, torch.float64):
            X = X.to(torch.get_default_dtype())
    else:
        dev = "cpu"
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
    xp = array_namespace(X)
    on_numpy = is_numpy(X)
    if coder == "auto":
        coder = "homotopy" if on_numpy else "fista"

    def to_x(a):  # a NumPy array to the kind, device and dtype of X
        return xp.asarray(a, dtype=X.dtype, device=_device(X))

    def zeros(shape):
        return xp.zeros(shape, dtype=X.dtype, device=_device(X))

    D = to_x(D0)
    if on_numpy:
        D = np.ascontiguousarray(D)  # updated in place, a column at a time
    H_all = zeros((n_signals, n_atoms))
    A = zeros((n_atoms, n_atoms))
    B = zeros((n_features, n_atoms))
    v = to_x(rng.standard_normal((n_atoms, 1)))
    L, v = _top_singular_squared(D, v, 30)
    objective, step, n_resampled, n_restarts = [], 0, 0, 0

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="dictionary learning", unit="batch")
    synchronize(X)
    start = time.perf_counter()
    # NumPy: BLAS on one thread, the compiled kernels on the cores (sparsecoding._threads)
    own_cores = kernels_own_the_cores() if on_numpy else nullcontext()
    with own_cores:
        for epoch in range(epochs):
            order = rng.permutation(n_signals)
            total, seen = 0.0, 0
            for b in range(min(n_batches, steps - epoch * n_batches)):
                idx_np = order[b * batch_size:(b + 1) * batch_size]
                idx = idx_np if on_numpy else xp.asarray(idx_np, device=_device(X))
                Xb = X[idx]
                nb = Xb.shape[0]
                seen += nb
                # 1. codes: exact, or warm-started FISTA with a safe margin on the tracked
                #    Lipschitz constant
                if coder == "homotopy":
                    # the Gram matrix of this dictionary, by BLAS (on one thread here)
                    res = homotopy(D, Xb, lam, gram=D.T @ D if on_numpy else None)
                else:
                    res = fista(D, Xb, lam, init=H_all[idx], lipschitz=1.05 * L,
                                max_iter=code_max_iter, tol=code_tol)
                if coder == "fista" and not res.objective[-1] <= res.objective[0]:
                    # the tracked L was too small (the top singular vector moved): FISTA
                    # diverged; recompute L by a full power iteration and solve again
                    L, v = _top_singular_squared(D, v + to_x(rng.standard_normal(v.shape)),
                                                 200)
                    n_restarts += 1
                    res = fista(D, Xb, lam, init=H_all[idx], lipschitz=1.05 * L,
                                max_iter=code_max_iter, tol=code_tol)
                Hb = res.codes
                H_all[idx] = Hb
                total += float(xp.sum(_lasso_values(xp, D, Xb, Hb, lam)))
                # 2. statistics with forgetting :cite:p:`mairal2010online`, section 3.4
                beta = _forget_factor(step, batch_size, n_signals, forgetting)
                A = beta * A + (Hb.T @ Hb) / nb
                B = beta * B + (Xb.T @ Hb) / nb
                step += 1
                # 3. block-coordinate descent on the columns, each projected on the ball
                for _ in range(dict_passes):
                    n_resampled += _sweep_columns(D, A, B, Xb, rng, to_x)
                if coder == "fista":
                    L, v = _top_singular_squared(D, v, 5)
                if bar is not None:
                    bar.update(1)
            objective.append(total / seen)
            if bar is not None:
                bar.set_postfix(objective=f"{objective[-1]:.4g}")
    synchronize(X)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()
    if numpy_in and not on_numpy:
        D, H_all = to_numpy(D), to_numpy(H_all)
    return DictionaryResult(
        D=D, objective=np.array(objective, dtype=np.float64), time=elapsed, codes=H_all,
        A=A, B=B, n_resampled=n_resampled, n_restarts=n_restarts, device=str(dev),
    )


def _forget_factor(step, batch_size, n_signals, power):
    """The factor applied to the statistics before mini-batch ``step`` (0, 1, ...) adds
    its own.

    The schedule of :cite:t:`mairal2010online` (section 3.4), counted from the first batch as
    SPAMS counts it: with :math:`\\eta` signals per batch, :math:`\\theta = t\\eta` for
    :math:`t < \\eta`, else :math:`\\eta^2 + t - \\eta`, capped at twice the number of
    signals, and :math:`\\beta = ((\\theta + 1 - \\eta)/(\\theta + 1))^\\rho`. With
    :math:`\\rho = 1` batch :math:`s` weighs about :math:`s` in the statistics of batch
    :math:`t`; larger powers forget the batches coded with the early dictionaries
    faster. The first factor multiplies zero statistics and is not used."""
    if step == 0:
        return 0.0
    eta = min(batch_size, n_signals)
    theta = step * eta if step < eta else eta ** 2 + step - eta
    theta = min(theta, 2 * n_signals)
    return ((theta + 1 - eta) / (theta + 1)) ** power


def _sweep_columns(D, A, B, Xb, rng, to_x):
    """One block-coordinate pass over the columns of ``D``, in place; returns how many
    unused atoms were restarted from a signal of the batch ``Xb``.

    The pass (``sparsecoding._bcd``, compiled on NumPy arrays when Numba is there)
    stops at each unused atom, which is restarted here."""
    from . import _bcd

    n_atoms = D.shape[1]
    nb = Xb.shape[0]
    xp = array_namespace(D)
    n_resampled = 0
    if is_numpy(D):
        update, A_rows = _bcd.update_columns, np.ascontiguousarray(A.T)
    else:
        update, A_rows = _bcd.update_columns_python, A.T
    j = update(D, A_rows, B, 0, 1e-10)
    while j < n_atoms:  # an unused atom: restart it from a signal of the batch
        u = Xb[int(rng.integers(nb))] + to_x(0.01 * rng.standard_normal(D.shape[0]))
        D[:, j] = u / max(1.0, float(xp.sqrt(xp.sum(u * u))))
        n_resampled += 1
        j = update(D, A_rows, B, j + 1, 1e-10)
    return n_resampled


def _patch_positions(n, size, stride):
    pos = list(range(0, n - size + 1, stride))
    if pos[-1] != n - size:  # cover the last rows/columns too
        pos.append(n - size)
    return np.array(pos)


def denoise_image(noisy, D, lam, patch_size=None, stride=1, *, max_iter=300, tol=1e-4):
    r"""Denoise an image by sparse coding its overlapping patches in a dictionary.

    Every ``patch_size`` × ``patch_size`` patch :math:`p` (at every ``stride``-th
    position, the last row and column included) loses its mean :math:`\bar p`, gets
    the lasso code :math:`h = \arg\min_h \tfrac12\|p - \bar p - Dh\|^2 + \lambda\|h\|_1`
    (:func:`~sparsecoding.fista`), and is replaced by :math:`Dh + \bar p`; each pixel is
    the average of the patches that cover it (:cite:t:`elad2006denoising`, without their
    weighting by the noisy image). Explained in the chapter *Dictionary learning on
    natural images*.

    Parameters
    ----------
    noisy : 2-D array
        The image.
    D : ``(patch_size**2, n_atoms)`` array
        A dictionary of (mean-free) patches, flattened row by row.
    lam : float
        The sparsity weight; it grows with the noise level.
    patch_size : int, optional
        Side of the patches; by default :math:`\sqrt{n_{\text{features}}}`.
    stride : int
        Step between patch positions (1: all overlapping patches), at most
        ``patch_size`` so that every pixel is covered.
    max_iter, tol : int, float
        Passed to :func:`~sparsecoding.fista`.

    Returns
    -------
    numpy.ndarray, the shape of ``noisy``

    Examples
    --------
    >>> import numpy as np
    >>> D = np.eye(4)  # 2x2 patches, the pixel basis: the lasso soft-thresholds pixels
    >>> img = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> denoise_image(img, D, 0.0).round(6).tolist() == img.tolist()
    True
    """
    noisy, D = to_numpy(noisy), to_numpy(D)
    noisy = check_squarable(check_array(noisy, "noisy", ndim=2), "noisy")
    D = check_squarable(check_array(D, "D", ndim=2), "D")
    lam = check_scalar(lam, "lam", low=0.0)
    if patch_size is None:
        patch_size = int(round(np.sqrt(D.shape[0])))
    patch_size = check_scalar(patch_size, "patch_size", low=1, integer=True)
    if patch_size * patch_size != D.shape[0]:
        raise ValueError(
            f"patch_size {patch_size} gives {patch_size**2} pixels per patch but D has "
            f"{D.shape[0]} rows"
        )
    if min(noisy.shape) < patch_size:
        raise ValueError(f"patch_size {patch_size} exceeds the image of shape "
                         f"{noisy.shape} (noisy)")
    stride = check_scalar(stride, "stride", low=1, integer=True, high=patch_size)
    rows = _patch_positions(noisy.shape[0], patch_size, stride)
    cols = _patch_positions(noisy.shape[1], patch_size, stride)
    windows = np.lib.stride_tricks.sliding_window_view(noisy, (patch_size, patch_size))
    P = windows[rows][:, cols].reshape(-1, patch_size * patch_size)
    means = P.mean(axis=1, keepdims=True)
    H = fista(D, P - means, lam, max_iter=max_iter, tol=tol).codes
    R = (H @ D.T + means).reshape(len(rows), len(cols), patch_size, patch_size)
    out = np.zeros_like(noisy, dtype=np.float64)
    count = np.zeros_like(out)
    for i in range(patch_size):  # positions are distinct, so each += is exact
        for j in range(patch_size):
            out[np.ix_(rows + i, cols + j)] += R[:, :, i, j]
            count[np.ix_(rows + i, cols + j)] += 1
    return out / count
