r"""Sparse autoencoders with an L1 penalty, a decoder-norm constraint and explaining away.

Two models, explained in Part III of the book:

* :class:`SparseAutoencoder` (chapter *Sparse autoencoders*): one hidden layer,
  :math:`h = \mathrm{ReLU}(W_e x + b_e)`, :math:`\hat x = W_d h + b_d`, trained on
  :math:`\tfrac12\|x - \hat x\|_2^2 + \lambda\|h\|_1`, with three ways of treating the
  weight norms (none, unit-norm decoder columns, an inverse-norm penalty).
* :class:`ExplainingAwayAutoencoder` (chapter *Explaining away*): the same network with a
  recurrent inner loop through a learnt matrix :math:`G` that lets active units
  suppress (or facilitate) the others before decoding.

The decoder matrix :math:`W_d` is the dictionary :math:`D` of the rest of the book,
``(n_inputs, n_hidden)`` with one atom per column, so ``X ≈ H @ D.T + b_d``.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_choice, check_scalar

__all__ = ["SparseAutoencoder", "ExplainingAwayAutoencoder", "CONSTRAINTS"]

#: The accepted values of ``constraint``.
CONSTRAINTS = ("none", "unit_norm", "inverse_norm")
_PENALIZED = ("encoder", "decoder")
_EPS = 1e-12


class SparseAutoencoder(nn.Module):
    r"""A one-hidden-layer ReLU autoencoder trained with an L1 penalty on its codes.

    .. math::

        h = \mathrm{ReLU}(W_e x + b_e), \qquad \hat x = W_d h + b_d,

    with the loss (averaged over a minibatch)

    .. math::

        \tfrac12 \|x - \hat x\|_2^2 + \lambda \|h\|_1 + \text{(norm term)} .

    Without a norm term the loss can be lowered for free by scaling
    :math:`W_e, b_e \to W_e/c, b_e/c` and :math:`W_d \to c\,W_d`: the codes shrink by
    :math:`c`, the reconstruction is unchanged. ``constraint`` picks the remedy:

    * ``"none"``: no remedy (to watch the network escape the penalty);
    * ``"unit_norm"``: the decoder columns :math:`d_j` (the atoms) are kept at unit
      norm by :meth:`normalize_decoder_`, to be called after every optimiser step
      (``fit(..., after_step=model.after_step)``);
    * ``"inverse_norm"``: the penalty :math:`\alpha \sum_j 1/\|w_j\|_2^2` on the
      encoder rows :math:`w_j` (``penalize="encoder"``, the weights that shrink in the
      escape) or on the decoder columns (``penalize="decoder"``, which grow in the
      escape, so this penalty cannot stop it: the chapter measures it).

    Explained in the chapter *Sparse autoencoders* (Part III).

    Parameters
    ----------
    n_inputs, n_hidden : int
        Input dimension and number of hidden units (atoms).
    constraint : {"none", "unit_norm", "inverse_norm"}
    alpha : float
        Weight :math:`\alpha \ge 0` of the inverse-norm penalty.
    tied : bool
        Use :math:`W_d = W_e^\top` (one weight matrix).
    penalize : {"encoder", "decoder"}
        Which weights the inverse-norm penalty acts on.

    Attributes
    ----------
    encoder : torch.nn.Linear
        :math:`W_e` (``encoder.weight``, ``(n_hidden, n_inputs)``) and :math:`b_e`.
    decoder : torch.nn.Linear or None
        :math:`W_d` (``decoder.weight``, ``(n_inputs, n_hidden)``) and :math:`b_d`;
        with ``tied=True`` only its bias is used.

    Examples
    --------
    >>> import torch
    >>> from sparsecoding.nn import SparseAutoencoder
    >>> _ = torch.manual_seed(0)
    >>> model = SparseAutoencoder(4, 6, constraint="unit_norm")
    >>> x_hat, h = model(torch.randn(3, 4))
    >>> tuple(x_hat.shape), tuple(h.shape), bool((h >= 0).all())
    ((3, 4), (3, 6), True)
    >>> torch.linalg.norm(model.decoder_weight, dim=0).round(decimals=4).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, n_inputs, n_hidden, constraint="none", alpha=1e-2, tied=False,
                 penalize="encoder"):
        super().__init__()
        self.n_inputs = check_scalar(n_inputs, "n_inputs", low=1, integer=True)
        self.n_hidden = check_scalar(n_hidden, "n_hidden", low=1, integer=True)
        self.constraint = check_choice(constraint, "constraint", CONSTRAINTS)
        self.alpha = check_scalar(alpha, "alpha", low=0.0)
        if not isinstance(tied, bool):
            raise TypeError(f"tied must be True or False, got {tied!r}")
        self.tied = tied
        self.penalize = check_choice(penalize, "penalize", _PENALIZED)
        self.encoder = nn.Linear(self.n_inputs, self.n_hidden)
        if tied:
            self.decoder = None
            self.decoder_bias = nn.Parameter(torch.zeros(self.n_inputs))
        else:
            self.decoder = nn.Linear(self.n_hidden, self.n_inputs)
        self.reset_parameters()

    # ----------------------------------------------------------------- weights
    def reset_parameters(self):
        """Random unit-norm atoms, encoder :math:`W_e = W_d^\\top`, zero biases.

        Every constraint starts from the same point (for a given seed), so runs that
        differ only in ``constraint`` can be compared.
        """
        with torch.no_grad():
            D = torch.randn(self.n_inputs, self.n_hidden)
            D /= torch.linalg.norm(D, dim=0, keepdim=True)
            self.encoder.weight.copy_(D.T)
            self.encoder.bias.zero_()
            if self.decoder is not None:
                self.decoder.weight.copy_(D)
                self.decoder.bias.zero_()
            else:
                self.decoder_bias.zero_()

    @property
    def decoder_weight(self):
        """The dictionary :math:`D = W_d`, ``(n_inputs, n_hidden)``, one atom per column."""
        return self.encoder.weight.T if self.tied else self.decoder.weight

    @property
    def _decoder_bias(self):
        return self.decoder_bias if self.tied else self.decoder.bias

    def weight_norms(self):
        """Mean norm of the encoder rows and of the decoder columns, as Python floats.

        Use it as the ``metrics`` of :func:`sparsecoding.training.fit` to follow the
        norms epoch by epoch.
        """
        with torch.no_grad():
            enc = torch.linalg.norm(self.encoder.weight, dim=1).mean()
            dec = torch.linalg.norm(self.decoder_weight, dim=0).mean()
        return {"encoder_norm": float(enc), "decoder_norm": float(dec)}

    @torch.no_grad()
    def normalize_decoder_(self):
        """Rescale every decoder column (atom) to unit Euclidean norm, in place.

        The projection onto :math:`\\{W_d : \\|d_j\\|_2 = 1\\}`. With tied weights the
        encoder rows are rescaled (they are the same numbers).
        """
        W = self.encoder.weight if self.tied else self.decoder.weight
        dim = 1 if self.tied else 0
        W /= torch.linalg.norm(W, dim=dim, keepdim=True).clamp_min(_EPS)
        return self

    def after_step(self, model=None):
        """What to do after an optimiser step: re-project for ``"unit_norm"``.

        Pass it to :func:`sparsecoding.training.fit` as ``after_step``.
        """
        if self.constraint == "unit_norm":
            self.normalize_decoder_()

    def norm_penalty(self):
        r""":math:`\alpha\sum_j 1/\|w_j\|_2^2` for ``"inverse_norm"``, else 0."""
        if self.constraint != "inverse_norm":
            return self.encoder.weight.new_zeros(())
        if self.penalize == "encoder":
            sq = (self.encoder.weight ** 2).sum(dim=1)
        else:
            sq = (self.decoder_weight ** 2).sum(dim=0)
        return self.alpha * (1.0 / sq.clamp_min(_EPS)).sum()

    # ----------------------------------------------------------------- forward
    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must have a floating-point dtype, got {x.dtype}")
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_inputs:
            raise ValueError(
                f"x must have shape (n_signals, {self.n_inputs}) or ({self.n_inputs},), "
                f"got {tuple(x.shape)}"
            )
        return x

    def pre_activation(self, x):
        r""":math:`\mu_0 = W_e x + b_e`."""
        return self.encoder(x)

    def encode(self, x):
        r"""The code :math:`h = \mathrm{ReLU}(W_e x + b_e)`, ``(n_signals, n_hidden)``."""
        x = self._check_input(x)
        return torch.relu(self.pre_activation(x))

    def decode(self, h):
        r""":math:`\hat x = W_d h + b_d`."""
        return h @ self.decoder_weight.T + self._decoder_bias

    def forward(self, x):
        """Return ``(x_hat, h)``: the reconstruction and the code."""
        h = self.encode(x)
        return self.decode(h), h

    def loss(self, x, l1):
        r"""The training loss and its parts, averaged over the minibatch ``x``.

        .. math::

            \tfrac12\|x-\hat x\|_2^2 + \lambda\|h\|_1 + \text{norm penalty}

        Parameters
        ----------
        x : tensor ``(n_signals, n_inputs)``
        l1 : float
            The L1 weight :math:`\lambda \ge 0`.

        Returns
        -------
        loss : scalar tensor
        parts : dict of float
            ``"mse"`` (mean squared error per input value), ``"recon"``
            (:math:`\tfrac12\|x-\hat x\|^2` per signal), ``"l1"`` (:math:`\|h\|_1`
            per signal), ``"penalty"`` (the norm penalty) and ``"activity"`` (the
            fraction of codes that are non-zero).
        """
        l1 = check_scalar(l1, "l1", low=0.0)
        x_hat, h = self(x)
        sq = ((x - x_hat) ** 2).sum(dim=-1).mean()
        l1_norm = h.abs().sum(dim=-1).mean()
        penalty = self.norm_penalty()
        loss = 0.5 * sq + l1 * l1_norm + penalty
        parts = {
            "mse": float(sq.detach()) / self.n_inputs,
            "recon": 0.5 * float(sq.detach()),
            "l1": float(l1_norm.detach()),
            "penalty": float(penalty.detach()),
            "activity": float((h.detach() > 0).float().mean()),
        }
        return loss, parts

    def extra_repr(self):
        return (f"n_inputs={self.n_inputs}, n_hidden={self.n_hidden}, "
                f"constraint={self.constraint!r}, alpha={self.alpha}, tied={self.tied}")


class ExplainingAwayAutoencoder(SparseAutoencoder):
    r"""A sparse autoencoder whose codes go through a learnt recurrent inner loop.

    .. math::

        \mu_0 &= W_e x + b_e, \\
        \mu_{t+1} &= \mu_t + \gamma\big((\mu_0 - G\,\mathrm{ReLU}(\mu_t)) - \mu_t\big),
        \quad t = 0, \dots, t^\star - 1, \\
        h &= \mathrm{ReLU}(\mu_{t^\star}), \qquad \hat x = W_d h + b_d .

    :math:`G` (``n_hidden × n_hidden``) is learnt by backpropagation through the loop.
    A positive :math:`G_{jk}` lets an active unit :math:`k` suppress unit :math:`j`
    (explaining away), a negative one lets it excite it (facilitation). With
    :math:`G = D^\top D - I`, :math:`\mu_0 = D^\top x - \lambda` the loop is the
    locally competitive algorithm, whose fixed point is the non-negative lasso code.
    With ``t_star=0`` (or :math:`G = 0`) the model is a :class:`SparseAutoencoder`.

    Explained in the chapter *Explaining away* (Part III).

    Parameters
    ----------
    n_inputs, n_hidden : int
    t_star : int
        Number :math:`t^\star \ge 0` of inner steps.
    gamma : float
        Step :math:`0 < \gamma \le 1` of the inner loop.
    g_init : float
        Standard deviation of the initial :math:`G` (0: start from :math:`G = 0`).
    constraint, alpha, tied, penalize
        As in :class:`SparseAutoencoder`.

    Examples
    --------
    >>> import torch
    >>> from sparsecoding.nn import ExplainingAwayAutoencoder
    >>> _ = torch.manual_seed(0)
    >>> model = ExplainingAwayAutoencoder(4, 6, t_star=3, gamma=0.5)
    >>> x_hat, h = model(torch.randn(2, 4))
    >>> tuple(x_hat.shape), tuple(model.G.shape)
    ((2, 4), (6, 6))
    >>> mus = model.inner_loop(torch.randn(2, 4))
    >>> len(mus)   # mu_0, ..., mu_{t*}
    4
    """

    def __init__(self, n_inputs, n_hidden, t_star=1, gamma=1.0, constraint="none",
                 alpha=1e-2, tied=False, penalize="encoder", g_init=0.0):
        t_star = check_scalar(t_star, "t_star", low=0, integer=True)
        gamma = check_scalar(gamma, "gamma", low=0.0, low_inclusive=False, high=1.0)
        g_init = check_scalar(g_init, "g_init", low=0.0)
        super().__init__(n_inputs, n_hidden, constraint=constraint, alpha=alpha,
                         tied=tied, penalize=penalize)
        self.t_star = t_star
        self.gamma = gamma
        self.g_init = g_init
        self.G = nn.Parameter(g_init * torch.randn(self.n_hidden, self.n_hidden))

    def reset_parameters(self):
        super().reset_parameters()
        if hasattr(self, "G"):
            with torch.no_grad():
                self.G.copy_(self.g_init * torch.randn_like(self.G))

    def inner_loop(self, x):
        r"""The list :math:`[\mu_0, \mu_1, \dots, \mu_{t^\star}]` of pre-activations."""
        x = self._check_input(x)
        mu0 = self.pre_activation(x)
        mus = [mu0]
        mu = mu0
        for _ in range(self.t_star):
            mu = mu + self.gamma * ((mu0 - torch.relu(mu) @ self.G.T) - mu)
            mus.append(mu)
        return mus

    def encode(self, x):
        r"""The code :math:`h = \mathrm{ReLU}(\mu_{t^\star})`."""
        return torch.relu(self.inner_loop(x)[-1])

    def extra_repr(self):
        return super().extra_repr() + f", t_star={self.t_star}, gamma={self.gamma}"
