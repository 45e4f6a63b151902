"""Tests of coordinate descent and ADMM against scikit-learn's Lasso and cvxpy."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from sparsecoding.duality import duality_gap
from sparsecoding.splitting import admm, coordinate_descent

SOLVERS = {
    "cd": coordinate_descent,
    "cd-full-sweeps": lambda *a, **k: coordinate_descent(*a, active_set=False, **k),
    "admm": admm,
    "admm-fixed-rho": lambda *a, **k: admm(*a, adaptive_rho=False, rho=0.5, **k),
}


def _problem(kind, n_signals=4, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "random":
        D = rng.standard_normal((20, 35))
    elif kind == "coherent":  # atoms close to a few common directions
        base = rng.standard_normal((20, 5))
        D = base[:, rng.integers(0, 5, 40)] + 0.3 * rng.standard_normal((20, 40))
    elif kind == "tall":  # more features than atoms (m > k)
        D = rng.standard_normal((40, 15))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((n_signals, D.shape[0]))
    lam = 0.2 * np.max(np.abs(X @ D))
    return D, X, lam


def _sklearn_lasso(D, X, lam):
    # scikit-learn's Lasso minimises 1/(2n) ||x - Dh||^2 + alpha ||h||_1: alpha = lam/n.
    model = Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-14,
                  max_iter=200_000)
    return np.array([model.fit(D, x).coef_ for x in X])


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("kind", ["random", "coherent", "tall"])
def test_matches_sklearn_lasso_float64(name, kind):
    D, X, lam = _problem(kind)
    res = SOLVERS[name](D, X, lam, tol=1e-12, max_iter=20_000)
    ref = _sklearn_lasso(D, X, lam)
    assert res.converged
    assert res.codes.dtype == np.float64 and res.codes.shape == ref.shape
    np.testing.assert_allclose(res.codes, ref, atol=2e-5)
    # the objectives agree much more tightly than the codes (flat directions)
    F = 0.5 * np.sum((X - res.codes @ D.T) ** 2) + lam * np.abs(res.codes).sum()
    F_ref = 0.5 * np.sum((X - ref @ D.T) ** 2) + lam * np.abs(ref).sum()
    assert F == pytest.approx(F_ref, rel=1e-10)
    assert res.objective[-1] == pytest.approx(F, rel=1e-12)
    assert len(res.objective) == res.n_iter + 1


@pytest.mark.parametrize("name", ["cd", "admm"])
@pytest.mark.parametrize("kind", ["random", "coherent", "tall"])
def test_float32(name, kind):
    D, X, lam = _problem(kind, seed=1)
    res = SOLVERS[name](D.astype(np.float32), X.astype(np.float32), lam, tol=1e-5,
                        max_iter=20_000)
    assert res.converged and res.codes.dtype == np.float32
    ref = _sklearn_lasso(D, X, lam)
    F = 0.5 * np.sum((X - res.codes @ D.T) ** 2) + lam * np.abs(res.codes).sum()
    F_ref = 0.5 * np.sum((X - ref @ D.T) ** 2) + lam * np.abs(ref).sum()
    assert F == pytest.approx(F_ref, rel=1e-4)


@pytest.mark.parametrize("name", ["cd", "admm"])
def test_matches_cvxpy(name):
    cp = pytest.importorskip("cvxpy")
    D, X, lam = _problem("coherent", n_signals=2, seed=3)
    res = SOLVERS[name](D, X, lam, tol=1e-12, max_iter=20_000)
    for x, h in zip(X, res.codes):
        v = cp.Variable(D.shape[1])
        objective = 0.5 * cp.sum_squares(x - D @ v) + lam * cp.norm1(v)
        cp.Problem(cp.Minimize(objective)).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        F = 0.5 * np.sum((x - D @ h) ** 2) + lam * np.abs(h).sum()
        assert F <= objective.value + 1e-8
        np.testing.assert_allclose(h, v.value, atol=1e-4)


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_converged_means_relative_gap_below_tol(name, tol):
    D, X, lam = _problem("random", n_signals=6, seed=4)
    res = SOLVERS[name](D, X, lam, tol=tol, max_iter=20_000)
    assert res.converged
    assert np.all(duality_gap(D, X, res.codes, lam).relative <= tol)
    # stopped no later than needed: the previous iterate did not meet the rule
    short = SOLVERS[name](D, X, lam, tol=tol, max_iter=res.n_iter - 1)
    assert not short.converged


@pytest.mark.parametrize("name", ["cd", "admm"])
def test_not_converged_when_max_iter_too_small(name):
    D, X, lam = _problem("coherent")
    res = SOLVERS[name](D, X, lam, tol=1e-12, max_iter=3)
    assert not res.converged and res.n_iter == 3 and len(res.objective) == 4
    assert np.any(duality_gap(D, X, res.codes, lam).relative > 1e-12)


def test_coordinate_descent_objective_decreases():
    D, X, lam = _problem("coherent")
    res = coordinate_descent(D, X, lam, tol=1e-10, max_iter=5000)
    assert np.all(np.diff(res.objective) <= 1e-12 * res.objective[:-1])
    assert res.extra["full_sweeps"] >= 1


@pytest.mark.parametrize("name", ["cd", "admm"])
def test_warm_start(name):
    D, X, lam = _problem("random", seed=5)
    cold = SOLVERS[name](D, X, lam, tol=1e-8, max_iter=20_000)
    warm = SOLVERS[name](D, X, lam, tol=1e-8, max_iter=20_000, init=cold.codes)
    assert warm.converged and warm.n_iter == 0  # already certified at the start
    near = SOLVERS[name](D, X, lam * 1.05, tol=1e-8, max_iter=20_000, init=cold.codes)
    far = SOLVERS[name](D, X, lam * 1.05, tol=1e-8, max_iter=20_000)
    assert near.converged and near.n_iter < far.n_iter
    np.testing.assert_allclose(near.codes, far.codes, atol=1e-5)


@pytest.mark.parametrize("name", ["cd", "admm"])
def test_torch_in_torch_out(name):
    torch = pytest.importorskip("torch")
    D, X, lam = _problem("random", seed=6)
    ref = _sklearn_lasso(D, X, lam)
    for dtype, tol, atol in ((torch.float64, 1e-10, 1e-3), (torch.float32, 1e-5, 2e-2)):
        res = SOLVERS[name](torch.as_tensor(D, dtype=dtype), torch.as_tensor(X, dtype=dtype),
                            lam, tol=tol, max_iter=20_000)
        assert torch.is_tensor(res.codes) and res.codes.dtype == dtype
        assert res.converged and isinstance(res.objective, np.ndarray)
        np.testing.assert_allclose(res.codes.numpy(), ref, atol=atol)


@pytest.mark.parametrize("name", ["cd", "admm"])
def test_single_signal_and_edge_cases(name):
    D, X, lam = _problem("tall")
    res = SOLVERS[name](D, X[0], lam, tol=1e-12, max_iter=20_000)
    assert res.codes.shape == (D.shape[1],)
    np.testing.assert_allclose(res.codes, _sklearn_lasso(D, X[:1], lam)[0], atol=2e-5)
    # a zero signal and lam >= lam_max give zero codes at once
    zero = SOLVERS[name](D, np.zeros((2, D.shape[0])), lam)
    assert zero.converged and zero.n_iter == 0 and not np.any(zero.codes)
    big = SOLVERS[name](D, X, 1.01 * np.max(np.abs(X @ D)))
    assert big.converged and not np.any(big.codes)
    # lam = 0 with more features than atoms: least squares
    ls = SOLVERS[name](D, X, 0.0, tol=1e-10, max_iter=20_000)
    assert ls.converged
    np.testing.assert_allclose(ls.codes, np.linalg.lstsq(D, X.T, rcond=None)[0].T,
                               atol=1e-6)


def test_coordinate_descent_zero_atom():
    D, X, lam = _problem("random")
    D[:, 3] = 0.0
    res = coordinate_descent(D, X, lam, tol=1e-12, max_iter=20_000,
                             init=np.ones((X.shape[0], D.shape[1])))
    assert res.converged and not np.any(res.codes[:, 3])
    np.testing.assert_allclose(res.codes, _sklearn_lasso(D, X, lam), atol=2e-5)


def test_admm_wide_and_tall_factorisations_agree():
    # more atoms than features: the inversion lemma; the other way: DᵀD + rho I
    for kind in ("random", "tall"):
        D, X, lam = _problem(kind, seed=7)
        res = admm(D, X, lam, rho=0.7, adaptive_rho=False, tol=1e-12, max_iter=20_000)
        np.testing.assert_allclose(res.codes, _sklearn_lasso(D, X, lam), atol=2e-5)
        assert res.extra["rho"] == 0.7


@pytest.mark.parametrize("solver", [coordinate_descent, admm])
def test_validation(solver):
    D, X, lam = _problem("random")
    with pytest.raises(ValueError, match="lam"):
        solver(D, X, -1.0)
    with pytest.raises(TypeError, match="max_iter"):
        solver(D, X, lam, max_iter=2.5)
    with pytest.raises(ValueError, match="max_iter"):
        solver(D, X, lam, max_iter=-1)
    with pytest.raises(ValueError, match="tol"):
        solver(D, X, lam, tol=-1e-3)
    with pytest.raises(ValueError, match="init"):
        solver(D, X, lam, init=np.zeros((X.shape[0], D.shape[1] + 1)))
    with pytest.raises(ValueError, match="features"):
        solver(D, X[:, :-1], lam)
    with pytest.raises(ValueError, match="X"):
        solver(D, np.full_like(X, np.nan), lam)
    with pytest.raises(TypeError, match="lam"):
        solver(D, X, "0.1")


def test_validation_of_own_options():
    D, X, lam = _problem("random")
    with pytest.raises(TypeError, match="active_set"):
        coordinate_descent(D, X, lam, active_set="yes")
    with pytest.raises(ValueError, match="rho"):
        admm(D, X, lam, rho=0.0)
    with pytest.raises(TypeError, match="adaptive_rho"):
        admm(D, X, lam, adaptive_rho=1)
    with pytest.raises(ValueError, match="mu"):
        admm(D, X, lam, mu=1.0)
    with pytest.raises(ValueError, match="tau"):
        admm(D, X, lam, tau=0.5)
