r"""Primal–dual splitting: Chambolle–Pock and Condat–Vũ for :math:`f(x) + h(x) + \sum_i g_i(K_i x)`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import namespace, zeros
from ..costs import Cost, SumCost
from ._engine import Solver
from ._gradient import smooth_lipschitz
from ._terms import Term, common_shape, operator_norm, problem_dtype, reference_array, split_terms

__all__ = ["ChambollePock", "CondatVu"]


def _check_step(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


class _PrimalDual(Solver):
    """Shared set-up: which term is f (primal prox), h (gradient), the g_i (dual)."""

    uses_smooth = False

    def __init__(self, terms: Any, primal: Cost | None, tau: float | None, sigma: float | None,
                 theta: float, shape: Any) -> None:
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
        norms2 = [operator_norm(t.op) ** 2 for t in parsed]
        self.op_norm = math.sqrt(sum(norms2))  # ‖K‖ ≤ sqrt(Σ ‖K_i‖²) for stacked K
        self.smooth = (
            None if not self.smooth_terms else
            self.smooth_terms[0].original if len(self.smooth_terms) == 1 else
            SumCost([t.original for t in self.smooth_terms])
        )
        self.smooth_lipschitz = smooth_lipschitz(self.smooth) if self.smooth is not None else 0.0
        if theta < 0 or theta > 1:
            raise ValueError(f"theta must be in [0, 1], got {theta!r}")
        self.theta = float(theta)
        self.tau, self.sigma = self._steps(_check_step(tau, "tau"), _check_step(sigma, "sigma"))

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
                f"{need} (it is {bound:.3g}, with ||K||^2 <= {k2:.4g} = sum of ||K_i||^2): "
                "leave them out for automatic values"
            )
        return float(tau), float(sigma)

    # -- the iteration -------------------------------------------------------
    def _start(self, x0):
        self._p = [zeros(t.op.dimsd if t.op is not None else self.shape, dtype=x0.dtype, like=x0)
                   for t in self.dual_terms]
        self._kx = [t.forward(x0) for t in self.dual_terms]
        self._kx_of = x0
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

    def _iterate(self, x):
        step = self._gradient_part(x)
        step *= step.dtype.type(-self.tau)
        step += x
        x_new = self.primal.prox(step, self.tau) if self.primal is not None else step
        theta = self.theta
        new_kx = []
        for i, t in enumerate(self.dual_terms):
            kx = t.forward(x_new)
            # K x̄ = (1 + θ) K x_new − θ K x, without applying K to x̄
            kbar = kx * kx.dtype.type(1.0 + theta)
            kbar -= kx.dtype.type(theta) * self._kx[i]
            kbar *= kbar.dtype.type(self.sigma)
            kbar += self._p[i]
            self._p[i] = t.cost.prox_conjugate(kbar, self.sigma)
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
        return f"{self.name}({'; '.join(parts)}; tau={self.tau:.3g}, sigma={self.sigma:.3g})"


class ChambollePock(_PrimalDual):
    r"""Chambolle–Pock primal–dual algorithm for :math:`\min_x f(x) + \sum_i g_i(K_i x)`.

    .. math::
        x_{k+1} &= \operatorname{prox}_{\tau f}\big(x_k - \tau \textstyle\sum_i K_i^H p_i\big) \\
        \bar x &= x_{k+1} + \theta (x_{k+1} - x_k) \\
        p_i &\leftarrow \operatorname{prox}_{\sigma g_i^*}(p_i + \sigma K_i \bar x)

    Converges for :math:`\tau\sigma\|K\|^2 < 1` with :math:`\|K\|^2 \le \sum_i \|K_i\|^2`
    (the stacked operator). Each iteration applies every :math:`K_i` and
    :math:`K_i^H` once.

    Parameters
    ----------
    terms : list of Cost
        ``cost @ operator`` terms. The first plain proximable one (a
        constraint preferred) becomes ``f``; every other one is dualized
        through ``prox_conjugate``.
    primal : Cost, optional
        Choose ``f`` explicitly (then every term is dualized).
    tau, sigma : float, optional
        Steps; by default :math:`\sigma = 1/\|K\|`, :math:`\tau = 0.99/\|K\|`.
        Give one and the other is set to 0.99 of its bound; both are checked.
    theta : float
        Over-relaxation in ``[0, 1]`` (1 by default).
    """

    name = "ChambollePock"
    objective_note = "f(x) + Σ g_i(K_i x), indicators left out"

    def __init__(self, terms: Any, primal: Cost | None = None, tau: float | None = None,
                 sigma: float | None = None, theta: float = 1.0, shape: Any = None) -> None:
        super().__init__(terms, primal, tau, sigma, theta, shape)


class CondatVu(_PrimalDual):
    r"""Condat–Vũ primal–dual algorithm for :math:`\min_x f(x) + h(x) + \sum_i g_i(K_i x)`.

    Chambolle–Pock with the gradient of a smooth :math:`h` in the primal step:

    .. math:: x_{k+1} = \operatorname{prox}_{\tau f}\big(x_k - \tau(\nabla h(x_k) +
              \textstyle\sum_i K_i^H p_i)\big)

    converging for :math:`\tau(L_h/2 + \sigma\|K\|^2) < 1`. The terms that are
    smooth with a known Lipschitz gradient (``LeastSquares(y) @ (Crop @ Blur)``)
    go to ``h``: only their gradient is used.

    Parameters
    ----------
    terms, primal, tau, sigma, theta
        As :class:`ChambollePock`; by default :math:`\sigma = 1/\|K\|`,
        :math:`\tau = 0.99 / (L_h/2 + \|K\|)`.
    """

    name = "CondatVu"
    uses_smooth = True
    objective_note = "f(x) + h(x) + Σ g_i(K_i x), indicators left out"

    def __init__(self, terms: Any, primal: Cost | None = None, tau: float | None = None,
                 sigma: float | None = None, theta: float = 1.0, shape: Any = None) -> None:
        super().__init__(terms, primal, tau, sigma, theta, shape)
