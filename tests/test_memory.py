"""Coding many signals takes memory for the results and for the chunks in flight, not
a multiple of the batch: the results go into arrays allocated once, and float32
signals are never copied whole to float64.

The peak of NumPy's allocations is measured with ``tracemalloc`` (NumPy reports its
buffers to it) beyond the codes and the per-signal gaps that are returned, and
compared with the working set of the chunks (a bound that does not grow with the
number of signals). Memory, not time: nothing here is timed.
"""

import tracemalloc

import numpy as np
import sparsecoding as sc
from sparsecoding import _homotopy, _threads

N_SIGNALS, N_FEATURES, N_ATOMS = 20_000, 64, 256


def _problem():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((N_FEATURES, N_ATOMS)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((N_SIGNALS, N_ATOMS), np.float32)
    rows = np.arange(N_SIGNALS)[:, None]
    H[rows, rng.integers(0, N_ATOMS, (N_SIGNALS, 5))] = rng.standard_normal(
        (N_SIGNALS, 5))
    X = H @ D.T + np.float32(0.01) * rng.standard_normal(
        (N_SIGNALS, N_FEATURES)).astype(np.float32)
    return D, X


def _extra_peak(run):
    """Peak of traced allocations during ``run()``, less what the result holds."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        res = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - res.codes.nbytes - np.asarray(res.gap).nbytes, res


def test_fista_memory_is_bounded_by_the_chunks():
    D, X = _problem()
    chunk = 256
    sc.fista(D, X[:10], 0.03, max_iter=2, tol=0)  # compile outside the measurement
    extra, res = _extra_peak(lambda: sc.fista(D, X, 0.03, max_iter=20, tol=0,
                                              chunk_size=chunk, mode="gram"))
    assert res.codes.dtype == np.float32 and res.codes.shape == (N_SIGNALS, N_ATOMS)
    # a chunk's working set: about 8 arrays of (chunk, n_atoms + n_features) float32
    working_set = 8 * chunk * (N_ATOMS + N_FEATURES) * 4
    in_flight = max(1, _threads.workers())
    fixed = 2 * N_ATOMS * N_ATOMS * 8  # the Gram matrix and the like
    assert extra <= 3 * in_flight * working_set + fixed, (extra, working_set)
    # and far below a copy of the codes, which the batch would cost
    assert extra < res.codes.nbytes / 4


def test_homotopy_memory_is_bounded_by_the_blocks(monkeypatch):
    D, X = _problem()
    block_bytes = 2**20
    monkeypatch.setattr(_homotopy, "_BLOCK_BYTES", block_bytes)
    sc.homotopy(D, X[:10], 0.03)  # compile outside the measurement
    extra, res = _extra_peak(lambda: sc.homotopy(D, X, 0.03))
    assert res.codes.dtype == np.float32 and res.converged
    # a block: its float64 signals and codes (block_bytes), a float32 copy of its
    # codes, and per-signal vectors that the result keeps (steps, lambda_max)
    per_signal_results = 2 * 8 * N_SIGNALS
    fixed = 2 * N_ATOMS * N_ATOMS * 8
    assert extra <= 3 * block_bytes + per_signal_results + fixed, extra
    assert extra < res.codes.nbytes / 4


def test_homotopy_blocks_give_the_codes_of_one_block(monkeypatch):
    """The blocks are an implementation detail: the codes, gaps, steps and the
    objective history are those of one block."""
    D, X = _problem()
    D, X = D.astype(np.float64), X[:3000].astype(np.float64)
    one = sc.homotopy(D, X, 0.05)
    monkeypatch.setattr(_homotopy, "_BLOCK_BYTES", 2**19)  # blocks of 256 signals
    many = sc.homotopy(D, X, 0.05)
    np.testing.assert_array_equal(many.codes, one.codes)
    np.testing.assert_array_equal(many.gap, one.gap)
    np.testing.assert_array_equal(many.n_steps, one.n_steps)
    np.testing.assert_allclose(many.objective, one.objective, rtol=1e-12)
