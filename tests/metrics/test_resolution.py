"""Resolution without a ground truth: FRC/FSC, checkerboard, thinning, decorrelation."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import deconvkit as dk
from deconvkit import backend
from deconvkit.metrics import (
    Resolution,
    _resolution,
    checkerboard_frc,
    decorrelation,
    estimate_resolution,
    frc,
    half_bit_threshold,
    thinning_frc,
)
from deconvkit.operators import extended_shape

SPACING = (0.25, 0.1, 0.1)


def bandlimited(shape, spacing, k_lateral, k_axial, seed):
    """Unit-variance noise whose spectrum fills the ellipsoid (k_r/k_lateral)² + (k_z/k_axial)² < 1."""
    rng = np.random.default_rng(seed)
    kz = np.fft.fftfreq(shape[0], spacing[0])[:, None, None]
    ky = np.fft.fftfreq(shape[1], spacing[1])[None, :, None]
    kx = np.fft.rfftfreq(shape[2], spacing[2])[None, None, :]
    inside = (ky**2 + kx**2) / k_lateral**2 + kz**2 / k_axial**2 < 1
    signal = np.fft.irfftn(np.fft.rfftn(rng.normal(size=shape)) * inside, shape, axes=(0, 1, 2))
    return signal / signal.std()


def pair(signal, noise, seed):
    rng = np.random.default_rng(seed)
    return (signal + noise * rng.normal(size=signal.shape),
            signal + noise * rng.normal(size=signal.shape))


def test_docstring_examples():
    failures, tried = doctest.testmod(_resolution, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def test_half_bit_threshold_limits():
    values = half_bit_threshold([1, 100, 1e16, 0])
    assert values[0] == pytest.approx(1.0, abs=1e-4)  # one voxel: nothing is significant
    assert values[1] == pytest.approx((0.2071 + 0.19102) / (1.2071 + 0.09102))
    assert values[2] == pytest.approx(0.2071 / 1.2071, abs=1e-6)  # 0.1716, the asymptote
    assert values[3] == 1.0


def test_frc_matches_a_brute_force_full_spectrum_computation():
    """The half-spectrum sums with Hermitian weights equal sums over the full FFT."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 24, 30))
    a += 0.5 * b
    result = frc(a, b, (0.2, 0.1), window=0)
    curve = result.curves["lateral"]
    fa, fb = np.fft.fftn(a - a.mean()), np.fft.fftn(b - b.mean())
    ky = np.fft.fftfreq(24, 0.2)[:, None]
    kx = np.fft.fftfreq(30, 0.1)[None, :]
    width = max(1 / (24 * 0.2), 1 / (30 * 0.1))
    shell = np.floor(np.hypot(ky, kx) / width + 0.5).astype(int)
    expected, counts = [], []
    for m in range(1, int(np.floor((1 / 0.4) / width + 1e-9)) + 1):
        inside = shell == m
        num = np.real(np.sum(fa[inside] * np.conj(fb[inside])))
        den = np.sqrt(np.sum(np.abs(fa[inside]) ** 2) * np.sum(np.abs(fb[inside]) ** 2))
        expected.append(num / den)
        counts.append(inside.sum())
    assert np.allclose(curve.correlation, expected)
    assert np.array_equal(curve.counts, counts)
    assert np.allclose(curve.frequency, width * np.arange(1, len(expected) + 1))


@pytest.mark.parametrize("threshold", ["1/7", "half-bit"])
@pytest.mark.parametrize("shape", [(64, 64), (16, 48, 48)])
def test_independent_noise_is_uncorrelated(shape, threshold):
    spacing = SPACING[-len(shape):]
    for seed in range(4):
        a, b = np.random.default_rng(seed).normal(size=(2, *shape))
        result = frc(a, b, spacing, threshold=threshold)
        for curve in result.curves.values():
            assert curve.status == "uncorrelated", (seed, curve.direction)
            assert math.isnan(curve.resolution) and math.isnan(curve.crossing)
        assert math.isnan(result.lateral)


def test_single_image_methods_on_pure_noise_find_no_resolution():
    rng = np.random.default_rng(5)
    noise = rng.normal(size=(16, 64, 64))
    counts = rng.poisson(20.0, size=(16, 64, 64)).astype(np.float32)  # flat Poisson field
    for result in (checkerboard_frc(noise, SPACING), thinning_frc(counts, SPACING, seed=1),
                   decorrelation(noise, SPACING)):
        assert {c.status for c in result.curves.values()} == {"uncorrelated"}, result.method
        assert math.isnan(result.lateral) and math.isnan(result.axial)


def test_identical_images_reach_the_sampling_limit_per_axis():
    image = np.random.default_rng(0).normal(size=(16, 40, 48))
    result = frc(image, image, SPACING, threshold="half-bit")
    assert result.curves["lateral"].status == "sampling-limited"
    assert result.lateral == pytest.approx(2 * 0.1)
    assert result.curves["axial"].status == "sampling-limited"
    assert result.axial == pytest.approx(2 * 0.25)


def test_delta_image():
    delta = np.zeros((16, 32, 32), np.float32)
    delta[8, 16, 16] = 1.0
    assert frc(delta, delta, SPACING).lateral == pytest.approx(0.2)  # flat spectrum, all shared
    # One image cannot tell a point (white spectrum) from white noise: no peak, no figure.
    assert decorrelation(delta, SPACING).curves["lateral"].status == "uncorrelated"


@pytest.mark.parametrize(("k_lateral", "k_axial"), [(3.0, 3.0), (3.0, 1.2), (2.0, 1.5)])
def test_band_limited_signal_is_read_at_its_cutoff_with_anisotropic_voxels(k_lateral, k_axial):
    """Signal inside an ellipsoid of frequencies, noise outside: the crossing is its edge.

    The lateral wedge (±10°) sees radii between r(80°) and k_lateral; the axial cone
    (45°) between k_axial and r(45°), r(ψ) the ellipsoid's radius at ψ from k_z.
    """
    signal = bandlimited((32, 64, 64), SPACING, k_lateral, k_axial, seed=0)
    a, b = pair(signal, 1.0, seed=1)
    result = frc(a, b, SPACING, window=0)  # a periodic signal needs no window

    def radius(angle):
        psi = math.radians(angle)
        return 1 / math.sqrt(math.cos(psi) ** 2 / k_axial**2 + math.sin(psi) ** 2 / k_lateral**2)

    shell = 1.5 / (64 * 0.1)  # read between the last shell with signal and the first without
    assert 1 / (k_lateral + shell) <= result.lateral <= 1 / (radius(80) - shell)
    if k_axial >= 1 / (2 * 0.25):  # signal up to the axial sampling limit
        assert result.curves["axial"].status == "sampling-limited"
        assert result.axial == pytest.approx(2 * 0.25)
    else:
        assert result.curves["axial"].status == "measured"
        assert 1 / (radius(45) + 1.5 / (32 * 0.25)) <= result.axial <= 1 / k_axial
    half = dk.metrics.frc(a, b, SPACING, window=0, threshold="half-bit")
    assert half.lateral == pytest.approx(result.lateral, rel=0.1)


def test_decorrelation_reads_a_band_limit():
    signal = bandlimited((1, 128, 128), (1.0, 0.1, 0.1), 2.5, 1.0, seed=2)[0]
    noisy = signal + 0.3 * np.random.default_rng(3).normal(size=signal.shape)
    result = decorrelation(noisy, (0.1, 0.1), window=0)
    assert result.lateral == pytest.approx(1 / 2.5, rel=0.1)
    curve = result.curves["lateral"]
    assert curve.highpass.shape == (30, 200) and curve.peaks.shape == (31, 2)
    assert curve.crossing == pytest.approx(np.nanmax(curve.peaks[curve.peaks[:, 1] >= 0.05, 0]))


# -- simulated widefield data ---------------------------------------------------------------

FIELD = (8, 96, 96)
WIDEFIELD = (0.2, 0.04, 0.04)  # pixels of a quarter of the resolution, as the checkerboard needs


@pytest.fixture(scope="module")
def widefield():
    """Filaments through a Born–Wolf PSF (NA 1.4 oil), two noise draws, and their RL results."""
    psf = dk.psf.born_wolf((9, 61, 61), WIDEFIELD, na=1.4, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(FIELD, psf.shape), WIDEFIELD, kind="filaments",
                              seed=0)
    draws = [dk.simulate.observe(obj, psf, field_shape=FIELD, photons=1000, background=5,
                                 seed=seed).data for seed in (10, 20)]
    restored = [dk.deconvolve(y, psf, method="rl", max_iter=30, spacing=WIDEFIELD)
                for y in draws]
    return dk.psf.describe(psf, WIDEFIELD).fwhm_lateral, draws, restored


def test_raw_widefield_estimates_are_within_20_percent_of_the_fwhm(widefield):
    fwhm, (y1, y2), _ = widefield
    for result in (frc(y1, y2, WIDEFIELD), checkerboard_frc(y1, WIDEFIELD),
                   thinning_frc(y1, WIDEFIELD, seed=0), decorrelation(y1, WIDEFIELD)):
        assert result.curves["lateral"].status == "measured", result.method
        assert result.lateral == pytest.approx(fwhm, rel=0.2), result.method
        assert "axial" in result.curves and result.axial > result.lateral, result.method
    assert not checkerboard_frc(y1, WIDEFIELD).notes  # fine pixels: no undersampling note


def test_deconvolution_gives_a_smaller_figure(widefield):
    _, (y1, y2), (x1, x2) = widefield
    assert frc(x1, x2, WIDEFIELD).lateral < 0.9 * frc(y1, y2, WIDEFIELD).lateral
    assert decorrelation(x1, WIDEFIELD).lateral < 0.9 * decorrelation(y1, WIDEFIELD).lateral


def test_coarse_pixels_make_the_checkerboard_say_it_is_unreliable(widefield):
    _, (y1, _), _ = widefield
    binned = y1.reshape(8, 48, 2, 48, 2).sum(axis=(2, 4))  # 0.08 µm pixels
    notes = checkerboard_frc(binned, (0.2, 0.08, 0.08)).notes
    assert any("undersample" in note for note in notes)


def test_thinning_uses_gain_and_offset(widefield):
    _, (y1, _), _ = widefield
    plain = thinning_frc(y1, WIDEFIELD, seed=4)
    camera = thinning_frc(100 + 2.5 * y1, WIDEFIELD, gain=2.5, offset=100, seed=4)
    assert camera.lateral == pytest.approx(plain.lateral, rel=1e-6)


# -- the result, the backend, the plot --------------------------------------------------------


def test_estimate_resolution_dispatches_and_spacing_scales_the_figures():
    signal = bandlimited((16, 48, 48), SPACING, 3.0, 1.5, seed=4)
    a, b = pair(signal, 1.0, seed=5)
    two = estimate_resolution(a, b, spacing=SPACING)
    assert two.method == "frc" and two.lateral == frc(a, b, SPACING).lateral
    assert estimate_resolution(a, spacing=SPACING).method == "decorrelation"
    doubled = estimate_resolution(a, b, spacing=tuple(2 * d for d in SPACING))
    assert doubled.lateral == pytest.approx(2 * two.lateral)
    assert doubled.axial == pytest.approx(2 * two.axial)
    for method in ("checkerboard", "thinning", "decorrelation"):
        assert estimate_resolution(a - a.min(), spacing=SPACING, method=method).method == method


def test_guarded_arrays_give_the_same_figures_without_host_fallback():
    signal = bandlimited((16, 48, 48), SPACING, 3.0, 1.5, seed=6)
    a, b = pair(signal, 0.5, seed=7)
    counts = np.round(50 * (a - a.min())).astype(np.float32)
    ga, gb, gc = (backend.to_backend(x, "guarded") for x in (a, b, counts))
    for host, guarded in [
        (frc(a, b, SPACING), frc(ga, gb, SPACING)),
        (checkerboard_frc(a, SPACING), checkerboard_frc(ga, SPACING)),
        (thinning_frc(counts, SPACING, seed=2), thinning_frc(gc, SPACING, seed=2)),
        (decorrelation(a, SPACING), decorrelation(ga, SPACING)),
    ]:
        for direction in host.curves:
            assert guarded.curves[direction].resolution == pytest.approx(
                host.curves[direction].resolution, rel=1e-5, nan_ok=True), host.method
            assert isinstance(guarded.curves[direction].correlation, np.ndarray)


def test_float32_input_and_a_plane():
    plane = bandlimited((1, 64, 64), (1.0, 0.1, 0.1), 3.0, 1.0, seed=8)[0].astype(np.float32)
    a, b = pair(plane, 0.3, seed=9)
    result = frc(a.astype(np.float32), b.astype(np.float32), (0.1, 0.1))
    assert set(result.curves) == {"lateral"} and math.isnan(result.axial)
    assert result.notes == ("a single plane: the axial resolution is not measured",)
    assert frc(a[None], b[None], SPACING).lateral == pytest.approx(result.lateral)  # a plane
    text = str(result)
    assert "pixel 0.1 x 0.1 µm" in text and "lateral (YX)" in text and "axial (Z)" not in text


def test_summary_and_plot(widefield):
    pytest.importorskip("matplotlib")
    _, (y1, y2), _ = widefield
    for result in (frc(y1, y2, WIDEFIELD, threshold="half-bit"), decorrelation(y1, WIDEFIELD)):
        assert isinstance(result, Resolution)
        text = str(result)
        assert f"{result.lateral:.3f} µm" in text and "axial (Z)" in text
        figure = result.plot()
        assert len(figure.axes) == 2
        assert figure.axes[0].get_title().startswith("lateral: ")
        with pytest.raises(ValueError, match="plot needs 2 axes"):
            result.plot(figure.axes[:1])


# -- bad input ------------------------------------------------------------------------------


def test_a_direction_along_a_one_voxel_axis_is_refused():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(1, 32, 32))
    with pytest.raises(ValueError, match="1 voxel thick along Z: its axial resolution cannot be "
                                         "measured"):
        decorrelation(plane, SPACING, directions="axial")
    line = rng.normal(size=(16, 1, 32))
    with pytest.raises(ValueError, match="1 voxel thick along Y: its lateral resolution"):
        frc(line, line, SPACING)
    thin = rng.normal(size=(4, 32, 32))
    with pytest.raises(ValueError, match=r"4 voxels along Z: .*\(at least 8 needed\)"):
        frc(thin, thin, SPACING, directions=("lateral", "axial"))
    assert "4 voxels along Z" in frc(thin, thin, SPACING).notes[0]  # default: a note
    with pytest.raises(ValueError, match="6 voxels along X after the split"):
        checkerboard_frc(rng.normal(size=(16, 32, 12)), SPACING)


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: frc(a, a[:, :30], SPACING), r"differ in shape, \(16, 32, 32\) and \(16, 30, 32\)"),
    (lambda a: decorrelation(np.full_like(a, 3.0), SPACING), "constant .every voxel is 3"),
    (lambda a: frc(a, np.where(a > 2, np.nan, a), SPACING), r"second image contains \d+ NaN"),
    (lambda a: checkerboard_frc(np.where(a > 2, np.inf, a), SPACING), r"contains \d+ Inf"),
    (lambda a: frc(a, a + 0j, SPACING), "complex"),
    (lambda a: frc(a, a, SPACING, threshold="3-sigma"), "threshold must be one of 1/7, half-bit"),
    (lambda a: frc(a, a, (0.1, -1, 0.1)), "spacing must be positive"),
    (lambda a: frc(a, a, (0.1, 0.1)), r"a stack of 16 planes needs the spacing \(dz, dy, dx\)"),
    (lambda a: frc(a, a, SPACING, directions="diagonal"), "directions must be among"),
    (lambda a: frc(a, a, SPACING, window=2), "Tukey fraction"),
    (lambda a: thinning_frc(a * 1e-3, SPACING), "no photon counts"),
    (lambda a: thinning_frc(a, SPACING, gain=0), "gain must be positive"),
    (lambda a: decorrelation(a, SPACING, n_radii=10), "n_radii >= 30"),
    (lambda a: estimate_resolution(a, spacing=SPACING, method="frc"), "needs two images"),
    (lambda a: estimate_resolution(a, a, spacing=SPACING, method="thinning"), "measures one"),
    (lambda a: estimate_resolution(a, spacing=SPACING, method="fsc"), "method must be one of"),
])
def test_bad_input_is_one_clear_line(call, message):
    image = np.abs(np.random.default_rng(1).normal(size=(16, 32, 32)))
    with pytest.raises(ValueError, match=message) as error:
        call(image)
    assert "\n" not in str(error.value)
