"""Zernike polynomials (Noll order) and the 2D-pupil PSF model ``zernike``.

The 2D pupil (matrix Fourier transform of a Cartesian pupil grid) is checked
against the radial models for zero coefficients, and the aberrations against
exact symmetries of the pupil integral: conjugating and point-reflecting the
pupil leaves the intensity unchanged, so in a matched medium an even mode
(m even) of coefficient c at defocus z gives the PSF of -c at -z, and an odd
mode gives a PSF symmetric in z; a tip is an exact lateral translation.
"""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf as dkpsf
from deconvkit.costs import Cost
from deconvkit.psf._optics import build_optics
from deconvkit.psf._pupil import PupilModel
from deconvkit.testing import check_gradient

from .helpers import NI, WAVELENGTH, normalized_cross_correlation, relative_error

SHAPE = (13, 25, 25)
SPACING = (0.2, 0.1, 0.1)
WATER_NA = 1.0  # a water objective: NA 1.0, n = 1.33


def test_noll_indices_follow_noll_1976():
    expected = {1: (0, 0), 2: (1, 1), 3: (1, -1), 4: (2, 0), 5: (2, -2), 6: (2, 2),
                7: (3, -1), 8: (3, 1), 9: (3, -3), 10: (3, 3), 11: (4, 0), 12: (4, 2),
                13: (4, -2), 14: (4, 4), 15: (4, -4), 16: (5, 1), 22: (6, 0), 37: (8, 0)}  # fmt: skip
    assert {j: dkpsf.noll_to_nm(j) for j in expected} == expected
    # every (n, m) of each order exactly once
    for n in range(9):
        js = range(n * (n + 1) // 2 + 1, (n + 1) * (n + 2) // 2 + 1)
        assert sorted(dkpsf.noll_to_nm(j)[1] for j in js) == list(range(-n, n + 1, 2))


def test_polynomials_are_orthonormal_on_the_unit_disk():
    """(1/π) ∫ Z_j Z_k over the disk = δ_jk, by Gauss-Legendre in ρ and a uniform grid in φ."""
    x, w = np.polynomial.legendre.leggauss(40)
    rho, wr = (x + 1) / 2, w / 2
    phi = np.arange(64) * 2 * np.pi / 64
    r, p = np.meshgrid(rho, phi, indexing="ij")
    weights = (wr * rho)[:, None] * (2 * np.pi / 64) / np.pi
    modes = np.stack([dkpsf.zernike_polynomial(j, r, p) for j in range(1, 29)])
    gram = np.einsum("iab,jab,ab->ij", modes, modes, weights)
    np.testing.assert_allclose(gram, np.eye(28), atol=1e-10)
    # spherical aberration: sqrt(5) (6 rho^4 - 6 rho^2 + 1)
    np.testing.assert_allclose(
        dkpsf.zernike_polynomial(11, rho, 0 * rho), np.sqrt(5) * (6 * rho**4 - 6 * rho**2 + 1)
    )


@pytest.mark.parametrize(
    ("model", "radial", "mismatch"),
    [("scalar", dkpsf.gibson_lanni, {}), ("scalar", dkpsf.gibson_lanni, {"ns": 1.33, "depth": 8.0}),
     ("vectorial", dkpsf.vectorial, {}), ("vectorial", dkpsf.vectorial, {"ns": 1.33, "depth": 8.0})],
)  # fmt: skip
def test_zero_coefficients_reproduce_the_radial_models(model, radial, mismatch):
    """NA 1.4 oil: the 2D pupil agrees with the radial quadrature (observed NCC >= 0.99995)."""
    kwargs = {"oversample": 2, **mismatch}
    mine = dkpsf.zernike(SHAPE, SPACING, 1.4, WAVELENGTH, NI, model=model, **kwargs)
    theirs = radial(SHAPE, SPACING, 1.4, WAVELENGTH, NI, **kwargs)
    assert mine.dtype == np.float32
    assert float(mine.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert normalized_cross_correlation(mine, theirs) > 0.9999
    assert relative_error(mine, theirs) < (0.01 if not mismatch else 0.03)
    assert np.unravel_index(np.argmax(mine), SHAPE) == tuple(n // 2 for n in SHAPE)


@pytest.mark.parametrize("j", [5, 6, 11, 12, 22])
def test_even_mode_of_minus_c_is_the_axial_mirror(j):
    common = {"oversample": 1, "axial_origin": "nominal"}
    plus = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, {j: 0.6}, **common)
    minus = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, {j: -0.6}, **common)
    np.testing.assert_allclose(plus[::-1], minus, rtol=1e-4, atol=1e-8)
    assert relative_error(plus, plus[::-1]) > 0.05  # and the mode does break the z symmetry


@pytest.mark.parametrize("j", [7, 8, 9, 10])
def test_odd_mode_is_axially_symmetric_and_moves_light_sideways(j):
    psf = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, {j: 0.8}, oversample=1,
                        axial_origin="nominal")  # fmt: skip
    np.testing.assert_allclose(psf, psf[::-1], rtol=1e-4, atol=1e-8)
    plain = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, oversample=1)
    assert relative_error(psf, plain) > 0.1
    # cosine modes (even j) keep the mirror y -> -y, sine modes x -> -x
    mirrored = psf[:, ::-1, :] if j % 2 == 0 else psf[:, :, ::-1]
    np.testing.assert_allclose(mirrored, psf, rtol=1e-4, atol=1e-8)


def test_tip_is_a_lateral_translation_towards_plus_x():
    """Z2 = 2ρ cos φ with c = π NA dx / λ moves the PSF by exactly one pixel along +x."""
    dx = SPACING[2]
    c = np.pi * WATER_NA * dx / WAVELENGTH
    common = {"oversample": 1, "axial_origin": "nominal"}
    plain = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, **common)
    tipped = dkpsf.zernike(SHAPE, SPACING, WATER_NA, WAVELENGTH, 1.33, {"tip": c}, **common)
    scale = tipped[:, :, 1:].sum() / plain[:, :, :-1].sum()
    np.testing.assert_allclose(tipped[:, :, 1:], plain[:, :, :-1] * scale, rtol=1e-3, atol=1e-7)


def test_focus_origin_centres_an_aberrated_psf():
    psf = dkpsf.zernike((31, 17, 17), (0.1, 0.08, 0.08), 1.3, WAVELENGTH, NI,
                        {"spherical": 1.0}, ns=1.40, depth=5.0, oversample=1)  # fmt: skip
    assert np.unravel_index(np.argmax(psf), psf.shape) == (15, 8, 8)


def test_coefficients_by_name_index_or_sequence_agree():
    by_name = dkpsf.zernike((5, 17, 17), SPACING, 1.2, WAVELENGTH, 1.33, {"spherical": 0.4, "vertical_coma": 0.2},
                            oversample=1)  # fmt: skip
    by_index = dkpsf.zernike((5, 17, 17), SPACING, 1.2, WAVELENGTH, 1.33, {11: 0.4, 7: 0.2}, oversample=1)
    sequence = np.zeros(11)
    sequence[[6, 10]] = [0.2, 0.4]
    by_sequence = dkpsf.zernike((5, 17, 17), SPACING, 1.2, WAVELENGTH, 1.33, sequence, oversample=1)
    np.testing.assert_array_equal(by_name, by_index)
    np.testing.assert_allclose(by_sequence, by_index, rtol=1e-6, atol=1e-9)


class _Projection(Cost):
    """c -> <G, h(c)>, the cost whose gradient is the model's VJP."""

    smooth = True

    def __init__(self, engine: PupilModel, cotangent: np.ndarray) -> None:
        super().__init__((len(engine.modes),))
        self.engine, self.cotangent = engine, cotangent

    def _value(self, c):
        return float(np.vdot(self.cotangent, self.engine.psf(c)))

    def _grad(self, c):
        return self.engine.vjp(c, self.cotangent)[1]


@pytest.mark.parametrize("model", ["scalar", "vectorial"])
def test_coefficient_gradient_matches_finite_differences(model):
    optics = build_optics(1.3, WAVELENGTH, NI, ns=1.40, depth=4.0)
    engine = PupilModel(optics, (5, 11, 11), SPACING, model=model, modes=(4, 5, 8, 11),
                        oversample=2)  # fmt: skip
    cotangent = np.random.default_rng(1).standard_normal(engine.shape)
    c = np.array([0.1, 0.3, 0.15, 0.5])
    check_gradient(_Projection(engine, cotangent), c, rtol=1e-6)
    _, jacobian = engine.jacobian(c)
    np.testing.assert_allclose(
        np.einsum("jzyx,zyx->j", jacobian, cotangent), engine.vjp(c, cotangent)[1], rtol=1e-8
    )


def test_light_sheet_gradient_matches_finite_differences():
    engine = PupilModel(build_optics(1.1, WAVELENGTH, 1.333), (9, 11, 11), (0.1, 0.1, 0.1),
                        modes=(5, 11), oversample=2, axial_shift=True, sheet_fwhm=0.6)  # fmt: skip
    cotangent = np.random.default_rng(2).standard_normal(engine.shape)
    c = np.array([0.2, -0.3, 0.02])
    projection = _Projection(engine, cotangent)
    projection.shape = (3,)
    check_gradient(projection, c, rtol=1e-6)
    _, jacobian = engine.jacobian(c)
    np.testing.assert_allclose(
        np.einsum("jzyx,zyx->j", jacobian, cotangent), engine.vjp(c, cotangent)[1], rtol=1e-8
    )


def test_light_sheet_multiplies_the_detection_psf_by_its_profile():
    shape, spacing = (15, 17, 17), (0.1, 0.1, 0.1)
    detection = dkpsf.zernike(shape, spacing, 1.1, WAVELENGTH, 1.333, oversample=1).astype(float)
    sheet = dkpsf.zernike(shape, spacing, 1.1, WAVELENGTH, 1.333, oversample=1, sheet_fwhm=0.5)
    z = (np.arange(15) - 7) * 0.1
    expected = detection * np.exp(-4 * np.log(2) * (z / 0.5) ** 2)[:, None, None]
    np.testing.assert_allclose(sheet, expected / expected.sum(), rtol=1e-5, atol=1e-9)
    # the profile's half maximum is at z = FWHM / 2 from the centre plane
    engine = PupilModel(build_optics(1.1, WAVELENGTH, 1.333), shape, spacing, oversample=1,
                        sheet_fwhm=0.4)  # fmt: skip
    assert engine.sheet()[9] == pytest.approx(0.5, rel=1e-9)  # z = 0.2 µm
    with pytest.raises(ValueError, match="sheet_fwhm must be a positive length"):
        dkpsf.zernike(shape, spacing, 1.1, WAVELENGTH, 1.333, sheet_fwhm=0.0)


@pytest.mark.parametrize(
    ("coefficients", "message"),
    [({0: 0.1}, "out of range"), ({232: 0.1}, "out of range"),
     ({"sphere": 0.1}, "unknown Zernike mode name"), ({11: float("nan")}, "must be finite"),
     ({11: "big"}, "must be a number"), (np.zeros((2, 3)), "1D sequence"),
     ({11: 0.1, "spherical": 0.2}, "given twice")],
)  # fmt: skip
def test_bad_coefficients_say_what_is_wrong(coefficients, message):
    with pytest.raises(ValueError, match=message):
        dkpsf.zernike((5, 9, 9), SPACING, 1.2, WAVELENGTH, 1.33, coefficients)


def test_a_non_integer_index_is_a_type_error():
    with pytest.raises(TypeError, match="integer Noll index"):
        dkpsf.zernike((5, 9, 9), SPACING, 1.2, WAVELENGTH, 1.33, {1.5: 0.1})


def test_bad_model_and_missing_parameters_are_refused():
    with pytest.raises(ValueError, match="model must be one of"):
        dkpsf.zernike((5, 9, 9), SPACING, 1.2, WAVELENGTH, 1.33, model="paraxial")
    with pytest.raises(TypeError, match="wavelength"):
        dkpsf.zernike((5, 9, 9), SPACING, 1.2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="noll_to_nm|Noll|out of range"):
        dkpsf.noll_to_nm(0)
