"""The public checks catch what they claim to catch (they can fail)."""

import numpy as np
import pytest

from deconvkit.operators import Operator
from deconvkit.testing import (
    check_adjoint,
    check_dtype_preserved,
    check_lipschitz,
    check_not_mutated,
    check_operator,
)


class ShiftWithWrongAdjoint(Operator):
    """Shift by one voxel; its 'adjoint' shifts the wrong way."""

    def __init__(self, shape):
        super().__init__(shape, shape)

    def _forward(self, x):
        return np.roll(x, 1)

    def _adjoint_apply(self, y):
        return np.roll(y, 1)


class Upcasting(Operator):
    def __init__(self, shape):
        super().__init__(shape, shape)

    def _forward(self, x):
        return x.astype(np.float64) * 2

    _adjoint_apply = _forward

    def _compute_lipschitz(self):
        return 1.0  # wrong: the norm is 2


class Mutating(Operator):
    def __init__(self, shape):
        super().__init__(shape, shape)

    def _forward(self, x):
        x *= 1.0000001
        return x.copy()

    _adjoint_apply = _forward


def test_check_adjoint_reports_a_wrong_adjoint():
    with pytest.raises(AssertionError, match="adjoint mismatch.*relative error"):
        check_adjoint(ShiftWithWrongAdjoint((7,)), dtype=np.float64)


def test_check_adjoint_accepts_a_right_one_and_complex_inputs():
    op = ShiftWithWrongAdjoint((1,))  # a shift of a single voxel is the identity
    assert check_adjoint(op, dtype=np.complex128) < 1e-12


def test_other_contracts_fail_when_they_should():
    with pytest.raises(AssertionError, match="returned float64, not float32"):
        check_dtype_preserved(Upcasting((5,)), dtype=np.float32)
    with pytest.raises(AssertionError, match="not an upper bound"):
        check_lipschitz(Upcasting((5,)), dtype=np.float64)
    with pytest.raises(AssertionError, match="modified its input"):
        check_not_mutated(Mutating((5,)), dtype=np.float64)
    with pytest.raises(AssertionError):
        check_operator(ShiftWithWrongAdjoint((4, 4)), dtype=np.float64)


# -- planted adjoint bugs on a realistic volume (issue 13): each must be caught -------------
from deconvkit.operators import Blur  # noqa: E402

PLANTED_SHAPE = (32, 64, 64)


def _gaussian(shape, sigma, offset=(0.0, 0.0, 0.0)):
    grids = np.meshgrid(*[np.arange(n) - n // 2 - o for n, o in zip(shape, offset)], indexing="ij")
    g = np.exp(-sum((a / s) ** 2 for a, s in zip(grids, sigma)) / 2)
    return g / g.sum()


class ScaledAdjoint(Blur):
    """A correct blur whose adjoint is 0.1 % too large."""

    def _adjoint_apply(self, y):
        return super()._adjoint_apply(y) * y.dtype.type(1.001)


class ShiftedAdjoint(Blur):
    """A correct blur whose adjoint lands one voxel off along x."""

    def _adjoint_apply(self, y):
        return np.roll(super()._adjoint_apply(y), 1, axis=-1)


class UntransposedAdjoint(Blur):
    """An asymmetric PSF whose 'adjoint' convolves instead of correlating (forgot the transpose)."""

    def _adjoint_apply(self, y):
        return super()._forward(y)


def _planted(kind, dtype):
    # wide, as a widefield PSF: a blurred field barely changes under a one-voxel shift
    sigma, size = (6.0, 6.0, 6.0), (31, 31, 31)
    psf = _gaussian(size, sigma)
    if kind is UntransposedAdjoint:  # a small side lobe makes the PSF asymmetric
        psf = psf + 0.2 * _gaussian(size, sigma, offset=(0.0, 1.0, 2.0))
        psf /= psf.sum()
    return kind(psf.astype(dtype), PLANTED_SHAPE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", [ScaledAdjoint, ShiftedAdjoint, UntransposedAdjoint],
                         ids=["scaled-1.001", "shifted-1-voxel", "untransposed"])
def test_check_adjoint_catches_planted_bugs(kind, dtype):
    op = _planted(kind, dtype)
    with pytest.raises(AssertionError, match="adjoint mismatch"):
        check_adjoint(op, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_check_adjoint_passes_the_correct_blur_with_a_margin(dtype):
    op = Blur(_gaussian((15, 15, 15), (2.0, 1.5, 1.5)).astype(dtype), PLANTED_SHAPE)
    error = check_adjoint(op, dtype=dtype)
    assert error < (1e-5 if dtype == np.float32 else 1e-12)
