"""Bad inputs to the PyTorch modules, fit and train_lista fail early, naming the argument.

Every module's ``forward`` and ``loss`` check kind, dtype, device, shape and finiteness of
their tensors before torch sees them; ``fit`` and ``train_lista`` check every argument
before training starts; a training run whose loss or parameters become non-finite stops
with advice instead of returning a NaN model.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsecoding.nn import (  # noqa: E402
    LISTA,
    ConvSparseAutoencoderClassifier,
    ExplainingAwayAutoencoder,
    L1SparseAutoencoder,
    SparseAutoencoder,
    SparseCNN,
    SparseMLP,
    TopKSparseAutoencoder,
    train_lista,
)
from sparsecoding.nn.classifiers import activation_statistics, l1_activation_penalty  # noqa: E402
from sparsecoding.nn.superposition import (  # noqa: E402
    ToyModel,
    dead_latents,
    resample_dead_latents,
)
from sparsecoding.training import check_device, fit, iterate_minibatches  # noqa: E402

NAN = float("nan")

# (name, factory, argument name) of every model that reads (n_signals, 4) signals
VECTOR_MODELS = [
    ("sae", lambda: SparseAutoencoder(4, 6), "x"),
    ("explaining_away", lambda: ExplainingAwayAutoencoder(4, 6, t_star=2), "x"),
    ("l1", lambda: L1SparseAutoencoder(4, 6), "x"),
    ("topk", lambda: TopKSparseAutoencoder(4, 6, k=2), "x"),
    ("mlp", lambda: SparseMLP(4, 3, 2), "x"),
    ("lista", lambda: LISTA(4, 6, 2), "X"),
]
IDS = [m[0] for m in VECTOR_MODELS]


@pytest.mark.parametrize("name, make, arg", VECTOR_MODELS, ids=IDS)
def test_forward_names_the_width_the_model_expects(name, make, arg):
    with pytest.raises(ValueError, match=rf"{arg} has 6 features .* expects 4"):
        make()(torch.zeros(5, 6))
    with pytest.raises(ValueError, match=rf"{arg} must have shape"):
        make()(torch.zeros(2, 2, 3, 5))


@pytest.mark.parametrize("name, make, arg", VECTOR_MODELS, ids=IDS)
def test_forward_checks_kind_dtype_device(name, make, arg):
    model = make()
    with pytest.raises(TypeError, match=rf"{arg} must be a torch tensor"):
        model(np.zeros((5, 4), np.float32))
    with pytest.raises(TypeError, match=rf"{arg} must be a torch tensor"):
        model([[0.0] * 4])
    with pytest.raises(TypeError, match=rf"{arg} must have a floating-point dtype"):
        model(torch.zeros(5, 4, dtype=torch.long))
    with pytest.raises(TypeError, match=rf"{arg} has dtype torch.float64 .*float32"):
        model(torch.zeros(5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=rf"{arg} is on device meta"):
        model(torch.zeros(5, 4, device="meta"))


@pytest.mark.parametrize("name, make, arg", VECTOR_MODELS, ids=IDS)
@pytest.mark.parametrize("bad", [NAN, float("inf"), -float("inf")])
def test_forward_refuses_non_finite_input(name, make, arg, bad):
    x = torch.zeros(5, 4)
    x[2, 1] = bad
    with pytest.raises(ValueError, match=rf"{arg} must contain only finite values"):
        make()(x)


@pytest.mark.parametrize("name, make, arg", VECTOR_MODELS, ids=IDS)
def test_valid_edge_inputs_still_work(name, make, arg):
    model = make()
    out = model(torch.zeros(1, 4))
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape[0] == 1 and bool(torch.isfinite(first).all())
    out = model(torch.zeros(0, 4))  # an empty batch gives empty outputs
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape[0] == 0
    model.double()
    model(torch.zeros(2, 4, dtype=torch.float64))  # the model's own dtype is accepted


@pytest.mark.parametrize("make", [lambda: SparseCNN(n_maps=2),
                                  lambda: ConvSparseAutoencoderClassifier(n_maps=2)])
def test_image_models_check_their_images(make):
    model = make()
    with pytest.raises(ValueError, match="x must hold 28x28 images"):
        model(torch.zeros(2, 1, 20, 20))
    with pytest.raises(ValueError, match="x must be one-channel images"):
        model(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"x must hold flattened 28x28 images"):
        model(torch.zeros(2, 780))
    with pytest.raises(ValueError, match=r"x must be a batch of images"):
        model(torch.zeros(784))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="x must contain only finite"):
        model(torch.full((2, 1, 28, 28), NAN))
    for x in (torch.zeros(2, 784), torch.zeros(2, 28, 28), torch.zeros(2, 1, 28, 28)):
        assert model(x)[0].shape == (2, 10)


def test_mlp_reads_images_of_its_size_only():
    model = SparseMLP(16, 3, 2)
    assert model(torch.zeros(3, 1, 4, 4))[0].shape == (3, 2)
    with pytest.raises(ValueError, match=r"x holds images of 5x5 = 25 pixels .* 16"):
        model(torch.zeros(3, 5, 5))


def test_autoencoder_losses_check_weight_and_batch():
    x = torch.randn(5, 4)
    with pytest.raises(ValueError, match="lam"):
        SparseAutoencoder(4, 6).loss(x, lam=-1.0)
    with pytest.raises(ValueError, match="lam"):
        L1SparseAutoencoder(4, 6).loss(x, NAN)
    with pytest.raises(ValueError, match="lam"):
        TopKSparseAutoencoder(4, 6, k=2).loss(x, float("inf"))
    with pytest.raises(ValueError, match="x must hold at least one signal"):
        SparseAutoencoder(4, 6).loss(torch.zeros(0, 4), 0.1)
    with pytest.raises(ValueError, match="x has 3 features"):
        L1SparseAutoencoder(4, 6).loss(torch.zeros(5, 3), 0.1)
    with pytest.raises(ValueError, match="x must contain only finite"):
        ExplainingAwayAutoencoder(4, 6).loss(torch.full((5, 4), NAN), lam=0.1)
    with pytest.raises(ValueError, match="h has 5 features .* expects 6 \\(n_hidden=6\\)"):
        SparseAutoencoder(4, 6).decode(torch.zeros(2, 5))


def test_classifier_losses_check_labels():
    x = torch.randn(5, 4)
    model = SparseMLP(4, 3, 2)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        model.loss(x, torch.zeros(5), 0.1)
    with pytest.raises(TypeError, match="y must be a torch tensor"):
        model.loss(x, np.zeros(5, np.int64), 0.1)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        model.loss(x, torch.zeros(5, 1, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        model.loss(x, torch.zeros(4, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match=r"y must hold labels in 0\.\.1"):
        model.loss(x, torch.full((5,), 7, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match=r"y must hold labels in 0\.\.1"):
        model.loss(x, torch.full((5,), -1, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="lam"):
        model.loss(x, torch.zeros(5, dtype=torch.long), float("inf"))
    with pytest.raises(ValueError, match="x must contain only finite"):
        model.loss(torch.full((5, 4), NAN), torch.zeros(5, dtype=torch.long))
    conv = ConvSparseAutoencoderClassifier(n_maps=2)
    images, labels = torch.zeros(2, 1, 28, 28), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="beta"):
        conv.loss(images, labels, 0.1, beta=-1.0)
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        conv.loss(images, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="y must hold labels in 0..9"):
        SparseCNN(n_maps=2).loss(images, torch.full((2,), 10, dtype=torch.long))
    # an integer label dtype other than long is accepted
    loss, _ = model.loss(x, torch.zeros(5, dtype=torch.int32))
    assert bool(torch.isfinite(loss))


def test_toy_model_checks_features_and_importance():
    model = ToyModel(5, 2)
    f = torch.rand(3, 5)
    with pytest.raises(ValueError, match=r"f has 4 features .*n_true_features=5"):
        model(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="f must contain only finite"):
        model(torch.full((3, 5), NAN))
    with pytest.raises(ValueError, match=r"importance must have shape \(5,\)"):
        model.loss(f, torch.ones(4))
    with pytest.raises(ValueError, match="importance must hold finite non-negative"):
        model.loss(f, -torch.ones(5))
    with pytest.raises(ValueError, match="importance must hold finite non-negative"):
        model.loss(f, torch.full((5,), NAN))
    # a list of weights is taken as a tensor of the dtype and device of f
    imp = [1.0, 0.5, 0.25, 0.0, 0.0]
    expected = (torch.tensor(imp) * (f - model(f)) ** 2).sum(dim=1).mean()
    torch.testing.assert_close(model.loss(f, imp), expected)


def test_helpers_name_their_arguments():
    sae = L1SparseAutoencoder(4, 6)
    with pytest.raises(ValueError, match="X has 3 features"):
        dead_latents(sae, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="batch_size"):
        dead_latents(sae, torch.zeros(5, 4), batch_size=0)
    with pytest.raises(TypeError, match="X must be a torch tensor"):
        dead_latents(sae, np.zeros((5, 4), np.float32))
    with pytest.raises(TypeError, match="model must be a sparse autoencoder"):
        dead_latents(ToyModel(4, 2), torch.zeros(5, 4))
    dead = torch.ones(6, dtype=torch.bool)
    with pytest.raises(ValueError, match="X has 3 features"):
        resample_dead_latents(sae, torch.randn(5, 3), dead)
    with pytest.raises(ValueError, match="X must contain only finite"):
        resample_dead_latents(sae, torch.full((5, 4), NAN), dead)
    mlp = SparseMLP(4, 3, 2)
    labels = torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="X has 6 features"):
        activation_statistics(mlp, torch.zeros(5, 6), labels)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        activation_statistics(mlp, torch.zeros(5, 4), labels[:4])
    with pytest.raises(ValueError, match="batch_size"):
        activation_statistics(mlp, torch.zeros(5, 4), labels, batch_size=0)
    with pytest.raises(ValueError, match="h must contain only finite"):
        l1_activation_penalty(torch.full((2, 3), NAN))
    with pytest.raises(ValueError, match="n_layers"):
        LISTA(4, 6, 2)(torch.zeros(3, 4), n_layers=0)


# ------------------------------------------------------------------------------- fit
def _sae_fit(calls=None, **kwargs):
    def loss_fn(m, x):
        if calls is not None:
            calls.append(1)
        return m.loss(x, 0.1)
    args = dict(epochs=1, batch_size=8, progress=False, device="cpu")
    args.update(kwargs)
    data = args.pop("data", torch.randn(20, 4))
    return fit(SparseAutoencoder(4, 6), loss_fn, data, **args)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -1}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"batch_size": "8"}, TypeError, "batch_size"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"epochs": 1.5}, TypeError, "epochs"),
    ({"epochs": 2, "steps": 5}, TypeError, "epochs or as steps"),
    ({"epochs": None, "steps": -1}, ValueError, "steps"),
    ({"epochs": None, "steps": 1.5}, TypeError, "steps"),
    ({"epochs": None, "steps": "10"}, TypeError, "steps"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"lr": NAN}, ValueError, "lr"),
    ({"lr": "1e-3"}, TypeError, "lr"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "a"}, TypeError, "seed"),
    ({"device": "gpu0"}, ValueError, "device"),
    ({"device": "meta"}, ValueError, "device"),
    ({"device": 3.5}, TypeError, "device"),
    ({"progress": "yes"}, TypeError, "progress"),
    ({"desc": 3}, TypeError, "desc"),
    ({"after_step": 3}, TypeError, "after_step"),
    ({"metrics": "norms"}, TypeError, "metrics"),
    ({"optimizer": "adam"}, TypeError, "optimizer"),
    ({"checkpoint": 3}, TypeError, "checkpoint"),
    ({"data": torch.zeros(0, 4)}, ValueError, "data"),
    ({"data": torch.full((20, 4), NAN)}, ValueError, "data"),
    ({"data": torch.tensor(1.0)}, ValueError, "data"),
    ({"data": np.zeros((20, 4), np.float32)}, TypeError, "data"),
])
def test_fit_checks_every_argument_before_training(kwargs, exc, name):
    calls = []
    with pytest.raises(exc, match=name):
        _sae_fit(calls, **kwargs)
    assert not calls, "the error must come before the first step"


def test_fit_refuses_cuda_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    calls = []
    for device in ("cuda", "cuda:7", torch.device("cuda")):
        with pytest.raises(ValueError, match="device .* CUDA is not available"):
            _sae_fit(calls, device=device)
    assert not calls


def test_fit_checks_data_and_optimizer():
    mlp = SparseMLP(4, 3, 2)
    with pytest.raises(ValueError, match="data tensors must share their first dimension"):
        fit(mlp, lambda m, x, y: m.loss(x, y), (torch.zeros(5, 4),
                                                 torch.zeros(4, dtype=torch.long)),
            progress=False, device="cpu")
    other = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer holds none of the parameters"):
        fit(mlp, lambda m, x, y: m.loss(x, y), (torch.zeros(5, 4),
                                                 torch.zeros(5, dtype=torch.long)),
            optimizer=other, progress=False, device="cpu")
    with pytest.raises(TypeError, match="model"):
        fit("model", lambda m, x: x.sum(), torch.zeros(3, 2), progress=False)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        fit(mlp, "ce", torch.zeros(3, 4), progress=False)


@pytest.mark.parametrize("loss_fn, what", [
    (lambda m, x: (m(x)[0] - x) ** 2, r"loss_fn must return a scalar tensor.*shape \(8, 4\)"),
    (lambda m, x: 1.0, "loss_fn must return a scalar tensor.*float"),
    (lambda m, x: (m.loss(x, 0.1)[0], [1.0]), "must be a dict"),
])
def test_fit_checks_what_loss_fn_returns(loss_fn, what):
    with pytest.raises(TypeError, match=what):
        fit(SparseAutoencoder(4, 6), loss_fn, torch.randn(20, 4), batch_size=8,
            progress=False, device="cpu")


def test_unwritable_checkpoint_fails_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for path in (tmp_path / "missing" / "model.pt", blocker / "model.pt", tmp_path):
        calls = []
        with pytest.raises(ValueError, match="checkpoint"):
            _sae_fit(calls, checkpoint=path)
        assert not calls, f"{path}: the error must come before training"


def test_checkpoint_is_written_whole(tmp_path):
    path = tmp_path / "model.pt"
    _sae_fit(checkpoint=str(path))
    state = torch.load(path)
    assert set(state) == {"encoder.weight", "encoder.bias", "decoder.weight",
                          "decoder.bias"}
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary left


def test_divergence_raises_with_advice():
    X = torch.randn(20, 4)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    with pytest.raises(FloatingPointError, match=r"the loss became inf.*Lower the "
                                                 r"learning rate \(lr=10\)"):
        fit(model, lambda m, x: (m(x) ** 2).mean(), X, epochs=50, batch_size=20,
            optimizer=opt, progress=False, device="cpu")
    # one step that sends the weights to inf: the loss was finite, the model is not
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(FloatingPointError, match="parameter weight became non-finite.*"
                                                 "Lower the learning rate"):
        fit(model, lambda m, x: (m(x) ** 2).mean() * 1e10, X, epochs=1, batch_size=20,
            optimizer=opt, progress=False, device="cpu")


def test_valid_edge_arguments():
    history = _sae_fit(batch_size=1000)  # one batch holds everything
    assert len(history["loss"]) == 1
    assert _sae_fit(epochs=0)["loss"] == []
    _sae_fit(device=torch.device("cpu"))
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="epochs"):
        iterate_minibatches(10, 3, epochs=-1)


# ----------------------------------------------------------------------- train_lista
def _lista(**kwargs):
    X = kwargs.pop("X", np.random.default_rng(0).standard_normal((20, 4)))
    H = kwargs.pop("H", np.zeros((20, 6)))
    return train_lista(LISTA(4, 6, 2), X, H, progress=False, **kwargs)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"epochs": -2}, ValueError, "epochs"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": float("inf")}, ValueError, "lr"),
    ({"device": "tpu"}, ValueError, "device"),
    ({"seed": -1}, ValueError, "seed"),
    ({"desc": 5}, TypeError, "desc"),
    ({"after_step": 1}, TypeError, "after_step"),
    ({"X": np.full((20, 4), np.nan)}, ValueError, "X"),
    ({"X": torch.full((20, 4), NAN)}, ValueError, "X"),
    ({"H": np.full((20, 6), np.nan)}, ValueError, "H_star"),
    ({"X": np.zeros((20, 5))}, ValueError, "X has 5 features"),
    ({"H": np.zeros((19, 6))}, ValueError, "H_star"),
])
def test_train_lista_checks_every_argument(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        _lista(**kwargs)


def test_train_lista_divergence_raises_with_advice():
    rng = np.random.default_rng(0)
    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        train_lista(LISTA(4, 6, 2), rng.standard_normal((20, 4)) * 1e6,
                    np.full((20, 6), 1e6), lr=1e6, epochs=20, progress=False)
