"""Bad input raises ValueError with a message that names the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import psf as dkpsf

SHAPE, SPACING = (5, 7, 7), (0.2, 0.1, 0.1)
MODELS = {
    "gaussian": dkpsf.gaussian,
    "born_wolf": dkpsf.born_wolf,
    "gibson_lanni": dkpsf.gibson_lanni,
    "vectorial": dkpsf.vectorial,
    "confocal": dkpsf.confocal,
}
GOOD = {"shape": SHAPE, "spacing": SPACING, "na": 1.2, "wavelength": 0.52, "ni": 1.33}


@pytest.fixture(params=list(MODELS))
def model(request):
    return MODELS[request.param]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"na": 1.4}, r"na=1\.4 must be smaller than the immersion index ni=1\.33"),
        ({"na": 1.33}, r"must be smaller than the immersion index"),
        ({"na": 0.0}, r"na \(numerical aperture\) must be positive"),
        ({"wavelength": 0.0}, r"wavelength must be positive, in µm \(e\.g\. 0\.52 for 520 nm\)"),
        ({"wavelength": -0.5}, r"wavelength must be positive"),
        ({"wavelength": 520.0}, r"wavelength=520 µm looks like nanometres; give it in µm"),
        ({"spacing": (0.1, 0.1)}, r"spacing must have 3 values \(dz, dy, dx\) in µm.*got 2"),
        ({"spacing": 0.1}, r"spacing must have 3 values"),
        ({"spacing": (0.2, 0.0, 0.1)}, r"spacing values must be positive and finite"),
        ({"spacing": (0.2, -0.1, 0.1)}, r"spacing values must be positive"),
        ({"shape": (4, 7, 7)}, r"has even sizes; use odd sizes, e\.g\. \(5, 7, 7\)"),
        (
            {"shape": (5, 8, 8)},
            r"use odd sizes, e\.g\. \(5, 9, 9\), so that the centre voxel is the focus",
        ),
        ({"shape": (7, 7)}, r"shape must have 3 integer sizes \(nz, ny, nx\)"),
        ({"shape": (5, 7.5, 7)}, r"shape must have 3 integer sizes"),
        ({"ni": 0.5}, r"ni is a refractive index and must be >= 1"),
    ],
)
def test_every_model_names_the_problem(model, change, message):
    with pytest.raises(ValueError, match=message):
        model(**{**GOOD, **change})


@pytest.mark.parametrize("oversample", [0, -1, 1.5, True])
def test_oversample_must_be_a_positive_integer(model, oversample):
    with pytest.raises(ValueError, match="oversample must be an integer >= 1"):
        model(**GOOD, oversample=oversample)


@pytest.mark.parametrize("model", [dkpsf.gibson_lanni, dkpsf.vectorial, dkpsf.confocal])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ns": 0.9}, r"ns is a refractive index"),
        ({"depth": -1.0}, r"depth \(source depth below the coverslip\) must be >= 0 \(µm\)"),
        ({"tg": -5.0}, r"tg \(coverslip thickness\) must be >= 0"),
        ({"ni0": 1.1}, r"na=1\.2 must be smaller than the immersion index ni0=1\.1"),
    ],
)
def test_aberration_parameters_are_checked(model, change, message):
    with pytest.raises(ValueError, match=message):
        model(**GOOD, **change)


def test_confocal_specific_errors():
    with pytest.raises(ValueError, match=r"pinhole must be >= 0 \(Airy units\)"):
        dkpsf.confocal(**GOOD, pinhole=-1.0)
    with pytest.raises(
        ValueError, match=r"model must be one of .*use gaussian\(\.\.\., confocal=True\)"
    ):
        dkpsf.confocal(**GOOD, model="gaussian")
    with pytest.raises(ValueError, match=r"excitation_wavelength must be positive"):
        dkpsf.confocal(**GOOD, excitation_wavelength=0.0)


def test_gaussian_finite_pinhole_needs_paraxial():
    with pytest.raises(
        ValueError,
        match=r"closed form for a finite pinhole only in the paraxial case; pass paraxial=True",
    ):
        dkpsf.gaussian(**GOOD, confocal=True, pinhole=1.0)
    assert dkpsf.gaussian(**GOOD, confocal=True, pinhole=1.0, paraxial=True).shape == SHAPE


def test_an_all_zero_psf_is_refused():
    from deconvkit.psf._sampling import normalized_float32

    with pytest.raises(ValueError, match="zero everywhere on this grid"):
        normalized_float32(np.zeros((3, 3, 3)))


@pytest.mark.parametrize("function", [dkpsf.prepare, lambda v: dkpsf.from_beads(v, SPACING)])
def test_volumes_are_checked(function):
    with pytest.raises(
        ValueError, match=r"is empty \(shape \(0, 10, 10\)\); pass a non-empty 3D stack"
    ):
        function(np.zeros((0, 10, 10)))
    with pytest.raises(ValueError, match="must be a 3D array in ZYX order, got 2 dimension"):
        function(np.zeros((10, 10)))
    stack = np.ones((9, 9, 9))
    stack[4, 4, 4] = np.nan
    with pytest.raises(ValueError, match=r"contains 1 NaN or infinite value\(s\); replace them"):
        function(stack)
    with pytest.raises(ValueError, match="must hold real numbers"):
        function(np.ones((9, 9, 9), dtype=complex))
