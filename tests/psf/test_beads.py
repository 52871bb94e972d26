"""Experimental PSFs: from_beads on synthetic bead stacks, prepare on shifted PSFs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal.windows import tukey

from deconvkit import psf as dkpsf

from .helpers import bead_stack, fourier_shift, relative_error

SPACING = (0.2, 0.1, 0.1)
BOX = (21, 31, 31)
STACK_SHAPE = (40, 160, 160)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    """A widefield PSF (NA 1.2, 0.6 µm, oil) tapered to zero at its box edges.

    Tapered so that it is compact and smooth: copies translated by a phase ramp
    are then exact, and neighbouring beads do not overlap.
    """
    window = tukey(BOX[0], 0.5)[:, None, None] * tukey(BOX[1], 0.5)[None, :, None]
    window = window * tukey(BOX[2], 0.5)[None, None, :]
    psf = dkpsf.born_wolf(BOX, SPACING, 1.2, 0.6, 1.515, oversample=1).astype(float) * window
    return psf / psf.sum()


def grid_of_beads(rng: np.random.Generator) -> np.ndarray:
    """3 x 3 beads 36 voxels apart laterally, at random sub-voxel positions."""
    return np.array(
        [
            (20 + rng.uniform(-2, 2), y + rng.uniform(-0.5, 0.5), x + rng.uniform(-0.5, 0.5))
            for y in range(28, 132, 36)
            for x in range(28, 132, 36)
        ]
    )


@pytest.fixture(scope="module")
def beads(truth):
    rng = np.random.default_rng(0)
    positions = grid_of_beads(rng)
    photons = rng.uniform(0.7, 1.3, len(positions)) * 3e5  # peak ~ 1500-2800 counts
    stack, clean = bead_stack(truth, STACK_SHAPE, positions, photons, background=100.0, rng=rng)
    return stack, clean, positions


def matched_distances(found: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.linalg.norm(found[:, None, :] - true[None, :, :], axis=2).min(axis=1)


def test_from_beads_recovers_the_psf(truth, beads):
    """Poisson noise, 9 beads, seed 0: relative L2 error 0.045 (bound 0.06).

    The noise floor is about dispersion / sqrt(n) = 0.10 / 3; noise-free the
    error is below 0.01 (registration and cubic resampling).
    """
    stack, _, positions = beads
    psf, report = dkpsf.from_beads(stack, SPACING, shape=BOX, taper=0.0)
    assert report.n_beads == 9
    assert report.rejected_border == report.rejected_crowded == 0
    assert relative_error(psf, truth) < 0.06
    assert relative_error(psf, truth) < 1.5 * report.dispersion / np.sqrt(report.n_beads) + 0.01
    assert matched_distances(report.positions, positions).max() < 0.1  # voxels
    np.testing.assert_allclose(report.backgrounds, 100.0, atol=3.0)
    np.testing.assert_allclose(report.positions_um, report.positions * np.array(SPACING))


def test_from_beads_without_noise_is_accurate(truth, beads):
    _, clean, _ = beads
    psf, report = dkpsf.from_beads(clean, SPACING, shape=BOX, taper=0.0)
    assert relative_error(psf, truth) < 0.015
    assert report.dispersion < 0.02


def test_from_beads_output_contract(beads):
    stack, _, _ = beads
    psf, report = dkpsf.from_beads(stack, SPACING, shape=BOX)
    assert psf.dtype == np.float32 and psf.shape == BOX
    assert np.unravel_index(np.argmax(psf), BOX) == tuple(n // 2 for n in BOX)
    assert psf.min() >= 0
    assert float(psf.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    # The Tukey window brings the faces down.
    assert psf[0].max() < 0.2 * psf[BOX[0] // 2].max()
    text = str(report)
    assert "beads used: 9 of 9 candidates" in text and "dispersion" in text


def test_given_positions_are_snapped_to_the_beads(truth, beads):
    stack, _, positions = beads
    rough = np.round(positions) + np.array([1, -1, 1])  # one voxel off on each axis
    psf, report = dkpsf.from_beads(stack, SPACING, shape=BOX, positions=rough, taper=0.0)
    assert report.n_beads == 9 and np.isnan(report.threshold)
    assert relative_error(psf, truth) < 0.06


def test_crowded_and_border_beads_are_rejected(truth):
    rng = np.random.default_rng(1)
    isolated = [(20.2, 40.3, 40.1), (19.6, 40.2, 110.4), (20.4, 110.3, 40.2)]
    pair = [(20.0, 110.0, 104.0), (20.3, 111.0, 116.0)]  # 12 voxels apart: boxes overlap
    border = [(20.1, 8.2, 75.0)]  # box would leave the stack
    positions = np.array(isolated + pair + border)
    stack, _ = bead_stack(truth, STACK_SHAPE, positions, np.full(6, 3e5), 100.0, rng)
    _psf, report = dkpsf.from_beads(stack, SPACING, shape=BOX)
    assert report.n_beads == 3
    assert report.rejected_crowded == 2
    assert report.rejected_border == 1
    assert matched_distances(report.positions, np.array(isolated)).max() < 0.1


def test_no_beads_found_explains_what_to_change():
    flat = np.full((30, 60, 60), 100.0)
    with pytest.raises(
        ValueError,
        match=r"no isolated beads found: 0 candidate\(s\).*lower `threshold`, pass `positions`",
    ):
        dkpsf.from_beads(flat, SPACING, shape=(11, 15, 15))
    noise = np.random.default_rng(2).poisson(100.0, (30, 60, 60)).astype(float)
    with pytest.raises(ValueError, match=r"too close to another bead"):
        dkpsf.from_beads(noise, SPACING, shape=(11, 15, 15))


def test_from_beads_checks_its_arguments(beads):
    stack, _, _ = beads
    with pytest.raises(ValueError, match=r"spacing must have 3 values"):
        dkpsf.from_beads(stack, (0.1, 0.1))
    with pytest.raises(ValueError, match=r"has even sizes; use odd sizes"):
        dkpsf.from_beads(stack, SPACING, shape=(20, 31, 31))
    with pytest.raises(ValueError, match=r"larger than the stack"):
        dkpsf.from_beads(stack, SPACING, shape=(41, 31, 31))
    with pytest.raises(ValueError, match=r"positions must be an \(n, 3\) array"):
        dkpsf.from_beads(stack, SPACING, shape=BOX, positions=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"positions must lie inside the stack.*not µm"):
        dkpsf.from_beads(stack, SPACING, shape=BOX, positions=[[10, 500, 20]])
    with pytest.raises(ValueError, match=r"taper is the tapered fraction"):
        dkpsf.from_beads(stack, SPACING, shape=BOX, taper=1.5)


def test_default_box_is_odd_and_about_6_by_4_um(truth):
    rng = np.random.default_rng(3)
    stack, _ = bead_stack(truth, (40, 100, 100), np.array([(20.3, 50.2, 49.7)]), [3e5], 100.0, rng)
    psf, report = dkpsf.from_beads(stack, SPACING)
    assert psf.shape == (31, 41, 41)  # 6 µm / 0.2 µm and 4 µm / 0.1 µm, made odd
    assert report.n_beads == 1 and report.deviations[0] == pytest.approx(0.0)


def test_prepare_recentres_an_off_centre_psf(truth):
    shifted = fourier_shift(truth, (1.3, -2.4, 0.7)) + 0.002 * truth.max()
    clean = dkpsf.prepare(shifted, taper=0.0)
    assert clean.dtype == np.float32 and clean.shape == BOX
    assert np.unravel_index(np.argmax(clean), BOX) == tuple(n // 2 for n in BOX)
    assert relative_error(clean, truth) < 0.02
    assert float(clean.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)


def test_prepare_makes_even_input_odd_and_subtracts_background(truth):
    even = np.zeros((22, 32, 32))
    even[:21, :31, :31] = truth
    clean = dkpsf.prepare(even + 5.0, taper=0.0)  # "auto" background: the faces' median
    assert clean.shape == BOX
    assert relative_error(clean, truth) < 0.02
    given = dkpsf.prepare(even + 5.0, background=5.0, shape=(15, 21, 21), taper=0.0)
    assert given.shape == (15, 21, 21)
    assert np.unravel_index(np.argmax(given), given.shape) == (7, 10, 10)


def test_prepare_without_recentring_keeps_the_position(truth):
    off = fourier_shift(truth, (0.0, 2.0, 0.0))
    kept = dkpsf.prepare(off, background=0.0, taper=0.0, recentre=False)
    # The box is cut around voxel n // 2, but the result must have its maximum on the
    # centre voxel, so the whole-voxel offset of the peak is still removed.
    assert np.unravel_index(np.argmax(kept), BOX) == tuple(n // 2 for n in BOX)
    assert relative_error(kept, truth) < 0.02


def test_prepare_clips_negatives_and_refuses_empty_signal(truth):
    noisy = truth - 0.01 * truth.max()
    clean = dkpsf.prepare(noisy, background=0.0)
    assert clean.min() >= 0
    with pytest.raises(ValueError, match="no positive signal after background subtraction"):
        dkpsf.prepare(np.zeros(BOX), background=1.0)


# -- the background when the PSF's tails reach the box faces (issue 13) ---------------------
WIDE = (41, 81, 81)  # the PSF's support: twice the extraction box BOX
WIDE_STACK = (56, 200, 200)


@pytest.fixture(scope="module")
def wide_beads():
    """Four beads of a widefield PSF whose support is twice BOX, background 100.

    The PSF (NA 1.2, 0.6 µm, oil) is tapered only over its outer 15 %, so its
    tails cross the faces of BOX (42 % of its flux lies outside BOX) and are
    zero beyond WIDE. The truth is its BOX-sized centre, normalized.
    """
    window = tukey(WIDE[0], 0.3)[:, None, None] * tukey(WIDE[1], 0.3)[None, :, None]
    window = window * tukey(WIDE[2], 0.3)[None, None, :]
    wide = dkpsf.born_wolf(WIDE, SPACING, 1.2, 0.6, 1.515, oversample=1).astype(float) * window
    centre = tuple(slice(n // 2 - b // 2, n // 2 + b // 2 + 1) for n, b in zip(WIDE, BOX))
    truth = wide[centre] / wide[centre].sum()
    rng = np.random.default_rng(0)
    positions = np.array(
        [(28 + rng.uniform(-1, 1), y + rng.uniform(-0.5, 0.5), x + rng.uniform(-0.5, 0.5))
         for y in (50, 150) for x in (50, 150)]
    )
    photons = rng.uniform(0.7, 1.3, len(positions)) * 1e6
    stack, _ = bead_stack(wide / wide.sum(), WIDE_STACK, positions, photons, 100.0, rng)
    return stack, truth


def test_background_is_found_when_the_tails_reach_the_box_faces(wide_beads):
    stack, truth = wide_beads
    psf, report = dkpsf.from_beads(stack, SPACING, shape=BOX, taper=0.0)
    np.testing.assert_allclose(report.backgrounds, 100.0, atol=0.2)  # the faces' median: 106-110
    exact, _ = dkpsf.from_beads(stack, SPACING, shape=BOX, taper=0.0, background=100.0)
    # as good as knowing the background: centre within 4 % (27 % too bright before)
    assert psf.max() / truth.max() == pytest.approx(1.0, abs=0.04)
    assert relative_error(psf, truth) < 1.05 * relative_error(exact, truth)
    biased, old = dkpsf.from_beads(stack, SPACING, shape=BOX, taper=0.0, background="faces-median")
    assert old.backgrounds.min() > 105  # what the old default did
    assert relative_error(biased, truth) > 2 * relative_error(psf, truth)


def test_background_mode_ignores_one_sided_tails_and_poisson_skew():
    rng = np.random.default_rng(4)
    from deconvkit.psf._prepare import background_mode, noise_sigma

    for level in (10.0, 100.0, 1000.0):
        pure = rng.poisson(level, 200_000).astype(float)
        assert background_mode(pure, np.sqrt(level)) == pytest.approx(level, abs=0.1)
    # a quarter of the voxels under a broad haze (PSF tails, other beads): median 104
    hazy = rng.poisson(100.0, 200_000).astype(float)
    hazy[:50_000] += rng.uniform(0.0, 200.0, 50_000)
    assert background_mode(hazy, 10.0) == pytest.approx(100.0, abs=1.0)
    assert abs(background_mode(hazy, 10.0) - 100.0) < 0.3 * abs(np.median(hazy) - 100.0)
    smooth_ramp = np.linspace(0, 50, 100_000) + rng.normal(0, 2.0, 100_000)
    assert noise_sigma(smooth_ramp) == pytest.approx(2.0, rel=0.05)


def test_prepare_uses_the_same_estimator_on_its_faces(wide_beads):
    stack, truth = wide_beads
    # a box around one bead whose faces lie beyond the PSF's support
    peak = np.unravel_index(np.argmax(stack[:, :100, :100]), (56, 100, 100))
    region = tuple(slice(p - n // 2, p + n // 2 + 1) for p, n in zip(peak, (41, 61, 61)))
    clean = dkpsf.prepare(stack[region], shape=BOX, taper=0.0)
    known = dkpsf.prepare(stack[region] - 100.0, shape=BOX, taper=0.0, background=0.0)
    assert relative_error(clean, known) < 0.01
