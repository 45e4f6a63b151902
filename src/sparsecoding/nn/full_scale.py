r"""The full-scale experiments of Part III, with the sources' own settings, in one command.

Run on a machine with a CUDA GPU, from the repository root::

    python -m sparsecoding.nn.full_scale

It trains every configuration of ``CONFIGS``, several seeds each, and writes one
results file, ``chapters/part3/full_scale_results.json`` by default: the hardware, the
date, the versions, the settings and every measured number. The Part III chapters show
full-scale numbers only from that file, labelled with where and when it ran, and none
when it is absent. ``--only NAME`` runs one configuration; ``--steps N`` shortens every
run (the smoke test in ``tests/`` runs every configuration for a few steps on the CPU).

The configurations follow the sources:

* ``mnist_mlp``, ``mnist_cnn``, ``mnist_conv_ae`` follow the 2016 blog post
  (``giraud2016sparse``): batches of 100 images, 20,000 steps, weights drawn from
  :math:`\mathcal N(0, 0.1^2)` and biases 0.1, the training images split 55,000 /
  5,000 (training / validation), 200 feature maps, and its grid of sparsity weights
  ``sc``. The blog sums the penalty over the batch, so the book's per-image weight is
  :math:`\lambda = 100\,\mathrm{sc}` (the batch size). The autoencoder sums the squared
  error over the pixels of an image and clips the norm of the decoder's weights.
  The optimiser (Adam, learning rate :math:`10^{-3}`) is the book's choice.
* ``sae`` and ``explaining_away`` follow Bricken (``bricken2023sparse``): a
  one-hidden-layer autoencoder with an L1 penalty, without a constraint, with unit-norm
  atoms, with the inverse-norm penalty, and the explaining-away loop; on whitened
  16×16 natural-image patches (the book's data; Bricken used CIFAR-10).

When the MNIST training files are not found, the MNIST runs fall back to the book's
small-scale split of the test set, and the results file says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

__all__ = ["CONFIGS", "amortisation_gap", "run_config", "run_all", "main"]

SC_GRID = [0.0, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 2.7e-3]

CONFIGS = {
    "mnist_mlp": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100, "lr": 1e-3,
                  "sc": SC_GRID, "n_hidden": 784, "init": "normal(0, 0.1^2), bias 0.1",
                  "split": "55,000 / 5,000 / 10,000 test", "seeds": [0, 1, 2]},
    "mnist_cnn": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100, "lr": 1e-3,
                  "sc": SC_GRID, "n_maps": 200, "init": "normal(0, 0.1^2), bias 0.1",
                  "split": "55,000 / 5,000 / 10,000 test", "seeds": [0, 1, 2]},
    "mnist_conv_ae": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100,
                      "lr": 1e-3, "sc": [0.0, 1e-3], "n_maps": 200,
                      "decoders": ["transposed", "subpixel"], "recon": "sum",
                      "decoder_max_norm": 1.0, "init": "normal(0, 0.1^2), bias 0.1",
                      "seeds": [0, 1, 2]},
    "sae": {"source": "bricken2023sparse", "patch": 16, "n_patches": 100_000,
            "n_val": 5_000, "whitening_eps": 1.0, "n_hidden": 512, "epochs": 100,
            "batch": 256, "lr": 3e-3, "l1": 1.0, "alpha": 0.1,
            "runs": [["none", 0.0], ["none", 1.0], ["unit_norm", 1.0],
                     ["inverse_norm", 1.0]],
            "n_gabor": 128, "n_gap": 500, "seeds": [0, 1, 2]},
    "explaining_away": {"source": "bricken2023sparse", "patch": 16, "n_patches": 100_000,
                        "n_val": 5_000, "whitening_eps": 1.0, "n_hidden": 512,
                        "epochs": 50, "batch": 256, "lr": 3e-3, "l1": [1.0, 3.0],
                        "t_star": [0, 1, 3], "constraints": ["none", "unit_norm"],
                        "seeds": [0, 1, 2]},
}


def _hardware(device):
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def _train_steps(model, loss_fn, tensors, *, steps, batch, lr, seed, device,
                 after_step=None):
    """Adam for exactly ``steps`` minibatches drawn without replacement, epoch by epoch."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n, order, pos = tensors[0].shape[0], None, 0
    curve = []
    model.train()
    for step in range(steps):
        if order is None or pos + batch > n:
            order, pos = torch.randperm(n, generator=gen).to(device), 0
        idx = order[pos:pos + batch]
        pos += batch
        loss, parts = loss_fn(model, *(t[idx] for t in tensors))
        if not torch.isfinite(loss):
            from ..training import _diverged
            raise _diverged("the loss", float(loss), f"at step {step}", opt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None:
            with torch.no_grad():
                after_step(model)
        if step % max(1, steps // 50) == 0 or step == steps - 1:
            curve.append([step, float(loss.detach())])
    model.eval()
    return curve


# ---------------------------------------------------------------------------- MNIST
def _mnist(device, n_train=None):
    from ..data import load_mnist
    try:
        (Xa, ya) = load_mnist("train")
        Xtr, ytr, Xva, yva = Xa[:55_000], ya[:55_000], Xa[55_000:], ya[55_000:]
        Xte, yte = load_mnist("test")
        split = "training images 0-54,999 / 55,000-59,999 (validation), 10,000 test"
    except OSError:
        X, y = load_mnist("test")
        Xtr, ytr, Xva, yva, Xte, yte = X[:8000], y[:8000], X[7000:8000], y[7000:8000], \
            X[8000:], y[8000:]
        split = ("training set unavailable: test images 0-7,999 for training, "
                 "8,000-9,999 for testing")
    if n_train is not None:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]

    def t(a, labels=False):
        a = torch.from_numpy(np.asarray(a))
        return (a.long() if labels else a.float().unsqueeze(1)).to(device)

    return (t(Xtr), t(ytr, True), t(Xva), t(yva, True), t(Xte), t(yte, True)), split


def _run_mnist(name, cfg, device, steps, n_train):
    from .classifiers import (ConvSparseAutoencoderClassifier, SparseCNN, SparseMLP,
                              activation_statistics, normal_init_)
    (Xtr, ytr, Xva, yva, Xte, yte), split = _mnist(device, n_train)
    rows = []
    decoders = cfg.get("decoders", [None])
    for decoder in decoders:
        for sc in cfg["sc"]:
            lam = cfg["batch"] * sc  # the blog sums the penalty over its batch of 100
            for seed in cfg["seeds"]:
                torch.manual_seed(seed)
                if name == "mnist_mlp":
                    model = SparseMLP(784, cfg["n_hidden"], 10)
                elif name == "mnist_cnn":
                    model = SparseCNN(n_maps=cfg["n_maps"])
                else:
                    model = ConvSparseAutoencoderClassifier(n_maps=cfg["n_maps"],
                                                            decoder=decoder)
                normal_init_(model, std=0.1, bias=0.1)
                model.to(device)
                if name == "mnist_conv_ae":
                    loss = lambda m, x, y, lam=lam: m.loss(x, y, lam, recon=cfg["recon"])
                    after = lambda m: m.clip_decoder_norm_(cfg["decoder_max_norm"])
                else:
                    loss = lambda m, x, y, lam=lam: m.loss(x, y, lam)
                    after = None
                t0 = time.perf_counter()
                curve = _train_steps(model, loss, (Xtr, ytr), steps=steps,
                                     batch=cfg["batch"], lr=cfg["lr"], seed=seed,
                                     device=device, after_step=after)
                test = activation_statistics(model, Xte, yte)
                val = activation_statistics(model, Xva, yva)
                row = {"sc": sc, "lam": lam, "seed": seed, "steps": steps,
                       "test_accuracy": test["accuracy"],
                       "val_accuracy": val["accuracy"],
                       "active_per_example": test["active_per_example"],
                       "n_units": test["n_units"], "dead_fraction": test["dead_fraction"],
                       "train_seconds": time.perf_counter() - t0, "loss_curve": curve}
                if decoder is not None:
                    row["decoder"] = decoder
                    row["mse_per_pixel"] = test["mse"]
                rows.append(row)
    return {"split": split, "runs": rows}


# ------------------------------------------------------------------- autoencoders
def _patches(cfg, device, n_train):
    from ..data import load_image_patches
    n = cfg["n_patches"] if n_train is None else n_train
    n_val = cfg["n_val"] if n_train is None else max(50, n_train // 4)
    X = load_image_patches(cfg["patch"], n, whitened=True, eps=cfg["whitening_eps"], seed=0)
    Xv = load_image_patches(cfg["patch"], n_val, whitened=True, eps=cfg["whitening_eps"],
                            seed=1)
    return (torch.tensor(X, dtype=torch.float32, device=device),
            torch.tensor(Xv, dtype=torch.float32, device=device))


def amortisation_gap(model, X, lam):
    r"""Mean lasso objective of the encoder's codes against the exact codes of its decoder.

    For the signals ``X`` (rows) and the decoder :math:`D = W_d` of ``model``, returns
    the mean of :math:`F(h) = \tfrac12\|x - b_d - Dh\|^2 + \lambda\|h\|_1` at the
    encoder's codes, at the exact lasso codes (:func:`sparsecoding.homotopy`), and
    their relative difference. Chapter *Sparse autoencoders*.
    """
    from .._homotopy import homotopy
    with torch.no_grad():
        H_enc = model.encode(X).double().cpu().numpy()
        D = model.decoder_weight.detach().double().cpu().numpy()
        Xc = (X - model.b_dec).double().cpu().numpy()
    H_star = homotopy(D, Xc, lam).codes

    def F(H):
        return 0.5 * ((Xc - H @ D.T) ** 2).sum(1) + lam * np.abs(H).sum(1)

    f_enc, f_star = float(F(H_enc).mean()), float(F(H_star).mean())
    return {"objective_encoder": f_enc, "objective_lasso": f_star,
            "relative_gap": (f_enc - f_star) / f_star,
            "active_encoder": float((H_enc > 0).sum(1).mean()),
            "active_lasso": float((H_star != 0).sum(1).mean())}


def _run_sae(cfg, device, steps, n_train):
    from ..codes import activity_ratio, dead_units, fraction_variance_unexplained
    from ..gabor import gabor_scores
    from .autoencoders import SparseAutoencoder
    X, Xv = _patches(cfg, device, n_train)
    n_feat = cfg["patch"] ** 2
    total = steps if steps is not None else cfg["epochs"] * (X.shape[0] // cfg["batch"])
    rows = []
    for constraint, l1 in cfg["runs"]:
        for seed in cfg["seeds"]:
            torch.manual_seed(seed)
            model = SparseAutoencoder(n_feat, cfg["n_hidden"], constraint=constraint,
                                      alpha=cfg["alpha"]).to(device)
            t0 = time.perf_counter()
            curve = _train_steps(model, lambda m, x, l1=l1: m.loss(x, l1=l1), (X,),
                                 steps=total, batch=cfg["batch"], lr=cfg["lr"], seed=seed,
                                 device=device, after_step=model.after_step)
            with torch.no_grad():
                x_hat, h = model(Xv)
            D = model.decoder_weight.detach().cpu().numpy()[:, :cfg["n_gabor"]]
            r2 = gabor_scores(D, (cfg["patch"], cfg["patch"]), n_starts=1)
            row = {"constraint": constraint, "l1": l1, "seed": seed, "steps": total,
                   "activity_ratio": activity_ratio(h), "dead_units": dead_units(h),
                   "fvu": fraction_variance_unexplained(Xv, x_hat),
                   "gabor_fraction": float(np.mean(r2 >= 0.8)),
                   "median_r2": float(np.median(r2)), **model.weight_norms(),
                   "train_seconds": time.perf_counter() - t0, "loss_curve": curve}
            if l1 > 0:
                row["amortisation"] = amortisation_gap(model, Xv[:cfg["n_gap"]], l1)
            rows.append(row)
    return {"runs": rows}


def _run_explaining_away(cfg, device, steps, n_train):
    from ..codes import activity_ratio, dead_units, fraction_variance_unexplained
    from .autoencoders import ExplainingAwayAutoencoder
    X, Xv = _patches(cfg, device, n_train)
    total = steps if steps is not None else cfg["epochs"] * (X.shape[0] // cfg["batch"])
    rows = []
    for l1 in cfg["l1"]:
        for constraint in cfg["constraints"]:
            for t_star in cfg["t_star"]:
                for seed in cfg["seeds"]:
                    torch.manual_seed(seed)
                    model = ExplainingAwayAutoencoder(cfg["patch"] ** 2, cfg["n_hidden"],
                                                      t_star=t_star, gamma=1.0,
                                                      constraint=constraint).to(device)
                    _train_steps(model, lambda m, x, l1=l1: m.loss(x, l1=l1), (X,),
                                 steps=total, batch=cfg["batch"], lr=cfg["lr"], seed=seed,
                                 device=device, after_step=model.after_step)
                    with torch.no_grad():
                        x_hat, h = model(Xv)
                        G = model.G.detach()
                        off = G[~torch.eye(G.shape[0], dtype=torch.bool, device=G.device)]
                    rows.append({"l1": l1, "constraint": constraint, "t_star": t_star,
                                 "seed": seed, "steps": total,
                                 "activity_ratio": activity_ratio(h),
                                 "dead_units": dead_units(h),
                                 "fvu": fraction_variance_unexplained(Xv, x_hat),
                                 "G_mean": float(off.mean()),
                                 "G_negative": float((off < 0).float().mean())})
    return {"runs": rows}


def run_config(name, *, device=None, steps=None, n_train=None, seeds=None):
    """Run one configuration of ``CONFIGS``; return its settings and results.

    ``steps``, ``n_train`` and ``seeds`` shorten it (for the smoke test); by default
    it runs with the sources' settings.
    """
    if name not in CONFIGS:
        raise ValueError(f"name must be one of {sorted(CONFIGS)}, got {name!r}")
    from .._validation import check_scalar
    from ..training import check_device, get_device
    device = check_device(device) if device is not None else get_device()
    if steps is not None:
        steps = check_scalar(steps, "steps", low=1, integer=True)
    if n_train is not None:
        n_train = check_scalar(n_train, "n_train", low=1, integer=True)
    if seeds is not None:
        seeds = [check_scalar(s, "seeds", low=0, integer=True) for s in seeds]
        if not seeds:
            raise ValueError("seeds must hold at least one seed")
    cfg = dict(CONFIGS[name])
    if seeds is not None:
        cfg["seeds"] = list(seeds)
    t0 = time.perf_counter()
    if name.startswith("mnist"):
        out = _run_mnist(name, cfg, device, steps or cfg["steps"], n_train)
    elif name == "sae":
        out = _run_sae(cfg, device, steps, n_train)
    else:
        out = _run_explaining_away(cfg, device, steps, n_train)
    return {"settings": cfg, "seconds": time.perf_counter() - t0, **out}


def run_all(out, *, names=None, device=None, steps=None, n_train=None, seeds=None):
    """Run the configurations ``names`` (all by default) and write the results file ``out``."""
    from ..training import check_device, get_device
    device = check_device(device) if device is not None else get_device()
    names = list(CONFIGS) if names is None else list(names)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"names must be among {sorted(CONFIGS)}, got {unknown}")
    out = Path(out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update({
        "hardware": _hardware(device),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "shortened": steps is not None or n_train is not None,
    })
    results.setdefault("experiments", {})
    for name in names:
        results["experiments"][name] = run_config(name, device=device, steps=steps,
                                                  n_train=n_train, seeds=seeds)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")  # after every configuration
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="chapters/part3/full_scale_results.json")
    parser.add_argument("--only", action="append", choices=sorted(CONFIGS))
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=None)
    args = parser.parse_args(argv)
    run_all(args.out, names=args.only, device=args.device, steps=args.steps,
            n_train=args.n_train)


if __name__ == "__main__":
    main()
