r"""Superposition toy data and the sparse autoencoders that take features back out of it.

A signal is a sparse combination of more feature directions than it has dimensions:

.. math:: x = E f, \qquad E \in \mathbb{R}^{d \times m},\ m > d,\ \lVert E_{:,j}\rVert = 1,

where each feature :math:`f_j` is non-zero with probability :math:`p`. A sparse
autoencoder learns a dictionary whose columns should recover the columns of :math:`E`
:cite:p:`elhage2022superposition,bricken2023monosemanticity,gao2024scaling`. The chapter
*Superposition and interpretability* (Part III) explains and measures them.

Names: ``n_true_features`` is :math:`m`, the number of true (latent) features a toy
signal is built from; ``n_dims`` is :math:`d`, the size of a toy signal (what the rest
of the package calls ``n_features``, the columns of ``X``). An autoencoder's own units
are its ``n_hidden`` hidden units, which the chapter, like its sources, calls
*latents*.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._arrays import to_numpy
from .._validation import check_array, check_scalar
from ._checks import _reference, check_batch, check_features
# The two autoencoders of the chapter belong to the one family of ``autoencoders``;
# they are importable from here, where the chapter imports them.
from .autoencoders import (L1SparseAutoencoder, SparseAutoencoder,  # noqa: F401
                           TopKSparseAutoencoder)

__all__ = [
    "sample_sparse_features",
    "random_embedding",
    "ToyFeatureData",
    "ToyModel",
    "mean_max_cosine_similarity",
    "dead_latents",
    "resample_dead_latents",
]


def sample_sparse_features(n, n_true_features, p, seed=0):
    r"""Draw ``n`` sparse feature vectors, each entry uniform or zero.

    Each entry is :math:`u\,b` with :math:`u \sim \mathcal U[0, 1]` and
    :math:`b \sim \mathrm{Bernoulli}(p)`.

    Returns a float32 tensor ``(n, n_true_features)``. Chapter: *Superposition and
    interpretability*.

    Examples
    --------
    >>> F = sample_sparse_features(1000, 4, 0.25, seed=0)
    >>> tuple(F.shape), bool((F >= 0).all())
    ((1000, 4), True)
    """
    n = check_scalar(n, "n", low=1, integer=True)
    n_true_features = check_scalar(n_true_features, "n_true_features", low=1,
                                   integer=True)
    p = check_scalar(p, "p", low=0.0, high=1.0)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    gen = torch.Generator().manual_seed(seed)
    on = torch.rand(n, n_true_features, generator=gen) < p
    return torch.rand(n, n_true_features, generator=gen) * on


def random_embedding(n_dims, n_true_features, seed=0):
    """A ``(n_dims, n_true_features)`` float32 tensor of random unit-norm columns (Gaussian).

    Examples
    --------
    >>> E = random_embedding(3, 5, seed=0)
    >>> [round(float(v), 4) for v in E.norm(dim=0)]
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
    n_true_features = check_scalar(n_true_features, "n_true_features", low=1,
                                   integer=True)
    gen = torch.Generator().manual_seed(check_scalar(seed, "seed", low=0, integer=True))
    E = torch.randn(n_dims, n_true_features, generator=gen)
    return E / E.norm(dim=0, keepdim=True)


class ToyFeatureData:
    r"""Signals :math:`x = E f` built from ``n_true_features`` sparse features in ``n_dims``.

    Attributes
    ----------
    embed : ``(n_dims, n_true_features)`` tensor with unit-norm columns, the true features.

    Examples
    --------
    >>> data = ToyFeatureData(n_true_features=6, n_dims=3, p=0.1, seed=0)
    >>> F, X = data.sample(10, seed=1)
    >>> tuple(F.shape), tuple(X.shape)
    ((10, 6), (10, 3))
    """

    def __init__(self, n_true_features, n_dims, p, seed=0):
        self.n_true_features = check_scalar(n_true_features, "n_true_features", low=1,
                                            integer=True)
        self.n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
        self.p = check_scalar(p, "p", low=0.0, high=1.0)
        self.embed = random_embedding(self.n_dims, self.n_true_features, seed)

    def sample(self, n, seed=0):
        """``(features, signals)``: ``(n, n_true_features)`` and ``(n, n_dims)`` tensors."""
        feats = sample_sparse_features(n, self.n_true_features, self.p, seed)
        return feats, feats @ self.embed.T


class ToyModel(nn.Module):
    r"""The ReLU output toy model of :cite:t:`elhage2022superposition`.

    .. math:: \hat f = \mathrm{ReLU}(W^\top W f + b), \qquad W \in \mathbb{R}^{d\times m},

    trained on :math:`\sum_j I_j (f_j - \hat f_j)^2` with feature importances
    :math:`I_j`. With dense features it keeps the :math:`d` most important features
    in orthogonal directions; with sparse features it packs more than :math:`d` of
    them in *superposition*.

    Examples
    --------
    >>> model = ToyModel(n_true_features=5, n_dims=2)
    >>> tuple(model(torch.zeros(3, 5)).shape)
    (3, 5)
    """

    def __init__(self, n_true_features, n_dims):
        super().__init__()
        n_true_features = check_scalar(n_true_features, "n_true_features", low=1,
                                       integer=True)
        n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
        self.n_true_features = n_true_features
        self.W = nn.Parameter(torch.empty(n_dims, n_true_features))
        nn.init.xavier_normal_(self.W)
        self.b = nn.Parameter(torch.zeros(n_true_features))

    def forward(self, f):
        r"""The reconstruction :math:`\hat f` of features ``f`` ``(n, n_true_features)``."""
        check_features(f, "f", self, self.n_true_features, what="n_true_features")
        return F.relu(f @ self.W.T @ self.W + self.b)

    def loss(self, f, importance):
        r"""The importance-weighted squared error, averaged over the batch.

        ``importance`` holds one weight :math:`I_j \ge 0` per feature (or one for all);
        it is moved to the dtype and device of ``f``.
        """
        check_batch(check_features(f, "f", self, self.n_true_features,
                                   what="n_true_features"), "f")
        importance = torch.as_tensor(importance, dtype=f.dtype, device=f.device)
        if importance.shape not in ((), (self.n_true_features,)):
            raise ValueError(f"importance must have shape ({self.n_true_features},), one "
                             f"weight per feature, got {tuple(importance.shape)}")
        if not bool(torch.isfinite(importance).all()) or bool((importance < 0).any()):
            raise ValueError("importance must hold finite non-negative weights")
        return (importance * (f - self(f)) ** 2).sum(dim=1).mean()


def _to_numpy(a, name):
    return np.asarray(to_numpy(check_array(a, name, ndim=2)), dtype=np.float64)


def mean_max_cosine_similarity(learned, true):
    r"""How well a learned dictionary recovers the true features.

    .. math:: \mathrm{MMCS} = \frac1m \sum_{j=1}^m \max_k
              \frac{\langle e_j, d_k\rangle}{\lVert e_j\rVert\,\lVert d_k\rVert}

    for the columns :math:`e_j` of ``true`` ``(n_dims, m)`` and :math:`d_k` of
    ``learned`` ``(n_dims, n_hidden)``. It is 1 when every true feature is a learned
    direction (in any order, at any positive scale). Chapter: *Superposition and
    interpretability*.

    Examples
    --------
    >>> import numpy as np
    >>> E = np.eye(3)
    >>> round(mean_max_cosine_similarity(2.0 * E[:, [2, 0, 1]], E), 6)
    1.0
    """
    L = _to_numpy(learned, "learned")
    T = _to_numpy(true, "true")
    if L.shape[0] != T.shape[0]:
        raise ValueError(f"learned and true must have as many rows, got {L.shape} "
                         f"and {T.shape}")
    Ln = L / np.maximum(np.linalg.norm(L, axis=0, keepdims=True), 1e-12)
    Tn = T / np.maximum(np.linalg.norm(T, axis=0, keepdims=True), 1e-12)
    return float((Tn.T @ Ln).max(axis=1).mean())


def _check_model(model):
    if not isinstance(model, SparseAutoencoder):
        raise TypeError(f"model must be a sparse autoencoder of sparsecoding.nn, got "
                        f"{type(model).__name__}")


def _on_model(model, X):
    """Signals ``X`` checked and moved to the model's device (data may live elsewhere)."""
    if isinstance(X, torch.Tensor):
        X = X.to(_reference(model)[1])
    return check_features(X, "X", model, model.n_inputs, ndim=(2,))


@torch.no_grad()
def dead_latents(model, X, *, batch_size=4096):
    """Boolean tensor ``(n_hidden,)``: which latents are zero on every row of ``X``.

    The codes are made by ``model.encode`` batch by batch, each batch moved to the
    model's device, and the verdict is the one definition of a dead unit,
    :func:`sparsecoding.codes.dead_unit_mask`. The mask is on the model's device.
    """
    from ..codes import dead_unit_mask

    _check_model(model)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch tensor of shape (n_signals, {model.n_inputs}), "
                        f"got {type(X).__name__}")
    check_batch(_on_model(model, X[:1]), "X")
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    dead = None
    for start in range(0, X.shape[0], batch_size):
        xb = _on_model(model, X[start:start + batch_size])
        batch_dead = dead_unit_mask(model.encode(xb))
        dead = batch_dead if dead is None else dead & batch_dead
    return dead


@torch.no_grad()
def resample_dead_latents(model, X, dead, *, optimizer=None, scale=0.2, seed=0):
    r"""Re-initialise dead latents on inputs the autoencoder reconstructs badly.

    For each dead latent, draw an input :math:`x` with probability proportional to its
    squared reconstruction error, set the latent's decoder column to the unit vector
    along :math:`x - b_d`, its encoder row to the same vector times ``scale`` times the
    mean norm of the living encoder rows, its bias to 0, and (with ``optimizer``) clear
    Adam's moments of those entries :cite:p:`bricken2023monosemanticity`. Returns the number of
    latents resampled. ``X`` is moved to the model's device. Chapter: *Superposition
    and interpretability*.

    Examples
    --------
    >>> sae = L1SparseAutoencoder(2, 4)
    >>> resample_dead_latents(sae, torch.randn(8, 2), torch.tensor([True, False, False, True]))
    2
    """
    _check_model(model)
    X = check_batch(_on_model(model, X), "X")
    dead = torch.as_tensor(dead, dtype=torch.bool)
    if dead.shape != (model.W_dec.shape[1],):
        raise ValueError(f"dead must have shape ({model.W_dec.shape[1]},), got "
                         f"{tuple(dead.shape)}")
    scale = check_scalar(scale, "scale", low=0.0)
    idx = dead.nonzero().flatten()
    if idx.numel() == 0:
        return 0
    x_hat, _ = model(X)
    err = ((X - x_hat) ** 2).sum(dim=1)
    gen = torch.Generator().manual_seed(check_scalar(seed, "seed", low=0, integer=True))
    rows = torch.multinomial(err.cpu() + 1e-12, idx.numel(), replacement=True,
                             generator=gen).to(X.device)
    v = X[rows] - model.b_dec
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = ~dead.to(X.device)
    enc_norm = model.W_enc[alive].norm(dim=1).mean() if alive.any() else 1.0
    model.W_dec[:, idx] = v.T
    model.W_enc[idx] = v * scale * enc_norm
    model.b_enc[idx] = 0.0
    if optimizer is not None:
        for param, dim in ((model.W_dec, 1), (model.W_enc, 0), (model.b_enc, 0)):
            state = optimizer.state.get(param, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state:
                    state[key].index_fill_(dim, idx.to(state[key].device), 0.0)
    return int(idx.numel())
