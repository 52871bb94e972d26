r"""First-order methods on a smooth term: GradientDescent, ProximalGradient (FISTA), ProjectedGradient."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import namespace

from ..costs import Composition, Cost, ScaledCost, SumCost
from ._engine import Solver
from ._terms import common_shape, operator_norm, problem_dtype, reference_array, split_terms

__all__ = ["GradientDescent", "ProximalGradient", "FISTA", "ProjectedGradient", "smooth_lipschitz"]


def smooth_lipschitz(cost: Cost) -> float | None:
    """Lipschitz constant of ``∇cost``: the known one, else built from operator
    norm estimates where only an operator's bound is missing; None when the
    cost itself has none (e.g. the Poisson likelihood)."""
    known = cost.grad_lipschitz
    if known is not None:
        return float(known)
    if isinstance(cost, ScaledCost):
        inner = smooth_lipschitz(cost.cost)
        return None if inner is None else cost.scalar * inner
    if isinstance(cost, SumCost):
        parts = [smooth_lipschitz(t) for t in cost.terms]
        return None if any(p is None for p in parts) else float(sum(parts))
    if isinstance(cost, Composition):
        inner = smooth_lipschitz(cost.cost)
        return None if inner is None else inner * operator_norm(cost.op) ** 2
    return None


def _as_cost(costs: Any, solver: str, what: str) -> Cost:
    terms = split_terms(costs, solver)
    originals = [t.original for t in terms]
    return originals[0] if len(originals) == 1 else SumCost(originals)


def _not_lipschitz_message(solver: str, cost: Cost) -> str:
    return (
        f"{solver} needs a smooth term with a known Lipschitz gradient; {cost!r} has no "
        "Lipschitz gradient (a Poisson likelihood's gradient is unbounded near zero): "
        "use RichardsonLucy or ADMM, or pass step= explicitly"
    )


class GradientDescent(Solver):
    r"""Gradient descent, :math:`x_{k+1} = x_k - t\,\nabla f(x_k)`.

    Parameters
    ----------
    cost : Cost or list of Cost
        Smooth cost(s) to minimize (a list is summed).
    step : float, optional
        Step size ``t``; ``1 / L`` by default with ``L`` the gradient's
        Lipschitz constant (``cost.grad_lipschitz``, or built from operator
        norm estimates). Converges for ``0 < t < 2 / L``.
    line_search : bool, optional
        Armijo backtracking (``f(x - t g) <= f(x) - t‖g‖²/2``, ``t`` halved on
        failure and doubled at the next iteration). Default: only when ``L`` is
        unknown and no step is given.
    shape : tuple of int, optional
        Shape of ``x`` when no term fixes it.
    """

    name = "GradientDescent"
    objective_note = "f(x)"

    def __init__(self, cost: Any, step: float | None = None, line_search: bool | None = None,
                 shape: Any = None) -> None:
        terms = split_terms(cost, self.name)
        self.shape = common_shape(terms, self.name, shape)
        self.dtype = problem_dtype(terms)
        self._like = reference_array(terms)
        self.cost = _as_cost(cost, self.name, "cost")
        if not self.cost.smooth:
            raise TypeError(
                f"GradientDescent needs a smooth (differentiable) cost; {self.cost!r} is not: "
                "use ProximalGradient/FISTA for a smooth + proximable sum, ADMM or ChambollePock otherwise"
            )
        self.lipschitz = smooth_lipschitz(self.cost)
        if step is not None and (not np.isfinite(step) or step <= 0):
            raise ValueError(f"GradientDescent's step must be a positive finite number, got {step!r}")
        if line_search is None:
            line_search = step is None and self.lipschitz is None
        self.line_search = bool(line_search)
        if step is None and not self.line_search:
            step = 1.0 / self.lipschitz if self.lipschitz else 1.0
        self.step = float(step) if step is not None else (1.0 / self.lipschitz if self.lipschitz else 1.0)
        self._cached: tuple[Any, float] | None = None

    def _value(self, x: Any) -> float:
        if self._cached is not None and self._cached[0] is x:
            return self._cached[1]
        value = self.cost(x)
        self._cached = (x, value)
        return value

    def _start(self, x0):
        self._t = self.step
        self._cached = None
        return x0

    def _iterate(self, x):
        g = self.cost.grad(x)
        if not self.line_search:
            g *= g.dtype.type(-self._t)
            g += x
            return g
        fx = self._value(x)
        g_norm2 = float(namespace(g).vdot(g.ravel(), g.ravel()).real)
        t = self._t * 2.0
        for _ in range(60):
            candidate = x - x.dtype.type(t) * g
            value = self.cost(candidate)
            if value <= fx - 0.5 * t * g_norm2:
                break
            t *= 0.5
        self._t = t
        self._cached = (candidate, value)
        return candidate

    def _objective(self, x):
        return self._value(x)

    def _diagnostics(self):
        return {"step": self._t} if self.line_search else {}


class ProximalGradient(Solver):
    r"""Proximal gradient (ISTA), accelerated by default (FISTA with adaptive restart).

    Minimizes :math:`f(x) + g(x)` with :math:`f` smooth (Lipschitz gradient
    :math:`L`) and :math:`g` proximable:

    .. math:: x_{k+1} = \operatorname{prox}_{t g}\big(y_k - t\nabla f(y_k)\big),\quad
              \theta_{k+1} = \tfrac{1 + \sqrt{1 + 4\theta_k^2}}{2},\quad
              y_{k+1} = x_{k+1} + \tfrac{\theta_k - 1}{\theta_{k+1}}(x_{k+1} - x_k)

    (``accelerate=False``: :math:`y_k = x_k`). Adaptive restart (O'Donoghue &
    Candès 2015) resets the momentum when :math:`(y_k - x_{k+1})\cdot(x_{k+1} - x_k) > 0`
    (``restart="gradient"``, free) or when the objective increases
    (``restart="objective"``, one extra evaluation per iteration).

    Parameters
    ----------
    smooth : Cost or list of Cost
        The smooth part (a list is summed), with a known or estimable
        Lipschitz gradient.
    nonsmooth : Cost, optional
        One proximable cost (``NonNegative()``, ``L1()``, ``TotalVariation``...).
    step : float, optional
        ``1 / L`` by default.
    accelerate : bool
        FISTA momentum (default True).
    restart : {"gradient", "objective", None}
        Adaptive restart rule.
    """

    name = "ProximalGradient"
    objective_note = "f(x) + g(x), g left out when it is an indicator"

    def __init__(self, smooth: Any, nonsmooth: Cost | None = None, step: float | None = None,
                 accelerate: bool = True, restart: str | None = "gradient", shape: Any = None) -> None:
        if accelerate and type(self) is ProximalGradient:
            self.name = "FISTA"
        terms = split_terms(smooth, self.name)
        extra = [] if nonsmooth is None else split_terms(nonsmooth, self.name)
        self.shape = common_shape(terms + extra, self.name, shape)
        self.dtype = problem_dtype(terms + extra)
        self._like = reference_array(terms + extra)
        self.smooth = _as_cost(smooth, self.name, "smooth")
        if not self.smooth.smooth:
            raise TypeError(
                f"{self.name}'s first argument must be smooth; {self.smooth!r} is not "
                "differentiable: pass it as nonsmooth= if it is proximable, or use ADMM / ChambollePock"
            )
        if nonsmooth is not None and len(extra) > 1:
            raise TypeError(
                f"{self.name} takes one nonsmooth term, got {len(extra)} ({nonsmooth!r}): "
                "use ADMM or ChambollePock, which split every term"
            )
        if nonsmooth is not None and not nonsmooth.proximable:
            raise TypeError(
                f"{self.name} needs a proximable nonsmooth term; {nonsmooth!r} has no closed-form "
                "proximal map: use TotalVariation(shape) (prox by inner iterations), "
                "or ADMM / ChambollePock, which split the operator off"
            )
        self.nonsmooth = nonsmooth
        # a plug-and-play prior (a denoiser in a prox's or gradient's place) has no objective
        if any(getattr(c, "exact_prox", True) is False or getattr(c, "exact_gradient", True)
               is False for c in (nonsmooth, *(t.cost for t in terms))):
            self.tracks_objective = False
        if restart not in ("gradient", "objective", None):
            raise ValueError(f"restart must be 'gradient', 'objective' or None, got {restart!r}")
        self.restart = restart
        self.accelerate = bool(accelerate)
        self.lipschitz = smooth_lipschitz(self.smooth)
        if step is None:
            if not self.lipschitz:
                raise TypeError(_not_lipschitz_message(self.name, self.smooth))
            step = 1.0 / self.lipschitz
        if not np.isfinite(step) or step <= 0:
            raise ValueError(f"{self.name}'s step must be a positive finite number, got {step!r}")
        self.step = float(step)

    def _start(self, x0):
        if self.nonsmooth is not None and self.nonsmooth.indicator:
            x0 = self.nonsmooth.prox(x0, self.step)  # start feasible
        self._y = x0
        self._theta = 1.0
        self._restarts = 0
        self._last_value: float | None = None
        return x0

    def _prox_step(self, y):
        z = self.smooth.grad(y)
        z *= z.dtype.type(-self.step)
        z += y
        if self.nonsmooth is None:
            return z
        return self.nonsmooth.prox(z, self.step)

    def _iterate(self, x):
        y = self._y
        x_new = self._prox_step(y)
        if not self.accelerate:
            self._y = x_new
            return x_new
        xp = namespace(x)
        restart = False
        if self.restart == "gradient":
            restart = float(xp.vdot((y - x_new).ravel(), (x_new - x).ravel()).real) > 0
        elif self.restart == "objective":
            value = self._objective(x_new)
            restart = self._last_value is not None and value > self._last_value
            self._last_value = value
        if restart:
            self._restarts += 1
            self._theta = 1.0
            self._y = x_new
            return x_new
        theta = (1.0 + math.sqrt(1.0 + 4.0 * self._theta**2)) / 2.0
        beta = (self._theta - 1.0) / theta
        self._theta = theta
        y = x_new - x
        y *= y.dtype.type(beta)
        y += x_new
        self._y = y
        return x_new

    def _objective(self, x):
        value = self.smooth(x)
        if self.nonsmooth is not None and not self.nonsmooth.indicator:
            value += self.nonsmooth(x)
        return value

    def _diagnostics(self):
        return {"restarts": self._restarts} if self.accelerate else {}


#: FISTA is ProximalGradient with acceleration (the default).
FISTA = ProximalGradient


class ProjectedGradient(ProximalGradient):
    r"""Projected gradient: :math:`x_{k+1} = P_C(x_k - t\nabla f(x_k))`.

    ProximalGradient with an indicator (``NonNegative()``, ``Box(lo, hi)``)
    as the nonsmooth term; not accelerated by default (Landweber+ / NNLS).
    """

    name = "ProjectedGradient"
    objective_note = "f(x) (x is kept in the constraint set)"

    def __init__(self, smooth: Any, constraint: Cost, step: float | None = None,
                 accelerate: bool = False, restart: str | None = "gradient", shape: Any = None) -> None:
        if not isinstance(constraint, Cost) or not constraint.indicator:
            raise TypeError(
                f"ProjectedGradient needs a constraint (an indicator cost such as NonNegative() "
                f"or Box(lo, hi)), got {constraint!r}: use ProximalGradient for other proximable costs"
            )
        super().__init__(smooth, constraint, step=step, accelerate=accelerate, restart=restart,
                         shape=shape)
