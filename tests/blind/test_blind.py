"""Semi-blind (Zernike) and blind (Fish et al.) deconvolution on small simulated stacks.

The truth is a matched-medium oil objective with 0.4 rad of astigmatism (Z6)
and 0.8 rad of primary spherical aberration (Z11), so it is exactly a
Zernike pupil; the estimators start from the aberration-free model. Sizes
are small (12x32x32) and the rounds few, so these check the direction and
the bookkeeping; benchmarks/bench_blind.py measures how far they get.
"""

from __future__ import annotations

import numpy as np
import pytest

import deconvkit as dk
from deconvkit import psf, simulate
from deconvkit.blind import BlindResult
from deconvkit.blind._common import Domain, has_structure
from deconvkit.blind._fish import otf_support, psf_support
from deconvkit.blind._zernike import ZernikeEstimator
from deconvkit.costs import Cost
from deconvkit.operators import extended_shape
from deconvkit.testing import check_gradient

SPACING = (0.2, 0.1, 0.1)
FIELD = (12, 32, 32)
PSF_SHAPE = (11, 31, 31)
TRUTH = {6: 0.4, 11: 0.8}
MODEL = {"na": 1.3, "wavelength": 0.52, "ni": 1.515, "oversample": 1, "pupil_samples": 64}
OPTICS = {"na": 1.3, "wavelength": 0.52, "ni": 1.515}


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = (np.asarray(v, float).ravel() for v in (a, b))
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@pytest.fixture(scope="module")
def stack():
    true_psf = psf.zernike(PSF_SHAPE, SPACING, **OPTICS, coefficients=TRUTH, oversample=1,
                           pupil_samples=64)  # fmt: skip
    start_psf = psf.zernike(PSF_SHAPE, SPACING, **OPTICS, oversample=1, pupil_samples=64)
    obj = simulate.phantom(extended_shape(FIELD, PSF_SHAPE), SPACING, seed=0, kind="filaments")
    observation = simulate.observe(obj, true_psf, field_shape=FIELD, photons=3000,
                                   background=10, seed=1)  # fmt: skip
    return observation, true_psf, start_psf


@pytest.fixture(scope="module")
def semi_blind(stack):
    observation = stack[0]
    return dk.blind_deconvolve(observation.data, psf_model=MODEL, spacing=SPACING, background=10.0,
                               modes=(6, 11), max_iter=20, psf_iter=3, object_iter=10)  # fmt: skip


def test_semi_blind_moves_the_coefficients_towards_the_truth(stack, semi_blind):
    _, true_psf, start_psf = stack
    result = semi_blind
    assert isinstance(result, BlindResult)
    assert set(result.coefficients) == {6, 11}
    # both coefficients head for the truth, from zero, without overshooting
    assert 0.05 < result.coefficients[6] < 0.6
    assert 0.15 < result.coefficients[11] < 1.0
    assert ncc(result.psf, true_psf) > ncc(start_psf, true_psf) + 0.05
    # each round lowers the (profile) Poisson likelihood
    assert np.all(np.diff(result.history["objective"]) < 0)
    assert len(result.history["objective"]) >= 2
    assert result.info["identifiable"] and not result.info["diverged"]


def test_semi_blind_result_follows_the_conventions(stack, semi_blind):
    result = semi_blind
    assert result.x.shape == FIELD and result.x.dtype == np.float32
    assert result.psf.shape == PSF_SHAPE and result.psf.dtype == np.float32
    assert float(result.psf.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert np.all(result.psf >= 0) and np.all(result.x >= 0)
    # the final PSF has its focus on the centre plane, as every deconvkit PSF
    assert np.unravel_index(np.argmax(result.psf), PSF_SHAPE)[0] == PSF_SHAPE[0] // 2
    # the first object, one per trial step of each round's line search, and the final one
    assert result.info["n_object_iter"] >= 10 * (1 + len(result.history["round"])) + 20
    assert set(result.history["step"]) <= {1.0, 2.0, 4.0, 8.0}
    assert all(np.isfinite(v) for v in result.info["coefficient_std"].values())
    assert dk.blind_deconvolve is dk.blind.blind_deconvolve and "blind_deconvolve" in dk.__all__


class _CoefficientCost(Cost):
    """c -> the Poisson NLL of S(h(c) * x) + b, x fixed: the semi-blind PSF step's objective."""

    smooth = True

    def __init__(self, estimator, x, y):
        super().__init__((int(estimator.estimated.sum()),))
        self.estimator, self.y = estimator, y
        self.x_spectrum = estimator.domain.spectrum(x)
        self.c = estimator.c0.copy()

    def _value(self, active):
        return self.estimator._objective(active, self.c, self.estimator.estimated, self.y, 10.0,
                                         self.x_spectrum)[0]  # fmt: skip

    def _grad(self, active):
        return self.estimator._objective(active, self.c, self.estimator.estimated, self.y, 10.0,
                                         self.x_spectrum)[1]  # fmt: skip


def test_coefficient_step_gradient_matches_finite_differences(stack):
    observation = stack[0]
    domain = Domain(FIELD, (7, 15, 15))
    estimator = ZernikeEstimator(domain, SPACING, {**MODEL, "pupil_samples": 48}, (5, 8, 11))
    x = np.random.default_rng(2).uniform(0.5, 2.0, domain.shape)
    y = np.clip(observation.data, 0, None).astype(np.float64)
    check_gradient(_CoefficientCost(estimator, x, y), np.array([0.2, -0.1, 0.3, 0.05]), rtol=1e-5)


def test_blur_and_psf_correlation_are_adjoint():
    """<S(h * x), r> = <h, (S^H r) * x>: the PSF gradient is the exact adjoint."""
    rng = np.random.default_rng(3)
    domain = Domain((6, 10, 9), (5, 7, 5))
    h, x, r = rng.random(domain.psf_shape), rng.random(domain.shape), rng.standard_normal((6, 10, 9))
    spectrum = domain.spectrum(x)
    lhs = np.vdot(domain.blur(domain.kernel_spectrum(h), spectrum), r)
    rhs = np.vdot(h, domain.correlate(r, spectrum))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_blind_rl_keeps_the_psf_a_microscope_psf(stack):
    observation, true_psf, _ = stack
    result = dk.blind_deconvolve(observation.data, psf_model=MODEL, spacing=SPACING,
                                 background=10.0, estimate="blind", max_iter=10, psf_iter=3,
                                 object_iter=5)  # fmt: skip
    estimate = result.psf.astype(np.float64)
    assert result.coefficients == {}
    assert float(estimate.sum()) == pytest.approx(1.0, abs=1e-5) and estimate.min() >= 0
    assert np.all(estimate[~psf_support(PSF_SHAPE, SPACING, **OPTICS)] == 0)
    spectrum = np.abs(np.fft.fftn(estimate)) ** 2
    outside = spectrum[~otf_support(PSF_SHAPE, SPACING, **OPTICS)].sum() / spectrum.sum()
    assert outside < 1e-3  # band-limited up to the final clipping of negatives
    assert np.all(np.diff(result.history["objective"]) < 0)
    assert ncc(estimate, true_psf) > 0.5


def test_otf_support_holds_the_true_spectrum(stack):
    true_psf = stack[1].astype(np.float64)
    spectrum = np.abs(np.fft.fftn(true_psf)) ** 2
    mask = otf_support(PSF_SHAPE, SPACING, **OPTICS)
    # 0.45 % leaks out: the box (±1 µm axially) truncates the PSF, which spreads its spectrum
    assert spectrum[~mask].sum() / spectrum.sum() < 1e-2
    assert 0.05 < mask.mean() < 0.9  # and it does cut something


def test_flat_image_is_not_identifiable_and_returns_the_initial_psf(stack):
    flat = np.random.default_rng(4).poisson(20.0, FIELD).astype(np.float32)
    assert not has_structure(flat, 10.0)
    result = dk.blind_deconvolve(flat, psf_model=MODEL, spacing=SPACING, background=10.0,
                                 modes=(6, 11), max_iter=3, psf_iter=3)  # fmt: skip
    assert result.info["identifiable"] is False
    assert "not identifiable" in result.info["stop_reason"]
    assert result.coefficients == {6: 0.0, 11: 0.0} and result.history["round"] == []
    np.testing.assert_allclose(result.psf, stack[2], atol=2e-6)


def test_unidentifiable_modes_are_frozen_by_their_cramer_rao_bound(stack):
    result = dk.blind_deconvolve(stack[0].data, psf_model=MODEL, spacing=SPACING, background=10.0,
                                 modes=(6, 11), max_iter=3, psf_iter=2, max_std=1e-9)  # fmt: skip
    assert result.info["identifiable"] is False
    assert "Cramér–Rao" in result.info["stop_reason"]
    assert result.coefficients == {6: 0.0, 11: 0.0}


def test_divergence_stops_and_keeps_the_best_estimate(stack, monkeypatch):
    original = ZernikeEstimator.update
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        c, value = original(self, *args, **kwargs)
        return (c, value) if calls["n"] == 1 else (c + 5.0, float("nan"))

    monkeypatch.setattr(ZernikeEstimator, "update", failing)
    result = dk.blind_deconvolve(stack[0].data, psf_model=MODEL, spacing=SPACING, background=10.0,
                                 modes=(6, 11), max_iter=3, psf_iter=3, object_iter=3)  # fmt: skip
    assert result.info["diverged"] is True
    assert any("diverged" in m for m in result.info["messages"])
    assert result.history["round"] == [1]  # the round that worked
    assert result.coefficients == pytest.approx(dict(zip((6, 11), result.history["coefficients"][0])))


def test_semi_blind_under_a_known_light_sheet_estimates_the_pupil():
    # a light-sheet PSF (detection NA 1.1 in water, 0.6 rad of spherical aberration,
    # times a sheet of FWHM 0.8 µm): with the sheet known, Z11 heads for the truth and the PSF
    # for the measured one
    spacing, field, shape = (0.1, 0.1, 0.1), (16, 32, 32), (15, 21, 21)
    optics = {"na": 1.1, "wavelength": 0.52, "ni": 1.333, "oversample": 1, "pupil_samples": 48,
              "sheet_fwhm": 0.8}
    true_psf = psf.zernike(shape, spacing, **optics, coefficients={11: 0.6})
    start_psf = psf.zernike(shape, spacing, **optics)
    obj = simulate.phantom(extended_shape(field, shape), spacing, seed=0, kind="filaments")
    observation = simulate.observe(obj, true_psf, field_shape=field, photons=3000,
                                   background=10, seed=1)  # fmt: skip
    result = dk.blind_deconvolve(observation.data, psf_model=optics, spacing=spacing,
                                 background=10.0, modes=(11,), max_iter=10, psf_iter=3,
                                 object_iter=10, psf_shape=shape)  # fmt: skip
    assert 0.05 < result.coefficients[11] < 0.9  # towards 0.6 (NA 1.1: weakly identified here)
    assert ncc(result.psf, true_psf) > ncc(start_psf, true_psf)
    # the estimate is a light-sheet PSF: the sheet's profile cuts its planes away from focus
    assert result.psf[0].sum() < 0.25 * start_psf[shape[0] // 2].sum()
    with pytest.raises(ValueError, match="sheet_fwhm"):
        dk.blind_deconvolve(observation.data, psf_model={**optics, "sheet_fwhm": -1.0},
                            spacing=spacing, background=10.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"psf_model": {"na": 1.3, "ni": 1.515}}, "missing 'wavelength'"),
     ({"psf_model": {**OPTICS, "depht": 3.0}}, "unknown parameter"),
     ({"modes": (0, 11)}, "out of range"), ({"modes": (5, 300)}, "out of range"),
     ({"modes": ()}, "modes is empty"), ({"modes": (11, 11)}, "repeats"),
     ({"estimate": "full"}, "estimate must be one of"), ({"method": "admm"}, "method must be"),
     ({"psf_model": None}, "needs psf_model"), ({"spacing": None}, "spacing"),
     ({"background": -1.0}, "background"), ({"psf_iter": -1}, "psf_iter"),
     ({"psf_model": {**OPTICS, "model": "paraxial"}}, "'scalar' or 'vectorial'")],
)  # fmt: skip
def test_bad_input_says_what_is_wrong(kwargs, message):
    image = np.ones(FIELD, np.float32)
    arguments = {"psf_model": MODEL, "spacing": SPACING, **kwargs}
    with pytest.raises(ValueError, match=message):
        dk.blind_deconvolve(image, **arguments)


def test_wrong_types_are_type_errors():
    image = np.ones(FIELD, np.float32)
    with pytest.raises(TypeError, match="psf_model must be a mapping"):
        dk.blind_deconvolve(image, psf_model=[1.3, 0.52], spacing=SPACING)
    with pytest.raises(TypeError, match="integer Noll index"):
        dk.blind_deconvolve(image, psf_model=MODEL, spacing=SPACING, modes=(5.5,))
    with pytest.raises(TypeError, match="sequence of Noll indices"):
        dk.blind_deconvolve(image, psf_model=MODEL, spacing=SPACING, modes=11)


def test_bad_images_and_starting_psfs_are_refused():
    with pytest.raises(ValueError, match="3D ZYX"):
        dk.blind_deconvolve(np.ones((32, 32)), psf_model=MODEL, spacing=SPACING)
    with pytest.raises(ValueError, match="odd"):
        dk.blind_deconvolve(np.ones(FIELD), np.ones((4, 9, 9)), estimate="blind")
    with pytest.raises(ValueError, match="needs a starting PSF"):
        dk.blind_deconvolve(np.ones(FIELD), estimate="blind")
