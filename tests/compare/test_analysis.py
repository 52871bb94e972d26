"""The numbers behind the figures: spectra, OTF support, the bead, the views."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf
from deconvkit.compare import find_bead, otf_support, radial_spectra
from deconvkit.compare._analysis import orthogonal_views


def test_a_cosine_puts_its_power_at_its_frequency():
    spacing = (0.2, 0.1, 0.1)
    z, _, x = np.meshgrid(*[np.arange(n) * d for n, d in zip((16, 64, 64), spacing)],
                          indexing="ij")
    lateral_k, axial_k = 2.5, 1.25  # cycles/µm: exact bins of these grids
    volume = np.cos(2 * np.pi * lateral_k * x) + np.cos(2 * np.pi * axial_k * z)
    spectrum = radial_spectra(volume, spacing)
    lateral_peak = spectrum.lateral_frequency[np.argmax(spectrum.lateral[1:]) + 1]
    axial_peak = spectrum.axial_frequency[np.argmax(spectrum.axial[1:]) + 1]
    assert lateral_peak == pytest.approx(lateral_k) and axial_peak == pytest.approx(axial_k)
    assert spectrum.lateral_frequency.max() <= 5.0 + 1e-9  # up to the lateral Nyquist
    assert spectrum.axial_frequency.max() == pytest.approx(2.5)


def test_the_otf_support_of_a_widefield_psf_is_wider_laterally():
    spacing = (0.1, 0.05, 0.05)
    h = psf.born_wolf((33, 65, 65), spacing, na=1.3, wavelength=0.52, ni=1.515)
    lateral, axial = otf_support(h, spacing, (64, 128, 128))
    cutoff = 2 * 1.3 / 0.52  # 2 NA / λ
    assert 0.85 * cutoff < lateral < 1.15 * cutoff
    axial_cutoff = (1.515 - np.sqrt(1.515**2 - 1.3**2)) / 0.52  # (n - √(n² - NA²)) / λ
    assert 0.8 * axial_cutoff < axial < 1.2 * axial_cutoff


def test_the_bead_is_a_bright_isolated_voxel_inside_the_margin():
    truth = np.zeros((20, 40, 40), np.float32)
    truth[10, 20, 5] = 9.0  # brightest, but too close to the edge
    truth[10, 20, 20] = 5.0
    truth[10, 21, 21] = 1.0  # clutter next to it
    truth[5, 30, 30] = 4.0  # isolated
    assert find_bead(truth, (3, 6, 6)) == (5, 30, 30)
    xy, xz, yz = orthogonal_views(truth, (5, 30, 30))
    assert xy.shape == (40, 40) and xz.shape == (20, 40) and yz.shape == (20, 40)
    assert orthogonal_views(truth)[0].max() == 9.0
