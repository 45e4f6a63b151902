"""Numba, when it is installed: compiled loops are optional speed-ups.

:func:`jit` compiles a function with Numba's ``njit`` when Numba can be imported and
returns it unchanged otherwise, so every kernel of the package is one function that
runs compiled or as plain Python. Callers that would be slow as plain Python loops
(the fused passes of the proximal-gradient engine) check :data:`HAVE_NUMBA` and use
the equivalent array expressions instead; the others (the homotopy walk, the column
sweep of dictionary learning) simply run uncompiled.

Kernels run on one thread and release the GIL (``nogil``): work is shared among cores
by :mod:`sparsecoding._threads`, never by a second pool of threads.
"""

from __future__ import annotations

try:  # pragma: no cover - depends on the environment
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None

#: Whether the kernels are compiled.
HAVE_NUMBA = _numba is not None

_DEFAULTS = dict(cache=True, nogil=True, error_model="numpy")


def jit(fn=None, **options):
    """``numba.njit`` with the package's defaults (cached, GIL released), or the
    function itself when Numba is not installed. Use as ``@jit`` or ``@jit(...)``."""
    def wrap(f):
        if _numba is None:
            return f
        return _numba.njit(**{**_DEFAULTS, **options})(f)

    return wrap if fn is None else wrap(fn)
