r"""The sparse-autoencoder family: one base, four models.

Every model here is a :class:`SparseAutoencoder`: an encoder :math:`(W_e, b_e)`, a
decoder :math:`(W_d, b_d)` (or tied weights :math:`W_d = W_e^\top`), a code
:math:`h = \sigma(W_e(x - p) + b_e)` with :math:`p = b_d` (a pre-bias) or
:math:`p = 0`, the reconstruction :math:`\hat x = W_d h + b_d`, and the loss

.. math::

    \tfrac12 \|x - \hat x\|_2^2 + \lambda \|h\|_1 + \text{(norm term)},

averaged over a minibatch. The decoder matrix :math:`W_d` is the dictionary :math:`D`
of the rest of the book, ``(n_inputs, n_hidden)`` with one atom per column, so
``X ≈ H @ D.T + b_d``. The models differ only in what they change of that base:

* :class:`SparseAutoencoder` (chapter *Sparse autoencoders*): :math:`\sigma` = ReLU,
  three ways of treating the weight norms (none, unit-norm decoder columns, an
  inverse-norm penalty);
* :class:`ExplainingAwayAutoencoder` (chapter *Explaining away*): a recurrent inner
  loop through a learnt matrix :math:`G` before the ReLU;
* :class:`L1SparseAutoencoder` (chapter *Superposition and interpretability*): unit-norm
  atoms and a pre-bias, seeded by its own generator :cite:p:`bricken2023monosemanticity`;
* :class:`TopKSparseAutoencoder` (same chapter): :math:`\sigma` keeps the ``k`` largest
  pre-activations :cite:p:`gao2024scaling`.

Inputs are checked before torch sees them: a wrong shape, dtype or device, or NaN/inf,
raise a :class:`TypeError` or :class:`ValueError` naming the argument.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_choice, check_scalar
from ._checks import check_batch, check_features

__all__ = ["SparseAutoencoder", "ExplainingAwayAutoencoder", "L1SparseAutoencoder",
           "TopKSparseAutoencoder", "CONSTRAINTS"]

#: The accepted values of ``constraint``.
CONSTRAINTS = ("none", "unit_norm", "inverse_norm")
_PENALIZED = ("encoder", "decoder")
_EPS = 1e-12


def _linear(n_in, n_out, seeded):
    # With a seed the weights are drawn from the model's own generator below, and
    # torch's initialisation (which draws from the global generator) is skipped, so
    # that building the model changes no global state. Without a seed, torch's
    # initialisation runs as it always did, so a torch.manual_seed gives the same
    # model as in earlier versions of the package.
    if seeded:
        return nn.utils.skip_init(nn.Linear, n_in, n_out)
    return nn.Linear(n_in, n_out)


class SparseAutoencoder(nn.Module):
    r"""A one-hidden-layer ReLU autoencoder trained with an L1 penalty on its codes.

    .. math::

        h = \mathrm{ReLU}(W_e (x - p) + b_e), \qquad \hat x = W_d h + b_d,

    with :math:`p = b_d` when ``pre_bias`` else :math:`p = 0`, and the loss (averaged
    over a minibatch)

    .. math::

        \tfrac12 \|x - \hat x\|_2^2 + \lambda \|h\|_1 + \text{(norm term)} .

    Without a norm term the loss can be lowered for free by scaling
    :math:`W_e, b_e \to W_e/c, b_e/c` and :math:`W_d \to c\,W_d`: the codes shrink by
    :math:`c`, the reconstruction is unchanged. ``constraint`` picks the remedy:

    * ``"none"``: no remedy (to watch the network escape the penalty);
    * ``"unit_norm"``: the decoder columns :math:`d_j` (the atoms) are kept at unit
      norm by :meth:`normalize_decoder_`, to be called after every optimiser step
      (``fit(..., after_step=model.after_step)``);
    * ``"inverse_norm"``: the penalty :math:`\xi \sum_j 1/\|w_j\|_2^2` on the
      encoder rows :math:`w_j` (``penalize="encoder"``, the weights that shrink in the
      escape) or on the decoder columns (``penalize="decoder"``, which grow in the
      escape, so this penalty cannot stop it: the chapter measures it).

    This class is the base of the family: :class:`ExplainingAwayAutoencoder`,
    :class:`L1SparseAutoencoder` and :class:`TopKSparseAutoencoder` change only the
    code (:meth:`encode`) or the settings. Explained in the chapter *Sparse
    autoencoders* (Part III).

    Parameters
    ----------
    n_inputs, n_hidden : int
        Input dimension and number of hidden units (atoms).
    constraint : {"none", "unit_norm", "inverse_norm"}
    inverse_norm_weight : float
        Weight :math:`\xi \ge 0` of the inverse-norm penalty (used only with
        ``constraint="inverse_norm"``).
    tied : bool
        Use :math:`W_d = W_e^\top` (one weight matrix).
    penalize : {"encoder", "decoder"}
        Which weights the inverse-norm penalty acts on.
    pre_bias : bool
        Subtract the decoder bias :math:`b_d` from the input before encoding.
    seed : int, optional
        Seed of the model's own generator for the initial atoms; when omitted they come
        from torch's global generator (set it with ``torch.manual_seed``).

    Attributes
    ----------
    encoder : torch.nn.Linear
        :math:`W_e` (``encoder.weight``, ``(n_hidden, n_inputs)``) and :math:`b_e`.
    decoder : torch.nn.Linear or None
        :math:`W_d` (``decoder.weight``, ``(n_inputs, n_hidden)``) and :math:`b_d`;
        ``None`` with ``tied=True`` (then :math:`b_d` is ``decoder_bias``).

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
    >>> model(torch.zeros(3, 5))
    Traceback (most recent call last):
    ...
    ValueError: x has 5 features (shape (3, 5)) but the model expects 4 (n_inputs=4): x
    must have shape (n_signals, 4) or (4,)
    """

    def __init__(self, n_inputs, n_hidden, constraint="none", inverse_norm_weight=1e-2,
                 tied=False, penalize="encoder", *, pre_bias=False, seed=None):
        super().__init__()
        self.n_inputs = check_scalar(n_inputs, "n_inputs", low=1, integer=True)
        self.n_hidden = check_scalar(n_hidden, "n_hidden", low=1, integer=True)
        self.constraint = check_choice(constraint, "constraint", CONSTRAINTS)
        self.inverse_norm_weight = check_scalar(inverse_norm_weight, "inverse_norm_weight",
                                                low=0.0)
        for flag, name in ((tied, "tied"), (pre_bias, "pre_bias")):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.tied = tied
        self.pre_bias = pre_bias
        self.penalize = check_choice(penalize, "penalize", _PENALIZED)
        self.seed = None if seed is None else check_scalar(seed, "seed", low=0,
                                                           integer=True)
        seeded = self.seed is not None
        self.encoder = _linear(self.n_inputs, self.n_hidden, seeded)
        if tied:
            self.decoder = None
            self.decoder_bias = nn.Parameter(torch.zeros(self.n_inputs))
        else:
            self.decoder = _linear(self.n_hidden, self.n_inputs, seeded)
        self.reset_parameters()

    # ----------------------------------------------------------------- weights
    def reset_parameters(self):
        """Random unit-norm atoms, encoder :math:`W_e = W_d^\\top`, zero biases.

        Every constraint starts from the same point (for a given seed), so runs that
        differ only in ``constraint`` can be compared.
        """
        gen = None if self.seed is None else torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            D = torch.randn(self.n_inputs, self.n_hidden, generator=gen)
            D /= torch.linalg.norm(D, dim=0, keepdim=True)
            self.encoder.weight.copy_(D.T)
            self.encoder.bias.zero_()
            if self.decoder is not None:
                self.decoder.weight.copy_(D)
            self.b_dec.zero_()

    @property
    def decoder_weight(self):
        """The dictionary :math:`D = W_d`, ``(n_inputs, n_hidden)``, one atom per column."""
        return self.encoder.weight.T if self.tied else self.decoder.weight

    @property
    def decoder_directions(self):
        """The dictionary :math:`D`, detached from autograd, ``(n_inputs, n_hidden)``."""
        return self.decoder_weight.detach()

    @property
    def W_enc(self):
        """The encoder weights :math:`W_e`, ``(n_hidden, n_inputs)`` (a parameter)."""
        return self.encoder.weight

    @property
    def b_enc(self):
        """The encoder bias :math:`b_e`, ``(n_hidden,)`` (a parameter)."""
        return self.encoder.bias

    @property
    def W_dec(self):
        """The decoder weights :math:`W_d`, ``(n_inputs, n_hidden)``, the ``decoder_weight``."""
        return self.decoder_weight

    @property
    def b_dec(self):
        """The decoder bias :math:`b_d`, ``(n_inputs,)`` (a parameter)."""
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
        encoder rows are rescaled (they are the same numbers). Returns the model.
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
        r""":math:`\xi\sum_j 1/\|w_j\|_2^2` for ``"inverse_norm"``, else 0."""
        if self.constraint != "inverse_norm":
            return self.encoder.weight.new_zeros(())
        if self.penalize == "encoder":
            sq = (self.encoder.weight ** 2).sum(dim=1)
        else:
            sq = (self.decoder_weight ** 2).sum(dim=0)
        return self.inverse_norm_weight * (1.0 / sq.clamp_min(_EPS)).sum()

    @staticmethod
    def sparsity_penalty(h):
        r"""The L1 norm of the codes, :math:`\|h\|_1`, averaged over the signals."""
        return h.abs().sum(dim=-1).mean()

    # ----------------------------------------------------------------- forward
    def check_input(self, x, name="x"):
        """Check that ``x`` is a finite ``(n_signals, n_inputs)`` or ``(n_inputs,)`` tensor
        of the model's dtype on its device; raise a ``TypeError``/``ValueError`` naming
        ``name`` otherwise. Returns ``x``."""
        return check_features(x, name, self, self.n_inputs)

    def pre_activation(self, x):
        r""":math:`\mu_0 = W_e (x - p) + b_e` (:math:`p = b_d` with ``pre_bias``)."""
        x = self.check_input(x)
        if self.pre_bias:
            x = x - self.b_dec
        return F.linear(x, self.encoder.weight, self.encoder.bias)

    def activation(self, pre):
        """The non-linearity that makes the code from the pre-activation: ReLU."""
        return torch.relu(pre)

    def encode(self, x):
        r"""The code :math:`h = \mathrm{ReLU}(\mu_0)`, ``(n_signals, n_hidden)``."""
        return self.activation(self.pre_activation(x))

    def decode(self, h):
        r""":math:`\hat x = W_d h + b_d` for codes ``h`` ``(n_signals, n_hidden)``."""
        check_features(h, "h", self, self.n_hidden, what="n_hidden")
        return self._decode(h)

    def _decode(self, h):
        return h @ self.decoder_weight.T + self.b_dec

    def forward(self, x):
        """Return ``(x_hat, h)``: the reconstruction and the code of ``x``."""
        h = self.encode(x)
        return self._decode(h), h

    def loss(self, x, lam=0.0):
        r"""The training loss and its parts, averaged over the minibatch ``x``.

        .. math::

            \tfrac12\|x-\hat x\|_2^2 + \lambda\|h\|_1 + \text{norm penalty}

        Parameters
        ----------
        x : tensor ``(n_signals, n_inputs)``
        lam : float
            The sparsity weight :math:`\lambda \ge 0` (default 0).

        Returns
        -------
        loss : scalar tensor
        parts : dict of float
            ``"mse"`` (mean squared error per input value), ``"recon"``
            (:math:`\tfrac12\|x-\hat x\|^2` per signal), ``"l1"`` (:math:`\|h\|_1`
            per signal), ``"l0"`` (non-zero codes per signal), ``"activity"`` (the
            fraction of codes that are non-zero) and ``"penalty"`` (the norm penalty).
        """
        lam = check_scalar(lam, "lam", low=0.0)
        check_batch(self.check_input(x), "x")
        x_hat, h = self(x)
        sq = ((x - x_hat) ** 2).sum(dim=-1).mean()
        l1_norm = self.sparsity_penalty(h)
        penalty = self.norm_penalty()
        loss = 0.5 * sq + lam * l1_norm + penalty
        active = (h.detach() > 0).float()
        parts = {
            "mse": float(sq.detach()) / self.n_inputs,
            "recon": 0.5 * float(sq.detach()),
            "l1": float(l1_norm.detach()),
            "l0": float(active.sum(dim=-1).mean()),
            "activity": float(active.mean()),
            "penalty": float(penalty.detach()),
        }
        return loss, parts

    def extra_repr(self):
        return (f"n_inputs={self.n_inputs}, n_hidden={self.n_hidden}, "
                f"constraint={self.constraint!r}, "
                f"inverse_norm_weight={self.inverse_norm_weight}, tied={self.tied}, "
                f"pre_bias={self.pre_bias}")


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
    constraint : str
        As in :class:`SparseAutoencoder`.
    inverse_norm_weight : float
        As in :class:`SparseAutoencoder`.
    tied : bool
        As in :class:`SparseAutoencoder`.
    penalize : str
        As in :class:`SparseAutoencoder`.
    g_init : float
        Standard deviation of the initial :math:`G` (0: start from :math:`G = 0`).

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
                 inverse_norm_weight=1e-2, tied=False, penalize="encoder", g_init=0.0):
        t_star = check_scalar(t_star, "t_star", low=0, integer=True)
        gamma = check_scalar(gamma, "gamma", low=0.0, low_inclusive=False, high=1.0)
        g_init = check_scalar(g_init, "g_init", low=0.0)
        super().__init__(n_inputs, n_hidden, constraint=constraint,
                         inverse_norm_weight=inverse_norm_weight, tied=tied,
                         penalize=penalize)
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
        mu0 = self.pre_activation(x)
        mus = [mu0]
        mu = mu0
        for _ in range(self.t_star):
            mu = mu + self.gamma * ((mu0 - torch.relu(mu) @ self.G.T) - mu)
            mus.append(mu)
        return mus

    def encode(self, x):
        r"""The code :math:`h = \mathrm{ReLU}(\mu_{t^\star})`."""
        return self.activation(self.inner_loop(x)[-1])

    def extra_repr(self):
        return super().extra_repr() + f", t_star={self.t_star}, gamma={self.gamma}"


class L1SparseAutoencoder(SparseAutoencoder):
    r"""A sparse autoencoder with an L1 penalty, unit-norm atoms and a pre-bias.

    .. math:: h = \mathrm{ReLU}(W_e(x - b_d) + b_e), \quad \hat x = D h + b_d, \quad
              \min \tfrac12\lVert x - \hat x\rVert^2 + \lambda \lVert h\rVert_1,
              \ \lVert D_{:,j}\rVert = 1

    :cite:p:`bricken2023monosemanticity`: a :class:`SparseAutoencoder` with
    ``constraint="unit_norm"`` and ``pre_bias=True``, seeded by its own generator.
    Call :meth:`normalize_decoder_` after every step
    (``fit(..., after_step=lambda m: m.normalize_decoder_())``): without it the L1
    term is defeated by shrinking :math:`h` and growing :math:`D`.
    Chapter *Superposition and interpretability*.

    Parameters
    ----------
    n_inputs, n_hidden : int
        Input dimension and number of hidden units (atoms), the *latents* of the
        chapter.
    seed : int
        Seed of the initial atoms.

    Examples
    --------
    >>> sae = L1SparseAutoencoder(n_inputs=3, n_hidden=6)
    >>> x_hat, h = sae(torch.zeros(2, 3))
    >>> tuple(x_hat.shape), tuple(h.shape)
    ((2, 3), (2, 6))
    """

    def __init__(self, n_inputs, n_hidden, *, seed=0):
        super().__init__(n_inputs, n_hidden, constraint="unit_norm", pre_bias=True,
                         seed=seed)


class TopKSparseAutoencoder(SparseAutoencoder):
    r"""A sparse autoencoder that keeps the ``k`` largest pre-activations :cite:p:`gao2024scaling`.

    .. math:: h = \mathrm{ReLU}\big(\mathrm{TopK}_k(W_e(x - b_d) + b_e)\big), \quad
              \hat x = D h + b_d, \quad \min \tfrac12\lVert x - \hat x\rVert^2

    Sparsity is set by ``k`` directly, so there is no L1 term to tune (``lam``
    defaults to 0) and no shrinkage of the kept values. Every code has at most ``k``
    non-zeros. Otherwise an :class:`L1SparseAutoencoder`: unit-norm atoms, a pre-bias.
    Chapter *Superposition and interpretability*.

    Parameters
    ----------
    n_inputs, n_hidden : int
        Input dimension and number of hidden units (atoms), the *latents* of the
        chapter.
    k : int
        Number :math:`1 \le k \le` ``n_hidden`` of hidden units kept per signal.
    seed : int
        Seed of the initial atoms.

    Examples
    --------
    >>> sae = TopKSparseAutoencoder(n_inputs=3, n_hidden=6, k=2)
    >>> _, h = sae(torch.randn(4, 3))
    >>> bool(((h != 0).sum(dim=1) <= 2).all())
    True
    """

    def __init__(self, n_inputs, n_hidden, k, *, seed=0):
        super().__init__(n_inputs, n_hidden, constraint="unit_norm", pre_bias=True,
                         seed=seed)
        self.k = check_scalar(k, "k", low=1, integer=True, high=self.n_hidden)

    def activation(self, pre):
        """ReLU of the ``k`` largest pre-activations of each signal, zero elsewhere."""
        values, idx = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, idx, torch.relu(values))

    def extra_repr(self):
        return super().extra_repr() + f", k={self.k}"
