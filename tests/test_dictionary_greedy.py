"""Tests of MOD and K-SVD: objective, atom norms, recovery of a known dictionary."""

import numpy as np
import pytest
from sklearn.linear_model import orthogonal_mp

from sparsecoding.dictionary_greedy import ksvd, mod


def _synthetic(n_features=20, n_atoms=50, n_signals=1500, n_nonzero=3, noise=0.01, seed=0):
    """Signals that are sparse combinations of a known unit-norm dictionary."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((n_signals, n_atoms))
    for i in range(n_signals):
        support = rng.choice(n_atoms, n_nonzero, replace=False)
        H[i, support] = rng.standard_normal(n_nonzero)
    X = H @ D.T + noise * rng.standard_normal((n_signals, n_features))
    return X, D


def _recovered(D, D_true, threshold=0.99):
    """Fraction of true atoms matched by a learned atom with |<d, d_true>| > threshold."""
    return float(np.mean(np.max(np.abs(D.T @ D_true), axis=0) > threshold))


@pytest.mark.parametrize("learn", [mod, ksvd])
def test_error_decreases_and_atoms_unit_norm(learn):
    X, _ = _synthetic(n_signals=600, seed=1)
    res = learn(X, 50, n_nonzero=3, n_iter=8, seed=0)
    np.testing.assert_allclose(np.linalg.norm(res.D, axis=0), 1.0, atol=1e-12)
    assert len(res.history) == 9
    assert res.history[-1] < 0.5 * res.history[0]
    # the codes returned represent X with the error recorded last, <= s nonzeros each
    assert np.max(np.count_nonzero(res.codes, axis=1)) <= 3
    R = X - res.codes @ res.D.T
    assert 0.5 * np.sum(R * R) / len(X) == pytest.approx(res.history[-1], rel=1e-10)


def test_ksvd_sweep_never_increases_the_error():
    # the dictionary update alone, from fixed OMP codes (scikit-learn's), cannot hurt
    X, _ = _synthetic(n_signals=400, seed=2)
    for seed in range(3):
        res = ksvd(X, 50, n_nonzero=3, n_iter=1, seed=seed)
        assert res.history[1] <= res.history[0] + 1e-12


def test_codes_are_omp_codes_of_the_initial_dictionary():
    X, _ = _synthetic(n_signals=200, seed=3)
    D0 = np.random.default_rng(0).standard_normal((20, 30))
    D0 /= np.linalg.norm(D0, axis=0)
    res = mod(X, 30, n_nonzero=4, n_iter=0, init=D0)
    ref = orthogonal_mp(D0, X.T, n_nonzero_coefs=4).T
    np.testing.assert_allclose(res.codes, ref, atol=1e-10)
    np.testing.assert_allclose(res.D, D0, atol=1e-15)


def test_ksvd_recovers_a_known_dictionary():
    # the synthetic experiment of Aharon, Elad and Bruckstein (2006): 3-sparse
    # combinations of 50 random atoms in dimension 20, 1500 signals, noise, 80
    # alternations; like the paper, averaged over trials (a single trial can stop in a
    # local minimum with a few atoms merged)
    recovered = []
    for seed in range(5):
        X, D_true = _synthetic(20, 50, 1500, 3, noise=0.01, seed=seed)
        res = ksvd(X, 50, n_nonzero=3, n_iter=80, seed=0)
        recovered.append(_recovered(res.D, D_true))
    assert np.mean(recovered) >= 0.9 and min(recovered) >= 0.85
    # compared with the truth, not with itself: the start (signals) recovers nothing
    start = X[np.random.default_rng(0).choice(len(X), 50, replace=False)].T
    assert _recovered(start / np.linalg.norm(start, axis=0), D_true) < 0.1


def test_mod_recovers_a_known_dictionary():
    X, D_true = _synthetic(16, 32, 1000, 3, noise=0.0, seed=0)
    res = mod(X, 32, n_nonzero=3, n_iter=40, seed=0)
    assert _recovered(res.D, D_true) >= 0.9


def test_validation():
    X, _ = _synthetic(n_signals=100)
    with pytest.raises(ValueError, match="n_nonzero"):
        ksvd(X, 30, n_nonzero=0)
    with pytest.raises(ValueError, match="n_nonzero"):
        ksvd(X, 30, n_nonzero=25)  # more than n_features
    with pytest.raises(TypeError, match="n_atoms"):
        mod(X, 3.5, n_nonzero=2)
    with pytest.raises(ValueError, match="init"):
        mod(X, 30, n_nonzero=2, init="zeros")
    with pytest.raises(ValueError, match="init"):
        mod(X, 30, n_nonzero=2, init=np.ones((20, 31)))
    with pytest.raises(ValueError, match="signals"):
        mod(X[:10], 30, n_nonzero=2)
    with pytest.raises(ValueError, match="X"):
        ksvd(np.full_like(X, np.inf), 30, n_nonzero=2)
    with pytest.raises(ValueError, match="n_iter"):
        ksvd(X, 30, n_nonzero=2, n_iter=-1)
