"""Problem preparation: PSF checks, domains for each boundary, background."""

import numpy as np
import pytest

from deconvkit.methods._problem import check_psf, estimate_background, prepare
from deconvkit.operators import Crop


def gaussian(shape, sigma):
    grids = np.meshgrid(*[np.arange(n) - n // 2 for n in shape], indexing="ij")
    psf = np.exp(-sum(g**2 / (2 * s**2) for g, s in zip(grids, sigma)))
    return psf / psf.sum()


def test_tall_psf_is_never_truncated():
    """A 63-plane PSF on a 32-plane image keeps all its energy (DeconvolutionLab2 kept 63 %)."""
    psf = gaussian((63, 15, 15), (12.0, 2.0, 2.0))
    image = np.ones((32, 24, 24), np.float32)
    problem = prepare(image, psf)
    assert problem.psf.shape == psf.shape
    assert problem.psf.sum() == pytest.approx(1.0, rel=1e-6)
    assert all(s >= m + p - 1 for s, m, p in zip(problem.shape, image.shape, psf.shape))
    assert isinstance(problem.forward.a, Crop)
    assert problem.to_image(np.zeros(problem.shape)).shape == image.shape


def test_periodic_refuses_a_psf_larger_than_the_image():
    with pytest.raises(ValueError, match="larger than the image.*boundary='extended'"):
        prepare(np.ones((8, 16, 16)), gaussian((15, 5, 5), (2, 1, 1)), boundary="periodic")


def test_reflect_mirrors_the_image_into_the_margin():
    image = np.arange(4 * 6 * 6, dtype=np.float32).reshape(4, 6, 6)
    problem = prepare(image, gaussian((3, 5, 5), (1, 1, 1)), boundary="reflect")
    np.testing.assert_array_equal(problem.to_image(problem.data), image)
    first = problem.field[2].start
    np.testing.assert_array_equal(problem.data[:, :, first - 1], problem.data[:, :, first])


def test_psf_is_normalized_clipped_and_recentred():
    psf = np.zeros((5, 5))
    psf[0, 0], psf[2, 2] = 2.0, 1.0  # peak in a corner: recentred by padding
    psf[4, 4] = -0.01
    with pytest.warns(UserWarning) as record:
        fixed = check_psf(psf, 2)
    messages = " ".join(str(w.message) for w in record)
    assert "negative" in messages and "recentred" in messages
    assert fixed.sum() == pytest.approx(1.0)
    assert np.unravel_index(fixed.argmax(), fixed.shape) == tuple(n // 2 for n in fixed.shape)
    assert fixed.min() >= 0


def test_even_psf_centred_at_n_over_2_is_accepted_silently(recwarn):
    psf = gaussian((4, 6), (1, 1))
    fixed = check_psf(psf, 2)
    assert fixed.shape == (4, 6)
    assert not [w for w in recwarn if "recentred" in str(w.message)]


@pytest.mark.parametrize(
    ("psf", "message"),
    [
        (np.full((3, 3), np.nan), "NaN"),
        (np.ones((3, 3, 3)), "3 axes but the image has 2"),
        (np.zeros((3, 3)), "zero everywhere"),
    ],
)
def test_bad_psfs(psf, message):
    with pytest.raises(ValueError, match=message):
        prepare(np.ones((8, 8)), psf)


def test_bad_images_and_backgrounds():
    psf = gaussian((3, 3), (1, 1))
    with pytest.raises(ValueError, match="NaN or infinite"):
        prepare(np.array([[1.0, np.inf], [0, 0]]), psf)
    with pytest.raises(ValueError, match="background map has shape"):
        prepare(np.ones((8, 8)), psf, background=np.ones((4, 4)))
    with pytest.raises(ValueError, match="'auto'"):
        prepare(np.ones((8, 8)), psf, background="dark")
    with pytest.raises(ValueError, match="boundary must be one of"):
        prepare(np.ones((8, 8)), psf, boundary="mirror")


def test_auto_background_finds_the_camera_offset():
    rng = np.random.default_rng(0)
    image = rng.poisson(100.0, size=(16, 32, 32)).astype(np.float32)
    image[4:8, 10:20, 10:20] += 500
    assert estimate_background(image) == pytest.approx(100.0, rel=0.3)
    assert prepare(image, gaussian((3, 3, 3), (1, 1, 1)), background="auto").background < 100


def test_integer_images_become_float32():
    problem = prepare(np.ones((8, 8), np.uint16), gaussian((3, 3), (1, 1)))
    assert problem.data.dtype == np.float32
    assert problem.psf.dtype == np.float32


def test_a_large_images_percentile_is_read_from_a_subsample(monkeypatch):
    """Past PERCENTILE_SAMPLE voxels the plan samples instead of copying the volume to sort it."""
    from deconvkit.methods import _validate

    image = np.random.default_rng(0).gamma(4.0, 25.0, (40, 64, 64)).astype(np.float32)
    exact = float(np.percentile(image, 99.9))
    monkeypatch.setattr(_validate, "PERCENTILE_SAMPLE", 2**14)
    seen = []
    original = np.percentile
    monkeypatch.setattr(np, "percentile", lambda a, q, **k: seen.append(a.size) or original(a, q, **k))
    sampled = _validate.data_percentile(image, 99.9)
    assert seen and seen[0] < image.size / 4  # a subsample, not the volume
    assert sampled == pytest.approx(exact, rel=0.1)
    monkeypatch.setattr(_validate, "PERCENTILE_SAMPLE", 2**24)
    assert _validate.data_percentile(image, 99.9) == pytest.approx(exact, rel=1e-6)
