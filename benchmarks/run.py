"""Time to accuracy of lasso solvers in Python, side by side in one process.

The problem: a Gaussian dictionary D of 64 x 256 with unit-norm columns; signals that
are each a combination of 5 random atoms with Gaussian weights plus Gaussian noise of
standard deviation 0.01; lam = 0.03; the objective

    F(H) = sum_i 1/2 ||x_i - D h_i||^2 + lam ||h_i||_1 .

For every contender we find the cheapest setting (iterations, tolerance) that brings
the relative objective error (F - F*) / F* below 1e-3 and 1e-6, where F* is a float64
reference, and report the median time of repeated runs of that setting.

Usage::

    python benchmarks/run.py            # the full measurement (several minutes)
    python benchmarks/run.py --quick    # a smoke run of about a minute
    python benchmarks/run.py --device cuda --n-signals 1000000   # sparsecoding on a GPU
    python benchmarks/run.py --grid     # front door, SPAMS, scikit-learn on seven regimes
    python benchmarks/run.py --dictionary-vs-spams   # learn_dictionary against trainDL

Results go to benchmarks/results/latest.json and latest.png (see README.md).
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small smoke run (about 1 min)")
    p.add_argument("--n-signals", type=int, default=None, help="default 10000 (1000 quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per setting (5; rounds of the grid: 11)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (2)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where sparsecoding's solvers run (others always on the CPU)")
    p.add_argument("--no-dictionary", action="store_true",
                   help="skip the dictionary-learning comparison")
    p.add_argument("--out", default=None, help="JSON path (default results/latest.json)")
    p.add_argument("--grid", action="store_true",
                   help="only the grid of regimes (benchmarks/grid.py): the front door "
                        "sparsecoding.lasso, SPAMS and scikit-learn side by side "
                        "(results/grid.json)")
    p.add_argument("--grid-methods", choices=("front", "all"), default="front",
                   help="with --grid: 'all' adds every lasso method of the package "
                        "(the measurement behind the front door's rule)")
    p.add_argument("--dictionary-vs-spams", action="store_true",
                   help="only dictionary learning against SPAMS trainDL on natural-image "
                        "patches: 8x8/128, 12x12/200 and 16x16/256 atoms, one and two epochs "
                        "(results/dictionary_spams.json)")
    p.add_argument("--patch-sizes", type=int, nargs="*", default=None,
                   help="with --dictionary-vs-spams: patch sizes to run (default all)")
    p.add_argument("--short", action="store_true",
                   help="with --dictionary-vs-spams: without the init='random' run")
    p.add_argument("--scale", choices=("small", "full"), default="small",
                   help="problem sizes of --grid and --dictionary-vs-spams")
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
# Measure the package of this checkout, not whichever copy is installed.
_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if os.path.isdir(os.path.join(_SRC, "sparsecoding")):
    sys.path.insert(0, _SRC)
# Thread counts must be set before NumPy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import json  # noqa: E402
import warnings  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode  # noqa: E402
from sklearn.linear_model import Lasso  # noqa: E402

import sparsecoding as sc  # noqa: E402

warnings.filterwarnings("ignore", message=".*did not converge.*")
warnings.filterwarnings("ignore", message=".*Objective did not converge.*")
HERE = Path(__file__).resolve().parent
TARGETS = (1e-3, 1e-6)
LAM = 0.03


# ------------------------------------------------------------------------- problem


def make_problem(n_signals, n_features=64, n_atoms=256, k=5, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((n_signals, n_atoms))
    support = np.argsort(rng.random((n_signals, n_atoms)), axis=1)[:, :k]
    np.put_along_axis(H, support, rng.standard_normal((n_signals, k)), axis=1)
    X = H @ D.T + noise * rng.standard_normal((n_signals, n_features))
    return D, X


def objective(D, X, H, lam=LAM):
    """The summed objective, in float64 whatever the codes' type."""
    H = _to_numpy(H).astype(np.float64)
    R = X - H @ D.T
    return 0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(H)))


def _to_numpy(H):
    if hasattr(H, "toarray"):  # scipy.sparse (SPAMS)
        return H.toarray()
    if hasattr(H, "detach"):
        return H.detach().cpu().numpy()
    return np.asarray(H)


# ------------------------------------------------------------------------- timing


def _sync():
    if ARGS.device == "cuda":
        import torch

        torch.cuda.synchronize()


def timed(fn):
    _sync()
    t0 = time.perf_counter()
    out = fn()
    _sync()
    return time.perf_counter() - t0, out


def median_time(fn, repeats, first=None, budget=12.0):
    """Median of ``repeats`` runs (fewer when one run is slow: at most ~budget s)."""
    times = [] if first is None else [first]
    while len(times) < repeats and (sum(times) < budget or len(times) < 2):
        times.append(timed(fn)[0])
    return float(np.median(times)), len(times)


# ------------------------------------------------------------------------- contenders


def numpy_fista(D, X, lam, n_iter):
    """Plain batched FISTA in NumPy (Gram form), the baseline."""
    G, B = D.T @ D, X @ D
    L = np.linalg.norm(D, 2) ** 2
    H = np.zeros_like(B)
    Y, t = H, 1.0
    for _ in range(n_iter):
        V = Y - (Y @ G - B) / L
        H_new = np.sign(V) * np.maximum(np.abs(V) - lam / L, 0.0)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        Y = H_new + ((t - 1.0) / t_new) * (H_new - H)
        H, t = H_new, t_new
    return H


class Iterative:
    """A solver whose effort is a number of iterations."""

    def __init__(self, name, library, dtype, run, history=None, note=""):
        self.name, self.library, self.dtype, self.run = name, library, dtype, run
        self.history, self.note = history, note


def sparsecoding_contenders(D, X, device):
    out = []
    if device == "cuda":
        import torch

        def conv(a, dt):
            return torch.as_tensor(a, dtype=getattr(torch, dt), device="cuda")
    else:
        def conv(a, dt):
            return np.ascontiguousarray(a, dtype=dt)

    L = sc.lipschitz_constant(D)
    for dt in ("float64", "float32"):
        Dd, Xd = conv(D, dt), conv(X, dt)
        specs = [("fista", restart, mode) for mode in ("residual", "gram")
                 for restart in (None, "gradient")]
        if dt == "float64":
            specs.append(("ista", None, "residual"))
        for solver, restart, mode in specs:
            kw = {"mode": mode, "lipschitz": L, "tol": 0.0}
            if solver == "fista":
                kw["restart"] = restart
                fn = sc.fista
            else:
                fn = sc.ista

            def run(k, fn=fn, Dd=Dd, Xd=Xd, kw=kw):
                return fn(Dd, Xd, LAM, max_iter=k, **kw).codes

            def history(k, fn=fn, Dd=Dd, Xd=Xd, kw=kw):
                return fn(Dd, Xd, LAM, max_iter=k, **kw).objective

            name = f"sparsecoding.{solver} {dt} {mode}" + (
                f" restart={restart}" if restart else "")
            c = Iterative(name, "sparsecoding", dt, run, history)
            c.k_start = 1024 if solver == "ista" else 256
            out.append(c)
    return out


def splitting_contenders(D, X):
    """Coordinate descent and ADMM (sparsecoding.splitting), NumPy float64, tol=0: the
    objective after every sweep or iteration gives the count, as for FISTA."""
    out = []
    for name, fn, k_start in (("coordinate_descent", sc.coordinate_descent, 32),
                              ("admm", sc.admm, 128)):
        def run(k, fn=fn):
            return fn(D, X, LAM, max_iter=k, tol=0.0).codes

        def history(k, fn=fn):
            return fn(D, X, LAM, max_iter=k, tol=0.0).objective

        c = Iterative(f"sparsecoding.{name} float64", "sparsecoding", "float64", run,
                      history)
        c.k_start = k_start
        out.append(c)
    return out


def time_to_accuracy_iterative(c, F_star, repeats, k_max, log):
    """Smallest iteration count reaching each target, then its median time."""
    errs = {}
    ks = {}
    if c.history is not None:  # one long run gives the error after every iteration
        k = getattr(c, "k_start", 256)
        while True:
            hist = np.asarray(c.history(k))
            err = (hist - F_star) / F_star
            if err.min() <= TARGETS[-1] * 0.5 or k >= k_max:
                break
            if k >= 400 and err[k // 2:].min() >= 0.9 * err[: k // 2].min():
                break  # stagnated (float32 precision): more iterations will not help
            k *= 2
        for target in TARGETS:
            hit = np.nonzero(err <= target)[0]
            ks[target] = int(hit[0]) if len(hit) else None
    else:
        for target in TARGETS:
            ks[target] = None
    results = {}
    for target in TARGETS:
        k = ks[target]
        if c.history is None:
            k = c.k_guess.get(target)
        if k is None:
            results[target] = {"reached": False, "time": None, "setting": None}
            continue
        # Check on the returned codes (float32 histories are float32 sums); step up if short.
        for _ in range(20):
            t1, H = timed(lambda k=k: c.run(k))
            err = (objective(D_, X_, H) - F_star) / F_star
            if err <= target:
                break
            if k >= k_max:
                break
            k = max(k + 1, int(k * 1.1))
        if err > target:
            results[target] = {"reached": False, "time": None, "setting": f"max_iter={k}",
                               "error": err}
            continue
        med, n = median_time(lambda k=k: c.run(k), repeats, first=t1)
        results[target] = {"reached": True, "time": med, "runs": n,
                           "setting": f"max_iter={k}", "iterations": k, "error": err}
        log(f"  {c.name:55s} {target:.0e}: {med*1e3:9.1f} ms  (k={k}, err={err:.1e})")
    return results


def time_to_accuracy_settings(name, settings, F_star, repeats, log):
    """For solvers with discrete settings: run each once, keep the cheapest that reaches."""
    trials = []
    for label, fn in settings:
        t, H = timed(fn)
        err = (objective(D_, X_, H) - F_star) / F_star
        trials.append((label, fn, t, err))
        log(f"    {name} [{label}] {t*1e3:.1f} ms, err {err:.2e}")
        if err <= TARGETS[-1] * 0.5:
            break
    results = {}
    for target in TARGETS:
        ok = [tr for tr in trials if tr[3] <= target]
        if not ok:
            best = min(trials, key=lambda tr: tr[3])
            results[target] = {"reached": False, "time": None, "best_error": best[3],
                               "setting": best[0]}
            continue
        label, fn, t, err = min(ok, key=lambda tr: tr[2])
        med, n = median_time(fn, repeats, first=t)
        results[target] = {"reached": True, "time": med, "runs": n, "setting": label,
                           "error": err}
        log(f"  {name:55s} {target:.0e}: {med*1e3:9.1f} ms  ({label}, err={err:.1e})")
    return results


# ------------------------------------------------------------------------- machine


def matmul_rates(D, n_rows, repeats=10):
    """GFLOP/s of the products one FISTA iteration makes, at the given row counts."""
    rows = []
    rng = np.random.default_rng(1)
    n_features, n_atoms = D.shape
    for dt in ("float64", "float32"):
        Dd = D.astype(dt)
        G = Dd.T @ Dd
        for n in n_rows:
            H = rng.standard_normal((n, n_atoms)).astype(dt)
            A = rng.standard_normal((n, n_features)).astype(dt)
            out_a = np.empty((n, n_features), dt)
            out_h = np.empty((n, n_atoms), dt)
            for mode, fn, flops in (
                ("residual", lambda: (np.matmul(H, Dd.T, out=out_a),
                                      np.matmul(A, Dd, out=out_h)),
                 4.0 * n * n_features * n_atoms),
                ("gram", lambda: np.matmul(H, G, out=out_h), 2.0 * n * n_atoms * n_atoms),
            ):
                fn()
                times = [timed(fn)[0] for _ in range(repeats)]
                rows.append({"dtype": dt, "mode": mode, "rows": n,
                             "gflops": flops / float(np.median(times)) / 1e9})
    return rows


def iteration_fraction(D, X, rates, log, n_iter=30, repeats=7):
    """GFLOP/s one sparsecoding.fista iteration attains, as a fraction of matmul's.

    Two phases: the first iterations from zero, where most codes are nonzero and both
    products are dense (BLAS); and iterations once the codes are sparse (started from
    the codes of 150 iterations), where the image of the codes is computed from their
    nonzero entries. Flops are counted as for the dense products in both, so the
    second rate says how much faster than two dense products an iteration is.

    An iteration's time is that of a call with ``n_iter`` iterations less that of the
    same call with none (both with the Lipschitz constant given): what a call does once
    (the products ``X @ D``, the image of the starting codes, the final duality gap)
    is not counted as iteration. The shared machine's load changes from second to
    second, so the products' rate is measured again in every round, between the calls,
    and the fraction is the median over the rounds of the ratio within each round.
    ``rates`` (measured earlier in the run) is kept for the record only."""
    out = []
    n = X.shape[0]
    chunk = min(default_chunk_size(D, X), n)
    rng = np.random.default_rng(1)
    for dt in ("float64", "float32"):
        Dd, Xd = D.astype(dt), X.astype(dt)
        L = sc.lipschitz_constant(Dd)
        G = Dd.T @ Dd
        for mode in ("residual", "gram"):
            flops = (4.0 * n * D.shape[0] * D.shape[1] if mode == "residual"
                     else 2.0 * n * D.shape[1] ** 2)
            products = {}  # the products of one iteration, on a chunk and on the batch
            for rows in sorted({chunk, n}):
                H = rng.standard_normal((rows, D.shape[1])).astype(dt)
                A = rng.standard_normal((rows, D.shape[0])).astype(dt)
                oa, oh = np.empty_like(A), np.empty_like(H)
                fn = ((lambda H=H, A=A, oa=oa, oh=oh: (np.matmul(H, Dd.T, out=oa),
                                                      np.matmul(A, Dd, out=oh)))
                      if mode == "residual" else
                      (lambda H=H, oh=oh: np.matmul(H, G, out=oh)))
                products[rows] = (fn, flops * rows / n)
            warm = sc.fista(Dd, Xd, LAM, max_iter=150, tol=0.0, mode=mode,
                            lipschitz=L).codes
            density = float(np.mean(warm != 0))
            for phase, init in (("dense", None), ("sparse", warm)):
                def run(k, init=init, Dd=Dd, Xd=Xd, mode=mode):
                    return sc.fista(Dd, Xd, LAM, max_iter=k, tol=0.0, mode=mode,
                                    init=init, lipschitz=L)
                run(n_iter)  # compiled and warm
                per_iter, ref, whole = [], [], []
                for _ in range(repeats):
                    rate = {}
                    for rows, (fn, fl) in products.items():
                        fn()
                        rate[rows] = fl / float(np.median(
                            [timed(fn)[0] for _ in range(10)])) / 1e9
                    t_full, t_zero = timed(lambda: run(n_iter))[0], timed(lambda: run(0))[0]
                    per_iter.append(max(t_full - t_zero, 1e-9) / n_iter)
                    ref.append(max(rate.values()))  # the stricter: batch or chunk
                    whole.append(rate[n])
                gflops = [flops / t / 1e9 for t in per_iter]
                row = {"dtype": dt, "mode": mode, "phase": phase,
                       "code_density": 1.0 if init is None else density,
                       "ms_per_iteration": float(np.median(per_iter)) * 1e3,
                       "gflops": float(np.median(gflops)),
                       "matmul_gflops": float(np.median(ref)),
                       "fraction": float(np.median(np.divide(gflops, ref))),
                       "fraction_of_whole_batch_matmul": float(
                           np.median(np.divide(gflops, whole))),
                       "rounds": repeats, "load_average": list(os.getloadavg())}
                out.append(row)
                log(f"  fista {dt} {mode} {phase}: {row['ms_per_iteration']:.2f} "
                    f"ms/iteration, {row['gflops']:.1f} GFLOP/s = {row['fraction']:.0%} "
                    f"of matmul ({row['matmul_gflops']:.1f}), load "
                    f"{row['load_average'][0]:.1f}")
    return out


def default_chunk_size(D, X):
    """The chunk of signals sparsecoding's solvers use by default on NumPy arrays."""
    from sparsecoding import solvers

    if hasattr(solvers, "_default_chunk_size"):
        return int(solvers._default_chunk_size(D, X))
    per_signal = 8 * (D.shape[1] + D.shape[0]) * X.dtype.itemsize
    return max(1, solvers._CHUNK_BYTES // per_signal)


def machine_info():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    here = Path(sc.__file__).resolve()
    package = (str(here.relative_to(HERE.parent)) if HERE.parent in here.parents
               else "an installed copy")
    info = {"cpu": cpu, "logical_cpus": os.cpu_count(), "sparsecoding": package,
            "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "threads": ARGS.threads}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                        f"({p.get('num_threads')} threads)" for p in threadpool_info()]
    except ImportError:
        pass
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True,
                                        cwd=HERE).stdout.strip()
    except OSError:
        pass
    return info


# ------------------------------------------------------------------------- dictionary


def dictionary_learning(quick, log, repeats=3):
    """Time and objective of online dictionary learning, ours against scikit-learn's.

    Both learn 100 atoms from the same 20,000 8x8 patches (mean removed, not whitened,
    scaled to a mean squared norm of 1) with lam = 0.1 and mini-batches of 256; the
    objective of a dictionary is the mean lasso objective of all patches with exact
    codes (sparsecoding.homotopy). The comparison that matters: the time each takes to
    reach the objective of scikit-learn's best run of one epoch. scikit-learn's fit
    runs whole epochs (its ``max_iter``); ``learn_dictionary`` also stops after a
    number of mini-batches (``steps``), so it is measured after a quarter, a half and
    three quarters of an epoch too. Times are medians of ``repeats`` runs (one for
    scikit-learn's slow LARS coder).
    """
    from sparsecoding.data import load_image_patches

    n = 2000 if quick else 20000
    X = np.asarray(load_image_patches(8, n, seed=0), dtype=np.float64)
    X = X / np.sqrt(np.mean(np.sum(X * X, axis=1)))  # mean squared norm 1
    lam, n_atoms, batch = 0.1, 100, 256
    per_epoch = -(-n // batch)

    def score(D):
        H = sc.homotopy(np.asarray(D, dtype=np.float64), X, lam).codes
        return objective(np.asarray(D, dtype=np.float64), X, H, lam) / len(X)

    def run_timed(fn, k):
        t, res = timed(fn)
        med, runs = median_time(fn, k, first=t, budget=30.0)
        return med, runs, res

    out = {"n_signals": n, "n_atoms": n_atoms, "lam": lam, "batch_size": batch,
           "repeats": repeats, "runs": []}
    sc.learn_dictionary(X[:300], n_atoms, lam, epochs=1, progress=False)  # compile
    for fit_algorithm in ("lars", "cd"):
        for epochs in (1,) if quick or fit_algorithm == "lars" else (1, 2):
            def fit(e=epochs, a=fit_algorithm):
                model = MiniBatchDictionaryLearning(
                    n_components=n_atoms, alpha=lam, batch_size=batch, max_iter=e,
                    random_state=0, tol=0.0, max_no_improvement=None, fit_algorithm=a)
                return model.fit(X)
            t, runs, model = run_timed(fit, 1 if fit_algorithm == "lars" or quick
                                       else repeats)
            f = score(model.components_.T)
            out["runs"].append({"library": "sklearn MiniBatchDictionaryLearning",
                                "setting": f"fit_algorithm={fit_algorithm}",
                                "epochs": epochs, "steps": epochs * per_epoch,
                                "time": t, "timed_runs": runs, "objective": f})
            log(f"  MiniBatchDictionaryLearning {fit_algorithm} {epochs} epochs: "
                f"{t:.2f} s, objective {f:.5f}")
    fractions = (1.0,) if quick else (0.25, 0.5, 0.75, 1.0, 2.0, 3.0, 4.0)
    for init in ("random", "data"):
        for frac in fractions:
            steps = max(1, round(frac * per_epoch))
            t, runs, res = run_timed(lambda s=steps, i=init: sc.learn_dictionary(
                X, n_atoms, lam, steps=s, batch_size=batch, progress=False, seed=0,
                init=i), 1 if quick else repeats)
            f = score(res.D)
            out["runs"].append({"library": "sparsecoding.learn_dictionary",
                                "setting": f"init={init}, coder=homotopy",
                                "epochs": steps / per_epoch, "steps": steps, "time": t,
                                "timed_runs": runs, "objective": f})
            log(f"  learn_dictionary init={init} {steps / per_epoch:.2f} epochs "
                f"({steps} batches): {t:.2f} s, objective {f:.5f}")
    sk = [r for r in out["runs"] if r["library"].startswith("sklearn")]
    best_one = min((r for r in sk if r["epochs"] == 1), key=lambda r: r["objective"])
    target = best_one["objective"]
    summary = {"target_objective": target, "target_run": best_one["setting"]}
    for lib, setting in sorted({(r["library"], r["setting"]) for r in out["runs"]}):
        ok = [r for r in out["runs"] if r["library"] == lib and r["setting"] == setting
              and r["objective"] <= target * (1 + 1e-4)]
        summary[f"{lib} [{setting}]"] = min((r["time"] for r in ok), default=None)
    out["time_to_target"] = summary
    log(f"  time to reach {target:.5f}: {summary}")
    return out


# ------------------------------------------------------------------------- main


def main_grid():
    sys.path.insert(0, str(HERE))
    import grid

    out = Path(ARGS.out) if ARGS.out else HERE / "results" / (
        "grid.json" if ARGS.grid_methods == "front" else "grid_all.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    info = machine_info()

    def save(result):
        result["machine"] = info
        out.write_text(json.dumps(result, indent=1, default=float))

    save(grid.run_grid(ARGS.grid_methods, ARGS.scale, ARGS.threads,
                       rounds=3 if ARGS.quick else (ARGS.repeats or 11),
                       only=["benchmark"] if ARGS.quick else None, partial=save))
    print(f"wrote {out}")


def main_dictionary_spams():
    sys.path.insert(0, str(HERE))
    import dictionary_spams

    out = Path(ARGS.out) if ARGS.out else HERE / "results" / "dictionary_spams.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    info = machine_info()

    def save(result):
        result["machine"] = info
        out.write_text(json.dumps(result, indent=1, default=float))

    save(dictionary_spams.run(ARGS.scale, ARGS.threads, quick=ARGS.quick,
                              sizes=ARGS.patch_sizes, partial=save,
                              short=ARGS.short))
    print(f"wrote {out}")


def main():
    if ARGS.grid:
        return main_grid()
    if ARGS.dictionary_vs_spams:
        return main_dictionary_spams()
    quick = ARGS.quick
    n_signals = ARGS.n_signals or (300 if quick else 10000)
    repeats = ARGS.repeats or (1 if quick else 5)
    k_max = 3200 if quick else 12800
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    load_start = os.getloadavg()
    wall0 = time.perf_counter()
    log(f"{n_signals} signals, {ARGS.threads} threads, load average {load_start}")
    global D_, X_
    D, X = make_problem(n_signals)
    D_, X_ = D, X
    # load the compiled kernels (Numba caches them on disk) before anything is timed
    sc.homotopy(D, X[:10], LAM)
    sc.fista(D, X[:10], LAM, max_iter=2)
    sc.fista(D.astype(np.float32), X[:10].astype(np.float32), LAM, max_iter=2)

    # Reference: a very long sparsecoding.fista run, cross-checked by an exact solver.
    t, ref = timed(lambda: sc.fista(D, X, LAM, max_iter=20000, tol=1e-13, restart="gradient"))
    F_fista = objective(D, X, ref.codes)
    H_lars = sparse_encode(X, D.T, algorithm="lasso_lars", alpha=LAM)
    F_lars = objective(D, X, H_lars)
    F_star = min(F_fista, F_lars)
    reference = {"objective": F_star, "fista_objective": F_fista, "fista_iterations":
                 ref.n_iter, "fista_converged": bool(ref.converged),
                 "sklearn_lasso_lars_objective": F_lars,
                 "relative_difference": abs(F_fista - F_lars) / F_star,
                 "mean_nonzeros": float(np.mean(np.sum(ref.codes != 0, axis=1)))}
    log(f"reference F* = {F_star:.10f} (fista {F_fista:.10f} in {ref.n_iter} it, "
        f"lasso_lars {F_lars:.10f}, rel diff {reference['relative_difference']:.1e})")

    # The alpha convention of sparse_encode: verified, not assumed.
    H_cd = sparse_encode(X[:50], D.T, algorithm="lasso_cd", alpha=LAM, max_iter=5000)
    alpha_check = {
        "lasso_cd_alpha_lam_vs_reference": (objective(D, X[:50], H_cd)
                                            - objective(D, X[:50], ref.codes[:50]))
        / objective(D, X[:50], ref.codes[:50]),
        "lasso_lars_alpha_lam_vs_reference": (F_lars - F_fista) / F_fista,
    }
    log(f"alpha check: {alpha_check}")

    rows = []

    def add(name, library, dtype, res, note=""):
        rows.append({"name": name, "library": library, "dtype": dtype, "note": note,
                     **{f"{t:.0e}": res[t] for t in TARGETS}})

    log("sparsecoding")
    for c in sparsecoding_contenders(D, X, ARGS.device):
        add(c.name, c.library, c.dtype,
            time_to_accuracy_iterative(c, F_star, repeats, k_max, log))

    if ARGS.device == "cpu":
        # the fifteen-line NumPy FISTA: same iterates as fista(gram), no history
        base = Iterative("numpy FISTA (15 lines, gram)", "numpy", "float64",
                         lambda k: numpy_fista(D, X, LAM, k))
        fista_rows = {r["name"]: r for r in rows}
        guess = fista_rows.get("sparsecoding.fista float64 gram", {})
        base.k_guess = {t: (guess.get(f"{t:.0e}") or {}).get("iterations") for t in TARGETS}
        add(base.name, "numpy", "float64",
            time_to_accuracy_iterative(base, F_star, repeats, k_max, log))

        if hasattr(sc, "homotopy"):
            log("homotopy")
            res = time_to_accuracy_settings(
                "sparsecoding.homotopy", [("exact", lambda: sc.homotopy(D, X, LAM).codes)],
                F_star, repeats, log)
            add("sparsecoding.homotopy (exact path)", "sparsecoding", "float64", res)

        # splitting methods: coordinate descent (a sweep per iteration) and ADMM
        if hasattr(sc, "coordinate_descent"):
            log("coordinate descent and ADMM")
            for c in splitting_contenders(D, X):
                add(c.name, c.library, c.dtype,
                    time_to_accuracy_iterative(c, F_star, repeats, k_max, log))

        log("scikit-learn")
        G = D.T @ D
        for n_jobs in (1,):  # n_jobs=2 (joblib processes) measured slower on 2 cores
            res = time_to_accuracy_settings(
                f"sparse_encode lasso_lars n_jobs={n_jobs}",
                [("exact", lambda n_jobs=n_jobs: sparse_encode(
                    X, D.T, algorithm="lasso_lars", alpha=LAM, n_jobs=n_jobs))],
                F_star, repeats, log)
            add(f"sklearn sparse_encode lasso_lars n_jobs={n_jobs}", "scikit-learn",
                "float64", res)
            res = time_to_accuracy_settings(
                f"sparse_encode lasso_cd n_jobs={n_jobs}",
                [(f"max_iter={m}", lambda m=m, n_jobs=n_jobs: sparse_encode(
                    X, D.T, algorithm="lasso_cd", alpha=LAM, max_iter=m, n_jobs=n_jobs))
                 for m in (2, 5, 10, 20, 50, 1000)],
                F_star, repeats, log)
            add(f"sklearn sparse_encode lasso_cd n_jobs={n_jobs}", "scikit-learn",
                "float64", res, note="tol fixed at 1e-4 inside sparse_encode")

        def sk_lasso(tol):
            model = Lasso(alpha=LAM / D.shape[0], fit_intercept=False, precompute=G,
                          tol=tol, max_iter=100000)
            return model.fit(D, X.T).coef_

        res = time_to_accuracy_settings(
            "sklearn Lasso (Gram, tol sweep)",
            [(f"tol={tol:g}", lambda tol=tol: sk_lasso(tol))
             for tol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10)],
            F_star, repeats, log)
        add("sklearn Lasso (coordinate descent, Gram, tol sweep)", "scikit-learn",
            "float64", res)

        log("SPAMS")
        try:
            import spams

            Xf = np.asfortranarray(X.T)
            Df = np.asfortranarray(D)
            res = time_to_accuracy_settings(
                "spams.lasso mode=2", [("exact (LARS)", lambda: spams.lasso(
                    Xf, D=Df, lambda1=LAM, mode=2, numThreads=ARGS.threads).T)],
                F_star, repeats, log)
            add("SPAMS lasso (mode=2, LARS)", "spams", "float64", res)
            spams_note = "spams-bin installed and measured"
        except Exception as exc:  # ImportError or a broken binary
            spams_note = f"SPAMS not measured: {type(exc).__name__}: {exc}"
            log(spams_note)
    else:
        spams_note = "CPU contenders not run with --device cuda"

    log("matrix-multiply rate")
    chunk = default_chunk_size(D, X)
    rates = matmul_rates(D, sorted({n_signals, min(chunk, n_signals)}))
    for r in rates:
        log(f"  matmul {r['dtype']} {r['mode']} rows={r['rows']}: {r['gflops']:.1f} GFLOP/s")
    fraction = iteration_fraction(D, X, rates, log) if ARGS.device == "cpu" else []

    dictionary = {"skipped": "--no-dictionary"}
    if not ARGS.no_dictionary and ARGS.device == "cpu":
        log("dictionary learning")
        dictionary = dictionary_learning(quick, log)

    result = {
        "problem": {"n_signals": n_signals, "n_features": 64, "n_atoms": 256,
                    "sparsity": 5, "noise_std": 0.01, "lam": LAM, "seed": 0,
                    "targets": list(TARGETS)},
        "settings": {"quick": quick, "repeats": repeats, "threads": ARGS.threads,
                     "device": ARGS.device, "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
                     "sparsecoding_chunk_size": chunk},
        "machine": machine_info(),
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "wall_seconds": time.perf_counter() - wall0,
        "reference": reference,
        "alpha_check": alpha_check,
        "spams": spams_note,
        "results": rows,
        "matmul": rates,
        "iteration_fraction": fraction,
        "dictionary_learning": dictionary,
        "log": lines,
    }
    out = Path(ARGS.out) if ARGS.out else HERE / "results" / (
        "quick.json" if quick else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out}")


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["results"] if any(r[f"{t:.0e}"]["reached"] for t in TARGETS)]
    rows.sort(key=lambda r: r["1e-06"]["time"] if r["1e-06"]["reached"] else 1e9)
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5), dpi=100)
    y = np.arange(len(rows))
    for off, t, color in ((-0.2, 1e-3, "tab:blue"), (0.2, 1e-6, "tab:orange")):
        vals = [r[f"{t:.0e}"]["time"] if r[f"{t:.0e}"]["reached"] else np.nan for r in rows]
        ax.barh(y + off, vals, height=0.4, color=color, label=f"relative error {t:.0e}")
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("median time to accuracy (s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, facecolor="white")
    plt.close(fig)


if __name__ == "__main__":
    main()
