"""pytest configuration shared by the package tests and the notebook tests (nbval).

Only the chapters listed in ``_toc.yml`` are tested: a notebook that is not part of the
book is a draft.
"""

import os
from pathlib import Path

# One thread per process: the test workers and notebook kernels share the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("SPARSECODING_SCALE", "small")
os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parent


def _toc_files():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.add(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


_TOC = None


def pytest_ignore_collect(collection_path, config):
    global _TOC
    path = Path(collection_path)
    if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
        return True
    if path.suffix == ".ipynb":
        if _TOC is None:
            _TOC = _toc_files()
        rel = path.resolve().relative_to(ROOT).with_suffix("").as_posix()
        return rel not in _TOC
    return None


def pytest_addoption(parser):
    parser.addoption(
        "--without-numba", action="store_true",
        help="make numba unimportable: the package's compiled kernels run as Python "
             "(tests/test_without_numba.py runs a subset this way)")


def pytest_configure(config):
    if config.getoption("--without-numba"):
        import sys

        if "numba" in sys.modules and sys.modules["numba"] is not None:
            raise RuntimeError("--without-numba: numba was imported before the tests")
        sys.modules["numba"] = None  # `import numba` now raises ImportError


# nbval waits 5 s at most for a cell's output messages once the cell has run (its
# ``output_timeout``, not an option): on a loaded two-core machine (the site build runs
# beside the notebooks) a long cell's last messages can take longer, and the cell then
# fails although it ran. The cell's own time limit stays ``--nbval-cell-timeout``.
NBVAL_OUTPUT_TIMEOUT = 60


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT
