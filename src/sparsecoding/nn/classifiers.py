r"""Classifiers of MNIST digits with an L1 penalty on their hidden ReLU activations.

Each model returns the class scores (logits) *and* its hidden activations
:math:`h = \mathrm{ReLU}(\cdot)`, so that the training loss can penalise them:

.. math::

   \mathcal{L}(\theta) = \frac1B \sum_{i=1}^B \Big[\operatorname{CE}(f_\theta(x_i), y_i)
   + \lambda \lVert h_\theta(x_i) \rVert_1\Big],

the cross-entropy of the classifier plus ``lam`` times the mean L1 norm of the hidden
code. The convolutional autoencoder adds a reconstruction term. The chapter
*Sparse classifiers on MNIST* (Part III) explains and measures them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_choice, check_scalar
from ._checks import _reference, check_batch, check_labels, check_tensor

__all__ = [
    "l1_activation_penalty",
    "normal_init_",
    "SparseMLP",
    "SparseCNN",
    "ConvSparseAutoencoderClassifier",
    "activation_statistics",
]


def l1_activation_penalty(h):
    r"""The mean over the batch of the L1 norm of each row's activations.

    .. math:: \frac1B \sum_{i=1}^B \lVert h_i \rVert_1

    ``h`` is ``(batch, ...)``; every dimension after the first belongs to one example.
    Chapter: *Sparse classifiers on MNIST*.

    Examples
    --------
    >>> import torch
    >>> float(l1_activation_penalty(torch.tensor([[1.0, -2.0], [0.0, 3.0]])))
    3.0
    """
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"h must be a torch tensor, got {type(h).__name__}")
    if h.ndim < 1 or h.shape[0] == 0:
        raise ValueError(f"h must have a non-empty batch dimension, got {tuple(h.shape)}")
    if h.is_floating_point() and not bool(torch.isfinite(h.detach()).all()):
        raise ValueError("h must contain only finite values, got NaN or inf")
    return h.abs().reshape(h.shape[0], -1).sum(dim=1).mean()


@torch.no_grad()
def normal_init_(model, *, std=0.1, bias=0.1):
    r"""Draw every weight of ``model`` from :math:`\mathcal N(0, \sigma^2)` and set every bias.

    The initialisation of the 2016 blog experiments (weights with standard deviation
    0.1, biases 0.1), which the full-scale runs of the chapter *Sparse classifiers on
    MNIST* use; PyTorch's default initialisation is kept otherwise. Returns ``model``.

    Examples
    --------
    >>> import torch
    >>> model = normal_init_(SparseMLP(4, 3, 2))
    >>> round(model.hidden.bias[0].item(), 6)
    0.1
    """
    std = check_scalar(std, "std", low=0.0)
    bias = check_scalar(bias, "bias")
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.fill_(bias)
    return model


def _check_lam(lam):
    return check_scalar(lam, "lam", low=0.0)


class _SparseClassifier(nn.Module):
    """Shared ``loss``: cross-entropy plus ``lam`` times the L1 norm of the activations."""

    def loss(self, x, y, lam=0.0):
        r"""Training loss and its parts, in the form :func:`sparsecoding.training.fit` takes.

        .. math:: \operatorname{CE}(f(x), y) + \lambda \tfrac1B\textstyle\sum_i \lVert h_i\rVert_1

        Returns ``(loss, {"ce": ..., "l1": ..., "active": ..., "accuracy": ...})``
        where ``active`` is the mean number of non-zero hidden units per example and
        ``accuracy`` the fraction of the batch classified correctly.
        """
        lam = _check_lam(lam)
        check_batch(x, "x")
        logits, h = self(x)[:2]
        y = check_labels(y, "y", logits.shape[0], logits.shape[1], logits.device)
        ce = F.cross_entropy(logits, y)
        l1 = l1_activation_penalty(h)
        active = (h > 0).reshape(h.shape[0], -1).sum(dim=1).float().mean()
        acc = (logits.argmax(1) == y).float().mean()
        return ce + lam * l1, {"ce": ce.detach(), "l1": l1.detach(),
                               "active": active, "accuracy": acc}


class SparseMLP(_SparseClassifier):
    r"""A fully connected ``n_inputs``-``n_hidden``-``n_classes`` network with ReLU.

    .. math:: h = \mathrm{ReLU}(W_1 x + b_1), \qquad f(x) = W_2 h + b_2

    The blog experiment of the chapter *Sparse classifiers on MNIST* uses 784-784-10.

    Parameters
    ----------
    n_inputs, n_hidden, n_classes : int

    Examples
    --------
    >>> import torch
    >>> model = SparseMLP(n_inputs=4, n_hidden=3, n_classes=2)
    >>> logits, h = model(torch.zeros(5, 4))
    >>> tuple(logits.shape), tuple(h.shape)
    ((5, 2), (5, 3))
    """

    def __init__(self, n_inputs=784, n_hidden=784, n_classes=10):
        super().__init__()
        n_inputs = check_scalar(n_inputs, "n_inputs", low=1, integer=True)
        n_hidden = check_scalar(n_hidden, "n_hidden", low=1, integer=True)
        n_classes = check_scalar(n_classes, "n_classes", low=2, integer=True)
        self.n_inputs = n_inputs
        self.hidden = nn.Linear(n_inputs, n_hidden)
        self.out = nn.Linear(n_hidden, n_classes)

    def check_input(self, x, name="x"):
        """``x`` as ``(batch, n_inputs)``: flat signals, or images ``(batch, [1,] H, W)``
        with ``H * W = n_inputs``; a ``TypeError``/``ValueError`` naming ``name``
        otherwise."""
        shape_text = f"(batch, {self.n_inputs}) or images (batch, [1,] H, W)"
        check_tensor(x, name, self, shape_text=shape_text)
        if x.ndim == 2:
            if x.shape[1] != self.n_inputs:
                raise ValueError(
                    f"{name} has {x.shape[1]} features (shape {tuple(x.shape)}) but the "
                    f"model expects {self.n_inputs} (n_inputs={self.n_inputs}): {name} "
                    f"must have shape {shape_text}")
            return x
        if x.ndim in (3, 4) and (x.ndim == 3 or x.shape[1] == 1):
            if x.shape[-1] * x.shape[-2] != self.n_inputs:
                raise ValueError(
                    f"{name} holds images of {x.shape[-2]}x{x.shape[-1]} = "
                    f"{x.shape[-1] * x.shape[-2]} pixels but the model expects "
                    f"{self.n_inputs} inputs (n_inputs={self.n_inputs})")
            return x.reshape(x.shape[0], self.n_inputs)
        raise ValueError(f"{name} must have shape {shape_text}, got {tuple(x.shape)}")

    def forward(self, x):
        """``x`` is ``(batch, n_inputs)`` or images ``(batch, [1,] 28, 28)``: ``(logits, h)``."""
        h = F.relu(self.hidden(self.check_input(x)))
        return self.out(h), h


def _as_images(x, side=None, name="x"):
    """``x`` as ``(batch, 1, side, side)`` from flat, 3-D or 4-D images."""
    if x.ndim == 2:  # flattened square images
        s = int(round(x.shape[1] ** 0.5)) if side is None else side
        if s * s != x.shape[1]:
            raise ValueError(f"{name} must hold flattened {s}x{s} images, (batch, {s * s}), "
                             f"got shape {tuple(x.shape)}")
        x = x.reshape(-1, 1, s, s)
    elif x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must be one-channel images (batch, 1, H, W), got shape "
                         f"{tuple(x.shape)}")
    if side is not None and tuple(x.shape[2:]) != (side, side):
        raise ValueError(f"{name} must hold {side}x{side} images (image_size={side}), got "
                         f"{x.shape[2]}x{x.shape[3]}")
    return x


class SparseCNN(_SparseClassifier):
    r"""One convolutional layer of ``n_maps`` ReLU feature maps, then a linear classifier.

    .. math:: h = \mathrm{ReLU}(w * x + b) \in \mathbb{R}^{n_\text{maps} \times 14 \times 14},
              \qquad f(x) = W \operatorname{vec}(h) + c

    With 3×3 kernels, stride 2 and padding 1, a 28×28 image gives
    :math:`14 \times 14 \times 200 = 39\,200` hidden units for 200 maps.
    Chapter: *Sparse classifiers on MNIST*.

    Examples
    --------
    >>> import torch
    >>> model = SparseCNN(n_maps=4)
    >>> logits, h = model(torch.zeros(2, 1, 28, 28))
    >>> tuple(logits.shape), tuple(h.shape)
    ((2, 10), (2, 4, 14, 14))
    """

    def __init__(self, n_maps=200, n_classes=10, *, kernel_size=3, stride=2,
                 image_size=28):
        super().__init__()
        n_maps = check_scalar(n_maps, "n_maps", low=1, integer=True)
        n_classes = check_scalar(n_classes, "n_classes", low=2, integer=True)
        kernel_size = check_scalar(kernel_size, "kernel_size", low=1, integer=True)
        stride = check_scalar(stride, "stride", low=1, integer=True)
        image_size = check_scalar(image_size, "image_size", low=1, integer=True)
        self.image_size = image_size
        self.conv = nn.Conv2d(1, n_maps, kernel_size, stride=stride,
                              padding=kernel_size // 2)
        side = (image_size + 2 * (kernel_size // 2) - kernel_size) // stride + 1
        self.out = nn.Linear(n_maps * side * side, n_classes)

    def check_input(self, x, name="x"):
        """``x`` as ``(batch, 1, S, S)`` images (``S = image_size``), from images with or
        without their channel axis or flattened ``(batch, S * S)``; a
        ``TypeError``/``ValueError`` naming ``name`` otherwise."""
        S = self.image_size
        check_tensor(x, name, self, shape_text=f"(batch, 1, {S}, {S}), (batch, {S}, {S}) "
                                               f"or (batch, {S * S})")
        if x.ndim < 2:
            raise ValueError(f"{name} must be a batch of images (batch, 1, {S}, {S}), got "
                             f"shape {tuple(x.shape)} (for one image use {name}[None])")
        return _as_images(x, S, name)

    def encode(self, x):
        """The hidden feature maps ``(batch, n_maps, 14, 14)``."""
        return F.relu(self.conv(self.check_input(x)))

    def forward(self, x):
        """``(logits, h)`` with ``h`` the feature maps."""
        h = self.encode(x)
        return self.out(h.flatten(1)), h


class ConvSparseAutoencoderClassifier(SparseCNN):
    r"""A :class:`SparseCNN` whose feature maps also reconstruct the image.

    Two decoders map the 14×14 maps back to 28×28:

    * ``"transposed"``: a transposed convolution (kernel 4, stride 2, padding 1);
    * ``"subpixel"``: a 3×3 convolution to 4 channels followed by a pixel shuffle
      that interleaves them into a twice larger image :cite:p:`shi2016subpixel`.

    The loss is

    .. math:: \operatorname{CE}(f(x), y) + \beta\,\lVert x - \hat x\rVert^2_\text{mean}
              + \lambda \tfrac1B\textstyle\sum_i \lVert h_i\rVert_1,

    where the squared error is averaged over pixels and images.
    Chapter: *Sparse classifiers on MNIST*.

    Examples
    --------
    >>> import torch
    >>> model = ConvSparseAutoencoderClassifier(n_maps=4, decoder="subpixel")
    >>> logits, h, x_hat = model(torch.zeros(2, 1, 28, 28))
    >>> tuple(x_hat.shape)
    (2, 1, 28, 28)
    """

    def __init__(self, n_maps=200, n_classes=10, *, decoder="transposed"):
        super().__init__(n_maps, n_classes)
        self.decoder_kind = check_choice(decoder, "decoder", ("transposed", "subpixel"))
        if decoder == "transposed":
            self.decoder = nn.ConvTranspose2d(n_maps, 1, 4, stride=2, padding=1)
        else:
            self.decoder = nn.Sequential(nn.Conv2d(n_maps, 4, 3, padding=1),
                                         nn.PixelShuffle(2))

    def forward(self, x):
        """``(logits, h, x_hat)``; ``x_hat`` has the shape ``(batch, 1, 28, 28)``."""
        h = self.encode(x)
        return self.out(h.flatten(1)), h, self.decoder(h)

    @torch.no_grad()
    def clip_decoder_norm_(self, max_norm=1.0):
        """Rescale the decoder's weight tensor to Euclidean norm at most ``max_norm``, in place.

        The full-scale runs clip it after every step, as the 2016 blog's autoencoder
        does; pass ``after_step=lambda m: m.clip_decoder_norm_()`` to ``fit``.
        """
        max_norm = check_scalar(max_norm, "max_norm", low=0.0, low_inclusive=False)
        weight = (self.decoder.weight if self.decoder_kind == "transposed"
                  else self.decoder[0].weight)
        norm = torch.linalg.norm(weight)
        if norm > max_norm:
            weight.mul_(max_norm / norm)
        return self

    def loss(self, x, y, lam=0.0, beta=1.0, recon="mean"):
        """Cross-entropy + ``beta`` × reconstruction + ``lam`` × L1: ``(loss, parts)``.

        ``recon="mean"`` takes the squared error averaged over pixels and images;
        ``recon="sum"`` sums it over the pixels of each image and averages over images
        (the blog's loss; 784 times larger). ``parts["mse"]`` is always per pixel.
        """
        lam = _check_lam(lam)
        beta = check_scalar(beta, "beta", low=0.0)
        recon = check_choice(recon, "recon", ("mean", "sum"))
        check_batch(x, "x")
        logits, h, x_hat = self(x)
        y = check_labels(y, "y", logits.shape[0], logits.shape[1], logits.device)
        ce = F.cross_entropy(logits, y)
        mse = F.mse_loss(x_hat, _as_images(x))
        rec = mse if recon == "mean" else mse * x_hat[0].numel()
        l1 = l1_activation_penalty(h)
        active = (h > 0).flatten(1).sum(dim=1).float().mean()
        acc = (logits.argmax(1) == y).float().mean()
        return ce + beta * rec + lam * l1, {"ce": ce.detach(), "mse": mse.detach(),
                                            "l1": l1.detach(), "active": active,
                                            "accuracy": acc}


@torch.no_grad()
def activation_statistics(model, X, y, *, batch_size=500):
    r"""Accuracy and activity of a trained classifier on a labelled set.

    Returns a dict with ``accuracy``; ``active_per_example``, the mean number of
    non-zero hidden units per example; ``n_units``; ``ever_active``, a boolean
    tensor saying which hidden units are non-zero on at least one example;
    ``dead_fraction``, the fraction of units never active; and ``mse``, the mean
    squared reconstruction error per pixel when the model reconstructs.
    Chapter: *Sparse classifiers on MNIST*.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> stats = activation_statistics(SparseMLP(4, 3, 2), torch.rand(6, 4),
    ...                               torch.zeros(6, dtype=torch.long))
    >>> stats["n_units"]
    3
    """
    if not isinstance(model, _SparseClassifier):
        raise TypeError(f"model must be a classifier of sparsecoding.nn.classifiers, got "
                        f"{type(model).__name__}")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("X and y must be torch tensors")
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty batch, got shape {tuple(X.shape)}")
    dtype, device = _reference(model)
    model.check_input(X[:1].to(device), "X")
    n_classes = model.out.out_features
    check_labels(y, "y", X.shape[0], n_classes, y.device)
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    from ..codes import dead_unit_mask

    model.eval()
    correct, active, sq_err, ever = 0, 0.0, 0.0, None
    for start in range(0, X.shape[0], batch_size):
        xb = X[start:start + batch_size].to(device)
        yb = y[start:start + batch_size].to(device)
        out = model(xb)
        logits, h = out[0], out[1].flatten(1)
        correct += int((logits.argmax(1) == yb).sum())
        active += float((h > 0).sum())
        on = ~dead_unit_mask(h)  # the one definition of a dead unit, in codes
        ever = on if ever is None else ever | on
        if len(out) > 2:
            sq_err += float(((out[2] - _as_images(xb)) ** 2).sum())
    n = X.shape[0]
    stats = {"accuracy": correct / n, "active_per_example": active / n,
             "n_units": int(ever.numel()), "ever_active": ever.cpu(),
             "dead_fraction": 1.0 - float(ever.float().mean())}
    if len(out) > 2:
        stats["mse"] = sq_err / X[:1].numel() / n
    return stats
