"""Proximal operators against scipy.optimize and closed forms."""

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

import sparsecoding as sc

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
POINTS = RNG.uniform(-3, 3, size=60)


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 2.5])
def test_soft_threshold_is_the_minimiser(lam):
    expected = [
        minimize_scalar(lambda h, v=v: 0.5 * (h - v) ** 2 + lam * abs(h), bounds=(-5, 5),
                        method="bounded", options={"xatol": 1e-11}).x
        for v in POINTS
    ]
    np.testing.assert_allclose(sc.soft_threshold(POINTS, lam), expected, atol=1e-7)


@pytest.mark.parametrize("lam", [0.3, 1.0])
def test_hard_threshold_is_the_l0_prox(lam):
    # prox of (lam^2 / 2) [h != 0]: compare keeping v with setting zero.
    for v in POINTS:
        cost_keep, cost_zero = lam**2 / 2, v**2 / 2
        expected = v if cost_keep < cost_zero else 0.0
        assert sc.hard_threshold(np.array([v]), lam)[0] == expected


def test_sigshrink_formula_and_limits():
    v = np.linspace(-3, 3, 101)
    lam, tau = 1.0, 4.0
    expected = v / (1 + np.exp(-tau * (np.abs(v) - lam)))
    np.testing.assert_allclose(sc.sigshrink(v, lam, tau=tau), expected, rtol=1e-12)
    # no overflow for very steep gates
    out = sc.sigshrink(np.array([-50.0, 0.0, 50.0]), 1.0, tau=1e4)
    assert np.all(np.isfinite(out)) and out[1] == 0 and out[2] == 50.0


def test_project_simplex_against_scipy():
    for _ in range(10):
        v = RNG.normal(size=7) * 2
        cons = ({"type": "eq", "fun": lambda w: w.sum() - 1},)
        ref = minimize(lambda w: 0.5 * np.sum((w - v) ** 2), np.full(7, 1 / 7),
                       jac=lambda w: w - v, bounds=[(0, None)] * 7, constraints=cons,
                       method="SLSQP", options={"ftol": 1e-14, "maxiter": 500}).x
        np.testing.assert_allclose(sc.project_simplex(v), ref, atol=1e-6)


def test_project_simplex_radius_and_axis():
    V = RNG.normal(size=(4, 6))
    P = sc.project_simplex(V, radius=2.0, axis=0)
    np.testing.assert_allclose(P.sum(axis=0), 2.0)
    assert (P >= 0).all()
    np.testing.assert_allclose(P[:, 1], sc.project_simplex(V[:, 1], radius=2.0))


def test_sparsemax_known_value():
    np.testing.assert_allclose(sc.sparsemax([-2, 0, 0.5]), [0, 0.25, 0.75])
    # ties and a single dominating entry
    np.testing.assert_allclose(sc.sparsemax([1.0, 1.0]), [0.5, 0.5])
    np.testing.assert_allclose(sc.sparsemax([5.0, 0.0, 0.0]), [1.0, 0.0, 0.0])


def test_sparsemax_jacobian_against_finite_differences():
    for _ in range(10):
        z = RNG.normal(size=6)
        J = sc.sparsemax_jacobian(z)
        eps = 1e-6
        fd = np.empty((6, 6))
        for j in range(6):
            e = np.zeros(6)
            e[j] = eps
            fd[:, j] = (sc.sparsemax(z + e) - sc.sparsemax(z - e)) / (2 * eps)
        np.testing.assert_allclose(J, fd, atol=1e-6)


def test_sparsemax_jacobian_batched_and_torch():
    Z = RNG.normal(size=(3, 5))
    J = sc.sparsemax_jacobian(Z)
    assert J.shape == (3, 5, 5)
    for i in range(3):
        np.testing.assert_allclose(J[i], sc.sparsemax_jacobian(Z[i]))
    Jt = sc.sparsemax_jacobian(torch.tensor(Z))
    assert isinstance(Jt, torch.Tensor)
    np.testing.assert_allclose(Jt.numpy(), J)


@pytest.mark.parametrize("fn", [sc.soft_threshold, sc.hard_threshold, sc.sigshrink])
def test_elementwise_torch_matches_numpy(fn):
    v = RNG.normal(size=(4, 5))
    out_np = fn(v, 0.5)
    out_t = fn(torch.tensor(v), 0.5)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64
    np.testing.assert_allclose(out_t.numpy(), out_np)
    out32 = fn(torch.tensor(v, dtype=torch.float32), 0.5)
    assert out32.dtype == torch.float32


def test_soft_threshold_array_threshold_broadcasts():
    v = np.array([[1.0, -2.0], [3.0, 0.5]])
    t = np.array([[0.5], [1.0]])
    np.testing.assert_allclose(sc.soft_threshold(v, t), [[0.5, -1.5], [2.0, 0.0]])


def test_soft_threshold_torch_autograd():
    v = torch.tensor([2.0, -0.3, -3.0], requires_grad=True)
    sc.soft_threshold(v, 1.0).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [1.0, 0.0, 1.0])


@pytest.mark.parametrize("bad, exc, match", [
    (-1.0, ValueError, "lam"),
    (float("nan"), ValueError, "lam"),
    ("1", TypeError, "lam"),
    (np.array([-1.0, 1.0]), ValueError, "lam"),
])
def test_bad_threshold(bad, exc, match):
    with pytest.raises(exc, match=match):
        sc.soft_threshold(np.ones(2), bad)


@pytest.mark.parametrize("bad, exc", [
    (np.array([1.0, np.nan]), ValueError),
    (np.array([1.0, np.inf]), ValueError),
    (np.array([1 + 1j]), TypeError),
    (["a", "b"], TypeError),
    (None, TypeError),
])
def test_bad_v(bad, exc):
    with pytest.raises(exc, match="v"):
        sc.soft_threshold(bad, 1.0)


def test_bad_tau_and_radius():
    with pytest.raises(ValueError, match="tau"):
        sc.sigshrink(np.ones(2), 1.0, tau=0.0)
    with pytest.raises(ValueError, match="radius"):
        sc.project_simplex(np.ones(2), radius=-1.0)
    with pytest.raises(ValueError, match="z"):
        sc.sparsemax_jacobian(np.ones((2, 2, 2)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_prox_on_cuda():
    v = torch.randn(10, device="cuda")
    out = sc.soft_threshold(v, 0.1)
    assert out.device.type == "cuda"
    assert sc.sparsemax(v).device.type == "cuda"
