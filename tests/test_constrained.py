"""Tests of projected gradient descent, scale-free attention and softmax."""

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

from sparsecoding import sparsemax
from sparsecoding.constrained import projected_gradient, scale_free_attention, softmax

cp = pytest.importorskip("cvxpy")


def _problem(n_features=8, n_atoms=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_features, n_atoms)), rng.standard_normal((3, n_features))


def _solve(problem):
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                  tol_feas=1e-12)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_simplex_matches_cvxpy(ridge, accelerated):
    D, X = _problem(n_features=15, n_atoms=10)
    res = projected_gradient(D, X, constraint="simplex", ridge=ridge, max_iter=50_000,
                             tol=1e-12, accelerated=accelerated)
    assert res.converged
    for x, h in zip(X, res.codes):
        y = cp.Variable(D.shape[1])
        _solve(cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ y)
                                      + 0.5 * ridge * cp.sum_squares(y)),
                          [y >= 0, cp.sum(y) == 1]))
        np.testing.assert_allclose(h, y.value, atol=1e-6)
    assert np.all(res.codes >= 0)
    np.testing.assert_allclose(res.codes.sum(axis=1), 1.0, atol=1e-12)


def test_subspace_matches_closed_form_and_cvxpy():
    D, X = _problem()
    rng = np.random.default_rng(5)
    B = rng.standard_normal((12, 4))
    res = projected_gradient(D, X, constraint="subspace", basis=B, ridge=0.1,
                             max_iter=50_000, tol=1e-12, accelerated=True)
    for x, h in zip(X, res.codes):
        z = cp.Variable(4)
        _solve(cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ B @ z)
                                      + 0.05 * cp.sum_squares(B @ z))))
        np.testing.assert_allclose(h, B @ z.value, atol=1e-6)


def test_objective_history_decreases_without_momentum():
    D, X = _problem()
    res = projected_gradient(D, X, ridge=0.1, max_iter=200, tol=0.0)
    assert len(res.objective) == res.n_iter + 1 == 201
    assert np.all(np.diff(res.objective) <= 1e-12)


def test_scale_free_attention_matches_cvxpy_and_lam_is_a_constant():
    D, X = _problem(n_features=6, n_atoms=4, seed=2)
    W = scale_free_attention(D, X)
    for x, w in zip(X, W):
        y = cp.Variable(D.shape[1])
        _solve(cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ y) + 0.7 * cp.norm1(y)),
                          [y >= 0, cp.sum(y) == 1]))
        np.testing.assert_allclose(w, y.value, atol=1e-6)
    np.testing.assert_allclose(scale_free_attention(D, X, lam=0.7), W, atol=1e-12)


def test_scale_free_attention_is_scale_free_and_softmax_is_not():
    D, X = _problem(seed=4)
    c = 3.0
    np.testing.assert_allclose(scale_free_attention(c * D, c * X[0]),
                               scale_free_attention(D, X[0]), atol=1e-9)
    assert np.abs(softmax(c * c * (X[0] @ D)) - softmax(X[0] @ D)).max() > 1e-2


def test_softmax_matches_scipy_and_torch():
    z = np.random.default_rng(0).standard_normal((4, 5)) * 30
    np.testing.assert_allclose(softmax(z), scipy_softmax(z, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(softmax(z, axis=0), scipy_softmax(z, axis=0), rtol=1e-12)
    torch = pytest.importorskip("torch")
    out = softmax(torch.tensor(z))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), torch.softmax(torch.tensor(z), -1).numpy())
    # sparsemax has exact zeros, softmax none
    assert (sparsemax(z) == 0).any() and not (softmax(z) == 0).any()


def test_bad_inputs():
    D, X = _problem()
    with pytest.raises(ValueError, match="constraint"):
        projected_gradient(D, X, constraint="ball")
    with pytest.raises(ValueError, match="basis"):
        projected_gradient(D, X, constraint="subspace")
    with pytest.raises(ValueError, match="basis"):
        projected_gradient(D, X, constraint="subspace", basis=np.ones((5, 2)))
    with pytest.raises(ValueError, match="basis"):
        projected_gradient(D, X, constraint="subspace", basis=np.ones((12, 2)))
    with pytest.raises(ValueError, match="lam"):
        projected_gradient(D, X, constraint="subspace", basis=np.eye(12)[:, :3], lam=1.0)
    with pytest.raises(ValueError, match="ridge"):
        projected_gradient(D, X, ridge=-1.0)
    with pytest.raises(ValueError, match="init"):
        projected_gradient(D, X, init=np.ones((2, 12)))
    with pytest.raises(TypeError, match="z"):
        softmax("abc")
