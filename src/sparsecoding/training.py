"""Run scale, device choice, seeding and the training loop of the PyTorch chapters.

The chapters pick their sizes from :func:`run_scale`: ``"small"`` runs the whole book on
a laptop CPU in minutes, ``"full"`` reproduces the experiments at published size and
expects a GPU.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np

from ._validation import check_scalar

__all__ = ["run_scale", "get_device", "seed_everything", "SCALE_ENV", "fit",
           "iterate_minibatches"]

#: The environment variable that overrides the scale.
SCALE_ENV = "SPARSECODING_SCALE"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def run_scale() -> str:
    """``"small"`` or ``"full"``: ``$SPARSECODING_SCALE`` if set, else ``"full"`` with CUDA.

    Raises
    ------
    ValueError
        If ``SPARSECODING_SCALE`` is set to anything but ``small`` or ``full``.
    """
    value = os.environ.get(SCALE_ENV, "").strip().lower()
    if value:
        if value not in ("small", "full"):
            raise ValueError(
                f"{SCALE_ENV} must be 'small' or 'full', got {os.environ[SCALE_ENV]!r}"
            )
        return value
    return "full" if _cuda_available() else "small"


def get_device(verbose: bool = False):
    """The torch device to train on: CUDA when available, else the CPU.

    With ``verbose=True`` it prints which device was chosen and, on a CPU, how to get a
    GPU (Colab: *Runtime → Change runtime type → GPU*).
    """
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if verbose:
        if device.type == "cuda":
            print(f"Using the GPU: {torch.cuda.get_device_name(device)}")
        else:
            print(
                "Using the CPU. For the full-scale experiments, run on a machine with a "
                "CUDA GPU (on Colab: Runtime > Change runtime type > GPU)."
            )
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and (if imported) torch's random number generators."""
    seed = check_scalar(seed, "seed", low=0, integer=True)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def iterate_minibatches(n, batch_size, *, seed=0, epochs=1):
    """Yield index arrays of shuffled minibatches over ``range(n)``, epoch after epoch."""
    n = check_scalar(n, "n", low=1, integer=True)
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def fit(model, loss_fn, data, *, epochs=1, batch_size=128, lr=1e-3, optimizer=None,
        after_step=None, metrics=None, seed=0, device=None, progress=True,
        checkpoint=None, desc="training"):
    """Train ``model`` by minibatch gradient descent and return the history of every metric.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, *batch)`` returns either the scalar loss or a pair
        ``(loss, dict_of_scalars)``; the dict's entries are recorded per step.
    data : tensor or tuple of tensors
        Tensors sharing their first dimension; minibatches are drawn from it.
    epochs, batch_size, lr : training length, minibatch size, Adam's learning rate
    optimizer : torch.optim.Optimizer, optional
        Adam with ``lr`` when not given.
    after_step : callable, optional
        ``after_step(model)`` after every optimiser step (e.g. re-normalising the
        decoder columns), run under ``torch.no_grad()``.
    metrics : callable, optional
        ``metrics(model)`` returns a dict of scalars, recorded once per epoch.
    seed : int
        Seeds torch and the minibatch order.
    device : torch.device, optional
        Where to train (the model and data are moved there); :func:`get_device` if None.
    progress : bool
        Show a progress bar (``tqdm.auto``) and, when training ends, print a one-line
        summary (steps, final loss, time), which stays when the bar is cleared.
    checkpoint : path, optional
        Save the final ``state_dict`` there.

    Returns
    -------
    dict
        ``"loss"`` and every entry of ``loss_fn``'s dict: one value per step;
        ``"epoch_<name>"`` for every entry of ``metrics``: one value per epoch.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable")
    tensors = data if isinstance(data, (tuple, list)) else (data,)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("data must be a tensor or a tuple of tensors")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError("data tensors must share their first dimension")
    epochs = check_scalar(epochs, "epochs", low=0, integer=True)
    lr = check_scalar(lr, "lr", low=0.0, low_inclusive=False)
    seed_everything(seed)
    device = device or get_device()
    model.to(device)
    tensors = [t.to(device) for t in tensors]
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": []}
    steps_per_epoch = -(-n // batch_size)
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress,
               leave=False)
    batches = iterate_minibatches(n, batch_size, seed=seed, epochs=epochs)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for _ in range(steps_per_epoch):
            idx = torch.as_tensor(next(batches), device=device)
            out = loss_fn(model, *(t[idx] for t in tensors))
            loss, parts = out if isinstance(out, tuple) else (out, {})
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} at epoch {epoch}: lower lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step(model)
            history["loss"].append(float(loss.detach()))
            for key, value in parts.items():
                value = value.detach() if isinstance(value, torch.Tensor) else value
                history.setdefault(key, []).append(float(value))
            bar.update(1)
        if metrics is not None:
            model.eval()
            with torch.no_grad():
                for key, value in metrics(model).items():
                    value = value.detach() if isinstance(value, torch.Tensor) else value
                    history.setdefault(f"epoch_{key}", []).append(float(value))
    bar.close()
    if progress:
        steps = len(history["loss"])
        final = f", final loss {history['loss'][-1]:.4g}" if steps else ""
        print(f"{desc}: {steps} steps in {time.perf_counter() - start:.1f} s{final}")
    model.eval()
    if checkpoint is not None:
        torch.save(model.state_dict(), checkpoint)
    return history
