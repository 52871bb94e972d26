"""observe(): the forward model the solvers invert, photon scaling, noise statistics, seeds."""

import numpy as np
import pytest
import scipy.signal

from deconvkit.operators import Blur, Crop, extended_shape
from deconvkit.simulate import Observation, beads, observe, phantom


def gaussian_psf(shape, sigma):
    grids = np.meshgrid(*[np.arange(n) - n // 2 for n in shape], indexing="ij")
    return np.exp(-sum(g**2 / (2 * s**2) for g, s in zip(grids, sigma)))  # not normalized


PSF = gaussian_psf((7, 11, 11), (1.5, 2.0, 2.0))
FIELD = (10, 24, 20)
EXTENDED = extended_shape(FIELD, PSF.shape)  # (16, 36, 30)


@pytest.fixture(scope="module")
def obj():
    return phantom(EXTENDED, (0.2, 0.1, 0.1), seed=0)


def test_noiseless_is_crop_of_blur_plus_background(obj):
    out = observe(obj, PSF, field_shape=FIELD, photons=200.0, background=15.0, seed=1)
    model = Crop(EXTENDED, FIELD) @ Blur(PSF / PSF.sum(), EXTENDED)
    expected = model @ (out.scale * obj.astype(np.float64)) + 15.0
    np.testing.assert_allclose(out.noiseless, expected, rtol=1e-5)
    np.testing.assert_allclose(out.operator @ out.object + 15.0, out.noiseless, rtol=1e-5)
    assert out.noiseless.dtype == out.data.dtype == out.ground_truth.dtype == np.float32
    assert out.data.shape == out.ground_truth.shape == FIELD
    assert out.object.shape == EXTENDED and out.operator.dims == EXTENDED


def test_brightest_noiseless_voxel_has_the_photons(obj):
    out = observe(obj, PSF, field_shape=FIELD, photons=321.0, background=7.0, seed=1)
    assert (out.noiseless - 7.0).max() == pytest.approx(321.0, rel=1e-5)
    assert out.background == 7.0


def test_photons_none_keeps_the_objects_scale(obj):
    out = observe(obj, PSF, field_shape=FIELD, photons=None, background=0.0, seed=1)
    assert out.scale == 1.0
    np.testing.assert_array_equal(out.object, obj)


def test_ground_truth_is_the_central_window_on_the_same_scale(obj):
    out = observe(obj, PSF, field_shape=FIELD, seed=1)
    offset = tuple((e - f) // 2 for e, f in zip(EXTENDED, FIELD))
    window = tuple(slice(o, o + f) for o, f in zip(offset, FIELD))
    np.testing.assert_allclose(out.ground_truth, out.scale * obj[window], rtol=1e-6)


def test_default_field_is_the_fully_blurred_part(obj):
    out = observe(obj, PSF, seed=1)
    assert out.data.shape == tuple(e - p + 1 for e, p in zip(EXTENDED, PSF.shape))


def test_unpacks_as_data_and_ground_truth(obj):
    out = observe(obj, PSF, field_shape=FIELD, seed=2)
    assert isinstance(out, Observation)
    data, truth = out
    assert data is out.data and truth is out.ground_truth


def test_light_from_outside_the_field_enters_it():
    """A bead two voxels outside the field's X edge lights the field; the ground truth is dark."""
    obj = np.zeros(EXTENDED, np.float32)
    offset = tuple((e - f) // 2 for e, f in zip(EXTENDED, FIELD))
    obj[offset[0] + 5, offset[1] + 12, offset[2] - 2] = 1.0
    out = observe(obj, PSF, field_shape=FIELD, photons=None, background=0.0, seed=0)
    signal = out.noiseless
    assert np.all(out.ground_truth == 0)
    assert signal.sum() > 0.1  # a good part of the bead's light
    assert signal[5, 12, 0] > signal[5, 12, 2] > 1e-3
    assert np.all(signal[:, :, 4:] < 1e-6)  # the PSF reaches 5 voxels: x = -2 + 5 = 3 at most
    assert signal.min() >= 0
    assert signal[5, 12, 0] == pytest.approx(PSF[3, 5, 7] / PSF.sum(), rel=1e-5)


def test_periodic_blurs_circularly_on_the_field():
    obj = np.zeros(FIELD, np.float32)
    obj[5, 12, 0] = 1.0  # light wraps around to the opposite edge
    out = observe(obj, PSF, photons=None, background=2.0, boundary="periodic", seed=0)
    np.testing.assert_allclose(out.noiseless, Blur(PSF / PSF.sum(), FIELD) @ obj + 2.0,
                               rtol=1e-5, atol=1e-7)
    assert out.noiseless[5, 12, -1] > 2.0
    np.testing.assert_array_equal(out.ground_truth, obj)


def test_small_object_is_zero_padded_and_stays_centred():
    obj = beads((11, 26, 23), 0.1, n=30, seed=4)
    out = observe(obj, PSF, field_shape=FIELD, photons=None, background=0.0, seed=0)
    assert all(d >= f + p - 1 for d, f, p in zip(out.object.shape, FIELD, PSF.shape))
    start = tuple((o - f) // 2 for o, f in zip(obj.shape, FIELD))
    window = tuple(slice(s, s + f) for s, f in zip(start, FIELD))
    np.testing.assert_array_equal(out.ground_truth, obj[window])
    assert out.object.sum() == pytest.approx(obj.sum())
    # the blur of the field is the exact linear convolution of the object, zero outside it
    full = scipy.signal.fftconvolve(obj.astype(np.float64), PSF / PSF.sum(), mode="full")
    start = tuple(s + p // 2 for s, p in zip(start, PSF.shape))  # the PSF's centre voxel
    expected = full[tuple(slice(s, s + f) for s, f in zip(start, FIELD))]
    np.testing.assert_allclose(out.noiseless, expected, atol=1e-6)


def test_noise_mean_and_variance_on_a_flat_field():
    """mean = photons + background, variance = mean + read_noise^2 (Poisson + Gaussian)."""
    shape = (40, 64, 64)
    obj = np.ones(shape, np.float32)
    psf = gaussian_psf((3, 5, 5), (1.0, 1.0, 1.0))
    out = observe(obj, psf, photons=90.0, background=10.0, read_noise=4.0, seed=3)
    np.testing.assert_allclose(out.noiseless, 100.0, rtol=1e-5)
    n = out.data.size
    mean, variance = out.data.mean(dtype=np.float64), out.data.var(dtype=np.float64)
    assert abs(mean - 100.0) < 5 * np.sqrt(116.0 / n)
    assert variance == pytest.approx(100.0 + 4.0**2, rel=5 * np.sqrt(2.0 / n))
    assert not np.all(out.data == np.round(out.data))  # read noise is not integer


def test_poisson_only_gives_counts():
    out = observe(np.ones((20, 20), np.float32), np.ones((3, 3)), photons=5.0, background=1.0,
                  boundary="periodic", seed=0)
    np.testing.assert_array_equal(out.data, np.round(out.data))
    assert out.data.min() >= 0


def test_same_seed_same_noise_other_seed_other_noise(obj):
    first = observe(obj, PSF, field_shape=FIELD, read_noise=1.0, seed=5)
    again = observe(obj, PSF, field_shape=FIELD, read_noise=1.0, seed=5)
    other = observe(obj, PSF, field_shape=FIELD, read_noise=1.0, seed=6)
    np.testing.assert_array_equal(first.data, again.data)
    assert not np.array_equal(first.data, other.data)
    np.testing.assert_array_equal(first.noiseless, other.noiseless)


def test_background_map(obj):
    background = np.linspace(0.0, 50.0, np.prod(FIELD), dtype=np.float32).reshape(FIELD)
    out = observe(obj, PSF, field_shape=FIELD, background=background, seed=0)
    plain = observe(obj, PSF, field_shape=FIELD, background=0.0, seed=0)
    np.testing.assert_allclose(out.noiseless - plain.noiseless, background, atol=1e-3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"obj": -np.ones((9, 9))}, r"the object has 81 negative values"),
    ({"obj": np.full((9, 9), np.nan)}, r"the object contains 81 NaN or infinite values"),
    ({"obj": np.ones((9, 9)) + 0j}, r"the object must be an array of real numbers"),
    ({"psf": np.ones((3, 3, 3))}, r"the PSF has 3 axes but the object has 2"),
    ({"psf": np.zeros((3, 3))}, r"the PSF is zero everywhere"),
    ({"psf": np.ones((11, 3))}, r"the object \(9, 9\) is smaller than the PSF \(11, 3\)"),
    ({"field_shape": (10, 9)}, r"field_shape \(10, 9\) must .* fit inside it"),
    ({"boundary": "reflect"}, r"boundary must be one of \('extended', 'periodic'\), got 'reflect'"),
    ({"boundary": "periodic", "field_shape": (5, 5)}, r"with boundary='periodic' the field is"),
    ({"obj": np.zeros((9, 9))}, r"the object sends no light into the field"),
    ({"photons": 0.0}, r"photons must be positive"),
    ({"read_noise": -1.0}, r"read_noise must be non-negative and finite \(photons\)"),
    ({"background": -1.0}, r"background must be non-negative"),
    ({"background": np.ones((4, 4))}, r"the background map has shape \(4, 4\), the field \(7, 7\)"),
])
def test_bad_input_names_the_problem(kwargs, message):
    args = {"obj": np.ones((9, 9)), "psf": np.ones((3, 3)), **kwargs}
    with pytest.raises(ValueError, match=message):
        observe(args.pop("obj"), args.pop("psf"), **args)
