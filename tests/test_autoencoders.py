"""Tests of sparsecoding.nn.autoencoders against NumPy closed forms and finite differences."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsecoding.nn import (  # noqa: E402
    ExplainingAwayAutoencoder,
    L1SparseAutoencoder,
    SparseAutoencoder,
    TopKSparseAutoencoder,
)
from sparsecoding.training import fit  # noqa: E402


def _numpy_forward(model, x, t_star=0, gamma=1.0):
    """The network written out in NumPy, from the equations of the chapter."""
    We = model.encoder.weight.detach().double().numpy()
    be = model.encoder.bias.detach().double().numpy()
    Wd = model.decoder_weight.detach().double().numpy()
    bd = model.b_dec.detach().double().numpy()
    G = model.G.detach().double().numpy() if hasattr(model, "G") else None
    x = x.double().numpy()
    mu0 = x @ We.T + be
    mu = mu0
    for _ in range(t_star):
        mu = mu + gamma * ((mu0 - np.maximum(mu, 0) @ G.T) - mu)
    h = np.maximum(mu, 0)
    return h @ Wd.T + bd, h


@pytest.mark.parametrize("tied", [False, True])
def test_shapes_and_numpy_forward(tied):
    torch.manual_seed(0)
    model = SparseAutoencoder(5, 7, tied=tied).double()
    with torch.no_grad():
        model.encoder.bias.normal_()
    x = torch.randn(4, 5, dtype=torch.float64)
    x_hat, h = model(x)
    assert x_hat.shape == (4, 5) and h.shape == (4, 7)
    assert model.decoder_weight.shape == (5, 7)
    ref_x, ref_h = _numpy_forward(model, x)
    np.testing.assert_allclose(x_hat.detach().numpy(), ref_x, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, atol=1e-12)
    # a single signal gives a single code
    x1_hat, h1 = model(x[0])
    assert x1_hat.shape == (5,) and h1.shape == (7,)


def test_loss_parts_match_closed_form():
    torch.manual_seed(1)
    model = SparseAutoencoder(6, 8, constraint="inverse_norm", inverse_norm_weight=0.3).double()
    x = torch.randn(10, 6, dtype=torch.float64)
    loss, parts = model.loss(x, lam=0.2)
    ref_x, ref_h = _numpy_forward(model, x)
    xn = x.numpy()
    We = model.encoder.weight.detach().numpy()
    recon = 0.5 * ((xn - ref_x) ** 2).sum(1).mean()
    l1 = np.abs(ref_h).sum(1).mean()
    penalty = 0.3 * (1 / (We ** 2).sum(1)).sum()
    assert parts["recon"] == pytest.approx(recon)
    assert parts["mse"] == pytest.approx(((xn - ref_x) ** 2).mean())
    assert parts["l1"] == pytest.approx(l1)
    assert parts["penalty"] == pytest.approx(penalty)
    assert parts["activity"] == pytest.approx((ref_h > 0).mean())
    assert float(loss.detach()) == pytest.approx(recon + 0.2 * l1 + penalty)
    # on the decoder columns instead
    model.penalize = "decoder"
    Wd = model.decoder_weight.detach().numpy()
    penalty_dec = float(model.norm_penalty().detach())
    assert penalty_dec == pytest.approx(0.3 * (1 / (Wd ** 2).sum(0)).sum())
    # no penalty without the inverse-norm constraint
    plain = SparseAutoencoder(6, 8, constraint="unit_norm")
    assert float(plain.norm_penalty().detach()) == 0.0


def test_escape_symmetry():
    """Scaling the encoder by 1/c and the decoder by c keeps x_hat and divides h by c."""
    torch.manual_seed(2)
    model = SparseAutoencoder(5, 9).double()
    with torch.no_grad():
        model.encoder.bias.normal_()
    x = torch.randn(6, 5, dtype=torch.float64)
    x_hat, h = model(x)
    c = 3.0
    with torch.no_grad():
        model.encoder.weight /= c
        model.encoder.bias /= c
        model.decoder.weight *= c
    x_hat2, h2 = model(x)
    torch.testing.assert_close(x_hat2, x_hat)
    torch.testing.assert_close(h2, h / c)


@pytest.mark.parametrize("tied", [False, True])
def test_unit_norm_projection(tied):
    torch.manual_seed(3)
    model = SparseAutoencoder(6, 10, constraint="unit_norm", tied=tied)
    with torch.no_grad():
        model.encoder.weight.mul_(torch.rand(10, 1) * 5 + 0.1)
        if not tied:
            model.decoder.weight.mul_(torch.rand(1, 10) * 5 + 0.1)
    before = model.decoder_weight.detach().numpy().copy()
    model.normalize_decoder_()
    after = model.decoder_weight.detach().numpy()
    np.testing.assert_allclose(np.linalg.norm(after, axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(after, before / np.linalg.norm(before, axis=0), rtol=1e-5)


def test_unit_norm_kept_by_fit_and_norms_grow_without():
    torch.manual_seed(4)
    X = torch.randn(256, 8)
    runs = {}
    for constraint in ("none", "unit_norm"):
        model = SparseAutoencoder(8, 12, constraint=constraint)
        hist = fit(model, lambda m, x: m.loss(x, lam=0.5), X, epochs=5, batch_size=32,
                   lr=1e-2, after_step=model.after_step,
                   metrics=lambda m: m.weight_norms(), progress=False,
                   device=torch.device("cpu"))
        runs[constraint] = (model, hist)
    model, hist = runs["unit_norm"]
    np.testing.assert_allclose(hist["epoch_decoder_norm"], 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        torch.linalg.norm(model.decoder_weight, dim=0).detach().numpy(), 1.0, rtol=1e-5)
    _, hist = runs["none"]
    assert hist["epoch_decoder_norm"][-1] > 1.1  # the escape: atoms grow


def test_t_star_zero_is_the_plain_autoencoder():
    torch.manual_seed(5)
    ea = ExplainingAwayAutoencoder(5, 7, t_star=0, gamma=0.5, g_init=0.3)
    plain = SparseAutoencoder(5, 7)
    plain.load_state_dict({k: v for k, v in ea.state_dict().items() if k != "G"})
    x = torch.randn(4, 5)
    for a, b in zip(ea(x), plain(x)):
        torch.testing.assert_close(a, b)


def test_g_zero_is_the_plain_autoencoder_for_any_t_star():
    torch.manual_seed(6)
    ea = ExplainingAwayAutoencoder(5, 7, t_star=4, gamma=0.7)
    assert float(ea.G.detach().abs().max()) == 0.0
    plain = SparseAutoencoder(5, 7)
    plain.load_state_dict({k: v for k, v in ea.state_dict().items() if k != "G"})
    x = torch.randn(4, 5)
    torch.testing.assert_close(ea(x)[0], plain(x)[0])


@pytest.mark.parametrize("t_star,gamma", [(1, 1.0), (3, 0.5)])
def test_inner_loop_matches_numpy(t_star, gamma):
    torch.manual_seed(7)
    model = ExplainingAwayAutoencoder(5, 6, t_star=t_star, gamma=gamma,
                                      g_init=0.4).double()
    with torch.no_grad():
        model.encoder.bias.normal_()
    x = torch.randn(3, 5, dtype=torch.float64)
    ref_x, ref_h = _numpy_forward(model, x, t_star, gamma)
    x_hat, h = model(x)
    np.testing.assert_allclose(x_hat.detach().numpy(), ref_x, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, atol=1e-12)
    assert len(model.inner_loop(x)) == t_star + 1


def test_gradient_of_g_matches_finite_differences():
    torch.manual_seed(8)
    model = ExplainingAwayAutoencoder(4, 5, t_star=3, gamma=0.6, g_init=0.2).double()
    with torch.no_grad():
        model.encoder.bias.fill_(0.3)  # most units active: the loss is smooth here
    x = torch.randn(6, 4, dtype=torch.float64)
    loss, _ = model.loss(x, lam=0.1)
    loss.backward()
    grad = model.G.grad.clone()
    assert float(grad.abs().max()) > 0  # gradients reach G
    eps = 1e-6
    fd = torch.zeros_like(grad)
    with torch.no_grad():
        for i in range(5):
            for j in range(5):
                model.G[i, j] += eps
                up = float(model.loss(x, lam=0.1)[0])
                model.G[i, j] -= 2 * eps
                down = float(model.loss(x, lam=0.1)[0])
                model.G[i, j] += eps
                fd[i, j] = (up - down) / (2 * eps)
    torch.testing.assert_close(grad, fd, atol=1e-6, rtol=1e-5)


def test_gradient_reaches_g_from_zero():
    torch.manual_seed(9)
    model = ExplainingAwayAutoencoder(4, 5, t_star=1, gamma=1.0)
    loss, _ = model.loss(torch.randn(8, 4), lam=0.1)
    loss.backward()
    assert float(model.G.grad.abs().max()) > 0


def test_input_validation():
    with pytest.raises(ValueError, match="constraint"):
        SparseAutoencoder(4, 5, constraint="unit")
    with pytest.raises(ValueError, match="n_hidden"):
        SparseAutoencoder(4, 0)
    with pytest.raises(TypeError, match="n_inputs"):
        SparseAutoencoder(4.5, 3)
    with pytest.raises(ValueError, match="inverse_norm_weight"):
        SparseAutoencoder(4, 5, inverse_norm_weight=-1.0)
    with pytest.raises(TypeError, match="tied"):
        SparseAutoencoder(4, 5, tied="yes")
    with pytest.raises(ValueError, match="penalize"):
        SparseAutoencoder(4, 5, penalize="both")
    with pytest.raises(ValueError, match="t_star"):
        ExplainingAwayAutoencoder(4, 5, t_star=-1)
    with pytest.raises(ValueError, match="gamma"):
        ExplainingAwayAutoencoder(4, 5, gamma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        ExplainingAwayAutoencoder(4, 5, gamma=1.5)
    model = SparseAutoencoder(4, 5)
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(3, 5))
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        model(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="x must have a floating-point"):
        model(torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="lam"):
        model.loss(torch.randn(3, 4), lam=-0.1)


# ----------------------------------------------------------- one family, one base
FAMILY = [
    lambda: SparseAutoencoder(5, 7, constraint="unit_norm", seed=2),
    lambda: ExplainingAwayAutoencoder(5, 7, t_star=2, gamma=0.5),
    lambda: L1SparseAutoencoder(5, 7, seed=2),
    lambda: TopKSparseAutoencoder(5, 7, k=3, seed=2),
]


def test_one_base_holds_the_shared_parts():
    for make in FAMILY:
        model = make()
        assert isinstance(model, SparseAutoencoder)
        for shared in ("loss", "normalize_decoder_", "decode", "pre_activation",
                       "norm_penalty", "sparsity_penalty", "weight_norms"):
            assert getattr(type(model), shared) is getattr(SparseAutoencoder, shared)
        x = torch.randn(6, 5)
        _, parts = model.loss(x, 0.1)
        assert set(parts) == {"mse", "recon", "l1", "l0", "activity", "penalty"}
        assert model.W_dec is model.decoder.weight and model.b_enc is model.encoder.bias


def test_pre_bias_forward_and_loss_match_numpy():
    """The L1 and TopK models, written out in NumPy from their equations."""
    torch.manual_seed(0)
    for model in (L1SparseAutoencoder(5, 7, seed=1), TopKSparseAutoencoder(5, 7, 3, seed=1)):
        model.double()
        with torch.no_grad():
            model.b_dec.normal_()
            model.b_enc.normal_()
        x = torch.randn(9, 5, dtype=torch.float64)
        We, be = model.W_enc.detach().numpy(), model.b_enc.detach().numpy()
        Wd, bd = model.W_dec.detach().numpy(), model.b_dec.detach().numpy()
        pre = (x.numpy() - bd) @ We.T + be
        if isinstance(model, TopKSparseAutoencoder):
            keep = np.argsort(-pre, axis=1)[:, :3]
            mask = np.zeros_like(pre, dtype=bool)
            np.put_along_axis(mask, keep, True, axis=1)
            pre = np.where(mask, pre, 0.0)
        h = np.maximum(pre, 0.0)
        x_hat = h @ Wd.T + bd
        loss, parts = model.loss(x, lam=0.4)
        expected = 0.5 * ((x.numpy() - x_hat) ** 2).sum(1).mean() + 0.4 * h.sum(1).mean()
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-12)
        assert parts["l0"] == pytest.approx((h > 0).sum(1).mean())
        np.testing.assert_allclose(model(x)[0].detach().numpy(), x_hat, atol=1e-12)


def test_seeded_models_are_reproducible_and_leave_torch_alone():
    state = torch.get_rng_state()
    a, b = L1SparseAutoencoder(5, 7, seed=4), SparseAutoencoder(5, 7, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(a.W_dec, L1SparseAutoencoder(5, 7, seed=4).W_dec)
    torch.testing.assert_close(a.W_dec, b.W_dec)  # the same atoms for the same seed
    torch.testing.assert_close(a.W_enc, a.W_dec.T)
    torch.testing.assert_close(a.W_dec.norm(dim=0), torch.ones(7))


def test_lam_is_the_only_name_of_the_sparsity_weight():
    torch.manual_seed(3)
    model = SparseAutoencoder(5, 7)
    x = torch.randn(6, 5)
    with torch.no_grad():
        assert float(model.loss(x, lam=0.3)[0]) == float(model.loss(x, 0.3)[0])
        assert float(model.loss(x)[0]) == float(model.loss(x, 0.0)[0])
    with pytest.raises(TypeError, match="l1"):
        model.loss(x, l1=0.3)  # the old alias is gone: one name, one meaning
    with pytest.raises(TypeError, match="alpha"):
        SparseAutoencoder(5, 7, alpha=0.1)
