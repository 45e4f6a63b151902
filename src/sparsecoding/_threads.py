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


_WORKERS = None  # while the kernels own the cores: how many threads they use
_POOL = None  # threads kept for the next call (they wait, they do not spin)
_PREFIX = "sparsecoding-worker"


@contextlib.contextmanager
def kernels_own_the_cores():
    """Context in which BLAS uses one thread and :func:`map_on_cores` keeps the number
    of workers BLAS had on entry (also in nested calls). For loops that alternate small
    products with compiled kernels, such as mini-batch dictionary learning: threaded
    BLAS gains nothing on small products and its spinning threads slow the kernels."""
    global _WORKERS
    saved = _WORKERS
    workers = blas_threads() if saved is None else saved
    controller = _controller()
    limit = (contextlib.nullcontext() if controller is None
             else controller.limit(limits=1, user_api="blas"))
    with limit:
        _WORKERS = workers
        try:
            yield workers
        finally:
            _WORKERS = saved


def workers():
    """How many threads :func:`map_on_cores` uses."""
    return _WORKERS if _WORKERS is not None else blas_threads()


def _pool(n):
    global _POOL
    if _POOL is None or _POOL._max_workers < n:
        from concurrent.futures import ThreadPoolExecutor

        if _POOL is not None:
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix=_PREFIX)
    return _POOL


def map_on_cores(fn, items, n_workers=None):
    """``[fn(item) for item in items]``, the items shared among ``n_workers`` threads
    (default: :func:`workers`), each with single-threaded BLAS; in turn with one worker
    or one item. The results are the same either way when the items are independent."""
    items = list(items)
    if n_workers is None:
        n_workers = workers()
    n_workers = min(n_workers, len(items))
    if n_workers <= 1 or threading.current_thread().name.startswith(_PREFIX):
        # one worker, or called from a worker (waiting on the pool could deadlock)
        return [fn(item) for item in items]
    with kernels_own_the_cores():
        pool = _pool(n_workers)
        futures = [pool.submit(fn, item) for item in items]
        return [f.result() for f in futures]
