"""Tests of sparsecoding.bases against scipy.fft, numpy.linalg.lstsq and cvxpy."""

import numpy as np
import pytest
import scipy.fft

from sparsecoding.bases import basis_pursuit, dct2_basis, dct_matrix, min_l2_representation


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16])
def test_dct_matrix_is_scipy_orthonormal_dct(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    C = dct_matrix(n)
    assert np.allclose(C @ x, scipy.fft.dct(x, type=2, norm="ortho"))
    assert np.allclose(C.T @ C, np.eye(n))


def test_dct2_basis_is_scipy_dctn():
    p = 6
    rng = np.random.default_rng(0)
    patch = rng.standard_normal((p, p))
    D = dct2_basis(p)
    coef = D.T @ patch.ravel()
    ref = scipy.fft.dctn(patch, type=2, norm="ortho")
    assert np.allclose(coef, ref.ravel())
    assert np.allclose(D.T @ D, np.eye(p * p))
    assert np.allclose(D[:, 0], 1.0 / p)  # constant atom


def test_min_l2_against_lstsq():
    rng = np.random.default_rng(1)
    D = rng.standard_normal((5, 12))
    X = rng.standard_normal((4, 5))
    H = min_l2_representation(D, X)
    for x, h in zip(X, H):
        ref = np.linalg.lstsq(D, x, rcond=None)[0]  # minimum-norm solution
        assert np.allclose(h, ref)
        assert np.allclose(D @ h, x)
    h1 = min_l2_representation(D, X[0])
    assert h1.shape == (12,) and np.allclose(h1, H[0])


def test_basis_pursuit_against_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(2)
    D = rng.standard_normal((6, 15))
    X = rng.standard_normal((3, 6))
    H = basis_pursuit(D, X)
    for x, h in zip(X, H):
        z = cp.Variable(15)
        prob = cp.Problem(cp.Minimize(cp.norm1(z)), [D @ z == x])
        prob.solve(solver="CLARABEL")
        assert np.allclose(D @ h, x, atol=1e-7)
        assert np.abs(h).sum() == pytest.approx(prob.value, rel=1e-6)
        assert np.count_nonzero(h) <= 6  # a vertex: at most n_features nonzeros


def test_basis_pursuit_recovers_a_sparse_signal():
    rng = np.random.default_rng(3)
    D = rng.standard_normal((20, 40))
    D /= np.linalg.norm(D, axis=0)
    h0 = np.zeros(40)
    h0[[3, 17, 31]] = [1.0, -2.0, 0.5]
    h = basis_pursuit(D, D @ h0)
    assert np.allclose(h, h0, atol=1e-7)
    assert np.count_nonzero(min_l2_representation(D, D @ h0)) == 40


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    D = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    h2 = min_l2_representation(torch.as_tensor(D), x)
    h1 = basis_pursuit(torch.as_tensor(D), x)
    assert isinstance(h2, torch.Tensor) and isinstance(h1, torch.Tensor)
    assert np.allclose(h1.numpy(), [[0.0, 0.0, 1.0]])
    assert np.allclose(h2.numpy(), np.linalg.pinv(D) @ [1.0, 1.0])


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: dct_matrix(0), ValueError, "n"),
        (lambda: dct_matrix(2.5), TypeError, "n"),
        (lambda: dct2_basis(-1), ValueError, "p"),
        (lambda: min_l2_representation(np.eye(3), np.ones(4)), ValueError, "X"),
        (lambda: min_l2_representation(np.ones(3), np.ones(3)), ValueError, "D"),
        (lambda: basis_pursuit(np.eye(2), np.array([np.nan, 1.0])), ValueError, "X"),
        (lambda: basis_pursuit(np.eye(2), np.ones(2), tol=-1.0), ValueError, "tol"),
        (lambda: basis_pursuit(np.array([[1.0], [0.0]]), np.array([0.0, 1.0])),
         ValueError, "span"),
    ],
)
def test_bad_inputs_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
