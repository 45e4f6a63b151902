r"""The full-scale experiments of the PyTorch chapters, with the sources' settings.

Run on a machine with a CUDA GPU, from the repository root::

    python -m sparsecoding.nn.full_scale

It trains every configuration of ``CONFIGS``, several seeds each, and writes one
results file, ``chapters/part3/full_scale_results.json`` by default: the hardware, the
date, the versions, the settings and every measured number. The chapters show
full-scale numbers only from that file, read by :func:`load_results`, labelled with
where and when it ran, and none when it is absent. ``--only NAME`` runs one configuration; ``--steps N`` shortens every
run (the smoke test in ``tests/`` runs every configuration for a few steps on the CPU).
``CONFIGS`` is the one place of the full-scale sizes: a chapter run at full scale
(``SPARSECODING_SCALE=full``) reads its sizes from it.

The configurations follow the sources:

* ``mnist_mlp``, ``mnist_cnn``, ``mnist_conv_ae`` follow the 2016 blog post
  :cite:p:`giraud2016sparse`: batches of 100 images, 20,000 steps, weights drawn from
  :math:`\mathcal N(0, 0.1^2)` and biases 0.1, the training images split 55,000 /
  5,000 (training / validation), 200 feature maps, and its grid of sparsity weights
  ``sc``. The blog sums the penalty over the batch, so the book's per-image weight is
  :math:`\lambda = 100\,\mathrm{sc}` (the batch size). The autoencoder sums the squared
  error over the pixels of an image and clips the norm of the decoder's weights.
  The optimiser (Adam, learning rate :math:`10^{-3}`) is the book's choice.
* ``sae`` and ``explaining_away`` follow :cite:t:`bricken2023sparse`: a
  one-hidden-layer autoencoder with an L1 penalty, without a constraint, with unit-norm
  atoms, with the inverse-norm penalty, and the explaining-away loop; on whitened
  16×16 natural-image patches (the book's data; Bricken used CIFAR-10).
* ``superposition`` follows :cite:t:`elhage2022superposition` (the toy model of
  5 features in 2 dimensions), :cite:t:`bricken2023monosemanticity` (L1
  autoencoders and resampling of dead latents) and :cite:t:`gao2024scaling` (TopK
  autoencoders) on the toy data of 96 true features in 32 dimensions, at ten times the
  chapter's small-scale number of signals (chapter *Superposition and interpretability*).
* ``lista`` trains LISTA :cite:p:`gregor2010lista` of depths 1, 2, 4, 8 on more patches for
  longer, and counts the FISTA iterations each depth is worth (chapter *Homotopy and
  unrolled networks*).

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

__all__ = ["CONFIGS", "RUNNERS", "amortisation_gap", "run_config", "run_all", "load_results",
           "main"]

SC_GRID = [0.0, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 2.7e-3]

CONFIGS = {
    "mnist_mlp": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100, "lr": 1e-3,
                  "sc": SC_GRID, "n_hidden": 784,
                  "weight_init": "normal(0, 0.1^2), bias 0.1",
                  "split": "55,000 / 5,000 / 10,000 test", "seeds": [0, 1, 2]},
    "mnist_cnn": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100, "lr": 1e-3,
                  "sc": SC_GRID, "n_maps": 200,
                  "weight_init": "normal(0, 0.1^2), bias 0.1",
                  "split": "55,000 / 5,000 / 10,000 test", "seeds": [0, 1, 2]},
    "mnist_conv_ae": {"source": "giraud2016sparse", "steps": 20_000, "batch": 100,
                      "lr": 1e-3, "sc": [0.0, 1e-3], "n_maps": 200,
                      "decoders": ["transposed", "subpixel"], "recon": "sum",
                      "decoder_max_norm": 1.0,
                      "weight_init": "normal(0, 0.1^2), bias 0.1",
                      "seeds": [0, 1, 2]},
    "sae": {"source": "bricken2023sparse", "patch": 16, "n_patches": 100_000,
            "n_val": 5_000, "whitening_eps": 1.0, "n_hidden": 512, "epochs": 100,
            "batch": 256, "lr": 3e-3, "inverse_norm_weight": 0.1,
            # [constraint, lam] of every run
            "runs": [["none", 0.0], ["none", 1.0], ["unit_norm", 1.0],
                     ["inverse_norm", 1.0]],
            "n_gabor": 128, "n_gap": 500, "seeds": [0, 1, 2]},
    "explaining_away": {"source": "bricken2023sparse", "patch": 16, "n_patches": 100_000,
                        "n_val": 5_000, "whitening_eps": 1.0, "n_hidden": 512,
                        "epochs": 50, "batch": 256, "lr": 3e-3, "lam": [1.0, 3.0],
                        "t_star": [0, 1, 3], "constraints": ["none", "unit_norm"],
                        "seeds": [0, 1, 2]},
    "superposition": {"source": ["elhage2022superposition", "bricken2023monosemanticity",
                                 "gao2024scaling"],
                      "n_toy": 65_536, "toy_epochs": 40, "lr_toy": 1e-2,
                      "toy_p": [1.0, 0.3, 0.05], "toy_true_features": 5, "toy_dims": 2,
                      "n_true_features": 96, "n_dims": 32, "p": 0.05, "n_signals": 200_000,
                      "n_test": 4_000, "epochs": 20, "phase_epochs": 4, "n_phases": 5,
                      "n_killed": 32, "resampling_lam": 0.1, "batch": 256,
                      "lr_l1_sae": 1e-2, "lam": [0.03, 0.1, 0.3],
                      "lr_topk_sae": 3e-3, "k": [3, 5, 8], "seeds": [0, 1, 2, 3, 4]},
    "lista": {"source": "gregor2010lista", "patch": 8, "n_atoms": 128, "lam": 0.1,
              "n_signals": 20_000, "n_test": 256, "epochs": 100, "batch": 100, "lr": 3e-3,
              "depths": [1, 2, 4, 8], "n_reference_iter": 300, "seeds": [0, 1, 2, 3, 4]},
}


def _hardware(device):
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def _train(model, loss_fn, tensors, *, batch, lr, seed, device, steps=None, epochs=None,
           after_step=None, metrics=None):
    """Adam for ``steps`` minibatches (or ``epochs`` passes) by
    :func:`sparsecoding.training.fit`; returns the loss curve (about 50 ``[step, loss]``
    pairs) and fit's history."""
    from ..training import fit
    history = fit(model, loss_fn, tensors, steps=steps, epochs=epochs, batch_size=batch,
                  lr=lr, seed=seed, device=device, after_step=after_step, metrics=metrics,
                  progress=False)
    losses = history["loss"]
    every = max(1, len(losses) // 50)
    curve = [[k, losses[k]] for k in range(0, len(losses), every)]
    if losses and curve[-1][0] != len(losses) - 1:
        curve.append([len(losses) - 1, losses[-1]])
    return curve, history


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
                curve, _ = _train(model, loss, (Xtr, ytr), steps=steps,
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
    epochs = cfg["epochs"] if steps is None else None
    rows = []
    for constraint, lam in cfg["runs"]:
        for seed in cfg["seeds"]:
            torch.manual_seed(seed)
            model = SparseAutoencoder(n_feat, cfg["n_hidden"], constraint=constraint,
                                      inverse_norm_weight=cfg["inverse_norm_weight"]
                                      ).to(device)
            t0 = time.perf_counter()
            curve, hist = _train(model, lambda m, x, lam=lam: m.loss(x, lam), (X,),
                                    steps=steps, epochs=epochs, batch=cfg["batch"],
                                 lr=cfg["lr"], seed=seed, device=device,
                                 after_step=model.after_step)
            with torch.no_grad():
                x_hat, h = model(Xv)
            D = model.decoder_weight.detach().cpu().numpy()[:, :cfg["n_gabor"]]
            r2 = gabor_scores(D, (cfg["patch"], cfg["patch"]), n_starts=1)
            row = {"constraint": constraint, "lam": lam, "seed": seed,
                   "steps": len(hist["loss"]),
                   "activity_ratio": activity_ratio(h), "dead_units": dead_units(h),
                   "fvu": fraction_variance_unexplained(Xv, x_hat),
                   "gabor_fraction": float(np.mean(r2 >= 0.8)),
                   "median_r2": float(np.median(r2)), **model.weight_norms(),
                   "train_seconds": time.perf_counter() - t0, "loss_curve": curve}
            if lam > 0:
                row["amortisation"] = amortisation_gap(model, Xv[:cfg["n_gap"]], lam)
            rows.append(row)
    return {"runs": rows}


def _run_explaining_away(cfg, device, steps, n_train):
    from ..codes import activity_ratio, dead_units, fraction_variance_unexplained
    from .autoencoders import ExplainingAwayAutoencoder
    X, Xv = _patches(cfg, device, n_train)
    epochs = cfg["epochs"] if steps is None else None
    rows = []
    for lam in cfg["lam"]:
        for constraint in cfg["constraints"]:
            for t_star in cfg["t_star"]:
                for seed in cfg["seeds"]:
                    torch.manual_seed(seed)
                    model = ExplainingAwayAutoencoder(cfg["patch"] ** 2, cfg["n_hidden"],
                                                      t_star=t_star, gamma=1.0,
                                                      constraint=constraint).to(device)
                    _, hist = _train(model, lambda m, x, lam=lam: m.loss(x, lam), (X,),
                                     steps=steps, epochs=epochs, batch=cfg["batch"],
                                     lr=cfg["lr"], seed=seed, device=device,
                                     after_step=model.after_step)
                    with torch.no_grad():
                        x_hat, h = model(Xv)
                        G = model.G.detach()
                        off = G[~torch.eye(G.shape[0], dtype=torch.bool, device=G.device)]
                    rows.append({"lam": lam, "constraint": constraint, "t_star": t_star,
                                 "seed": seed, "steps": len(hist["loss"]),
                                 "activity_ratio": activity_ratio(h),
                                 "dead_units": dead_units(h),
                                 "fvu": fraction_variance_unexplained(Xv, x_hat),
                                 "G_mean": float(off.mean()),
                                 "G_negative": float((off < 0).float().mean())})
    return {"runs": rows}


# -------------------------------------------------------------------- superposition
def _run_superposition(cfg, device, steps, n_train):
    from ..codes import active_units, fraction_variance_unexplained
    from .autoencoders import L1SparseAutoencoder, TopKSparseAutoencoder
    from .superposition import (ToyFeatureData, ToyModel, dead_latents,
                                mean_max_cosine_similarity, resample_dead_latents,
                                sample_sparse_features)

    def length(epochs):
        return {"steps": steps} if steps is not None else {"epochs": epochs}

    n_toy = cfg["n_toy"] if n_train is None else n_train
    n_signals = cfg["n_signals"] if n_train is None else n_train
    m, d = cfg["toy_true_features"], cfg["toy_dims"]
    importance = (0.9 ** torch.arange(float(m))).to(device)
    toy_rows = []
    for p in cfg["toy_p"]:
        for seed in cfg["seeds"]:
            torch.manual_seed(seed)
            model = ToyModel(m, d)
            f = sample_sparse_features(n_toy, m, p, seed=1 + seed)
            _train(model, lambda mod, x: mod.loss(x, importance), (f,), batch=cfg["batch"],
                   lr=cfg["lr_toy"], seed=seed, device=device, **length(cfg["toy_epochs"]))
            norms = model.W.detach().norm(dim=0)
            toy_rows.append({"p": p, "seed": seed,
                             "features_represented": int((norms > 0.5).sum()),
                             "column_norms": norms.cpu().tolist()})

    worlds = {s: ToyFeatureData(cfg["n_true_features"], cfg["n_dims"], cfg["p"], seed=s)
              for s in cfg["seeds"]}
    train = {s: w.sample(n_signals, seed=2 * s + 1)[1].to(device) for s, w in worlds.items()}
    test = {s: w.sample(cfg["n_test"], seed=2 * s + 2)[1].to(device)
            for s, w in worlds.items()}

    @torch.no_grad()
    def evaluate(sae, s):
        sae.eval()
        X_hat, H = sae(test[s])
        dead = dead_latents(sae, test[s])
        return {"fvu": fraction_variance_unexplained(test[s], X_hat),
                "l0": active_units(H), "dead": int(dead.sum()),
                "mmcs": mean_max_cosine_similarity(sae.decoder_directions[:, ~dead],
                                                   worlds[s].embed)}

    def train_sae(sae, s, lam, lr, epochs, optimizer=None, seed=None, metrics=None):
        from ..training import fit
        return fit(sae, lambda mod, x: mod.loss(x, lam), train[s], batch_size=cfg["batch"],
                   lr=lr, optimizer=optimizer, seed=s if seed is None else seed,
                   after_step=lambda mod: mod.normalize_decoder_(), metrics=metrics,
                   device=device, progress=False, **length(epochs))

    sae_rows = []
    settings = [("L1", lam) for lam in cfg["lam"]] + [("TopK", k) for k in cfg["k"]]
    for kind, v in settings:
        for s in cfg["seeds"]:
            if kind == "L1":
                sae = L1SparseAutoencoder(cfg["n_dims"], cfg["n_true_features"], seed=s)
                lam, lr = v, cfg["lr_l1_sae"]
            else:
                sae = TopKSparseAutoencoder(cfg["n_dims"], cfg["n_true_features"], v, seed=s)
                lam, lr = 0.0, cfg["lr_topk_sae"]
            t0 = time.perf_counter()
            hist = train_sae(sae, s, lam, lr, cfg["epochs"],
                             metrics=lambda mod, s=s: {"mmcs": evaluate(mod, s)["mmcs"]})
            sae_rows.append({"kind": kind, "setting": v, "seed": s, **evaluate(sae, s),
                             "mmcs_per_epoch": hist.get("epoch_mmcs", []),
                             "train_seconds": time.perf_counter() - t0})

    resampling_rows = []
    for resample in (False, True):
        for s in cfg["seeds"]:
            sae = L1SparseAutoencoder(cfg["n_dims"], cfg["n_true_features"], seed=s).to(device)
            with torch.no_grad():
                sae.b_enc[:cfg["n_killed"]] = -10.0
            opt = torch.optim.Adam(sae.parameters(), lr=cfg["lr_l1_sae"])
            track = []
            for phase in range(cfg["n_phases"]):
                train_sae(sae, s, cfg["resampling_lam"], cfg["lr_l1_sae"],
                          cfg["phase_epochs"], optimizer=opt, seed=phase)
                track.append(evaluate(sae, s))
                if resample and phase < cfg["n_phases"] - 1:
                    X = train[s][:4096]
                    resample_dead_latents(sae, X, dead_latents(sae, X), optimizer=opt,
                                          seed=phase)
            resampling_rows.append({"resample": resample, "seed": s, "phases": track})
    return {"toy": toy_rows, "sae": sae_rows, "resampling": resampling_rows}


# ---------------------------------------------------------------------------- LISTA
def _contrasted_patches(patch, n, seed):
    """``n`` unit-norm patches, from the more contrasted half of ``2 n`` random ones."""
    from ..data import load_image_patches
    patches = load_image_patches(patch, 2 * n, seed=seed)
    patches = patches[np.argsort(-np.linalg.norm(patches, axis=1))[:n]]
    return patches / np.linalg.norm(patches, axis=1, keepdims=True)


def _iterations_to_reach(errors, target):
    """The first iteration (from 1) whose error is at most ``target``; None if none is."""
    hit = np.flatnonzero(np.asarray(errors) <= target)
    return int(hit[0]) + 1 if hit.size else None


def _run_lista(cfg, device, steps, n_train):
    from ..solvers import fista, ista, lipschitz_constant
    from .lista import LISTA, train_lista
    n_signals = cfg["n_signals"] if n_train is None else n_train
    n_features, lam = cfg["patch"] ** 2, cfg["lam"]
    rng = np.random.default_rng(0)
    D = rng.standard_normal((n_features, cfg["n_atoms"]))
    D /= np.linalg.norm(D, axis=0)
    L = lipschitz_constant(D)
    X_test = _contrasted_patches(cfg["patch"], cfg["n_test"], seed=1)
    H_test = fista(D, X_test, lam, tol=1e-10, max_iter=20_000, restart="gradient").codes

    def rel_error(H):
        return float(np.sum((H - H_test) ** 2) / np.sum(H_test ** 2))

    ks = range(1, cfg["n_reference_iter"] + 1)
    err_ista = [rel_error(ista(D, X_test, lam, max_iter=k, tol=0, lipschitz=L).codes)
                for k in ks]
    err_fista = [rel_error(fista(D, X_test, lam, max_iter=k, tol=0, lipschitz=L).codes)
                 for k in ks]
    X_test_t = torch.tensor(X_test, dtype=torch.float32, device=device)
    rows = []
    for seed in cfg["seeds"]:
        X = _contrasted_patches(cfg["patch"], n_signals, seed=2 + 10 * seed)
        H = fista(D, X, lam, tol=1e-10, max_iter=20_000, restart="gradient").codes
        for T in cfg["depths"]:
            model = LISTA(n_features, cfg["n_atoms"], n_layers=T, D=D, lam=lam).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
            total = (steps if steps is not None
                     else cfg["epochs"] * -(-n_signals // cfg["batch"]))
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
            t0 = time.perf_counter()

            def held_out(m):
                return {"error": rel_error(m(X_test_t).double().cpu().numpy())}

            hist = train_lista(model, X, H, steps=total, batch_size=cfg["batch"], seed=seed,
                               optimizer=opt, after_step=lambda m: schedule.step(),
                               metrics=held_out, device=device, progress=False)
            e = hist["epoch_error"][-1]
            rows.append({"seed": seed, "T": T, "error": e,
                         "error_per_epoch": hist["epoch_error"],
                         "ista_error_T": err_ista[T - 1],
                         "ista_iterations": _iterations_to_reach(err_ista, e),
                         "fista_iterations": _iterations_to_reach(err_fista, e),
                         "steps": len(hist["loss"]),
                         "train_seconds": time.perf_counter() - t0})
    return {"runs": rows, "ista_error": err_ista, "fista_error": err_fista}


def _run_mnist_config(name):
    return lambda cfg, device, steps, n_train: _run_mnist(name, cfg, device,
                                                          steps or cfg["steps"], n_train)


#: The function that runs each configuration of ``CONFIGS``:
#: ``runner(settings, device, steps, n_train)`` returns the results.
RUNNERS = {"mnist_mlp": _run_mnist_config("mnist_mlp"),
           "mnist_cnn": _run_mnist_config("mnist_cnn"),
           "mnist_conv_ae": _run_mnist_config("mnist_conv_ae"),
           "sae": _run_sae, "explaining_away": _run_explaining_away,
           "superposition": _run_superposition, "lista": _run_lista}


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
    out = RUNNERS[name](cfg, device, steps, n_train)
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


def load_results(name, path="full_scale_results.json"):
    """Return the full-scale results of one configuration, for a chapter to show.

    Reads the results file ``path`` (written by :func:`run_all`) and prints where and
    when the runs were made. A chapter shows full-scale numbers only through this
    function, so that every number it shows is labelled with its hardware and date.

    Parameters
    ----------
    name : str
        A configuration of ``CONFIGS``.
    path : str or pathlib.Path
        The results file, relative to the chapter (the runner writes
        ``chapters/part3/full_scale_results.json``).

    Returns
    -------
    dict or None
        The results of ``name`` (what :func:`run_config` returned), or ``None``, after
        printing how to make them, when the file is absent, was written by a
        shortened run (``--steps`` or ``--n-train``) or does not hold ``name``: a
        chapter then shows no full-scale number.
    """
    if name not in CONFIGS:
        raise ValueError(f"name must be one of {sorted(CONFIGS)}, got {name!r}")
    path = Path(path)
    results = json.loads(path.read_text()) if path.is_file() else {}
    experiment = results.get("experiments", {}).get(name)
    if experiment is None or results.get("shortened", True):
        print("No full-scale results file for this chapter: run "
              f"`python -m sparsecoding.nn.full_scale --only {name}` on a GPU to make one.")
        return None
    hardware = results["hardware"]
    print(f"Full scale, run on {hardware.get('gpu', hardware['device'])} "
          f"on {results['date']}:")
    return experiment


def main(argv=None):
    """Run the configurations named on the command line and store their results.

    Parameters
    ----------
    argv : list of str, optional
        The command line (``sys.argv[1:]`` when None); ``--help`` lists the options.
    """
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
