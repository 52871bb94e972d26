"""Cross-check against psfmodels (Aguet's C++ code for Gibson-Lanni and the vectorial model).

psfmodels' axial coordinate ``zv`` differs from ours: its constant OPD term
absorbs the paraxial focal shift, so our defocus z maps to

    zv = z + z_p (2 - ni/ns) + ni (tg0/ng0 - tg/ng) + ti0 (ni/ni0 - 1).

Both integrate laterally over the pixel (3x3 sub-samples); we also average
axially, which the 0.1 µm step makes negligible. Agreement is measured by the
normalized cross-correlation (NCC) of the sum-normalized volumes.
"""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf as dkpsf

from .helpers import NA, NI, WAVELENGTH, normalized_cross_correlation

psfmodels = pytest.importorskip(
    "psfmodels",
    reason="psfmodels (independent C++ PSF models) is not installed: pip install psfmodels",
)

SHAPE = (33, 65, 65)
SPACING = (0.1, 0.05, 0.05)

CASES = {
    "matched": {"ns": NI, "depth": 0.0},
    "water-5um": {"ns": 1.33, "depth": 5.0},
    "glycerol-3um": {"ns": 1.47, "depth": 3.0},
    "coverslip-oil-mismatch": {"ns": 1.47, "depth": 3.0, "ni": 1.518, "tg": 175.0, "ng": 1.52},
}


def reference(function, case: dict) -> np.ndarray:
    ni = case.get("ni", NI)
    params = {
        "NA": NA, "ni": ni, "ni0": NI, "ns": case["ns"],
        "ng": case.get("ng", 1.515), "ng0": 1.515, "tg": case.get("tg", 170.0), "tg0": 170.0,
        "ti0": 150.0, "sf": 3, "mode": 1,
    }  # fmt: skip
    z = (np.arange(SHAPE[0]) - SHAPE[0] // 2) * SPACING[0]
    zv = (
        z
        + case["depth"] * (2 - ni / case["ns"])
        + ni * (params["tg0"] / params["ng0"] - params["tg"] / params["ng"])
        + params["ti0"] * (ni / params["ni0"] - 1)
    )
    volume = function(zv, SHAPE[1], SPACING[1], case["depth"], WAVELENGTH, params)
    return volume / volume.sum()


def ours(function, case: dict) -> np.ndarray:
    return function(
        SHAPE, SPACING, NA, WAVELENGTH, case.get("ni", NI), ns=case["ns"], depth=case["depth"],
        tg=case.get("tg", 170.0), ng=case.get("ng", 1.515), ni0=NI,
    )  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_gibson_lanni_matches_psfmodels_scalar(case):
    mine, theirs = (
        ours(dkpsf.gibson_lanni, CASES[case]),
        reference(psfmodels.scalar_psf, CASES[case]),
    )
    assert normalized_cross_correlation(mine, theirs) > 0.999  # observed >= 0.9998
    assert np.unravel_index(np.argmax(mine), SHAPE) == np.unravel_index(np.argmax(theirs), SHAPE)


@pytest.mark.parametrize("case", list(CASES))
def test_vectorial_matches_psfmodels_vectorial(case):
    """We leave out the Fresnel coefficients: exact when matched, NCC > 0.999 from 3 µm deep."""
    mine, theirs = (
        ours(dkpsf.vectorial, CASES[case]),
        reference(psfmodels.vectorial_psf, CASES[case]),
    )
    assert normalized_cross_correlation(mine, theirs) > 0.99  # observed >= 0.9995
    assert np.unravel_index(np.argmax(mine), SHAPE) == np.unravel_index(np.argmax(theirs), SHAPE)


def test_vectorial_lateral_width_matches_psfmodels():
    spacing = (0.05, 0.02, 0.02)
    theirs = psfmodels.vectorial_psf(
        np.zeros(1),
        65,
        spacing[1],
        0.0,
        WAVELENGTH,
        {"NA": NA, "ni": NI, "ni0": NI, "ns": NI, "sf": 3, "mode": 1},
    )
    mine = dkpsf.vectorial((1, 65, 65), spacing, NA, WAVELENGTH, NI)
    width_theirs = dkpsf.describe(np.repeat(theirs, 3, axis=0), (1.0, *spacing[1:])).fwhm_lateral
    width_mine = dkpsf.describe(np.repeat(mine, 3, axis=0), (1.0, *spacing[1:])).fwhm_lateral
    assert width_mine == pytest.approx(width_theirs, rel=0.005)
