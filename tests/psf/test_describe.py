"""describe(): widths, sub-voxel peak, energies, OTF support; plot()."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from deconvkit import psf as dkpsf

from .helpers import NA, NI, WAVELENGTH

SPACING = (0.2, 0.05, 0.05)


def gaussian_blob(shape, spacing, sigma, centre_offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Point-sampled anisotropic Gaussian, sigma and offset in µm (z, y, x)."""
    axes = [
        ((np.arange(n) - n // 2) * d - c) ** 2 / (2 * s**2)
        for n, d, s, c in zip(shape, spacing, sigma, centre_offset)
    ]
    return np.exp(-(axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]))


def test_fwhm_of_a_gaussian_is_2_355_sigma_per_axis():
    sigma = (0.4, 0.09, 0.12)
    info = dkpsf.describe(gaussian_blob((31, 41, 41), SPACING, sigma), SPACING)
    expected = 2 * np.sqrt(2 * np.log(2)) * np.array(sigma)
    np.testing.assert_allclose([info.fwhm_z, info.fwhm_y, info.fwhm_x], expected, rtol=0.01)
    assert info.fwhm_lateral == pytest.approx(expected[1:].mean(), rel=0.01)
    assert info.fwhm_axial == info.fwhm_z
    assert info.peak_index == (15, 20, 20)
    assert info.shape == (31, 41, 41)
    assert info.spacing == SPACING


def test_sub_voxel_peak_offset():
    offset = (0.07, -0.013, 0.021)  # µm: 0.35, -0.26, 0.42 voxel
    info = dkpsf.describe(gaussian_blob((31, 41, 41), SPACING, (0.4, 0.09, 0.09), offset), SPACING)
    for measured, expected, step in zip(info.peak_offset, offset, SPACING):
        assert measured == pytest.approx(expected, abs=0.02 * step)


def test_delta_and_constant_extremes():
    delta = np.zeros((5, 7, 7))
    delta[2, 3, 3] = 1.0
    info = dkpsf.describe(delta, SPACING)
    assert info.otf_support == pytest.approx(1.0)  # a flat OTF
    assert info.focal_plane_energy == pytest.approx(1.0)
    assert info.total == pytest.approx(1.0)
    flat = dkpsf.describe(np.ones((5, 7, 7)), SPACING)
    assert flat.otf_support == pytest.approx(1 / (5 * 7 * 7))  # only the DC term
    assert np.isnan(flat.fwhm_x)  # never falls to half maximum inside the box
    assert "beyond the box" in str(flat)


def test_otf_support_shows_the_missing_cone():
    """Widefield misses a cone of axial frequencies that the confocal product fills in."""
    shape, spacing = (31, 31, 31), (0.15, 0.08, 0.08)
    wide = dkpsf.describe(dkpsf.born_wolf(shape, spacing, NA, WAVELENGTH, NI), spacing)
    conf = dkpsf.describe(
        dkpsf.confocal(shape, spacing, NA, WAVELENGTH, NI, pinhole=0.0, model="born_wolf"), spacing
    )
    gauss = dkpsf.describe(dkpsf.gaussian(shape, spacing, NA, WAVELENGTH, NI), spacing)
    assert 0 < wide.otf_support < conf.otf_support
    assert wide.otf_support < gauss.otf_support  # a Gaussian has no missing cone
    # Confocal sectioning: more of the energy in the focal plane.
    assert conf.focal_plane_energy > 2 * wide.focal_plane_energy


def test_str_is_a_table_with_the_numbers():
    psf = dkpsf.born_wolf((21, 31, 31), SPACING, NA, WAVELENGTH, NI)
    info = dkpsf.describe(psf, SPACING)
    text = str(info)
    for label in ("FWHM lateral", "FWHM axial", "peak voxel", "focal-plane energy", "OTF support"):
        assert label in text
    assert f"{info.fwhm_z:.3f} µm" in text
    assert "(10, 15, 15)" in text


def test_describe_refuses_nan():
    psf = np.ones((3, 5, 5))
    psf[1, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dkpsf.describe(psf, SPACING)


def test_plot_draws_sections_and_otf():
    matplotlib = pytest.importorskip("matplotlib", reason="plotting needs matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    psf = dkpsf.born_wolf((21, 31, 31), SPACING, NA, WAVELENGTH, NI)
    figure = dkpsf.plot(psf, SPACING)
    images = [axis for axis in figure.axes if axis.images]
    assert len(images) == 6
    assert images[0].get_title() == "PSF XY (peak plane)"
    assert images[1].get_xlabel() == "x (µm)"
    assert "OTF" in images[3].get_title()
    plt.close(figure)
    only_psf = dkpsf.plot(psf, SPACING, otf=False)
    assert len([axis for axis in only_psf.axes if axis.images]) == 3
    plt.close(only_psf)


def test_plot_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install deconvkit\[plot\]"):
        dkpsf.plot(np.ones((3, 3, 3)), SPACING)
