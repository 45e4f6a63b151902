"""Numba, when it is installed: compiled loops are optional speed-ups.

:func:`jit` compiles a function with Numba's ``njit`` when Numba can be imported and
returns it unchanged otherwise, so every kernel of the package is one function that
runs compiled or as plain Python. Callers that would be slow as plain Python loops
(the fused passes of the proximal-gradient engine) check :func:`have_numba` and use
the equivalent array expressions instead; the others (the homotopy walk, the column
sweep of dictionary learning) simply run uncompiled.

Kernels run on one thread and release the GIL (``nogil``): work is shared among cores
by :mod:`sparsecoding._threads`, never by a second pool of threads.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def have_numba() -> bool:
    """Whether Numba can be imported (it is imported on the first call, not with the
    package: ``import sparsecoding`` stays light)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


_DEFAULTS = dict(cache=True, nogil=True, error_model="numpy")


def jit(fn=None, **options):
    """``numba.njit`` with the package's defaults (cached, GIL released), or the
    function itself when Numba is not installed. Use as ``@jit`` or ``@jit(...)``.
    The modules of kernels that use it are imported on first use."""
    def wrap(f):
        if not have_numba():
            return f
        import numba

        return numba.njit(**{**_DEFAULTS, **options})(f)

    return wrap if fn is None else wrap(fn)


def python_function(f):
    """The plain Python function behind a kernel (to run it on torch tensors)."""
    return getattr(f, "py_func", f)
