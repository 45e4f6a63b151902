r"""Statistics and simulations of neural codes.

A *code* is the activity of a layer of :math:`N` units for a set of inputs, stored as
``H`` of shape ``(n_inputs, n_units)`` (one input per row, like the codes of the
solvers). A unit is *active* for an input when :math:`|h| > \text{threshold}`.

The statistics (:func:`activity_ratio`, :func:`active_units`, :func:`active_counts`,
:func:`dead_units`, :func:`dead_unit_mask`, :func:`fraction_variance_unexplained`)
take NumPy arrays or torch tensors and return Python floats, or arrays of the input's
kind. The simulations of binary codes (:func:`random_codes`,
:func:`superposition_false_detections`, :func:`corrupt_codes`, :func:`decode_nearest`,
:func:`decoding_accuracy`) work on NumPy arrays. The chapter *Neural codes: local,
dense and sparse* explains them all.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from array_api_compat import array_namespace

from ._arrays import is_torch
from ._validation import check_array, check_choice, check_scalar, max_abs

__all__ = [
    "activity_ratio",
    "active_units",
    "active_counts",
    "dead_units",
    "dead_unit_mask",
    "fraction_variance_unexplained",
    "capacity",
    "random_codes",
    "superposition_false_detections",
    "corrupt_codes",
    "decode_nearest",
    "decoding_accuracy",
    "k_winners_take_all",
]


def _active(H, threshold):
    """Validated 2-D ``H`` and its boolean activity ``|H| > threshold``."""
    H = check_array(H, "H", ndim=(1, 2))
    threshold = check_scalar(threshold, "threshold", low=0.0)
    if H.ndim == 1:
        H = H.reshape(1, -1)
    xp = array_namespace(H)
    return H, xp.abs(H) > threshold


def active_counts(H, threshold=0.0):
    r"""Number of active units for each input: :math:`\#\{j : |h_{kj}| > t\}`.

    Parameters
    ----------
    H : array_like or torch.Tensor
        Codes, ``(n_inputs, n_units)``; a 1-D array is one input.
    threshold : float
        :math:`t \ge 0`; a unit is active when its absolute value exceeds it.

    Returns
    -------
    Integer array (NumPy ``int64``, or a ``torch.int64`` tensor on the input's device)
    of shape ``(n_inputs,)``.

    Examples
    --------
    >>> active_counts([[0.0, 1.0, -2.0], [0.0, 0.0, 0.5]])
    array([2, 1])
    >>> active_counts([[0.0, 1.0, -2.0], [0.0, 0.0, 0.5]], threshold=0.8)
    array([2, 0])
    """
    H, act = _active(H, threshold)
    xp = array_namespace(act)
    return xp.sum(xp.astype(act, xp.int64), axis=1)


def active_units(H, threshold=0.0):
    r"""Number of active units per input, averaged over inputs.

    .. math::

        \bar d = \frac{1}{K} \sum_{k=1}^{K} \#\{j : |h_{kj}| > t\} .

    This is a *count*, between 0 and :math:`N`. The 2016 blog post *Sparse coding: a
    simple exploration* reports this quantity (values 1.67, 5.4, 28.19 and 156.3 for
    :math:`N = 784` units) under the name "AVR", average activity *ratio*; the ratio
    is :func:`activity_ratio`, :math:`\bar d / N`. Chapter *Neural codes: local, dense
    and sparse*.

    Examples
    --------
    >>> active_units([[0.0, 1.0, -2.0], [0.0, 0.0, 0.5]])
    1.5
    """
    counts = active_counts(H, threshold)
    xp = array_namespace(counts)
    return float(xp.mean(xp.astype(counts, xp.float64)))


def activity_ratio(H, threshold=0.0):
    r"""Fraction of units active per input, averaged over inputs.

    .. math::

        \rho = \frac{1}{K N} \sum_{k=1}^{K} \#\{j : |h_{kj}| > t\}
        = \frac{\bar d}{N} \in [0, 1] .

    A local code has :math:`\rho = 1/N`, a dense binary code :math:`\rho \approx 1/2`.
    See :func:`active_units` for the count :math:`\bar d`. Chapter *Neural codes:
    local, dense and sparse*.

    Examples
    --------
    >>> activity_ratio([[0.0, 1.0, -2.0, 0.0], [0.0, 0.0, 0.5, 0.0]])
    0.375
    """
    H, _ = _active(H, threshold)
    return active_units(H, threshold) / H.shape[1]


def dead_unit_mask(H, threshold=0.0):
    r"""Boolean mask of the units that are active for no input.

    Unit :math:`j` is dead when :math:`|h_{kj}| \le t` for every input :math:`k`.

    Returns
    -------
    Boolean array (or tensor) of shape ``(n_units,)``.

    Examples
    --------
    >>> dead_unit_mask([[0.0, 1.0, 0.0], [0.0, 0.0, 0.5]])
    array([ True, False, False])
    """
    _, act = _active(H, threshold)
    return ~array_namespace(act).any(act, axis=0)


def dead_units(H, threshold=0.0):
    r"""Fraction of units that are active for no input (dead units).

    .. math::

        \frac{1}{N} \#\{j : |h_{kj}| \le t \text{ for all } k\} .

    Examples
    --------
    >>> dead_units([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0]])
    0.5
    """
    mask = dead_unit_mask(H, threshold)
    xp = array_namespace(mask)
    return float(xp.mean(xp.astype(mask, xp.float64)))


def fraction_variance_unexplained(X, X_hat):
    r"""Fraction of variance unexplained by a reconstruction.

    .. math::

        \mathrm{FVU} = \frac{\sum_k \|x_k - \hat x_k\|_2^2}{\sum_k \|x_k - \bar x\|_2^2},
        \qquad \bar x = \frac1K \sum_k x_k .

    0 for a perfect reconstruction, 1 for reconstructing every signal by the mean
    signal. Used to compare sparse autoencoders at equal sparsity.

    Parameters
    ----------
    X : ``(n_signals, n_features)``
        Signals (at least two, not all equal).
    X_hat : same shape as ``X``
        Reconstructions.

    Examples
    --------
    >>> fraction_variance_unexplained([[0.0, 0.0], [2.0, 2.0]], [[0.0, 0.0], [2.0, 1.0]])
    0.25
    """
    X = check_array(X, "X", ndim=2)
    X_hat = check_array(X_hat, "X_hat", ndim=2, like=X)
    if tuple(X_hat.shape) != tuple(X.shape):
        raise ValueError(
            f"X_hat must have the shape of X {tuple(X.shape)}, got {tuple(X_hat.shape)}"
        )
    xp = array_namespace(X)
    scale = max(max_abs(X), max_abs(X_hat))  # the FVU is scale-free: scale first, so
    if scale > 0:  # that no square overflows or underflows (a power of two: exact)
        scale = 2.0 ** math.floor(math.log2(scale))
        X, X_hat = X / scale, X_hat / scale
    R = X - X_hat
    C = X - xp.mean(X, axis=0, keepdims=True)
    s_r, s_c = (2.0 ** math.floor(math.log2(m)) if m > 0 else 0.0
                for m in (max_abs(R), max_abs(C)))
    if s_c == 0:
        raise ValueError("X has zero variance (all signals equal): the FVU is undefined")
    if s_r == 0:
        return 0.0
    num, den = float(xp.sum((R / s_r) ** 2)), float(xp.sum((C / s_c) ** 2))
    ratio = s_r / s_c
    fvu = ratio * ratio * num / den if ratio < 1e150 else float("inf")
    if not np.isfinite(fvu):
        raise ValueError(
            f"the FVU overflows: X_hat is {ratio:.1e} times farther from X than X "
            "varies; check that X_hat reconstructs X"
        )
    return fvu


def capacity(n_units, code, d=None):
    r"""Number of distinct patterns a binary code of ``n_units`` units can take.

    - ``"local"``: one active unit per stimulus, :math:`N` patterns;
    - ``"dense"``: any binary pattern, :math:`2^N` patterns;
    - ``"sparse"``: exactly :math:`d` active units, :math:`\binom{N}{d}` patterns.

    The 2016 blog post *Sparse coding: a simple exploration* gives :math:`2^d` for the
    sparse code: that is the number of patterns of :math:`d` units, not of :math:`d`
    active units among :math:`N` (for :math:`N = 784, d = 5`: 32 against
    :math:`\binom{784}{5} \approx 2.4 \times 10^{12}`). A dense code with exactly
    half the units active has :math:`\binom{N}{N/2}` patterns, ``capacity(N,
    "sparse", N // 2)``. Chapter *Neural codes: local, dense and sparse*.

    Returns
    -------
    int
        Exact (Python integers do not overflow).

    Examples
    --------
    >>> capacity(10, "local"), capacity(10, "dense"), capacity(10, "sparse", d=3)
    (10, 1024, 120)
    """
    n_units = check_scalar(n_units, "n_units", low=1, integer=True)
    check_choice(code, "code", ("local", "dense", "sparse"))
    if code == "sparse":
        if d is None:
            raise ValueError("d is required for a sparse code (the number of active units)")
        d = check_scalar(d, "d", low=0, integer=True, high=n_units)
        return math.comb(n_units, d)
    if d is not None:
        raise ValueError(f"d is only used for code='sparse', got d={d!r} with code={code!r}")
    return n_units if code == "local" else 2**n_units


# --------------------------------------------------------------------------------------
# Simulations of binary codes (NumPy).
# --------------------------------------------------------------------------------------


def _check_seed(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    return np.random.default_rng(check_scalar(seed, "seed", low=0, integer=True))


def _check_binary(codes, name="codes"):
    if is_torch(codes):
        raise TypeError(f"{name} must be a NumPy array (the code simulations run on NumPy)")
    codes = check_array(codes, name, ndim=2)
    if not np.isin(codes, (0.0, 1.0)).all():
        raise ValueError(f"{name} must be binary (entries 0 or 1)")
    return codes


def random_codes(n_stimuli, n_units, d, seed=0):
    r"""Distinct random binary codewords with exactly ``d`` active units each.

    Each row is a codeword: ``d`` ones among ``n_units``, drawn uniformly, all rows
    different. ``d = 1`` gives a local code (needs ``n_stimuli <= n_units``);
    ``d = n_units // 2`` a dense code. Chapter *Neural codes: local, dense and sparse*.

    Parameters
    ----------
    n_stimuli : int
        Number of codewords, at most :math:`\binom{N}{d}`.
    n_units : int
        :math:`N`.
    d : int
        Active units per codeword, :math:`1 \le d \le N`.
    seed : int
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        ``(n_stimuli, n_units)`` of 0.0 and 1.0.

    Examples
    --------
    >>> C = random_codes(4, 6, 2, seed=0)
    >>> C.shape, C.sum(axis=1).tolist(), len({tuple(r) for r in C})
    ((4, 6), [2.0, 2.0, 2.0, 2.0], 4)
    """
    n_stimuli = check_scalar(n_stimuli, "n_stimuli", low=1, integer=True)
    n_units = check_scalar(n_units, "n_units", low=1, integer=True)
    d = check_scalar(d, "d", low=1, integer=True, high=n_units)
    rng = _check_seed(seed)
    cap = math.comb(n_units, d)
    if n_stimuli > cap:
        raise ValueError(
            f"n_stimuli={n_stimuli} exceeds the capacity C({n_units}, {d}) = {cap} of a "
            "code with d active units"
        )
    codes = np.zeros((n_stimuli, n_units))
    if cap <= 100_000 and n_stimuli > cap // 4:
        # Near capacity: enumerate every pattern, pick without replacement.
        patterns = np.array(list(itertools.combinations(range(n_units), d)))
        chosen = patterns[rng.choice(cap, size=n_stimuli, replace=False)]
        np.put_along_axis(codes, chosen, 1.0, axis=1)
        return codes
    filled = 0
    seen = set()
    while filled < n_stimuli:
        m = n_stimuli - filled
        idx = np.argsort(rng.random((m, n_units)), axis=1)[:, :d]
        for row in np.sort(idx, axis=1):
            key = row.tobytes()
            if key not in seen:
                seen.add(key)
                codes[filled, row] = 1.0
                filled += 1
    return codes


def superposition_false_detections(codes, n_pairs=1000, seed=0):
    r"""Average number of stimuli falsely detected when two codewords are superimposed.

    Two different stimuli :math:`i \ne j` are drawn at random and presented together:
    the layer shows the union (logical OR) :math:`y = c_i \lor c_j`. A stimulus
    :math:`k` is *detected* when all its active units are active in :math:`y`
    (:math:`c_k \le y`). Every detected :math:`k \notin \{i, j\}` is a false
    detection. Chapter *Neural codes: local, dense and sparse*.

    Parameters
    ----------
    codes : ``(n_stimuli, n_units)`` binary array, at least two rows
    n_pairs : int
        Number of random pairs presented.
    seed : int

    Returns
    -------
    float
        False detections per superposition, averaged over the pairs.

    Examples
    --------
    >>> local = np.eye(4)
    >>> superposition_false_detections(local, n_pairs=10)
    0.0
    >>> dense = np.array([[1, 0], [0, 1], [1, 1]])  # every union is the whole layer
    >>> superposition_false_detections(dense, n_pairs=10)
    1.0
    """
    codes = _check_binary(codes)
    n_pairs = check_scalar(n_pairs, "n_pairs", low=1, integer=True)
    rng = _check_seed(seed)
    M = codes.shape[0]
    if M < 2:
        raise ValueError(f"codes must have at least two rows (stimuli), got {M}")
    i = rng.integers(0, M, size=n_pairs)
    j = (i + rng.integers(1, M, size=n_pairs)) % M  # j != i, uniform among the others
    Y = np.maximum(codes[i], codes[j])  # (n_pairs, n_units)
    # Units of codeword k that are silent in y: zero means k is detected.
    missing = codes @ (1.0 - Y).T  # (n_stimuli, n_pairs)
    detected = (missing == 0).sum(axis=0)  # includes i and j themselves
    return float(np.mean(detected - 2))


def corrupt_codes(codes, *, silence=0.0, flip=0.0, seed=0):
    r"""Damage binary codewords: silence a fraction of units, flip random bits.

    ``round(silence * n_units)`` units, chosen at random, are set to 0 in every
    codeword (dead neurons); then every entry is flipped independently with probability
    ``flip`` (noisy neurons). Chapter *Neural codes: local, dense and sparse*.

    Examples
    --------
    >>> corrupt_codes(np.eye(3), silence=1.0)
    array([[0., 0., 0.],
           [0., 0., 0.],
           [0., 0., 0.]])
    >>> corrupt_codes(np.eye(2), flip=1.0)
    array([[0., 1.],
           [1., 0.]])
    """
    codes = _check_binary(codes)
    silence = check_scalar(silence, "silence", low=0.0, high=1.0)
    flip = check_scalar(flip, "flip", low=0.0, high=1.0)
    rng = _check_seed(seed)
    out = codes.copy()
    n_units = codes.shape[1]
    n_silent = int(round(silence * n_units))
    if n_silent:
        out[:, rng.choice(n_units, size=n_silent, replace=False)] = 0.0
    if flip:
        mask = rng.random(out.shape) < flip
        out[mask] = 1.0 - out[mask]
    return out


def decode_nearest(codes, observed, seed=0):
    r"""Decode observed patterns to the nearest codeword in Hamming distance.

    .. math::

        \hat k = \arg\min_k \|y - c_k\|_0 ,

    ties broken uniformly at random (so a pattern equally far from every codeword is
    decoded at chance level). Chapter *Neural codes: local, dense and sparse*.

    Parameters
    ----------
    codes : ``(n_stimuli, n_units)`` binary array
    observed : ``(n_observed, n_units)`` or ``(n_units,)`` binary array
    seed : int

    Returns
    -------
    numpy.ndarray of int64, ``(n_observed,)``, or an int for one pattern.

    Examples
    --------
    >>> codes = np.array([[1, 1, 0, 0], [0, 0, 1, 1]])
    >>> decode_nearest(codes, np.array([[1, 0, 0, 0], [0, 1, 1, 1]])).tolist()
    [0, 1]
    """
    codes = _check_binary(codes)
    if is_torch(observed):
        raise TypeError("observed must be a NumPy array (the code simulations run on NumPy)")
    observed = check_array(observed, "observed", ndim=(1, 2))
    single = observed.ndim == 1
    Y = observed.reshape(1, -1) if single else observed
    if Y.shape[1] != codes.shape[1]:
        raise ValueError(
            f"observed has {Y.shape[1]} units but codes has {codes.shape[1]}"
        )
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValueError("observed must be binary (entries 0 or 1)")
    rng = _check_seed(seed)
    # Hamming distance |y| + |c| - 2 <y, c>; integer-valued, so a jitter in [0, 0.5)
    # breaks ties at random without changing the order of different distances.
    dist = Y.sum(1, keepdims=True) + codes.sum(1)[None, :] - 2.0 * (Y @ codes.T)
    dist = dist + 0.5 * rng.random(dist.shape)
    k = np.argmin(dist, axis=1).astype(np.int64)
    return int(k[0]) if single else k


def decoding_accuracy(codes, *, silence=0.0, flip=0.0, n_repeats=1, seed=0):
    r"""Fraction of stimuli recovered by nearest-codeword decoding after damage.

    Every codeword is presented ``n_repeats`` times, damaged by
    :func:`corrupt_codes` (a fresh damage each repeat), and decoded by
    :func:`decode_nearest`. Chance level is ``1 / n_stimuli``. Chapter *Neural codes:
    local, dense and sparse*.

    Examples
    --------
    >>> decoding_accuracy(np.eye(5))
    1.0
    """
    codes = _check_binary(codes)
    n_repeats = check_scalar(n_repeats, "n_repeats", low=1, integer=True)
    rng = _check_seed(seed)
    correct = 0
    for _ in range(n_repeats):
        damaged = corrupt_codes(codes, silence=silence, flip=flip, seed=rng)
        correct += int((decode_nearest(codes, damaged, seed=rng) ==
                        np.arange(codes.shape[0])).sum())
    return correct / (n_repeats * codes.shape[0])


def k_winners_take_all(A, k):
    r"""Keep the ``k`` largest activations of each row, set the others to zero.

    A crude model of lateral inhibition: the most active units silence the rest. Ties
    at the ``k``-th value are broken by position. Chapter *Neural codes: local, dense
    and sparse*.

    Parameters
    ----------
    A : ``(n_inputs, n_units)`` or ``(n_units,)``, array or tensor
    k : int, :math:`0 \le k \le N`

    Examples
    --------
    >>> k_winners_take_all([[0.1, 0.9, 0.5, -0.2]], 2)
    array([[0. , 0.9, 0.5, 0. ]])
    """
    A = check_array(A, "A", ndim=(1, 2))
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"k must be an integer, got {type(k).__name__} {k!r}")
    k = check_scalar(k, "k", low=0, integer=True, high=A.shape[-1])
    xp = array_namespace(A)
    # the rank of each entry in its row, largest first (ties: the first index first)
    order = xp.argsort(-A, axis=-1, stable=True)
    rank = xp.argsort(order, axis=-1, stable=True)
    return xp.where(rank < k, A, xp.zeros_like(A))
