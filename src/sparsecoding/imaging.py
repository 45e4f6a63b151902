r"""Image deblurring with ISTA and FISTA on operators :cite:p:`beck2009fista`.

The unknown is the vector :math:`c` of orthonormal wavelet coefficients of an image;
the image is :math:`W^\top c` (wavelet synthesis) and the observation is
:math:`b = A W^\top c + \text{noise}` with :math:`A` a blur. The problem

.. math::

    \min_c \; \tfrac12 \|A W^\top c - b\|_2^2 + \lambda \|c\|_1

is the lasso with the dictionary :math:`D = A W^\top`, which is never stored: it is
applied as a blur after a wavelet synthesis, and its transpose as a wavelet analysis
after the adjoint blur. :func:`deblur` is the operator form of
:func:`sparsecoding.ista` and :func:`sparsecoding.fista`. The chapter *FISTA*
reproduces the deblurring experiment of Beck and Teboulle with it.

Images are 2-D NumPy arrays of floats.
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    DivergenceError,
    check_array,
    check_choice,
    check_scalar,
    check_squarable,
)
from .prox import _soft
from .solvers import _Composite, _pgm

__all__ = [
    "gaussian_kernel",
    "blur",
    "blur_adjoint",
    "wavelet_analysis",
    "wavelet_synthesis",
    "deblur",
    "psnr",
]


def gaussian_kernel(size=9, sigma=4.0):
    r"""A normalised square Gaussian kernel: :math:`k_{ij} \propto e^{-(i^2 + j^2)/(2\sigma^2)}`.

    The entries are indexed by :math:`i, j \in \{-(s-1)/2, \dots, (s-1)/2\}` and sum
    to one (the kernel of MATLAB's ``fspecial('gaussian', size, sigma)``, used by Beck
    and Teboulle with ``size=9``, ``sigma=4``). Chapter *FISTA*.

    Parameters
    ----------
    size : int
        Odd side length :math:`s`.
    sigma : float
        Standard deviation :math:`\sigma > 0`, in pixels.

    Returns
    -------
    ``(size, size)`` float64 array, symmetric, summing to 1.

    Examples
    --------
    >>> gaussian_kernel(3, 1.0).round(3)
    array([[0.075, 0.124, 0.075],
           [0.124, 0.204, 0.124],
           [0.075, 0.124, 0.075]])
    """
    size = check_scalar(size, "size", low=1, integer=True)
    if size % 2 == 0:
        raise ValueError(f"size must be odd (the kernel is centred), got {size}")
    sigma = check_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    r = np.arange(size) - (size - 1) / 2
    with np.errstate(over="ignore"):  # a tiny sigma: exp(-inf) = 0, a unit impulse
        g = np.exp(-0.5 * (r / sigma) ** 2)  # r / sigma first: sigma**2 may underflow
    k = np.outer(g, g)
    return k / k.sum()


def _check_kernel(kernel):
    kernel = check_array(kernel, "kernel", ndim=2)
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"kernel must have odd side lengths, got shape {kernel.shape}")
    return np.asarray(kernel, dtype=np.float64)


def _check_image(image, name, kernel=None):
    image = np.asarray(check_array(image, name, ndim=2), dtype=np.float64)
    if kernel is not None:
        r0, r1 = kernel.shape[0] // 2, kernel.shape[1] // 2
        if r0 >= image.shape[0] or r1 >= image.shape[1]:
            raise ValueError(
                f"{name} of shape {image.shape} is too small for a kernel of shape "
                f"{kernel.shape}: each side must exceed the kernel's half-width"
            )
    return image


def _correlate_valid(padded, kernel):
    """Valid 2-D correlation: out[i, j] = sum_ab kernel[a, b] padded[i + a, j + b]."""
    from scipy import ndimage

    r0, r1 = kernel.shape[0] // 2, kernel.shape[1] // 2
    U, S, Vt = np.linalg.svd(kernel)
    if len(S) == 1 or S[1] <= 1e-12 * S[0]:  # separable (a Gaussian): two 1-D passes
        rows = ndimage.correlate1d(padded, U[:, 0] * S[0], axis=0, mode="constant")
        full = ndimage.correlate1d(rows, Vt[0], axis=1, mode="constant")
    else:
        full = ndimage.correlate(padded, kernel, mode="constant")  # centred, same size
    return full[r0:padded.shape[0] - r0, r1:padded.shape[1] - r1]


def blur(image, kernel):
    r"""Blur an image by correlation with ``kernel``, with reflexive boundary conditions.

    .. math::

        (A u)_{ij} = \sum_{a, b} k_{ab}\, \tilde u_{i + a,\, j + b},

    where :math:`\tilde u` is :math:`u` extended across each border by its mirror
    image (``d c b a | a b c d | d c b a``, the *reflexive* boundary conditions of
    Beck and Teboulle; ``mode="reflect"`` in :func:`scipy.ndimage.correlate`).
    Chapter *FISTA*.

    Parameters
    ----------
    image : ``(n_rows, n_cols)`` array
    kernel : ``(s_r, s_c)`` array with odd sides, e.g. :func:`gaussian_kernel`

    Returns
    -------
    ``(n_rows, n_cols)`` float64 array.

    Examples
    --------
    >>> blur(np.ones((4, 4)), gaussian_kernel(3, 1.0)).round(6)[0]
    array([1., 1., 1., 1.])
    """
    kernel = _check_kernel(kernel)
    image = _check_image(image, "image", kernel)
    r0, r1 = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(image, ((r0, r0), (r1, r1)), mode="symmetric")  # d c b a | a b c d
    return _correlate_valid(padded, kernel)


def blur_adjoint(image, kernel):
    r"""The exact adjoint :math:`A^\top` of :func:`blur`: :math:`\langle Au, y\rangle = \langle u, A^\top y\rangle`.

    :func:`blur` is a reflexive padding :math:`P` followed by a valid correlation
    :math:`C`; the adjoint is the full convolution :math:`C^\top` (correlation of the
    zero-padded image with the flipped kernel) followed by :math:`P^\top`, which adds
    each padded border pixel back onto the pixel it was copied from. Exact for any
    kernel (for a symmetric kernel, :math:`A^\top = A` up to rounding). Chapter
    *FISTA*.

    Parameters
    ----------
    image : ``(n_rows, n_cols)`` array
    kernel : as in :func:`blur`

    Returns
    -------
    ``(n_rows, n_cols)`` float64 array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u, y, k = rng.random((6, 5)), rng.random((6, 5)), rng.random((3, 3))
    >>> bool(np.isclose(np.sum(blur(u, k) * y), np.sum(u * blur_adjoint(y, k))))
    True
    """
    kernel = _check_kernel(kernel)
    image = _check_image(image, "image", kernel)
    r0, r1 = kernel.shape[0] // 2, kernel.shape[1] // 2
    n0, n1 = image.shape
    zero_padded = np.pad(image, ((2 * r0, 2 * r0), (2 * r1, 2 * r1)))
    full = _correlate_valid(zero_padded, kernel[::-1, ::-1])  # shape (n0+2r0, n1+2r1)
    return _fold(_fold(full, r0).T, r1).T


def _fold(z, r):
    """Adjoint of the reflexive padding of the first axis by r: add mirrored rows back."""
    n = z.shape[0] - 2 * r
    out = z[r:r + n].copy()
    if r:
        out[:r] += z[r - 1::-1]
        out[n - r:] += z[:n + r - 1:-1]
    return out


def _check_wavelet(wavelet, level, shape=None):
    import pywt

    if not isinstance(wavelet, str) or wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet must be the name of a discrete wavelet, got {wavelet!r}")
    if not pywt.Wavelet(wavelet).orthogonal:
        raise ValueError(f"wavelet must be orthogonal (e.g. 'haar', 'db4'), got {wavelet!r}")
    level = check_scalar(level, "level", low=1, integer=True)
    if shape is not None and (shape[0] % 2 ** level or shape[1] % 2 ** level):
        raise ValueError(
            f"the image sides {shape} must be multiples of 2**level = {2 ** level} "
            "for the transform to be orthonormal"
        )
    return wavelet, level


def wavelet_analysis(image, wavelet="haar", level=3):
    r"""Orthonormal 2-D wavelet transform :math:`c = W u`, as one array shaped like the image.

    Uses :func:`pywt.wavedec2` with ``mode="periodization"`` and an orthogonal
    wavelet, so that :math:`W` is an orthogonal matrix: :math:`W^\top W = W W^\top = I`
    (the sides of the image must be multiples of :math:`2^{\text{level}}`). The
    coefficients are arranged by :func:`pywt.coeffs_to_array` (coarse approximation
    in the top-left corner). Chapter *FISTA*.

    Parameters
    ----------
    image : ``(n_rows, n_cols)`` array
    wavelet : str
        An orthogonal wavelet known to PyWavelets (``"haar"`` by default).
    level : int
        Number of levels of the decomposition.

    Returns
    -------
    ``(n_rows, n_cols)`` float64 array of coefficients.

    Examples
    --------
    >>> u = np.arange(16.0).reshape(4, 4)
    >>> c = wavelet_analysis(u, "haar", level=2)
    >>> bool(np.isclose(np.sum(c ** 2), np.sum(u ** 2)))  # orthonormal: norms agree
    True
    """
    import pywt

    image = _check_image(image, "image")
    wavelet, level = _check_wavelet(wavelet, level, image.shape)
    coeffs = pywt.wavedec2(image, wavelet, mode="periodization", level=level)
    array, _ = pywt.coeffs_to_array(coeffs)
    return array


def wavelet_synthesis(coeffs, wavelet="haar", level=3):
    r"""The inverse (and transpose) of :func:`wavelet_analysis`: :math:`u = W^\top c`.

    Parameters
    ----------
    coeffs : ``(n_rows, n_cols)`` array, laid out as :func:`wavelet_analysis` returns
    wavelet, level : as in :func:`wavelet_analysis`

    Returns
    -------
    ``(n_rows, n_cols)`` float64 image.

    Examples
    --------
    >>> u = np.arange(16.0).reshape(4, 4)
    >>> bool(np.allclose(wavelet_synthesis(wavelet_analysis(u, level=2), level=2), u))
    True
    """
    import pywt

    coeffs = _check_image(coeffs, "coeffs")
    wavelet, level = _check_wavelet(wavelet, level, coeffs.shape)
    # The layout of the coefficients depends only on the shape: get it from zeros.
    template = pywt.wavedec2(np.zeros(coeffs.shape), wavelet, mode="periodization",
                             level=level)
    _, slices = pywt.coeffs_to_array(template)
    structured = pywt.array_to_coeffs(coeffs, slices, output_format="wavedec2")
    return pywt.waverec2(structured, wavelet, mode="periodization")


def _lipschitz_bound(kernel, shape):
    """Upper bound of ||A||_2^2 by the Schur test: (largest row sum) (largest column sum).

    Exact (equal to 1) for a non-negative symmetric kernel that sums to one.
    """
    a = np.abs(kernel)
    largest_column_sum = float(blur_adjoint(np.ones(shape), a).max())
    return largest_column_sum * float(a.sum())


def deblur(blurred, kernel, lam, *, n_iter=100, method="fista", wavelet="haar",
           level=3, lipschitz=None):
    r"""Deblur an image by ISTA or FISTA on its wavelet coefficients :cite:p:`beck2009fista`.

    Minimises, over the orthonormal wavelet coefficients :math:`c` of the image,

    .. math::

        F(c) = \tfrac12 \|A W^\top c - b\|_2^2 + \lambda \|c\|_1 ,

    with :math:`A` = :func:`blur` by ``kernel`` and :math:`W` =
    :func:`wavelet_analysis`, by the proximal-gradient iteration of
    :func:`sparsecoding.ista` (``method="ista"``) or :func:`sparsecoding.fista`
    (``method="fista"``): the same proximal-gradient engine, on operators: the gradient
    :math:`W A^\top(A W^\top c - b)` is computed by a synthesis, a blur, an adjoint
    blur and an analysis. Both start from :math:`c_0 = W b` (the blurred image), as in
    the paper. Beck and Teboulle's objective has no :math:`\tfrac12`; their
    :math:`\lambda` is twice this one. Chapter *FISTA*.

    Parameters
    ----------
    blurred : ``(n_rows, n_cols)`` array, the observation :math:`b`
    kernel : the blur kernel (odd sides), e.g. :func:`gaussian_kernel`
    lam : float, :math:`\lambda \ge 0`
    n_iter : int
        Number of iterations.
    method : ``"fista"`` or ``"ista"``
    wavelet, level : as in :func:`wavelet_analysis`
    lipschitz : float, optional
        :math:`L \ge \|A\|_2^2`. When not given, the bound
        :math:`\|A\|_1\|A\|_\infty` (largest column sum times largest row sum of
        :math:`|A|`), which equals :math:`\|A\|_2^2 = 1` for a non-negative
        symmetric kernel that sums to one.

    Returns
    -------
    image : ``(n_rows, n_cols)`` array, the restored image :math:`W^\top c_k`
    objective : ``(n_iter + 1,)`` array, :math:`F(c_k)` for ``k = 0, ..., n_iter``

    Examples
    --------
    >>> k = gaussian_kernel(3, 1.0)
    >>> u = np.kron(np.eye(2), np.ones((4, 4)))
    >>> image, obj = deblur(blur(u, k), k, 1e-4, n_iter=20, level=2)
    >>> bool(obj[-1] < obj[0]), image.shape
    (True, (8, 8))
    """
    kernel = check_squarable(_check_kernel(kernel), "kernel")
    b = check_squarable(_check_image(blurred, "blurred", kernel), "blurred")
    lam = check_scalar(lam, "lam", low=0.0)
    n_iter = check_scalar(n_iter, "n_iter", low=0, integer=True)
    check_choice(method, "method", ("fista", "ista"))
    wavelet, level = _check_wavelet(wavelet, level, b.shape)
    if lipschitz is None:
        L = _lipschitz_bound(kernel, b.shape)
    else:
        L = check_scalar(lipschitz, "lipschitz", low=0.0, low_inclusive=False)
    L = L or 1.0

    problem = _Deblurring(b, kernel, lam, wavelet, level)
    problem.L = L
    c0 = wavelet_analysis(b, wavelet, level).reshape(1, -1)
    c, objective, *_ = _pgm(problem, c0, L=L, momentum=method == "fista",
                            max_iter=n_iter)
    return problem.synth(c), objective


class _Deblurring(_Composite):
    """Deblurring as a one-signal lasso for the engine: the codes are the wavelet
    coefficients as one row, the image of the codes is the residual
    :math:`A W^\\top c - b` (flattened), the gradient :math:`W A^\\top r`."""

    def __init__(self, b, kernel, lam, wavelet, level):
        import array_api_compat.numpy as xp

        self.xp, self.b, self.kernel, self.lam = xp, b, kernel, lam
        self.wavelet, self.level = wavelet, level
        self.shape, self.dtype, self.device = (1, b.size), b.dtype, "cpu"

    def synth(self, c):
        if not np.isfinite(c).all():  # divergence guard: a step longer than 1 / ||A||^2
            raise DivergenceError(
                f"deblur diverged (the wavelet coefficients overflowed) with the step "
                f"1/L, L = {self.L:.3g}: lipschitz is below ||A||_2^2 of the blur; leave "
                "lipschitz=None (a bound is computed)")
        return wavelet_synthesis(c.reshape(self.b.shape), self.wavelet, self.level)

    def image(self, c):
        return (blur(self.synth(c), self.kernel) - self.b).reshape(1, -1)

    def grad(self, r, c):
        adjoint = blur_adjoint(r.reshape(self.b.shape), self.kernel)
        return wavelet_analysis(adjoint, self.wavelet, self.level).reshape(1, -1)

    def smooth(self, c, r):
        return 0.5 * np.sum(r * r, axis=1)

    def penalty(self, c):
        return self.lam * np.sum(np.abs(c), axis=1)

    def prox(self, v, thr):
        return _soft(self.xp, v, thr)

    def lam_at(self, k):
        return self.lam


def psnr(reference, image, data_range=1.0):
    r"""Peak signal-to-noise ratio in decibels: :math:`10\log_{10}(R^2 / \text{MSE})`.

    Parameters
    ----------
    reference, image : arrays of the same shape
    data_range : float
        :math:`R`, the range of the pixel values (1 for images in [0, 1]).

    Examples
    --------
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 6)
    20.0
    """
    reference = np.asarray(check_array(reference, "reference", ndim=tuple(range(1, 4))))
    image = np.asarray(check_array(image, "image", ndim=tuple(range(1, 4))))
    if reference.shape != image.shape:
        raise ValueError(
            f"image must have the shape of reference {reference.shape}, got {image.shape}"
        )
    data_range = check_scalar(data_range, "data_range", low=0.0, low_inclusive=False)
    # scale before squaring: MSE = s^2 mean((diff / s)^2) with s the largest |diff|,
    # and the decibels from logarithms, so that neither squares nor ratios overflow
    diff = reference - image
    if not np.isfinite(diff).all():
        raise ValueError("reference - image overflows: rescale reference and image")
    s = float(np.max(np.abs(diff))) if diff.size else 0.0
    if s == 0.0:
        return float("inf")
    mean_sq = float(np.mean((diff / s) ** 2))
    return float(20.0 * (np.log10(data_range) - np.log10(s)) - 10.0 * np.log10(mean_sq))
