"""A composition reuses ``A x`` between its value and its gradient only at the same content."""

import numpy as np

import deconvkit.costs as dc
import deconvkit.operators as ops


class CountingBlur(ops.Blur):
    """A Blur that counts its forward applications."""

    calls = 0

    def _forward(self, x):
        type(self).calls += 1
        return super()._forward(x)


def _problem(dtype=np.float32):
    rng = np.random.default_rng(0)
    shape = (8, 12, 12)
    psf = rng.random((3, 5, 5)).astype(dtype)
    blur = CountingBlur(psf / psf.sum(), shape)
    y = rng.random(shape).astype(dtype)
    x = rng.random(shape).astype(dtype)
    return dc.LeastSquares(y) @ blur, blur, x


def test_gradient_after_an_in_place_change_is_the_gradient_at_the_new_point():
    cost, _, x = _problem()
    cost(x)
    x *= x.dtype.type(1.5)  # e.g. a callback rescaling the iterate in place
    x[0, 0, 0] += 1
    fresh = dc.LeastSquares(cost.cost.y) @ cost.op
    np.testing.assert_array_equal(cost.grad(x), fresh.grad(x))


def test_gradient_after_a_swap_that_keeps_sum_and_norm_is_fresh():
    cost, _, x = _problem(np.float64)
    cost(x)
    x[[0, 1]] = x[[1, 0]]  # same sum, same norm, different content
    fresh = dc.LeastSquares(cost.cost.y) @ cost.op
    np.testing.assert_array_equal(cost.grad(x), fresh.grad(x))


def test_value_then_gradient_at_the_same_content_applies_the_operator_once():
    cost, blur, x = _problem()
    CountingBlur.calls = 0
    cost(x)
    cost.grad(x.copy())  # same values in another array: the key is the content
    assert CountingBlur.calls == 1
    cost.grad(x)  # the cache is used once
    assert CountingBlur.calls == 2
