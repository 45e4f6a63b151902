"""Tests of sparsecoding.gabor against closed forms and independent constructions."""

import numpy as np
import pytest

from sparsecoding.gabor import fit_gabor, gabor_2d, gabor_fraction, gabor_scores


def _reference_gabor(shape, x0, y0, theta, freq, phase, sx, sy, amp):
    """The formula written out pixel by pixel (independent of the vectorised code)."""
    out = np.empty(shape)
    for row in range(shape[0]):
        for col in range(shape[1]):
            dx, dy = col - x0, row - y0
            u = dx * np.cos(theta) + dy * np.sin(theta)
            v = -dx * np.sin(theta) + dy * np.cos(theta)
            out[row, col] = amp * np.exp(-u**2 / (2 * sx**2) - v**2 / (2 * sy**2)) \
                * np.cos(2 * np.pi * freq * u + phase)
    return out


def test_gabor_2d_matches_the_formula():
    args = (6.2, 4.9, 0.7, 0.18, -1.1, 2.0, 3.1, 1.3)
    np.testing.assert_allclose(gabor_2d((10, 13), *args),
                               _reference_gabor((10, 13), *args), atol=1e-12)


def test_gabor_2d_closed_form_cases():
    # theta = 0, huge window: a pure cosine along the columns
    g = gabor_2d((4, 8), 0.0, 0.0, 0.0, 0.25, 0.0, 1e6, 1e6)
    np.testing.assert_allclose(g, np.tile(np.cos(np.pi / 2 * np.arange(8)), (4, 1)),
                               atol=1e-9)
    # freq = 0: a Gaussian blob whose peak is the amplitude
    g = gabor_2d(7, 3, 3, 0.3, 0.0, 0.0, 1.0, 1.0, amplitude=2.5)
    assert g.max() == pytest.approx(2.5)
    assert g[3, 4] == pytest.approx(2.5 * np.exp(-0.5))


def test_fit_recovers_parameters_of_a_synthetic_gabor():
    true = dict(x0=7.3, y0=8.1, theta=0.6, freq=0.15, phase=0.4, sigma_x=2.5,
                sigma_y=3.5, amplitude=1.7)
    g = gabor_2d((16, 16), **true)
    params, r2 = fit_gabor(g)
    assert r2 > 0.99
    for key, value in true.items():
        assert params[key] == pytest.approx(value, abs=1e-3), key


def test_fit_with_noise_and_a_rotated_parametrisation():
    rng = np.random.default_rng(3)
    # theta + pi with phase -> -phase and negative amplitude describe the same Gabor
    g = gabor_2d((12, 12), 5.0, 6.5, 0.9 + np.pi, 0.22, -0.5, 1.8, 2.6, amplitude=-1.0)
    params, r2 = fit_gabor(g + 0.03 * rng.standard_normal(g.shape))
    assert r2 > 0.97
    assert params["theta"] == pytest.approx(0.9, abs=0.05)
    assert params["freq"] == pytest.approx(0.22, abs=0.01)
    assert params["amplitude"] == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(gabor_2d((12, 12), **params), g, atol=0.1)


def test_r2_is_one_minus_sse_over_sst():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((8, 8))
    params, r2 = fit_gabor(img)
    resid = img - gabor_2d((8, 8), **params)
    assert r2 == pytest.approx(1 - (resid**2).sum() / ((img - img.mean())**2).sum())


def test_white_noise_scores_low():
    rng = np.random.default_rng(1)
    scores = gabor_scores(rng.standard_normal((64, 20)))
    assert scores.shape == (20,)
    assert scores.max() < 0.6
    assert np.median(scores) < 0.4


def test_random_atoms_give_a_low_fraction_and_gabors_a_high_one():
    rng = np.random.default_rng(2)
    random_atoms = rng.standard_normal((64, 16))
    assert gabor_fraction(random_atoms) <= 0.1
    gabors = np.stack([
        gabor_2d(8, rng.uniform(2, 5), rng.uniform(2, 5), rng.uniform(0, np.pi),
                 rng.uniform(0.1, 0.35), rng.uniform(-np.pi, np.pi),
                 rng.uniform(1, 2.5), rng.uniform(1, 2.5)).ravel()
        for _ in range(8)], axis=1)
    assert gabor_fraction(gabors) == 1.0
    assert gabor_fraction(np.c_[gabors, random_atoms[:, :8]]) == pytest.approx(0.5)


def test_constant_atom_has_zero_score_and_shape_rules():
    assert fit_gabor(np.ones((5, 5)))[1] == 0.0
    assert gabor_scores(np.zeros((6, 2)), shape=(2, 3)).tolist() == [0.0, 0.0]


def test_deterministic():
    rng = np.random.default_rng(4)
    D = rng.standard_normal((36, 4))
    np.testing.assert_array_equal(gabor_scores(D, n_starts=6), gabor_scores(D, n_starts=6))


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="freq"):
        gabor_2d(8, 3, 3, 0, -0.1, 0, 1, 1)
    with pytest.raises(ValueError, match="sigma_x"):
        gabor_2d(8, 3, 3, 0, 0.1, 0, 0.0, 1)
    with pytest.raises(ValueError, match="shape"):
        gabor_2d((8, 0), 3, 3, 0, 0.1, 0, 1, 1)
    with pytest.raises(ValueError, match="atom_image"):
        fit_gabor(np.ones(5))
    with pytest.raises(ValueError, match="atom_image"):
        fit_gabor(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="n_starts"):
        fit_gabor(np.ones((3, 3)), n_starts=0)
    with pytest.raises(ValueError, match="shape"):
        gabor_scores(np.ones((10, 2)))
    with pytest.raises(ValueError, match="shape"):
        gabor_scores(np.ones((10, 2)), shape=(3, 3))
    with pytest.raises(ValueError, match="threshold"):
        gabor_fraction(np.ones((4, 2)), threshold=1.5)
    with pytest.raises(TypeError, match="D"):
        gabor_fraction("atoms")
