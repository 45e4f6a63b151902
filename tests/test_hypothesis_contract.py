"""The input contract of the public functions, on generated inputs (Hypothesis).

Every public function, on every input, either returns a correct result (finite, of the
right shape, dtype and kind, and right: for the lasso solvers the duality gap computed
here, by an independent formula in float64 on rescaled data, is within ``tol``) or
raises ValueError/TypeError whose message names the argument at fault. Inputs vary in
shape, dtype (float32, float64, integers, and wrong ones: complex, bool, object),
scale (entries from 1e-200 to 1e200, some of which no float32 or float64 computation
can square) and kind (NumPy arrays, lists, torch tensors).

Derandomized, so that CI sees the same examples on every run.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sparsecoding as sc
from sparsecoding import codes, data, imaging

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

SCALES = [0, 0, 0, -200, -30, -8, 8, 30, 200]  # powers of ten
BAD = ["nan", "inf", "complex", "bool", "object", "3d"]
FINE = ["int", "list"]


# ------------------------------------------------------------------ helpers

def to_np(a):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def max_abs(a):
    a = np.asarray(to_np(a), dtype=np.float64)
    return float(np.abs(a).max()) if a.size else 0.0


def kind(a):
    return "torch" if isinstance(a, torch.Tensor) else "numpy"


def finite(a):
    return bool(np.isfinite(np.asarray(to_np(a), dtype=np.float64)).all())


@st.composite
def arrays(draw, shape, dtype=None, scale=None):
    """A float array of ``shape`` with entries of about 10**scale."""
    dtype = dtype or draw(st.sampled_from([np.float64, np.float32]))
    scale = draw(st.sampled_from(SCALES)) if scale is None else scale
    if dtype == np.float32:  # within float32's range (1e-38 to 3e38)
        scale = int(np.clip(scale, -36, 36))
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).standard_normal(shape)
    with np.errstate(over="ignore", under="ignore"):
        return (a * 10.0 ** scale).astype(dtype)


def corrupt(a, how):
    """``a`` made wrong (or merely of another kind) in one way."""
    a = np.asarray(a)
    if how == "nan":
        b = a.astype(np.float64).copy()
        b.flat[0] = np.nan
        return b
    if how == "inf":
        b = a.astype(np.float64).copy()
        b.flat[-1] = -np.inf
        return b
    if how == "complex":
        return a.astype(np.complex128)
    if how == "bool":
        return a != 0
    if how == "object":
        return a.astype(object)
    if how == "3d":
        return a[None, None]
    if how == "int":
        return np.clip(np.round(a), -2.0**62, 2.0**62).astype(np.int64)
    if how == "list":
        return a.tolist()
    if how == "torch":
        return torch.as_tensor(a)
    return a


def names_one_of(message, names):
    return any(re.search(rf"\b{re.escape(n)}\b", message) for n in names)


def contract(call, names, *, must_fail=False, must_pass=False, check=None):
    """Run ``call``: a clear error naming one of ``names``, or a result passing ``check``.

    ``must_fail``: the input is wrong, an error is required. ``must_pass``: the input
    is ordinary, an error is a failure.
    """
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        assert not must_pass, f"an ordinary input was refused: {exc}"
        assert names_one_of(str(exc), names), (
            f"the error does not name {names}: {type(exc).__name__}: {exc}")
        return None
    assert not must_fail, f"a wrong input was accepted, giving {out!r}"[:300]
    if check is not None:
        check(out)
    return out


def rel_gap(D, x, h, lam):
    """The relative duality gap of one signal, in float64 after rescaling D and x to
    entries of size one (the relative gap does not change), by the textbook formula:
    a dual point from the residual, scaled into the dual feasible set."""
    D, x, h = (np.asarray(to_np(a), dtype=np.float64) for a in (D, x, h))
    c, d = max_abs(x) or 1.0, max_abs(D) or 1.0
    D, x, h, lam = D / d, x / c, h * (d / c), lam / (c * d)
    r = x - D @ h
    half_xx = 0.5 * x @ x
    if half_xx == 0:
        return 0.0 if not np.abs(h).any() else np.inf
    corr = np.abs(D.T @ r).max()
    if lam == 0:
        top = np.abs(D.T @ x).max()
        return corr / top if top > 0 else 0.0
    primal = 0.5 * r @ r + lam * np.abs(h).sum()
    theta = r * min(1.0, lam / corr) if corr > 0 else r
    dual = half_xx - 0.5 * (x - theta) @ (x - theta)
    return (primal - dual) / half_xx


# ------------------------------------------------------------------ lasso solvers

SOLVERS = {
    "ista": lambda D, X, lam, tol: sc.ista(D, X, lam, tol=tol, max_iter=3000),
    "fista": lambda D, X, lam, tol: sc.fista(D, X, lam, tol=tol, max_iter=3000),
    "continuation_ista": lambda D, X, lam, tol: sc.continuation_ista(
        D, X, lam, tol=tol, max_iter=3000),
    "homotopy": lambda D, X, lam, tol: sc.homotopy(D, X, lam, tol=tol),
    "coordinate_descent": lambda D, X, lam, tol: sc.coordinate_descent(
        D, X, lam, tol=tol, max_iter=3000),
    "admm": lambda D, X, lam, tol: sc.admm(D, X, lam, tol=tol, max_iter=3000),
}


@st.composite
def lasso_case(draw):
    n_features = draw(st.integers(1, 6))
    n_atoms = draw(st.integers(1, 8))
    n_signals = draw(st.sampled_from([None, 1, 3]))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    D = draw(arrays((n_features, n_atoms), dtype))
    X = draw(arrays((n_features,) if n_signals is None else (n_signals, n_features),
                    dtype))
    frac = draw(st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.5]))
    Xd, Dd = (np.asarray(a, dtype=np.float64) for a in (X, D))
    with np.errstate(all="ignore"):
        lam_max = float(np.abs(np.atleast_2d(Xd) @ Dd).max())
    lam = frac * lam_max if np.isfinite(lam_max) else 1.0
    how = draw(st.sampled_from([None] * 6 + BAD + FINE + ["torch"]))
    which = draw(st.sampled_from(["D", "X"]))
    return D, X, lam, how, which


def _ordinary(*arrays_):
    """Entries of ordinary size (squares and products far from over/underflow)."""
    return all(1e-6 < max_abs(a) < 1e6 or max_abs(a) == 0 for a in arrays_)


@pytest.mark.parametrize("name", sorted(SOLVERS))
@SETTINGS
@given(case=lasso_case())
def test_lasso_solvers(name, case):
    D, X, lam, how, which = case
    solve = SOLVERS[name]
    dtype = np.asarray(X).dtype
    tol = 1e-3 if dtype == np.float32 else 1e-6
    D_in, X_in = D, X
    if which == "D":
        D_in = corrupt(D, how)
    else:
        X_in = corrupt(X, how)
    must_fail = how in BAD or (how == "torch" and which == "D")

    def check(res):
        H = res.codes
        assert kind(H) == ("torch" if (how == "torch" and which == "X") else "numpy")
        assert finite(H) and np.isfinite(res.objective).all()
        expected_dtype = (np.float64 if (which == "X" and how in FINE)
                          else np.asarray(X).dtype)
        assert to_np(H).dtype == expected_dtype
        n_atoms = np.shape(D)[1]
        assert tuple(H.shape) == ((n_atoms,) if np.ndim(X) == 1
                                  else (np.shape(X)[0], n_atoms))
        if res.converged:
            Xs = np.atleast_2d(to_np(X_in) if which == "X" else X)
            Ds = to_np(D_in) if which == "D" else D
            Hs = np.atleast_2d(to_np(H))
            slack = 1e-4 if to_np(H).dtype == np.float32 else 1e-9
            for x, h in zip(Xs, Hs):
                assert rel_gap(Ds, x, h, lam) <= 2 * tol + slack

    contract(lambda: solve(D_in, X_in, lam, tol), ["D", "X", "lam"], must_fail=must_fail,
             must_pass=how is None and _ordinary(D, X) and dtype == np.float64
             and name != "admm", check=check)


@SETTINGS
@given(case=lasso_case(), frac=st.sampled_from([0.01, 0.1, 0.5, 0.9, 2.0]),
       restart=st.sampled_from([None, "function", "gradient"]))
def test_lipschitz_below_the_true_constant_is_an_error_or_converges(case, frac, restart):
    """A given ``lipschitz`` below ||D||^2 either still converges (with a certified
    gap) or raises naming ``lipschitz``; NaN codes are never returned."""
    D, X, lam, _, _ = case
    if not _ordinary(D, X):
        return
    Dd = np.asarray(D, dtype=np.float64)
    L = float(np.linalg.norm(Dd, 2) ** 2) or 1.0

    def check(res):
        assert finite(res.codes)
        if res.converged:
            for x, h in zip(np.atleast_2d(X), np.atleast_2d(res.codes)):
                assert rel_gap(D, x, h, lam) <= 2e-3 + 1e-4
    for solver in (sc.ista, sc.fista):
        kw = {"restart": restart} if solver is sc.fista else {}
        contract(lambda: solver(D, X, lam, lipschitz=frac * L, max_iter=200, tol=1e-3,
                                **kw), ["lipschitz"], check=check)


# ------------------------------------------------------------------ scalar arguments

SCALAR_BAD = [-1.0, float("nan"), float("inf"), "x", [1.0, 2.0], True]


@SETTINGS
@given(value=st.sampled_from(SCALAR_BAD),
       arg=st.sampled_from(["lam", "max_iter", "tol", "lipschitz", "chunk_size"]),
       solver=st.sampled_from(["ista", "fista", "continuation_ista"]))
def test_bad_scalars_are_named(value, arg, solver):
    rng = np.random.default_rng(0)
    D, X = rng.standard_normal((4, 6)), rng.standard_normal((2, 4))
    kw = {"lam": 0.1}
    kw[arg] = value
    lam = kw.pop("lam")
    contract(lambda: getattr(sc, solver)(D, X, lam, **kw), [arg], must_fail=True)


# ------------------------------------------------------------------ objective, gaps

@SETTINGS
@given(case=lasso_case(), hscale=st.sampled_from(SCALES))
def test_objective_gap_and_kkt(case, hscale):
    D, X, lam, how, which = case
    n_atoms = np.shape(D)[1]
    H = np.random.default_rng(1).standard_normal(
        (n_atoms,) if np.ndim(X) == 1 else (np.shape(X)[0], n_atoms)) * 10.0 ** hscale
    dtype = np.asarray(X).dtype
    big = float(np.finfo(dtype).max)
    H = np.clip(H, -big, big).astype(dtype)  # within the dtype's range
    D_in = corrupt(D, how) if which == "D" else D
    X_in = corrupt(X, how) if which == "X" else X
    must_fail = how in BAD or (how == "torch" and which == "D")

    def check_objective(value):
        assert np.isfinite(value)
        # independent: rescaled float64
        Dd, Xd, Hd = (np.asarray(to_np(a), dtype=np.float64) for a in (D_in, X_in, H))
        c = max(max_abs(Xd), max_abs(Hd) * max_abs(Dd), 1e-300)
        R = (np.atleast_2d(Hd) @ Dd.T - np.atleast_2d(Xd)) / c
        ref = c * c * 0.5 * (R * R).sum() + lam * np.abs(Hd).sum()
        assert value == pytest.approx(ref, rel=1e-3 if Xd.dtype == np.float64 else 1e-2,
                                      abs=1e-30)

    names = ["D", "X", "H", "lam"]
    contract(lambda: sc.lasso_objective(D_in, X_in, H, lam), names, must_fail=must_fail,
             check=check_objective)

    def check_gap(g):
        assert np.isfinite(np.asarray(g.gap, dtype=np.float64)).all()

    contract(lambda: sc.duality_gap(D_in, X_in, H, lam), names, must_fail=must_fail,
             check=check_gap)
    contract(lambda: sc.kkt_violation(D_in, X_in, H, lam), names, must_fail=must_fail,
             check=lambda v: finite(v))


# ------------------------------------------------------------------ Lipschitz constant

@SETTINGS
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       dtype=st.sampled_from([np.float64, np.float32]), scale=st.sampled_from(SCALES),
       how=st.sampled_from([None, None, None, "torch"] + BAD + FINE))
def test_lipschitz_constant(shape, dtype, scale, how):
    D = np.random.default_rng(2).standard_normal(shape)
    with np.errstate(all="ignore"):
        D = (D * 10.0 ** scale).astype(dtype)
    D_in = corrupt(D, how)

    def check(L):
        Dd = np.asarray(to_np(D_in), dtype=np.float64)
        s = max_abs(Dd)
        if s == 0:
            assert L == 0.0
            return
        true = np.linalg.norm(Dd / s, 2) ** 2 * s * s
        assert np.isfinite(L) and 0 < L <= true * (1 + 1e-5)
        assert L >= 0.5 * true  # power iteration from below; always close here

    contract(lambda: sc.lipschitz_constant(D_in), ["D"], must_fail=how in BAD,
             must_pass=how is None and scale == 0, check=check)


# ------------------------------------------------------------------ proximal operators

@st.composite
def prox_case(draw):
    shape = draw(st.sampled_from([(5,), (3, 4), (2, 2, 3)]))
    v = draw(arrays(shape))
    how = draw(st.sampled_from([None] * 6 + BAD[:-1] + FINE + ["torch"]))
    lam = draw(st.sampled_from([0.0, 0.5, 1e-300, 1e300]))
    return v, how, lam


@SETTINGS
@given(case=prox_case())
def test_thresholds(case):
    v, how, lam = case
    v_in = corrupt(v, how)
    vd = np.asarray(to_np(v_in), dtype=np.float64) if how not in BAD else None

    def check_soft(out):
        assert finite(out) and tuple(out.shape) == v.shape
        ref = np.sign(vd) * np.maximum(np.abs(vd) - lam, 0)
        np.testing.assert_allclose(np.asarray(to_np(out), dtype=np.float64), ref,
                                   rtol=1e-6, atol=1e-6 * max_abs(vd) + 1e-300)

    def check_hard(out):
        assert finite(out) and tuple(out.shape) == v.shape
        ref = np.where(np.abs(vd) > lam, vd, 0)
        np.testing.assert_allclose(np.asarray(to_np(out), dtype=np.float64), ref,
                                   rtol=1e-6, atol=1e-6 * max_abs(vd) + 1e-300)

    must_fail = how in BAD
    contract(lambda: sc.soft_threshold(v_in, lam), ["v", "lam"], must_fail=must_fail,
             check=check_soft)
    contract(lambda: sc.hard_threshold(v_in, lam), ["v", "lam"], must_fail=must_fail,
             check=check_hard)
    contract(lambda: sc.sigshrink(v_in, lam), ["v", "lam"], must_fail=must_fail,
             check=lambda out: finite(out) and tuple(out.shape) == v.shape)


@SETTINGS
@given(case=prox_case(), radius=st.sampled_from([1.0, 1e-300, 1e-5, 1e5]),
       axis=st.sampled_from([-1, 0, 1, 5, 1.5, None]))
def test_simplex_projection(case, radius, axis):
    v, how, _ = case
    v_in = corrupt(v, how)
    bad_axis = axis is None or isinstance(axis, float) or not -v.ndim <= axis < v.ndim

    def check(w):
        eps = np.finfo(to_np(w).dtype).eps
        w = np.asarray(to_np(w), dtype=np.float64)
        vd = np.moveaxis(np.asarray(to_np(v_in), dtype=np.float64), axis, -1)
        w = np.moveaxis(w, axis, -1)
        assert np.isfinite(w).all() and (w >= 0).all()
        np.testing.assert_allclose(w.sum(axis=-1), radius,
                                   rtol=1e-4 if eps < 1e-10 else 1e-3)
        # optimality: w = max(v - tau, 0); v - w is the same tau on the support and
        # v <= tau off it, up to rounding of the size of the entries
        for vr, wr in zip(vd.reshape(-1, vd.shape[-1]), w.reshape(-1, w.shape[-1])):
            tol = 16 * eps * (np.abs(vr).max() + radius)
            support = wr > 0
            assert support.any()
            tau = (vr - wr)[support]
            assert tau.max() - tau.min() <= tol
            assert (vr[~support] <= tau.max() + tol).all()

    contract(lambda: sc.project_simplex(v_in, radius=radius, axis=axis),
             ["v", "axis", "radius"], must_fail=how in BAD or bad_axis, check=check)
    if radius == 1.0:
        contract(lambda: sc.sparsemax(v_in, axis=axis), ["z", "axis"],
                 must_fail=how in BAD or bad_axis, check=check)


def test_sparsemax_float32_keeps_the_top_entry():
    np.testing.assert_array_equal(sc.sparsemax(np.float32([1e8, 0, -1])), [1, 0, 0])


# ------------------------------------------------------------------ dictionaries

@SETTINGS
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       dtype=st.sampled_from([np.float64, np.float32]),
       scales=st.lists(st.sampled_from(SCALES + [300, -300]), min_size=5, max_size=5),
       max_norm=st.sampled_from([1.0, 1e-3, 1e3]),
       how=st.sampled_from([None, None, None, "torch"] + BAD + FINE))
def test_normalize_columns(shape, dtype, scales, max_norm, how):
    D = np.random.default_rng(3).standard_normal(shape)
    with np.errstate(all="ignore"):
        D = D * 10.0 ** np.array(scales[: shape[1]], dtype=float)[None, :]
        D = D.astype(dtype)
    D = np.where(np.isfinite(D), D, 1.0).astype(dtype)
    D_in = corrupt(D, how)

    def check(out):
        out = np.asarray(to_np(out), dtype=np.float64)
        Dd = np.asarray(D, dtype=np.float64)
        assert np.isfinite(out).all() and out.shape == D.shape
        eps = np.finfo(dtype).eps
        for j in range(D.shape[1]):
            d, o = Dd[:, j], out[:, j]
            s = max_abs(d)
            if s == 0:
                assert not o.any()
                continue
            norm = np.linalg.norm(d / s) * s
            so = max_abs(o)
            assert so > 0  # a nonzero column never vanishes
            onorm = np.linalg.norm(o / so) * so
            assert onorm <= max_norm * (1 + 8 * eps) or norm <= max_norm
            ratio = o[d != 0] / d[d != 0]  # a positive multiple of the column
            assert (ratio > 0).all() and ratio.max() - ratio.min() <= 8 * eps * ratio.max()

    contract(lambda: sc.normalize_columns(D_in, max_norm=max_norm), ["D"],
             must_fail=how in BAD, check=check)


# ------------------------------------------------------------------ lambda_max, ridge

@SETTINGS
@given(case=lasso_case())
def test_lambda_max_and_ridge(case):
    D, X, lam, how, which = case
    D_in = corrupt(D, how) if which == "D" else D
    X_in = corrupt(X, how) if which == "X" else X
    must_fail = how in BAD or (how == "torch" and which == "D")

    def check_lmax(v):
        Dd, Xd = (np.asarray(to_np(a), dtype=np.float64) for a in (D_in, X_in))
        c, d = max_abs(Xd) or 1.0, max_abs(Dd) or 1.0
        ref = np.abs(np.atleast_2d(Xd / c) @ (Dd / d)).max(axis=1) * c * d
        got = np.atleast_1d(np.asarray(to_np(v), dtype=np.float64))
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-300)

    contract(lambda: sc.lambda_max(D_in, X_in), ["D", "X"], must_fail=must_fail,
             check=check_lmax)

    def check_ridge(H):
        assert finite(H)

    contract(lambda: sc.ridge(D_in, X_in, lam + 1.0), ["D", "X", "lam"],
             must_fail=must_fail, check=check_ridge)


# ------------------------------------------------------------------ greedy solvers

@pytest.mark.parametrize("name", ["matching_pursuit", "omp", "iht", "cosamp",
                                  "subspace_pursuit"])
@SETTINGS
@given(case=lasso_case(), k=st.integers(1, 3))
def test_greedy(name, case, k):
    D, X, _, how, which = case
    D_in = corrupt(D, how) if which == "D" else D
    X_in = corrupt(X, how) if which == "X" else X
    must_fail = how in BAD or (how == "torch" and which == "D")
    kw = {"max_iter": 20} if name == "matching_pursuit" else {"n_nonzero": k}

    def check(res):
        H = to_np(res.codes)
        assert np.isfinite(H).all()
        if name != "matching_pursuit":
            assert (np.count_nonzero(np.atleast_2d(H), axis=1) <= k).all()

    contract(lambda: getattr(sc, name)(D_in, X_in, **kw), ["D", "X", "n_nonzero"],
             must_fail=must_fail, check=check)


# ------------------------------------------------------------------ statistics, data

@SETTINGS
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       scale=st.sampled_from(SCALES), dtype=st.sampled_from([np.float64, np.float32]),
       how=st.sampled_from([None, None, "torch"] + BAD + FINE))
def test_fraction_variance_unexplained(shape, scale, dtype, how):
    rng = np.random.default_rng(4)
    with np.errstate(all="ignore"):
        X = (rng.standard_normal(shape) * 10.0 ** scale).astype(dtype)
        X_hat = (X * 0.5).astype(dtype)
    X_in = corrupt(X, how)

    def check(v):
        Xd, Yd = np.asarray(X, dtype=np.float64), np.asarray(X_hat, dtype=np.float64)
        s = max_abs(Xd)
        ref = ((Xd - Yd) / s) ** 2
        den = ((Xd - Xd.mean(axis=0)) / s) ** 2
        assert v == pytest.approx(ref.sum() / den.sum(), rel=1e-3)

    contract(lambda: codes.fraction_variance_unexplained(X_in, X_hat),
             ["X", "X_hat"], must_fail=how in BAD, check=check)


@SETTINGS
@given(scale=st.sampled_from(SCALES), data_range=st.sampled_from([1.0, 1e-300, 1e300]),
       how=st.sampled_from([None, None, "torch"] + BAD[:-1] + FINE))
def test_psnr(scale, data_range, how):
    rng = np.random.default_rng(5)
    ref = rng.random((4, 4)) * 10.0 ** scale
    img = ref + rng.standard_normal((4, 4)) * 10.0 ** scale * 1e-2
    img_in = corrupt(img, how)

    def check(v):
        diff = (ref - np.asarray(to_np(img_in), dtype=np.float64))
        s = max_abs(diff)
        expected = (20 * (np.log10(data_range) - np.log10(s))
                    - 10 * np.log10(np.mean((diff / s) ** 2)))
        assert np.isfinite(v) and v == pytest.approx(expected, rel=1e-6, abs=1e-6)

    contract(lambda: imaging.psnr(ref, img_in, data_range=data_range),
             ["image", "reference", "data_range"], must_fail=how in BAD, check=check)


@SETTINGS
@given(sigma=st.sampled_from([1e-300, 1e-3, 0.5, 4.0, 1e300, -1.0, float("nan")]),
       size=st.sampled_from([1, 3, 9, 4, 0]))
def test_gaussian_kernel(sigma, size):
    def check(k):
        assert np.isfinite(k).all() and k.shape == (size, size)
        assert k.sum() == pytest.approx(1.0)

    contract(lambda: imaging.gaussian_kernel(size, sigma), ["sigma", "size"],
             check=check)


@SETTINGS
@given(scale=st.sampled_from(SCALES), flat=st.booleans(),
       how=st.sampled_from([None, None, "torch"] + BAD[:-1] + FINE))
def test_whiten(scale, flat, how):
    rng = np.random.default_rng(6)
    X = np.zeros((20, 4)) if flat else rng.standard_normal((20, 4)) * 10.0 ** scale
    X_in = corrupt(X, how)

    def check(out):
        Xw, W, mean = out
        assert np.isfinite(Xw).all() and np.isfinite(W).all()

    contract(lambda: data.whiten(X_in), ["X"], must_fail=how in BAD, check=check)


def test_whitened_patches_of_flat_images_are_an_error(monkeypatch):
    monkeypatch.setattr(data, "natural_images", lambda names: [np.full((16, 16), 0.5)])
    with pytest.raises(ValueError, match="whitened"):
        data.load_image_patches(4, 50, whitened=True)


# ------------------------------------------------------------------ the cases

def _problem():
    rng = np.random.default_rng(7)
    D = rng.standard_normal((20, 30))
    D /= np.linalg.norm(D, axis=0)
    return D, rng.standard_normal((6, 20))


@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.continuation_ista])
def test_a_lipschitz_far_too_small_is_an_error_not_nan(solver):
    D, X = _problem()
    L = np.linalg.norm(D, 2) ** 2
    with pytest.raises(ValueError, match="lipschitz"):
        solver(D, X, 0.1, lipschitz=0.1 * L)
    with pytest.raises(FloatingPointError, match="backtracking"):  # also one of these
        solver(D, X, 0.1, lipschitz=0.1 * L)


@pytest.mark.parametrize("solver", [sc.ista, sc.fista, sc.homotopy,
                                    sc.coordinate_descent, sc.admm])
@pytest.mark.parametrize("factor", [1e160, 1e-160])
def test_dictionaries_whose_squares_overflow_are_refused(solver, factor):
    D, X = _problem()
    with pytest.raises(ValueError, match=r"\bD\b.*(overflow|underflow)"):
        solver(D * factor, X, 0.1)
    with pytest.raises(ValueError, match=r"\bX\b.*(overflow|underflow)"):
        solver(D, X * factor, 0.1)


def test_lipschitz_constant_of_a_large_float32_dictionary():
    D, _ = _problem()
    D32 = (D * 1e10).astype(np.float32)  # ||D||^2 about 3e20, beyond 1e19
    true = np.linalg.norm(D32.astype(np.float64), 2) ** 2
    assert sc.lipschitz_constant(D32) == pytest.approx(true, rel=1e-4)
    X = np.random.default_rng(8).standard_normal((3, 20)).astype(np.float32) * 1e10
    res = sc.fista(D32, X, 1e19, tol=1e-3)
    assert res.lipschitz == pytest.approx(true, rel=1e-3) and res.converged
    for x, h in zip(X, res.codes):
        assert rel_gap(D32, x, h, 1e19) <= 2e-3


def test_normalize_columns_whose_norm_overflows():
    D = np.array([[1e300, 3.0, 0.0], [1e300, 4.0, 0.0]])
    out = sc.normalize_columns(D)
    np.testing.assert_allclose(out, [[2 ** -0.5, 0.6, 0.0], [2 ** -0.5, 0.8, 0.0]])
