r"""Two-dimensional Gabor functions, and how Gabor-like the atoms of a dictionary are.

A Gabor function is a plane wave seen through a Gaussian window,

.. math::

    g(x, y) = A \exp\!\left(-\frac{u^2}{2\sigma_x^2} - \frac{v^2}{2\sigma_y^2}\right)
              \cos(2\pi f u + \varphi),

    u = (x - x_0)\cos\theta + (y - y_0)\sin\theta, \qquad
    v = -(x - x_0)\sin\theta + (y - y_0)\cos\theta ,

with :math:`x` the column and :math:`y` the row of a pixel, :math:`f` the spatial
frequency in cycles per pixel, :math:`\theta` the direction in which the wave varies,
:math:`\varphi` its phase and :math:`\sigma_x, \sigma_y` the widths of the window
along and across the wave. It is localised (the window), oriented (:math:`\theta`) and
band-pass (:math:`f`), the three properties of the receptive fields of simple cells in
the primary visual cortex :cite:p:`jones1987gabor`. The chapter *Dictionary learning on
natural images* fits it to learned atoms to measure how Gabor-like they are.
"""

from __future__ import annotations

import numpy as np

from ._arrays import to_numpy
from ._validation import (
    check_array,
    check_atom_images,
    check_image_shape,
    check_scalar,
)

__all__ = ["gabor_2d", "fit_gabor", "gabor_scores", "gabor_fraction"]

#: The order of the parameters in the fitted vector.
PARAMS = ("x0", "y0", "theta", "freq", "phase", "sigma_x", "sigma_y", "amplitude")


def _grid(shape):
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    return x.astype(np.float64), y.astype(np.float64)


def _model(p, x, y, jac=False):
    """Gabor values at pixels ``(x, y)`` for parameters ``p``; optionally the Jacobian."""
    x0, y0, theta, freq, phase, sx, sy, amp = p
    c, s = np.cos(theta), np.sin(theta)
    dx, dy = x - x0, y - y0
    u = dx * c + dy * s
    v = -dx * s + dy * c
    env = np.exp(-0.5 * (u * u / (sx * sx) + v * v / (sy * sy)))
    arg = 2 * np.pi * freq * u + phase
    cos, sin = np.cos(arg), np.sin(arg)
    g = amp * env * cos
    if not jac:
        return g
    dg_du = amp * env * (-u / (sx * sx) * cos - 2 * np.pi * freq * sin)
    dg_dv = amp * env * (-v / (sy * sy) * cos)
    J = np.empty(x.shape + (8,))
    J[..., 0] = dg_du * (-c) + dg_dv * s
    J[..., 1] = dg_du * (-s) + dg_dv * (-c)
    J[..., 2] = dg_du * v + dg_dv * (-u)
    J[..., 3] = -amp * env * sin * 2 * np.pi * u
    J[..., 4] = -amp * env * sin
    J[..., 5] = g * u * u / sx**3
    J[..., 6] = g * v * v / sy**3
    J[..., 7] = env * cos
    return g, J


def gabor_2d(shape, x0, y0, theta, freq, phase, sigma_x, sigma_y, amplitude=1.0):
    r"""Sample a 2-D Gabor function on a grid of pixels.

    .. math::

        g(x, y) = A\, e^{-u^2/(2\sigma_x^2) - v^2/(2\sigma_y^2)}\cos(2\pi f u + \varphi),

    with :math:`(u, v)` the pixel coordinates relative to :math:`(x_0, y_0)`, rotated
    by :math:`\theta` (see the module's docstring). The chapter *Dictionary learning on
    natural images* uses it.

    Parameters
    ----------
    shape : int or (int, int)
        ``(height, width)`` of the image (an int for a square).
    x0, y0 : float
        Centre of the window: column and row, in pixels (0 is the first pixel).
    theta : float
        Direction along which the wave varies, in radians (0: a wave along the
        columns, i.e. vertical stripes).
    freq : float
        Spatial frequency in cycles per pixel (:math:`\ge 0`).
    phase : float
        Phase of the wave at the centre, in radians.
    sigma_x, sigma_y : float
        Widths of the Gaussian window along and across the wave, in pixels (> 0).
    amplitude : float
        Peak value :math:`A`.

    Returns
    -------
    numpy.ndarray of shape ``shape``

    Examples
    --------
    >>> g = gabor_2d((5, 5), 2, 2, 0.0, 0.25, 0.0, 10.0, 10.0)
    >>> g[2].round(2)
    array([-0.98,  0.  ,  1.  ,  0.  , -0.98])
    """
    shape = check_image_shape(shape)
    x0 = check_scalar(x0, "x0", low=None)
    y0 = check_scalar(y0, "y0", low=None)
    theta = check_scalar(theta, "theta", low=None)
    freq = check_scalar(freq, "freq", low=0.0)
    phase = check_scalar(phase, "phase", low=None)
    sigma_x = check_scalar(sigma_x, "sigma_x", low=0.0, low_inclusive=False)
    sigma_y = check_scalar(sigma_y, "sigma_y", low=0.0, low_inclusive=False)
    amplitude = check_scalar(amplitude, "amplitude", low=None)
    x, y = _grid(shape)
    return _model((x0, y0, theta, freq, phase, sigma_x, sigma_y, amplitude), x, y)


def _canonical(p):
    """The same Gabor with amplitude >= 0, theta in [0, pi), phase in (-pi, pi]."""
    x0, y0, theta, freq, phase, sx, sy, amp = (float(v) for v in p)
    if amp < 0:
        amp, phase = -amp, phase + np.pi
    k = float(np.floor(theta / np.pi))
    theta = float(theta - k * np.pi)
    if int(k) % 2:  # turning by pi flips u and v: cos(-2 pi f u + phase)
        phase = -phase
    phase = float(np.angle(np.exp(1j * phase)))
    return dict(zip(PARAMS, (x0, y0, theta, freq, phase, abs(sx), abs(sy), amp)))


def _starts(img, x, y, n_starts, rng):
    """Starting points: FFT peaks for frequency and orientation, energy centroid for position."""
    h, w = img.shape
    energy = img * img
    total = energy.sum()
    cx, cy = (energy * x).sum() / total, (energy * y).sum() / total
    spread = np.sqrt(max((energy * ((x - cx) ** 2 + (y - cy) ** 2)).sum() / total, 0.25))
    pad = 4 * max(h, w)
    spec = np.abs(np.fft.rfft2(img, s=(pad, pad)))
    fy = np.fft.fftfreq(pad)[:, None] * np.ones((1, spec.shape[1]))
    fx = np.fft.rfftfreq(pad)[None, :] * np.ones((pad, 1))
    order = np.argsort(-spec, axis=None, kind="stable")
    peaks = []
    for idx in order:  # the strongest peaks, at least 1/(2 max(h, w)) apart
        f = (fx.flat[idx], fy.flat[idx])
        if all(np.hypot(f[0] - q[0], f[1] - q[1]) > 0.5 / max(h, w) for q in peaks):
            peaks.append(f)
        if len(peaks) == 3:
            break
    starts = []
    for scale in (1.0, 0.6, 1.6):
        for fxp, fyp in peaks:
            freq = float(np.hypot(fxp, fyp))
            theta = float(np.arctan2(fyp, fxp))
            sig = float(np.clip(scale * spread / np.sqrt(2), 0.5, max(h, w)))
            p = np.array([cx, cy, theta, freq, 0.0, sig, sig, 1.0])
            # phase and amplitude from projections on the cosine and sine carriers
            env_c = _model(p, x, y)
            env_s = _model(np.r_[p[:4], -np.pi / 2, p[5:]], x, y)
            a, b = (img * env_c).sum(), (img * env_s).sum()
            norm = max((env_c * env_c).sum(), 1e-12)
            p[4] = np.arctan2(b, a)
            p[7] = np.hypot(a, b) / norm
            starts.append(p)
    while len(starts) < n_starts:  # jittered copies of the first starts
        p = starts[len(starts) % len(peaks)].copy()
        p[:2] += rng.normal(0, 1.0, 2)
        p[2] += rng.normal(0, 0.3)
        p[3] *= np.exp(rng.normal(0, 0.3))
        p[4] = rng.uniform(-np.pi, np.pi)
        p[5:7] *= np.exp(rng.normal(0, 0.3, 2))
        starts.append(p)
    return starts[:n_starts]


def fit_gabor(atom_image, *, n_starts=4, seed=0, stop_r2=0.98, max_nfev=100):
    r"""Fit a 2-D Gabor function to an image by least squares.

    Minimises :math:`\sum_{\text{pixels}} (g_p(x, y) - a(x, y))^2` over the eight
    parameters :math:`p` of :func:`gabor_2d` with ``scipy.optimize.least_squares``
    (trust region, analytic Jacobian, bounds keeping the centre on the image, the
    frequency in :math:`[0, 1/2]` and the widths in :math:`[0.3, 2\max(h, w)]`), from
    several starting points: the strongest peaks of the zero-padded Fourier spectrum
    give frequency and orientation, the centroid of the energy :math:`a^2` gives the
    position, and projections on the two carriers give phase and amplitude. The
    quality of the fit is

    .. math::

        R^2 = 1 - \frac{\sum (g - a)^2}{\sum (a - \bar a)^2} .

    Explained in the chapter *Dictionary learning on natural images*.

    Parameters
    ----------
    atom_image : 2-D array
        The image (e.g. one atom reshaped to its patch).
    n_starts : int
        Number of starting points (the first ones are deterministic, later ones are
        jittered with ``seed``).
    seed : int
        Seed of the jitter; the result is deterministic.
    stop_r2 : float
        Stop trying further starts once a fit reaches this :math:`R^2`.
    max_nfev : int
        Largest number of model evaluations per start.

    Returns
    -------
    params : dict
        ``x0, y0, theta, freq, phase, sigma_x, sigma_y, amplitude`` in the conventions
        of :func:`gabor_2d`, with ``amplitude >= 0``, ``theta`` in :math:`[0, \pi)`
        and ``phase`` in :math:`(-\pi, \pi]`.
    r2 : float
        The coefficient of determination (0 for a constant image).

    Examples
    --------
    >>> g = gabor_2d((12, 12), 5.5, 6.0, 0.5, 0.2, 0.3, 2.0, 3.0)
    >>> params, r2 = fit_gabor(g)
    >>> round(r2, 4), round(params["freq"], 3), round(params["theta"], 3)
    (1.0, 0.2, 0.5)
    """
    from scipy.optimize import least_squares

    img = check_array(to_numpy(atom_image), "atom_image", ndim=2).astype(np.float64)
    n_starts = check_scalar(n_starts, "n_starts", low=1, integer=True)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    stop_r2 = check_scalar(stop_r2, "stop_r2", low=None)
    max_nfev = check_scalar(max_nfev, "max_nfev", low=1, integer=True)
    h, w = img.shape
    x, y = _grid(img.shape)
    sst = float(((img - img.mean()) ** 2).sum())
    if sst <= 1e-300 * img.size or float((img * img).sum()) == 0.0:
        return _canonical([(w - 1) / 2, (h - 1) / 2, 0, 0, 0, 1, 1, 0]), 0.0
    scale = np.sqrt((img * img).mean())
    target = img / scale  # fit on a unit scale: tolerances mean the same for any atom
    big = 2.0 * max(h, w)
    lower = np.array([-0.5, -0.5, -np.inf, 0.0, -np.inf, 0.3, 0.3, -np.inf])
    upper = np.array([w - 0.5, h - 0.5, np.inf, 0.5, np.inf, big, big, np.inf])
    rng = np.random.default_rng(seed)

    def fun(p):
        return (_model(p, x, y) - target).ravel()

    def jac(p):
        return _model(p, x, y, jac=True)[1].reshape(-1, 8)

    best_p, best_sse = None, np.inf
    for p0 in _starts(target, x, y, n_starts, rng):
        p0 = np.clip(p0, lower + 1e-9, upper - 1e-9)
        p0[7] = p0[7] if p0[7] != 0 else 1.0
        res = least_squares(fun, p0, jac=jac, bounds=(lower, upper), method="trf",
                            max_nfev=max_nfev, x_scale="jac")
        sse = float(res.fun @ res.fun) * scale * scale
        if sse < best_sse:
            best_p, best_sse = res.x, sse
        if 1.0 - best_sse / sst >= stop_r2:
            break
    best_p = best_p.copy()
    best_p[7] *= scale
    return _canonical(best_p), float(1.0 - best_sse / sst)


def gabor_scores(D, shape=None, *, n_starts=4, seed=0):
    r"""The :math:`R^2` of a Gabor fit (:func:`fit_gabor`) to every atom of a dictionary.

    Parameters
    ----------
    D : ``(n_features, n_atoms)`` array or tensor
        One atom per column, each the flattened (row-major) image of shape ``shape``.
    shape : (int, int), optional
        The image shape of an atom; a square by default.
    n_starts, seed : int
        Passed to :func:`fit_gabor`.

    Returns
    -------
    numpy.ndarray of shape ``(n_atoms,)``

    Examples
    --------
    >>> g = gabor_2d((8, 8), 3.5, 3.5, 1.0, 0.25, 0.0, 1.5, 2.0).ravel()
    >>> noise = np.random.default_rng(0).standard_normal(64)
    >>> (gabor_scores(np.c_[g, noise]) > 0.8).tolist()
    [True, False]
    """
    D, shape = check_atom_images(D, shape)
    peak = np.abs(D).max(axis=0)  # R^2 is scale-free: fit atoms of peak 1 (no overflow)
    D = D / np.where(peak > 0, peak, 1.0)
    return np.array([fit_gabor(D[:, j].reshape(shape), n_starts=n_starts, seed=seed)[1]
                     for j in range(D.shape[1])])


def gabor_fraction(D, shape=None, threshold=0.8, seed=0, *, n_starts=4):
    r"""The fraction of the atoms of ``D`` that a 2-D Gabor function fits well.

    An atom counts as Gabor-like when the :math:`R^2` of :func:`fit_gabor` is at least
    ``threshold``. Used in the chapter *Dictionary learning on natural images* to
    compare learned dictionaries with PCA components and random atoms.

    Parameters
    ----------
    D : ``(n_features, n_atoms)`` array or tensor
    shape : (int, int), optional
        The image shape of an atom; a square by default.
    threshold : float
        The :math:`R^2` from which a fit counts as good, in :math:`[0, 1]`.
    seed, n_starts : int
        Passed to :func:`fit_gabor`.

    Returns
    -------
    float in :math:`[0, 1]`

    Examples
    --------
    >>> g = gabor_2d((8, 8), 3.5, 3.5, 1.0, 0.25, 0.0, 1.5, 2.0).ravel()
    >>> noise = np.random.default_rng(0).standard_normal((64, 3))
    >>> gabor_fraction(np.c_[g, noise])
    0.25
    """
    threshold = check_scalar(threshold, "threshold", low=0.0, high=1.0)
    scores = gabor_scores(D, shape, n_starts=n_starts, seed=seed)
    return float(np.mean(scores >= threshold))
