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
