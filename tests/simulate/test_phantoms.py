"""Phantoms: reproducible for a seed, and the statistics their docstrings state."""

import numpy as np
import pytest

from deconvkit import simulate
from deconvkit.simulate import beads, cytoplasm, filaments, phantom, random_curve, shells
from deconvkit.simulate._common import FWHM_PER_SIGMA

MAKERS = {
    "beads": beads,
    "filaments": filaments,
    "shells": shells,
    "cytoplasm": cytoplasm,
    "mixed": phantom,
}
GRIDS = [((12, 40, 36), (0.2, 0.1, 0.1)), ((48, 40), 0.1)]


@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize(("shape", "spacing"), GRIDS)
def test_same_seed_same_phantom_other_seed_other_phantom(name, shape, spacing):
    make = MAKERS[name]
    first = make(shape, spacing, seed=7)
    assert first.dtype == np.float32
    assert first.shape == shape
    assert np.all(first >= 0)
    assert first.max() > 0
    np.testing.assert_array_equal(make(shape, spacing, seed=7), first)
    assert not np.array_equal(make(shape, spacing, seed=8), first)


def test_a_generator_is_accepted_as_seed():
    a = filaments((20, 20), 0.1, seed=np.random.default_rng(3))
    b = filaments((20, 20), 0.1, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


# beads ---------------------------------------------------------------------------------


def test_beads_are_n_distinct_voxels_of_the_given_intensity():
    out = beads((10, 30, 30), (0.3, 0.1, 0.1), n=50, intensity=2.5, seed=1)
    assert np.count_nonzero(out) == 50
    assert set(np.unique(out)) == {0.0, 2.5}
    assert out.sum() == pytest.approx(50 * 2.5)


def test_bead_intensities_drawn_from_the_range():
    out = beads((64, 64), 0.1, n=200, intensity=(1.0, 3.0), seed=2)
    values = out[out > 0]
    assert values.size == 200
    assert values.min() >= 1.0 and values.max() <= 3.0
    assert values.mean() == pytest.approx(2.0, abs=0.15)  # uniform: mean 2, std 0.58/sqrt(200)


def test_bead_margin_in_um_respects_anisotropic_voxels():
    # 0.45 µm is 3 voxels of 0.15 µm along Z (rounded up) and 5 voxels of 0.1 µm along Y, X
    out = beads((12, 20, 20), (0.15, 0.1, 0.1), n=100, margin=0.45, seed=3)
    z, y, x = np.nonzero(out)
    assert z.min() >= 3 and z.max() <= 12 - 1 - 3
    assert min(y.min(), x.min()) >= 5 and max(y.max(), x.max()) <= 20 - 1 - 5


def test_too_many_beads_for_the_room():
    with pytest.raises(ValueError, match=r"17 beads do not fit in a \(4, 4\) field"):
        beads((4, 4), 0.1, n=17, seed=0)
    with pytest.raises(ValueError, match="use fewer beads or a smaller margin"):
        beads((10, 10), 0.1, n=1, margin=0.5, seed=0)


# filaments -----------------------------------------------------------------------------


def test_random_curve_has_its_length_and_stays_in_the_box():
    rng = np.random.default_rng(0)
    low, high = np.array([0.0, 0.0, 0.0]), np.array([1.0, 2.0, 2.0])
    points = random_curve(rng, 7.3, 0.5, low, high, np.array([True, True, True]))
    assert np.linalg.norm(np.diff(points, axis=0), axis=1).sum() == pytest.approx(7.3)
    assert np.all(points >= low - 1e-12) and np.all(points <= high + 1e-12)


@pytest.mark.parametrize("moving", [(True, True, True), (False, True, True)])
def test_random_curve_tangents_decorrelate_over_the_persistence_length(moving):
    """<u(s).u(0)> = exp(-s/P), in 3D and in a plane (box too large to bounce)."""
    rng = np.random.default_rng(1)
    persistence, length = 2.0, 4.0
    box = np.full(3, 1e6)
    cosines = []
    for _ in range(400):
        points = random_curve(rng, length, persistence, -box, box, np.array(moving))
        steps = np.diff(points, axis=0)
        tangents = steps / np.linalg.norm(steps, axis=1, keepdims=True)
        cosines.append(tangents[-1] @ tangents[0])
    assert not moving[0] or np.ptp(points[:, 0]) > 0
    assert moving[0] or np.all(points[:, 0] == points[0, 0])
    s = length * (len(tangents) - 1) / len(tangents)  # arc length between first and last step
    # 400 walks: the standard error of the mean cosine is about 0.035
    assert np.mean(cosines) == pytest.approx(np.exp(-s / persistence), abs=0.1)


@pytest.mark.parametrize(("shape", "spacing"), [((30, 50, 50), 0.1), ((120, 120), 0.05)])
def test_filament_integrated_density(shape, spacing):
    """sum * voxel volume = n I (2 pi sigma^2)^((d-1)/2) L when no tail leaves the field."""
    thickness, intensity, length, n = 0.3, 2.0, 4.0, 3
    sigma = thickness / FWHM_PER_SIGMA
    out = filaments(shape, spacing, n=n, thickness=thickness, intensity=intensity,
                    length=length, margin=5 * sigma, seed=4)
    ndim = len(shape)
    expected = n * intensity * (2 * np.pi * sigma**2) ** ((ndim - 1) / 2) * length
    # the spline through the walk's control points is slightly longer than the walk
    assert out.sum(dtype=np.float64) * spacing**ndim == pytest.approx(expected, rel=0.03)


def test_a_thick_straight_filament_peaks_at_its_intensity():
    # short and stiff: it cannot cross itself; with seed 1 it does not reach a wall either
    # (where it would fold back onto itself and add up, as seeds 0 and 3 do)
    out = filaments((60, 60, 60), 0.1, n=1, thickness=0.5, intensity=3.0, length=1.0,
                    persistence=300.0, margin=0.6, seed=1)
    assert 0.9 * 3.0 <= out.max() <= 3.0


def test_filaments_in_a_single_plane_of_a_3d_array():
    out = filaments((1, 30, 30), (0.3, 0.1, 0.1), n=2, seed=0)
    assert out.shape == (1, 30, 30) and out.max() > 0


# shells --------------------------------------------------------------------------------


def test_shell_is_hollow_and_round_in_um_on_anisotropic_voxels():
    # extent 4 µm on every axis; an outer radius above 2 µm forces the centre to the middle
    out = shells((21, 41, 41), (0.2, 0.1, 0.1), n=1, radius=1.6, thickness=0.5, seed=0)
    centre = (10, 20, 20)
    assert out[centre] < 1e-6 * out.max()
    # the wall is 1.6 µm from the centre: 8 voxels along Z, 16 along Y and X
    assert np.argmax(out[:, 20, 20][:10]) == 10 - 8
    assert np.argmax(out[10, :, 20][:20]) == 20 - 16
    assert np.argmax(out[10, 20, 20:]) == 16


@pytest.mark.parametrize(("shape", "spacing", "area"), [
    ((61, 61, 61), 0.1, lambda r, s: 4 * np.pi * (r**2 + s**2)),
    ((81, 81), 0.05, lambda r, s: 2 * np.pi * r),
])
def test_shell_integrated_density(shape, spacing, area):
    radius, thickness, intensity = 1.5, 0.2, 2.0
    sigma = thickness / FWHM_PER_SIGMA
    out = shells(shape, spacing, n=1, radius=radius, thickness=thickness, intensity=intensity,
                 seed=3)
    expected = intensity * np.sqrt(2 * np.pi) * sigma * area(radius, sigma)
    assert out.sum(dtype=np.float64) * spacing ** len(shape) == pytest.approx(expected, rel=0.02)


def test_shells_do_not_overlap_when_there_is_room():
    one = [shells((60, 60), 0.1, n=1, radius=0.8, seed=s) for s in range(3)]
    both = shells((60, 60), 0.1, n=4, radius=0.8, seed=0)
    # non-overlapping walls add nothing: the maximum stays that of a single wall
    assert both.max() == pytest.approx(max(o.max() for o in one), rel=0.05)
    assert both.sum() == pytest.approx(4 * one[0].sum(), rel=0.02)


# cytoplasm -----------------------------------------------------------------------------


def test_cytoplasm_mean_positivity_and_contrast():
    out = cytoplasm((16, 32, 32), (0.2, 0.1, 0.1), intensity=0.3, scale=0.5, contrast=0.4, seed=1)
    assert out.mean(dtype=np.float64) == pytest.approx(0.3, rel=1e-5)
    assert out.min() > 0
    assert np.log(out.astype(np.float64)).std() == pytest.approx(0.4, rel=1e-4)
    flat = cytoplasm((16, 32, 32), 0.1, intensity=0.3, contrast=0.0, seed=1)
    np.testing.assert_allclose(flat, 0.3, rtol=1e-6)


def test_cytoplasm_is_smoother_with_a_larger_scale():
    def roughness(scale):
        out = cytoplasm((64, 64), 0.1, scale=scale, seed=2).astype(np.float64)
        return np.mean(np.abs(np.diff(out, axis=1))) / out.std()

    assert roughness(1.0) < 0.5 * roughness(0.3)


# phantom -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["beads", "filaments", "shells", "cytoplasm"])
def test_single_kind_is_that_function(kind):
    np.testing.assert_array_equal(
        phantom((8, 24, 24), 0.1, kind=kind, seed=9), MAKERS[kind]((8, 24, 24), 0.1, seed=9)
    )


def test_mixed_phantom_is_positive_and_brightest_at_the_beads():
    out = phantom((16, 48, 48), (0.2, 0.1, 0.1), seed=0)
    assert out.min() > 0
    assert out.max() >= simulate.MIXTURE["beads"]
    assert out.mean() > simulate.MIXTURE["cytoplasm"]


# bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda: beads((4, 4, 4, 4), 0.1), r"shape must have 2 \(YX\) or 3 \(ZYX\) axes"),
    (lambda: beads((8, 8, 8), (0.1, 0.1)), r"spacing has 2 values but the arrays have 3 axes"),
    (lambda: beads((8, 8), -0.1), r"spacing must be positive"),
    (lambda: beads((8, 8), 0.1, n=-1), r"n must be a non-negative integer"),
    (lambda: beads((8, 8), 0.1, n=2.5), r"n must be a non-negative integer"),
    (lambda: beads((8, 8), 0.1, intensity=(3, 1)), r"intensity range \(3.0, 1.0\) is reversed"),
    (lambda: filaments((8, 8), 0.1, thickness=0), r"thickness must be positive"),
    (lambda: filaments((8, 8), 0.1, margin=0.5), r"margin .* leaves no room"),
    (lambda: filaments((8, 8), 0.1, margin=(0.1, 0.1, 0.1)), r"margin must be one distance"),
    (lambda: beads((8, 8), 0.1, margin=-0.1), r"margin must be non-negative and finite \(µm\)"),
    (lambda: filaments((8, 8), 0.1, length=-2.0), r"length must be positive and finite \(µm\)"),
    (lambda: shells((8, 8), 0.1, radius=(0.0, 1.0)), r"radius must be positive"),
    (lambda: cytoplasm((8, 8), 0.1, scale=float("nan")), r"scale must be positive and finite"),
    (lambda: cytoplasm((8, 8), 0.1, contrast=-1), r"contrast must be non-negative"),
    (lambda: phantom((8, 8), 0.1, kind="cells"), r"kind must be one of .*'mixed'.*got 'cells'"),
])
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
