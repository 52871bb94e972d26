"""Finite differences: sign conventions, closed-form norms, spacing, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit.operators import Gradient, Hessian, Laplacian
from deconvkit.testing import strategies as dks


@given(shape=dks.shapes(), data=st.data())
def test_laplacian_is_minus_gradient_normal(shape, data):
    spacing = data.draw(dks.spacings(len(shape)))
    boundary = data.draw(st.sampled_from(["periodic", "neumann"]))
    x = data.draw(dks.arrays(shape))
    grad = Gradient(shape, spacing, boundary)
    lap = Laplacian(shape, spacing, boundary)
    np.testing.assert_allclose(lap @ x, -(grad.H @ (grad @ x)), atol=1e-9 * (1 + abs(lap @ x).max()))


@given(shape=dks.shapes(), data=st.data())
def test_hessian_norm_is_frobenius_and_lipschitz_exact(shape, data):
    """‖Hx‖ equals ‖Σ D_iᵀD_i x‖ (D_i commute), so ‖H‖ = ‖Laplacian‖ exactly."""
    spacing = data.draw(dks.spacings(len(shape)))
    boundary = data.draw(st.sampled_from(["periodic", "neumann"]))
    x = data.draw(dks.arrays(shape))
    hess, lap = Hessian(shape, spacing, boundary), Laplacian(shape, spacing, boundary)
    np.testing.assert_allclose(np.linalg.norm(hess @ x), np.linalg.norm(lap @ x), rtol=1e-9, atol=1e-9)
    assert hess.lipschitz == pytest.approx(lap.lipschitz)


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_norms_are_attained(boundary):
    """The closed-form norms equal the power-iteration estimate (they are exact)."""
    for op in (
        Gradient((6, 9, 8), (0.3, 0.1, 0.1), boundary),
        Laplacian((6, 9, 8), (0.3, 0.1, 0.1), boundary),
        Hessian((6, 9, 8), (0.3, 0.1, 0.1), boundary),
    ):
        estimate = op.estimate_lipschitz(max_iter=3000, rtol=1e-12, dtype=np.float64)
        assert estimate == pytest.approx(op.lipschitz, rel=1e-3)


def test_gradient_of_a_ramp_uses_physical_spacing():
    z, y, x = np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing="ij")
    ramp = 2.0 * z * 0.5 + 3.0 * x * 0.2  # in µm: 2 per µm along z, 3 per µm along x
    grad = Gradient(ramp.shape, spacing=(0.5, 0.1, 0.2), boundary="neumann") @ ramp
    np.testing.assert_allclose(grad[0, :-1], 2.0)
    np.testing.assert_allclose(grad[1], 0.0)
    np.testing.assert_allclose(grad[2, :, :, :-1], 3.0)
    np.testing.assert_allclose(grad[0, -1], 0.0)  # zero flux across the border


def test_hessian_components_and_order():
    hess = Hessian((5, 6, 7))
    assert hess.pairs == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    assert hess.dimsd == (6, 5, 6, 7)
    z, y, x = np.meshgrid(np.arange(5.0), np.arange(6.0), np.arange(7.0), indexing="ij")
    out = Hessian((5, 6, 7), boundary="neumann") @ (z * y)  # ∂²/∂z∂y = 1
    np.testing.assert_allclose(out[1, :-1, :-1], np.sqrt(2.0))
    np.testing.assert_allclose(out[0, 1:-1], 0.0)


@pytest.mark.parametrize("cls", [Gradient, Laplacian, Hessian])
def test_bad_spacing_and_boundary(cls):
    with pytest.raises(ValueError, match="spacing has 2 values but the arrays have 3 axes"):
        cls((4, 4, 4), spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        cls((4, 4), spacing=(1.0, -1.0))
    with pytest.raises(ValueError, match="boundary must be one of"):
        cls((4, 4), boundary="reflect")
