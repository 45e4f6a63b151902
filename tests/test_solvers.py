"""Lasso solvers against scikit-learn's Lasso and cvxpy (independent references)."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso, Ridge

import sparsecoding as sc

torch = pytest.importorskip("torch")
cp = pytest.importorskip("cvxpy")

SOLVERS = {
    "ista": lambda D, X, lam, **kw: sc.ista(D, X, lam, max_iter=50_000, **kw),
    "fista": lambda D, X, lam, **kw: sc.fista(D, X, lam, max_iter=20_000, **kw),
    "fista_restart": lambda D, X, lam, **kw: sc.fista(D, X, lam, max_iter=20_000,
                                                      restart="function", **kw),
    "fista_residual": lambda D, X, lam, **kw: sc.fista(D, X, lam, max_iter=20_000,
                                                       mode="residual", **kw),
    "continuation": lambda D, X, lam, **kw: sc.continuation_ista(
        D, X, lam, n_layers=20, max_iter=50_000, **kw),
}


def make_problem(n_features=20, n_atoms=40, n_signals=6, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_features, n_atoms))
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((n_signals, n_atoms))
    for row in H:
        idx = rng.choice(n_atoms, 3, replace=False)
        row[idx] = rng.standard_normal(3)
    X = H @ D.T + 0.05 * rng.standard_normal((n_signals, n_features))
    return D, X


def sklearn_lasso(D, X, lam):
    model = Lasso(alpha=lam / D.shape[0], fit_intercept=False, tol=1e-12,
                  max_iter=200_000)
    return np.array([model.fit(D, x).coef_ for x in np.atleast_2d(X)])


def cvxpy_lasso(D, x, lam):
    h = cp.Variable(D.shape[1])
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - D @ h) + lam * cp.norm1(h))).solve(
        solver=cp.CLARABEL)
    return h.value


def objective(D, X, H, lam):
    X, H = np.atleast_2d(X), np.atleast_2d(H)
    return 0.5 * np.sum((X - H @ D.T) ** 2) + lam * np.abs(H).sum()


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("shape", [(20, 40), (30, 12)])  # over- and under-complete
def test_matches_sklearn(name, shape):
    D, X = make_problem(*shape)
    lam = 0.1
    res = SOLVERS[name](D, X, lam, tol=1e-10)
    ref = objective(D, X, sklearn_lasso(D, X, lam), lam)
    got = objective(D, X, res.codes, lam)
    assert res.converged
    assert abs(got - ref) <= 1e-6 * abs(ref)
    # the recorded history ends at the objective of the returned codes
    assert np.isclose(res.objective[-1], got, rtol=1e-9)
    assert len(res.objective) == res.n_iter + 1


@pytest.mark.parametrize("name", ["ista", "fista"])
def test_matches_cvxpy(name):
    D, X = make_problem(15, 25, 3, seed=1)
    lam = 0.2
    res = SOLVERS[name](D, X, lam, tol=1e-10)
    for x, h in zip(X, res.codes):
        ref = cvxpy_lasso(D, x, lam)
        f_ref = objective(D, x, ref, lam)
        assert objective(D, x, h, lam) <= f_ref * (1 + 1e-6)


def test_ista_objective_is_monotone():
    D, X = make_problem()
    hist = sc.ista(D, X, 0.05, tol=1e-9).objective
    assert np.all(np.diff(hist) <= 1e-12 * hist[0])


def test_zero_code_at_and_above_lambda_max():
    D, X = make_problem()
    lam_max = sc.lambda_max(D, X)
    np.testing.assert_allclose(lam_max, np.max(np.abs(X @ D), axis=1))
    for solver in (sc.ista, sc.fista, sc.continuation_ista):
        res = solver(D, X[0], float(lam_max[0]))
        assert np.count_nonzero(res.codes) == 0 and res.converged
    below = sc.fista(D, X[0], 0.99 * float(lam_max[0]), tol=1e-10)
    assert np.count_nonzero(below.codes) >= 1


def test_single_signal_gives_1d_code():
    D, X = make_problem()
    res = sc.fista(D, X[0], 0.1, tol=1e-10)
    assert res.codes.shape == (D.shape[1],)
    ref = sklearn_lasso(D, X[0], 0.1)[0]
    assert abs(objective(D, X[0], res.codes, 0.1) - objective(D, X[0], ref, 0.1)) < 1e-8


def test_float32_inputs():
    D, X = make_problem()
    res = sc.fista(D.astype(np.float32), X.astype(np.float32), 0.1, tol=1e-5)
    assert res.codes.dtype == np.float32
    ref = objective(D, X, sklearn_lasso(D, X, 0.1), 0.1)
    assert abs(objective(D, X, res.codes.astype(np.float64), 0.1) - ref) <= 1e-4 * ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_torch_agrees_with_numpy(dtype, solver):
    D, X = make_problem()
    res_np = solver(D, X, 0.1, tol=1e-9)
    res_t = solver(torch.tensor(D, dtype=dtype), torch.tensor(X, dtype=dtype), 0.1,
                   tol=1e-9 if dtype == torch.float64 else 1e-5)
    assert isinstance(res_t.codes, torch.Tensor) and res_t.codes.dtype == dtype
    atol = 1e-7 if dtype == torch.float64 else 1e-3
    np.testing.assert_allclose(res_t.codes.double().numpy(), res_np.codes, atol=atol)


def test_numpy_dictionary_with_tensor_signals():
    D, X = make_problem()
    res = sc.fista(D, torch.tensor(X, dtype=torch.float32), 0.1)
    assert isinstance(res.codes, torch.Tensor) and res.codes.dtype == torch.float32
    with pytest.raises(TypeError, match="D"):
        sc.fista(torch.tensor(D), X, 0.1)


def test_chunking_gives_the_same_codes():
    D, X = make_problem(n_signals=25)
    full = sc.fista(D, X, 0.1, tol=1e-10)
    chunked = sc.fista(D, X, 0.1, tol=1e-10, chunk_size=4)
    np.testing.assert_allclose(chunked.codes, full.codes, atol=1e-9)
    assert chunked.converged


def test_warm_start_converges_immediately():
    D, X = make_problem()
    first = sc.fista(D, X, 0.1, tol=1e-10)
    again = sc.fista(D, X, 0.1, tol=1e-8, init=first.codes)
    assert again.n_iter <= 2


def test_restart_reduces_iterations():
    D, X = make_problem(40, 80, 10, seed=3)
    plain = sc.fista(D, X, 0.02, tol=1e-9, max_iter=20_000)
    restarted = sc.fista(D, X, 0.02, tol=1e-9, max_iter=20_000, restart="gradient")
    assert restarted.n_iter < plain.n_iter


def test_continuation_as_fixed_layers():
    D, X = make_problem()
    res = sc.continuation_ista(D, X, 0.1, n_layers=5, max_iter=5, tol=0)
    assert res.n_iter == 5 and not res.converged
    # layer 1 by hand: S_{lam_1 / L}(D^T x / L)
    L = sc.lipschitz_constant(D)
    lam_max = np.max(np.abs(X @ D), axis=1, keepdims=True)
    lam_1 = lam_max * (0.1 / lam_max) ** (1 / 5)
    first = sc.continuation_ista(D, X, 0.1, n_layers=5, max_iter=1, tol=0, lipschitz=L)
    V = X @ D / L
    np.testing.assert_allclose(first.codes,
                               np.sign(V) * np.maximum(np.abs(V) - lam_1 / L, 0))


def test_lipschitz_constant_matches_spectral_norm():
    for shape in [(20, 40), (40, 20), (5, 5)]:
        D = np.random.default_rng(1).standard_normal(shape)
        assert np.isclose(sc.lipschitz_constant(D), np.linalg.norm(D, 2) ** 2, rtol=1e-6)
    assert sc.lipschitz_constant(np.zeros((3, 4))) == 0.0


def test_ridge_against_sklearn():
    D, X = make_problem(20, 15)
    for lam in (0.1, 2.0):
        ref = Ridge(alpha=lam, fit_intercept=False).fit(D, X.T).coef_
        np.testing.assert_allclose(sc.ridge(D, X, lam), ref, atol=1e-10)
    assert sc.ridge(D, X[0], 0.1).shape == (15,)
    with pytest.raises(ValueError, match="singular"):
        sc.ridge(np.ones((3, 2)), np.ones(3), 0.0)


def test_lasso_objective_and_path():
    D, X = make_problem()
    H = np.random.default_rng(2).standard_normal((X.shape[0], D.shape[1]))
    assert np.isclose(sc.lasso_objective(D, X, H, 0.3), objective(D, X, H, 0.3))
    per = sc.lasso_objective(D, X, H, 0.3, reduction="none")
    assert per.shape == (X.shape[0],) and np.isclose(per.sum(), objective(D, X, H, 0.3))
    lams = [0.5, 0.05, 0.2]
    path = sc.lasso_path(D, X[0], lams, tol=1e-10)
    for lam, res in zip(lams, path):
        ref = sklearn_lasso(D, X[0], lam)[0]
        assert np.isclose(objective(D, X[0], res.codes, lam),
                          objective(D, X[0], ref, lam), rtol=1e-6)
    nnz = [np.count_nonzero(r.codes) for r in path]
    assert nnz[1] >= nnz[2] >= nnz[0]


GOOD_D, GOOD_X = make_problem()


@pytest.mark.parametrize("lam, exc", [
    (-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    ("0.1", TypeError), (None, TypeError), (True, TypeError), (np.ones(2), TypeError),
])
@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_bad_lam(solver, lam, exc):
    with pytest.raises(exc, match="lam"):
        solver(GOOD_D, GOOD_X, lam)


BAD_ARRAYS = [
    ("D", lambda D, X: (np.where(np.eye(*D.shape) > 0, np.nan, D), X), ValueError),
    ("D", lambda D, X: (np.where(np.eye(*D.shape) > 0, np.inf, D), X), ValueError),
    ("X", lambda D, X: (D, np.full_like(X, np.nan)), ValueError),
    ("X", lambda D, X: (D, X[:, :-1]), ValueError),           # mismatched features
    ("D", lambda D, X: (D[0], X), ValueError),                # 1-D dictionary
    ("X", lambda D, X: (D, X[None]), ValueError),             # 3-D signals
    ("D", lambda D, X: (np.zeros((D.shape[0], 0)), X), ValueError),  # no atoms
    ("X", lambda D, X: (D, X + 1j), TypeError),               # complex
    ("D", lambda D, X: (D.astype(complex), X), TypeError),
    ("X", lambda D, X: (D, X.astype(str)), TypeError),        # non-numeric
]


@pytest.mark.parametrize("name, make, exc", BAD_ARRAYS)
@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista, sc.lambda_max,
                                    sc.ridge])
def test_bad_arrays(solver, name, make, exc):
    D, X = make(GOOD_D, GOOD_X)
    args = (D, X) if solver is sc.lambda_max else (D, X, 0.1)
    with pytest.raises(exc, match=name):
        solver(*args)


def test_bad_options():
    with pytest.raises(ValueError, match="max_iter"):
        sc.ista(GOOD_D, GOOD_X, 0.1, max_iter=-1)
    with pytest.raises(ValueError, match="tol"):
        sc.fista(GOOD_D, GOOD_X, 0.1, tol=-1.0)
    with pytest.raises(ValueError, match="restart"):
        sc.fista(GOOD_D, GOOD_X, 0.1, restart="sometimes")
    with pytest.raises(ValueError, match="mode"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mode="fast")
    with pytest.raises(ValueError, match="init"):
        sc.fista(GOOD_D, GOOD_X, 0.1, init=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="lipschitz"):
        sc.fista(GOOD_D, GOOD_X, 0.1, lipschitz=0.0)
    with pytest.raises(ValueError, match="n_layers"):
        sc.continuation_ista(GOOD_D, GOOD_X, 0.1, n_layers=0)
    with pytest.raises(ValueError, match="mu"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mu=0.0)
    with pytest.raises(TypeError, match="mu"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mu="strong")
    with pytest.raises(ValueError, match="mu must be at most the Lipschitz"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mu=2.0, lipschitz=1.0)
    with pytest.raises(ValueError, match="mu and restart"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mu=0.1, restart="gradient")
    with pytest.raises(ValueError, match="mu needs a fixed Lipschitz"):
        sc.fista(GOOD_D, GOOD_X, 0.1, mu=0.1, lipschitz="backtracking")
    with pytest.raises(ValueError, match="H"):
        sc.lasso_objective(GOOD_D, GOOD_X, np.zeros((1, 3)), 0.1)


def test_no_nan_on_degenerate_inputs():
    D, _ = make_problem()
    zero_signal = np.zeros((2, D.shape[0]))
    res = sc.fista(D, zero_signal, 0.1)
    assert np.all(res.codes == 0) and res.converged
    res = sc.ista(np.zeros((4, 3)), np.ones(4), 0.1)
    assert np.all(np.isfinite(res.codes))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    D, X = make_problem()
    cpu = sc.fista(D, X, 0.1, tol=1e-9)
    gpu = sc.fista(torch.tensor(D, device="cuda"), torch.tensor(X, device="cuda"), 0.1,
                   tol=1e-9)
    assert gpu.codes.device.type == "cuda"
    np.testing.assert_allclose(gpu.codes.cpu().numpy(), cpu.codes, atol=1e-7)


@pytest.mark.parametrize("kw", [
    dict(solver="ista", mode="gram"), dict(solver="ista", mode="residual"),
    dict(solver="fista", mode="gram"), dict(solver="fista", mode="residual"),
    dict(solver="fista", mode="gram", restart="function"),
    dict(solver="fista", mode="residual", restart="gradient"),
    dict(solver="fista", mode="gram", restart="gradient"),
    dict(solver="continuation_ista", mode="gram", n_layers=7),
    dict(solver="fista", mode="residual", mu=0.05),
    dict(solver="fista", mode="gram", mu=0.05),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_fast_path_equals_the_generic_iteration(monkeypatch, kw, dtype):
    """The compiled passes of the engine's lasso step (NumPy with Numba) and its array
    expressions (used for tensors, and without Numba) must produce the same iterates:
    the compiled passes are an optimisation, not a second algorithm."""
    from sparsecoding import solvers as S

    kw = dict(kw)
    solver = getattr(sc, kw.pop("solver"))
    D, X = make_problem(20, 50, 9, seed=4)
    D, X = D.astype(dtype), X.astype(dtype)
    fast = solver(D, X, 0.05, tol=1e-7, max_iter=300, chunk_size=4, **kw)
    monkeypatch.setattr(S, "_USE_COMPILED", False)
    generic = solver(D, X, 0.05, tol=1e-7, max_iter=300, chunk_size=4, **kw)
    assert fast.n_iter == generic.n_iter and fast.converged == generic.converged
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fast.codes, generic.codes, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(fast.objective, generic.objective, rtol=rtol)


def _sparse_problem(n_signals=300, seed=3):
    """Signals made of 4 of 128 atoms: the iterates become sparse within a few dozen steps."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((32, 128))
    D /= np.linalg.norm(D, axis=0)
    H = np.zeros((n_signals, 128))
    for row in H:
        row[rng.choice(128, 4, replace=False)] = rng.standard_normal(4)
    return D, H @ D.T + 0.01 * rng.standard_normal((n_signals, 32))


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("restart", [None, "gradient"])
def test_sparse_image_product_changes_only_rounding(monkeypatch, mode, restart):
    """Once the codes are sparse their image is computed from the nonzero entries; the
    dense product (BLAS) must give the same iterates to rounding."""
    from sparsecoding import _fused, solvers as S

    D, X = _sparse_problem()
    calls = []
    monkeypatch.setattr(_fused, "sparse_image",
                        lambda *a, f=_fused.sparse_image: (calls.append(1), f(*a)))
    sparse = sc.fista(D, X, 0.02, tol=1e-9, max_iter=5000, mode=mode, restart=restart)
    assert calls, "the sparse product was never used"
    monkeypatch.setattr(S, "_SPARSE_IMAGE_DENSITY", -1.0)
    dense = sc.fista(D, X, 0.02, tol=1e-9, max_iter=5000, mode=mode, restart=restart)
    assert sparse.converged and dense.converged
    np.testing.assert_allclose(sparse.codes, dense.codes, atol=1e-9)
    np.testing.assert_allclose(sparse.objective[-1], dense.objective[-1], rtol=1e-12)


def test_sparse_image_kernel_equals_the_dense_product():
    from sparsecoding import _fused

    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        H = rng.standard_normal((50, 40)) * (rng.random((50, 40)) < 0.1)
        H[3] = 0.0  # a row with no nonzero entry
        H[4] = rng.standard_normal(40)  # and a dense one
        H = H.astype(dtype)
        M = rng.standard_normal((40, 7)).astype(dtype)
        out = np.full((50, 7), np.nan, dtype=dtype)
        _fused.sparse_image(H, M, out)
        np.testing.assert_allclose(out, H.astype(np.float64) @ M, rtol=tol, atol=tol)


def test_chunks_shared_among_cores_give_the_same_codes():
    """With BLAS set to two threads, the chunks run two at a time (one BLAS thread
    each): every chunk's codes must be those of the chunks run in turn."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from sparsecoding import solvers as S

    D, X = _sparse_problem(n_signals=400)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        serial = sc.fista(D, X, 0.02, tol=1e-8, chunk_size=37, restart="gradient")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        from sparsecoding import _threads

        if _threads.blas_threads() < 2:
            pytest.skip("this BLAS cannot use two threads")
        seen = []
        original = S._pgm

        def spy(*args, **kwargs):
            import threading
            seen.append(threading.get_ident())
            return original(*args, **kwargs)

        S._pgm = spy
        try:
            shared = sc.fista(D, X, 0.02, tol=1e-8, chunk_size=37, restart="gradient")
        finally:
            S._pgm = original
    assert len(set(seen)) == 2, "the chunks did not run on two threads"
    np.testing.assert_array_equal(shared.codes, serial.codes)
    np.testing.assert_array_equal(shared.objective, serial.objective)
    assert shared.n_iter == serial.n_iter


def test_map_on_cores_nested_calls_run_in_turn():
    """A piece that itself shares work among the cores must not wait on the pool it
    runs in (that could deadlock): nested calls run in turn, and all results come back
    in order."""
    from sparsecoding import _threads

    def inner(i):
        return [i * 10 + j for j in range(3)]

    def outer(i):
        return _threads.map_on_cores(inner, range(i, i + 2), 2)

    out = _threads.map_on_cores(outer, range(4), 2)
    assert out == [[[i * 10 + j for j in range(3)] for i in range(k, k + 2)]
                   for k in range(4)]


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_stopping_rule_is_the_relative_duality_gap(solver, mode):
    """converged means every signal's relative gap is at most tol, and the gap bounds
    the distance to scikit-learn's optimum."""
    D, X = make_problem(20, 40, 6, seed=5)
    lam, tol = 0.1, 1e-7
    res = solver(D, X, lam, tol=tol, max_iter=50_000, mode=mode)
    assert res.converged and res.gap.shape == (X.shape[0],)
    half_xx = 0.5 * np.sum(X * X, axis=1)
    R = X - res.codes @ D.T
    primal = 0.5 * np.sum(R * R, axis=1) + lam * np.abs(res.codes).sum(axis=1)
    s = np.minimum(1.0, lam / np.max(np.abs(R @ D), axis=1))  # dual point by hand
    dual = s * np.sum(X * R, axis=1) - 0.5 * s ** 2 * np.sum(R * R, axis=1)
    np.testing.assert_allclose(res.gap, (primal - dual) / half_xx, rtol=1e-6, atol=1e-12)
    assert np.all(res.gap <= tol)
    ref = sklearn_lasso(D, X, lam)
    f_ref = 0.5 * np.sum((X - ref @ D.T) ** 2, axis=1) + lam * np.abs(ref).sum(axis=1)
    assert np.all(primal - f_ref <= res.gap * half_xx + 1e-12)


def test_not_converged_when_one_signal_is_not():
    D, X = make_problem(20, 40, 6, seed=5)
    res = sc.fista(D, X, 0.01, tol=1e-12, max_iter=15)
    assert not res.converged and res.n_iter == 15 and np.any(res.gap > 1e-12)


def test_lam_zero_uses_the_optimality_residual():
    D, X = make_problem(30, 12, 4, seed=6)  # full column rank: least squares
    res = sc.fista(D, X, 0.0, tol=1e-10, max_iter=50_000)
    ref = np.linalg.lstsq(D, X.T, rcond=None)[0].T
    assert res.converged
    np.testing.assert_allclose(res.codes, ref, atol=1e-7)
    kkt = np.max(np.abs((X - res.codes @ D.T) @ D), axis=1) / np.max(np.abs(X @ D), axis=1)
    np.testing.assert_allclose(res.gap, kkt, rtol=1e-6, atol=1e-14)


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("solver", [sc.ista, sc.fista])
def test_backtracking_matches_sklearn(solver, mode):
    D, X = make_problem(20, 40)
    res = solver(D, X, 0.1, tol=1e-10, max_iter=50_000, lipschitz="backtracking",
                 mode=mode)
    ref = objective(D, X, sklearn_lasso(D, X, 0.1), 0.1)
    assert res.converged
    assert abs(objective(D, X, res.codes, 0.1) - ref) <= 1e-6 * ref
    # the step found is within a factor 2 of 1 / ||D||^2 (it starts below and doubles)
    assert 0 < res.lipschitz <= 2 * np.linalg.norm(D, 2) ** 2
    with pytest.raises(ValueError, match="lipschitz"):
        solver(D, X, 0.1, lipschitz="linesearch")


@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_mixed_inputs_follow_x(solver):
    """The documented rule: X decides the kind, device and dtype of the codes; a NumPy
    D follows a tensor X; a tensor D with NumPy X is refused."""
    D, X = make_problem()
    ref = sklearn_lasso(D, X, 0.1)
    f_ref = objective(D, X, ref, 0.1)
    cases = [
        (D, X.astype(np.float32), np.float32),
        (D.astype(np.float32), X, np.float64),
        (D, torch.tensor(X, dtype=torch.float32), torch.float32),
        (torch.tensor(D, dtype=torch.float32), torch.tensor(X), torch.float64),
        (torch.tensor(D), torch.tensor(X, dtype=torch.float32), torch.float32),
    ]
    for Dk, Xk, dtype in cases:
        res = solver(Dk, Xk, 0.1, tol=1e-5, max_iter=20_000)
        assert type(res.codes) is type(Xk) and res.codes.dtype == dtype
        H = res.codes.double().numpy() if isinstance(Xk, torch.Tensor) else res.codes
        assert objective(D, X, H.astype(np.float64), 0.1) <= f_ref * (1 + 1e-3)
    with pytest.raises(TypeError, match="D"):
        solver(torch.tensor(D), X, 0.1)


@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_signals_that_require_grad_build_no_graph(solver):
    D, X = make_problem(n_signals=50)
    Xt = torch.tensor(X, requires_grad=True)
    Dt = torch.tensor(D, requires_grad=True)
    res = solver(Dt, Xt, 0.1, tol=1e-8, max_iter=300)
    assert res.codes.grad_fn is None and not res.codes.requires_grad
    plain = solver(torch.tensor(D), torch.tensor(X), 0.1, tol=1e-8, max_iter=300)
    torch.testing.assert_close(res.codes, plain.codes)


def _strongly_convex_problem():
    """A lasso whose D^T D has its eigenvalues in [mu, L], mu > 0 (tall D)."""
    D, X = make_problem(n_features=60, n_atoms=15, n_signals=8, seed=5)
    eig = np.linalg.eigvalsh(D.T @ D)
    return D, X, eig[0], eig[-1]


def test_constant_momentum_matches_sklearn():
    D, X, mu, L = _strongly_convex_problem()
    lam = 0.05
    res = sc.fista(D, X, lam, mu=mu, lipschitz=L, tol=1e-12, max_iter=5000)
    assert res.converged
    ref = sklearn_lasso(D, X, lam)
    np.testing.assert_allclose(res.codes, ref, atol=1e-6)
    assert objective(D, X, res.codes, lam) <= objective(D, X, ref, lam) * (1 + 1e-12)


def test_constant_momentum_obeys_the_accelerated_linear_bound():
    """F(h_k) - F* <= (1 - sqrt(mu/L))^k (F(h_0) - F* + mu/2 |h_0 - h*|^2) for the
    momentum (sqrt L - sqrt mu)/(sqrt L + sqrt mu) (Nesterov; Beck 2017, thm 10.42),
    with h* and F* from scikit-learn, wherever the bound is above rounding."""
    D, X, mu, L = _strongly_convex_problem()
    lam = 0.05
    H_star = sklearn_lasso(D, X, lam)
    F_star = objective(D, X, H_star, lam)
    res = sc.fista(D, X, lam, mu=mu, lipschitz=L, tol=0, max_iter=300)
    k = np.arange(len(res.objective))
    phi0 = objective(D, X, 0 * H_star, lam) - F_star + 0.5 * mu * np.sum(H_star ** 2)
    bound = (1 - np.sqrt(mu / L)) ** k * phi0
    checked = bound > 1e-9 * F_star
    assert checked.sum() > 20
    assert np.all(res.objective[checked] - F_star <= bound[checked])
    # plain FISTA's momentum is a different scheme: it does not reproduce these iterates
    plain = sc.fista(D, X, lam, lipschitz=L, tol=0, max_iter=300)
    assert not np.allclose(plain.objective[:20], res.objective[:20])
