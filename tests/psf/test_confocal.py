"""Confocal PSFs: narrower than widefield by the expected factors, pinhole behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from deconvkit import psf as dkpsf
from deconvkit.psf._confocal import disk_convolution_matrix

from .helpers import NA, NI, WAVELENGTH

SHAPE = (21, 41, 41)
SPACING = (0.1, 0.03, 0.03)


def widths(volume: np.ndarray) -> tuple[float, float]:
    info = dkpsf.describe(volume, SPACING)
    return info.fwhm_lateral, info.fwhm_axial


def test_gaussian_confocal_is_widefield_over_sqrt2():
    """Equal wavelengths, ideal pinhole: product of two equal Gaussians, sigma / sqrt(2)."""
    shape = (41, 41, 41)
    wide = widths(dkpsf.gaussian(shape, SPACING, NA, WAVELENGTH, NI))
    conf = widths(dkpsf.gaussian(shape, SPACING, NA, WAVELENGTH, NI, confocal=True))
    np.testing.assert_allclose(np.divide(conf, wide), 1 / np.sqrt(2), rtol=0.02)


def test_gaussian_confocal_paraxial_pinhole_between_ideal_and_widefield():
    ideal = dkpsf.gaussian_widths(0.6, 0.6, 1.0, confocal=True, paraxial=True)
    half_au = dkpsf.gaussian_widths(0.6, 0.6, 1.0, confocal=True, pinhole=0.5, paraxial=True)
    wide = dkpsf.gaussian_widths(0.6, 0.6, 1.0, paraxial=True)
    assert ideal[0] < half_au[0] < wide[0]
    assert ideal[1] < half_au[1] < wide[1]
    # A tiny pinhole is the ideal one (the closed form is continuous at R -> 0).
    tiny = dkpsf.gaussian_widths(0.6, 0.6, 1.0, confocal=True, pinhole=1e-3, paraxial=True)
    np.testing.assert_allclose(tiny, ideal, rtol=1e-6)


def test_diffraction_confocal_point_pinhole_is_airy_squared():
    """Airy^2 over Airy FWHM: 0.3698 / 0.5145 = 0.719 for equal wavelengths."""
    wide = widths(dkpsf.born_wolf(SHAPE, SPACING, NA, WAVELENGTH, NI))
    conf = widths(
        dkpsf.confocal(SHAPE, SPACING, NA, WAVELENGTH, NI, pinhole=0.0, model="born_wolf")
    )
    assert conf[0] / wide[0] == pytest.approx(0.719, abs=0.015)
    assert conf[1] / wide[1] == pytest.approx(1 / np.sqrt(2), abs=0.05)


def test_point_pinhole_is_the_product_of_excitation_and_emission():
    emission = dkpsf.born_wolf(SHAPE, SPACING, NA, WAVELENGTH, NI, oversample=1).astype(float)
    excitation = dkpsf.born_wolf(SHAPE, SPACING, NA, 0.488, NI, oversample=1).astype(float)
    product = emission * excitation
    conf = dkpsf.confocal(
        SHAPE, SPACING, NA, WAVELENGTH, NI, excitation_wavelength=0.488, pinhole=0.0,
        model="born_wolf", oversample=1,
    )  # fmt: skip
    # Linear interpolation in r of the product profile vs the product of interpolations.
    expected = product / product.sum()
    np.testing.assert_allclose(conf, expected, rtol=5e-3, atol=1e-4 * expected.max())


def test_width_grows_with_pinhole_and_tends_to_excitation():
    lateral = [
        widths(dkpsf.confocal(SHAPE, SPACING, NA, WAVELENGTH, NI, pinhole=p, model="born_wolf"))[0]
        for p in (0.0, 0.5, 1.0)
    ]
    assert lateral[0] < lateral[1] < lateral[2]
    open_pinhole = dkpsf.confocal(
        SHAPE,
        SPACING,
        NA,
        WAVELENGTH,
        NI,
        excitation_wavelength=0.45,
        pinhole=8.0,
        model="born_wolf",
    )
    excitation = dkpsf.born_wolf(SHAPE, SPACING, NA, 0.45, NI)
    assert widths(open_pinhole)[0] == pytest.approx(widths(excitation)[0], rel=0.02)


def test_confocal_mismatch_and_vectorial_run():
    aberrated = dkpsf.confocal(
        SHAPE, SPACING, NA, WAVELENGTH, NI, ns=1.33, depth=3.0, model="vectorial",
        axial_origin="nominal",
    )
    assert aberrated.dtype == np.float32
    assert float(aberrated.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert dkpsf.describe(aberrated, SPACING).peak_offset[0] > 0  # deeper, as for widefield
    # the default origin is the focus: the peak within half a plane of the centre
    centred = dkpsf.confocal(SHAPE, SPACING, NA, WAVELENGTH, NI, ns=1.33, depth=3.0)
    assert abs(dkpsf.describe(centred, SPACING).peak_offset[0]) < SPACING[0] / 2


def test_disk_convolution_of_a_constant_is_the_disk_area():
    step, radius = 0.01, 0.2
    matrix = disk_convolution_matrix(step, 100, 100 + 25, radius)
    assert isinstance(matrix, csr_matrix)
    np.testing.assert_allclose(matrix @ np.ones(125), np.pi * radius**2, rtol=2e-3)


def test_disk_convolution_of_a_gaussian_at_the_centre():
    """(G * D_R)(0) = 2 pi s^2 (1 - exp(-R^2 / 2 s^2)) for G = exp(-r^2 / 2 s^2)."""
    step, radius, s = 0.005, 0.15, 0.1
    radii = np.arange(200) * step
    matrix = disk_convolution_matrix(step, 50, 200, radius)
    value = (matrix @ np.exp(-(radii**2) / (2 * s**2)))[0]
    assert value == pytest.approx(
        2 * np.pi * s**2 * (1 - np.exp(-(radius**2) / (2 * s**2))), rel=2e-3
    )
