"""Tests of the greedy solvers against scikit-learn, scipy and exact constructions."""

import numpy as np
import pytest
from scipy.linalg import lstsq
from sklearn.linear_model import orthogonal_mp

from sparsecoding.greedy import cosamp, iht, matching_pursuit, omp, subspace_pursuit


def _unit_columns(A):
    return A / np.linalg.norm(A, axis=0)


def _random_dictionary(n_features, n_atoms, seed=0):
    rng = np.random.default_rng(seed)
    return _unit_columns(rng.standard_normal((n_features, n_atoms)))


def _coherent_dictionary(n_features, n_atoms, seed=0):
    """Atoms that share a common component: mutual coherence about 0.8."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n_features, 1))
    A = 2.0 * common + rng.standard_normal((n_features, n_atoms))
    return _unit_columns(A)


def _sparse_codes(n_signals, n_atoms, s, seed=1):
    rng = np.random.default_rng(seed)
    H = np.zeros((n_signals, n_atoms))
    for i in range(n_signals):
        H[i, rng.choice(n_atoms, s, replace=False)] = (
            rng.choice([-1.0, 1.0], s) * (1.0 + rng.random(s)))
    return H


def _signals(D, s, n_signals=12, noise=0.05, seed=1):
    rng = np.random.default_rng(seed + 100)
    H = _sparse_codes(n_signals, D.shape[1], s, seed)
    return H @ D.T + noise * rng.standard_normal((n_signals, D.shape[0]))


# ------------------------------------------------------------------------------ OMP


@pytest.mark.parametrize("make", [_random_dictionary, _coherent_dictionary])
@pytest.mark.parametrize("n_nonzero", [1, 4, 9])
def test_omp_matches_sklearn_orthogonal_mp(make, n_nonzero):
    D = make(30, 60)
    X = _signals(D, 5)
    res = omp(D, X, n_nonzero=n_nonzero)
    ref = orthogonal_mp(D, X.T, n_nonzero_coefs=n_nonzero).T
    np.testing.assert_array_equal(res.codes != 0, ref != 0)
    np.testing.assert_allclose(res.codes, ref, atol=1e-9)
    assert res.converged and res.n_iter == n_nonzero
    assert np.all(res.extra["n_nonzero"] == n_nonzero)
    R = X - ref @ D.T
    assert res.objective[-1] == pytest.approx(0.5 * np.sum(R * R), rel=1e-8)
    assert res.objective[0] == pytest.approx(0.5 * np.sum(X * X))
    assert np.all(np.diff(res.objective) <= 1e-12)


@pytest.mark.parametrize("make", [_random_dictionary, _coherent_dictionary])
def test_omp_tolerance_matches_sklearn(make):
    D = make(25, 50, seed=3)
    X = _signals(D, 4, n_signals=8, noise=0.02, seed=3)
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # sklearn's tol is absolute
    tol = 0.1
    res = omp(D, X, tol=tol)
    ref = orthogonal_mp(D, X.T, tol=tol**2).T
    np.testing.assert_array_equal(res.codes != 0, ref != 0)
    np.testing.assert_allclose(res.codes, ref, atol=1e-9)
    assert res.converged
    assert np.all(np.linalg.norm(X - res.codes @ D.T, axis=1) <= tol + 1e-12)


def test_omp_single_signal_and_least_squares_on_support():
    D = _random_dictionary(20, 40, seed=5)
    x = _signals(D, 3, n_signals=1, seed=5)[0]
    res = omp(D, x, n_nonzero=6)
    assert res.codes.shape == (40,)
    S = np.flatnonzero(res.codes)
    assert len(S) == 6
    coef = lstsq(D[:, S], x)[0]  # scipy's least squares on the chosen atoms
    np.testing.assert_allclose(res.codes[S], coef, atol=1e-10)
    # the residual is orthogonal to every chosen atom
    np.testing.assert_allclose(D[:, S].T @ (x - D @ res.codes), 0.0, atol=1e-10)


def test_omp_recovers_a_sparse_code_exactly_and_stops_on_zero_residual():
    D = _random_dictionary(60, 120, seed=2)
    H = _sparse_codes(10, 120, 4, seed=2)
    res = omp(D, H @ D.T, n_nonzero=10)
    np.testing.assert_allclose(res.codes, H, atol=1e-10)


def test_omp_stops_on_dependent_atoms():
    D = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    D = _unit_columns(D)
    res = omp(D, np.array([1.0, 0.2, 0.0]), n_nonzero=2)
    np.testing.assert_allclose(D @ res.codes, [1.0, 0.2, 0.0], atol=1e-12)


def test_omp_float32_and_unnormalised_atoms():
    D = _random_dictionary(30, 60, seed=4)
    X = _signals(D, 5, seed=4)
    scale = np.linspace(0.5, 3.0, 60)
    res = omp((D * scale).astype(np.float32), X.astype(np.float32), n_nonzero=5)
    ref = orthogonal_mp(D, X.T, n_nonzero_coefs=5).T
    assert res.codes.dtype == np.float32
    np.testing.assert_array_equal(res.codes != 0, ref != 0)
    np.testing.assert_allclose(res.codes * scale, ref, atol=1e-4)


# ------------------------------------------------------------------ matching pursuit


def test_matching_pursuit_residual_decreases_and_identity():
    D = _random_dictionary(30, 60, seed=6)
    X = _signals(D, 5, seed=6)
    res = matching_pursuit(D, X, max_iter=40)
    assert np.all(np.diff(res.objective) <= 1e-12)
    R = X - res.codes @ D.T
    np.testing.assert_allclose(res.extra["residual"], R, atol=1e-10)
    assert res.objective[-1] == pytest.approx(0.5 * np.sum(R * R), rel=1e-10)
    # each step removes the square of one correlation (unit-norm atoms)
    assert res.objective[0] - res.objective[-1] > 0
    assert not res.converged  # no tolerance given


def test_matching_pursuit_first_step_is_the_best_atom_projection():
    D = _random_dictionary(20, 30, seed=7)
    x = np.random.default_rng(7).standard_normal(20)
    res = matching_pursuit(D, x, max_iter=1)
    c = D.T @ x
    j = np.argmax(np.abs(c))
    expected = np.zeros(30)
    expected[j] = c[j]
    np.testing.assert_allclose(res.codes, expected, atol=1e-12)


def test_matching_pursuit_orthonormal_basis_is_exact():
    Q = np.linalg.qr(np.random.default_rng(8).standard_normal((16, 16)))[0]
    x = np.random.default_rng(9).standard_normal(16)
    res = matching_pursuit(Q, x, tol=1e-10)
    np.testing.assert_allclose(res.codes, Q.T @ x, atol=1e-10)
    assert res.converged and res.n_iter <= 16


# ------------------------------------------------- IHT, CoSaMP and subspace pursuit


def _gaussian_problem(m=80, n=200, s=6, n_signals=10, seed=10):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    H = _sparse_codes(n_signals, n, s, seed)
    return A, H, H @ A.T


@pytest.mark.parametrize("solver, kwargs", [
    (iht, {"step": "normalized", "tol": 1e-12, "max_iter": 2000}),
    (cosamp, {}),
    (subspace_pursuit, {}),
])
def test_recovery_in_the_easy_regime(solver, kwargs):
    A, H, Y = _gaussian_problem()
    res = solver(A, Y, n_nonzero=6, **kwargs)
    np.testing.assert_array_equal(res.codes != 0, H != 0)
    np.testing.assert_allclose(res.codes, H, atol=1e-6)
    assert res.converged
    assert res.objective[-1] < 1e-10 * res.objective[0]


def test_iht_fixed_step_decreases_the_residual():
    A, H, Y = _gaussian_problem(m=100, n=120, s=3, seed=11)
    res = iht(A, Y, n_nonzero=3, step="fixed", max_iter=3000, tol=1e-12)
    assert np.all(np.diff(res.objective) <= 1e-10 * res.objective[0])
    np.testing.assert_allclose(res.codes, H, atol=1e-5)


def test_cosamp_codes_are_least_squares_on_their_support():
    A, _, Y = _gaussian_problem(seed=12)
    Y = Y + 0.01 * np.random.default_rng(12).standard_normal(Y.shape)
    res = cosamp(A, Y, n_nonzero=6)
    for h, y in zip(res.codes, Y):
        S = np.flatnonzero(h)
        assert len(S) <= 6
        # the last step keeps the s largest of a least-squares fit on more atoms; the
        # residual is at most that of the best fit on the same support plus a margin
        best = lstsq(A[:, S], y)[0]
        assert np.linalg.norm(y - A @ h) <= 1.5 * np.linalg.norm(y - A[:, S] @ best)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize("call, exc, match", [
    (lambda D, X: omp(D, X, n_nonzero=0), ValueError, "n_nonzero"),
    (lambda D, X: omp(D, X, n_nonzero=2.5), TypeError, "n_nonzero"),
    (lambda D, X: omp(D, X, n_nonzero=50), ValueError, "n_nonzero"),
    (lambda D, X: omp(D, X, tol=-1.0), ValueError, "tol"),
    (lambda D, X: omp(D, X[:, :5], n_nonzero=2), ValueError, "features"),
    (lambda D, X: omp(D, np.full_like(X, np.nan), n_nonzero=2), ValueError, "X"),
    (lambda D, X: omp(D.ravel(), X, n_nonzero=2), ValueError, "D"),
    (lambda D, X: omp(D, "x", n_nonzero=2), TypeError, "X"),
    (lambda D, X: matching_pursuit(D, X, max_iter=0), ValueError, "max_iter"),
    (lambda D, X: iht(D, X, n_nonzero=3, step="big"), ValueError, "step"),
    (lambda D, X: iht(D, X, n_nonzero=None), TypeError, "n_nonzero"),
    (lambda D, X: iht(D, X, n_nonzero=3, c=1.5), ValueError, "c"),
    (lambda D, X: cosamp(D, X, n_nonzero=-1), ValueError, "n_nonzero"),
    (lambda D, X: subspace_pursuit(D, X, n_nonzero=3, tol=float("inf")), ValueError,
     "tol"),
])
def test_validation_names_the_argument(call, exc, match):
    D = _random_dictionary(10, 20)
    X = np.ones((3, 10))
    with pytest.raises(exc, match=match):
        call(D, X)


def test_omp_default_sparsity_is_sklearns():
    D = _random_dictionary(30, 60)
    X = _signals(D, 5)
    res = omp(D, X)
    ref = orthogonal_mp(D, X.T).T
    np.testing.assert_allclose(res.codes, ref, atol=1e-9)


def test_zero_signal_gives_zero_code():
    D = _random_dictionary(10, 20)
    for solver in (omp, cosamp, subspace_pursuit, iht):
        res = solver(D, np.zeros(10), n_nonzero=2)
        assert np.all(res.codes == 0) and res.converged


# ----------------------------------------------------------------------------- torch


@pytest.mark.parametrize("solver, kwargs", [
    (omp, {"n_nonzero": 6}),
    (matching_pursuit, {"max_iter": 10}),
    (iht, {"n_nonzero": 6}),
    (cosamp, {"n_nonzero": 6}),
    (subspace_pursuit, {"n_nonzero": 6}),
])
def test_torch_in_torch_out(solver, kwargs):
    torch = pytest.importorskip("torch")
    A, H, Y = _gaussian_problem(seed=13)
    At = torch.tensor(A, dtype=torch.float32)
    Yt = torch.tensor(Y, dtype=torch.float32, requires_grad=True)
    res = solver(At, Yt, **kwargs)
    assert isinstance(res.codes, torch.Tensor)
    assert res.codes.dtype == torch.float32 and res.codes.device == Yt.device
    assert not res.codes.requires_grad
    codes = res.codes.numpy()
    if solver is matching_pursuit:  # the residual identity, in float32
        np.testing.assert_allclose(res.extra["residual"].numpy(), Y - codes @ A.T,
                                   atol=1e-4)
    else:  # exact recovery of the s-sparse truth
        np.testing.assert_array_equal(codes != 0, H != 0)
        np.testing.assert_allclose(codes, H, atol=1e-3)


def test_torch_omp_matches_sklearn():
    torch = pytest.importorskip("torch")
    D = _coherent_dictionary(30, 60, seed=14)
    X = _signals(D, 4, seed=14)
    res = omp(torch.tensor(D), torch.tensor(X), n_nonzero=6)
    ref = orthogonal_mp(D, X.T, n_nonzero_coefs=6).T
    np.testing.assert_allclose(res.codes.numpy(), ref, atol=1e-9)


def test_one_sparsity_per_signal():
    A, _, _ = _gaussian_problem()
    s = np.array([1, 3, 6, 2])
    H = np.vstack([_sparse_codes(1, A.shape[1], k, seed=20 + k) for k in s])
    Y = H @ A.T
    for solver in (omp, iht, cosamp, subspace_pursuit):
        res = solver(A, Y, n_nonzero=s)
        np.testing.assert_allclose(res.codes, H, atol=1e-5, err_msg=solver.__name__)
    D = _random_dictionary(30, 60, seed=21)
    X = _signals(D, 5, n_signals=4, seed=21)
    res = omp(D, X, n_nonzero=s)
    for i, k in enumerate(s):
        ref = orthogonal_mp(D, X[i], n_nonzero_coefs=int(k))
        np.testing.assert_allclose(res.codes[i], ref, atol=1e-9)
    with pytest.raises(TypeError, match="n_nonzero"):
        omp(D, X, n_nonzero=np.array([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(TypeError, match="n_nonzero"):
        omp(D, X, n_nonzero=[1, 2])
    with pytest.raises(ValueError, match="n_nonzero"):
        omp(D, X, n_nonzero=[1, 2, 0, 1])
