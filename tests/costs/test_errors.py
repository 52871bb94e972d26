"""Bad inputs raise ValueErrors that name the problem and the fix; the checks can fail."""

import numpy as np
import pytest

import deconvkit.costs as dc
import deconvkit.operators as ops
from deconvkit import testing


def test_poisson_rejects_negative_counts():
    with pytest.raises(ValueError, match=r"subtract less background.*np\.clip\(y, 0, None\)"):
        dc.PoissonLikelihood(np.array([1.0, -0.5]))


def test_poisson_rejects_nan_and_bad_background():
    with pytest.raises(ValueError, match="NaN"):
        dc.PoissonLikelihood(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="infinite"):
        dc.PoissonLikelihood(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="background must be a number or an array of the data's shape"):
        dc.PoissonLikelihood(np.ones(3), background=np.ones(4))
    with pytest.raises(ValueError, match="background must be a finite"):
        dc.PoissonLikelihood(np.ones(3), background=np.nan)


def test_unknown_schatten_order():
    for p in (3, 0.5, "nuclear", None):
        with pytest.raises(ValueError, match=r"p = 1 \(nuclear\), 2 \(Frobenius\) or inf"):
            dc.SchattenNorm(p)
    with pytest.raises(ValueError, match="p = 1"):
        dc.HessianSchatten((4, 4), p=3)


def test_schatten_needs_a_triangular_number_of_components():
    with pytest.raises(ValueError, match=r"k = n\(n\+1\)/2.*Hessian"):
        dc.SchattenNorm(1)(np.zeros((4, 5, 5)))


def test_negative_tau_and_sigma():
    x = np.ones(3)
    with pytest.raises(ValueError, match="tau must be a positive finite number"):
        dc.L1().prox(x, -1.0)
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        dc.MixedNorm21().prox_conjugate(x[None], 0.0)


def test_shape_mismatch_between_cost_and_operator():
    with pytest.raises(ValueError, match="cannot compose .* the cost takes arrays of shape 4x4"):
        dc.LeastSquares(np.zeros((4, 4))) @ ops.Blur(np.ones((1, 1)), (5, 5))
    with pytest.raises(ValueError, match="takes arrays of shape 4x4, got 3x3"):
        dc.PoissonLikelihood(np.ones((4, 4)))(np.ones((3, 3)))


def test_box_bounds_checked():
    with pytest.raises(ValueError, match="lower <= upper everywhere"):
        dc.Box(1.0, 0.0)
    with pytest.raises(ValueError, match="lower <= upper everywhere"):
        dc.Box(np.zeros(3), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="different shapes"):
        dc.Box(np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        dc.Box(np.nan, 1.0)
    with pytest.raises(ValueError, match="takes arrays of shape 3"):
        dc.Box(np.zeros(3), 1.0)(np.zeros(4))


def test_smoothing_parameters_checked():
    with pytest.raises(ValueError, match="delta > 0"):
        dc.Huber(0.0)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        dc.SmoothedTotalVariation((4, 4), epsilon=-1.0)


def test_stacked_costs_reject_scalars():
    with pytest.raises(ValueError, match="stacked arrays"):
        dc.MixedNorm21()(np.float64(1.0) * np.ones(()))


def test_non_convex_weight_rejected():
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        -1.0 * dc.L1()


def test_non_smooth_cost_refuses_gradient_check():
    with pytest.raises(ValueError, match="check_prox"):
        testing.check_gradient(dc.L1(), np.ones(3))


# -- the checks themselves can fail --------------------------------------------------
class _WrongGradient(dc.SquaredL2):
    def _grad(self, x):
        g = x.copy()
        g.flat[0] *= 2.0  # wrong in one voxel
        return g


class _WrongThreshold(dc.L1):
    def _prox(self, x, tau):
        return super()._prox(x, 1.5 * tau)


class _WrongConjugate(dc.L1):
    def _prox_conjugate(self, x, sigma):
        return np.clip(x, -2.0, 2.0)


class _WrongSmoothProx(dc.SquaredL2):
    def _prox(self, x, tau):
        return x / (1.0 + 1.01 * tau)


class _NotAProjection(dc.NonNegative):
    def _prox(self, x, tau):
        return np.abs(x)  # feasible and idempotent, but not the nearest point


class _Mutating(dc.SquaredL2):
    def _grad(self, x):
        x *= 1.0
        x[...] += 0.0
        x.flat[0] = 123.0
        return x.copy()


def test_check_gradient_catches_a_wrong_gradient():
    x = np.random.default_rng(0).standard_normal((4, 5))
    assert testing.check_gradient(dc.SquaredL2(), x) < 1e-8
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        testing.check_gradient(_WrongGradient(), x, direction=np.eye(4, 5))


def test_check_prox_catches_wrong_proxes():
    x = np.random.default_rng(1).standard_normal((6, 7))
    with pytest.raises(AssertionError, match="not the minimizer"):
        testing.check_prox(_WrongThreshold(), x, 0.5)
    with pytest.raises(AssertionError, match="Moreau identity"):
        testing.check_prox(_WrongConjugate(), 3 * x, 0.5)
    with pytest.raises(AssertionError, match="optimality condition"):
        testing.check_prox(_WrongSmoothProx(), x, 0.5)
    with pytest.raises(AssertionError, match="not the projection"):
        testing.check_prox(_NotAProjection(), x, 0.5)


def test_check_not_mutated_and_dtype_can_fail():
    x = np.random.default_rng(2).standard_normal(5).astype(np.float32)
    with pytest.raises(AssertionError, match="modified its input"):
        testing.check_cost_not_mutated(_Mutating(), x)

    class _Upcasting(dc.SquaredL2):
        def _grad(self, x):
            return x.astype(np.float64)

    with pytest.raises(AssertionError, match="float64"):
        testing.check_cost_dtype(_Upcasting(), x)
