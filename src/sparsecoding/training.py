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

from ._validation import check_epochs_or_steps, check_scalar

__all__ = ["run_scale", "get_device", "check_device", "seed_everything", "SCALE_ENV",
           "fit", "iterate_minibatches"]

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


def check_device(device, name="device"):
    """The :class:`torch.device` that ``device`` names, checked to be usable here.

    ``device`` is a :class:`torch.device` or a string such as ``"cpu"``, ``"cuda"`` or
    ``"cuda:1"``. A malformed name, or a device this machine does not have (CUDA
    without a GPU, a GPU index beyond the last), raises a :class:`ValueError` that
    names ``name`` and says what is available, instead of torch's error at the first
    tensor moved there.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("gpu0")
    Traceback (most recent call last):
    ...
    ValueError: device must name a torch device such as 'cpu' or 'cuda', got 'gpu0'
    (Invalid device string: 'gpu0')
    """
    import torch

    if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a string such as 'cpu' or "
                        f"'cuda', got {type(device).__name__} {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ValueError(f"{name} must name a torch device such as 'cpu' or 'cuda', got "
                         f"{device!r} ({str(exc).splitlines()[0]})") from None
    if dev.type == "meta":
        raise ValueError(f"{name} must hold real memory, got {device!r}")
    if dev.type == "cuda":
        n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n_gpus == 0:
            raise ValueError(f"{name} is {device!r} but CUDA is not available on this "
                             f"machine: use 'cpu' (or get_device(), which picks a GPU "
                             f"when there is one)")
        if dev.index is not None and dev.index >= n_gpus:
            raise ValueError(f"{name} is {device!r} but this machine has {n_gpus} GPU(s), "
                             f"'cuda:0' to 'cuda:{n_gpus - 1}'")
    try:
        torch.empty(0, device=dev)
    except Exception as exc:  # any backend's own failure, in its own words
        raise ValueError(f"{name} {device!r} cannot be used on this machine "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return dev


def _check_checkpoint(path):
    """Fail before training if the final ``state_dict`` cannot be written to ``path``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path, got {type(path).__name__}")
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path!r} is a directory; give a file name in it")
    if not os.path.isdir(parent):
        raise ValueError(f"checkpoint {path!r} cannot be written: its folder {parent!r} "
                         f"does not exist (create it first)")
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        raise ValueError(f"checkpoint {path!r} cannot be written: no write permission "
                         f"on {target!r}")
    return path


def _save_checkpoint(state, path):
    """Write ``state`` to ``path`` through a temporary file: never a partial file."""
    import torch

    tmp = f"{path}.{os.getpid()}.part"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _diverged(what, value, where, optimizer):
    lrs = sorted({group.get("lr") for group in optimizer.param_groups
                  if group.get("lr") is not None})
    lr = f" (lr={lrs[0]:g})" if len(lrs) == 1 else ""
    return FloatingPointError(
        f"training diverged: {what} became {value} {where}. Lower the learning rate"
        f"{lr}, for example by a factor of 10; also check that the data are finite and "
        f"of moderate scale"
    )


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
    """Yield index arrays of shuffled minibatches over ``range(n)``, epoch after epoch.

    The arguments are checked when it is called, before the first batch is asked for.
    """
    n = check_scalar(n, "n", low=1, integer=True)
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    epochs = check_scalar(epochs, "epochs", low=0, integer=True)
    return _minibatches(n, batch_size, seed, epochs)


def _minibatches(n, batch_size, seed, epochs):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def fit(model, loss_fn, data, *, epochs=None, steps=None, batch_size=128, lr=1e-3,
        optimizer=None, after_step=None, metrics=None, seed=0, device=None, progress=True,
        checkpoint=None, desc="training"):
    """Train ``model`` by minibatch gradient descent and return the history of every metric.

    The minibatches are drawn without replacement, epoch after epoch: each epoch is a
    fresh permutation of the examples cut into batches of ``batch_size`` (the last one
    smaller when ``batch_size`` does not divide the number of examples). The length of
    training is given either in ``epochs`` or in optimiser ``steps``; the first ``steps``
    batches are those of the epoch-by-epoch order, so ``steps = k * ceil(n /
    batch_size)`` trains exactly as ``epochs = k``.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn(model, *batch)`` returns either the scalar loss or a pair
        ``(loss, dict_of_scalars)``; the dict's entries are recorded per step.
    data : tensor or tuple of tensors
        Tensors sharing their first dimension; minibatches are drawn from it.
    epochs : int, optional
        Number of passes over the data (1 when neither ``epochs`` nor ``steps`` is given).
    steps : int, optional
        Number of optimiser steps (minibatches), instead of ``epochs``; the last epoch
        is cut short where the count is reached.
    batch_size, lr : minibatch size, Adam's learning rate
    optimizer : torch.optim.Optimizer, optional
        Adam with ``lr`` when not given.
    after_step : callable, optional
        ``after_step(model)`` after every optimiser step (e.g. re-normalising the
        decoder columns), run under ``torch.no_grad()``.
    metrics : callable, optional
        ``metrics(model)`` returns a dict of scalars, recorded at the end of every epoch
        (a last epoch cut short by ``steps`` included).
    seed : int
        Seeds torch and the minibatch order.
    device : torch.device or str, optional
        Where to train (the model and data are moved there); :func:`get_device` if None.
        Checked by :func:`check_device` before anything else happens.
    progress : bool
        Show a progress bar (``tqdm.auto``) and, when training ends, print a one-line
        summary (steps, final loss, time), which stays when the bar is cleared.
    checkpoint : path, optional
        Save the final ``state_dict`` there (through a temporary file, so never a
        partial one). Its folder must exist and be writable: that is checked before
        training starts.
    desc : str
        Label of the progress bar.

    Returns
    -------
    dict
        The training history (a solver's per-iteration values are its ``objective``):
        ``"loss"`` and every entry of ``loss_fn``'s dict, one value per step;
        ``"epoch_<name>"`` for every entry of ``metrics``, one value per epoch.

    Raises
    ------
    TypeError, ValueError
        Before training, for any argument of the wrong kind or value; the message
        names the argument.
    FloatingPointError
        When the loss or a parameter becomes NaN or infinite (the optimisation
        diverged), with advice: lower the learning rate.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    tensors = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        kinds = ", ".join(type(t).__name__ for t in tensors) or "nothing"
        raise TypeError(f"data must be a tensor or a tuple of tensors, got {kinds} "
                        f"(convert arrays with torch.as_tensor)")
    for i, t in enumerate(tensors):
        label = "data" if len(tensors) == 1 else f"data[{i}]"
        if t.ndim == 0:
            raise ValueError(f"{label} must have a first (batch) dimension, got a 0-D tensor")
        if t.shape[0] == 0:
            raise ValueError(f"{label} must hold at least one example, got shape "
                             f"{tuple(t.shape)}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{label} must contain only finite values, got NaN or inf")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise ValueError(f"data tensors must share their first dimension, got {shapes}")
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    steps_per_epoch = -(-n // batch_size)
    epochs, total = check_epochs_or_steps(epochs, steps, n, batch_size, default_epochs=1,
                                          low=0)
    lr = check_scalar(lr, "lr", low=0.0, low_inclusive=False)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if not isinstance(desc, str):
        raise TypeError(f"desc must be a string, got {type(desc).__name__}")
    for fn, name in ((after_step, "after_step"), (metrics, "metrics")):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    if optimizer is not None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        own = {id(p) for p in model.parameters()}
        if not any(id(p) in own for g in optimizer.param_groups for p in g["params"]):
            raise ValueError("optimizer holds none of the parameters of model: build it "
                             "from model.parameters()")
    device = get_device() if device is None else check_device(device)
    if checkpoint is not None:
        checkpoint = _check_checkpoint(checkpoint)
    seed_everything(seed)
    model.to(device)
    tensors = [t.to(device) for t in tensors]
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": []}
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    batches = iterate_minibatches(n, batch_size, seed=seed, epochs=epochs)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for step in range(min(steps_per_epoch, total - epoch * steps_per_epoch)):
            idx = torch.as_tensor(next(batches), device=device)
            out = loss_fn(model, *(t[idx] for t in tensors))
            loss, parts = out if isinstance(out, tuple) else (out, {})
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise TypeError(
                    "loss_fn must return a scalar tensor, or a pair (scalar tensor, dict), "
                    f"got {type(loss).__name__}"
                    + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor)
                       else ""))
            if not isinstance(parts, dict):
                raise TypeError(f"the second value loss_fn returns must be a dict, got "
                                f"{type(parts).__name__}")
            if not torch.isfinite(loss):
                raise _diverged("the loss", loss.item(),
                                f"at epoch {epoch}, step {step}", optimizer)
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
        with torch.no_grad():
            bad = [name for name, p in model.named_parameters()
                   if p.is_floating_point() and not bool(torch.isfinite(p).all())]
        if bad:
            bar.close()
            raise _diverged(f"the parameter {bad[0]}", "non-finite",
                            f"by the end of epoch {epoch}", optimizer)
        if metrics is not None:
            model.eval()
            with torch.no_grad():
                for key, value in metrics(model).items():
                    value = value.detach() if isinstance(value, torch.Tensor) else value
                    history.setdefault(f"epoch_{key}", []).append(float(value))
    bar.close()
    if progress:
        done = len(history["loss"])
        final = f", final loss {history['loss'][-1]:.4g}" if done else ""
        print(f"{desc}: {done} steps in {time.perf_counter() - start:.1f} s{final}")
    model.eval()
    if checkpoint is not None:
        _save_checkpoint(model.state_dict(), checkpoint)
    return history
