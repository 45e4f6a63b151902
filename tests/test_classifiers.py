"""Tests of sparsecoding.nn.classifiers: shapes, the L1 term, the two decoders."""

import pytest

torch = pytest.importorskip("torch")
from torch.nn import functional as F  # noqa: E402

from sparsecoding.nn.classifiers import (  # noqa: E402
    ConvSparseAutoencoderClassifier,
    SparseCNN,
    SparseMLP,
    activation_statistics,
    l1_activation_penalty,
)


def _batch(n=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=gen), torch.arange(n) % 10


def test_mlp_shapes_flat_and_images():
    model = SparseMLP()
    x, _ = _batch()
    logits, h = model(x)
    assert logits.shape == (5, 10) and h.shape == (5, 784)
    logits2, _ = model(x.reshape(5, 784))
    torch.testing.assert_close(logits, logits2)
    assert (h >= 0).all()


def test_mlp_hidden_is_relu_of_affine_map():
    torch.manual_seed(0)
    model = SparseMLP(6, 4, 3)
    x = torch.randn(7, 6)
    _, h = model(x)
    expected = torch.clamp(x @ model.hidden.weight.T + model.hidden.bias, min=0)
    torch.testing.assert_close(h, expected)


def test_cnn_has_39200_units_with_200_maps():
    model = SparseCNN(n_maps=200)
    logits, h = model(_batch(2)[0])
    assert logits.shape == (2, 10)
    assert h[0].numel() == 14 * 14 * 200 == 39_200


@pytest.mark.parametrize("decoder", ["transposed", "subpixel"])
def test_decoders_reconstruct_28_by_28(decoder):
    model = ConvSparseAutoencoderClassifier(n_maps=8, decoder=decoder)
    logits, h, x_hat = model(_batch(3)[0])
    assert logits.shape == (3, 10)
    assert h.shape == (3, 8, 14, 14)
    assert x_hat.shape == (3, 1, 28, 28)


def test_subpixel_decoder_is_a_pixel_shuffle():
    model = ConvSparseAutoencoderClassifier(n_maps=4, decoder="subpixel")
    h = torch.rand(1, 4, 14, 14)
    conv_out = model.decoder[0](h)  # (1, 4, 14, 14)
    x_hat = model.decoder(h)
    # pixel (2i + a, 2j + b) of the output is channel 2a + b at (i, j)
    for a in range(2):
        for b in range(2):
            torch.testing.assert_close(x_hat[0, 0, a::2, b::2], conv_out[0, 2 * a + b])


def test_l1_penalty_by_hand():
    h = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.0, 0.5]])
    assert float(l1_activation_penalty(h)) == pytest.approx((3.0 + 1.0) / 2)


def test_loss_is_cross_entropy_plus_lam_times_l1():
    torch.manual_seed(0)
    model = SparseMLP(10, 6, 3)
    x, y = torch.rand(8, 10), torch.arange(8) % 3
    lam = 0.37
    loss, parts = model.loss(x, y, lam)
    logits, h = model(x)
    ce = F.cross_entropy(logits, y)
    l1 = h.abs().sum() / 8
    assert float(loss.detach()) == pytest.approx(float((ce + lam * l1).detach()), rel=1e-6)
    assert float(parts["active"]) == pytest.approx(float((h > 0).sum()) / 8)
    # the gradient of the penalty term w.r.t. the hidden bias is lam * (#active rows) / B
    model.zero_grad()
    (lam * l1_activation_penalty(model(x)[1])).backward()
    expected = lam * (h > 0).float().sum(0) / 8
    torch.testing.assert_close(model.hidden.bias.grad, expected)


def test_autoencoder_loss_parts():
    torch.manual_seed(0)
    model = ConvSparseAutoencoderClassifier(n_maps=4, decoder="transposed")
    x, y = _batch(4)
    loss, parts = model.loss(x, y, lam=1e-3, beta=2.0)
    logits, h, x_hat = model(x)
    expected = (F.cross_entropy(logits, y) + 2.0 * ((x_hat - x) ** 2).mean()
                + 1e-3 * h.sum() / 4)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert set(parts) >= {"ce", "mse", "l1", "active", "accuracy"}


def test_activation_statistics_counts():
    model = SparseMLP(3, 3, 2)
    with torch.no_grad():
        model.hidden.weight.copy_(torch.eye(3))
        model.hidden.bias.zero_()
    X = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    stats = activation_statistics(model, X, torch.tensor([0, 1]), batch_size=1)
    assert stats["active_per_example"] == pytest.approx(1.5)
    assert stats["dead_fraction"] == pytest.approx(1 / 3)
    assert stats["ever_active"].tolist() == [True, True, False]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="decoder"):
        ConvSparseAutoencoderClassifier(decoder="bilinear")
    with pytest.raises(ValueError, match="lam"):
        SparseMLP(4, 3, 2).loss(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), -1.0)
    with pytest.raises(ValueError, match="n_hidden"):
        SparseMLP(n_hidden=0)
    with pytest.raises(TypeError, match="h must"):
        l1_activation_penalty([1.0, 2.0])
