"""What the first homotopy call of a fresh process costs, and where it goes.

Each repetition starts a new Python process that imports sparsecoding, then times:
importing Numba (what the first compiled call needs first), the first call of
``sparsecoding.homotopy`` on the benchmark problem (64 x 256, 10,000 signals,
lam = 0.03; the compiled kernels are loaded from Numba's on-disk cache, not compiled),
and a second call (warm). A warm-up process first makes sure the cache exists.

    python benchmarks/cold_start.py      # writes results/cold_start.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, {src!r}); sys.path.insert(0, {here!r})
import sparsecoding as sc
t1 = time.perf_counter()
from grid import make_regime, REGIMES
D, X, lam, _ = make_regime(REGIMES[0], "full")
t2 = time.perf_counter()
import numba  # what the first compiled call imports
t3 = time.perf_counter()
sc.homotopy(D, X, lam)
t4 = time.perf_counter()
sc.homotopy(D, X, lam)
t5 = time.perf_counter()
print(json.dumps({{"import_sparsecoding": t1 - t0, "import_numba": t3 - t2,
                  "first_call_after_numba": t4 - t3, "second_call": t5 - t4}}))
"""

# The same first call, split: Numba's compiler context (the registries of its NumPy
# support, set up once per process before any kernel, even a cached one, can be
# loaded), the array API wrapper of NumPy, and what is left of the first call.
SPLIT = r"""
import sys, time, json
import numpy as np
sys.path.insert(0, {src!r}); sys.path.insert(0, {here!r})
import sparsecoding as sc
from grid import make_regime, REGIMES
D, X, lam, _ = make_regime(REGIMES[0], "full")
import numba
t0 = time.perf_counter()
from numba.core.registry import cpu_target
cpu_target.target_context.refresh(); cpu_target.typing_context.refresh()
t1 = time.perf_counter()
import array_api_compat.numpy
t2 = time.perf_counter()
sc.homotopy(D, X, lam)
t3 = time.perf_counter()
print(json.dumps({{"numba_context": t1 - t0, "array_api_compat_numpy": t2 - t1,
                  "first_call_rest": t3 - t2}}))
"""


def run(repeats=3, threads=2):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    code = CHILD.format(src=str(HERE.parent / "src"), here=str(HERE))
    subprocess.run([sys.executable, "-c", code], env=env, check=True,
                   capture_output=True)  # fills the cache if it is missing
    split = SPLIT.format(src=str(HERE.parent / "src"), here=str(HERE))
    rows = []
    for _ in range(repeats):
        row = {}
        for child in (code, split):
            out = subprocess.run([sys.executable, "-c", child], env=env, check=True,
                                 capture_output=True, text=True).stdout
            row.update(json.loads(out.strip().splitlines()[-1]))
        row["load"] = os.getloadavg()[0]
        rows.append(row)
        print(row, flush=True)
    med = {k: sorted(r[k] for r in rows)[len(rows) // 2] for k in rows[0]}
    med["first_over_warm"] = ((med["import_numba"] + med["first_call_after_numba"])
                              / med["second_call"])
    return {"repeats": rows, "median": med, "threads": threads,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


if __name__ == "__main__":
    result = run()
    print(result["median"])
    out = HERE / "results" / "cold_start.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
