"""The training loop: a length in steps trains exactly as the same length in epochs."""
import pytest

torch = pytest.importorskip("torch")
from sparsecoding.nn import SparseAutoencoder  # noqa: E402
from sparsecoding.training import fit  # noqa: E402


def _run(**length):
    torch.manual_seed(0)
    model = SparseAutoencoder(4, 6, seed=0)
    X = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    seen = []

    def loss(m, x):
        seen.append(x.clone())
        return m.loss(x, 0.1)

    hist = fit(model, loss, X, batch_size=16, lr=1e-2, seed=3, device="cpu",
               progress=False, metrics=lambda m: {"one": 1.0}, **length)
    return hist, seen, model


def test_steps_of_whole_epochs_train_as_epochs():
    # 50 examples in batches of 16: 4 steps per epoch, the last batch of 2
    h_ep, seen_ep, m_ep = _run(epochs=3)
    h_st, seen_st, m_st = _run(steps=12)
    assert h_ep["loss"] == h_st["loss"] and len(h_st["loss"]) == 12
    assert all(torch.equal(a, b) for a, b in zip(seen_ep, seen_st))
    assert [tuple(x.shape) for x in seen_st[:4]] == [(16, 4)] * 3 + [(2, 4)]
    assert len(h_st["epoch_one"]) == 3
    torch.testing.assert_close(m_ep.W_dec, m_st.W_dec, rtol=0, atol=0)


def test_steps_cut_the_last_epoch_short():
    h_ep, seen_ep, _ = _run(epochs=3)
    h_st, seen_st, _ = _run(steps=6)
    assert len(h_st["loss"]) == 6 and h_st["loss"] == h_ep["loss"][:6]
    assert all(torch.equal(a, b) for a, b in zip(seen_ep[:6], seen_st))
    assert len(h_st["epoch_one"]) == 2  # one full epoch and the one cut short
    h_default, _, _ = _run()
    assert len(h_default["loss"]) == 4  # one epoch when no length is given
