"""The data terms and regularizers the methods share, built from a :class:`Problem`.

Regularization weights are made independent of the voxel size and of the
photon count, so one default serves any stack:

- a regularizer on a derivative operator ``L`` (gradient, Laplacian,
  Hessian) is divided by ``‖L‖`` (which grows as 1/spacing);
- with a least-squares data term, a non-quadratic regularizer (L1, TV,
  Hessian–Schatten) is multiplied by the mean of the data, the variance of
  photon-counting noise, so that λ means the same as with a Poisson term.

Every data-derived number comes from ``problem.constants``, the whole image's
(see :class:`~deconvkit.methods.Constants`), so a tile uses the same weights
as the whole image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import namespace
from ..costs import (
    Cost,
    HessianSchatten,
    LeastSquares,
    NonNegativeL1,
    PoissonLikelihood,
    SmoothedTotalVariation,
    SquaredL2,
    TotalVariation,
)
from ..operators import Gradient, Hessian, Identity, Laplacian
from ._problem import Problem

__all__ = [
    "poisson_term",
    "least_squares_term",
    "data_minus_background",
    "data_scale",
    "quadratic_regularizer",
    "sparsity_regularizer",
    "poisson_data",
]


def data_minus_background(problem: Problem) -> Any:
    """``y − b`` as a new array of the data's dtype."""
    background = problem.background
    if np.ndim(background) == 0:
        return problem.data - problem.data.dtype.type(background)
    return problem.data - background.astype(problem.data.dtype)


def data_scale(problem: Problem) -> float:
    """Mean of ``y − b`` over the whole image (at least a tiny positive number)."""
    return problem.constants.data_scale


def poisson_data(problem: Problem, clip_negative: bool) -> Any:
    """The data for a Poisson likelihood (the plan refused negative counts unless clipped)."""
    data = problem.data
    if clip_negative and problem.constants.negative:
        return namespace(data).maximum(data, data.dtype.type(0))
    return data


def poisson_term(problem: Problem, clip_negative: bool, method: str) -> Cost:
    """``PoissonLikelihood(y, background=b) @ A``."""
    data = poisson_data(problem, clip_negative)
    return PoissonLikelihood(data, background=problem.background, check=False) @ problem.forward


def least_squares_term(problem: Problem) -> Cost:
    """``½‖A x − (y − b)‖²``."""
    return LeastSquares(data_minus_background(problem), check=False) @ problem.forward


def quadratic_regularizer(problem: Problem, lam: float, kind: str) -> Cost:
    r"""``λ/2 ‖x‖²`` (``identity``) or ``λ/2 ‖Δx‖² / ‖Δ‖²`` (``laplacian``)."""
    if kind == "identity":
        return lam * SquaredL2() @ Identity(problem.shape, dtype=problem.blur.dtype)
    laplacian = Laplacian(problem.shape, problem.spacing, dtype=problem.blur.dtype)
    return (lam / laplacian.lipschitz**2) * SquaredL2() @ laplacian


def sparsity_regularizer(problem: Problem, lam: float, kind: str, *, scale: float = 1.0,
                         smooth: bool = False, epsilon: float = 1e-3) -> Cost:
    r"""A weighted sparsity prior on the problem's domain.

    ``kind``: ``"l1"`` (:math:`\lambda s\|x\|_1` on :math:`x \ge 0`), ``"tv"`` (isotropic total
    variation, :math:`\lambda s\,\mathrm{TV}(x)/\|\nabla\|`), ``"hessian"``
    (Hessian–Schatten-1, :math:`\lambda s\,\|\mathcal{H}x\|_{S_1}/\|\mathcal{H}\|`),
    with ``s = scale``. ``smooth=True`` gives the smoothed TV
    :math:`\sum\sqrt{|\nabla x|^2 + \varepsilon^2}` with ε a fraction of the
    data's maximum, for the split-gradient rule of RL-TV.
    """
    dtype = problem.blur.dtype
    weight = lam * scale
    if kind == "l1":
        return weight * NonNegativeL1()
    if kind == "tv":
        norm = Gradient(problem.shape, problem.spacing, dtype=dtype).lipschitz
        if smooth:
            level = max(problem.constants.data_max, 1e-12)
            return (weight / norm) * SmoothedTotalVariation(
                problem.shape, problem.spacing, epsilon=epsilon * level
            )
        return (weight / norm) * TotalVariation(problem.shape, problem.spacing)
    if kind == "hessian":
        norm = Hessian(problem.shape, problem.spacing, dtype=dtype).lipschitz
        return (weight / norm) * HessianSchatten(problem.shape, problem.spacing, p=1)
    raise ValueError(f"unknown regularizer {kind!r}: use 'l1', 'tv' or 'hessian'")
