r"""``stop="auto"``: stop when the residual reaches the noise level (discrepancy principle).

Poisson data (Bertero, Boccacci, Talenti, Zanella & Zanni, Inverse Problems
2010): for :math:`y \sim \mathrm{Poisson}(\mu)` the expected value of
:math:`2\,\mathrm{KL}(y, \mu)` per voxel is :math:`f(\mu)`, close to 1 above a
few photons (:func:`expected_discrepancy`), so an iteration whose model
:math:`\mu_k = Ax_k + b` fits the data better than that fits the noise. Two
corrections to the plain rule :math:`\tfrac2N\mathrm{KL} \le 1`, both measured
(``benchmarks/bench_stop.py``):

- the expectation is :math:`f(\mu)`, not 1: 1.019 at 10 photons, 1.15 at 1;
- only the voxels that carry signal are judged,
  :math:`S_k = \{n : (Ax_k)_n > 3\sqrt{\bar b}\}` (the model three noise
  deviations above the background). Where the model is the background,
  positivity keeps it from fitting the noise's downward half, so those voxels
  sit at their expectation whatever the iteration and only dilute the
  over-fitting of the others: on beads and filaments the plain rule never
  fired before the iterations had gone far past the best.

Stop at the first checked iteration with

.. math:: D_k = \frac{\sum_{n\in S_k} 2\big(y_n\log\frac{y_n}{\mu_{k,n}} - y_n
          + \mu_{k,n}\big)}{\sum_{n\in S_k} f(\mu_{k,n})} \le 1,

or where :math:`D_k` has stopped falling while still above it, :math:`D_k > 1` and
:math:`D_k \ge D_{k-2\,\mathrm{every}}` (the *plateau*: no lower than two checks
before; one check back, momentum's wobbles fire it early): the model then fits the
data no better with more iterations, only differently. Accelerated RL on beads can
level off above the noise level and rise again after its best, and the rule without
the plateau then ran to the cap (``python benchmarks/bench_stop.py --seed 1``). A
monotone method (plain RL, Landweber) never meets it before :math:`D_k \le 1`.

An accelerated RL (``rl-accelerated``; ``rl-wb`` with an ``acceleration``) also
waits for a held-out check (:func:`poisson_halves`, the plan's
``held_out_iteration``): the counts thinned into two halves, two independent
Poisson images of half the mean; the method run on each (until 20 iterations
past its fold's least, or to the cap), every 5th iterate scored by the Poisson
likelihood of the *other* half, the two folds summed. The rule then stops at the first check at or after the held-out
likelihood's best where the discrepancy has already fired. Momentum reaches the
noise level before its best on filaments (stopping there: 14-22 % above the best
NRMSE), and the held-out likelihood, alone, stops far too early on beads; the later
of the two is within 10 % of the best in all 9 cases of either seed
(``python benchmarks/bench_stop.py --methods rl-accelerated [--seed 1]``). Plain RL
and Landweber do not take it: it cost them on a smooth object at 50 photons
(+10.6 %, +18.4 %).

``fista`` takes a held-out check alone (:class:`HeldOutBest`): the same two runs on
the halves, each iterate scored by its squared error against the other half through
PURE's projection :math:`G = (H^*H + \eta)^{-1}H^*`,
:math:`\lVert G(Ax_k + b/2 - y'')\rVert^2` (:func:`~deconvkit.methods._auto.projected_error`:
the held-out noise adds the same constant to every iterate's score, so it ranks them by
their projected error), and the run stops at the least. Its residual reaches the noise
level long before its best at 50 photons (beads, filaments: +21 % to +34 %), and on a
smooth object late or never while its error grows from iteration 10 (+52 % to +81 % at
300 and 1000 photons); the
held-out check is within 10 % of the best in 6 of 9 cases of either seed, its worst
+19.6 % (``python benchmarks/bench_stop.py --methods fista [--seed 1]``). The held-out
likelihood in its place scored 5 of 9 (early at 50 photons).

Least squares (Morozov): stop when :math:`\frac1N\|Ax_k + b - y\|^2 \le
\tau\bar\sigma^2`, the noise variance taken as the mean of the data (photon
counting; add the camera's read-noise variance with ``read_noise=``) and
:math:`\tau =` :data:`MOROZOV_TAU` = 1.05, Morozov's safety factor: at τ = 1 Landweber
stopped 7-11 % late on smooth objects, where its best comes before the residual
reaches the noise level.

Both assume the data in photons (the camera gain and offset removed, the
offset given as ``background``). The rule is evaluated every ``every``
iterations (one extra application of ``A``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..backend import kernels, namespace, to_host
from ..solvers import StoppingRule, StopReason
from ._problem import Problem

__all__ = [
    "SIGNAL_LEVEL",
    "Discrepancy",
    "HeldOutBest",
    "expected_discrepancy",
    "expected_discrepancy_map",
    "poisson_halves",
    "relative_misfit",
]

#: The signal voxels the Poisson rule judges: the model this many noise deviations of
#: the background above it.
SIGNAL_LEVEL = 3.0
#: Morozov's safety factor τ > 1: least squares stops when its mean squared residual is
#: τ σ² (``benchmarks/bench_stop.py --methods lw [--seed 1]``: the one value tried).
MOROZOV_TAU = 1.05


@functools.lru_cache(maxsize=1)
def _expected_table() -> tuple[np.ndarray, np.ndarray]:
    r""":math:`f(\mu) = E\,[2(y\log(y/\mu) - y + \mu)]`, :math:`y \sim \mathrm{Poisson}(\mu)`,
    on a log grid of μ in [1e-3, 1e3] (summed over the counts to 1e-12 of the mass)."""
    from scipy.stats import poisson

    mu = np.geomspace(1e-3, 1e3, 241)
    values = np.empty_like(mu)
    for i, m in enumerate(mu):
        k = np.arange(0, int(poisson.isf(1e-12, m)) + 2, dtype=np.float64)
        terms = np.where(k > 0, k * np.log(np.maximum(k, 1.0) / m), 0.0) - k + m
        values[i] = 2.0 * float(np.sum(poisson.pmf(k, m) * terms))
    return np.log(mu), values


def expected_discrepancy_map(mean: Any) -> Any:
    r""":math:`f(\mu)` per voxel, float64 (see :func:`expected_discrepancy`)."""
    xp = namespace(mean)
    log_mu, table = _expected_table()
    safe = xp.maximum(mean.astype(np.float64), 1e-3)
    values = xp.interp(xp.log(safe), xp.asarray(log_mu), xp.asarray(table))
    inverse = 1.0 / safe
    return xp.where(safe > 1e3, 1.0 + inverse / 6.0 + inverse * inverse / 6.0, values)


def expected_discrepancy(mean: Any) -> float:
    r"""The expectation of :math:`\tfrac2N\mathrm{KL}(y, \mu)` for :math:`y \sim \mathrm{Poisson}(\mu)`.

    Per voxel :math:`f(\mu) \approx 1 + 1/(6\mu) + 1/(6\mu^2)` for large counts; it is
    1.019 at 10 photons and 1.15 at 1, so an image whose dark background holds a few
    photons sits above 1 even at the true model (and the rule ``D ≤ 1`` cannot fire
    there: positivity keeps the model from fitting the background's downward noise).
    Tabulated below :math:`10^3` photons (interpolated in log μ), the expansion above.
    """
    xp = namespace(mean)
    return float(to_host(xp.mean(expected_discrepancy_map(mean))))


def poisson_halves(data: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Two independent Poisson images of half the mean from one (binomial thinning).

    Each photon of :math:`y \sim \mathrm{Poisson}(\mu)` goes to either half with
    probability 1/2: :math:`y_1 \sim \mathrm{Binomial}(y, 1/2)`, :math:`y_2 = y - y_1`,
    and then :math:`y_1, y_2` are independent :math:`\mathrm{Poisson}(\mu/2)`.
    ``data`` in photons (rounded to whole counts, negatives to 0); float32 halves
    on the host, reproducible for a ``seed``.
    """
    counts = np.rint(np.maximum(np.asarray(to_host(data), dtype=np.float64), 0.0))
    first = np.random.default_rng(seed).binomial(counts.astype(np.int64), 0.5)
    return first.astype(np.float32), (counts - first).astype(np.float32)


def relative_misfit(problem: Problem, x: Any, model: str, read_noise: float = 0.0) -> float:
    r""":math:`D(x)/E - 1` on the block's field: positive when ``x`` fits the data worse
    than the noise allows, negative when it fits the noise too (see the module notes).

    Poisson: :math:`E` is :func:`expected_discrepancy` at the model :math:`Ax + b`;
    least squares: :math:`E = 1`.
    """
    if model == "gaussian":
        return Discrepancy(problem, model, read_noise=read_noise).discrepancy(x) - 1.0
    mean = problem.forward @ x
    xp, b = namespace(mean), problem.background
    mean += b if np.ndim(b) else mean.dtype.type(b)
    xp.maximum(mean, mean.dtype.type(kernels.TINY), out=mean)  # FFT round-off below 0
    value = 2.0 * kernels.kl_divergence(problem.data, mean) / mean.size
    return value / expected_discrepancy(mean) - 1.0


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
    not_before : int
        The iteration of the held-out likelihood's best (see the module notes): the
        rule, once it has fired, stops at the first check at or after it. 0: none.
    """

    def __init__(self, problem: Problem, model: str, every: int = 5,
                 read_noise: float = 0.0, not_before: int = 0) -> None:
        if model not in ("poisson", "gaussian"):
            raise ValueError(f"model must be 'poisson' or 'gaussian', got {model!r}")
        self.problem, self.model, self.every = problem, model, max(1, int(every))
        self.not_before = max(0, int(not_before))
        self.fired: StopReason | None = None
        self.fired_at = 0
        self.count = int(np.prod(problem.data.shape))
        # the whole image's photon level, so that every block stops at the same noise level
        self.variance = problem.constants.data_mean + float(read_noise) ** 2
        b = problem.background
        level = float(np.mean(to_host(b))) if np.ndim(b) else float(b)
        self.signal_level = SIGNAL_LEVEL * math.sqrt(max(level, 0.0))
        self.value: float = math.nan
        self.earlier: list[float] = []  # D at the checks before, the last two

    def reset(self) -> None:
        self.value = math.nan
        self.earlier = []
        self.fired = None

    def discrepancy(self, x: Any) -> float:
        """:math:`D_k` of the module notes (Poisson; NaN while no voxel carries signal), or
        the mean squared residual over the noise variance (least squares)."""
        problem = self.problem
        model = problem.forward @ x
        xp, b = namespace(model), problem.background
        if self.model == "gaussian":
            residual = model - problem.data
            residual += b if np.ndim(b) else residual.dtype.type(b)
            squares = float(xp.sum(xp.square(residual, dtype=np.float64)))
            return squares / self.count / max(self.variance, 1e-300)
        signal = model > model.dtype.type(self.signal_level)
        if not bool(to_host(xp.any(signal))):
            return math.nan
        mean = model[signal].astype(np.float64)
        mean += b[signal] if np.ndim(b) else b
        # FFT round-off can leave A x + b a hair below 0 where the model is dark
        xp.maximum(mean, kernels.TINY, out=mean)
        y = problem.data[signal].astype(np.float64)
        return 2.0 * kernels.kl_divergence(y, mean) / float(
            to_host(xp.sum(expected_discrepancy_map(mean))))

    def check(self, state: Any) -> str | None:
        if state.iteration == 0 or state.iteration % self.every:
            return None
        if self.fired is None:
            self.fired, self.fired_at = self._fires(state), state.iteration
        if self.fired is None or state.iteration < self.not_before:
            return None
        if not self.not_before:
            return self.fired
        held_out = (f"the held-out half of the data fitted best at iteration {self.not_before}"
                    " (two-fold Poisson thinning)")
        if state.iteration == self.fired_at:
            return StopReason(f"{self.fired}; {held_out}, not later", converged=True)
        return StopReason(f"{self.fired}; {held_out}: stopped there", converged=True)

    def _fires(self, state: Any) -> StopReason | None:
        """The discrepancy's verdict at this check: a reason, or None."""
        poisson = self.model == "poisson"
        if not math.isnan(self.value):
            self.earlier = [*self.earlier[-1:], self.value]
        self.value = self.discrepancy(state.x)
        what = ("2·KL / its expectation over the voxels with signal" if poisson else
                "mean squared residual / noise variance")
        if self.value <= (1.0 if poisson else MOROZOV_TAU):
            return StopReason(
                f"the residual reached the noise level at iteration {state.iteration} "
                f"({what} = {self.value:.3f} ≤ 1, discrepancy principle)",
                converged=True,
            )
        if len(self.earlier) == 2 and self.value >= self.earlier[0]:  # False while NaN
            return StopReason(
                f"the residual stopped falling above the noise level at iteration "
                f"{state.iteration} ({what} = {self.value:.3f}, {self.earlier[0]:.3f} "
                f"{2 * self.every} iterations before: more iterations fit the data no better)",
                converged=True,
            )
        return None

    def __repr__(self) -> str:
        return f"Discrepancy({self.model}, every={self.every})"


class HeldOutBest(StoppingRule):
    """Stop at the iteration whose estimate, on one half of the data, fitted the other half
    best through PURE's projection (``fista``'s ``stop="auto"``, the plan's
    ``held_out_iteration``; see the module notes)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = max(1, int(iteration))

    def check(self, state: Any) -> str | None:
        if state.iteration < self.iteration:
            return None
        return StopReason(
            f"the held-out half of the data fitted best at iteration {self.iteration} "
            "(two-fold Poisson thinning, the error projected through G): stopped there",
            converged=True)

    def __repr__(self) -> str:
        return f"HeldOutBest({self.iteration})"
