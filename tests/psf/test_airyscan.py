"""Airyscan element PSFs: the layout, the centre element as a confocal PSF, reassignment, energy."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf as dkpsf
from deconvkit.psf._airyscan import element_positions

from .helpers import NA, NI, WAVELENGTH

SHAPE = (15, 33, 33)
SPACING = (0.12, 0.03, 0.03)
EXCITATION = 0.488
AIRY_UNIT = 1.22 * WAVELENGTH / NA


@pytest.fixture(scope="module")
def elements():
    return dkpsf.airyscan(SHAPE, SPACING, NA, WAVELENGTH, EXCITATION, NI, oversample=1)


def test_layout_is_the_32_nearest_sites_of_a_hexagonal_lattice():
    positions = element_positions(32, pitch=0.2)
    assert positions.shape == (32, 2)
    np.testing.assert_array_equal(positions[0], [0.0, 0.0])
    rings = np.round(np.hypot(*positions.T) / 0.2, 6)
    expected = [0.0] + [1.0] * 6 + [np.sqrt(3)] * 6 + [2.0] * 6 + [np.sqrt(7)] * 12 + [3.0]
    np.testing.assert_allclose(rings, expected, atol=1e-6)
    gaps = np.hypot(*(positions[:, None] - positions[None, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    np.testing.assert_allclose(
        gaps.min(axis=1), 0.2, rtol=1e-9
    )  # every element has a neighbour at one pitch
    turned = element_positions(32, pitch=0.2, rotation=30.0)
    np.testing.assert_allclose(np.hypot(*turned.T), np.hypot(*positions.T), atol=1e-12)


def test_shape_dtype_and_each_element_normalized(elements):
    assert elements.shape == (32, *SHAPE) and elements.dtype == np.float32
    np.testing.assert_allclose(elements.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    assert elements.min() >= 0


def test_centre_element_is_the_confocal_psf_with_the_element_as_pinhole():
    centre = dkpsf.airyscan(
        SHAPE, SPACING, NA, WAVELENGTH, EXCITATION, NI, elements=1, oversample=2
    )[0]
    diameter = 2 * 0.2 * np.sqrt(np.sqrt(3) / (2 * np.pi))  # the hexagon's equal-area disk, AU
    confocal = dkpsf.confocal(
        SHAPE,
        SPACING,
        NA,
        WAVELENGTH,
        NI,
        excitation_wavelength=EXCITATION,
        pinhole=diameter,
        oversample=2,
    )
    assert np.abs(centre - confocal).max() < 2e-3 * confocal.max()


def test_off_axis_elements_peak_between_the_spot_and_the_element(elements):
    """Pixel reassignment: the centroid sits near d σ_ex²/(σ_ex² + σ_em²), under d/2 for λ_ex < λ_em."""
    y, x = (
        np.mgrid[-(SHAPE[1] // 2) : SHAPE[1] // 2 + 1, -(SHAPE[2] // 2) : SHAPE[2] // 2 + 1]
        * SPACING[1]
    )
    gaussian_share = EXCITATION**2 / (EXCITATION**2 + WAVELENGTH**2)
    for e in (1, 9, 20, 31):
        d = element_positions(32, 0.2)[e] * AIRY_UNIT
        plane = elements[e].sum(axis=0)
        centroid = np.array([(plane * y).sum(), (plane * x).sum()])
        share = centroid @ d / (d @ d)
        assert 0.40 < share < 0.5 and abs(share - gaussian_share) < 0.03, (e, share)
        across = centroid - share * d  # no sideways drift
        assert np.hypot(*across) < 0.02 * np.hypot(*d)


def test_together_normalization_gives_each_element_its_share_of_the_light():
    together = dkpsf.airyscan(
        SHAPE,
        SPACING,
        NA,
        WAVELENGTH,
        EXCITATION,
        NI,
        elements=19,
        oversample=1,
        normalize="together",
    )
    shares = together.sum(axis=(1, 2, 3))
    assert shares.sum() == pytest.approx(1.0, rel=1e-5)
    rings = np.round(np.hypot(*element_positions(19, 0.2).T), 6)
    for ring in np.unique(rings)[1:]:
        inner = shares[rings < ring].min()
        assert shares[rings == ring].max() < inner  # outer rings are dimmer
        np.testing.assert_allclose(shares[rings == ring], shares[rings == ring].mean(), rtol=2e-3)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"elements": 0}, "elements must be an integer from 1"),
        ({"pitch": -0.2}, "pitch must be a positive number of Airy units"),
        ({"normalize": "sum"}, "normalize must be 'each' or 'together'"),
        ({"model": "gauss"}, "model must be one of"),
    ],
)
def test_bad_parameters_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        dkpsf.airyscan((5, 9, 9), SPACING, NA, WAVELENGTH, EXCITATION, NI, **options)
