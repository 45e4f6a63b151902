"""Tests of sparsecoding.imaging against scipy, PyWavelets, scikit-image and closed forms."""

import numpy as np
import pytest
from scipy import ndimage

from sparsecoding import fista, ista
from sparsecoding.imaging import (
    blur,
    blur_adjoint,
    deblur,
    gaussian_kernel,
    psnr,
    wavelet_analysis,
    wavelet_synthesis,
)


def test_gaussian_kernel_closed_form():
    k = gaussian_kernel(9, 4.0)
    assert k.shape == (9, 9)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k.T)
    # ratio of the centre to a corner: exp((4^2 + 4^2) / (2 * 4^2)) = e
    assert k[4, 4] / k[0, 0] == pytest.approx(np.e)


@pytest.mark.parametrize("ks", [(9, 9), (3, 5)])
def test_blur_matches_scipy_reflect(ks):
    rng = np.random.default_rng(0)
    u = rng.random((20, 17))
    k = rng.random(ks)
    np.testing.assert_allclose(blur(u, k), ndimage.correlate(u, k, mode="reflect"),
                               atol=1e-12)
    g = gaussian_kernel(9, 4.0)
    np.testing.assert_allclose(blur(u, g), ndimage.correlate(u, g, mode="reflect"),
                               atol=1e-12)


@pytest.mark.parametrize("ks", [(9, 9), (3, 5), (1, 1)])
def test_blur_adjoint_is_exact(ks):
    rng = np.random.default_rng(1)
    k = rng.random(ks)
    for shape in [(12, 10), (16, 16)]:
        u, y = rng.random(shape), rng.random(shape)
        lhs = np.sum(blur(u, k) * y)
        rhs = np.sum(u * blur_adjoint(y, k))
        assert lhs == pytest.approx(rhs, rel=1e-12)


def test_blur_adjoint_equals_transpose_of_explicit_matrix():
    rng = np.random.default_rng(2)
    shape, k = (7, 6), rng.random((5, 3))
    n = shape[0] * shape[1]
    A = np.stack([blur(e.reshape(shape), k).ravel() for e in np.eye(n)], axis=1)
    At = np.stack([blur_adjoint(e.reshape(shape), k).ravel() for e in np.eye(n)], axis=1)
    np.testing.assert_allclose(At, A.T, atol=1e-12)


def test_symmetric_kernel_gives_norm_one_operator():
    shape, k = (8, 8), gaussian_kernel(5, 1.5)
    n = shape[0] * shape[1]
    A = np.stack([blur(e.reshape(shape), k).ravel() for e in np.eye(n)], axis=1)
    assert np.linalg.norm(A, 2) == pytest.approx(1.0)


def test_default_lipschitz_bounds_the_operator_norm():
    from sparsecoding.imaging import _lipschitz_bound

    rng = np.random.default_rng(7)
    shape = (9, 8)
    n = shape[0] * shape[1]
    for k in (rng.standard_normal((3, 5)), gaussian_kernel(5, 1.5)):
        A = np.stack([blur(e.reshape(shape), k).ravel() for e in np.eye(n)], axis=1)
        assert _lipschitz_bound(k, shape) >= np.linalg.norm(A, 2) ** 2 * (1 - 1e-12)
    assert _lipschitz_bound(gaussian_kernel(5, 1.5), shape) == pytest.approx(1.0)


def test_wavelet_is_orthonormal():
    shape, level = (16, 8), 3
    n = shape[0] * shape[1]
    W = np.stack([wavelet_analysis(e.reshape(shape), "haar", level).ravel()
                  for e in np.eye(n)], axis=1)
    np.testing.assert_allclose(W @ W.T, np.eye(n), atol=1e-12)
    Wt = np.stack([wavelet_synthesis(e.reshape(shape), "haar", level).ravel()
                   for e in np.eye(n)], axis=1)
    np.testing.assert_allclose(Wt, W.T, atol=1e-12)


def test_wavelet_against_pywt_and_db2():
    pywt = pytest.importorskip("pywt")
    rng = np.random.default_rng(3)
    u = rng.random((32, 32))
    c = wavelet_analysis(u, "db2", level=2)
    ref, _ = pywt.coeffs_to_array(pywt.wavedec2(u, "db2", mode="periodization", level=2))
    np.testing.assert_allclose(c, ref)
    np.testing.assert_allclose(wavelet_synthesis(c, "db2", level=2), u, atol=1e-12)
    assert np.sum(c ** 2) == pytest.approx(np.sum(u ** 2))


def test_psnr_matches_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(4)
    a = rng.random((10, 10))
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1)
    assert psnr(a, b) == pytest.approx(
        metrics.peak_signal_noise_ratio(a, b, data_range=1.0))
    assert psnr(a, a) == float("inf")


def test_deblur_equals_ista_and_fista_on_the_explicit_matrix():
    """The operator loop gives the numbers of the matrix solvers on D = A W^T."""
    rng = np.random.default_rng(5)
    shape, level, k = (8, 8), 2, gaussian_kernel(3, 1.0)
    n = shape[0] * shape[1]
    u = rng.random(shape)
    b = blur(u, k) + 0.01 * rng.standard_normal(shape)
    D = np.stack([blur(wavelet_synthesis(e.reshape(shape), "haar", level), k).ravel()
                  for e in np.eye(n)], axis=1)
    lam, L = 1e-3, np.linalg.norm(D, 2) ** 2
    c0 = wavelet_analysis(b, "haar", level).ravel()
    for method, solver in (("ista", ista), ("fista", fista)):
        image, obj = deblur(b, k, lam, n_iter=30, method=method, level=level,
                            lipschitz=L)
        ref = solver(D, b.ravel(), lam, max_iter=30, tol=0.0, init=c0, lipschitz=L,
                     mode="residual")
        np.testing.assert_allclose(obj, ref.objective, rtol=1e-10)
        np.testing.assert_allclose(
            image, wavelet_synthesis(ref.codes.reshape(shape), "haar", level), atol=1e-10)


def test_deblur_fista_beats_ista_and_improves_psnr():
    import skimage.data

    u = skimage.data.camera()[::8, ::8] / 255.0  # 64 x 64
    k = gaussian_kernel(9, 4.0)
    rng = np.random.default_rng(6)
    b = blur(u, k) + 1e-3 * rng.standard_normal(u.shape)
    im_i, obj_i = deblur(b, k, 1e-5, n_iter=50, method="ista")
    im_f, obj_f = deblur(b, k, 1e-5, n_iter=50, method="fista")
    assert np.all(np.diff(obj_i) <= 1e-12)  # ISTA is monotone
    assert obj_f[-1] < obj_i[-1]
    assert psnr(u, im_f) > psnr(u, b)


def test_bad_inputs_name_the_argument():
    k = gaussian_kernel(3, 1.0)
    u = np.zeros((8, 8))
    with pytest.raises(ValueError, match="size"):
        gaussian_kernel(4, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(3, 0.0)
    with pytest.raises(ValueError, match="kernel"):
        blur(u, np.ones((2, 2)))
    with pytest.raises(ValueError, match="image"):
        blur(np.zeros(8), k)
    with pytest.raises(ValueError, match="image"):
        blur_adjoint(np.zeros((1, 1)), k)
    with pytest.raises(ValueError, match="wavelet"):
        wavelet_analysis(u, "bior2.2")
    with pytest.raises(ValueError, match="level"):
        wavelet_analysis(np.zeros((12, 12)), "haar", level=3)
    with pytest.raises(ValueError, match="lam"):
        deblur(u, k, -1.0)
    with pytest.raises(ValueError, match="method"):
        deblur(u, k, 1e-3, method="admm")
    with pytest.raises(ValueError, match="image"):
        psnr(np.zeros((2, 2)), np.zeros((3, 3)))
