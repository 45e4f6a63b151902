"""Dictionary learning on natural-image patches: learn_dictionary against SPAMS trainDL.

Patches of the bundled natural images (``sparsecoding.data.load_image_patches``), each
patch's mean removed, then all scaled so that a pixel has unit variance; lam = 0.1,
mini-batches of 256, the same number of threads for both (``--threads`` of
``benchmarks/run.py``: SPAMS's ``numThreads``, and BLAS and Numba through the
environment; the stored results use one). Three settings:
8x8 patches with 128 atoms, 12x12 with 200 and 16x16 with 256.

Both learners minimise the same objective, the mean over signals of
1/2 ||x - D h||^2 + lam ||h||_1 with unit-norm atoms: SPAMS ``trainDL`` in mode 2 with
``lambda1 = lam`` (its other defaults: codes by LARS, ``clean=True``), and
``sparsecoding.learn_dictionary`` with its defaults (exact homotopy codes, atoms started
from random patches). SPAMS's ``iter`` counts mini-batches, so one epoch is
``ceil(n / 256)`` of them. Every dictionary is scored by the same yardstick: the mean
lasso objective, with exact codes (``sparsecoding.homotopy``), of held-out patches
drawn with another seed.

For each setting, in interleaved order (ours, SPAMS, ours, SPAMS ...):

* ``learn_dictionary`` for 1 and 2 epochs (and ``init="random"`` for 1 epoch);
* SPAMS for 1 and 2 epochs;
* SPAMS for the time ``learn_dictionary`` took for one epoch: as many mini-batches as
  fit in that time at SPAMS's pace of its one-epoch run (its own time budget,
  ``iter < 0``, counts whole seconds only); the objectives at equal time.

The summary: the time each learner needs to reach SPAMS's final (2-epoch) objective,
and the objectives of both at the time of one epoch of ``learn_dictionary``.

Run with ``python benchmarks/run.py --dictionary-vs-spams`` (results in
``results/dictionary_spams.json``).
"""

from __future__ import annotations

import os
import time

import numpy as np

LAM = 0.1
BATCH = 256
# patch size, atoms, training patches (small, full)
SETTINGS = ((8, 128, (10_000, 40_000)), (12, 200, (6_000, 40_000)),
            (16, 256, (5_000, 40_000)))
N_HELD_OUT = (2_000, 10_000)


def patches(size, n, seed=0):
    from sparsecoding.data import load_image_patches

    X = np.asarray(load_image_patches(size, n, seed=seed), dtype=np.float64)
    return X / X.std()


def score(D, X, lam=LAM):
    """Mean lasso objective of the rows of ``X`` under ``D``, exact codes."""
    import sparsecoding as sc

    D = np.asarray(D, dtype=np.float64)
    H = sc.homotopy(D, X, lam).codes
    R = X - H @ D.T
    return (0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(H)))) / len(X)


def run(scale="small", threads=1, quick=False, log=print, sizes=None, partial=None,
        short=False):
    """Measure; ``sizes`` picks patch sizes among ``SETTINGS``; after each run the
    results so far go to ``partial(dict)`` when given. ``short``: no ``init="random"``
    run."""
    import sparsecoding as sc

    out = {"lam": LAM, "batch_size": BATCH, "scale": scale, "threads": threads,
           "short": short, "date": time.strftime("%Y-%m-%d %H:%M"),
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
    full = scale != "small"
    for size, n_atoms, counts in settings:
        n = 2000 if quick else counts[full]
        X = patches(size, n)
        X_test = patches(size, 500 if quick else N_HELD_OUT[full], seed=1)
        n_batches = -(-n // BATCH)
        runs = []
        current = {"patch_size": size, "n_atoms": n_atoms, "n_patches": n,
                   "n_held_out": len(X_test), "runs": runs, "summary": {}}
        out["settings"].append(current)

        def record(row, D, t):
            row.update(time=t, objective=score(D, X_test), load=os.getloadavg()[0])
            runs.append(row)
            log(f"  {size}x{size}, {n_atoms} atoms: {row['learner']} "
                f"{row.get('epochs', '-')} epoch(s): {t:.2f} s, "
                f"objective {row['objective']:.4f} (load {row['load']:.1f})")

        def ours(epochs, init="data"):
            t0 = time.perf_counter()
            res = sc.learn_dictionary(X, n_atoms, LAM, epochs=epochs, batch_size=BATCH,
                                      progress=False, seed=0, init=init)
            t = time.perf_counter() - t0
            name = "learn_dictionary" + ("" if init == "data" else f" init={init}")
            record({"learner": name, "epochs": epochs}, res.D, t)
            return t

        def theirs(epochs=None, seconds=None):
            if spams is None:
                return None
            if seconds is None:
                iters = max(1, int(round(epochs * n_batches)))
            else:  # as many mini-batches as SPAMS's own pace fits in the time
                pace = spams_one["time"] / spams_one["iterations"]
                iters = max(1, int(round(seconds / pace)))
            t0 = time.perf_counter()
            D = spams.trainDL(np.asfortranarray(X.T), K=n_atoms, lambda1=LAM, mode=2,
                              iter=iters, batchsize=BATCH, numThreads=threads,
                              verbose=False)
            t = time.perf_counter() - t0
            row = {"learner": "SPAMS trainDL", "iterations": iters}
            if seconds is None:
                row["epochs"] = epochs
            else:
                row["budget"] = seconds
            record(row, D, t)
            return row

        t_one = ours(1)
        spams_one = theirs(epochs=1)
        ours(2)
        theirs(epochs=1 if quick else 2)
        if spams_one is not None:
            theirs(seconds=t_one)
        if not (short or quick):
            ours(1, init="random")
        current["summary"] = _summary(runs)
        if partial is not None:
            out["load_average_end"] = list(os.getloadavg())
            partial(out)
    out["load_average_end"] = list(os.getloadavg())
    return out


def _summary(runs):
    """Time to SPAMS's final objective, and both objectives at equal time."""
    ours = [r for r in runs if r["learner"] == "learn_dictionary"]
    spams_ep = [r for r in runs if r["learner"] == "SPAMS trainDL" and "epochs" in r]
    budget = [r for r in runs if r["learner"] == "SPAMS trainDL" and "budget" in r]
    summary = {}
    if spams_ep:
        final = max(spams_ep, key=lambda r: r["epochs"])
        reached = [r for r in ours if r["objective"] <= final["objective"]]
        summary.update(
            spams_final_objective=final["objective"], spams_final_epochs=final["epochs"],
            spams_time=final["time"],
            ours_time=min((r["time"] for r in reached), default=None),
            ours_epochs=min((r["epochs"] for r in reached), default=None))
        if summary["ours_time"] is not None:
            summary["speedup"] = final["time"] / summary["ours_time"]
    one = [r for r in ours if r["epochs"] == 1]
    if one and budget:
        summary.update(equal_time=one[0]["time"], ours_objective=one[0]["objective"],
                       spams_objective=budget[0]["objective"])
    return summary
