r"""``stop="auto"``: stop when the residual reaches the noise level (discrepancy principle).

Poisson data (Bertero, Boccacci, Talenti, Zanella & Zanni, Inverse Problems
2010): for :math:`y \sim \mathrm{Poisson}(\bar y)` the expected value of
:math:`\tfrac{2}{N}\,\mathrm{KL}(y, \bar y)` is close to 1 once the counts are
above a few photons, so an iteration whose model :math:`Ax + b` fits the data
better than that fits the noise. Stop at the first iteration with

.. math:: D_k = \frac{2}{N}\sum_n \Big(y_n\log\frac{y_n}{(Ax_k + b)_n} - y_n + (Ax_k + b)_n\Big) \le 1.

Least squares (Morozov): stop when :math:`\frac1N\|Ax_k + b - y\|^2 \le
\bar\sigma^2`, the noise variance taken as the mean of the data (photon
counting; add the camera's read-noise variance with ``read_noise=``).

Both assume the data in photons (the camera gain and offset removed, the
offset given as ``background``). The rule is evaluated every ``every``
iterations (one extra application of ``A``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import kernels, namespace
from ..solvers import StoppingRule, StopReason
from ._problem import Problem

__all__ = ["Discrepancy"]


class Discrepancy(StoppingRule):
    """Stop at the noise level of the data (see the module notes).

    Parameters
    ----------
    problem : Problem
        The prepared problem (data, forward model, background).
    model : {"poisson", "gaussian"}
        The data term's noise model.
    every : int
        Evaluate every this many iterations.
    read_noise : float
        Standard deviation of the camera's read noise, in photons.
    """

    def __init__(self, problem: Problem, model: str, every: int = 5,
                 read_noise: float = 0.0) -> None:
        if model not in ("poisson", "gaussian"):
            raise ValueError(f"model must be 'poisson' or 'gaussian', got {model!r}")
        self.problem, self.model, self.every = problem, model, max(1, int(every))
        self.count = int(np.prod(problem.data.shape))
        # the whole image's photon level, so that every block stops at the same noise level
        self.variance = problem.constants.data_mean + float(read_noise) ** 2
        self.value: float = math.nan

    def reset(self) -> None:
        self.value = math.nan

    def discrepancy(self, x: Any) -> float:
        """:math:`D(x)` (Poisson) or the residual over the noise variance (least squares)."""
        problem = self.problem
        model = problem.forward @ x
        if self.model == "gaussian":
            xp = namespace(model)
            residual = model - problem.data
            residual += problem.background if np.ndim(problem.background) else \
                residual.dtype.type(problem.background)
            squares = float(xp.sum(xp.square(residual, dtype=np.float64)))
            return squares / self.count / max(self.variance, 1e-300)
        # FFT round-off can leave A x + b a hair below 0 where the model is dark: clamp it at
        # a tiny positive value, as a float64 model would be
        xp, b = namespace(model), problem.background
        floor = model.dtype.type(kernels.TINY)
        if np.ndim(b) == 0:
            xp.maximum(model, floor - model.dtype.type(b), out=model)
        else:
            model += b
            xp.maximum(model, floor, out=model)
            b = 0.0
        return 2.0 * kernels.kl_divergence(problem.data, model, b) / self.count

    def check(self, state: Any) -> str | None:
        if state.iteration == 0 or state.iteration % self.every:
            return None
        self.value = self.discrepancy(state.x)
        if self.value <= 1.0:
            what = "2·KL/N" if self.model == "poisson" else "mean squared residual / noise variance"
            return StopReason(
                f"the residual reached the noise level at iteration {state.iteration} "
                f"({what} = {self.value:.3f} ≤ 1, discrepancy principle)",
                converged=True,
            )
        return None

    def __repr__(self) -> str:
        return f"Discrepancy({self.model}, every={self.every})"
