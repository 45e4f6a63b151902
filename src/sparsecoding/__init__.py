"""sparsecoding: the algorithms of the course *Sparse coding, from first principles*.

Shapes follow scikit-learn and PyTorch (one signal per row) while the dictionary keeps
the mathematical convention x ≈ D h: signals ``X`` are ``(n_signals, n_features)``, a
dictionary ``D`` is ``(n_features, n_atoms)`` with one atom per column, codes ``H`` are
``(n_signals, n_atoms)``, so that ``X ≈ H @ D.T``.

The lasso solvers (``ista``, ``fista``, ``continuation_ista``, ``homotopy``), the
greedy solvers (``matching_pursuit``, ``omp``, ``iht``, ``cosamp``,
``subspace_pursuit``), the proximal operators and ``learn_dictionary`` are available at the top level; the other modules (``codes``, ``bases``, ``data``, ``gabor``,
``nn``, ...) are imported by name. Importing the package does not import torch; the
modules that need it (``nn``, ``training``) import it themselves.
"""

from .prox import (
    hard_threshold,
    project_simplex,
    sigshrink,
    soft_threshold,
    sparsemax,
    sparsemax_jacobian,
)
from .dictionary import learn_dictionary, normalize_columns
from .duality import duality_gap, gap_safe_screen, kkt_violation
from .greedy import cosamp, iht, matching_pursuit, omp, subspace_pursuit
from ._homotopy import HomotopyPath, HomotopyResult, homotopy, homotopy_path
from .splitting import admm, coordinate_descent
from .solvers import (
    SolverResult,
    continuation_ista,
    fista,
    ista,
    lambda_max,
    lasso_path,
    lasso_objective,
    lipschitz_constant,
    ridge,
)

__version__ = "0.1.0"

__all__ = [
    "HomotopyPath",
    "HomotopyResult",
    "SolverResult",
    "admm",
    "continuation_ista",
    "coordinate_descent",
    "cosamp",
    "duality_gap",
    "gap_safe_screen",
    "fista",
    "hard_threshold",
    "homotopy",
    "homotopy_path",
    "iht",
    "ista",
    "kkt_violation",
    "lambda_max",
    "lasso_path",
    "learn_dictionary",
    "lasso_objective",
    "lipschitz_constant",
    "matching_pursuit",
    "normalize_columns",
    "omp",
    "project_simplex",
    "ridge",
    "sigshrink",
    "soft_threshold",
    "sparsemax",
    "sparsemax_jacobian",
    "subspace_pursuit",
]
