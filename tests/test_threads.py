"""No process-wide side effects: the solvers called from many Python threads at once.

Each result is checked against the same call made alone (and the lasso against
scikit-learn), and BLAS's thread limits are checked to be back where they were.
"""

import threading

import numpy as np
import pytest

import sparsecoding as sc
from sparsecoding import _threads
from sparsecoding.constrained import projected_gradient

threadpoolctl = pytest.importorskip("threadpoolctl")


def _problem(seed):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((16, 48))
    D /= np.linalg.norm(D, axis=0)
    return D, rng.standard_normal((300, 16))


CALLS = [
    lambda D, X: sc.fista(D, X, 0.1, tol=1e-8, chunk_size=40).codes,
    lambda D, X: sc.ista(D, X, 0.1, tol=1e-6, chunk_size=64, mode="residual").codes,
    lambda D, X: sc.fista(D, X, 0.1, tol=1e-8, restart="gradient", chunk_size=50).codes,
    lambda D, X: projected_gradient(D, X[:20], max_iter=200, tol=0.0).codes,
    lambda D, X: sc.learn_dictionary(X, 8, 0.3, epochs=1, batch_size=100, coder="fista",
                                     progress=False).D,
]


def test_solvers_from_many_threads_at_once():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _threads.blas_threads()
        if before < 2:
            pytest.skip("this BLAS cannot use two threads")
        jobs = [(i, CALLS[i % len(CALLS)], _problem(i)) for i in range(12)]
        alone = {i: call(D, X) for i, call, (D, X) in jobs}
        assert _threads.blas_threads() == before
        results, errors = {}, []
        barrier = threading.Barrier(len(jobs))

        def run(i, call, D, X):
            try:
                barrier.wait()
                results[i] = call(D, X)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i, call, D, X))
                   for i, call, (D, X) in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for i, _, _ in jobs:
            np.testing.assert_array_equal(results[i], alone[i])
        # the limits are back: no call left BLAS at one thread, no state is left set
        assert _threads.blas_threads() == before
        assert _threads._DEPTH == 0 and _threads._WORKERS is None
    assert _threads._LIMITER is None


def test_concurrent_results_are_correct():
    from sklearn.linear_model import Lasso

    D, X = _problem(0)
    X = X[:5]
    ref = np.array([Lasso(alpha=0.1 / 16, fit_intercept=False, tol=1e-12,
                          max_iter=100_000).fit(D, x).coef_ for x in X])
    out = [None] * 6

    def run(k):
        out[k] = sc.fista(D, X, 0.1, tol=1e-10, max_iter=50_000).codes

    threads = [threading.Thread(target=run, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for codes in out:
        np.testing.assert_allclose(codes, ref, atol=1e-6)
