"""Tests of LISTA: at initialisation it is ISTA; training lowers its error."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsecoding import fista  # noqa: E402
from sparsecoding.nn import LISTA, train_lista  # noqa: E402


def _problem(seed=0, n=64):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((10, 20))
    D /= np.linalg.norm(D, axis=0)
    return D, rng.standard_normal((n, 10))


def _ista_by_hand(D, X, lam, n_iter):
    L = np.linalg.norm(D, 2) ** 2
    H = np.zeros((X.shape[0], D.shape[1]))
    for _ in range(n_iter):
        V = H - (H @ D.T - X) @ D / L
        H = np.sign(V) * np.maximum(np.abs(V) - lam / L, 0)
    return H


@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_initialisation_is_ista(n_layers):
    torch.set_num_threads(1)
    D, X = _problem()
    model = LISTA(10, 20, n_layers, D=D, lam=0.2, dtype=torch.float64)
    with torch.no_grad():
        H = model(torch.tensor(X)).numpy()
    np.testing.assert_allclose(H, _ista_by_hand(D, X, 0.2, n_layers), atol=1e-12)
    with torch.no_grad():
        H2 = model(torch.tensor(X), n_layers=2).numpy()
    np.testing.assert_allclose(H2, _ista_by_hand(D, X, 0.2, 2), atol=1e-12)


def test_training_reduces_error():
    torch.set_num_threads(1)
    D, X = _problem(n=256)
    H_star = fista(D, X, 0.2, tol=1e-10, max_iter=10_000).codes
    model = LISTA(10, 20, 2, D=D, lam=0.2)
    Xt = torch.tensor(X, dtype=torch.float32)
    with torch.no_grad():
        before = ((model(Xt).numpy() - H_star) ** 2).sum(1).mean()
    history = train_lista(model, X, H_star, epochs=30, batch_size=32, lr=3e-3,
                          progress=False)
    with torch.no_grad():
        after = ((model(Xt).numpy() - H_star) ** 2).sum(1).mean()
    assert after < 0.7 * before
    assert np.mean(history["loss"][-8:]) < np.mean(history["loss"][:8])


def test_random_dictionary_and_bad_inputs():
    model = LISTA(4, 6, 3, seed=1)
    assert model.W_e.shape == (6, 4) and model.W_h.shape == (6, 6)
    with pytest.raises(ValueError, match="D"):
        LISTA(4, 6, 3, D=np.ones((5, 6)))
    with pytest.raises(ValueError, match="n_layers"):
        LISTA(4, 6, 0)
    with pytest.raises(ValueError, match="lam"):
        LISTA(4, 6, 2, lam=-1.0)
    with pytest.raises(ValueError, match="X"):
        model(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="H_star"):
        train_lista(model, np.zeros((3, 4)), np.zeros((3, 5)), progress=False)
    with pytest.raises(TypeError, match="model"):
        train_lista(torch.nn.Linear(2, 2), np.zeros((3, 4)), np.zeros((3, 6)))
