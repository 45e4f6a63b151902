"""lasso_active_set against scikit-learn's Lasso (an independent solver)."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from sparsecoding.active_set import lasso_active_set


def _problem(n_features, n_atoms, n_signals, k=3, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((n_signals, n_atoms))
    for i in range(n_signals):
        H[i, rng.choice(n_atoms, size=min(k, n_atoms), replace=False)] = rng.standard_normal(
            min(k, n_atoms))
    X = H @ D.T + noise * rng.standard_normal((n_signals, n_features))
    return D, X


def _objective(D, X, H, lam):
    R = X - H @ D.T
    return 0.5 * np.sum(R * R) + lam * np.sum(np.abs(H))


def _sklearn_codes(D, X, lam):
    model = Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-12, max_iter=100000)
    return np.atleast_2d(model.fit(D, X.T).coef_)


@pytest.mark.parametrize("shape", [(20, 50), (30, 10)])  # over- and under-complete
@pytest.mark.parametrize("lam", [0.02, 0.1])
def test_matches_sklearn(shape, lam):
    D, X = _problem(*shape, n_signals=15)
    res = lasso_active_set(D, X, lam)
    ref = _sklearn_codes(D, X, lam)
    f, f_ref = _objective(D, X, res.codes, lam), _objective(D, X, ref, lam)
    assert (f - f_ref) / f_ref < 1e-8
    assert res.converged and res.extra["exact_fraction"] == 1.0
    assert res.codes.shape == (15, shape[1])
    assert res.objective[-1] == pytest.approx(f, rel=1e-12)
    assert res.objective[0] == pytest.approx(0.5 * np.sum(X * X), rel=1e-12)


def test_lambda_above_lambda_max_gives_zero():
    D, X = _problem(20, 40, 5)
    lam = 1.01 * np.max(np.abs(X @ D))
    res = lasso_active_set(D, X, lam)
    assert np.all(res.codes == 0) and res.converged


def test_single_signal_is_1d():
    D, X = _problem(20, 40, 1)
    res = lasso_active_set(D, X[0], 0.05)
    assert res.codes.shape == (40,)
    ref = _sklearn_codes(D, X[:1], 0.05)[0]
    f, f_ref = _objective(D, X[0], res.codes, 0.05), _objective(D, X[0], ref, 0.05)
    assert (f - f_ref) / f_ref < 1e-8


def test_float32_input_returns_float32():
    D, X = _problem(20, 40, 8)
    res = lasso_active_set(D.astype(np.float32), X.astype(np.float32), 0.05)
    assert res.codes.dtype == np.float32
    ref = _sklearn_codes(D, X, 0.05)
    f, f_ref = _objective(D, X, res.codes.astype(np.float64), 0.05), _objective(D, X, ref, 0.05)
    assert (f - f_ref) / f_ref < 1e-6


def test_torch_input_returns_tensor():
    torch = pytest.importorskip("torch")
    D, X = _problem(20, 40, 6)
    Xt = torch.tensor(X, dtype=torch.float32)
    res = lasso_active_set(torch.tensor(D, dtype=torch.float32), Xt, 0.05)
    assert isinstance(res.codes, torch.Tensor)
    assert res.codes.dtype == Xt.dtype and res.codes.device == Xt.device
    ref = _sklearn_codes(D, X, 0.05)
    f = _objective(D, X, res.codes.double().numpy(), 0.05)
    assert (f - _objective(D, X, ref, 0.05)) / f < 1e-6


def test_wrong_support_guess_still_converges():
    D, X = _problem(20, 60, 20, k=6)
    lam = 0.02
    res = lasso_active_set(D, X, lam, warm_iter=1)  # one FISTA step: a poor guess
    ref = _sklearn_codes(D, X, lam)
    f, f_ref = _objective(D, X, res.codes, lam), _objective(D, X, ref, lam)
    assert (f - f_ref) / f_ref < 1e-8
    assert res.converged and res.extra["rounds"] >= 1


def test_fallback_finishes_unsolved_signals():
    D, X = _problem(20, 60, 10, k=6)
    lam = 0.02
    res = lasso_active_set(D, X, lam, max_iter=1, tol=1e-10)
    assert res.extra["fallback_signals"] > 0
    ref = _sklearn_codes(D, X, lam)
    f, f_ref = _objective(D, X, res.codes, lam), _objective(D, X, ref, lam)
    assert (f - f_ref) / f_ref < 1e-7


@pytest.mark.parametrize("kwargs, name", [
    ({"lam": -1.0}, "lam"),
    ({"max_iter": -1}, "max_iter"),
    ({"tol": -1e-3}, "tol"),
    ({"warm_iter": 1.5}, "warm_iter"),
    ({"n_add": 0}, "n_add"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_validation_names_argument(kwargs, name):
    D, X = _problem(10, 20, 3)
    args = {"lam": 0.1, **kwargs}
    with pytest.raises((ValueError, TypeError), match=name):
        lasso_active_set(D, X, **args)


def test_shape_mismatch_names_X_and_D():
    D, X = _problem(10, 20, 3)
    with pytest.raises(ValueError, match="X"):
        lasso_active_set(D, X[:, :5], 0.1)
