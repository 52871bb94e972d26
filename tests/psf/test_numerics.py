"""The discretization is converged: pupil quadrature and radial sampling."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf as dkpsf
from deconvkit.psf import _optics, _sampling
from deconvkit.psf._optics import build_optics
from deconvkit.psf._scalar import scalar_intensity
from deconvkit.psf._vectorial import vectorial_intensity

from .helpers import NA, NI, WAVELENGTH, relative_error

SETUPS = {
    "matched": {"ns": NI, "depth": 0.0},
    "water-5um": {"ns": 1.33, "depth": 5.0},  # critical angle inside the pupil
    "ns-equals-na": {"ns": NA, "depth": 3.0},  # critical angle at the pupil edge
    "wrong-oil-20um": {"ns": 1.47, "depth": 20.0, "ni0": 1.52},
}


@pytest.mark.parametrize("intensity", [scalar_intensity, vectorial_intensity])
@pytest.mark.parametrize("setup", list(SETUPS))
def test_pupil_quadrature_is_converged(monkeypatch, intensity, setup):
    """Four times more Gauss-Legendre nodes change h(r, z) by less than 1e-9 (relative)."""
    optics = build_optics(NA, WAVELENGTH, NI, **SETUPS[setup])
    z, radii = np.linspace(-6.3, 6.3, 64), np.arange(0.0, 9.0, 0.01)
    default = intensity(optics, z, radii)
    monkeypatch.setattr(_optics, "NODES_PER_RADIAN", 4 * _optics.NODES_PER_RADIAN)
    finer = intensity(optics, z, radii)
    assert np.abs(default - finer).max() < 1e-9 * finer.max()


def test_radial_interpolation_is_converged(monkeypatch):
    """A radial step four times finer changes the voxel values by less than 1e-3 (L2)."""
    shape, spacing = (15, 31, 31), (0.1, 0.03, 0.03)
    default = dkpsf.vectorial(shape, spacing, NA, WAVELENGTH, NI, ns=1.33, depth=2.0)
    monkeypatch.setattr(_sampling, "_RADIAL_SAMPLES_PER_RESOLUTION", 320)  # 4x finer here
    finer = dkpsf.vectorial(shape, spacing, NA, WAVELENGTH, NI, ns=1.33, depth=2.0)
    assert relative_error(default, finer) < 1e-3


def test_quadrature_weights_integrate_polynomials_across_kinks():
    """The mapped Gauss-Legendre rule integrates rho^3 and sqrt|rho - rho_c| on [0, 1]."""
    optics = build_optics(NA, WAVELENGTH, NI, ns=1.33, ng=1.38, depth=1.0)
    rho, weights = _optics.pupil_quadrature(optics, np.zeros(1), 1.0)
    assert len(optics.kinks) == 2
    assert weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert weights @ rho**3 == pytest.approx(0.25, abs=1e-14)
    kink = 1.33 / NA
    exact = (2 / 3) * (kink**1.5 + (1 - kink) ** 1.5)
    assert weights @ np.sqrt(np.abs(rho - kink)) == pytest.approx(exact, rel=1e-10)
