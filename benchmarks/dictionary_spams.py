"""Dictionary learning on natural-image patches: learn_dictionary against SPAMS trainDL.

Patches of the bundled natural images (``sparsecoding.data.load_image_patches``), each
patch's mean removed, then all scaled so that a pixel has unit variance; lam = 0.1,
mini-batches of 256. Two settings: 8x8 patches with 128 atoms and 16x16 patches with 256
atoms. Contenders, all started from the same seed and run side by side in one process:

* SPAMS ``trainDL`` (online dictionary learning, C++, mode=2: the same objective,
  unit-norm atoms), for numbers of mini-batches worth 1/4, 1/2, 1, 2 and 4 epochs;
* ``sparsecoding.learn_dictionary`` (exact homotopy codes) with ``init="random"``
  (Gaussian atoms) and ``init="data"`` (random patches), for 1, 2 and 4 epochs.

Every dictionary is scored by the same yardstick: the mean lasso objective
(1/N) sum_i 1/2 ||x_i - D h_i||^2 + lam ||h_i||_1 of all patches with exact codes
(``sparsecoding.homotopy``). The summary: for each target objective reached by SPAMS,
the time each learner takes to reach it.

Run with ``python benchmarks/run.py --dictionary-vs-spams`` (results in
``results/dictionary_spams.json``).
"""

from __future__ import annotations

import os
import time

import numpy as np

LAM = 0.1
BATCH = 256
# patch size, atoms, patches (small, full)
SETTINGS = ((8, 128, (20_000, 40_000)), (16, 256, (10_000, 40_000)))


def patches(size, n, seed=0):
    from sparsecoding.data import load_image_patches

    X = np.asarray(load_image_patches(size, n, seed=seed), dtype=np.float64)
    return X / X.std()


def score(D, X, lam=LAM):
    import sparsecoding as sc

    D = np.asarray(D, dtype=np.float64)
    H = sc.homotopy(D, X, lam).codes
    R = X - H @ D.T
    return (0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(H)))) / len(X)


def run(scale="small", threads=2, quick=False, log=print, sizes=None, partial=None,
        short=False):
    """Measure; ``sizes`` picks patch sizes among ``SETTINGS``; after each run the
    results so far go to ``partial(dict)`` when given."""
    import sparsecoding as sc

    out = {"lam": LAM, "batch_size": BATCH, "scale": scale, "threads": threads,
           "short": short,
           "load_average_start": list(os.getloadavg()), "settings": []}
    sc.learn_dictionary(np.random.default_rng(0).standard_normal((300, 64)), 16, LAM,
                        epochs=1, progress=False)  # load the compiled kernels
    try:
        import spams
    except ImportError:  # pragma: no cover
        spams = None
    settings = SETTINGS[:1] if quick else SETTINGS
    if sizes:
        settings = [s for s in settings if s[0] in sizes]
    for size, n_atoms, counts in settings:
        n = 2000 if quick else (counts[0] if scale == "small" else counts[1])
        X = patches(size, n)
        n_batches = -(-n // BATCH)
        runs = []
        current = {"patch_size": size, "n_atoms": n_atoms, "n_patches": n, "runs": runs,
                   "time_to_spams_objective": []}
        out["settings"].append(current)
        epochs_ours = (1,) if quick else (1, 2) if short else (1, 2, 4)
        fractions = (0.5, 1) if quick else (0.5, 1, 2) if short else (0.25, 0.5, 1, 2, 4)
        # interleave: SPAMS and ours alternate, so that load changes hit both
        jobs = [("spams", f) for f in fractions]
        for e in epochs_ours:
            jobs += [("random", e), ("data", e)]
        order = sorted(jobs, key=lambda j: j[1])
        for kind, amount in order:
            if kind == "spams":
                if spams is None:
                    continue
                iters = max(1, int(round(amount * n_batches)))
                Xf = np.asfortranarray(X.T)
                t0 = time.perf_counter()
                D = spams.trainDL(Xf, K=n_atoms, lambda1=LAM, mode=2, iter=iters,
                                  batchsize=BATCH, numThreads=threads, verbose=False)
                t = time.perf_counter() - t0
                row = {"learner": "SPAMS trainDL", "epochs": amount, "iterations": iters}
            else:
                t0 = time.perf_counter()
                res = sc.learn_dictionary(X, n_atoms, LAM, epochs=amount, batch_size=BATCH,
                                          progress=False, seed=0, init=kind)
                t = time.perf_counter() - t0
                D = res.D
                row = {"learner": f"learn_dictionary init={kind}", "epochs": amount}
            row.update(time=t, objective=score(D, X), load=os.getloadavg()[0])
            runs.append(row)
            log(f"  {size}x{size}, {n_atoms} atoms: {row['learner']} {amount} epoch(s): "
                f"{t:.2f} s, objective {row['objective']:.4f}")
            current["time_to_spams_objective"] = _summary(runs)
            if partial is not None:
                out["load_average_end"] = list(os.getloadavg())
                partial(out)
    out["load_average_end"] = list(os.getloadavg())
    return out


def _summary(runs):
    """For each objective SPAMS reached, the time each learner needed to reach it."""
    summary = []
    for target_row in (r for r in runs if r["learner"] == "SPAMS trainDL"):
        target = target_row["objective"]
        entry = {"target": target, "spams_time": target_row["time"],
                 "spams_epochs": target_row["epochs"]}
        for kind in ("random", "data"):
            ok = [r for r in runs if r["learner"] == f"learn_dictionary init={kind}"
                  and r["objective"] <= target]
            entry[f"time_init_{kind}"] = min((r["time"] for r in ok), default=None)
        summary.append(entry)
    return summary
