"""Every cost in the registry against every contract that applies to it."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit import testing

from .registry import BOUNDARY_PROX, INDICATORS, INEXACT_PROX, PROXIMABLE, REGISTRY, SMOOTH


@pytest.mark.parametrize("name", list(REGISTRY))
@given(data=st.data())
def test_flags(name, data):
    cost, x = REGISTRY[name](data)
    if cost.indicator:
        assert cost(x) in (0.0, np.inf)
        x = cost.prox(x, 1.0)
    assert cost.smooth == (name in SMOOTH)
    assert cost.proximable == (name in PROXIMABLE)
    assert cost.indicator == (name in INDICATORS)
    assert np.isfinite(cost(x))
    assert isinstance(cost(x), float)


@pytest.mark.parametrize("name", SMOOTH)
@given(data=st.data())
def test_gradient_against_finite_differences(name, data):
    cost, x = REGISTRY[name](data)
    seed = data.draw(st.integers(0, 2**16), label="seed")
    assert testing.check_gradient(cost, x, seed=seed) <= 1e-5


@pytest.mark.parametrize("name", PROXIMABLE)
@given(data=st.data())
def test_prox(name, data):
    cost, x = REGISTRY[name](data)
    tau = data.draw(st.floats(0.05, 3.0), label="tau")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    optimality = False if name in BOUNDARY_PROX else None
    rtol = 1e-3 if name in INEXACT_PROX else 1e-8  # 200 cold dual iterations: ~1e-4 on the objective
    errors = testing.check_prox(cost, x, tau, seed=seed, optimality=optimality, rtol=rtol)
    assert "moreau" in errors
    if name in INDICATORS:
        assert errors["feasibility"] == 0.0 and "projection" in errors
    else:
        assert "perturbation" in errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(REGISTRY))
@given(data=st.data())
def test_dtype_preserved(name, dtype, data):
    cost, x = REGISTRY[name](data)
    x = x.astype(dtype)
    testing.check_cost_dtype(cost, x)
    if cost.indicator:
        x = cost.prox(x, 1.0)
    assert np.isfinite(cost(x))


@pytest.mark.parametrize("name", list(REGISTRY))
@given(data=st.data())
def test_input_not_mutated(name, data):
    cost, x = REGISTRY[name](data)
    testing.check_cost_not_mutated(cost, x.astype(np.float32))
    testing.check_cost_not_mutated(cost, x)
