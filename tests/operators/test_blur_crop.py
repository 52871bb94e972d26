"""Blur and Crop against SciPy's convolutions, and the PSF centring convention."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from deconvkit.operators import Blur, Crop, Pad, extended_shape, fast_shape, kernel_at_origin
from deconvkit.testing import strategies as dks


@given(shape=dks.shapes(), data=st.data())
def test_blur_equals_ndimage_wrap_convolution(shape, data):
    psf = data.draw(dks.psfs(shape))
    x = data.draw(dks.arrays(shape))
    expected = ndi.convolve(x, psf, mode="wrap")
    np.testing.assert_allclose(Blur(psf, shape) @ x, expected, atol=1e-12)


@given(shape=dks.shapes(min_side=2), data=st.data())
def test_crop_of_blur_is_valid_convolution(shape, data):
    """On the extended domain, the centred crop of the blur is fftconvolve's 'valid' part."""
    psf = data.draw(dks.psfs(shape))
    x = data.draw(dks.arrays(shape))
    valid = scipy.signal.fftconvolve(x, psf, mode="valid")
    model = Crop(shape, valid.shape) @ Blur(psf, shape)
    np.testing.assert_allclose(model @ x, valid, atol=1e-10)


@given(shape=dks.shapes(), data=st.data())
def test_kernel_at_origin_is_the_rolled_padded_psf(shape, data):
    """The corner-block placement equals pad-then-roll by -(p // 2), odd and even sides."""
    psf_shape = tuple(data.draw(st.integers(1, n)) for n in shape)
    psf = np.arange(1, np.prod(psf_shape) + 1, dtype=np.float64).reshape(psf_shape)
    padded = np.zeros(shape)
    padded[tuple(slice(0, p) for p in psf_shape)] = psf
    rolled = np.roll(padded, tuple(-(p // 2) for p in psf_shape), axis=tuple(range(len(shape))))
    kernel = kernel_at_origin(psf, shape, np.float32)
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, rolled.astype(np.float32))


@pytest.mark.parametrize("psf_side", [5, 4])
def test_impulse_lands_where_the_psf_centre_says(psf_side):
    """An impulse in an even image lands on the PSF's centre voxel (n // 2), no shift."""
    shape = (8, 16, 16)
    psf = np.zeros((psf_side,) * 3)
    centre = psf_side // 2
    psf[centre, centre, centre] = 1.0
    psf[centre, centre, centre + 1] = 0.5  # asymmetric, so a flip would show too
    impulse = np.zeros(shape)
    impulse[4, 7, 9] = 1.0
    out = Blur(psf, shape) @ impulse
    assert np.unravel_index(np.argmax(out), shape) == (4, 7, 9)
    assert out[4, 7, 10] == pytest.approx(0.5)
    assert out.sum() == pytest.approx(1.5)


def test_otf_is_computed_once_and_exposed():
    psf = np.ones((3, 3)) / 9
    blur = Blur(psf, (8, 8))
    assert blur.otf.shape == (8, 5)
    assert np.shares_memory(blur.otf, blur.circulant_blocks())  # stored, not recomputed
    assert blur.otf[0, 0] == pytest.approx(1.0)
    assert blur.lipschitz == pytest.approx(1.0, rel=1e-6)


def test_float32_psf_gives_complex64_otf_and_float32_output():
    blur = Blur(np.ones((3, 3), np.float32) / 9, (6, 7))
    assert blur.otf.dtype == np.complex64
    assert (blur @ np.ones((6, 7), np.float32)).dtype == np.float32
    assert (blur @ np.ones((6, 7), np.float64)).dtype == np.float64


def test_pad_is_the_adjoint_of_crop_and_back():
    crop = Crop((6, 7), (3, 4), offset=(1, 2))
    assert isinstance(crop.H, Pad)
    assert isinstance(crop.H.H, Crop)
    assert crop.H.offset == (1, 2)
    y = np.arange(12.0).reshape(3, 4)
    padded = crop.H @ y
    assert padded.shape == (6, 7)
    np.testing.assert_array_equal(padded[1:4, 2:6], y)
    assert padded.sum() == y.sum()


def test_extended_shape_covers_image_plus_psf_and_is_fast():
    shape = extended_shape((32, 200, 200), (63, 127, 127))
    assert all(n >= m + p - 1 for n, m, p in zip(shape, (32, 200, 200), (63, 127, 127)))
    assert fast_shape((254,)) == (256,)
    assert fast_shape((97,)) == (100,)


def test_repr_shows_the_composition():
    model = Crop((10, 12), (6, 8)) @ Blur(np.ones((3, 3)), (10, 12))
    assert repr(model) == "Crop(10x12 -> 6x8) @ Blur(10x12)"
    assert repr(model.H) == "(Crop(10x12 -> 6x8) @ Blur(10x12)).H" or repr(model.H).endswith(".H")


@pytest.mark.parametrize(
    ("psf", "shape", "message"),
    [
        (np.full((3, 3), np.nan), (8, 8), "NaN"),
        (np.ones((3, 3, 3)), (8, 8), "3 axes but the arrays have 2"),
        (np.ones((3,)), (8, 8), "1 axes but the arrays have 2"),
        (np.ones((9, 3)), (8, 8), "larger than the arrays"),
    ],
)
def test_blur_refuses_bad_psfs(psf, shape, message):
    with pytest.raises(ValueError, match=message):
        Blur(psf, shape)


def test_crop_refuses_windows_outside_the_domain():
    with pytest.raises(ValueError, match="outside"):
        Crop((8, 8), (4, 4), offset=(5, 0))
    with pytest.raises(ValueError, match="outside"):
        Crop((8, 8), (9, 4))
    with pytest.raises(ValueError, match="axes differ"):
        Crop((8, 8), (4,))


def test_a_well_posed_sum_is_invertible_beyond_float32s_range():
    """I + c·ΔᴴΔ at fine spacing spans 1..1e7: singular in float32's eyes, exact in float64."""
    from deconvkit.operators import Identity, Laplacian

    lap = Laplacian((2, 2), spacing=(0.0625, 0.0625))
    op = Identity((2, 2)) + 2.857 * (lap.H @ lap)
    y = np.array([[1.0, 2.0], [3.0, 4.0]], np.float64)
    np.testing.assert_allclose(op @ op.solve(y), y, rtol=1e-6)
