"""The lasso front door ``sparsecoding.lasso`` against independent solvers (scikit-learn,
cvxpy) on small copies of the benchmark regimes; no timing."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import sparsecoding as sc
from sparsecoding import auto


def _regime(kind, seed=0):
    rng = np.random.default_rng(seed)
    f, p, k, lam = {"benchmark": (16, 48, 3, 0.03), "large": (40, 120, 6, 0.03),
                    "coherent": (16, 64, 3, 0.03), "under": (48, 12, 3, 0.03),
                    "small-lam": (16, 48, 3, 0.002)}[kind]
    D = rng.standard_normal((f, p))
    if kind == "coherent":  # moving averages of white noise: strongly correlated atoms
        D = np.stack([np.convolve(np.r_[D[:, j], D[:5, j]], np.ones(6) / 6,
                                  mode="valid")[:f] for j in range(p)], axis=1)
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((6, p))
    for i in range(6):
        H[i, rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    X = H @ D.T + 0.01 * rng.standard_normal((6, f))
    return D, X, lam


def _objective(D, X, H, lam):
    R = X - H @ D.T
    return 0.5 * np.sum(R * R, axis=1) + lam * np.sum(np.abs(H), axis=1)


def _sklearn(D, X, lam):
    model = Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-12,
                  max_iter=1_000_000)
    return np.atleast_2d(model.fit(D, X.T).coef_)


@pytest.mark.parametrize("kind", ["benchmark", "large", "coherent", "under", "small-lam"])
def test_front_door_matches_scikit_learn(kind):
    D, X, lam = _regime(kind)
    res = sc.lasso(D, X, lam, tol=1e-9)
    ref = _sklearn(D, X, lam)
    ours, theirs = _objective(D, X, res.codes, lam), _objective(D, X, ref, lam)
    # the lasso objective has one minimum value: ours may only be lower (tighter)
    assert np.all(ours <= theirs + 1e-9 * np.maximum(theirs, 1.0))
    assert res.converged
    assert res.extra["method"] in auto.METHODS
    assert res.extra["rule"]
    assert res.codes.shape == X.shape[:1] + D.shape[1:]


def test_front_door_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    D, X, lam = _regime("coherent", seed=1)
    x = X[0]
    h = cp.Variable(D.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ h) + lam * cp.norm1(h)))
    prob.solve()
    res = sc.lasso(D, x, lam, tol=1e-10)
    assert res.codes.shape == (D.shape[1],)
    assert _objective(D, x[None], res.codes[None], lam)[0] <= prob.value + 1e-7


def test_method_recorded_and_forced_methods_agree():
    D, X, lam = _regime("benchmark", seed=2)
    auto_res = sc.lasso(D, X, lam)
    assert auto_res.extra["method"] == auto.choose_method(D, X, lam)[0] == "homotopy"
    forced = sc.lasso(D, X, lam, method="fista", tol=1e-10)
    assert forced.extra["method"] == "fista"
    assert forced.extra["rule"] == "chosen by the caller"
    np.testing.assert_allclose(_objective(D, X, forced.codes, lam),
                               _objective(D, X, auto_res.codes, lam), rtol=1e-7)


def test_cached_gram_follows_a_dictionary_changed_in_place():
    D, X, lam = _regime("benchmark", seed=3)
    D = D.copy()
    first = sc.lasso(D, X, lam).codes
    D[:, :5] = np.linalg.qr(np.random.default_rng(0).standard_normal((D.shape[0], 5)))[0]
    second = sc.lasso(D, X, lam).codes
    ref = _sklearn(D, X, lam)
    assert not np.allclose(first, second)
    assert np.all(_objective(D, X, second, lam)
                  <= _objective(D, X, ref, lam) * (1 + 1e-9) + 1e-12)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    D, X, lam = _regime("under", seed=4)
    res = sc.lasso(torch.tensor(D), torch.tensor(X, dtype=torch.float32), lam)
    assert isinstance(res.codes, torch.Tensor) and res.codes.dtype == torch.float32
    assert res.extra["method"] == "homotopy"  # a CPU tensor: the CPU rule


def test_invalid_arguments_are_named():
    D, X, lam = _regime("benchmark")
    with pytest.raises(ValueError, match="method"):
        sc.lasso(D, X, lam, method="lars")
    with pytest.raises(ValueError, match="lam"):
        sc.lasso(D, X, -1.0)
    with pytest.raises(ValueError, match="tol"):
        sc.lasso(D, X, lam, tol=-1.0)
    with pytest.raises(ValueError):
        sc.lasso(D, X[:, :3], lam)
    with pytest.raises(ValueError, match="gram"):
        sc.homotopy(D, X, lam, gram=np.eye(3))


def test_one_signal_calls_with_the_cached_dictionary_match_scikit_learn():
    """Calls of one signal with an unchanged dictionary take the short way (the
    dictionary checked by comparison with the cached copy, one block, no copies):
    their codes are scikit-learn's, 1-D and 2-D, float64 and float32."""
    D, X, lam = _regime("benchmark", seed=5)
    ref = _sklearn(D, X, lam)
    ref_obj = _objective(D, X, ref, lam)
    for i in range(X.shape[0]):
        for x in (X[i], X[i:i + 1]):
            res = sc.lasso(D, x, lam, tol=1e-9)
            assert res.converged and res.codes.shape == x.shape[:-1] + D.shape[1:]
            h = np.atleast_2d(res.codes)
            assert _objective(D, X[i:i + 1], h, lam)[0] <= ref_obj[i] * (1 + 1e-9) + 1e-12
    res32 = sc.lasso(D, X[0].astype(np.float32), lam)
    assert res32.codes.dtype == np.float32
    np.testing.assert_allclose(res32.codes, ref[0], atol=1e-4)


def test_many_signals_with_blas_correlations_match_scikit_learn():
    """From 128 signals on, the correlations come from one matrix product per block
    of signals: the codes are still scikit-learn's, for every signal."""
    rng = np.random.default_rng(6)
    D = rng.standard_normal((24, 10))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((150, 24))
    lam = 0.3
    res = sc.lasso(D, X, lam, tol=1e-10)
    ref = _sklearn(D, X, lam)
    assert res.converged
    ours, theirs = _objective(D, X, res.codes, lam), _objective(D, X, ref, lam)
    assert np.all(ours <= theirs + 1e-9 * np.maximum(theirs, 1.0))
    np.testing.assert_allclose(res.codes, ref, atol=1e-6)


def test_a_cached_dictionary_changed_to_invalid_values_is_refused():
    """The dictionary check by comparison with the cached copy must not let a
    dictionary through that changed in place to NaN, inf or an overflowing scale."""
    D, X, lam = _regime("benchmark", seed=7)
    D = D.copy()
    sc.lasso(D, X[0], lam)  # cached
    D[0, 0] = np.nan
    with pytest.raises(ValueError, match="D must contain only finite"):
        sc.lasso(D, X[0], lam)
    D[0, 0] = np.inf
    with pytest.raises(ValueError, match="D must contain only finite"):
        sc.lasso(D, X[0], lam)
    D[0, 0] = 1e300
    with pytest.raises(ValueError, match="D"):
        sc.lasso(D, X[0], lam)
    D[0, 0] = 0.5
    sc.lasso(D, X[0], lam)  # cached again
    bad = X[0].copy()
    bad[1] = np.nan
    with pytest.raises(ValueError, match="X must contain only finite"):
        sc.lasso(D, bad, lam)
    with pytest.raises(ValueError, match="X has 3 features"):
        sc.lasso(D, X[0, :3], lam)
    with pytest.raises(ValueError, match="overflow"):
        sc.lasso(D, X[0] * 1e300, lam)
    with pytest.raises(TypeError, match="float32 or float64"):
        sc.lasso(D, X[0].astype(np.longdouble), lam)
