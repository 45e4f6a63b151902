"""Tests of sparsecoding.subgradient against closed forms, cvxpy and scikit-learn."""

import numpy as np
import pytest

from sparsecoding.subgradient import (
    lasso_subdifferential_min_norm,
    lasso_subgradient,
    subgradient_method,
)


def _problem(seed=0, n_features=8, n_atoms=12, n_signals=3):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((n_signals, n_features))
    return D, X


def _objective(D, x, h, lam):
    return 0.5 * np.sum((x - D @ h) ** 2) + lam * np.sum(np.abs(h))


def test_min_norm_closed_form_coordinatewise():
    # With D = I the objective separates: F(h) = sum_i (h_i - x_i)^2 / 2 + lam |h_i|.
    x = np.array([2.0, 0.3, -0.3, -2.0, 1.0])
    h = np.array([1.0, 0.0, 0.0, 0.0, -0.5])
    lam = 0.5
    v = lasso_subdifferential_min_norm(np.eye(5), x, h, lam)
    # nonzero h: gradient h - x plus lam sign(h); zero h: soft threshold of -x
    expected = np.array([1.0 - 2.0 + 0.5, 0.0, 0.0, 2.0 - 0.5, -0.5 - 1.0 - 0.5])
    np.testing.assert_allclose(v, expected)


def test_min_norm_is_the_projection_found_by_cvxpy():
    cp = pytest.importorskip("cvxpy")
    D, X = _problem(1)
    rng = np.random.default_rng(2)
    H = rng.standard_normal((3, 12)) * (rng.random((3, 12)) < 0.4)
    lam = 0.3
    V = lasso_subdifferential_min_norm(D, X, H, lam)
    for x, h, v in zip(X, H, V):
        g = D.T @ (D @ h - x)
        s = cp.Variable(12)
        cons = [s[h > 0] == 1, s[h < 0] == -1, s >= -1, s <= 1]
        cp.Problem(cp.Minimize(cp.sum_squares(g + lam * s)), cons).solve()
        np.testing.assert_allclose(v, g + lam * s.value, atol=1e-5)


def test_min_norm_is_steepest_descent_by_finite_differences():
    D, X = _problem(3)
    rng = np.random.default_rng(4)
    h = rng.standard_normal(12) * (rng.random(12) < 0.5)
    x, lam, t = X[0], 0.4, 1e-7
    v = lasso_subdifferential_min_norm(D, x, h, lam)
    F0 = _objective(D, x, h, lam)
    u = -v / np.linalg.norm(v)
    slope = (_objective(D, x, h + t * u, lam) - F0) / t
    # the directional derivative along -v/|v| is -|v|, the steepest possible
    assert slope == pytest.approx(-np.linalg.norm(v), rel=1e-4)
    for _ in range(50):  # no unit direction descends faster
        d = rng.standard_normal(12)
        d /= np.linalg.norm(d)
        assert (_objective(D, x, h + t * d, lam) - F0) / t >= slope - 1e-4


def test_min_norm_vanishes_at_sklearn_solution():
    from sklearn.linear_model import Lasso

    D, X = _problem(5, n_features=20, n_atoms=10)
    lam = 0.2
    model = Lasso(alpha=lam / 20, fit_intercept=False, tol=1e-12, max_iter=100000)
    h = model.fit(D, X[0]).coef_
    assert np.abs(lasso_subdifferential_min_norm(D, X[0], h, lam)).max() < 1e-6


def test_sign_subgradient_and_shapes():
    D, X = _problem(6)
    H = np.zeros((3, 12))
    np.testing.assert_allclose(lasso_subgradient(D, X, H, 0.1), -X @ D)
    assert lasso_subdifferential_min_norm(D, X[0], H[0], 0.1).shape == (12,)


def test_subgradient_method_approaches_sklearn_but_is_not_sparse():
    from sklearn.linear_model import Lasso

    D, X = _problem(7, n_features=20, n_atoms=10, n_signals=1)
    lam = 0.5
    ref = Lasso(alpha=lam / 20, fit_intercept=False, tol=1e-12, max_iter=100000)
    h_star = ref.fit(D, X[0]).coef_
    F_star = _objective(D, X[0], h_star, lam)
    assert np.sum(h_star == 0) > 0
    res = subgradient_method(D, X[0], lam, max_iter=3000)
    assert res.objective.shape == (3001,)
    best = res.best_objective
    assert np.all(np.diff(best) <= 0)
    assert best[-1] - F_star < 1e-3 * F_star
    assert np.sum(res.codes == 0) == 0  # no iterate lands exactly on zero
    assert not res.converged


@pytest.mark.parametrize("step", ["diminishing", "square_summable", "constant"])
def test_subgradient_method_steps_decrease_objective(step):
    D, X = _problem(8)
    res = subgradient_method(D, X, 0.1, max_iter=200, step=step, direction="min_norm")
    assert res.best_objective[-1] < res.objective[0]
    assert res.codes.shape == (3, 12)
    assert res.step == step and res.extra["best_objective"] is res.best_objective


def test_bad_inputs_name_the_argument():
    D, X = _problem(9)
    with pytest.raises(ValueError, match="lam"):
        subgradient_method(D, X, -1.0)
    with pytest.raises(ValueError, match="step"):
        subgradient_method(D, X, 0.1, step="armijo")
    with pytest.raises(ValueError, match="step_size"):
        subgradient_method(D, X, 0.1, step_size=0.0)
    with pytest.raises(ValueError, match="direction"):
        subgradient_method(D, X, 0.1, direction="random")
    with pytest.raises(ValueError, match="H"):
        lasso_subdifferential_min_norm(D, X, np.zeros((3, 5)), 0.1)
    with pytest.raises(ValueError, match="init"):
        subgradient_method(D, X, 0.1, init=np.zeros(4))
    with pytest.raises(ValueError, match="X"):
        lasso_subgradient(D, np.zeros((3, 5)), np.zeros((3, 12)), 0.1)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    D, X = _problem(10)
    Xt = torch.as_tensor(X)
    res = subgradient_method(torch.as_tensor(D), Xt, 0.1, max_iter=50, step_size=0.1)
    ref = subgradient_method(D, X, 0.1, max_iter=50, step_size=0.1)
    assert isinstance(res.codes, torch.Tensor)
    np.testing.assert_allclose(res.codes.numpy(), ref.codes, atol=1e-10)
    V = lasso_subdifferential_min_norm(torch.as_tensor(D), Xt, torch.zeros(3, 12), 0.1)
    assert isinstance(V, torch.Tensor)
