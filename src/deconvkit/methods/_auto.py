r"""Automatic regularization weights: GCV for the closed forms; for the iterative methods
the discrepancy principle or a projected Poisson risk estimate (PURE).

The closed-form filters (:func:`~deconvkit.methods._filters.inverse_filter`)
are linear in the data, :math:`\hat x_\lambda = A_\lambda (y - b)`, with the
influence (hat) matrix :math:`H A_\lambda`. It is circulant, with the filter

.. math:: \varphi_k(\lambda) = \frac{|\hat h_k|^2}{|\hat h_k|^2 + \lambda |\hat l_k|^2}

per frequency :math:`k` (:math:`\hat l = 1` for Tikhonov and Wiener, the
normalized Laplacian's transfer function for RIF). Generalized
cross-validation (Golub, Heath & Wahba 1979) picks the λ that minimizes the
predicted error of leaving one voxel out, in closed form; its weighted form
(Chung, Nagy & O'Leary 2008) puts a weight ω on the influence matrix's trace:

.. math:: \mathrm{WGCV}(\lambda) = \frac{N\,\lVert (I - HA_\lambda)(y - b)\rVert^2}
          {\big(N - \omega\,\mathrm{tr}\,HA_\lambda\big)^2}
          = \frac{\sum_k |1 - \varphi_k|^2 |\hat y_k|^2}{\big(N - \omega \sum_k \varphi_k\big)^2}

(:math:`N` voxels, :math:`\hat y` the unnormalized DFT of :math:`y - b`, sums over
the full spectrum; the rfft half spectrum counts its conjugate-symmetric
frequencies twice). Plain GCV (ω = 1) minimizes the error of the prediction
:math:`H\hat x`, not of :math:`\hat x`: on deconvolution it chose λ 3-5 times
too small; ω = 2 (:data:`OMEGA`) corrects most of that. Where
:math:`N \le \omega\,\mathrm{tr}\,HA_\lambda` (the criterion's pole, far on the
undersmoothed side) the value is infinite. One evaluation is a few passes over
a half spectrum: a grid of 10 values a decade over :math:`[10^{-7}, 10]`, then
a golden-section refinement in :math:`\log\lambda` between the grid minimum's
neighbours.

The choice is a whole-volume decision: the plan makes it once, on the whole
image (or on its central block of at most :data:`MAX_VOXELS` voxels when the
image is larger or lazy), and every tile uses it. It is made on the image
itself, periodic, with its edges blended into the mean over half the PSF's
size: a mirror-filled margin repeats the noise (GCV would take the copies for
signal) and a bare periodic edge is a jump no small λ explains; either made λ
10-100 times too small. GCV assumes white noise of
one variance; on Poisson data it still weighs bias against noise at the mean
count, and its choice is validated against the best λ on a grid in
``benchmarks/bench_auto_weight.py`` (table in docs/methods.md).

The iterative methods (:data:`DISCREPANCY_WEIGHTS`) have no closed-form influence
matrix. Two criteria are offered (:data:`WEIGHT_RULES`, by name: ``lam="pure"``,
``lam="discrepancy"``; ``lam="auto"`` is :data:`DEFAULT_WEIGHT_RULE`, PURE):

- the discrepancy principle, faster but less robust (Bertero, Boccacci, Talenti,
  Zanella & Zanni 2010 for Poisson data, Morozov for least squares): the largest λ
  whose estimate, after the method's own iterations, fits the data as well as the
  noise allows,
  :math:`D(x_\lambda) \le E` (:func:`choose_weight_by_discrepancy`);
- PURE (the default), a Poisson unbiased estimate of the risk (Luisier, Vonesch, Blu & Unser
  2010; Li, Luisier & Blu 2018 for deconvolution) with a Monte-Carlo divergence
  (Ramani, Blu & Unser 2008), projected to the object through a regularized
  inverse of the blur (:func:`projected_pure`, :func:`choose_weight_by_risk`).
  Plain PURE estimates the error of the *prediction* :math:`A\hat x`; it tracks
  that error within 2 % but chose λ 30 times too large on beads (the blur hides
  the object's lost peaks from a prediction error). Weighting the prediction
  error by :math:`G^*G`, :math:`G = (H^*H + \eta)^{-1}H^*` the Tikhonov inverse
  with :math:`\eta =` :data:`RISK_FILTER`, makes it the object's error in the
  band the data resolve.

Each trial λ is one solve (two for PURE) of the image's central block of at most
:data:`DISCREPANCY_VOXELS` voxels; the plan searches once and every tile uses the
value (``benchmarks/bench_auto_iterative.py``, table in docs/methods.md).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import namespace, rfftn, to_host
from ..operators import Laplacian
from ._problem import Problem
from ._terms import data_minus_background

__all__ = [
    "AUTO_WEIGHTS",
    "DEFAULT_WEIGHT_RULE",
    "DISCREPANCY_GRID",
    "DISCREPANCY_VOXELS",
    "DISCREPANCY_WEIGHTS",
    "MAX_VOXELS",
    "OMEGA",
    "RISK_FILTER",
    "RISK_PROBE",
    "WEIGHT_RULES",
    "WeightChoice",
    "apodize_width",
    "central_block",
    "choose_weight",
    "choose_weight_by_discrepancy",
    "choose_weight_by_risk",
    "gcv_curve",
    "has_signal",
    "projected_error",
    "projected_pure",
    "risk_filter",
]

#: Method → (its weight's name, the regularizer ``L``) for the methods that take ``"auto"``.
AUTO_WEIGHTS = {"wif": ("nsr", "identity"), "trif": ("lam", "identity"),
                "rif": ("lam", "laplacian")}

#: The iterative methods whose ``lam`` may be chosen from the data (:data:`WEIGHT_RULES`).
DISCREPANCY_WEIGHTS = ("tm", "ictm", "ista", "fista", "rltv", "admm-tv", "admm-hessian",
                       "pd-tv")

#: The criteria an iterative method's ``lam`` may be chosen by, by name (the first is
#: ``"auto"``'s). On 40 simulated cases (two seeds, benchmarks/bench_auto_iterative.py)
#: both came within 3 % of the grid's best in 28; PURE within 6 % in 32 (the
#: discrepancy 30), its worst 1.46× the best (the discrepancy's 2.96×, where its
#: curve is flat), at 2–5× the discrepancy's time (two solves per weight).
WEIGHT_RULES = ("pure", "discrepancy")

#: The rule ``lam="auto"`` means for the iterative methods.
DEFAULT_WEIGHT_RULE = WEIGHT_RULES[0]

#: η of PURE's projection G = (H*H + η)⁻¹H* (relative to the OTF's peak 1): 1e-3 came
#: within 3 % of the grid's best in 14 of 20 cases, 1e-2 and 1e-4 in 13, the
#: unprojected prediction risk in 10 (benchmarks/bench_auto_iterative.py, first seed).
RISK_FILTER = 1e-3

#: ε of PURE's Monte-Carlo divergence: the data are moved by ε·√y·δ (δ = ±1), a
#: fraction of the noise's own deviation, so dark voxels stay non-negative.
RISK_PROBE = 0.5

#: The largest block the discrepancy search solves on (each λ is one solve of it).
DISCREPANCY_VOXELS = 2**20

#: The decades the discrepancy search scans, from the smoothest down (λ relative to
#: ‖A‖² = 1), then refines by bisection in log λ.
DISCREPANCY_GRID = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5)

#: Bisection steps in log λ after the scan (a decade / 2**4: within 16 % of the root).
DISCREPANCY_STEPS = 4

#: The search range of λ (relative to ‖H‖² = 1) and the grid's density.
LOW, HIGH, PER_DECADE = 1e-7, 10.0, 10

#: The largest block GCV is evaluated on (a central crop of larger or lazy images).
MAX_VOXELS = 2**24

#: The weight ω of weighted GCV: 1 is plain GCV, which minimizes the error of the
#: prediction Hx̂ and so chose λ 3-5 times too small for the error of x̂ itself
#: (within 3 % of the grid's best NRMSE in 14 of 28 validation cases); ω = 2 came
#: within 3 % in 24 of 28 (benchmarks/bench_auto_weight.py, two seeds; ω was chosen
#: on the first).
OMEGA = 2.0


@dataclass(frozen=True)
class WeightChoice:
    """The weight a criterion chose, with the curve it was read from.

    Attributes
    ----------
    parameter : str
        ``"lam"`` or ``"nsr"``.
    value : float
        The chosen weight.
    criterion : str
        ``"GCV"`` (its trace weighted by ``omega``), ``"Poisson discrepancy"``,
        ``"Morozov discrepancy"`` or ``"PURE"``.
    grid, scores : tuple of float
        The λ grid and :math:`\\mathrm{GCV}(\\lambda)` on it (for a plot).
    at_edge : bool
        True when the minimum lies at an end of the search range (then ``value``
        is that end).
    omega : float or None
        The trace weight ω of GCV (1: plain GCV; :data:`OMEGA` when chosen); None for
        the discrepancy principle (then ``scores`` are :math:`|D/E - 1|`) and for
        ``"PURE"`` (then ``scores`` are the risk estimates, photons² per voxel: unbiased,
        so they may fall below 0 near the minimum).
    """

    parameter: str
    value: float
    criterion: str
    grid: tuple[float, ...]
    scores: tuple[float, ...]
    at_edge: bool
    omega: float | None = 1.0

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``Result.parameters`` and sidecars)."""
        return {"parameter": self.parameter, "value": self.value, "criterion": self.criterion,
                "omega": self.omega, "at_edge": self.at_edge, "grid": list(self.grid),
                "scores": list(self.scores)}


def _spectra(problem: Problem, regularizer: str) -> tuple[Any, Any, Any, Any]:
    r"""``|ĥ|²``, ``|l̂|²``, ``|ŷ|²`` on the half spectrum (float64) and the count weights."""
    xp = namespace(problem.data)
    h2 = xp.abs(problem.blur.circulant_blocks(np.complex128)[0, 0]) ** 2
    if regularizer == "identity":
        l2 = xp.ones_like(h2)
    elif regularizer == "laplacian":
        laplacian = Laplacian(problem.shape, problem.spacing, dtype=np.float64)
        blocks = laplacian.circulant_blocks(np.complex128, backend=problem.blur.home)
        l2 = xp.abs(blocks[0, 0]) ** 2 / laplacian.lipschitz ** 2
    else:  # pragma: no cover - the registry names the regularizers
        raise ValueError(f"unknown regularizer {regularizer!r}")
    data = data_minus_background(problem).astype(np.float64)
    y2 = xp.abs(rfftn(data, tuple(range(data.ndim)))) ** 2
    return h2, l2, y2, half_spectrum_counts(problem.shape[-1], xp)


def half_spectrum_counts(n: int, xp: Any = np) -> Any:
    """How often each frequency of the last axis of an rfft half spectrum counts in a sum
    over the full spectrum (its conjugate twin too: 2, but 1 for 0 and an even length's
    Nyquist)."""
    counts = xp.full(n // 2 + 1, 2.0)
    counts[0] = 1.0
    if n % 2 == 0:
        counts[-1] = 1.0
    return counts


def gcv_curve(problem: Problem, regularizer: str, grid: Any) -> np.ndarray:
    r""":math:`\mathrm{GCV}(\lambda)` for each λ of ``grid`` (see the module notes)."""
    h2, l2, y2, counts = _spectra(problem, regularizer)
    return np.array([_gcv(h2, l2, y2, counts, float(lam)) for lam in np.atleast_1d(grid)])


def _gcv(h2: Any, l2: Any, y2: Any, counts: Any, lam: float) -> float:
    xp = namespace(h2)
    rest = lam * l2
    rest /= h2 + rest  # 1 − φ, per frequency of the half spectrum
    voxels = float(to_host(xp.sum(xp.ones_like(h2) * counts)))
    # N − ω tr(φ): the trace of the influence matrix is Σ φ_k
    trace = voxels - OMEGA * (voxels - float(to_host(xp.sum(rest * counts))))
    rest *= rest
    rest *= y2
    total = float(to_host(xp.sum(rest * counts)))
    if trace <= 0:
        return math.inf
    return total / trace**2  # Parseval: Σ_k |r̂_k|² = N ‖r‖²


def choose_weight(problem: Problem, method: str) -> WeightChoice:
    """The GCV weight of a closed-form ``method`` on ``problem`` (the whole image's).

    Raises
    ------
    ValueError
        When the data carry no signal above the background.
    """
    parameter, regularizer = AUTO_WEIGHTS[method]
    h2, l2, y2, counts = _spectra(problem, regularizer)
    xp = namespace(y2)
    signal = float(to_host(xp.sum(y2))) - float(to_host(y2.ravel()[0]))  # all but the mean
    if not math.isfinite(signal) or signal <= 1e-12 * max(float(to_host(y2.ravel()[0])), 1e-300):
        raise ValueError(
            f"{method}: {parameter}='auto' needs structure in the data, but the image is flat "
            f"(no signal above the background): give {parameter} a number")
    decades = math.log10(HIGH) - math.log10(LOW)
    grid = np.logspace(math.log10(LOW), math.log10(HIGH), int(round(decades * PER_DECADE)) + 1)
    scores = np.array([_gcv(h2, l2, y2, counts, float(lam)) for lam in grid])
    best = int(np.nanargmin(scores))
    at_edge = best in (0, len(grid) - 1)
    if at_edge:
        value = float(grid[best])
        end = "lower" if best == 0 else "upper"
        warnings.warn(
            f"{method}: GCV has no minimum in [{LOW:g}, {HIGH:g}]; using the range's {end} end, "
            f"{parameter}={value:g} (give {parameter} a number to choose otherwise)",
            stacklevel=3)
    else:
        value = _golden(lambda t: _gcv(h2, l2, y2, counts, 10.0**t),
                        math.log10(grid[best - 1]), math.log10(grid[best + 1]))
    return WeightChoice(parameter, float(value), "GCV", tuple(float(g) for g in grid),
                        tuple(float(s) for s in scores), at_edge, float(OMEGA))


def _golden(f: Any, low: float, high: float, tol: float = 1e-3) -> float:
    """The minimizer of a unimodal ``f`` on ``[low, high]`` (golden-section search), as 10**t."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return 10.0 ** ((a + b) / 2.0)


def central_block(shape: tuple[int, ...], limit: int = MAX_VOXELS) -> tuple[slice, ...]:
    """The central region of ``shape`` with at most ``limit`` voxels (the largest axes shrunk)."""
    sizes = list(shape)
    while math.prod(sizes) > limit:
        axis = int(np.argmax(sizes))
        sizes[axis] = max(1, int(sizes[axis] * 0.8))
    return tuple(slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(shape, sizes))


def apodize_width(psf_shape: tuple[int, ...], image_shape: tuple[int, ...]) -> int:
    """Voxels blended into the mean at each edge for GCV: half the PSF's smallest size,
    at most a quarter of the image's smallest axis (at least 1)."""
    return max(1, min(min(n // 2 for n in psf_shape), min(image_shape) // 4))


def _remembered(criterion: Any) -> tuple[Any, dict[float, float]]:
    """``criterion`` evaluated once per λ (∞ where it is not finite), and the table of the
    values so far (a weight search's curve)."""
    tried: dict[float, float] = {}

    def value(lam: float) -> float:
        if lam not in tried:
            result = float(criterion(lam))
            tried[lam] = result if math.isfinite(result) else math.inf
        return tried[lam]

    return value, tried


def choose_weight_by_discrepancy(misfit: Any, method: str, model: str,
                                 asked: str = "discrepancy") -> WeightChoice:
    r"""The largest λ whose estimate fits the data to the noise level (discrepancy principle).

    ``misfit(lam)`` solves the problem with weight ``lam`` (the method's iterations, on the
    plan's block) and returns :math:`g(\lambda) = D(x_\lambda)/E - 1`: for Poisson data
    :math:`D = \tfrac2N\mathrm{KL}(y, Ax_\lambda + b)` and :math:`E` its expectation at
    the model (:func:`~deconvkit.methods._stopping.expected_discrepancy`, Bertero et al.
    2010 with the low-count correction); for least squares the mean squared residual over
    the noise variance, :math:`E = 1` (Morozov). :math:`g` grows with λ (a smoother
    estimate fits worse). The scan runs :data:`DISCREPANCY_GRID` from the smoothest end
    down and stops at the first λ with :math:`g \le 0`; bisection in :math:`\log\lambda`
    between it and the decade above then finds the root. Scanning from above matters: a
    solver run for a fixed number of iterations has not converged at very small λ
    (ADMM's penalties follow λ), so :math:`g` turns up again there.

    Warns (and keeps an end) when no λ of the range fits (the weakest is used: the
    prior is too strong at every weight tried; on sparse beads, which no TV or Hessian
    prior fits to the noise within 50 iterations, the weakest is also the best on a grid)
    or when even the smoothest fits (the smoothest is used).
    """
    g, tried = _remembered(misfit)

    above, below = None, None
    for lam in DISCREPANCY_GRID:
        if g(lam) <= 0:
            below = lam
            break
        above = lam
    at_edge = False
    if below is None:  # nothing fits: every weight tried is too strong, take the weakest
        value = DISCREPANCY_GRID[-1]
        at_edge = True
        warnings.warn(
            f"{method}: lam={asked!r}: no weight in [{DISCREPANCY_GRID[-1]:g}, "
            f"{DISCREPANCY_GRID[0]:g}] fits the data to its noise level within the method's "
            f"iterations; using the weakest, lam={value:g} (raise max_iter, or give lam "
            "a number)", stacklevel=3)
    elif above is None:  # even the smoothest fits
        value = below
        at_edge = True
        warnings.warn(
            f"{method}: lam={asked!r}: even lam={below:g} fits the data to its noise level; "
            f"using it (give lam a number to smooth more)", stacklevel=3)
    else:
        low, high = math.log10(below), math.log10(above)
        for _ in range(DISCREPANCY_STEPS):
            middle = (low + high) / 2
            if g(10.0**middle) <= 0:
                low = middle
            else:
                high = middle
        value = 10.0**low  # the largest λ known to fit
    grid = sorted(tried)
    criterion = "Poisson discrepancy" if model == "poisson" else "Morozov discrepancy"
    return WeightChoice("lam", float(value), criterion, tuple(float(v) for v in grid),
                        tuple(abs(tried[v]) for v in grid), at_edge, None)


def risk_filter(otf2: Any, eta: float = RISK_FILTER) -> Any:
    r""":math:`|\hat g|^2 = |\hat h|^2 / (|\hat h|^2 + \eta)^2` per frequency: the transfer
    function of :math:`G^*G`, :math:`G = (H^*H + \eta)^{-1}H^*` (``otf2`` is :math:`|\hat h|^2`
    on a half spectrum, its peak 1)."""
    return otf2 / (otf2 + eta) ** 2


def projected_error(estimate: Any, reference: Any, weights: Any) -> float:
    r""":math:`\lVert G(\hat\mu - r)\rVert^2`, the squared error through :math:`G` summed over
    the voxels (``weights`` is :math:`|\hat g|^2` on the rfft half spectrum,
    :func:`risk_filter`; Parseval on the half spectrum).

    Against an independent image of the same mean, a held-out half ``r`` of Poisson data
    thinned in two, its expectation is :math:`\lVert G(\hat\mu - \mu/2)\rVert^2` plus
    :math:`\sum_n Q_{nn}\mu_n/2`, a constant: it ranks estimates of the half's mean by their
    projected error, as PURE does without the split."""
    xp = namespace(estimate)
    residual = rfftn(estimate.astype(np.float64) - reference.astype(np.float64),
                     tuple(range(estimate.ndim)))
    counts = half_spectrum_counts(estimate.shape[-1], xp)
    power = residual.real**2 + residual.imag**2
    return float(to_host(xp.sum(weights * counts * power))) / estimate.size


def projected_pure(data: Any, mean: Any, moved: Any, probe: Any, weights: Any,
                   epsilon: float = RISK_PROBE) -> float:
    r"""PURE of an estimate's error through :math:`G`, per voxel (see the module notes).

    For :math:`y \sim \mathrm{Poisson}(\mu)` and an estimate of the mean
    :math:`\hat\mu(y) = A\hat x(y) + b`, the identity
    :math:`E[\mu_n f(y)] = E[y_n f(y - e_n)]` and a first-order expansion give the
    unbiased estimate of :math:`\tfrac1N E\lVert G(\hat\mu - \mu)\rVert^2`

    .. math:: \mathrm{PURE}_G = \frac1N\Big[\lVert G(\hat\mu - y)\rVert^2
              + 2\sum_n y_n \frac{\partial (Q\hat\mu)_n}{\partial y_n}
              - \sum_n Q_{nn} y_n\Big],
              \qquad Q = G^*G,

    the divergence by one Monte-Carlo probe (Ramani, Blu & Unser 2008),
    :math:`\sum_n y_n \partial_n (Q\hat\mu)_n \approx s^\top Q\,
    (\hat\mu(y + \varepsilon s) - \hat\mu(y))/\varepsilon`, :math:`s = \sqrt y \odot \delta`,
    :math:`\delta_n = \pm 1`: its expectation over :math:`\delta` is exactly
    :math:`\sum_n y_n (QJ)_{nn}`. :math:`G` is circulant on the field (``weights`` its
    :math:`|\hat g|^2` on the half spectrum, :func:`risk_filter`).

    Parameters
    ----------
    data : array
        :math:`y`, in photons.
    mean, moved : array
        :math:`\hat\mu(y)` and :math:`\hat\mu(y + \varepsilon s)`, of the data's shape.
    probe : array
        :math:`s = \sqrt{y}\odot\delta`.
    weights : array
        :math:`|\hat g|^2` on the rfft half spectrum of the data's shape.
    epsilon : float
        The probe's step :math:`\varepsilon`.
    """
    xp = namespace(data)
    axes = tuple(range(data.ndim))
    y = data.astype(np.float64)
    size = y.size
    counts = half_spectrum_counts(data.shape[-1], xp)
    fit = projected_error(mean, y, weights)
    change = rfftn((moved.astype(np.float64) - mean.astype(np.float64)) / epsilon, axes)
    probe_hat = rfftn(probe.astype(np.float64), axes)
    # Parseval on the half spectrum: Σ_n a_n b_n = Σ_k â*_k b̂_k / N
    weighted = weights * counts
    divergence = float(to_host(xp.sum(weighted * (probe_hat.conj() * change).real))) / size
    diagonal = float(to_host(xp.sum(weighted))) / size  # Q_nn, the same for every n
    return (fit + 2.0 * divergence - diagonal * float(to_host(xp.sum(y)))) / size


def choose_weight_by_risk(risk: Any, method: str, asked: str = "pure") -> WeightChoice:
    r"""The λ of least estimated risk (PURE, :func:`projected_pure`).

    ``risk(lam)`` solves the problem with weight ``lam`` and returns its risk
    estimate. The scan evaluates :data:`DISCREPANCY_GRID` (decades from 1 down to
    1e-5), then half and quarter decades either side of the least: 10 evaluations,
    the choice within a factor :math:`10^{1/8}` (33 %) of the risk's minimum on
    the grid. The minimum at an end of the range keeps that end, with a warning.
    """
    r, tried = _remembered(risk)

    for lam in DISCREPANCY_GRID:
        r(lam)
    low, high = min(DISCREPANCY_GRID), max(DISCREPANCY_GRID)
    best = min(tried, key=tried.get)
    at_edge = best in (low, high)
    if at_edge:
        end = "weakest" if best == low else "smoothest"
        warnings.warn(
            f"{method}: lam={asked!r}: the estimated risk has no minimum in [{low:g}, {high:g}]; "
            f"using the {end}, lam={best:g} (give lam a number to choose otherwise)",
            stacklevel=3)
    else:
        for step in (0.5, 0.25):
            for side in (-step, step):
                r(best * 10.0**side)
            best = min(tried, key=tried.get)
    grid = sorted(tried)
    if not math.isfinite(tried[best]):
        raise ValueError(f"{method}: lam={asked!r}: the risk estimate is not finite at any "
                         "weight tried; give lam a number")
    return WeightChoice("lam", float(best), "PURE", tuple(float(v) for v in grid),
                        tuple(tried[v] for v in grid), at_edge, None)


def has_signal(data: Any, background: Any) -> tuple[bool, float]:
    r"""Whether ``data`` (photons) hold light above ``background``: the total excess
    :math:`\sum_n (y_n - b_n)` beyond three standard deviations of its Poisson fluctuation,
    :math:`3\sqrt{\sum_n b_n}`. Returns the verdict and the mean excess per voxel."""
    xp = namespace(data)
    total = float(to_host(xp.sum(data.astype(np.float64))))
    size = int(np.prod(data.shape))
    level = float(to_host(xp.sum(background))) if np.ndim(background) else float(background) * size
    excess = total - level
    return excess > 3.0 * math.sqrt(max(level, 0.0) + 1.0), excess / size
