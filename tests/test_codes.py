"""Tests of sparsecoding.codes against direct counts, closed forms and brute force."""

import itertools
import math

import numpy as np
import pytest

from sparsecoding.codes import (
    active_counts,
    active_units,
    activity_ratio,
    capacity,
    corrupt_codes,
    dead_unit_mask,
    dead_units,
    decode_nearest,
    decoding_accuracy,
    fraction_variance_unexplained,
    k_winners_take_all,
    random_codes,
    superposition_false_detections,
)

torch = pytest.importorskip("torch")


@pytest.fixture
def H():
    rng = np.random.default_rng(0)
    H = rng.standard_normal((50, 20)) * (rng.random((50, 20)) < 0.2)
    H[:, 3] = 0.0  # a dead unit
    H[:, 7] = 0.0
    return H


def test_counts_match_loops(H):
    loop = [sum(1 for v in row if abs(v) > 0.5) for row in H]
    assert active_counts(H, 0.5).tolist() == loop
    assert active_units(H, 0.5) == pytest.approx(np.mean(loop))
    assert activity_ratio(H, 0.5) == pytest.approx(np.mean(loop) / 20)
    assert isinstance(activity_ratio(H), float) and isinstance(active_units(H), float)


def test_ratio_and_count_differ_by_n_units(H):
    assert active_units(H) == pytest.approx(H.shape[1] * activity_ratio(H))


def test_dead_units(H):
    never = [j for j in range(H.shape[1]) if all(H[k, j] == 0 for k in range(H.shape[0]))]
    assert sorted(np.flatnonzero(dead_unit_mask(H)).tolist()) == never
    assert dead_units(H) == pytest.approx(len(never) / H.shape[1])
    assert dead_units(H, threshold=100.0) == 1.0


def test_torch_in_torch_out(H):
    T = torch.as_tensor(H)
    counts = active_counts(T)
    assert isinstance(counts, torch.Tensor)
    assert counts.tolist() == active_counts(H).tolist()
    assert isinstance(dead_unit_mask(T), torch.Tensor)
    assert activity_ratio(T) == pytest.approx(activity_ratio(H))
    assert dead_units(T) == pytest.approx(dead_units(H))
    assert isinstance(k_winners_take_all(T, 3), torch.Tensor)


def test_one_dimensional_code_is_one_input():
    assert active_units(np.array([0.0, 1.0, 2.0])) == 2.0


def test_fvu_against_sklearn_r2():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 5))
    X_hat = X + 0.3 * rng.standard_normal((30, 5))
    # R^2 with uniform weights over outputs of equal variance differs; use the
    # variance-weighted average, which is 1 - FVU.
    r2 = r2_score(X, X_hat, multioutput="variance_weighted")
    assert fraction_variance_unexplained(X, X_hat) == pytest.approx(1 - r2)
    assert fraction_variance_unexplained(X, X) == 0.0
    mean = np.tile(X.mean(0), (30, 1))
    assert fraction_variance_unexplained(X, mean) == pytest.approx(1.0)
    T = torch.as_tensor(X)
    assert fraction_variance_unexplained(T, torch.as_tensor(X_hat)) == pytest.approx(1 - r2)


def test_capacity_closed_forms():
    assert capacity(784, "local") == 784
    assert capacity(20, "dense") == 2**20
    assert capacity(784, "sparse", d=5) == 2436963184656
    assert capacity(784, "sparse", d=5) == math.comb(784, 5)
    # brute force on a small layer
    n = 8
    patterns = list(itertools.product([0, 1], repeat=n))
    assert capacity(n, "dense") == len(patterns)
    assert capacity(n, "sparse", d=3) == sum(1 for p in patterns if sum(p) == 3)
    assert capacity(n, "local") == sum(1 for p in patterns if sum(p) == 1)


def test_random_codes_distinct_and_exact_d():
    for n_stimuli, n_units, d in [(10, 10, 1), (120, 10, 3), (300, 30, 4), (50, 40, 20)]:
        C = random_codes(n_stimuli, n_units, d, seed=3)
        assert C.shape == (n_stimuli, n_units)
        assert (C.sum(1) == d).all()
        assert len({tuple(r) for r in C}) == n_stimuli
    assert np.array_equal(random_codes(20, 30, 4, seed=5), random_codes(20, 30, 4, seed=5))


def _false_detections_brute(codes, pairs):
    total = 0
    for i, j in pairs:
        y = [max(a, b) for a, b in zip(codes[i], codes[j])]
        for k, c in enumerate(codes):
            if k not in (i, j) and all(ck <= yk for ck, yk in zip(c, y)):
                total += 1
    return total / len(pairs)


def test_superposition_matches_brute_force():
    codes = random_codes(40, 10, 3, seed=0)
    # all pairs, enumerated: the estimate over many random pairs approaches it
    pairs = [(i, j) for i in range(40) for j in range(40) if i != j]
    exact = _false_detections_brute(codes, pairs)
    est = superposition_false_detections(codes, n_pairs=40_000, seed=1)
    assert est == pytest.approx(exact, rel=0.05)
    # and the same pairs give exactly the brute-force count
    rng = np.random.default_rng(7)
    i = rng.integers(0, 40, size=25)
    j = (i + rng.integers(1, 40, size=25)) % 40
    assert superposition_false_detections(codes, n_pairs=25, seed=7) == pytest.approx(
        _false_detections_brute(codes, list(zip(i, j)))
    )


def test_local_code_never_interferes():
    assert superposition_false_detections(np.eye(30), n_pairs=500) == 0.0


def test_corrupt_codes():
    C = random_codes(50, 40, 10, seed=0)
    S = corrupt_codes(C, silence=0.25, seed=0)
    dead = (S == 0).all(0) & (C == 1).any(0)
    assert ((S == 0).all(0)).sum() >= 10 and (S <= C).all()
    assert dead.sum() <= 10
    F = corrupt_codes(C, flip=0.1, seed=0)
    assert abs((F != C).mean() - 0.1) < 0.02


def test_decode_nearest_against_brute_force():
    rng = np.random.default_rng(0)
    codes = random_codes(30, 16, 5, seed=1)
    Y = (rng.random((20, 16)) < 0.3).astype(float)
    k = decode_nearest(codes, Y, seed=0)
    for y, kk in zip(Y, k):
        dists = [int(np.sum(y != c)) for c in codes]
        assert dists[kk] == min(dists)
    assert decode_nearest(codes, codes[4]) == 4


def test_decoding_accuracy_local_vs_dense():
    local = np.eye(32)
    dense = random_codes(32, 32, 16, seed=0)
    # silencing half the units kills half the local codewords (then chance), not dense
    acc_local = decoding_accuracy(local, silence=0.5, n_repeats=20, seed=0)
    acc_dense = decoding_accuracy(dense, silence=0.5, n_repeats=20, seed=0)
    assert 0.45 < acc_local < 0.6
    assert acc_dense > 0.9
    assert decoding_accuracy(dense) == 1.0


def test_k_winners():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 12))
    W = k_winners_take_all(A, 4)
    for a, w in zip(A, W):
        top = np.sort(np.argsort(a)[-4:])
        assert np.flatnonzero(w).tolist() == top.tolist()
        assert np.allclose(w[top], a[top])
    assert np.allclose(
        k_winners_take_all(torch.as_tensor(A), 4).numpy(), W
    )
    assert (k_winners_take_all(A, 0) == 0).all()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: activity_ratio(np.ones((2, 3)), threshold=-1.0), "threshold"),
        (lambda: dead_units(np.full((2, 2), np.nan)), "H"),
        (lambda: fraction_variance_unexplained(np.ones((2, 2)), np.ones((3, 2))), "X_hat"),
        (lambda: fraction_variance_unexplained(np.ones((2, 2)), np.ones((2, 2))), "variance"),
        (lambda: capacity(0, "local"), "n_units"),
        (lambda: capacity(10, "binary"), "code"),
        (lambda: capacity(10, "sparse"), "d"),
        (lambda: capacity(10, "sparse", d=11), "d"),
        (lambda: capacity(10, "dense", d=3), "d"),
        (lambda: random_codes(11, 10, 1), "n_stimuli"),
        (lambda: random_codes(5, 10, 0), "d"),
        (lambda: superposition_false_detections(np.full((3, 3), 0.5)), "codes"),
        (lambda: superposition_false_detections(np.eye(1)), "codes"),
        (lambda: corrupt_codes(np.eye(3), flip=1.5), "flip"),
        (lambda: corrupt_codes(np.eye(3), silence=-0.1), "silence"),
        (lambda: decode_nearest(np.eye(3), np.ones(4)), "observed"),
        (lambda: k_winners_take_all(np.ones((2, 3)), 4), "k"),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_type_errors():
    with pytest.raises(TypeError, match="H"):
        active_units("abc")
    with pytest.raises(TypeError, match="k"):
        k_winners_take_all(np.ones(3), 1.5)
    with pytest.raises(TypeError, match="codes"):
        superposition_false_detections(torch.eye(3))


def test_k_winners_breaks_ties_by_position_on_both_kinds():
    A = np.array([[1.0, 2.0, 2.0, 2.0, 0.5], [3.0, 3.0, 3.0, 3.0, 3.0]])
    expected = np.array([[0.0, 2.0, 2.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(k_winners_take_all(A, 2), expected)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(k_winners_take_all(torch.as_tensor(A), 2).numpy(),
                                  expected)
