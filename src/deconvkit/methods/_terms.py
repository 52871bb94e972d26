"""The data terms and regularizers the methods share, built from a :class:`Problem`.

Regularization weights are made independent of the voxel size and of the
photon count, so one default serves any stack:

- a regularizer on a derivative operator ``L`` (gradient, Laplacian,
  Hessian) is divided by ``‖L‖`` (which grows as 1/spacing);
- with a least-squares data term, a non-quadratic regularizer (L1, TV,
  Hessian–Schatten) is multiplied by the mean of the data, the variance of
  photon-counting noise, so that λ means the same as with a Poisson term.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    "check_poisson_data",
]


def data_minus_background(problem: Problem) -> Any:
    """``y − b`` as a new array of the data's dtype."""
    background = problem.background
    if np.ndim(background) == 0:
        return problem.data - problem.data.dtype.type(background)
    return problem.data - background.astype(problem.data.dtype)


def data_scale(problem: Problem) -> float:
    """Mean of ``y − b`` over the field (at least a tiny positive number)."""
    return max(float(np.mean(data_minus_background(problem), dtype=np.float64)), 1e-12)


def check_poisson_data(problem: Problem, clip_negative: bool, method: str) -> Any:
    """The data for a Poisson likelihood: non-negative, or a clear error."""
    data = problem.data
    negative = int(np.count_nonzero(data < 0))
    if negative == 0:
        return data
    if clip_negative:
        return np.maximum(data, data.dtype.type(0))
    raise ValueError(
        f"{method}: the data has {negative} negative voxels (minimum {float(data.min()):.4g}) but a "
        "Poisson likelihood needs photon counts ≥ 0. Subtract less background before "
        "deconvolving (pass it as background= instead), or clip them to 0 with "
        "clip_negative=True (--clip-negative on the command line)"
    )


def poisson_term(problem: Problem, clip_negative: bool, method: str) -> Cost:
    """``PoissonLikelihood(y, background=b) @ A``."""
    data = check_poisson_data(problem, clip_negative, method)
    return PoissonLikelihood(data, background=problem.background) @ problem.forward


def least_squares_term(problem: Problem) -> Cost:
    """``½‖A x − (y − b)‖²``."""
    return LeastSquares(data_minus_background(problem)) @ problem.forward


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
            level = max(float(np.max(problem.data)), 1e-12)
            return (weight / norm) * SmoothedTotalVariation(
                problem.shape, problem.spacing, epsilon=epsilon * level
            )
        return (weight / norm) * TotalVariation(problem.shape, problem.spacing)
    if kind == "hessian":
        norm = Hessian(problem.shape, problem.spacing, dtype=dtype).lipschitz
        return (weight / norm) * HessianSchatten(problem.shape, problem.spacing, p=1)
    raise ValueError(f"unknown regularizer {kind!r}: use 'l1', 'tv' or 'hessian'")
