"""Metrics against values computed by hand, their invariances, and skimage as an oracle."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit.metrics import affine_fit, flux_ratio, nrmse, psnr, snr, ssim

RNG = np.random.default_rng(0)


# values by hand ------------------------------------------------------------------------


def test_nrmse_raw_by_hand():
    # |x - g| = |(0, -1)| = 1, |g| = sqrt(1 + 9)
    assert nrmse([1.0, 2.0], [1.0, 3.0], fit=None) == pytest.approx(1 / math.sqrt(10))


def test_nrmse_affine_by_hand():
    # x = (0, 1, 2), g = (1, 2, 4): mean x = 1, mean g = 7/3,
    # a = ((-1)(-4/3) + 0 + (1)(5/3)) / 2 = 3/2, b = 7/3 - 3/2 = 5/6,
    # a x + b = (5/6, 7/3, 23/6), residual (1/6, -1/3, 1/6), norm sqrt(6)/6; |g| = sqrt(21)
    x, g = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 4.0])
    assert affine_fit(x, g) == pytest.approx((1.5, 5 / 6))
    assert nrmse(x, g) == pytest.approx(math.sqrt(6) / 6 / math.sqrt(21))


def test_nrmse_of_a_constant_estimate_is_the_references_relative_spread():
    # the best affine fit of a constant is mean(g): |g - mean g| / |g| = sqrt(2) / sqrt(14)
    g = np.array([1.0, 2.0, 3.0])
    assert nrmse(np.full(3, 5.0), g) == pytest.approx(math.sqrt(2) / math.sqrt(14))


def test_snr_by_hand():
    # |g|^2 = 25, |x - g|^2 = 1
    assert snr([3.0, 5.0], [3.0, 4.0]) == pytest.approx(10 * math.log10(25))


def test_psnr_by_hand():
    # range of g = 2, mse = (1 + 0) / 2
    assert psnr([1.0, 2.0], [0.0, 2.0]) == pytest.approx(10 * math.log10(4 / 0.5))
    assert psnr([1.0, 2.0], [0.0, 2.0], data_range=10.0) == pytest.approx(10 * math.log10(200))


def test_flux_ratio_by_hand():
    assert flux_ratio([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(1.0)
    assert flux_ratio([[1.0, 0.0]], [[4.0, 0.0]]) == pytest.approx(0.25)


def test_perfect_estimates():
    g = RNG.random((12, 13, 14))
    assert nrmse(g, g) == 0.0 and nrmse(g, g, fit=None) == 0.0
    assert snr(g, g) == math.inf and psnr(g, g) == math.inf
    assert ssim(g, g) == pytest.approx(1.0)
    assert flux_ratio(g, g) == pytest.approx(1.0)


# relations and invariances -------------------------------------------------------------


@given(scale=st.floats(-50, 50).filter(lambda a: abs(a) > 1e-2), offset=st.floats(-100, 100))
def test_affine_nrmse_ignores_scale_and_offset(scale, offset):
    g = np.linspace(0.0, 1.0, 30) ** 2
    x = g + 0.1 * np.sin(np.arange(30))
    assert nrmse(scale * x + offset, g) == pytest.approx(nrmse(x, g), rel=1e-7, abs=1e-12)


def test_raw_nrmse_punishes_scale_affine_does_not():
    g = RNG.random((8, 9))
    assert nrmse(2 * g + 1, g) == pytest.approx(0.0, abs=1e-12)
    assert nrmse(2 * g + 1, g, fit=None) > 1.0


def test_affine_nrmse_is_bounded_by_one_and_relates_to_correlation():
    g, x = RNG.random(500), RNG.random(500)
    rho = np.corrcoef(x, g)[0, 1]
    spread = np.linalg.norm(g - g.mean()) / np.linalg.norm(g)
    assert nrmse(x, g) == pytest.approx(math.sqrt(1 - rho**2) * spread)
    assert nrmse(x, g) <= spread <= 1.0


def test_snr_is_minus_20_log10_of_raw_nrmse():
    g = RNG.random((5, 6, 7))
    x = g + 0.05 * RNG.standard_normal(g.shape)
    assert snr(x, g) == pytest.approx(-20 * math.log10(nrmse(x, g, fit=None)))


def test_float32_inputs_accumulate_in_float64():
    g = RNG.random((16, 64, 64)).astype(np.float32) + 1000.0
    x = g + RNG.standard_normal(g.shape).astype(np.float32)
    g64, x64 = g.astype(np.float64), x.astype(np.float64)
    for metric in (nrmse, snr, psnr, flux_ratio):
        assert metric(x, g) == pytest.approx(metric(x64, g64), rel=1e-12)


def test_any_number_of_axes():
    for shape in [(7,), (6, 5), (4, 5, 6), (2, 3, 4, 5)]:
        g = RNG.random(shape)
        x = g + 0.1
        assert nrmse(x, g) == pytest.approx(0.0, abs=1e-12)
        assert nrmse(x, g, fit=None) == pytest.approx(0.1 * math.sqrt(g.size) / np.linalg.norm(g))


# SSIM against scikit-image ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(24, 30), (14, 20, 22)])
def test_ssim_matches_skimage(shape):
    metrics = pytest.importorskip(
        "skimage.metrics", reason="scikit-image is the SSIM oracle (test dependency only)"
    )
    g = RNG.random(shape)
    g[tuple(s // 2 for s in shape)] = 4.0  # a bright spot
    for x in (g + 0.3 * RNG.standard_normal(shape), 0.5 * g + 0.2, RNG.random(shape)):
        expected = metrics.structural_similarity(
            x, g, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=g.max() - g.min(),
        )
        assert ssim(x, g) == pytest.approx(expected, abs=1e-3)
        assert ssim(x, g, data_range=10.0) == pytest.approx(
            metrics.structural_similarity(x, g, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=10.0),
            abs=1e-3,
        )


def test_ssim_drops_axes_of_length_one():
    g = RNG.random((20, 20))
    x = g + 0.1 * RNG.standard_normal(g.shape)
    assert ssim(x[None], g[None]) == pytest.approx(ssim(x, g))


def test_ssim_decreases_with_noise():
    g = RNG.random((16, 24, 24))
    values = [ssim(g + s * RNG.standard_normal(g.shape), g) for s in (0.01, 0.1, 0.5)]
    assert values[0] > values[1] > values[2]


# bad input -----------------------------------------------------------------------------

ALL = [nrmse, snr, psnr, ssim, flux_ratio]


@pytest.mark.parametrize("metric", ALL, ids=lambda f: f.__name__)
def test_shape_mismatch(metric):
    name = metric.__name__
    with pytest.raises(ValueError, match=rf"{name}: shape mismatch, the estimate has shape "
                                         r"\(12, 13\) and the reference \(12, 12\)"):
        metric(np.ones((12, 13)), np.ones((12, 12)))


@pytest.mark.parametrize("metric", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("bad", "which", "message"), [
    (np.nan, 0, r"the estimate contains 1 NaN values"),
    (np.inf, 1, r"the reference contains 1 Inf values"),
])
def test_nan_and_inf(metric, bad, which, message):
    arrays = [RNG.random((12, 12)) + 1, RNG.random((12, 12)) + 1]
    arrays[which][3, 4] = bad
    with pytest.raises(ValueError, match=rf"{metric.__name__}: {message}"):
        metric(*arrays)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: nrmse([1j, 2], [1.0, 2.0]), r"nrmse: the estimate is complex"),
    (lambda: nrmse(["a", "b"], [1.0, 2.0]), r"nrmse: the estimate must be an array of numbers"),
    (lambda: nrmse([], []), r"nrmse: the arrays are empty"),
    (lambda: nrmse([1.0, 2.0], [1.0, 2.0], fit="linear"), r"fit must be one of \('affine', None\)"),
    (lambda: nrmse([1.0, 2.0], [0.0, 0.0]), r"nrmse: the reference is zero everywhere"),
    (lambda: snr([1.0, 2.0], [0.0, 0.0]), r"snr: the reference is zero everywhere"),
    (lambda: psnr([1.0, 2.0], [3.0, 3.0]), r"psnr: the reference is constant.*give data_range"),
    (lambda: psnr([1.0, 2.0], [1.0, 3.0], data_range=-1), r"data_range must be positive"),
    (lambda: ssim(np.ones((10, 30)), np.eye(10, 30)), r"ssim: .* at least 11 voxels"),
    (lambda: flux_ratio([1.0, 2.0], [1.0, -1.0]), r"flux_ratio: the reference sums to 0"),
])
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
