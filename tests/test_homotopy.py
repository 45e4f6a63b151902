"""Tests of the homotopy (LARS-lasso) solver against scikit-learn and cvxpy."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Lasso, lars_path

import sparsecoding as sc
from sparsecoding import homotopy, homotopy_path


def _problem(n_features, n_atoms, n_signals=4, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((n_signals, n_features))
    return D, X


def _sklearn_lasso(D, x, lam):
    # scikit-learn's Lasso minimises 1/(2n) ||x - Dh||^2 + alpha ||h||_1: alpha = lam/n.
    model = Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-14,
                  max_iter=200_000)
    return model.fit(D, x).coef_


@pytest.mark.parametrize("shape", [(20, 30), (30, 10), (10, 40)])
@pytest.mark.parametrize("lam", [0.05, 0.3, 1.0])
def test_matches_sklearn_lasso(shape, lam):
    D, X = _problem(*shape)
    res = homotopy(D, X, lam)
    ref = np.array([_sklearn_lasso(D, x, lam) for x in X])
    assert res.converged
    np.testing.assert_allclose(res.codes, ref, atol=1e-8)
    R = X - ref @ D.T
    # one objective per step, from the zero code to the solution
    assert res.objective.shape == (res.n_iter + 1,)
    assert res.objective[0] == pytest.approx(0.5 * np.sum(X * X), rel=1e-12)
    assert res.objective[-1] == pytest.approx(
        0.5 * np.sum(R * R) + lam * np.abs(ref).sum(), rel=1e-10)
    assert res.n_iter == res.n_steps.max()


def test_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    D, X = _problem(12, 25, n_signals=2, seed=3)
    lam = 0.2
    res = homotopy(D, X, lam)
    for x, h in zip(X, res.codes):
        v = cp.Variable(D.shape[1])
        cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ v) + lam * cp.norm1(v))).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        np.testing.assert_allclose(h, v.value, atol=1e-7)


def test_path_matches_lars_path():
    D, X = _problem(15, 8, seed=1)
    x = X[0]
    path = homotopy_path(D, x)
    # lars_path's alphas are lam / n_samples in the same 1/(2n) convention.
    alphas, _, coefs = lars_path(D, x, method="lasso", alpha_min=0.0)
    np.testing.assert_allclose(path.lambdas, alphas * D.shape[0], atol=1e-10)
    np.testing.assert_allclose(path.codes, coefs.T, atol=1e-9)
    assert path.n_steps == len(path.events) == len(path.lambdas) - 1
    assert path.events[0][0] == "add"


def test_optimality_conditions_on_path():
    D, X = _problem(10, 20, seed=2)
    path = homotopy_path(D, X[1], lam=0.1)
    for lam, h in zip(path.lambdas, path.codes):
        c = D.T @ (X[1] - D @ h)
        assert np.all(np.abs(c) <= lam + 1e-9)
        on = h != 0
        np.testing.assert_allclose(c[on], lam * np.sign(h[on]), atol=1e-9)


def test_above_lambda_max_gives_zero():
    D, X = _problem(10, 15)
    lam_max = np.abs(X @ D).max(axis=1)
    res = homotopy(D, X, float(lam_max.max()))
    assert np.all(res.codes == 0)
    assert np.all(res.n_steps == 0)
    assert res.converged
    np.testing.assert_allclose(res.lambda_max, lam_max)


def test_single_signal_and_more_features_than_atoms():
    D, X = _problem(40, 6)
    res = homotopy(D, X[0], 0.01)
    assert res.codes.shape == (6,)
    np.testing.assert_allclose(res.codes, _sklearn_lasso(D, X[0], 0.01), atol=1e-8)
    # lam = 0 with full column rank is least squares.
    res0 = homotopy(D, X[0], 0.0)
    np.testing.assert_allclose(res0.codes, np.linalg.lstsq(D, X[0], rcond=None)[0],
                               atol=1e-9)


def test_max_steps_stops_early():
    D, X = _problem(20, 30)
    res = homotopy(D, X, 0.01, max_steps=2)
    assert not res.converged
    assert res.n_iter == 2


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    D, X = _problem(10, 20)
    res = homotopy(torch.tensor(D, dtype=torch.float32), torch.tensor(X, dtype=torch.float32), 0.2)
    assert isinstance(res.codes, torch.Tensor) and res.codes.dtype == torch.float32
    np.testing.assert_allclose(res.codes.numpy(), homotopy(D, X, 0.2).codes, atol=1e-5)


def test_bad_inputs():
    D, X = _problem(10, 20)
    with pytest.raises(ValueError, match="lam"):
        homotopy(D, X, -1.0)
    with pytest.raises(ValueError, match="max_steps"):
        homotopy(D, X, 0.1, max_steps=0)
    with pytest.raises(ValueError, match="max_steps"):  # refused before allocating
        homotopy(D, X, 0.1, max_steps=10**12)
    with pytest.raises(ValueError, match="X"):
        homotopy(D, X[:, :5], 0.1)
    with pytest.raises(ValueError, match="x"):
        homotopy_path(D, X, 0.1)


# --- the compiled walk (sparsecoding._lars) against the same function uncompiled


@pytest.mark.parametrize("shape", [(64, 256), (20, 30), (30, 10)])
@pytest.mark.parametrize("lam", [0.01, 0.1, 0.5])
def test_compiled_walk_equals_the_uncompiled_walk(shape, lam):
    """Numba compiles the one walk faithfully: same steps and codes as plain Python."""
    from sparsecoding import _lars

    if not _lars.HAVE_NUMBA:
        pytest.skip("Numba is not installed: only the uncompiled walk exists")
    D, X = _problem(*shape, n_signals=12, seed=7)
    res = homotopy(D, X, lam)
    G = D.T @ D
    p, kcap = D.shape[1], min(D.shape)
    n_drops = 0
    for i, x in enumerate(X):
        b = D.T @ x
        h, c, a, gbuf = np.zeros(p), np.empty(p), np.empty(p), np.empty(p)
        d, rhs, w, sgn = (np.empty(kcap) for _ in range(4))
        idx = np.empty(kcap, np.int64)
        events = np.zeros(10_002, np.int64)
        steps, status, lam_max, k = _lars.walk.py_func(
            G, b, lam, 10_000, 0.5 * x @ x, h, c, a, d, rhs, w, np.empty(kcap), idx,
            sgn, np.zeros(p), gbuf, np.zeros((kcap, kcap + 1)), np.empty(10_001),
            np.empty(10_001), np.empty((10_001, p)), events, D, x,
            np.empty(D.shape[0]), False)
        assert status == _lars.DONE
        assert res.n_steps[i] == steps
        assert res.lambda_max[i] == pytest.approx(lam_max, rel=1e-14)
        np.testing.assert_allclose(res.codes[i], h, atol=1e-10)
        n_drops += int(np.sum(events[1:steps + 1] < 0))
    assert res.converged
    if shape == (64, 256) and lam == 0.01:
        assert n_drops > 0  # the comparison covers atoms leaving the active set


def test_many_signals_match_lasso_lars():
    from sklearn.decomposition import sparse_encode

    D, _ = _problem(64, 256)
    rng = np.random.default_rng(2)
    H0 = np.zeros((500, 256))
    cols = np.argsort(rng.random((500, 256)), axis=1)[:, :5]
    np.put_along_axis(H0, cols, rng.standard_normal((500, 5)), axis=1)
    X = H0 @ D.T + 0.01 * rng.standard_normal((500, 64))
    lam = 0.03
    res = homotopy(D, X, lam)
    ref = sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam)

    def per_signal(H):
        R = X - H @ D.T
        return 0.5 * np.sum(R * R, axis=1) + lam * np.abs(H).sum(axis=1)

    # never worse than scikit-learn's LARS, and the optimality conditions hold to
    # rounding (lasso_lars itself misses them by up to ~1e-5 on a few signals)
    assert np.all(per_signal(res.codes) <= per_signal(ref) * (1 + 1e-12))
    G = (X - res.codes @ D.T) @ D
    on = res.codes != 0
    assert np.abs(G[on] - lam * np.sign(res.codes[on])).max() < 1e-10
    assert np.abs(G[~on]).max() <= lam * (1 + 1e-10)
    assert np.mean(np.all(np.abs(res.codes - ref) < 1e-8, axis=1)) > 0.95


def test_dependent_atoms_still_give_the_optimum():
    """A duplicated atom makes the active Gram matrix singular: still the lasso optimum."""
    D, X = _problem(10, 12, n_signals=6, seed=4)
    D = np.concatenate([D, D[:, :3]], axis=1)  # atoms 12-14 repeat atoms 0-2
    lam = 0.05
    res = homotopy(D, X, lam)
    for x, h in zip(X, res.codes):
        ref = _sklearn_lasso(D, x, lam)
        f = lambda c: 0.5 * np.sum((x - D @ c) ** 2) + lam * np.abs(c).sum()  # noqa: E731
        assert f(h) == pytest.approx(f(ref), rel=1e-9, abs=1e-12)
    assert res.converged


def test_lam_zero_with_more_atoms_than_features_interpolates():
    D, X = _problem(8, 20, n_signals=5, seed=5)
    res = homotopy(D, X, 0.0)
    assert res.converged
    np.testing.assert_allclose(res.codes @ D.T, X, atol=1e-8)



def test_blocks_of_signals_on_two_cores_give_the_same_codes():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(2)
    D = rng.standard_normal((16, 40))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((700, 16))
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = homotopy(D, X, 0.2)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        two = homotopy(D, X, 0.2)
    np.testing.assert_array_equal(two.codes, one.codes)
    np.testing.assert_array_equal(two.n_steps, one.n_steps)
    # the per-step objectives are summed block by block: equal up to the order of sums
    np.testing.assert_allclose(two.objective, one.objective, rtol=1e-13)


def test_the_same_walk_runs_without_numba():
    """Numba is optional: with it unimportable, the same walk runs as plain Python."""
    import subprocess
    import sys

    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("numba blocked")
sys.meta_path.insert(0, Block())
import numpy as np
from sparsecoding import _lars
from sparsecoding import homotopy
assert not _lars.HAVE_NUMBA
rng = np.random.default_rng(0)
D = rng.standard_normal((10, 15)); D /= np.linalg.norm(D, axis=0)
X = rng.standard_normal((5, 10))
res = homotopy(D, X, 0.1)
np.save(sys.argv[1], res.codes)
print(res.converged)
"""
    out = Path(tempfile.mkdtemp()) / "codes.npy"
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"
    rng = np.random.default_rng(0)
    D = rng.standard_normal((10, 15))
    D /= np.linalg.norm(D, axis=0)
    X = rng.standard_normal((5, 10))
    np.testing.assert_allclose(np.load(out), homotopy(D, X, 0.1).codes, atol=1e-12)


def test_typed_result_fields_also_by_name_in_extra():
    """The homotopy's details are attributes of its result; ``extra`` holds the same
    values by name for code written before."""
    rng = np.random.default_rng(0)
    D = rng.standard_normal((10, 15))
    D /= np.linalg.norm(D, axis=0)
    res = homotopy(D, rng.standard_normal((4, 10)), 0.1)
    assert isinstance(res, sc.HomotopyResult) and isinstance(res, sc.SolverResult)
    assert res.n_steps.shape == (4,) and res.n_iter == res.n_steps.max()
    for name in ("n_steps", "lambda_max", "n_finished_by_fista", "n_degenerate"):
        assert res.extra[name] is getattr(res, name)


def test_the_function_is_public_and_the_module_private():
    import importlib

    assert callable(sc.homotopy) and sc.homotopy.__module__ == "sparsecoding._homotopy"
    assert importlib.import_module("sparsecoding._homotopy").homotopy is sc.homotopy
    assert sc.homotopy_path is importlib.import_module("sparsecoding._homotopy").homotopy_path
