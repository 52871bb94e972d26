"""The catalogue: every method restores, the filters are the solvers' limits, DL2's defects are gone."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import deconvkit as dk
from deconvkit import metrics
from deconvkit.methods import available, get, memory_estimate, run

SPACING = (0.25, 0.1, 0.1)
BACKGROUND = 20.0


@pytest.fixture(scope="module")
def psf():
    return dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)


def _observe(kind, psf):
    obj = dk.simulate.phantom((24, 56, 56), SPACING, kind=kind, seed=3)
    return dk.simulate.observe(obj, psf, photons=500, background=BACKGROUND, seed=4)


@pytest.fixture(scope="module")
def filaments(psf):
    return _observe("filaments", psf)


@pytest.fixture(scope="module")
def beads(psf):
    return _observe("beads", psf)


# NRMSE (after the affine fit) of the default result over that of the observation, on a
# 16x40x40 field at 500 photons. Measured values in comments; the bound leaves a margin.
FILAMENT_RATIO = {
    "nif": 0.97,  # 0.949
    "wif": 0.96,  # 0.938
    "trif": 0.96,  # 0.938
    "rif": 0.93,  # 0.905
    "lw": 0.94,  # 0.913
    "lw+": 0.87,  # 0.832
    "tm": 0.97,  # 0.943
    "ictm": 0.93,  # 0.905
    "ista": 0.87,  # 0.831
    "fista": 0.91,  # 0.873
    "rl": 0.45,  # 0.392
    "rl-accelerated": 0.50,  # 0.450
    "rl-wb": 0.56,  # 0.530 at its 10 iterations (0.547 with the margin frozen at 0)
    "rltv": 0.45,  # 0.395
    "admm-tv": 0.47,  # 0.419
    "admm-hessian": 0.45,  # 0.394
    "pd-tv": 0.85,  # 0.783: no inner solve, slow on Poisson data
}

# Sub-resolution beads: a linear filter cannot sharpen a point much under the affine-fit
# NRMSE; the non-negative and Poisson methods do. (The unregularized least-squares methods
# stop early by default, 10-30 iterations, so as never to end worse than the data on dim
# mixed specimens; on beads they need more, or stop="auto".)
BEAD_RATIO = {
    "lw+": 0.99,  # 0.969
    "rl": 0.40,  # 0.318
    "rl-accelerated": 0.50,  # 0.433
    "rltv": 0.40,  # 0.310
    "admm-tv": 0.80,  # 0.734
    "admm-hessian": 0.78,  # 0.701
}


def test_the_catalogue_lists_dl2s_methods_and_ours():
    names = set(available())
    assert {"nif", "wif", "trif", "rif", "lw", "lw+", "rl", "rltv", "tm", "ictm", "ista",
            "fista"} <= names
    assert {"admm-tv", "admm-hessian", "pd-tv", "rl-accelerated"} <= names
    assert set(FILAMENT_RATIO) == names
    assert get("NNLS") is get("lw+")
    for method in available().values():
        assert method.summary and method.solver and method.model
        parameter_names = {p.name for p in method.all_parameters}
        assert {"boundary", "background", "spacing"} <= parameter_names
        assert ("max_iter" in parameter_names) == method.iterative


@pytest.mark.parametrize("method", sorted(FILAMENT_RATIO))
def test_every_method_restores_filaments(method, psf, filaments):
    result = run(filaments.data, psf, method, background=BACKGROUND, spacing=SPACING)
    assert result.x.shape == filaments.data.shape
    assert result.x.dtype == np.float32
    assert not result.diverged
    before = metrics.nrmse(filaments.data, filaments.ground_truth)
    after = metrics.nrmse(result.x, filaments.ground_truth)
    assert after < FILAMENT_RATIO[method] * before


@pytest.mark.parametrize("method", sorted(BEAD_RATIO))
def test_sparse_and_poisson_methods_restore_beads(method, psf, beads):
    x = dk.deconvolve(beads.data, psf, method, background=BACKGROUND, spacing=SPACING)
    before = metrics.nrmse(beads.data, beads.ground_truth)
    assert metrics.nrmse(x, beads.ground_truth) < BEAD_RATIO[method] * before


# -- closed forms are the limits of the iterative solvers ------------------------------
def _asymmetric_problem():
    rng = np.random.default_rng(0)
    psf = np.zeros((5, 7, 7))
    psf[1:4, 2:6, 1:5] = rng.uniform(0.2, 1.0, (3, 4, 4))  # no symmetry: a complex OTF
    psf[2, 3, 3] = 3.0
    truth = rng.uniform(0, 10, (8, 12, 12))
    image = np.real(np.fft.ifftn(np.fft.fftn(truth) * _otf(psf, truth.shape)))
    return image + rng.normal(0, 0.1, image.shape), psf


def _otf(psf, shape):
    padded = np.zeros(shape)
    padded[tuple(slice(0, n) for n in psf.shape)] = psf / psf.sum()
    padded = np.roll(padded, [-(n // 2) for n in psf.shape], axis=(0, 1, 2))
    return np.fft.fftn(padded)


def test_trif_is_the_textbook_filter_with_the_modulus_squared():
    """x = conj(H) Y / (|H|² + λ): DeconvolutionLab2's H² instead of |H|² is 15–76 % off."""
    image, psf = _asymmetric_problem()
    lam = 0.05
    x = run(image.astype(np.float64), psf, "trif", lam=lam, boundary="periodic").x
    otf = _otf(psf, image.shape)
    expected = np.real(np.fft.ifftn(np.conj(otf) * np.fft.fftn(image) / (np.abs(otf) ** 2 + lam)))
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    wrong = np.real(np.fft.ifftn(np.conj(otf) * np.fft.fftn(image) / (otf**2 + lam)))
    assert np.linalg.norm(wrong - expected) > 0.05 * np.linalg.norm(expected)


@pytest.mark.parametrize(("closed", "regularization", "lam"),
                         [("trif", "identity", 0.3), ("rif", "laplacian", 0.3)])
def test_the_filters_equal_tm_run_to_convergence(closed, regularization, lam):
    image, psf = _asymmetric_problem()
    image = image.astype(np.float64)
    x = run(image, psf, closed, lam=lam, boundary="periodic").x
    tm = run(image, psf, "tm", lam=lam, regularization=regularization, boundary="periodic",
             max_iter=3000, rel_tol=1e-10, gamma=1.9)
    np.testing.assert_allclose(tm.x, x, atol=1e-4 * np.abs(x).max())


def test_wif_is_trif_with_the_noise_to_signal_ratio():
    image, psf = _asymmetric_problem()
    np.testing.assert_array_equal(run(image, psf, "wif", nsr=0.1, boundary="periodic").x,
                                  run(image, psf, "trif", lam=0.1, boundary="periodic").x)


# -- DeconvolutionLab2's defects ----------------------------------------------------------
def test_projection_at_every_iteration_is_not_a_clip_at_the_end(psf, filaments):
    """LW+/NNLS and ICTM project every iteration; clipping LW's result is another (worse) thing."""
    data = filaments.data
    common = dict(background=BACKGROUND, spacing=SPACING, max_iter=30)
    projected = run(data, psf, "lw+", **common).x
    clipped = np.maximum(run(data, psf, "lw", **common).x, 0)
    assert projected.min() >= 0
    assert np.linalg.norm(projected - clipped) > 0.05 * np.linalg.norm(clipped)
    truth = filaments.ground_truth
    assert metrics.nrmse(projected, truth) < metrics.nrmse(clipped, truth)


def test_tm_defaults_cannot_diverge_in_3d(psf, filaments):
    result = run(filaments.data, psf, "tm", background=BACKGROUND, max_iter=60)
    objective = np.asarray(result.history["objective"])
    assert not result.diverged and np.all(np.isfinite(result.x))
    assert np.all(np.diff(objective) <= 1e-6 * abs(objective[0]))  # monotone: step 1/L


def test_rl_takes_the_background(psf, filaments):
    data, truth = filaments.data, filaments.ground_truth
    with_b = dk.deconvolve(data, psf, "rl", background=BACKGROUND, max_iter=30)
    without = dk.deconvolve(data, psf, "rl", background=0.0, max_iter=30)
    auto = run(data, psf, "rl", background="auto", max_iter=30)
    assert metrics.nrmse(with_b, truth) < metrics.nrmse(without, truth)
    assert 0 < auto.parameters["background"] < np.median(data)


def test_the_voxel_size_is_carried_into_the_regularizer(psf, filaments):
    data = filaments.data
    common = dict(background=BACKGROUND, max_iter=10, lam=0.05)
    isotropic = run(data, psf, "admm-tv", spacing=(0.1, 0.1, 0.1), **common)
    anisotropic = run(data, psf, "admm-tv", spacing=(0.5, 0.1, 0.1), **common)
    assert anisotropic.parameters["spacing"] == (0.5, 0.1, 0.1)
    assert np.linalg.norm(isotropic.x - anisotropic.x) > 1e-3 * np.linalg.norm(isotropic.x)


def test_a_tall_psf_is_kept_whole_on_the_extended_domain():
    """DL2 cropped a 63-plane PSF to a 32-plane image; here the result equals the one on an
    explicitly padded periodic domain."""
    zz = np.arange(63) - 31
    psf = np.exp(-zz[:, None, None] ** 2 / 200.0 - (np.arange(5)[None, :, None] - 2) ** 2
                 - (np.arange(5)[None, None, :] - 2) ** 2)
    image = np.random.default_rng(1).uniform(50, 60, (32, 12, 12)).astype(np.float32)
    result = run(image, psf, "rl", max_iter=3)
    assert result.x.shape == image.shape
    problem = dk.methods.prepare(image, psf)
    assert problem.psf.shape == psf.shape and problem.shape[0] >= 32 + 63 - 1


# -- boundaries -----------------------------------------------------------------------
def test_extended_beats_periodic_near_a_border_that_cuts_bright_objects(psf):
    obj = np.zeros((24, 56, 56), np.float32)
    obj[8:16, 20:36, 2:12] = 1.0  # a bright block cut by the field's left edge (x = 8)
    obj[10:14, 26:30, 30:34] = 1.0
    obs = dk.simulate.observe(obj, psf, photons=400, background=BACKGROUND, seed=5)
    truth = obs.ground_truth
    border = (slice(None), slice(None), slice(0, 6))
    errors = {}
    for boundary in ("extended", "periodic"):
        x = dk.deconvolve(obs.data, psf, "rl", boundary=boundary, background=BACKGROUND,
                          max_iter=40)
        errors[boundary] = np.linalg.norm(x[border] - truth[border]) / np.linalg.norm(truth[border])
    assert errors["extended"] < 0.8 * errors["periodic"]


@pytest.mark.parametrize("boundary", ["extended", "periodic", "reflect"])
def test_every_boundary_returns_the_image_shape(boundary, psf, filaments):
    for method in ("wif", "rl"):
        params = {"max_iter": 3} if get(method).iterative else {}
        x = dk.deconvolve(filaments.data, psf, method, boundary=boundary, **params)
        assert x.shape == filaments.data.shape


# -- stopping --------------------------------------------------------------------------
def test_auto_stop_tracks_quality_not_early_quitting(psf, filaments):
    """The discrepancy principle stops near the best iteration; a 5 % relative-change rule
    stops far earlier, before the gain."""
    data, truth = filaments.data, filaments.ground_truth
    common = dict(background=BACKGROUND, spacing=SPACING, ground_truth=truth)
    full = run(data, psf, "rl", max_iter=150, **common)
    best_iteration, best = full.best()
    auto = run(data, psf, "rl", stop="auto", max_iter=150, **common)
    early = run(data, psf, "rl", rel_tol=0.05, max_iter=150, **common)
    assert auto.converged and "discrepancy" in auto.stop_reason
    assert early.n_iter < auto.n_iter
    assert metrics.nrmse(auto.x, truth) < 1.25 * best  # measured: 1.17
    assert metrics.nrmse(early.x, truth) > metrics.nrmse(auto.x, truth)
    assert best_iteration > early.n_iter


def test_auto_stop_judges_the_voxels_with_signal(psf, beads):
    """On sparse beads the dark background cannot over-fit (positivity): the rule judges the
    voxels with signal, and RL runs on while it gains (measured: to the cap, at the best;
    the whole-image rule 2·KL/N ≤ 1 stopped at iteration 70, 1.71× the best NRMSE)."""
    data, truth = beads.data, beads.ground_truth
    common = dict(background=BACKGROUND, spacing=SPACING, ground_truth=truth, max_iter=150)
    best = run(data, psf, "rl", **common).best()[1]
    auto = run(data, psf, "rl", stop="auto", **common)
    assert auto.n_iter > 100 and metrics.nrmse(auto.x, truth) < 1.1 * best


def test_auto_stop_for_least_squares(psf, filaments):
    truth = filaments.ground_truth
    result = run(filaments.data, psf, "fista", stop="auto", max_iter=200, background=BACKGROUND,
                 ground_truth=truth)
    assert result.converged and result.n_iter < 200
    assert metrics.nrmse(result.x, truth) < 1.05 * result.best()[1]  # measured: at the best


def test_history_tracks_the_metrics_per_iteration(psf, filaments):
    result = run(filaments.data, psf, "rl", max_iter=12, ground_truth=filaments.ground_truth,
                 background=BACKGROUND)
    assert len(result.history["nrmse"]) == 13
    assert result.history["nrmse"][-1] == pytest.approx(
        metrics.nrmse(result.x, filaments.ground_truth), rel=1e-6)
    closed = run(filaments.data, psf, "wif", ground_truth=filaments.ground_truth)
    assert closed.n_iter == 0 and len(closed.history["nrmse"]) == 1


def test_warm_start_continues(psf, filaments):
    data = filaments.data
    first = run(data, psf, "lw+", max_iter=10, background=BACKGROUND)
    second = run(data, psf, "lw+", max_iter=10, background=BACKGROUND, x0=first.x)
    # the margin outside the field restarts flat, so the start is near, not at, the end
    assert second.history["objective"][0] < 0.5 * first.history["objective"][0]
    assert second.history["objective"][-1] < first.history["objective"][-1]


# -- bad input --------------------------------------------------------------------------
def test_unknown_method_lists_the_available_ones(psf, filaments):
    with pytest.raises(ValueError, match="unknown method 'richardson'.*available methods: .*rl"):
        run(filaments.data, psf, "richardson")


def test_unknown_parameter_names_the_methods_parameters(psf, filaments):
    with pytest.raises(ValueError, match="rltv has no parameter 'lambda'.*lam"):
        run(filaments.data, psf, "rltv", **{"lambda": 0.1})


def test_psf_with_nan(psf, filaments):
    bad = psf.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="PSF contains NaN"):
        dk.deconvolve(filaments.data, bad)


def test_a_3d_psf_for_a_2d_image(psf):
    with pytest.raises(ValueError, match="PSF has 3 axes but the image has 2"):
        dk.deconvolve(np.ones((32, 32), np.float32), psf)


@pytest.mark.parametrize("value", [0, -3, 2.5])
def test_max_iter_must_be_a_positive_whole_number(value, psf, filaments):
    with pytest.raises(ValueError, match="max_iter"):
        run(filaments.data, psf, "rl", max_iter=value)


def test_negative_data_for_a_poisson_method(psf, filaments):
    data = filaments.data - 2 * BACKGROUND
    with pytest.raises(ValueError, match="negative voxels.*clip_negative=True"):
        run(data, psf, "rl", max_iter=2)
    assert run(data, psf, "rl", max_iter=2, clip_negative=True).x.min() >= 0


def test_nan_in_the_image(psf, filaments):
    data = filaments.data.copy()
    data[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        dk.deconvolve(data, psf)


def test_memory_estimate_counts_the_extended_domain():
    extended = memory_estimate((64, 256, 256), (63, 127, 127), "rl")
    periodic = memory_estimate((64, 256, 256), (63, 127, 127), "rl", boundary="periodic")
    assert periodic < extended
    assert memory_estimate((64, 256, 256), (63, 127, 127), "admm-hessian") > extended
    # the registry's arrays of the 128x384x384 float32 domain, plus input and output
    assert extended == 4 * (get("rl").arrays * 128 * 384 * 384 + 2 * 64 * 256 * 256)


@pytest.mark.parametrize("method", available())
def test_memory_estimate_bounds_the_measured_peak(method):
    # numpy reports its buffers to tracemalloc: the estimate must cover what a run
    # allocates (FFT-internal scratch aside) without asking for far more
    image = np.random.default_rng(0).poisson(50.0, (24, 96, 96)).astype(np.float32)
    psf = dk.psf.gaussian((9, 21, 21), spacing=(0.3, 0.1, 0.1), na=1.2, wavelength=0.52, ni=1.33)
    spec = get(method)
    run(image, psf, method=method, **({"max_iter": 1} if spec.iterative else {}))  # compile kernels
    tracemalloc.start()
    try:
        run(image, psf, method=method, **({"max_iter": 2} if spec.iterative else {}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = memory_estimate(image.shape, psf.shape, method)
    assert peak <= estimate <= 1.5 * peak, f"{method}: peak {peak / 2**20:.1f} MiB, estimate {estimate / 2**20:.1f} MiB"


@pytest.mark.parametrize("method", ["admm-tv", "admm-hessian", "pd-tv", "rl"])
def test_poisson_methods_run_without_a_background(method, psf, filaments):
    """With b = 0, A x = 0 somewhere makes the likelihood +inf early on: not divergence."""
    result = run(filaments.data, psf, method, max_iter=8)
    assert result.n_iter == 8 and not result.diverged
    assert np.all(np.isfinite(result.x))
