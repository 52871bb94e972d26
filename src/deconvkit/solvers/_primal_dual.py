r"""Primal–dual splitting: Chambolle–Pock and Condat–Vũ for :math:`f(x) + h(x) + \sum_i g_i(K_i x)`.

**Steps that see the weights.** A term :math:`c\,g(K x)` converges with any
dual step, but how fast depends on where its weight sits: moved into the
operator (:math:`g(c^{1/p} K x)` for a cost of degree :math:`p`), the same
problem runs 10⁴ times closer to its minimum in a tenth of the iterations.
So each dualized term gets its scale :math:`s_i` (:func:`~._terms.step_scale`:
:math:`\sqrt c` for quadratics, :math:`c` for norms, 1 for indicators), the
steps are chosen for the scaled stack :math:`\tilde K = (s_i K_i)_i`,

.. math:: \sigma = 1/\|\tilde K\|, \quad \tau = 0.99/(L_h/2 + \sigma\|\tilde K\|^2),
          \quad \|\tilde K\|^2 \le \textstyle\sum_i s_i^2\|K_i\|^2,

and the term's own dual step is :math:`\sigma_i = \sigma s_i^2` (running the
iteration on the scaled problem is the same as running it on the original one
with these steps). The convergence condition is
:math:`\tau(L_h/2 + \sum_i \sigma_i\|K_i\|^2) < 1`.

**Diagonal preconditioning** (``precondition=True``; Pock & Chambolle, ICCV
2011) replaces the scalars by the diagonal steps

.. math:: \tau_j = \frac{0.99}{\sum_i s_i^{2-\alpha} \sum_{l}|K_{i,lj}|^{2-\alpha} + L_h/2},
          \qquad (\sigma_i)_l = \frac{s_i^{2-\alpha}}{\sum_j |K_{i,lj}|^{\alpha}},

which satisfy :math:`\|\Sigma^{1/2} K T^{1/2}\| \le 1` whatever the operators
(the row and column sums come from ``K.abs_operator``; an operator without
one falls back on the scalar steps with a warning). A step stays an array
only where the prox can take it: separable primal terms (constraints,
``L1``, ``SquaredL2``), and for the dual terms the norms (the projection onto
the dual ball, with one step per voxel for the grouped ones), quadratics and
constraints; elsewhere its smallest value is used, which keeps the bound.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..backend import asarray, full, namespace, zeros
from ..costs import (
    L1,
    Box,
    Cost,
    LeastSquares,
    MixedNorm21,
    NonNegative,
    NonNegativeL1,
    ScaledCost,
    SchattenNorm,
    SquaredL2,
    SumCost,
)
from ._engine import Solver
from ._gradient import smooth_lipschitz
from ._terms import (
    Term,
    abs_sums,
    common_shape,
    data_scale as data_scale_of,
    operator_norm,
    problem_dtype,
    reference_array,
    split_terms,
    step_scale,
)

__all__ = ["ChambollePock", "CondatVu"]


def _check_step(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


def _unweighted(cost: Cost) -> tuple[float, Cost]:
    """``c * (c' * f)`` → ``(c c', f)``."""
    weight = 1.0
    while isinstance(cost, ScaledCost):
        weight *= cost.scalar
        cost = cost.cost
    return weight, cost


# -- proxes with a diagonal step (None where the cost has no such prox here) -------
def diagonal_prox(cost: Cost, v: Any, tau: Any) -> Any | None:
    r"""``prox_{T f}(v)`` for a diagonal step ``T`` (an array), for separable ``f``."""
    weight, inner = _unweighted(cost)
    xp = namespace(v)
    if isinstance(inner, (NonNegative, Box)):
        return inner.prox(v, 1.0)  # a projection on a box: the same in any diagonal metric
    if weight == 0:
        return v.copy()
    if isinstance(inner, L1):
        out = xp.abs(v)
        out -= weight * tau
        xp.maximum(out, out.dtype.type(0), out=out)
        return xp.copysign(out, v, out=out)
    if isinstance(inner, NonNegativeL1):
        out = v - weight * tau
        return xp.maximum(out, out.dtype.type(0), out=out)
    if isinstance(inner, SquaredL2):
        return v / (1 + weight * tau)
    return None


def _accepts_diagonal_primal(cost: Cost | None) -> bool:
    if cost is None:
        return True
    _, inner = _unweighted(cost)
    return isinstance(inner, (NonNegative, Box, L1, NonNegativeL1, SquaredL2))


#: Dual costs whose conjugate prox is a projection per voxel group (leading axis).
_GROUPED = (MixedNorm21, SchattenNorm)


def _accepts_diagonal_dual(cost: Cost) -> bool:
    _, inner = _unweighted(cost)
    return isinstance(inner, (NonNegative, Box, L1, NonNegativeL1, SquaredL2, LeastSquares) + _GROUPED)


def diagonal_prox_conjugate(cost: Cost, v: Any, sigma: Any) -> Any | None:
    r"""``prox_{Σ g*}(v)`` for a diagonal step ``Σ`` (an array; constant per group for grouped norms)."""
    weight, inner = _unweighted(cost)
    xp = namespace(v)
    if isinstance(inner, NonNegative):
        return xp.minimum(v, v.dtype.type(0))  # ι*_{≥0} = ι_{≤0}, whatever c and Σ
    if isinstance(inner, Box):
        lower, upper = inner._bounds(v)
        return v - sigma * xp.clip(v / sigma, lower, upper)
    if weight == 0:
        return xp.zeros_like(v)
    c = v.dtype.type(weight)
    if isinstance(inner, L1):
        return xp.clip(v, -c, c, out=xp.empty_like(v))
    if isinstance(inner, NonNegativeL1):
        return xp.minimum(v, c, out=xp.empty_like(v))
    if isinstance(inner, _GROUPED):
        scaled = v / c
        out = inner._prox_conjugate(scaled, 1.0)  # the projection onto the dual ball
        out *= c
        return out
    if isinstance(inner, SquaredL2):  # (c/2‖z‖²)* = ‖p‖²/(2c)
        return v / (1 + sigma / c)
    if isinstance(inner, LeastSquares):  # g* = Σ p²/(2cw) + p y
        y = inner.y.astype(v.dtype, copy=False)
        cw = c if inner.weights is None else c * inner.weights.astype(v.dtype, copy=False)
        return (v - sigma * y) * (cw / (cw + sigma))
    return None


def _unweighted_data(cost: Cost) -> Cost:
    """The cost under weights and compositions (where a data term keeps its ``y``)."""
    from ..costs import Composition

    while isinstance(cost, (ScaledCost, Composition)):
        cost = cost.cost
    return cost


def _as_steps(values: Any, dtype: Any) -> Any:
    """A constant array as a float, else the array in ``dtype``."""
    xp = namespace(values)
    low, high = float(xp.min(values)), float(xp.max(values))
    if high <= low * (1 + 1e-6):
        return low
    return values.astype(dtype, copy=False)


def _finite(values: Any) -> Any:
    """Infinite steps (a voxel no term touches) set to the largest finite one."""
    xp = namespace(values)
    finite = xp.isfinite(values)
    if bool(xp.all(finite)):
        return values
    largest = float(xp.max(values[finite])) if bool(xp.any(finite)) else 1.0
    return xp.where(finite, values, largest)


class _PrimalDual(Solver):
    """Shared set-up: which term is f (primal prox), h (gradient), the g_i (dual)."""

    uses_smooth = False

    def __init__(self, terms: Any, primal: Cost | None, tau: float | None, sigma: float | None,
                 theta: float, shape: Any, precondition: bool = False, alpha: float = 1.0,
                 data_scale: float | None = None, data_mean: float | None = None) -> None:
        parsed = split_terms(terms, self.name)
        extra = [] if primal is None else split_terms(primal, self.name)
        self.shape = common_shape(parsed + extra, self.name, shape)
        self.dtype = problem_dtype(parsed + extra)
        self._like = reference_array(parsed + extra)
        if primal is not None:
            if len(extra) != 1 or extra[0].op is not None or not primal.proximable:
                raise TypeError(
                    f"{self.name}'s primal= must be one proximable cost on x (e.g. NonNegative()), "
                    f"got {primal!r}"
                )
            self.primal = primal
        else:
            plain = [t for t in parsed if t.op is None and t.cost.proximable]
            plain.sort(key=lambda t: not t.cost.indicator)  # prefer a constraint
            self.primal = plain[0].original if plain else None
            parsed = [t for t in parsed if not (plain and t is plain[0])]
        self.smooth_terms: list[Term] = []
        if self.uses_smooth:
            for t in parsed:
                if t.original.smooth and not t.cost.indicator and smooth_lipschitz(t.original):
                    self.smooth_terms.append(t)
            parsed = [t for t in parsed if t not in self.smooth_terms]
        missing = [t for t in parsed if not t.cost.proximable]
        if missing:
            names = ", ".join(repr(t.cost) for t in missing)
            raise TypeError(
                f"{self.name} needs the proximal map of every dualized cost; {names} has none: "
                + ("use RichardsonLucy for a Poisson likelihood" if any(
                    "Poisson" in type(t.cost).__name__ for t in missing) else
                   "give a proximable cost or use CondatVu for a smooth one")
            )
        self.dual_terms = parsed
        #: Per dualized term, the factor its weight puts on its operator (see the module notes).
        self.data_scale = (data_scale_of(parsed + self.smooth_terms) if data_scale is None
                           else _check_step(data_scale, "data_scale"))
        data_mean = _check_step(data_mean, "data_mean")
        self.scales = [step_scale(t.cost, self.data_scale, data_mean) for t in parsed]
        norms2 = [(s * operator_norm(t.op)) ** 2 for s, t in zip(self.scales, parsed)]
        self.op_norm = math.sqrt(sum(norms2))  # ‖K̃‖ ≤ sqrt(Σ s_i² ‖K_i‖²) for the scaled stack
        self.smooth = (
            None if not self.smooth_terms else
            self.smooth_terms[0].original if len(self.smooth_terms) == 1 else
            SumCost([t.original for t in self.smooth_terms])
        )
        self.smooth_lipschitz = smooth_lipschitz(self.smooth) if self.smooth is not None else 0.0
        if theta < 0 or theta > 1:
            raise ValueError(f"theta must be in [0, 1], got {theta!r}")
        self.theta = float(theta)
        if not (0.0 <= float(alpha) <= 2.0):
            raise ValueError(f"alpha must be in [0, 2] (Pock & Chambolle's exponent), got {alpha!r}")
        self.alpha = float(alpha)
        if precondition and (tau is not None or sigma is not None):
            raise ValueError(
                f"{self.name}: give either tau/sigma or precondition=True (which sets the "
                "steps per voxel), not both"
            )
        self.tau, self.sigma = self._steps(_check_step(tau, "tau"), _check_step(sigma, "sigma"))
        #: The dual step of each term: sigma * s_i² (arrays when preconditioned).
        self.sigmas: list[Any] = [self.sigma * s * s for s in self.scales]
        self.preconditioned = False
        if precondition:
            self._precondition()

    def _steps(self, tau, sigma):
        k2 = self.op_norm**2
        half_l = self.smooth_lipschitz / 2.0
        if tau is None and sigma is None:
            sigma = 1.0 / self.op_norm if self.op_norm > 0 else 1.0
            tau = 0.99 / (half_l + sigma * k2) if half_l + sigma * k2 > 0 else 1.0
        elif tau is None:
            tau = 0.99 / (half_l + sigma * k2)
        elif sigma is None:
            sigma = (0.99 / tau - half_l) / k2 if k2 > 0 else 1.0
            if sigma <= 0:
                raise ValueError(
                    f"{self.name}: tau={tau:g} is too large for the smooth term (needs tau < "
                    f"{2 / self.smooth_lipschitz:g})"
                )
        bound = tau * (half_l + sigma * k2)
        if bound >= 1:
            need = "tau*sigma*||K||^2 < 1" if half_l == 0 else "tau*(L/2 + sigma*||K||^2) < 1"
            raise ValueError(
                f"{self.name}: steps tau={tau:g}, sigma={sigma:g} break the convergence condition "
                f"{need} (it is {bound:.3g}, with ||K||^2 <= {k2:.4g} = sum of s_i^2 ||K_i||^2, "
                "s_i the weights' scales): leave them out for automatic values"
            )
        return float(tau), float(sigma)

    def _precondition(self) -> None:
        """Pock & Chambolle's diagonal steps (see the module notes), or the scalars with a warning."""
        alpha = self.alpha
        # allocate on the data's backend (a term's y), NumPy without data
        like = next((getattr(_unweighted_data(t.cost), "y", None) for t in self.dual_terms
                     + self.smooth_terms if getattr(_unweighted_data(t.cost), "y", None) is not None),
                    None)
        xp = namespace(like) if like is not None else np
        sums = [abs_sums(t.op, self.shape, self.dtype, alpha, like=like) for t in self.dual_terms]
        unknown = [t for t, s in zip(self.dual_terms, sums) if s is None]
        if unknown:
            names = ", ".join(repr(t.op) for t in unknown)
            warnings.warn(
                f"{self.name}: no |K| row and column sums for {names} (no abs_operator): "
                "using scalar steps instead of the diagonal preconditioner",
                RuntimeWarning, stacklevel=3,
            )
            return
        columns = full(self.shape, self.smooth_lipschitz / 2.0, np.float64, like=like)
        for s, (_, cols) in zip(self.scales, sums):
            columns += s ** (2.0 - alpha) * cols
        with np.errstate(divide="ignore"):
            tau = _finite(0.99 / columns)
        del columns
        diagonal = _accepts_diagonal_primal(self.primal)
        self.tau = _as_steps(tau, self.dtype) if diagonal else float(xp.min(tau))
        sigmas = []
        for t, s, (rows, _) in zip(self.dual_terms, self.scales, sums):
            with np.errstate(divide="ignore"):
                sigma = _finite(s ** (2.0 - alpha) / rows)
            _, inner = _unweighted(t.cost)
            if isinstance(inner, _GROUPED) and sigma.ndim > len(self.shape):
                sigma = xp.min(sigma, axis=0, keepdims=True)  # one step per voxel group
            if not _accepts_diagonal_dual(t.cost):
                sigma = float(xp.min(sigma))
            sigmas.append(sigma if isinstance(sigma, float) else _as_steps(sigma, self.dtype))
        self.sigmas = sigmas
        self.sigma = None
        self.preconditioned = True

    # -- the iteration -------------------------------------------------------
    def _start(self, x0):
        self._p = [zeros(tuple(t.op.dimsd) if t.op is not None else self.shape, x0.dtype, like=x0)
                   for t in self.dual_terms]
        self._kx = [t.forward(x0) for t in self.dual_terms]
        self._kx_of = x0
        tau = self.tau
        self._tau_steps = tau if isinstance(tau, float) else asarray(tau, x0.dtype, like=x0)
        self._neg_tau = x0.dtype.type(-tau) if isinstance(tau, float) else -self._tau_steps
        self._sigma_steps = [s if isinstance(s, float) else asarray(s, x0.dtype, like=x0)
                             for s in self.sigmas]
        return x0

    def _gradient_part(self, x):
        """Σ K_iᴴ p_i (+ ∇h(x))."""
        out = None
        for t, p in zip(self.dual_terms, self._p):
            part = t.adjoint(p)
            out = part if out is None else out.__iadd__(part)
        if self.smooth is not None:
            g = self.smooth.grad(x)
            out = g if out is None else out.__iadd__(g)
        return out if out is not None else namespace(x).zeros_like(x)

    def _primal_prox(self, v):
        if self.primal is None:
            return v
        if isinstance(self.tau, float):
            return self.primal.prox(v, self.tau)
        return diagonal_prox(self.primal, v, self._tau_steps)

    def _dual_prox(self, term, v, sigma):
        if isinstance(sigma, float):
            return term.cost.prox_conjugate(v, sigma)
        return diagonal_prox_conjugate(term.cost, v, sigma)

    def _iterate(self, x):
        step = self._gradient_part(x)
        step *= self._neg_tau
        step += x
        x_new = self._primal_prox(step)
        theta = self.theta
        new_kx = []
        for i, t in enumerate(self.dual_terms):
            kx = t.forward(x_new)
            # K x̄ = (1 + θ) K x_new − θ K x, without applying K to x̄
            kbar = kx * kx.dtype.type(1.0 + theta)
            kbar -= kx.dtype.type(theta) * self._kx[i]
            sigma = self._sigma_steps[i]
            kbar *= kbar.dtype.type(sigma) if isinstance(sigma, float) else sigma
            kbar += self._p[i]
            self._p[i] = self._dual_prox(t, kbar, sigma)
            new_kx.append(kx)
        self._kx, self._kx_of = new_kx, x_new
        return x_new

    def _objective(self, x):
        total = 0.0
        if self.primal is not None and not self.primal.indicator:
            total += float(self.primal(x))
        if self.smooth is not None:
            total += float(self.smooth(x))
        for i, t in enumerate(self.dual_terms):
            if t.cost.indicator:
                continue
            kx = self._kx[i] if self._kx_of is x else t.forward(x)
            total += float(t.cost(kx))
        return total

    def __repr__(self):
        parts = [f"f={self.primal!r}"]
        if self.smooth is not None:
            parts.append(f"h={self.smooth!r}")
        parts.append("g=[" + ", ".join(repr(t) for t in self.dual_terms) + "]")
        if self.preconditioned:
            steps = f"diagonal steps (alpha={self.alpha:g})"
        else:
            steps = f"tau={self.tau:.3g}, sigma={self.sigma:.3g}"
        return f"{self.name}({'; '.join(parts)}; {steps})"


_PARAMETERS = """
    Parameters
    ----------
    terms : list of Cost
        ``cost @ operator`` terms. The first plain proximable one (a
        constraint preferred) becomes ``f``; every other one is dualized
        through ``prox_conjugate``{smooth}.
    primal : Cost, optional
        Choose ``f`` explicitly (then every term is dualized).
    tau, sigma : float, optional
        Primal step and base dual step (term ``i`` gets ``sigma * s_i**2``,
        ``s_i`` its weight's scale); by default :math:`\\sigma = 1/\\|\\tilde K\\|`,
        :math:`\\tau = 0.99/({half}\\|\\tilde K\\|)`. Give one and the other is set to
        0.99 of its bound; both are checked.
    theta : float
        Over-relaxation in ``[0, 1]`` (1 by default).
    precondition : bool
        Diagonal steps from the row and column sums of :math:`|K|` (Pock &
        Chambolle 2011; see the module notes) instead of scalar ones.
    alpha : float
        Their exponent :math:`\\alpha \\in [0, 2]` (1 by default).
    shape : tuple of int, optional
        Shape of ``x`` when no term fixes it.
    data_scale, data_mean : float, optional
        The magnitude of the unknown that scales each term's step (the mean of
        :math:`|y - b|`) and the mean of a Poisson term's data (its curvature),
        read from the terms' data by default; a plan passes the whole image's, so
        that every tile of it takes the same steps.
"""


class ChambollePock(_PrimalDual):
    r"""Chambolle–Pock primal–dual algorithm for :math:`\min_x f(x) + \sum_i g_i(K_i x)`.

    .. math::
        x_{k+1} &= \operatorname{prox}_{\tau f}\big(x_k - \tau \textstyle\sum_i K_i^H p_i\big) \\
        \bar x &= x_{k+1} + \theta (x_{k+1} - x_k) \\
        p_i &\leftarrow \operatorname{prox}_{\sigma_i g_i^*}(p_i + \sigma_i K_i \bar x)

    Converges for :math:`\tau\sum_i\sigma_i\|K_i\|^2 < 1`, with the dual steps
    :math:`\sigma_i = \sigma s_i^2` scaled by the terms' weights (module notes),
    or with the diagonal steps of ``precondition=True``. Each iteration
    applies every :math:`K_i` and :math:`K_i^H` once.
    """ + _PARAMETERS.format(smooth="", half="")

    name = "ChambollePock"
    objective_note = "f(x) + Σ g_i(K_i x), indicators left out"

    def __init__(self, terms: Any, primal: Cost | None = None, tau: float | None = None,
                 sigma: float | None = None, theta: float = 1.0, shape: Any = None,
                 precondition: bool = False, alpha: float = 1.0,
                 data_scale: float | None = None, data_mean: float | None = None) -> None:
        super().__init__(terms, primal, tau, sigma, theta, shape, precondition, alpha,
                         data_scale, data_mean)


class CondatVu(_PrimalDual):
    r"""Condat–Vũ primal–dual algorithm for :math:`\min_x f(x) + h(x) + \sum_i g_i(K_i x)`.

    Chambolle–Pock with the gradient of a smooth :math:`h` in the primal step:

    .. math:: x_{k+1} = \operatorname{prox}_{\tau f}\big(x_k - \tau(\nabla h(x_k) +
              \textstyle\sum_i K_i^H p_i)\big)

    converging for :math:`\tau(L_h/2 + \sum_i\sigma_i\|K_i\|^2) < 1`. The terms
    that are smooth with a known Lipschitz gradient (``LeastSquares(y) @ (Crop
    @ Blur)``) go to ``h``: only their gradient is used.
    """ + _PARAMETERS.format(
        smooth="; the smooth ones with a known Lipschitz gradient go to ``h``",
        half="L_h/2 + ",
    )

    name = "CondatVu"
    uses_smooth = True
    objective_note = "f(x) + h(x) + Σ g_i(K_i x), indicators left out"

    def __init__(self, terms: Any, primal: Cost | None = None, tau: float | None = None,
                 sigma: float | None = None, theta: float = 1.0, shape: Any = None,
                 precondition: bool = False, alpha: float = 1.0,
                 data_scale: float | None = None, data_mean: float | None = None) -> None:
        super().__init__(terms, primal, tau, sigma, theta, shape, precondition, alpha,
                         data_scale, data_mean)
