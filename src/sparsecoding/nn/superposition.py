r"""Superposition toy data and the sparse autoencoders that take features back out of it.

A signal is a sparse combination of more feature directions than it has dimensions:

.. math:: x = E f, \qquad E \in \mathbb{R}^{d \times m},\ m > d,\ \lVert E_{:,j}\rVert = 1,

where each feature :math:`f_j` is non-zero with probability :math:`p`. A sparse
autoencoder learns a dictionary whose columns should recover the columns of :math:`E`
(Elhage et al., 2022; Bricken et al., 2023; Gao et al., 2024). The chapter
*Superposition and interpretability* (Part III) explains and measures them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._backend import is_tensor
from .._validation import check_array, check_scalar

__all__ = [
    "sample_sparse_features",
    "random_embedding",
    "ToyFeatureData",
    "ToyModel",
    "L1SparseAutoencoder",
    "TopKSparseAutoencoder",
    "mean_max_cosine_similarity",
    "dead_latents",
    "resample_dead_latents",
]


def sample_sparse_features(n, n_features, p, seed=0):
    r"""Draw ``n`` sparse feature vectors: each entry is :math:`u\,b` with
    :math:`u \sim \mathcal U[0, 1]` and :math:`b \sim \mathrm{Bernoulli}(p)`.

    Returns a float32 tensor ``(n, n_features)``. Chapter: *Superposition and
    interpretability*.

    Examples
    --------
    >>> F = sample_sparse_features(1000, 4, 0.25, seed=0)
    >>> tuple(F.shape), bool((F >= 0).all())
    ((1000, 4), True)
    """
    n = check_scalar(n, "n", low=1, integer=True)
    n_features = check_scalar(n_features, "n_features", low=1, integer=True)
    p = check_scalar(p, "p", low=0.0, high=1.0)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    gen = torch.Generator().manual_seed(seed)
    on = torch.rand(n, n_features, generator=gen) < p
    return torch.rand(n, n_features, generator=gen) * on


def random_embedding(n_dims, n_features, seed=0):
    """A ``(n_dims, n_features)`` float32 tensor of random unit-norm columns (Gaussian).

    Examples
    --------
    >>> E = random_embedding(3, 5, seed=0)
    >>> [round(float(v), 4) for v in E.norm(dim=0)]
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
    n_features = check_scalar(n_features, "n_features", low=1, integer=True)
    gen = torch.Generator().manual_seed(check_scalar(seed, "seed", low=0, integer=True))
    E = torch.randn(n_dims, n_features, generator=gen)
    return E / E.norm(dim=0, keepdim=True)


class ToyFeatureData:
    r"""Signals :math:`x = E f` built from ``n_features`` sparse features in ``n_dims``.

    Attributes
    ----------
    embed : ``(n_dims, n_features)`` tensor with unit-norm columns, the true features.

    Examples
    --------
    >>> data = ToyFeatureData(n_features=6, n_dims=3, p=0.1, seed=0)
    >>> F, X = data.sample(10, seed=1)
    >>> tuple(F.shape), tuple(X.shape)
    ((10, 6), (10, 3))
    """

    def __init__(self, n_features, n_dims, p, seed=0):
        self.n_features = check_scalar(n_features, "n_features", low=1, integer=True)
        self.n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
        self.p = check_scalar(p, "p", low=0.0, high=1.0)
        self.embed = random_embedding(self.n_dims, self.n_features, seed)

    def sample(self, n, seed=0):
        """``(features, signals)``: ``(n, n_features)`` and ``(n, n_dims)`` tensors."""
        feats = sample_sparse_features(n, self.n_features, self.p, seed)
        return feats, feats @ self.embed.T


class ToyModel(nn.Module):
    r"""The ReLU output toy model of Elhage et al. (2022).

    .. math:: \hat f = \mathrm{ReLU}(W^\top W f + b), \qquad W \in \mathbb{R}^{d\times m},

    trained on :math:`\sum_j I_j (f_j - \hat f_j)^2` with feature importances
    :math:`I_j`. With dense features it keeps the :math:`d` most important features
    in orthogonal directions; with sparse features it packs more than :math:`d` of
    them in *superposition*.

    Examples
    --------
    >>> model = ToyModel(n_features=5, n_dims=2)
    >>> tuple(model(torch.zeros(3, 5)).shape)
    (3, 5)
    """

    def __init__(self, n_features, n_dims):
        super().__init__()
        n_features = check_scalar(n_features, "n_features", low=1, integer=True)
        n_dims = check_scalar(n_dims, "n_dims", low=1, integer=True)
        self.W = nn.Parameter(torch.empty(n_dims, n_features))
        nn.init.xavier_normal_(self.W)
        self.b = nn.Parameter(torch.zeros(n_features))

    def forward(self, f):
        return F.relu(f @ self.W.T @ self.W + self.b)

    def loss(self, f, importance):
        """The importance-weighted squared error, averaged over the batch."""
        return (importance * (f - self(f)) ** 2).sum(dim=1).mean()


class _SparseAutoencoder(nn.Module):
    """Encoder, unit-norm decoder columns and a shared pre-/post-bias."""

    def __init__(self, n_inputs, n_latents, seed):
        super().__init__()
        n_inputs = check_scalar(n_inputs, "n_inputs", low=1, integer=True)
        n_latents = check_scalar(n_latents, "n_latents", low=1, integer=True)
        gen = torch.Generator().manual_seed(check_scalar(seed, "seed", low=0,
                                                         integer=True))
        D = torch.randn(n_inputs, n_latents, generator=gen)
        D = D / D.norm(dim=0, keepdim=True)
        self.W_dec = nn.Parameter(D)                 # (n_inputs, n_latents): columns
        self.W_enc = nn.Parameter(D.T.clone())       # tied at initialisation
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_dec = nn.Parameter(torch.zeros(n_inputs))

    @property
    def decoder_directions(self):
        """The dictionary: ``(n_inputs, n_latents)``, one unit-norm atom per column."""
        return self.W_dec.detach()

    def pre_activation(self, x):
        return (x - self.b_dec) @ self.W_enc.T + self.b_enc

    def decode(self, h):
        return h @ self.W_dec.T + self.b_dec

    def forward(self, x):
        """``(x_hat, h)``: the reconstruction and the code."""
        h = self.encode(x)
        return self.decode(h), h

    @torch.no_grad()
    def normalize_decoder_(self):
        """Project every decoder column back onto the unit sphere (after each step)."""
        self.W_dec /= self.W_dec.norm(dim=0, keepdim=True).clamp_min(1e-12)


class L1SparseAutoencoder(_SparseAutoencoder):
    r"""A sparse autoencoder with an L1 penalty and unit-norm decoder columns.

    .. math:: h = \mathrm{ReLU}(W_e(x - b_d) + b_e), \quad \hat x = D h + b_d, \quad
              \min \tfrac12\lVert x - \hat x\rVert^2 + \lambda \lVert h\rVert_1,
              \ \lVert D_{:,j}\rVert = 1

    (Bricken et al., 2023). Call :meth:`normalize_decoder_` after every step
    (``fit(..., after_step=lambda m: m.normalize_decoder_())``): without it the L1
    term is defeated by shrinking :math:`h` and growing :math:`D`.

    Examples
    --------
    >>> sae = L1SparseAutoencoder(n_inputs=3, n_latents=6)
    >>> x_hat, h = sae(torch.zeros(2, 3))
    >>> tuple(x_hat.shape), tuple(h.shape)
    ((2, 3), (2, 6))
    """

    def __init__(self, n_inputs, n_latents, *, seed=0):
        super().__init__(n_inputs, n_latents, seed)

    def encode(self, x):
        return F.relu(self.pre_activation(x))

    def loss(self, x, lam):
        """``(loss, {"mse": ..., "l1": ..., "l0": ...})``, averaged over the batch."""
        lam = check_scalar(lam, "lam", low=0.0)
        x_hat, h = self(x)
        sq = 0.5 * ((x - x_hat) ** 2).sum(dim=1).mean()
        l1 = h.sum(dim=1).mean()
        return sq + lam * l1, {"mse": sq.detach(), "l1": l1.detach(),
                               "l0": (h > 0).float().sum(dim=1).mean()}


class TopKSparseAutoencoder(_SparseAutoencoder):
    r"""A sparse autoencoder that keeps the ``k`` largest pre-activations (Gao et al., 2024).

    .. math:: h = \mathrm{ReLU}\big(\mathrm{TopK}_k(W_e(x - b_d) + b_e)\big), \quad
              \hat x = D h + b_d, \quad \min \tfrac12\lVert x - \hat x\rVert^2

    Sparsity is set by ``k`` directly, so there is no L1 term to tune and no shrinkage
    of the kept values. Every code has at most ``k`` non-zeros.

    Examples
    --------
    >>> sae = TopKSparseAutoencoder(n_inputs=3, n_latents=6, k=2)
    >>> _, h = sae(torch.randn(4, 3))
    >>> bool(((h != 0).sum(dim=1) <= 2).all())
    True
    """

    def __init__(self, n_inputs, n_latents, k, *, seed=0):
        super().__init__(n_inputs, n_latents, seed)
        self.k = check_scalar(k, "k", low=1, integer=True, high=n_latents)

    def encode(self, x):
        pre = self.pre_activation(x)
        values, idx = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, idx, F.relu(values))

    def loss(self, x, lam=0.0):
        """``(loss, {"mse": ..., "l0": ...})``; ``lam`` is ignored (kept for symmetry)."""
        x_hat, h = self(x)
        sq = 0.5 * ((x - x_hat) ** 2).sum(dim=1).mean()
        return sq, {"mse": sq.detach(), "l0": (h > 0).float().sum(dim=1).mean()}


def _to_numpy(a, name):
    a = check_array(a, name, ndim=2)
    return a.detach().cpu().double().numpy() if is_tensor(a) else np.asarray(a, float)


def mean_max_cosine_similarity(learned, true):
    r"""How well a learned dictionary recovers the true features.

    .. math:: \mathrm{MMCS} = \frac1m \sum_{j=1}^m \max_k
              \frac{\langle e_j, d_k\rangle}{\lVert e_j\rVert\,\lVert d_k\rVert}

    for the columns :math:`e_j` of ``true`` ``(n_dims, m)`` and :math:`d_k` of
    ``learned`` ``(n_dims, n_latents)``. It is 1 when every true feature is a learned
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


@torch.no_grad()
def dead_latents(model, X, *, batch_size=4096):
    """Boolean tensor ``(n_latents,)``: which latents are zero on every row of ``X``."""
    ever = None
    for start in range(0, X.shape[0], batch_size):
        on = (model.encode(X[start:start + batch_size]) > 0).any(0)
        ever = on if ever is None else ever | on
    return ~ever


@torch.no_grad()
def resample_dead_latents(model, X, dead, *, optimizer=None, scale=0.2, seed=0):
    r"""Re-initialise dead latents on inputs the autoencoder reconstructs badly.

    For each dead latent, draw an input :math:`x` with probability proportional to its
    squared reconstruction error, set the latent's decoder column to the unit vector
    along :math:`x - b_d`, its encoder row to the same vector times ``scale`` times the
    mean norm of the living encoder rows, its bias to 0, and (with ``optimizer``) clear
    Adam's moments of those entries (Bricken et al., 2023). Returns the number of
    latents resampled. Chapter: *Superposition and interpretability*.

    Examples
    --------
    >>> sae = L1SparseAutoencoder(2, 4)
    >>> resample_dead_latents(sae, torch.randn(8, 2), torch.tensor([True, False, False, True]))
    2
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise TypeError("X must be a 2-D torch tensor")
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
