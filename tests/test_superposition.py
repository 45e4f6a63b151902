"""Tests of sparsecoding.nn.superposition: toy data, the two autoencoders, MMCS, resampling."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsecoding.nn.superposition import (  # noqa: E402
    L1SparseAutoencoder,
    ToyFeatureData,
    ToyModel,
    TopKSparseAutoencoder,
    dead_latents,
    mean_max_cosine_similarity,
    random_embedding,
    resample_dead_latents,
    sample_sparse_features,
)


def test_feature_probability_and_range():
    F = sample_sparse_features(20_000, 10, 0.1, seed=3)
    frac = float((F > 0).float().mean())
    assert abs(frac - 0.1) < 0.01  # binomial std ~ 0.0007
    assert float(F.max()) <= 1.0 and float(F.min()) >= 0.0
    torch.testing.assert_close(F, sample_sparse_features(20_000, 10, 0.1, seed=3))


def test_toy_data_is_linear_embedding():
    data = ToyFeatureData(n_true_features=9, n_dims=4, p=0.3, seed=1)
    F, X = data.sample(50, seed=2)
    np.testing.assert_allclose(X.numpy(), F.numpy() @ data.embed.numpy().T, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(data.embed.numpy(), axis=0), 1.0, atol=1e-6)


def test_mmcs_of_permuted_scaled_copy_is_one():
    E = random_embedding(8, 20, seed=0).numpy()
    perm = np.random.default_rng(0).permutation(20)
    scales = np.random.default_rng(1).uniform(0.1, 5.0, 20)
    assert mean_max_cosine_similarity(E[:, perm] * scales, E) == pytest.approx(1.0)
    # extra learned directions do not lower it; tensors are accepted
    extra = np.hstack([E[:, perm], np.random.default_rng(2).standard_normal((8, 5))])
    assert mean_max_cosine_similarity(torch.tensor(extra), torch.tensor(E)) == \
        pytest.approx(1.0)


def test_mmcs_by_hand():
    true = np.eye(2)
    learned = np.array([[1.0, 1.0], [0.0, 1.0]])  # e1 and (e1 + e2)/sqrt(2)
    # e1 -> max(1, 1/sqrt2) = 1; e2 -> max(0, 1/sqrt2)
    assert mean_max_cosine_similarity(learned, true) == pytest.approx(
        (1 + 1 / np.sqrt(2)) / 2)
    with pytest.raises(ValueError, match="learned"):
        mean_max_cosine_similarity(np.ones((3, 2)), true)


def test_topk_keeps_exactly_k_actives():
    torch.manual_seed(0)
    sae = TopKSparseAutoencoder(16, 64, k=5)
    with torch.no_grad():
        sae.b_enc.fill_(10.0)  # every pre-activation positive
    _, h = sae(torch.randn(32, 16))
    assert ((h != 0).sum(dim=1) == 5).all()
    pre = sae.pre_activation(torch.randn(1, 16))
    with pytest.raises(ValueError, match="k"):
        TopKSparseAutoencoder(4, 3, k=4)
    assert pre.shape == (1, 64)


def test_topk_keeps_the_largest():
    sae = TopKSparseAutoencoder(3, 6, k=2)
    x = torch.randn(4, 3)
    pre = sae.pre_activation(x)
    h = sae.encode(x)
    top = torch.sort(pre, dim=1, descending=True).values[:, :2].clamp_min(0)
    torch.testing.assert_close(torch.sort(h, dim=1, descending=True).values[:, :2], top)


def test_l1_autoencoder_loss_and_unit_norm_decoder():
    torch.manual_seed(0)
    sae = L1SparseAutoencoder(5, 7)
    x = torch.randn(9, 5)
    loss, parts = sae.loss(x, lam=0.3)
    h = torch.relu((x - sae.b_dec) @ sae.W_enc.T + sae.b_enc)
    x_hat = h @ sae.W_dec.T + sae.b_dec
    expected = 0.5 * ((x - x_hat) ** 2).sum() / 9 + 0.3 * h.sum() / 9
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
    sae.normalize_decoder_()
    torch.testing.assert_close(sae.W_dec.norm(dim=0), torch.ones(7))


def test_toy_model_loss_weights_by_importance():
    model = ToyModel(3, 2)
    f = torch.rand(4, 3)
    imp = torch.tensor([1.0, 0.5, 0.0])
    expected = (imp * (f - model(f)) ** 2).sum() / 4
    assert float(model.loss(f, imp).detach()) == pytest.approx(float(expected.detach()), rel=1e-6)


def test_resample_revives_dead_latents():
    torch.manual_seed(0)
    sae = L1SparseAutoencoder(4, 6)
    X = torch.randn(64, 4)
    with torch.no_grad():
        sae.b_enc[:3] = -100.0  # three latents can never fire
    dead = dead_latents(sae, X)
    assert dead[:3].all()
    optimizer = torch.optim.Adam(sae.parameters())
    sae.loss(X, 0.1)[0].backward()
    optimizer.step()
    n = resample_dead_latents(sae, X, dead, optimizer=optimizer, seed=0)
    assert n == int(dead.sum())
    idx = dead.nonzero().flatten()
    torch.testing.assert_close(sae.W_dec[:, idx].norm(dim=0), torch.ones(len(idx)))
    assert (sae.b_enc[idx] == 0).all()
    assert (optimizer.state[sae.W_dec]["exp_avg"][:, idx] == 0).all()
    # each new decoder direction is the direction of one input (minus the bias)
    V = (X - sae.b_dec.detach())
    V = V / V.norm(dim=1, keepdim=True)
    cos = (sae.W_dec[:, idx].detach().T @ V.T).max(dim=1).values
    torch.testing.assert_close(cos, torch.ones(len(idx)))
    assert not dead_latents(sae, X)[idx].all()
