"""Refractive-index mismatch: focal shift and axial asymmetry against an independent computation.

The expected focal shift is computed here without the package: the on-axis
Gibson-Lanni intensity |integral_0^1 exp(i k OPD(rho, z)) rho drho|^2, with
OPD = z_p sqrt(ns^2 - q^2) - (z_p + z) sqrt(ni^2 - q^2), q = NA rho, is
integrated by scipy's adaptive quadrature and maximized over z. Paraxially the
peak moves by z_p (ni/ns - 1): the source looks deeper than it is. These
tests measure the shift from the nominal focus, so they ask for
``axial_origin="nominal"``; ``test_focus.py`` checks the default origin.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from deconvkit import psf as dkpsf

NI, NS, DEPTH, WAVELENGTH = 1.515, 1.33, 5.0, 0.52


def on_axis_intensity(z: float, na: float) -> float:
    """Brute-force on-axis Gibson-Lanni intensity at defocus z (µm, positive deeper)."""
    k = 2 * np.pi / WAVELENGTH

    def integrand(rho: float, part: int) -> float:
        q = na * rho
        opd = DEPTH * np.sqrt(complex(NS**2 - q**2)) - (DEPTH + z) * np.sqrt(NI**2 - q**2)
        value = np.exp(1j * k * opd) * rho
        return value.real if part == 0 else value.imag

    kink = [NS / na] if NS < na else None
    real = quad(integrand, 0, 1, args=(0,), limit=500, points=kink)[0]
    imag = quad(integrand, 0, 1, args=(1,), limit=500, points=kink)[0]
    return real**2 + imag**2


def expected_focal_shift(na: float, search: tuple[float, float]) -> float:
    grid = np.linspace(*search, 121)
    start = grid[int(np.argmax([on_axis_intensity(z, na) for z in grid]))]
    step = grid[1] - grid[0]
    best = minimize_scalar(
        lambda z: -on_axis_intensity(z, na),
        bounds=(start - step, start + step),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(best.x)


def test_high_na_focal_shift_matches_brute_force_quadrature():
    """NA 1.4, ns 1.33, 5 µm deep: the peak sits 1.29 µm deeper than the nominal focus.

    Tolerance 0.01 µm (a fifth of the 0.05 µm axial step); the paraxial value
    z_p (ni/ns - 1) = 0.70 µm underestimates it at high NA.
    """
    spacing = (0.05, 0.05, 0.05)
    psf = dkpsf.gibson_lanni(
        (81, 5, 5), spacing, 1.4, WAVELENGTH, NI, ns=NS, depth=DEPTH, oversample=1,
        axial_origin="nominal",
    )
    shift = dkpsf.describe(psf, spacing).peak_offset[0]
    expected = expected_focal_shift(1.4, (0.0, 2.0))
    assert expected == pytest.approx(1.29, abs=0.01)
    assert shift > DEPTH * (NI / NS - 1)  # deeper than even the paraxial prediction
    assert shift == pytest.approx(expected, abs=0.01)


def test_low_na_focal_shift_is_paraxial():
    """NA 0.3: the shift tends to z_p (ni/ns - 1) = 0.695 µm (5 % tolerance)."""
    spacing = (0.25, 0.2, 0.2)
    psf = dkpsf.gibson_lanni(
        (121, 5, 5), spacing, 0.3, WAVELENGTH, NI, ns=NS, depth=DEPTH, oversample=1,
        axial_origin="nominal",
    )
    shift = dkpsf.describe(psf, spacing).peak_offset[0]
    assert shift == pytest.approx(DEPTH * (NI / NS - 1), rel=0.05)


def test_shift_grows_with_depth_and_vanishes_without_mismatch():
    spacing = (0.1, 0.05, 0.05)
    shifts = [
        dkpsf.describe(
            dkpsf.gibson_lanni(
                (61, 9, 9), spacing, 1.4, WAVELENGTH, NI, ns=NS, depth=depth, oversample=1,
                axial_origin="nominal",
            ),
            spacing,
        ).peak_offset[0]
        for depth in (0.0, 2.0, 4.0)
    ]
    assert shifts[0] == pytest.approx(0.0, abs=1e-6)
    assert 0 < shifts[1] < shifts[2]
    matched = dkpsf.gibson_lanni((61, 9, 9), spacing, 1.4, WAVELENGTH, NI, ns=NI, depth=4.0)
    assert dkpsf.describe(matched, spacing).peak_offset[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("model", [dkpsf.gibson_lanni, dkpsf.vectorial])
def test_mismatch_makes_the_psf_axially_asymmetric(model):
    spacing = (0.1, 0.05, 0.05)
    psf = model((61, 21, 21), spacing, 1.4, WAVELENGTH, NI, ns=NS, depth=DEPTH)
    profile = psf[:, 10, 10].astype(float)
    peak = int(np.argmax(profile))
    offsets = np.arange(3, 10)  # 0.3 to 0.9 µm on either side of the peak
    above, below = profile[peak + offsets], profile[peak - offsets]
    assert np.max(np.abs(above - below) / np.maximum(above, below)) > 0.2
    # Lateral symmetry is kept.
    np.testing.assert_allclose(psf, psf[:, ::-1, ::-1], rtol=1e-5, atol=1e-9)


def test_thicker_coverslip_of_immersion_index_is_a_pure_shift():
    """With ng = ni a coverslip 1 µm too thick only moves the source 1 µm further away."""
    spacing = (0.1, 0.05, 0.05)
    nominal = dkpsf.gibson_lanni(
        (41, 15, 15), spacing, 1.4, WAVELENGTH, NI, ng=NI, ng0=NI, axial_origin="nominal"
    )
    thick = dkpsf.gibson_lanni(
        (41, 15, 15), spacing, 1.4, WAVELENGTH, NI, ng=NI, ng0=NI, tg=171.0,
        axial_origin="nominal",
    )
    # psf_thick(z) = psf_nominal(z - 1 µm): 10 planes deeper, same shape.
    np.testing.assert_allclose(
        thick[10:], nominal[:-10] * thick[10:].sum() / nominal[:-10].sum(), rtol=1e-4, atol=1e-9
    )


def test_wrong_immersion_oil_aberrates():
    """ni = 1.52 in an objective designed for 1.515: the focus moves and the PSF loses symmetry."""
    spacing = (0.1, 0.05, 0.05)
    oil = dkpsf.gibson_lanni(
        (61, 9, 9), spacing, 1.4, WAVELENGTH, 1.52, ni0=1.515, oversample=1,
        axial_origin="nominal",
    )
    info = dkpsf.describe(oil, spacing)
    assert abs(info.peak_offset[0]) > 0.05
    assert not np.allclose(oil, oil[::-1], rtol=0.05)
