"""Factories of every cost and composite, for the contract tests.

Each factory draws its shapes, spacings and data from hypothesis and returns
``(cost, x)``: the cost and a float64 point in its domain (positive where the
cost needs it). A new cost is covered by every contract in
``test_contracts.py`` by adding one line here, and one in the kind lists below.
"""

import numpy as np
from hypothesis import strategies as st

import deconvkit.costs as dc
import deconvkit.operators as ops
from deconvkit.testing import strategies as dks


def _shape(data, **kwargs):
    return data.draw(dks.shapes(**kwargs), label="shape")


def _spacing(data, shape):
    return data.draw(dks.spacings(len(shape)), label="spacing")


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def _normal(data, shape):
    return data.draw(dks.arrays(shape), label="x")


def _positive(data, shape):
    return _rng(data).uniform(0.2, 5.0, shape)


def _counts(data, shape):
    rng = _rng(data)
    return rng.poisson(rng.uniform(0.0, 8.0, shape)).astype(np.float64)  # zeros included


def _background(data, shape):
    if data.draw(st.booleans(), label="array background"):
        return _rng(data).uniform(0.0, 2.0, shape)
    return data.draw(st.floats(0.0, 3.0), label="background")


def _blur(data, shape):
    return ops.Blur(data.draw(dks.psfs(shape), label="psf"), shape)


def _boundary(data):
    return data.draw(st.sampled_from(["periodic", "neumann"]), label="boundary")


# -- data terms ----------------------------------------------------------------
def least_squares(data):
    shape = _shape(data)
    return dc.LeastSquares(_normal(data, shape)), _normal(data, shape)


def least_squares_crop_blur(data):
    shape = _shape(data)
    small = tuple(data.draw(st.integers(1, n)) for n in shape)
    op = ops.Crop(shape, small) @ _blur(data, shape)
    return dc.LeastSquares(_normal(data, small)) @ op, _normal(data, shape)


def poisson(data):
    shape = _shape(data)
    return dc.PoissonLikelihood(_counts(data, shape), background=_background(data, shape)), _positive(
        data, shape
    )


def poisson_blur(data):
    shape = _shape(data)
    cost = dc.PoissonLikelihood(_counts(data, shape), background=_background(data, shape))
    return cost @ _blur(data, shape), _positive(data, shape)


# -- regularizers ----------------------------------------------------------------
def squared_l2(data):
    shape = _shape(data)
    return dc.SquaredL2(), _normal(data, shape)


def tikhonov_laplacian(data):
    """Periodic Laplacian: circulant, so the prox is exact (prox_through)."""
    shape = _shape(data)
    weight = data.draw(st.floats(1e-3, 2.0), label="weight")
    return weight * dc.Tikhonov(ops.Laplacian(shape, _spacing(data, shape))), _normal(data, shape)


def tikhonov_gradient_neumann(data):
    shape = _shape(data)
    op = ops.Gradient(shape, _spacing(data, shape), "neumann")
    return dc.Tikhonov(op), _normal(data, shape)


def l1(data):
    shape = _shape(data)
    return dc.L1(), _normal(data, shape)


def non_negative_l1(data):
    shape = _shape(data)
    return dc.NonNegativeL1(), _positive(data, shape)


def mixed_norm21(data):
    shape = _shape(data)
    k = data.draw(st.integers(1, 4), label="components")
    return dc.MixedNorm21(), _normal(data, (k, *shape))


def mixed_norm21_gradient(data):
    shape = _shape(data)
    return 0.3 * dc.MixedNorm21() @ ops.Gradient(shape, _spacing(data, shape), _boundary(data)), _normal(
        data, shape
    )


def mixed_norm21_crop(data):
    """Composition through a semi-orthogonal operator: proximable."""
    shape = _shape(data, max_dims=2)
    stacked = (2, *shape)
    small = (2, *(data.draw(st.integers(1, n)) for n in shape))
    return 0.3 * dc.MixedNorm21() @ ops.Crop(stacked, small), _normal(data, stacked)


def total_variation_anisotropic(data):
    shape = _shape(data)
    return dc.TotalVariation(shape, _spacing(data, shape), isotropic=False), _normal(data, shape)


def huber(data):
    shape = _shape(data)
    k = data.draw(st.integers(1, 3), label="components")
    delta = data.draw(st.floats(0.05, 2.0), label="delta")
    return dc.Huber(delta), _normal(data, (k, *shape))


def huber_gradient(data):
    shape = _shape(data)
    return dc.Huber(0.5) @ ops.Gradient(shape, _spacing(data, shape)), _normal(data, shape)


def smoothed_total_variation(data):
    shape = _shape(data)
    epsilon = data.draw(st.floats(0.05, 2.0), label="epsilon")
    cost = dc.SmoothedTotalVariation(shape, _spacing(data, shape), epsilon, _boundary(data))
    return cost, _normal(data, shape)


def _schatten_p(data):
    return data.draw(st.sampled_from([1, 2, np.inf]), label="p")


def schatten_norm(data):
    shape = _shape(data)
    n = data.draw(st.integers(1, 3), label="n")
    return dc.SchattenNorm(_schatten_p(data)), _normal(data, (n * (n + 1) // 2, *shape))


def hessian_schatten(data):
    shape = _shape(data)
    cost = dc.HessianSchatten(shape, _spacing(data, shape), _schatten_p(data), _boundary(data))
    return cost, _normal(data, shape)


# -- constraints ----------------------------------------------------------------
def non_negative(data):
    shape = _shape(data)
    return dc.NonNegative(), _normal(data, shape)


def box(data):
    shape = _shape(data)
    if data.draw(st.booleans(), label="array bounds"):
        lower = _normal(data, shape)
        return dc.Box(lower, lower + _positive(data, shape)), _normal(data, shape)
    lower = data.draw(st.floats(-2.0, 1.0), label="lower")
    upper = lower + data.draw(st.floats(0.0, 2.0), label="width")
    return dc.Box(lower, upper), _normal(data, shape)


def non_negative_crop(data):
    shape = _shape(data)
    small = tuple(data.draw(st.integers(1, n)) for n in shape)
    return dc.NonNegative() @ ops.Crop(shape, small), _normal(data, shape)


# -- sums -----------------------------------------------------------------------
def smooth_sum(data):
    shape = _shape(data)
    blur = _blur(data, shape)
    cost = dc.LeastSquares(_normal(data, shape)) @ blur + 0.1 * dc.SmoothedTotalVariation(shape)
    return cost + 0.01 * dc.SquaredL2(), _normal(data, shape)


def poisson_sum(data):
    shape = _shape(data)
    cost = dc.PoissonLikelihood(_counts(data, shape), background=1.0) @ _blur(data, shape)
    return cost + 0.2 * dc.Tikhonov(ops.Laplacian(shape)), _positive(data, shape)


REGISTRY = {
    "LeastSquares": least_squares,
    "LeastSquares @ (Crop @ Blur)": least_squares_crop_blur,
    "PoissonLikelihood": poisson,
    "PoissonLikelihood @ Blur": poisson_blur,
    "SquaredL2": squared_l2,
    "c * Tikhonov(Laplacian)": tikhonov_laplacian,
    "Tikhonov(Gradient neumann)": tikhonov_gradient_neumann,
    "L1": l1,
    "NonNegativeL1": non_negative_l1,
    "MixedNorm21": mixed_norm21,
    "0.3 * MixedNorm21 @ Gradient": mixed_norm21_gradient,
    "0.3 * MixedNorm21 @ Crop": mixed_norm21_crop,
    "TotalVariation(anisotropic)": total_variation_anisotropic,
    "Huber": huber,
    "Huber @ Gradient": huber_gradient,
    "SmoothedTotalVariation": smoothed_total_variation,
    "SchattenNorm": schatten_norm,
    "HessianSchatten": hessian_schatten,
    "NonNegative": non_negative,
    "Box": box,
    "NonNegative @ Crop": non_negative_crop,
    "LeastSquares @ Blur + SmoothedTV + SquaredL2": smooth_sum,
    "PoissonLikelihood @ Blur + Tikhonov": poisson_sum,
}

#: Costs with a gradient (checked against finite differences).
SMOOTH = [
    "LeastSquares",
    "LeastSquares @ (Crop @ Blur)",
    "PoissonLikelihood",
    "PoissonLikelihood @ Blur",
    "SquaredL2",
    "c * Tikhonov(Laplacian)",
    "Tikhonov(Gradient neumann)",
    "Huber",
    "Huber @ Gradient",
    "SmoothedTotalVariation",
    "LeastSquares @ Blur + SmoothedTV + SquaredL2",
    "PoissonLikelihood @ Blur + Tikhonov",
]

#: Costs with a proximal map (checked by optimality, perturbations and Moreau).
PROXIMABLE = [
    "LeastSquares",
    "PoissonLikelihood",
    "SquaredL2",
    "c * Tikhonov(Laplacian)",
    "L1",
    "NonNegativeL1",
    "MixedNorm21",
    "0.3 * MixedNorm21 @ Crop",
    "0.3 * MixedNorm21 @ Gradient",
    "TotalVariation(anisotropic)",
    "Huber",
    "SchattenNorm",
    "NonNegative",
    "Box",
    "NonNegative @ Crop",
]

#: Indicator costs (projection: idempotent, feasible).
INDICATORS = ["NonNegative", "Box", "NonNegative @ Crop"]

#: Smooth only inside their domain: the prox can land on the boundary (zero
#: counts), where x - p = tau grad f(p) fails; checked by perturbations instead.
BOUNDARY_PROX = ["PoissonLikelihood", "NonNegativeL1"]

#: Proxes by inner iterations (TV through a Gradient): inexact, a cold start reaches about
#: 1e-4 relative accuracy on the prox objective; checked with a looser tolerance.
INEXACT_PROX = ["0.3 * MixedNorm21 @ Gradient", "TotalVariation(anisotropic)"]
