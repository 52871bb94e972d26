"""lam="pure": the projected Poisson unbiased risk estimate of an iterative method's weight."""

import math
import warnings

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.methods import plan
from deconvkit.methods._auto import (
    DISCREPANCY_GRID,
    RISK_PROBE,
    choose_weight_by_risk,
    half_spectrum_counts,
    projected_error,
    projected_pure,
    risk_filter,
)
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def _gaussian_otf2(shape, width):
    """|ĥ|² of a periodic Gaussian blur of ``width`` voxels on ``shape``'s half spectrum."""
    frequencies = np.meshgrid(*[np.fft.fftfreq(n) for n in shape[:-1]],
                              np.fft.rfftfreq(shape[-1]), indexing="ij")
    return np.exp(-sum((2 * np.pi * width * f) ** 2 for f in frequencies))


@pytest.mark.parametrize("shape", [(7,), (8,), (6, 5), (4, 6)])
def test_the_projected_error_is_the_squared_norm_through_the_dense_g(shape):
    """‖G(a − r)‖², G = (H*H + η)⁻¹H* built as a dense matrix from a circulant blur: the
    half-spectrum sum (each frequency counted with its conjugate twin) is exact, for odd
    and even lengths."""
    rng = np.random.default_rng(0)
    size = math.prod(shape)
    kernel = rng.random(shape)
    kernel /= kernel.sum()
    # H's columns: the kernel circularly shifted to every voxel
    blur = np.stack([np.roll(kernel, np.unravel_index(n, shape), axis=tuple(range(len(shape))))
                     .ravel() for n in range(size)], axis=1)
    eta = 0.05
    otf2 = np.abs(np.fft.rfftn(kernel)) ** 2
    g = np.linalg.solve(blur.T @ blur + eta * np.eye(size), blur.T)
    estimate, reference = rng.normal(size=shape), rng.normal(size=shape)
    expected = float(np.sum((g @ (estimate - reference).ravel()) ** 2))
    assert projected_error(estimate, reference, risk_filter(otf2, eta)) == pytest.approx(
        expected, rel=1e-10)


def test_a_held_out_half_ranks_estimates_by_their_projected_error():
    """Against r ~ Poisson(μ/2) independent of the estimates, E‖G(a − r)‖² − E‖G(c − r)‖²
    = ‖G(a − μ/2)‖² − ‖G(c − μ/2)‖²: the noise adds the same constant to every estimate's
    score (the basis of fista's held-out stop). 400 draws, within four standard errors."""
    rng = np.random.default_rng(2)
    shape = (24, 32)
    grid = np.meshgrid(*[np.linspace(0, 2 * np.pi, n, endpoint=False) for n in shape],
                       indexing="ij")
    half = 10 + 8 * np.sin(grid[0]) ** 2 * np.cos(grid[1]) ** 2
    weights = risk_filter(_gaussian_otf2(shape, 1.2), 0.05)
    near, far = half + rng.normal(0, 1, shape), half + rng.normal(0, 3, shape)
    exact = projected_error(far, half, weights) - projected_error(near, half, weights)
    gaps = []
    for _ in range(400):
        held = rng.poisson(half).astype(np.float64)
        gaps.append(projected_error(far, held, weights) - projected_error(near, held, weights))
    gaps = np.array(gaps)
    assert exact > 0
    assert abs(gaps.mean() - exact) < 4 * gaps.std() / math.sqrt(gaps.size)
    assert np.mean(gaps > 0) > 0.99  # one held-out draw already ranks them


@pytest.mark.parametrize("shape", [(63, 64), (9, 24, 25)])
def test_pure_is_unbiased_for_an_estimate_linear_in_the_data(shape):
    """μ̂(y) = L y (a circulant smoothing): the Poisson identity is exact and the probe's
    divergence unbiased, so the mean of PURE over draws of y equals the mean of the true
    projected error (1/N)‖G(μ̂ − μ)‖² within four standard errors."""
    rng = np.random.default_rng(1)
    axes = tuple(range(len(shape)))
    grid = np.meshgrid(*[np.linspace(0, 2 * np.pi, n, endpoint=False) for n in shape],
                       indexing="ij")
    mean = 20 + 15 * np.prod([np.sin(g) ** 2 for g in grid], axis=0)
    smoothing = _gaussian_otf2(shape, 0.8)  # L's transfer function (real, symmetric)
    weights = risk_filter(_gaussian_otf2(shape, 1.5), 0.05)  # any G: a mild one, less variance

    def estimate(data):
        return np.fft.irfftn(np.fft.rfftn(data, axes=axes) * smoothing, shape, axes=axes)

    def projected_error(error):
        counts = half_spectrum_counts(shape[-1])
        return float(np.sum(weights * counts * np.abs(np.fft.rfftn(error, axes=axes)) ** 2)) \
            / error.size**2

    differences, errors = [], []
    for _ in range(600):
        y = rng.poisson(mean).astype(np.float64)
        probe = np.sqrt(y) * rng.choice([-1.0, 1.0], size=shape)
        fitted = estimate(y)
        moved = estimate(y + RISK_PROBE * probe)
        errors.append(projected_error(fitted - mean))
        differences.append(projected_pure(y, fitted, moved, probe, weights) - errors[-1])
    differences = np.array(differences)
    spread = differences.std(ddof=1) / math.sqrt(len(differences))
    assert abs(differences.mean()) < 4 * spread, (differences.mean(), spread)
    assert 4 * spread < 0.05 * np.mean(errors)  # so a bias of 5 % of the risk would be seen


@pytest.fixture(scope="module")
def cytoplasm():
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape((12, 40, 40), psf.shape), SPACING,
                              kind="cytoplasm", seed=3)
    observation = dk.simulate.observe(obj, psf, field_shape=(12, 40, 40), photons=300,
                                      background=10, seed=4)
    return observation, psf


def test_pure_tracks_the_projected_error_of_an_iterative_method(cytoplasm):
    """For admm-tv (nonlinear, 50 iterations) PURE at each λ is within 25 % of the true
    (1/N)‖G(μ̂ − μ)‖² of this one draw, μ the noiseless mean, and orders the weights as
    it does (the three errors differ by a factor 2.5).

    With a mild G (η = 0.05): the estimate's own variance grows as η shrinks (at the
    default η this 12×40×40 draw is off by up to 50 %), and this test is about the
    first-order expansion and the probe on a nonlinear solver, not about that variance.
    """
    observation, psf = cytoplasm
    chosen = plan(observation.data, psf, "admm-tv", spacing=SPACING, background=10.0,
                  lam=0.01)
    block = chosen._block(None)
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=block.shape)
    probe = np.sqrt(block.astype(np.float64)) * signs
    moved = (block + RISK_PROBE * probe).astype(np.float32)
    from deconvkit.methods._plan import _field_otf2

    weights = risk_filter(_field_otf2(chosen, block), 0.05)
    counts = half_spectrum_counts(block.shape[-1])
    estimated, true = [], []
    for lam in (1e-3, 1e-2, 1e-1):
        estimated.append(chosen._risk(block, moved, probe, weights, None, lam))
        problem, x = chosen._trial(block, None, lam)
        error = np.asarray(problem.forward @ x, np.float64) + 10.0 - observation.noiseless
        true.append(float(np.sum(weights * counts * np.abs(np.fft.rfftn(error)) ** 2))
                    / error.size**2)
    np.testing.assert_allclose(estimated, true, rtol=0.25)
    assert np.argsort(estimated).tolist() == np.argsort(true).tolist()


def test_the_risk_search_finds_an_interior_minimum_within_its_resolution():
    """On a risk with its minimum at λ = 10^-2.3 the choice is within 10^(1/8) of it."""
    seen = []

    def risk(lam):
        seen.append(lam)
        return (math.log10(lam) + 2.3) ** 2

    choice = choose_weight_by_risk(risk, "test")
    assert abs(math.log10(choice.value) + 2.3) <= 1 / 8 + 1e-12
    assert choice.criterion == "PURE" and not choice.at_edge
    assert set(DISCREPANCY_GRID) <= set(choice.grid) and len(seen) == len(choice.grid) == 10
    assert choice.scores[choice.grid.index(choice.value)] == min(choice.scores)


@pytest.mark.parametrize("slope, end", [(1.0, min(DISCREPANCY_GRID)),
                                        (-1.0, max(DISCREPANCY_GRID))])
def test_a_risk_with_no_minimum_in_the_range_says_so_and_takes_its_end(slope, end):
    with pytest.warns(UserWarning, match="no minimum in"):
        choice = choose_weight_by_risk(lambda lam: slope * math.log10(lam), "test")
    assert choice.value == end and choice.at_edge


def test_a_risk_that_is_never_finite_is_refused_in_one_line():
    with pytest.raises(ValueError, match="not finite at any weight"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        choose_weight_by_risk(lambda lam: math.nan, "test")


def test_the_plan_chooses_by_pure_when_asked_and_every_tile_uses_it(cytoplasm):
    observation, psf = cytoplasm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = plan(observation.data, psf, "rltv", spacing=SPACING, background=10.0,
                      lam="pure", max_iter=10)
    choice = chosen.weight_choice
    assert choice.criterion == "PURE" and chosen.values["lam"] == choice.value
    assert min(DISCREPANCY_GRID) <= choice.value <= max(DISCREPANCY_GRID)
    assert "lam='pure'" in chosen.notes[-1] and f"{2 * len(choice.grid)} solves" in \
        chosen.notes[-1]
    common = dict(spacing=SPACING, background=10.0, max_iter=10, tile_shape=(12, 24, 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automatic = dk.deconvolve(observation.data, psf, "rltv", lam="pure", **common)
    fixed = dk.deconvolve(observation.data, psf, "rltv", lam=choice.value, **common)
    np.testing.assert_array_equal(automatic, fixed)


@pytest.mark.parametrize("word, rule", [("auto", "pure"), ("discrepancy", "discrepancy"),
                                        ("PURE", "pure")])
def test_a_weight_rule_is_taken_by_name(word, rule):
    """``lam="auto"`` is the default rule (PURE: as often within 3 % of the best as the
    discrepancy principle on the benchmark, more robust); each can be asked for by name."""
    spec = dk.methods.get("admm-hessian")
    assert spec.validate({"lam": word})["lam"] == word.lower()
    assert dk.methods.WEIGHT_RULES[0] == "pure" and rule in dk.methods.WEIGHT_RULES
    assert "'pure'" in spec.describe()


def test_a_closed_form_refuses_a_rule_it_has_not():
    with pytest.raises(ValueError, match="nsr must be a number or 'auto', got 'pure'"):
        dk.methods.get("wif").validate({"nsr": "pure"})


@pytest.mark.parametrize("rule", ["auto", "discrepancy"])
def test_an_image_of_background_alone_is_refused_in_one_line(rule):
    """Poisson noise about the background and nothing else: no weight to choose."""
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    y = np.random.default_rng(0).poisson(10.0, (8, 24, 24)).astype(np.float32)
    with pytest.raises(ValueError, match=rf"rltv: lam='{rule}' needs light above the "
                                         r"background.*give lam a number"):
        plan(y, psf, "rltv", lam=rule, background=10.0, max_iter=3)
