"""The axial origin of the PSF models and the focal shift against published formulas.

``focal_shift`` gives the stage offset from the nominal focus to the focus;
the models' default centre plane (``axial_origin="focus"``) is that focus, so
the peak of a PSF behind an index mismatch is its centre voxel. The focal
shift is checked against the formulas of the literature where they hold:
the paraxial scaling z_p (ni/ns - 1) as NA -> 0, the least-squares
(minimum-RMS wavefront) defocus while the aberration is moderate, and the
geometrical bounds (paraxial <= focus <= marginal ray, Visser et al. 1992).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from deconvkit import psf as dkpsf

from .helpers import NI, WAVELENGTH

NS = 1.33
MODELS = {"gibson_lanni": dkpsf.gibson_lanni, "vectorial": dkpsf.vectorial}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize(("na", "ns", "depth"), [(1.4, 1.33, 5.0), (1.2, 1.33, 10.0), (1.4, 1.47, 3.0)])
def test_default_origin_puts_the_peak_at_the_centre_voxel(model, na, ns, depth):
    spacing = (0.1, 0.05, 0.05)
    psf = MODELS[model]((41, 9, 9), spacing, na, WAVELENGTH, NI, ns=ns, depth=depth)
    assert np.unravel_index(np.argmax(psf), psf.shape) == (20, 4, 4)
    assert abs(dkpsf.describe(psf, spacing).peak_offset[0]) < 0.01  # sub-plane: 1/10 of dz


@pytest.mark.parametrize("model", list(MODELS))
def test_nominal_origin_is_the_focus_moved_by_the_focal_shift(model):
    spacing = (0.05, 0.05, 0.05)
    shift = dkpsf.focal_shift(1.4, WAVELENGTH, NI, ns=NS, depth=5.0, model=model)
    nominal = MODELS[model](
        (81, 5, 5), spacing, 1.4, WAVELENGTH, NI, ns=NS, depth=5.0, oversample=1,
        axial_origin="nominal",
    )
    assert dkpsf.describe(nominal, spacing).peak_offset[0] == pytest.approx(shift, abs=0.005)
    assert shift == pytest.approx(1.29 if model == "gibson_lanni" else 1.28, abs=0.01)


def test_paraxial_origin_is_the_paraxial_formula():
    """ns/ni scaling with the coverslip and immersion terms (exact in the paraxial limit)."""
    case = {"ns": 1.40, "depth": 8.0, "ng": 1.52, "tg": 172.0, "ni0": 1.515}
    expected = 8.0 * (1.518 / 1.40 - 1) + 1.518 * (172.0 / 1.52 - 170.0 / 1.515) - 150.0 * (
        1.518 / 1.515 - 1
    )
    assert dkpsf.focal_shift(1.3, WAVELENGTH, 1.518, formula="paraxial", **case) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("depth", [5.0, 20.0])
def test_low_na_focus_tends_to_the_paraxial_scaling(depth):
    """The relative excess over z_p (ni/ns - 1) falls as NA²: 1.1 % at NA 0.2, 0.27 % at 0.1."""
    paraxial = depth * (NI / NS - 1)
    excess = [dkpsf.focal_shift(na, WAVELENGTH, NI, ns=NS, depth=depth) / paraxial - 1
              for na in (0.2, 0.1)]  # fmt: skip
    assert 0 < excess[1] < 0.003
    assert excess[0] / excess[1] == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize(("na", "ns"), [(0.8, 1.33), (1.0, 1.33), (1.2, 1.33), (1.3, 1.47)])
def test_moderate_aberration_focus_is_the_least_squares_defocus(na, ns):
    """Below the critical angle the intensity peak is the minimum-RMS defocus within 3 %."""
    kwargs = {"ns": ns, "depth": 5.0}
    focus = dkpsf.focal_shift(na, WAVELENGTH, NI, **kwargs)
    balanced = dkpsf.focal_shift(na, WAVELENGTH, NI, formula="least_squares", **kwargs)
    assert focus == pytest.approx(balanced, rel=0.03)


@pytest.mark.parametrize("na", [0.6, 1.0, 1.25])
def test_focus_lies_between_the_paraxial_and_the_marginal_focus(na):
    kwargs = {"ns": NS, "depth": 10.0}
    paraxial = dkpsf.focal_shift(na, WAVELENGTH, NI, formula="paraxial", **kwargs)
    marginal = dkpsf.focal_shift(na, WAVELENGTH, NI, formula="marginal", **kwargs)
    focus = dkpsf.focal_shift(na, WAVELENGTH, NI, **kwargs)
    assert paraxial < focus < marginal


def test_focal_shift_grows_with_depth_and_vanishes_without_mismatch():
    shifts = [dkpsf.focal_shift(1.4, WAVELENGTH, NI, ns=NS, depth=d) for d in (0.0, 2.0, 5.0, 10.0)]
    assert shifts[0] == pytest.approx(0.0, abs=1e-12)
    assert all(a < b for a, b in itertools.pairwise(shifts))
    # the scaling is depth dependent at high NA: the shift per µm of depth falls
    assert shifts[1] / 2.0 > shifts[3] / 10.0
    assert dkpsf.focal_shift(1.4, WAVELENGTH, NI, ns=NI, depth=7.0) == pytest.approx(0.0, abs=1e-12)


def test_bad_axial_origin_and_formula_are_refused():
    with pytest.raises(ValueError, match="axial_origin must be one of"):
        dkpsf.gibson_lanni((5, 5, 5), (0.1, 0.1, 0.1), 1.4, WAVELENGTH, NI, axial_origin="centre")
    with pytest.raises(ValueError, match="formula must be one of"):
        dkpsf.focal_shift(1.4, WAVELENGTH, NI, formula="best")
    with pytest.raises(ValueError, match="totally reflected"):
        dkpsf.focal_shift(1.4, WAVELENGTH, NI, ns=NS, depth=1.0, formula="marginal")
