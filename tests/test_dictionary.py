"""Tests of sparsecoding.dictionary against scikit-learn, scipy and closed forms."""

import warnings

import numpy as np
import pytest
from scipy.fft import dctn, idctn
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d, reconstruct_from_patches_2d

from sparsecoding import fista
from sparsecoding.dictionary import denoise_image, learn_dictionary, normalize_columns


def _synthetic(p=16, k=24, n=2000, s=3, noise=0.01, seed=0):
    """Signals that are sums of s atoms of a known unit-norm dictionary, plus noise."""
    rng = np.random.default_rng(seed)
    D0 = rng.standard_normal((p, k))
    D0 /= np.linalg.norm(D0, axis=0)
    H = np.zeros((n, k))
    for i in range(n):
        idx = rng.choice(k, s, replace=False)
        H[i, idx] = rng.choice([-1, 1], s) * rng.uniform(1, 2, s)
    return H @ D0.T + noise * rng.standard_normal((n, p)), D0


def _objective(D, X, lam):
    """Mean lasso objective with codes solved tightly (the same solve for every D)."""
    return fista(D, X, lam, tol=1e-7, max_iter=20000).objective[-1] / X.shape[0]


def test_normalize_columns_projects_onto_the_ball():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((5, 6)) * np.array([0.1, 0.5, 1.0, 2.0, 10.0, 0.0])
    P = normalize_columns(D)
    norms = np.linalg.norm(D, axis=0)
    for j in range(6):  # projection onto the unit ball, column by column
        expected = D[:, j] if norms[j] <= 1 else D[:, j] / norms[j]
        np.testing.assert_allclose(P[:, j], expected, atol=1e-15)
    assert np.all(P[:, 5] == 0)
    np.testing.assert_allclose(np.linalg.norm(normalize_columns(D, 0.3), axis=0),
                               np.minimum(norms, 0.3), atol=1e-12)


def test_normalize_columns_tensor_in_tensor_out():
    torch = pytest.importorskip("torch")
    D = torch.tensor([[3.0, 0.0], [4.0, 0.0]])
    out = normalize_columns(D)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.0], [0.8, 0.0]], atol=1e-7)


def test_learned_dictionary_recovers_the_true_atoms():
    X, D0 = _synthetic()
    res = learn_dictionary(X, 24, 0.1, epochs=20, batch_size=64, progress=False,
                           init="random")
    assert res.D.shape == (16, 24)
    assert np.all(np.linalg.norm(res.D, axis=0) <= 1 + 1e-12)
    best = np.abs(res.D.T @ D0).max(axis=0)  # |cos| of the closest learned atom
    assert np.mean(best > 0.95) >= 0.9
    assert res.codes.shape == (2000, 24)
    assert res.time > 0


def test_objective_decreases():
    X, _ = _synthetic(seed=1)
    res = learn_dictionary(X, 24, 0.1, epochs=8, batch_size=64, progress=False)
    assert res.objective.shape == (8,)
    assert res.objective[-1] < 0.95 * res.objective[0]
    assert np.all(np.diff(res.objective) < 1e-6 * res.objective[0])


def test_no_worse_than_scikit_learn():
    # scikit-learn minimises (1/2)||x - h D||^2 + alpha ||h||_1: alpha is our lam
    X, _ = _synthetic(n=1000, seed=2)
    lam, k, epochs, bs = 0.1, 24, 5, 100
    ours = learn_dictionary(X, k, lam, epochs=epochs, batch_size=bs, progress=False)
    with warnings.catch_warnings():  # its coordinate descent warns on a few batches
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MiniBatchDictionaryLearning(k, alpha=lam, max_iter=epochs, batch_size=bs,
                                         fit_algorithm="cd", random_state=0, tol=0.0,
                                         max_no_improvement=None).fit(X)
    ours_f, sk_f = _objective(ours.D, X, lam), _objective(sk.components_.T, X, lam)
    assert ours_f <= 1.1 * sk_f


def test_data_init_and_explicit_init():
    X, D0 = _synthetic(n=300, seed=3)
    res = learn_dictionary(X, 24, 0.1, epochs=2, batch_size=50, init="data",
                           progress=False)
    assert np.all(np.linalg.norm(res.D, axis=0) <= 1 + 1e-12)
    # starting at the truth, the learning stays there
    res = learn_dictionary(X, 24, 0.1, epochs=2, batch_size=50, D_init=D0,
                           progress=False)
    assert np.min(np.abs(np.sum(res.D * D0, axis=0))) > 0.98


def test_deterministic_and_torch_matches_numpy():
    X, _ = _synthetic(n=400, seed=4)
    kw = dict(epochs=2, batch_size=64, progress=False)
    a = learn_dictionary(X, 24, 0.1, **kw)
    b = learn_dictionary(X, 24, 0.1, **kw)
    np.testing.assert_array_equal(a.D, b.D)
    f = learn_dictionary(X, 24, 0.1, coder="fista", **kw)
    torch = pytest.importorskip("torch")
    t = learn_dictionary(torch.as_tensor(X), 24, 0.1, **kw)  # "auto": FISTA on tensors
    assert isinstance(t.D, torch.Tensor)
    np.testing.assert_allclose(t.D.numpy(), f.D, atol=1e-6)
    np.testing.assert_allclose(t.objective, f.objective, rtol=1e-6)
    # a NumPy array with device="cpu" runs with torch and comes back as NumPy
    c = learn_dictionary(X, 24, 0.1, device="cpu", **kw)
    assert isinstance(c.D, np.ndarray)
    np.testing.assert_allclose(c.D, f.D, atol=1e-6)
    # the exact homotopy on tensors too (computed on the CPU, returned as tensors)
    th = learn_dictionary(torch.as_tensor(X), 24, 0.1, coder="homotopy", **kw)
    np.testing.assert_allclose(th.D.numpy(), a.D, atol=1e-10)


def test_steps_count_mini_batches_and_whole_epochs_match_epochs():
    X, _ = _synthetic(n=400, seed=4)
    kw = dict(batch_size=64, progress=False)  # 7 batches per epoch
    a = learn_dictionary(X, 24, 0.1, epochs=2, **kw)
    b = learn_dictionary(X, 24, 0.1, steps=14, **kw)
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.objective, b.objective)
    # a run cut inside its second epoch: two objectives, the last over 3 batches
    c = learn_dictionary(X, 24, 0.1, steps=10, **kw)
    assert c.objective.shape == (2,) and c.objective[0] == a.objective[0]
    assert np.isfinite(c.objective).all() and c.objective[1] != a.objective[1]
    assert learn_dictionary(X, 24, 0.1, **kw).objective.shape == (10,)  # the default
    with pytest.raises(TypeError, match="epochs or as steps"):
        learn_dictionary(X, 24, 0.1, epochs=1, steps=3, **kw)
    with pytest.raises(ValueError, match="steps"):
        learn_dictionary(X, 24, 0.1, steps=0, **kw)


def test_exact_codes_reach_a_lower_objective_than_fista_codes():
    X, _ = _synthetic(n=600, seed=8)
    kw = dict(epochs=3, batch_size=64, progress=False)
    exact = learn_dictionary(X, 24, 0.1, coder="homotopy", **kw)
    approx = learn_dictionary(X, 24, 0.1, coder="fista", code_max_iter=5, **kw)
    assert exact.objective[-1] < approx.objective[-1]


def test_denoise_with_an_orthonormal_basis_is_averaged_soft_thresholding():
    # Independent reference: scikit-learn's patch extraction and overlap averaging,
    # scipy's orthonormal 2-D DCT and soft thresholding of its coefficients.
    rng = np.random.default_rng(5)
    img = rng.uniform(size=(12, 10))
    ps, lam = 4, 0.05
    basis = np.stack([idctn(np.eye(ps * ps)[j].reshape(ps, ps), norm="ortho").ravel()
                      for j in range(ps * ps)], axis=1)
    patches = extract_patches_2d(img, (ps, ps))
    means = patches.mean(axis=(1, 2), keepdims=True)
    coef = np.stack([dctn(p, norm="ortho") for p in patches - means])
    coef = np.sign(coef) * np.maximum(np.abs(coef) - lam, 0)
    rec = np.stack([idctn(c, norm="ortho") for c in coef]) + means
    expected = reconstruct_from_patches_2d(rec, img.shape)
    out = denoise_image(img, basis, lam, ps, tol=1e-10, max_iter=5000)
    np.testing.assert_allclose(out, expected, atol=1e-8)


def test_denoise_stride_covers_every_pixel():
    img = np.arange(63.0).reshape(7, 9) / 63
    out = denoise_image(img, np.eye(9), 0.0, 3, stride=2)
    np.testing.assert_allclose(out, img, atol=1e-12)


def test_bad_inputs_name_the_argument():
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="lam"):
        learn_dictionary(X, 3, -1.0, progress=False)
    with pytest.raises(ValueError, match="n_atoms"):
        learn_dictionary(X, 0, 1.0, progress=False)
    with pytest.raises(ValueError, match="init"):
        learn_dictionary(X, 3, 1.0, init="svd", progress=False)
    with pytest.raises(ValueError, match="coder"):
        learn_dictionary(X, 3, 1.0, coder="lars", progress=False)
    with pytest.raises(ValueError, match="X"):
        learn_dictionary(np.zeros(4), 3, 1.0, progress=False)
    with pytest.raises(ValueError, match="D_init"):
        learn_dictionary(X, 3, 1.0, D_init=np.zeros((4, 2)), progress=False)
    with pytest.raises(ValueError, match="max_norm"):
        normalize_columns(np.eye(2), 0.0)
    with pytest.raises(ValueError, match="patch_size"):
        denoise_image(np.zeros((8, 8)), np.eye(9), 0.1, 4)
    with pytest.raises(ValueError, match="noisy"):
        denoise_image(np.zeros((2, 2)), np.eye(9), 0.1)
    with pytest.raises(ValueError, match="stride"):
        denoise_image(np.zeros((8, 8)), np.eye(9), 0.1, stride=0)


def test_compiled_column_update_equals_the_numpy_sweep():
    """The compiled block-coordinate sweep against the update written in NumPy; it
    stops before an atom no code used (A_jj = 0) and goes on from the next one."""
    from sparsecoding import _bcd

    rng = np.random.default_rng(1)
    m, p = 12, 9
    Hs = rng.standard_normal((40, p))
    Hs[:, 4] = 0.0  # atom 4 unused
    A = Hs.T @ Hs
    B = rng.standard_normal((40, m)).T @ Hs
    D0 = normalize_columns(rng.standard_normal((m, p)))
    expected = D0.copy()
    for j in range(p):
        if j == 4:
            continue
        u = expected[:, j] + (B[:, j] - expected @ A[:, j]) / A[j, j]
        expected[:, j] = u / max(1.0, np.linalg.norm(u))
    D = D0.copy()
    A_rows = np.ascontiguousarray(A.T)
    assert _bcd.update_columns(D, A_rows, B, 0, 1e-10) == 4
    assert _bcd.update_columns(D, A_rows, B, 5, 1e-10) == p
    np.testing.assert_allclose(D, expected, atol=1e-13)
    assert np.all(np.linalg.norm(D, axis=0) <= 1 + 1e-12)


def test_resampled_atoms_and_threads():
    """Atoms left unused are restarted from signals, as the generic (tensor) loop does;
    and running the kernels on two cores changes nothing."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, _ = _synthetic(n=600, seed=5)
    kw = dict(epochs=2, batch_size=100, progress=False, coder="homotopy")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = learn_dictionary(X, 60, 2.0, **kw)
    assert one.n_resampled > 0
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        two = learn_dictionary(X, 60, 2.0, **kw)
    np.testing.assert_array_equal(two.D, one.D)
    np.testing.assert_array_equal(two.codes, one.codes)
    torch = pytest.importorskip("torch")
    t = learn_dictionary(torch.as_tensor(X), 60, 2.0, **kw)  # NumPy loop over columns
    assert t.n_resampled == one.n_resampled
    np.testing.assert_allclose(t.D.numpy(), one.D, atol=1e-9)


def _lasso_score(D, X, lam):
    """Mean lasso objective of ``X`` under ``D`` with exact codes (scikit-learn's LARS)."""
    from sklearn.decomposition import sparse_encode

    H = sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam)
    R = X - H @ D.T
    return (0.5 * np.sum(R * R) + lam * np.sum(np.abs(H))) / len(X)


def test_data_init_wins_on_natural_image_patches():
    # the measurement behind the default init, in small: one epoch on 8x8 patches
    from sparsecoding.data import load_image_patches

    X = load_image_patches(8, 1500, seed=1)
    X = X / X.std()
    kw = dict(epochs=1, batch_size=128, progress=False, seed=0)
    data = learn_dictionary(X, 32, 0.1, init="data", **kw)
    rand = learn_dictionary(X, 32, 0.1, init="random", **kw)
    default = learn_dictionary(X, 32, 0.1, **kw)
    f_data, f_rand = _lasso_score(data.D, X, 0.1), _lasso_score(rand.D, X, 0.1)
    assert f_data < 0.95 * f_rand  # measured 10-13 % lower over seeds 0-2
    np.testing.assert_array_equal(default.D, data.D)  # the default is init="data"


def test_random_init_recovers_planted_atoms_where_data_init_does_not():
    # with SPAMS's slow forgetting of the early statistics (forgetting=1)
    X, D0 = _synthetic()
    kw = dict(epochs=20, batch_size=64, progress=False, forgetting=1.0)
    found = {init: np.mean(np.abs(learn_dictionary(X, 24, 0.1, init=init, **kw).D.T
                                  @ D0).max(axis=0) > 0.95)
             for init in ("random", "data")}
    assert found["random"] >= 0.9 and found["data"] <= 0.5  # measured 1.0 and 0.21


def test_default_forgetting_recovers_planted_atoms_from_both_starts():
    # the statistics of the batches coded with the first dictionary are forgotten
    # faster by default, and the atoms started from signals leave the mixtures
    X, D0 = _synthetic()
    kw = dict(epochs=20, batch_size=64, progress=False)
    for init in ("random", "data"):
        D = learn_dictionary(X, 24, 0.1, init=init, **kw).D
        assert np.mean(np.abs(D.T @ D0).max(axis=0) > 0.95) >= 0.9  # measured 1.0


def test_forgetting_weights_follow_the_mini_batch_schedule():
    # Independent reference: the statistics written as an explicit weighted sum,
    # batch s (0-based) of b signals weighted by prod_{u>s} beta_u with
    # beta_u = ((theta_u + 1 - b) / (theta_u + 1))**rho, theta_u = u b (u < b).
    from sparsecoding.dictionary import _forget_factor

    rng = np.random.default_rng(7)
    b, T, rho = 8, 5, 3.0
    blocks = [rng.standard_normal((b, 4)) for _ in range(T)]
    A = np.zeros((4, 4))
    for t, H in enumerate(blocks):
        A = _forget_factor(t, b, 1000, rho) * A + H.T @ H / b
    expected = np.zeros((4, 4))
    for s, H in enumerate(blocks):
        w = np.prod([((u * b + 1 - b) / (u * b + 1)) ** rho for u in range(s + 1, T)])
        expected += w * H.T @ H / b
    np.testing.assert_allclose(A, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="forgetting"):
        learn_dictionary(np.zeros((10, 4)), 3, 1.0, forgetting=-1.0, progress=False)
