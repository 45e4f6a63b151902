"""The lasso on a grid of regimes: every method, side by side, to a relative error of 1e-6.

Each regime is a dictionary shape, a sparsity of the signals and a lam. For each, the
reference objective F* is the smaller of an exact homotopy solve (tol=1e-12) and
scikit-learn's exact LARS-lasso; every method is then run with the cheapest setting
whose codes reach (F - F*) / F* <= 1e-6, and the settings are timed in interleaved
rounds (one run of each method per round, in an order shuffled from round to round,
eleven rounds by default, medians), so that a change in the machine's load hits all
methods alike.

Methods:

* ``front door``: ``sparsecoding.lasso`` (the method it chose is recorded);
* with ``--methods all``, every lasso method of the package, forced: ``homotopy``,
  ``fista`` (gradient restart, tol sweep), ``coordinate_descent`` and ``admm`` (tol
  sweeps), ``fista + screening`` (gap-safe screening after a first FISTA run, then FISTA
  on the atoms left); this is the measurement that fixes the rule of the front door;
* SPAMS ``spams.lasso(mode=2)`` (LARS; it minimises 0.5 ||x - D a||^2 + lambda1 ||a||_1,
  the same objective with lambda1 = lam);
* scikit-learn: ``sparse_encode(algorithm="lasso_lars")`` (exact; its alpha is our
  lam, it divides by n_features itself), ``sparse_encode(algorithm="lasso_cd")`` and
  ``Lasso(precompute=Gram, alpha=lam / n_features)`` with a tol sweep; its best is the
  fastest of those that reach the target.

Usage::

    python benchmarks/grid.py                    # front door, SPAMS, scikit-learn
    python benchmarks/grid.py --methods all      # and every method of the package
    python benchmarks/run.py --grid              # the same, from the main script

Writes ``benchmarks/results/grid.json`` (or ``grid_all.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

if __name__ == "__main__":  # thread counts must be set before NumPy loads its BLAS
    _n = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ[_var] = _n

import numpy as np  # noqa: E402

TARGET = 1e-6
HERE = Path(__file__).resolve().parent

# name, n_features, n_atoms, sparsity, lam, n_signals (small, full), dictionary, signals
REGIMES = (
    ("benchmark-like", 64, 256, 5, 0.03, (2000, 10000), "gaussian", "sparse"),
    ("large dictionary", 256, 1024, 20, 0.03, (300, 2000), "gaussian", "sparse"),
    ("coherent atoms", 64, 512, 5, 0.03, (1000, 5000), "smooth", "sparse"),
    ("under-complete", 256, 64, 5, 0.03, (2000, 10000), "gaussian", "sparse"),
    ("small lam, large supports", 64, 256, 5, 0.002, (1000, 5000), "gaussian", "sparse"),
    ("one signal per call", 64, 256, 5, 0.03, (100, 500), "gaussian", "sparse"),
    ("lam = lam_max / 2, dense signals", 64, 256, 0, 0.5, (2000, 10000), "gaussian",
     "gaussian"),
)


def make_regime(spec, scale="small", seed=0, max_signals=None):
    """``(D, X, lam, info)`` for one regime (``lam`` relative to lam_max when the
    signals are dense Gaussian)."""
    name, f, p, k, lam, counts, dictionary, signals = spec
    n = counts[0] if scale == "small" else counts[1]
    if max_signals:
        n = min(n, max_signals)
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((f, p))
    if dictionary == "smooth":  # moving averages of white noise: neighbours in a signal
        width = 8               # are alike, so the atoms are strongly correlated
        D = np.stack([np.convolve(np.r_[D[:, j], D[: width - 1, j]],
                                  np.ones(width) / width, mode="valid")[:f]
                      for j in range(p)], axis=1)
    D /= np.linalg.norm(D, axis=0)
    if signals == "sparse":
        H = np.zeros((n, p))
        support = np.argsort(rng.random((n, p)), axis=1)[:, :k]
        np.put_along_axis(H, support, rng.standard_normal((n, k)), axis=1)
        X = H @ D.T + 0.01 * rng.standard_normal((n, f))
    else:
        X = rng.standard_normal((n, f))
        lam = float(lam * np.median(np.max(np.abs(X @ D), axis=1)))
    G = D.T @ D
    coherence = float(np.max(np.abs(G - np.diag(np.diag(G)))))
    lam_max = np.max(np.abs(X @ D), axis=1)
    info = {"name": name, "n_features": f, "n_atoms": p, "sparsity": k, "lam": lam,
            "n_signals": n, "dictionary": dictionary, "signals": signals,
            "mutual_coherence": coherence,
            "median_lam_over_lam_max": float(np.median(lam / lam_max)),
            "per_signal_calls": name == "one signal per call"}
    return D, X, lam, info


def objective(D, X, H, lam):
    if hasattr(H, "toarray"):
        H = H.toarray()
    H = np.asarray(H, dtype=np.float64)
    R = X - H @ D.T
    return 0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(H)))


# --------------------------------------------------------------------------- methods


def _methods(D, lam, which, threads):
    """``{name: (library, [(setting, fn), ...])}``, each ``fn(X)`` returning codes; the
    settings in order of cost."""
    import sparsecoding as sc
    from sklearn.decomposition import sparse_encode
    from sklearn.linear_model import Lasso

    f = D.shape[0]
    G = D.T @ D
    tols = (1e-6, 1e-8, 1e-10, 1e-12)
    out = {"front door (sparsecoding.lasso)": (
        "sparsecoding", [("tol=1e-6", lambda X: sc.lasso(D, X, lam, tol=1e-6).codes)])}
    if which == "all":
        out["homotopy"] = ("sparsecoding", [
            ("exact", lambda X: sc.homotopy(D, X, lam).codes)])
        out["fista (gradient restart)"] = ("sparsecoding", [
            (f"tol={t:g}", lambda X, t=t: sc.fista(D, X, lam, tol=t, restart="gradient",
                                                   max_iter=200_000).codes) for t in tols])
        out["fista + gap-safe screening"] = ("sparsecoding", [
            (f"tol={t:g}", lambda X, t=t: screened_fista(D, X, lam, t)) for t in tols])
        out["coordinate_descent"] = ("sparsecoding", [
            (f"tol={t:g}", lambda X, t=t: sc.coordinate_descent(
                D, X, lam, tol=t, max_iter=100_000).codes) for t in tols[:3]])
        out["admm"] = ("sparsecoding", [
            (f"tol={t:g}", lambda X, t=t: sc.admm(D, X, lam, tol=t,
                                                  max_iter=100_000).codes)
            for t in tols[:3]])
    try:
        import spams

        Df = np.asfortranarray(D)
        out["SPAMS lasso (mode=2)"] = ("spams", [("exact (LARS)", lambda X: spams.lasso(
            np.asfortranarray(X.T), D=Df, lambda1=lam, mode=2, numThreads=threads).T)])
    except ImportError:
        pass
    out["sklearn sparse_encode lasso_lars"] = ("scikit-learn", [
        ("exact", lambda X: sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam))])

    def sk_lasso(X, tol):
        model = Lasso(alpha=lam / f, fit_intercept=False, precompute=G, tol=tol,
                      max_iter=1_000_000)
        return model.fit(D, X.T).coef_.reshape(X.shape[0], -1)

    out["sklearn Lasso (Gram)"] = ("scikit-learn", [
        (f"tol={t:g}", lambda X, t=t: sk_lasso(X, t)) for t in (1e-4, 1e-6, 1e-8, 1e-10)])
    return out


def screened_fista(D, X, lam, tol):
    """FISTA, gap-safe screening from its codes, then FISTA on the union of the atoms
    some signal keeps (warm-started)."""
    import sparsecoding as sc

    first = sc.fista(D, X, lam, tol=max(tol, 1e-3), restart="gradient", max_iter=200_000)
    keep = ~np.all(sc.gap_safe_screen(D, X, first.codes, lam), axis=0)
    H = np.zeros_like(first.codes)
    if keep.any():
        H[:, keep] = sc.fista(D[:, keep], X, lam, tol=tol, restart="gradient",
                              init=first.codes[:, keep], max_iter=200_000).codes
    return H


def _dense(H):
    return H.toarray() if hasattr(H, "toarray") else H


# --------------------------------------------------------------------------- timing


def measure_regime(spec, scale, which, threads, rounds, budget, log, max_signals=None):
    import sparsecoding as sc
    from sklearn.decomposition import sparse_encode

    D, X, lam, info = make_regime(spec, scale, max_signals=max_signals)
    F_h = objective(D, X, sc.homotopy(D, X, lam, tol=1e-12).codes, lam)
    F_l = objective(D, X, sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam), lam)
    F_star = min(F_h, F_l)
    info.update(reference_objective=F_star,
                reference_difference=abs(F_h - F_l) / F_star,
                front_door_choice=sc.auto.choose_method(D, X, lam)[0])
    methods = _methods(D, lam, which, threads)
    chosen = {}
    for name, (library, settings) in methods.items():
        for setting, solve in settings:
            if info["per_signal_calls"]:  # one call per signal: the latency regime
                def fn(solve=solve):
                    return np.vstack([_dense(solve(X[i:i + 1]))
                                      for i in range(X.shape[0])])
            else:
                def fn(solve=solve):
                    return solve(X)
            t0 = time.perf_counter()
            H = _dense(fn())
            t = time.perf_counter() - t0
            err = (objective(D, X, H, lam) - F_star) / F_star
            log(f"    {name} [{setting}]: {t * 1e3:.1f} ms, error {err:.1e}")
            if err <= TARGET:
                chosen[name] = {"library": library, "setting": setting, "fn": fn,
                                "times": [t], "error": err}
                break
            if t > budget:
                break
        if name not in chosen:
            chosen[name] = {"library": library, "setting": None, "fn": None,
                            "times": [], "error": err}
    # interleaved: one run of each method per round, in an order shuffled from round
    # to round, so that no method always follows the same one (a call right after
    # another library's leaves that library's idle threads and caches behind)
    order = np.random.default_rng(0)
    names = list(chosen)
    for _ in range(rounds - 1):
        for name in order.permutation(names):
            c = chosen[name]
            if c["fn"] is not None and sum(c["times"]) < budget:
                t0 = time.perf_counter()
                c["fn"]()
                c["times"].append(time.perf_counter() - t0)
    rows = []
    for name, c in chosen.items():
        rows.append({"method": name, "library": c["library"], "setting": c["setting"],
                     "reached": c["fn"] is not None, "error": c["error"],
                     "time": float(np.median(c["times"])) if c["times"] else None,
                     "runs": len(c["times"])})
    by = {r["method"]: r for r in rows}
    front = by["front door (sparsecoding.lasso)"]
    spams_row = by.get("SPAMS lasso (mode=2)")
    sk = [r for r in rows if r["library"] == "scikit-learn" and r["reached"]]
    sk_best = min(sk, key=lambda r: r["time"]) if sk else None
    summary = {
        "front_door_time": front["time"],
        "spams_time": spams_row["time"] if spams_row else None,
        "front_over_spams": (front["time"] / spams_row["time"]
                             if spams_row and spams_row["reached"] else None),
        "sklearn_best": sk_best["method"] if sk_best else None,
        "sklearn_best_time": sk_best["time"] if sk_best else None,
        "sklearn_best_over_front": (sk_best["time"] / front["time"] if sk_best else None),
    }
    log(f"  {info['name']}: front door ({info['front_door_choice']}) "
        f"{front['time'] * 1e3:.1f} ms, SPAMS ratio {summary['front_over_spams']}, "
        f"scikit-learn best / front {summary['sklearn_best_over_front']}, "
        f"load {os.getloadavg()[0]:.2f}")
    return {"regime": info, "results": rows, "summary": summary,
            "load_average": list(os.getloadavg())}


def run_grid(which="front", scale="small", threads=2, rounds=11, budget=20.0,
             only=None, log=print, max_signals=None, partial=None):
    """Measure the regimes; after each one, the results so far go to ``partial(dict)``
    when given (a long run that is stopped keeps what it measured)."""
    import sparsecoding as sc

    warnings.filterwarnings("ignore", message=".*did not converge.*")
    warnings.filterwarnings("ignore", message=".*Objective did not converge.*")
    warnings.filterwarnings("ignore", message=".*Regressors in active set degenerate.*")
    warnings.filterwarnings("ignore", message=".*Early stopping the lars path.*")
    D, X, lam, _ = make_regime(REGIMES[0], "small")
    sc.homotopy(D, X[:10], lam)  # load the compiled kernels before anything is timed
    sc.fista(D, X[:10], lam, max_iter=3)
    load_start = os.getloadavg()
    wall = time.perf_counter()
    out = []

    def result():
        return {"target": TARGET, "methods": which, "scale": scale, "threads": threads,
                "rounds": rounds, "max_signals": max_signals,
                "load_average_start": list(load_start),
                "load_average_end": list(os.getloadavg()),
                "wall_seconds": time.perf_counter() - wall,
                "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "regimes": out}

    for spec in REGIMES:
        if only and not any(o in spec[0] for o in only):
            continue
        log(f"regime {spec[0]}")
        out.append(measure_regime(spec, scale, which, threads, rounds, budget, log,
                                  max_signals))
        if partial is not None:
            partial(result())
    return result()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", choices=("front", "all"), default="front")
    p.add_argument("--scale", choices=("small", "full"), default="small")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--budget", type=float, default=20.0,
                   help="seconds per method and regime before it stops being repeated")
    p.add_argument("--only", nargs="*", help="regimes whose name contains one of these")
    p.add_argument("--max-signals", type=int, default=None,
                   help="at most this many signals per regime")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    src = HERE.parent / "src"
    if (src / "sparsecoding").is_dir():
        sys.path.insert(0, str(src))
    import json

    out = Path(args.out) if args.out else HERE / "results" / (
        "grid.json" if args.methods == "front" else "grid_all.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(result):
        out.write_text(json.dumps(result, indent=1, default=float))

    save(run_grid(args.methods, args.scale, args.threads, args.rounds, args.budget,
                  args.only, max_signals=args.max_signals, partial=save))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
