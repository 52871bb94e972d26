"""Every operator in the registry against every contract, in float32 and float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit import testing

from .registry import REGISTRY

CONTRACTS = {
    "adjoint": testing.check_adjoint,
    "linearity": testing.check_linearity,
    "dtype preserved": testing.check_dtype_preserved,
    "input not mutated": testing.check_not_mutated,
    "lipschitz bound": testing.check_lipschitz,
    "nd shapes": testing.check_shapes,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("contract", list(CONTRACTS))
@pytest.mark.parametrize("name", list(REGISTRY))
@given(data=st.data())
def test_contract(name, contract, dtype, data):
    op = REGISTRY[name](data)
    seed = data.draw(st.integers(0, 2**16), label="seed")
    CONTRACTS[contract](op, dtype=dtype, seed=seed)
