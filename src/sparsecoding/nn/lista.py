r"""LISTA: learned ISTA, a recurrent network trained to predict sparse codes.

:cite:t:`gregor2010lista` unroll :math:`T` steps of ISTA started from zero,

.. math::

    h_1 = S_\theta(W_e x), \qquad h_{t+1} = S_\theta(W_e x + W_h h_t), \quad t = 1, \dots, T-1,

and learn :math:`W_e`, :math:`W_h` and the per-atom thresholds :math:`\theta` so that
:math:`h_T` approaches the lasso solution :math:`h^\star`. Initialised from a dictionary
with :math:`W_e = D^\top / L`, :math:`W_h = I - D^\top D / L` and
:math:`\theta = \lambda / L`, the network computes exactly :math:`T` iterations of ISTA.
The chapter *Homotopy and unrolled networks* trains it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._arrays import to_numpy
from .._validation import check_array, check_scalar
from ._checks import check_features

__all__ = ["LISTA", "train_lista"]


class LISTA(nn.Module):
    r"""Learned ISTA with weights shared across its ``n_layers`` layers.

    Parameters
    ----------
    n_features, n_atoms : int
        Sizes of the signals and of the codes.
    n_layers : int
        :math:`T \ge 1`, the number of shrinkage steps.
    D : ``(n_features, n_atoms)``, array or tensor, optional
        The dictionary the initialisation follows. When omitted, a random Gaussian
        dictionary with unit-norm columns (seeded by ``seed``) is used.
    lam : float
        :math:`\lambda \ge 0`; the thresholds start at :math:`\lambda / L`.
    seed : int
        Seed of the random dictionary when ``D`` is omitted.
    dtype : torch.dtype, optional
        Of the parameters; torch's default dtype when omitted.

    Attributes
    ----------
    W_e : ``(n_atoms, n_features)``, the encoder :math:`W_e`
    W_h : ``(n_atoms, n_atoms)``, the mutual inhibition :math:`W_h`
    theta : ``(n_atoms,)``, the thresholds :math:`\theta`

    Examples
    --------
    >>> import torch
    >>> model = LISTA(4, 6, n_layers=3, lam=0.1)
    >>> model(torch.zeros(2, 4)).shape
    torch.Size([2, 6])
    """

    def __init__(self, n_features, n_atoms, n_layers, D=None, lam=0.1, *, seed=0,
                 dtype=None):
        super().__init__()
        n_features = check_scalar(n_features, "n_features", low=1, integer=True)
        n_atoms = check_scalar(n_atoms, "n_atoms", low=1, integer=True)
        self.n_layers = check_scalar(n_layers, "n_layers", low=1, integer=True)
        lam = check_scalar(lam, "lam", low=0.0)
        if D is None:
            rng = np.random.default_rng(check_scalar(seed, "seed", low=0, integer=True))
            D = rng.standard_normal((n_features, n_atoms))
            D /= np.linalg.norm(D, axis=0)
        else:
            D = to_numpy(check_array(D, "D", ndim=2))
            if D.shape != (n_features, n_atoms):
                raise ValueError(
                    f"D must have shape (n_features, n_atoms) = {(n_features, n_atoms)}, "
                    f"got {D.shape}"
                )
        D = np.asarray(D, dtype=np.float64)
        L = float(np.linalg.norm(D, 2) ** 2) or 1.0
        dtype = dtype or torch.get_default_dtype()
        self.W_e = nn.Parameter(torch.as_tensor(D.T / L, dtype=dtype))
        self.W_h = nn.Parameter(torch.as_tensor(np.eye(n_atoms) - D.T @ D / L, dtype=dtype))
        self.theta = nn.Parameter(torch.full((n_atoms,), lam / L, dtype=dtype))
        self.lam = lam
        self.lipschitz = L
        self.n_features, self.n_atoms = n_features, n_atoms

    @property
    def S(self):
        """The former name of ``W_h``."""
        return self.W_h

    @staticmethod
    def shrink(v, theta):
        r"""Soft thresholding :math:`\operatorname{sign}(v)\max(|v| - \theta, 0)`."""
        return torch.sign(v) * torch.relu(v.abs() - theta)

    def forward(self, X, n_layers=None):
        """Codes ``(n_signals, n_atoms)`` of the signals ``X`` ``(n_signals, n_features)``.

        ``n_layers`` runs fewer (or more) layers than the model was built with.
        """
        T = self.n_layers if n_layers is None else check_scalar(
            n_layers, "n_layers", low=1, integer=True)
        check_features(X, "X", self, self.n_features, what="n_features", ndim=(2,))
        B = X @ self.W_e.T
        H = self.shrink(B, self.theta)
        for _ in range(T - 1):
            H = self.shrink(B + H @ self.W_h.T, self.theta)
        return H


def train_lista(model, X, H_star, *, epochs=20, steps=None, batch_size=64, lr=1e-3,
                seed=0, device=None, progress=True, desc="LISTA", optimizer=None,
                after_step=None, metrics=None):
    r"""Train a :class:`LISTA` to predict the codes ``H_star`` of the signals ``X``.

    Minimises the mean squared error :math:`\frac1N\sum_i \|h_T(x_i) - h^\star_i\|_2^2`
    with Adam by :func:`sparsecoding.training.fit` (chapter *Homotopy and unrolled
    networks*).

    Parameters
    ----------
    model : LISTA
    X : ``(n_signals, n_features)`` tensor or array
    H_star : ``(n_signals, n_atoms)`` tensor or array
        The target codes (e.g. from :func:`sparsecoding.fista` with a tight
        tolerance).
    epochs : int
        Passed to ``fit``.
    steps : int, optional
        Train for this many optimiser steps instead of ``epochs`` (see ``fit``).
    batch_size : int
        Passed to ``fit``.
    lr : float
        Passed to ``fit``.
    seed : int
        Passed to ``fit``.
    device : str or torch.device, optional
        Passed to ``fit``.
    progress : bool
        Passed to ``fit``.
    desc : str
        Label of the progress bar.
    optimizer, after_step, metrics : optional
        Passed to ``fit`` (e.g. one optimiser and a learning-rate schedule stepped
        after every step; a held-out error recorded after every epoch).

    Returns
    -------
    dict
        The history from ``fit``: ``"loss"`` per step.
    """
    from ..training import fit

    if not isinstance(model, LISTA):
        raise TypeError(f"model must be a LISTA, got {type(model).__name__}")
    dtype = model.W_e.dtype
    X = torch.as_tensor(check_array(X, "X", ndim=2), dtype=dtype)
    H_star = torch.as_tensor(check_array(H_star, "H_star", ndim=2), dtype=dtype)
    if X.shape[1] != model.n_features:
        raise ValueError(
            f"X has {X.shape[1]} features (shape {tuple(X.shape)}) but the model expects "
            f"{model.n_features} (n_features): X must have shape (n_signals, "
            f"{model.n_features})"
        )
    if H_star.shape != (X.shape[0], model.n_atoms):
        raise ValueError(
            f"H_star must have shape {(X.shape[0], model.n_atoms)} (n_signals, "
            f"n_atoms), got {tuple(H_star.shape)}"
        )

    def loss_fn(m, xb, hb):
        return ((m(xb) - hb) ** 2).sum(dim=1).mean()

    return fit(model, loss_fn, (X, H_star), epochs=None if steps is not None else epochs,
               steps=steps, batch_size=batch_size, lr=lr, seed=seed,
               device=device or torch.device("cpu"), progress=progress, desc=desc,
               optimizer=optimizer, after_step=after_step, metrics=metrics)
