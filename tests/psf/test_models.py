"""Theoretical models: normalization, symmetry, widths against theory, voxel integration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit import psf as dkpsf

from .helpers import (
    AXIAL_FWHM_THEORY,
    FINE_SHAPE,
    FINE_SPACING,
    LATERAL_FWHM_THEORY,
    NA,
    NI,
    WAVELENGTH,
    relative_error,
)

SHAPE = (21, 33, 33)
SPACING = (0.15, 0.06, 0.06)

MODELS = {
    "gaussian": lambda **kw: dkpsf.gaussian(SHAPE, SPACING, NA, WAVELENGTH, NI, **kw),
    "gaussian-confocal": lambda **kw: dkpsf.gaussian(
        SHAPE, SPACING, NA, WAVELENGTH, NI, confocal=True, **kw
    ),
    "born_wolf": lambda **kw: dkpsf.born_wolf(SHAPE, SPACING, NA, WAVELENGTH, NI, **kw),
    "gibson_lanni": lambda **kw: dkpsf.gibson_lanni(
        SHAPE, SPACING, NA, WAVELENGTH, NI, ns=NI, depth=10.0, **kw
    ),
    "vectorial": lambda **kw: dkpsf.vectorial(SHAPE, SPACING, NA, WAVELENGTH, NI, **kw),
    "confocal": lambda **kw: dkpsf.confocal(
        SHAPE, SPACING, NA, WAVELENGTH, NI, excitation_wavelength=0.488, pinhole=1.0, **kw
    ),
}


@pytest.fixture(scope="module", params=list(MODELS))
def model_psf(request):
    return request.param, MODELS[request.param]()


def test_float32_sum_one_odd_shape(model_psf):
    _, psf = model_psf
    assert psf.dtype == np.float32
    assert psf.shape == SHAPE
    assert float(psf.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert psf.min() >= 0


def test_peak_at_centre_voxel_for_matched_indices(model_psf):
    _, psf = model_psf
    peak = np.unravel_index(np.argmax(psf), psf.shape)
    assert tuple(int(i) for i in peak) == tuple(n // 2 for n in SHAPE)


def test_laterally_symmetric(model_psf):
    _, psf = model_psf
    np.testing.assert_allclose(psf, psf[:, ::-1, :], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(psf, psf[:, :, ::-1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(psf, psf.transpose(0, 2, 1), rtol=1e-5, atol=1e-9)  # dy == dx


def test_axially_symmetric_without_aberration(model_psf):
    _, psf = model_psf
    np.testing.assert_allclose(psf, psf[::-1], rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("model", [dkpsf.born_wolf, dkpsf.gibson_lanni])
def test_scalar_lateral_fwhm_is_airy(model):
    """Airy FWHM is 0.5145 lambda/NA; 0.03 µm pixel integration adds ~0.6 %."""
    info = dkpsf.describe(model(FINE_SHAPE, FINE_SPACING, NA, WAVELENGTH, NI), FINE_SPACING)
    assert info.fwhm_y == pytest.approx(info.fwhm_x, rel=1e-6)
    assert info.fwhm_lateral == pytest.approx(LATERAL_FWHM_THEORY, rel=0.03)


@pytest.mark.parametrize("model", [dkpsf.born_wolf, dkpsf.gibson_lanni])
def test_scalar_axial_fwhm_within_15_percent(model):
    """0.88 lambda / (n - sqrt(n^2 - NA^2)) = 0.489 µm here; the model gives 0.516 µm."""
    info = dkpsf.describe(model(FINE_SHAPE, FINE_SPACING, NA, WAVELENGTH, NI), FINE_SPACING)
    assert info.fwhm_axial == pytest.approx(AXIAL_FWHM_THEORY, rel=0.15)


@pytest.mark.parametrize(
    ("na", "ni", "wavelength"), [(0.5, 1.0, 0.6), (0.9, 1.0, 0.5), (1.2, 1.33, 0.6)]
)
def test_scalar_widths_at_other_apertures(na, ni, wavelength):
    spacing = (0.1, wavelength / na / 15, wavelength / na / 15)
    shape = (int(2 * round(3 * wavelength / (ni - np.sqrt(ni**2 - na**2)) / 0.2)) + 1, 61, 61)
    info = dkpsf.describe(dkpsf.born_wolf(shape, spacing, na, wavelength, ni), spacing)
    assert info.fwhm_lateral == pytest.approx(0.5145 * wavelength / na, rel=0.02)
    assert info.fwhm_axial == pytest.approx(
        0.88 * wavelength / (ni - np.sqrt(ni**2 - na**2)), rel=0.15
    )


def test_vectorial_is_broader_laterally_than_scalar():
    """Isotropic emitter at NA 1.4: 0.2096 µm (as psfmodels' C++ code), scalar 0.191 µm."""
    scalar = dkpsf.describe(
        dkpsf.born_wolf(FINE_SHAPE, FINE_SPACING, NA, WAVELENGTH, NI), FINE_SPACING
    )
    vector = dkpsf.describe(
        dkpsf.vectorial(FINE_SHAPE, FINE_SPACING, NA, WAVELENGTH, NI), FINE_SPACING
    )
    assert vector.fwhm_lateral > 1.08 * scalar.fwhm_lateral
    assert vector.fwhm_lateral == pytest.approx(0.2096, rel=0.03)
    assert vector.fwhm_axial == pytest.approx(scalar.fwhm_axial, rel=0.10)


def test_vectorial_close_to_scalar_at_low_na():
    spacing = (0.2, 0.05, 0.05)
    scalar = dkpsf.describe(dkpsf.born_wolf((21, 41, 41), spacing, 0.5, 0.6, 1.0), spacing)
    vector = dkpsf.describe(dkpsf.vectorial((21, 41, 41), spacing, 0.5, 0.6, 1.0), spacing)
    assert vector.fwhm_lateral == pytest.approx(scalar.fwhm_lateral, rel=0.02)
    assert vector.fwhm_axial == pytest.approx(scalar.fwhm_axial, rel=0.05)


def test_voxel_integration_equals_binning_a_fine_grid():
    """oversample=s is the mean of s^3 point samples per voxel."""
    shape, spacing, s = (9, 15, 15), (0.3, 0.12, 0.12), 3
    coarse = dkpsf.born_wolf(shape, spacing, NA, WAVELENGTH, NI, oversample=s)
    fine = dkpsf.born_wolf(
        tuple(n * s for n in shape), tuple(d / s for d in spacing), NA, WAVELENGTH, NI, oversample=1
    )
    binned = fine.astype(float).reshape(shape[0], s, shape[1], s, shape[2], s).mean(axis=(1, 3, 5))
    assert relative_error(coarse, binned / binned.sum()) < 2e-3


def test_oversampling_matters_at_coarse_sampling():
    """At 0.12 µm pixels (undersampled for NA 1.4) the point-sampled peak is too high."""
    shape, spacing = (9, 15, 15), (0.3, 0.12, 0.12)
    point = dkpsf.born_wolf(shape, spacing, NA, WAVELENGTH, NI, oversample=1)
    integrated = dkpsf.born_wolf(shape, spacing, NA, WAVELENGTH, NI, oversample=5)
    assert point.max() > 1.05 * integrated.max()


def test_gaussian_widths_follow_zhang():
    k = 2 * np.pi / 0.6
    sigma_r, sigma_z = dkpsf.gaussian_widths(0.3, 0.6, 1.0, paraxial=True)
    assert sigma_r == pytest.approx(np.sqrt(2) / (k * 0.3))
    assert sigma_z == pytest.approx(2 * np.sqrt(6) * 1.0 / (k * 0.3**2))
    # The non-paraxial widths tend to the paraxial ones at low NA.
    low = dkpsf.gaussian_widths(0.1, 0.6, 1.0)
    low_paraxial = dkpsf.gaussian_widths(0.1, 0.6, 1.0, paraxial=True)
    np.testing.assert_allclose(low, low_paraxial, rtol=0.01)


def test_gaussian_fwhm_is_2_355_sigma():
    sigma_r, sigma_z = dkpsf.gaussian_widths(NA, WAVELENGTH, NI)
    info = dkpsf.describe(
        dkpsf.gaussian(FINE_SHAPE, FINE_SPACING, NA, WAVELENGTH, NI), FINE_SPACING
    )
    assert info.fwhm_lateral == pytest.approx(2.3548 * sigma_r, rel=0.01)
    assert info.fwhm_axial == pytest.approx(2.3548 * sigma_z, rel=0.01)
    # Zhang's non-paraxial Gaussian matches the diffraction model's central lobe.
    assert info.fwhm_lateral == pytest.approx(0.5145 * WAVELENGTH / NA, rel=0.03)


@given(
    na=st.floats(0.2, 1.3),
    wavelength=st.floats(0.4, 0.7),
    lateral=st.floats(0.04, 0.15),
    axial=st.floats(0.1, 0.4),
    oversample=st.integers(1, 3),
)
def test_born_wolf_properties_hold_for_any_setup(na, wavelength, lateral, axial, oversample):
    psf = dkpsf.born_wolf(
        (7, 11, 11), (axial, lateral, lateral), na, wavelength, 1.515, oversample=oversample
    )
    assert psf.dtype == np.float32
    assert float(psf.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert np.unravel_index(np.argmax(psf), psf.shape) == (3, 5, 5)
    np.testing.assert_allclose(psf, psf[::-1, ::-1, ::-1], rtol=1e-4, atol=1e-9)
