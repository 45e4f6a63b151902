"""How the compiled kernels use the cores: Python threads, never a second thread pool.

The kernels (:mod:`sparsecoding._fused`, :mod:`sparsecoding._lars`,
:mod:`sparsecoding._bcd`) run on one thread each and release the GIL; work is shared
among cores by running independent pieces (chunks of signals) in Python threads. A
parallel Numba loop would start a second pool of threads whose workers, like BLAS's,
keep spinning for a while after each call; on a machine with few cores the two pools
then take turns on the cores (measured on 2 cores: FISTA 30 times slower, an epoch of
dictionary learning 3 times slower). A parallel Numba function is also compiled
without threads when Numba is set to one thread, and its cached copy stays so.

The number of threads is the number BLAS is set to use (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS``, else one per core), so one setting
controls both; while the pieces run, BLAS uses one thread in each.
"""

from __future__ import annotations

import contextlib
import functools
import threading


@functools.lru_cache(maxsize=1)
def _controller():
    """threadpoolctl's view of the BLAS libraries loaded (None without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency
        return None
    return ThreadpoolController()


def blas_threads():
    """How many threads BLAS is set to use now (1 if unknown)."""
    controller = _controller()
    if controller is None:  # pragma: no cover
        return 1
    libs = controller.select(user_api="blas").lib_controllers
    return max([1] + [lib.num_threads for lib in libs])


# Process-wide state, changed only under the lock. While at least one call is inside
# kernels_own_the_cores (from any Python thread), BLAS is limited to one thread and
# _WORKERS holds the number of threads it had before the first of them entered; the
# last one out restores BLAS's limits, so that concurrent calls cannot leave it at one.
_LOCK = threading.Lock()
_DEPTH = 0
_WORKERS = None
_LIMITER = None
_POOL = None  # threads kept for the next call (they wait, they do not spin)
_PREFIX = "sparsecoding-worker"


@contextlib.contextmanager
def kernels_own_the_cores():
    """Context in which BLAS uses one thread and :func:`map_on_cores` keeps the number
    of workers BLAS had on entry (also in nested and concurrent calls). For loops that
    alternate small products with compiled kernels, such as mini-batch dictionary
    learning: threaded BLAS gains nothing on small products and its spinning threads
    slow the kernels. BLAS's limits are restored when the last such context exits."""
    global _DEPTH, _WORKERS, _LIMITER
    with _LOCK:
        if _DEPTH == 0:
            _WORKERS = blas_threads()
            controller = _controller()
            _LIMITER = (None if controller is None
                        else controller.limit(limits=1, user_api="blas"))
        _DEPTH += 1
        workers = _WORKERS
    try:
        yield workers
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                if _LIMITER is not None:
                    _LIMITER.restore_original_limits()
                _LIMITER = _WORKERS = None


def workers():
    """How many threads :func:`map_on_cores` uses."""
    saved = _WORKERS
    return saved if saved is not None else blas_threads()


def _pool(n):
    """The shared pool, with at least ``n`` threads (call with the lock held)."""
    global _POOL
    if _POOL is None or _POOL._max_workers < n:
        from concurrent.futures import ThreadPoolExecutor

        if _POOL is not None:  # work already submitted to it still runs
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix=_PREFIX)
    return _POOL


def map_on_cores(fn, items, n_workers=None):
    """``[fn(item) for item in items]``, the items shared among ``n_workers`` threads
    (default: :func:`workers`), each with single-threaded BLAS; in turn with one worker
    or one item. The results are the same either way when the items are independent.
    Safe to call from several Python threads at once (they share one pool)."""
    items = list(items)
    if n_workers is None:
        n_workers = workers()
    n_workers = min(n_workers, len(items))
    if n_workers <= 1 or threading.current_thread().name.startswith(_PREFIX):
        # one worker, or called from a worker (waiting on the pool could deadlock)
        return [fn(item) for item in items]
    with kernels_own_the_cores():
        with _LOCK:  # no other thread replaces the pool between these submissions
            pool = _pool(n_workers)
            futures = [pool.submit(fn, item) for item in items]
        return [f.result() for f in futures]
