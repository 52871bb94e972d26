"""The circulant family: closure under algebra, equality with pylops composition, inverse."""

import numpy as np
import pylops
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit.operators import Blur, Circulant, Crop, Gradient, Hessian, Identity, Laplacian
from deconvkit.testing import strategies as dks


@given(shape=dks.shapes(), data=st.data())
def test_algebra_equals_generic_pylops_composition(shape, data):
    blur = Blur(data.draw(dks.psfs(shape)), shape)
    grad = Gradient(shape, data.draw(dks.spacings(len(shape))))
    lam = data.draw(st.floats(1e-3, 10.0))
    normal = blur.H @ blur + lam * (grad.H @ grad)
    assert normal.is_circulant and normal.dims == shape
    generic = pylops.LinearOperator.dot(blur.H, blur)  # pylops' own product, applied factor by factor
    x = data.draw(dks.arrays(shape))
    expected = (generic @ x.ravel()).reshape(shape) + lam * (grad.H @ (grad @ x))
    np.testing.assert_allclose(normal @ x, expected, atol=1e-10 * (1 + abs(expected).max()))


def test_blur_normal_is_one_transfer_function():
    blur = Blur(np.ones((3, 3)) / 9, (8, 8))
    normal = blur.H @ blur
    assert isinstance(normal, Circulant)
    np.testing.assert_allclose(normal.transfer_function, abs(blur.otf) ** 2, atol=1e-7)


@given(shape=dks.shapes(), data=st.data())
def test_inverse_times_operator_is_identity(shape, data):
    blur = Blur(data.draw(dks.psfs(shape)), shape)
    lap = Laplacian(shape)
    op = blur.H @ blur - 0.1 * lap + 1e-3 * Identity(shape)
    x = data.draw(dks.arrays(shape))
    np.testing.assert_allclose(op.inv() @ (op @ x), x, atol=1e-8)
    np.testing.assert_allclose(op.solve(op @ x), x, atol=1e-8)


def test_stacked_normals_are_circulant_and_exact():
    shape = (6, 7, 8)
    x = np.random.default_rng(1).standard_normal(shape)
    for stack in (Gradient(shape, (0.3, 0.1, 0.1)), Hessian(shape, (0.3, 0.1, 0.1))):
        normal = stack.H @ stack
        assert normal.is_circulant
        applied_by_blocks = Circulant(normal.circulant_blocks(np.float64), shape) @ x
        np.testing.assert_allclose(applied_by_blocks, stack.H @ (stack @ x), atol=1e-9)
        assert normal.lipschitz == pytest.approx(stack.lipschitz**2, rel=1e-5)  # float32 blocks


def test_singular_operator_needs_a_floor():
    shape = (8, 8)
    grad = Gradient(shape)
    with pytest.raises(ValueError, match="singular.*floor"):
        (grad.H @ grad).inv()
    blur = Blur(np.ones((3, 3)) / 9, shape)  # its OTF vanishes at some frequencies
    truncated = blur.inv(floor=0.05)
    kept = abs(blur.otf) > 0.05
    np.testing.assert_allclose((truncated.transfer_function * blur.otf)[kept], 1.0, rtol=1e-5)
    assert np.all(truncated.transfer_function[~kept] == 0)


def test_non_circulant_and_stacked_cannot_be_inverted():
    with pytest.raises(ValueError, match="not in the circulant family"):
        (Crop((8, 8), (4, 4)).H @ Crop((8, 8), (4, 4))).inv()
    with pytest.raises(ValueError, match="only square, unstacked"):
        Gradient((8, 8)).inv()
    with pytest.raises(ValueError, match="not in the circulant family"):
        Gradient((8, 8), boundary="neumann").circulant_blocks()


def test_shape_mismatch_in_composition_is_explained():
    with pytest.raises(ValueError, match="shapes do not match"):
        Blur(np.ones((3, 3)), (8, 8)) @ Blur(np.ones((3, 3)), (8, 9))
    with pytest.raises(ValueError, match="shapes do not match"):
        Identity((8, 8)) + Identity((8, 9))
