r"""ADMM for :math:`\min_x \sum_i f_i(A_i x)`, every operator split off, and its x-steps."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from pylops import LinearOperator
from ..backend import namespace

from ..costs import Composition
from ..operators import Identity
from ._engine import Solver
from ._terms import (
    Term,
    apply,
    apply_adjoint,
    common_shape,
    operator_norm,
    problem_dtype,
    reference_array,
    split_terms,
)

__all__ = ["ADMM", "XStep", "CirculantSolve", "ConjugateGradientSolve", "default_rho"]


def _dot(a: Any, b: Any) -> float:
    return float(namespace(a).vdot(a.ravel(), b.ravel()).real)


class XStep:
    r"""Solves the ADMM x-update :math:`(\sum_i \rho_i A_i^H A_i)\,x = r`.

    ``prepare(ops, rhos, shape, dtype)`` is called before the first iteration
    and whenever a penalty changes (``ops[i]`` is None for the identity);
    ``solve(rhs, x0)`` returns ``x`` (``x0``: the previous x, for warm starts).
    """

    def prepare(self, ops: Sequence[LinearOperator | None], rhos: Sequence[float],
                shape: tuple[int, ...], dtype: Any) -> None:
        self.ops, self.rhos, self.shape, self.dtype = list(ops), list(rhos), shape, dtype

    def apply_normal(self, x: Any) -> Any:
        r""":math:`\sum_i \rho_i A_i^H A_i x`."""
        out = None
        for op, rho in zip(self.ops, self.rhos):
            part = x.copy() if op is None else apply_adjoint(op, apply(op, x))
            part *= part.dtype.type(rho)
            out = part if out is None else out.__iadd__(part)
        return out

    def solve(self, rhs: Any, x0: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class CirculantSolve(XStep):
    r"""Exact x-step when every :math:`A_i` is circulant: one FFT division.

    Builds ``sum(rho_i * A_i.H @ A_i).inv()`` once (again when ρ changes).
    """

    def __init__(self) -> None:
        self._normals: dict[int, Any] = {}

    def prepare(self, ops, rhos, shape, dtype):
        super().prepare(ops, rhos, shape, dtype)
        total = None
        for i, (op, rho) in enumerate(zip(ops, rhos)):
            if op is not None and not getattr(op, "is_circulant", False):
                raise ValueError(
                    f"CirculantSolve needs circulant operators; {op!r} is not: use "
                    "ConjugateGradientSolve()"
                )
            if i not in self._normals:
                self._normals[i] = Identity(shape, dtype=dtype) if op is None else op.H @ op
            part = rho * self._normals[i]
            total = part if total is None else total + part
        try:
            self.inverse = total.inv()
        except ValueError as error:
            raise ValueError(
                "ADMM: the terms do not determine x (Σ ρ_i A_iᴴA_i is singular, e.g. only a "
                "gradient penalty that ignores the mean): add a data term or NonNegative()"
                f" ({error})"
            ) from None

    def solve(self, rhs, x0):
        return apply(self.inverse, rhs)

    def __repr__(self):
        return "CirculantSolve()"


class ConjugateGradientSolve(XStep):
    r"""x-step by conjugate gradients on nd-arrays, warm-started from the previous x.

    Parameters
    ----------
    max_iter : int
        CG iterations per ADMM iteration (each costs one application of
        every :math:`A_i` and :math:`A_i^H`).
    tol : float
        Stop when :math:`\|r\| \le` ``tol`` :math:`\cdot \|b\|`.
    """

    def __init__(self, max_iter: int = 10, tol: float = 1e-6) -> None:
        if max_iter <= 0:
            raise ValueError(f"ConjugateGradientSolve's max_iter must be positive, got {max_iter}")
        self.max_iter, self.tol = int(max_iter), float(tol)
        self.last_iterations = 0

    def solve(self, rhs, x0):
        x = x0.copy()
        r = rhs - self.apply_normal(x)
        p = r.copy()
        rr = _dot(r, r)
        target = (self.tol * math.sqrt(_dot(rhs, rhs))) ** 2
        k = 0
        for k in range(1, self.max_iter + 1):
            if rr <= target:
                k -= 1
                break
            q = self.apply_normal(p)
            pq = _dot(p, q)
            if pq <= 0:
                break
            alpha = rr / pq
            x += x.dtype.type(alpha) * p
            r -= r.dtype.type(alpha) * q
            rr_new = _dot(r, r)
            p *= p.dtype.type(rr_new / rr)
            p += r
            rr = rr_new
        self.last_iterations = k
        return x

    def __repr__(self):
        return f"ConjugateGradientSolve(max_iter={self.max_iter}, tol={self.tol:g})"


def _split_crop_of_circulant(term: Term) -> Term:
    """``f @ (S @ H)`` with S semi-orthogonal (Crop) and H circulant → ``(f @ S, H)``.

    ``f ∘ S`` has a closed-form prox (``S Sᴴ = I``), and H keeps the x-step circulant.
    """
    op = term.op
    a, b = getattr(op, "a", None), getattr(op, "b", None)
    if (
        op is not None
        and not getattr(op, "is_circulant", False)
        and a is not None
        and getattr(a, "semi_orthogonal", None)
        and getattr(b, "is_circulant", False)
        and term.cost.proximable
    ):
        return Term(Composition(term.cost, a), b, term.original)
    return term


def default_rho(terms: list[Term]) -> list[float]:
    r"""Penalties from the problem's scale: :math:`\rho_i = \rho_0 / \|A_i\|^2`.

    :math:`\rho_0` is the largest known gradient Lipschitz constant among the
    terms (1 for unweighted least squares), else ``1 / mean(y)`` for a term
    with data ``y`` (a Poisson likelihood's curvature at the data), else 1.
    Dividing by :math:`\|A_i\|^2` gives every term the same weight in the x-step.
    """
    rho0 = None
    for term in terms:
        value = term.cost.grad_lipschitz if term.cost.smooth else None
        if value:
            rho0 = max(rho0 or 0.0, float(value))
    if rho0 is None:
        for term in terms:
            y = getattr(term.cost, "y", None)
            if y is None and isinstance(term.cost, Composition):
                y = getattr(term.cost.cost, "y", None)
            if y is not None:
                mean = float(np.mean(np.abs(y)))
                rho0 = 1.0 / mean if mean > 0 else 1.0
                break
    rho0 = rho0 or 1.0
    return [rho0 / max(operator_norm(t.op), 1e-12) ** 2 for t in terms]


class ADMM(Solver):
    r"""Alternating direction method of multipliers, splitting every term.

    Minimizes :math:`\sum_i f_i(A_i x)` with :math:`z_i = A_i x` (scaled form):

    .. math::
        x &\leftarrow \big(\textstyle\sum_i \rho_i A_i^H A_i\big)^{-1}
              \textstyle\sum_i \rho_i A_i^H (z_i - u_i) \\
        z_i &\leftarrow \operatorname{prox}_{f_i / \rho_i}(A_i x + u_i) \\
        u_i &\leftarrow u_i + A_i x - z_i

    A term ``f @ (Crop @ Blur)`` is split as ``(f @ Crop)(Blur x)``, whose prox is
    closed-form, so the x-step stays one FFT division.

    Parameters
    ----------
    terms : list of Cost
        ``cost @ operator`` compositions (a plain cost means ``A = I``, so an
        indicator such as ``NonNegative()`` is split too). Every ``f_i`` needs
        a proximal map.
    rho : float or list of float, optional
        Penalties (one for all, or one per term); :func:`default_rho` by default.
    x_step : XStep, optional
        :class:`CirculantSolve` when every operator is circulant, else
        :class:`ConjugateGradientSolve`.
    balance : bool
        Residual balancing (Boyd et al. 2011, §3.4.1): per term, multiply
        :math:`\rho_i` by 2 when the primal residual exceeds 10 times the dual
        one, divide it by 2 in the opposite case (checked every 10 iterations,
        the x-step is rebuilt when a penalty changes).
    shape : tuple of int, optional
        Shape of ``x`` when no term fixes it.

    Notes
    -----
    The history adds ``primal_residual`` :math:`\sqrt{\sum_i\|A_i x - z_i\|^2}`
    and ``dual_residual`` (the bound :math:`\sqrt{\sum_i \rho_i^2\|A_i\|^2\|z_i - z_i^{old}\|^2}`).
    The objective :math:`\sum_i f_i(A_i x)` leaves indicator terms out: ``x``
    satisfies the constraints only in the limit.
    """

    name = "ADMM"
    objective_note = ("Σ f_i(z_i) over the non-indicator terms, at the split variables "
                      "(Σ f_i(A_i x) at convergence)")

    def __init__(self, terms: Any, rho: Any = None, x_step: XStep | None = None,
                 balance: bool = False, shape: Any = None) -> None:
        parsed = split_terms(terms, self.name)
        self.shape = common_shape(parsed, self.name, shape)
        self.dtype = problem_dtype(parsed)
        self._like = reference_array(parsed)
        parsed = [_split_crop_of_circulant(t) for t in parsed]
        missing = [t for t in parsed if not t.cost.proximable]
        if missing:
            names = ", ".join(repr(t.cost) for t in missing)
            raise TypeError(
                f"ADMM needs a proximal map for every split cost; {names} has none: "
                "use RichardsonLucy for a Poisson likelihood, or ChambollePock / CondatVu"
            )
        self.terms = parsed
        # a plug-and-play prior (a denoiser in a prox's place) has no objective to record
        if any(getattr(t.cost, "exact_prox", True) is False for t in parsed):
            self.tracks_objective = False
        if rho is None:
            rhos = default_rho(parsed)
        elif np.ndim(rho) == 0:
            rhos = [float(rho)] * len(parsed)
        else:
            rhos = [float(r) for r in rho]
            if len(rhos) != len(parsed):
                raise ValueError(f"ADMM: {len(rhos)} penalties for {len(parsed)} terms")
        if any(not np.isfinite(r) or r <= 0 for r in rhos):
            raise ValueError(f"ADMM's penalties must be positive finite numbers, got {rhos}")
        self.rho = rhos
        ops = [t.op for t in parsed]
        if x_step is None:
            circulant = all(op is None or getattr(op, "is_circulant", False) for op in ops)
            x_step = CirculantSolve() if circulant else ConjugateGradientSolve()
        if not hasattr(x_step, "solve") or not hasattr(x_step, "prepare"):
            raise TypeError(f"x_step must have prepare(ops, rhos, shape, dtype) and solve(rhs, x0), got {x_step!r}")
        self.x_step = x_step
        self.balance = bool(balance)
        self._norms = [operator_norm(op) for op in ops]
        self.x_step.prepare(ops, self.rho, self.shape, self.dtype)

    def _start(self, x0):
        self._rho = list(self.rho)
        if self.balance:
            self.x_step.prepare([t.op for t in self.terms], self._rho, self.shape, self.dtype)
        # Begin with the z- and u-updates at x0 (z_i = prox(A_i x0), u_i = A_i x0 - z_i):
        # from z_i = A_i x0 and u_i = 0 the first x-update would return x0 itself, and a
        # relative-change rule would stop there.
        self._z, self._u = [], []
        for term, rho in zip(self.terms, self._rho):
            u = term.forward(x0)
            z = term.cost.prox(u, 1.0 / rho)
            if namespace(z).may_share_memory(z, u):
                z = z.copy()
            u -= z
            self._z.append(z)
            self._u.append(u)
        self._x_of_z: Any = None
        self._k = 0
        self._residuals = (math.nan, math.nan)
        return x0

    def _iterate(self, x):
        rhs = None
        for term, rho, z, u in zip(self.terms, self._rho, self._z, self._u):
            v = z - u
            v *= v.dtype.type(rho)
            part = term.adjoint(v) if term.op is not None else v
            rhs = part if rhs is None else rhs.__iadd__(part)
        x_new = self.x_step.solve(rhs, x)
        del rhs
        primal, dual = 0.0, 0.0
        primal_i, dual_i = [], []
        for i, (term, rho) in enumerate(zip(self.terms, self._rho)):
            # in place where the old value is not needed again: one A_i x temporary per term
            ax = term.forward(x_new)
            u = self._u[i]
            u += ax  # A_i x + u_i, the point whose prox is the new z_i
            z = term.cost.prox(u, 1.0 / rho)
            if namespace(z).may_share_memory(z, u):  # a user's prox may work in place
                z = z.copy()
            u -= z  # the new u_i
            ax -= z  # the primal residual A_i x - z_i
            rn = _dot(ax, ax)
            del ax
            old = self._z[i]
            old -= z  # -(z_i - z_i_old), for the dual residual
            sn = rho**2 * self._norms[i] ** 2 * _dot(old, old)
            del old
            primal += rn
            dual += sn
            primal_i.append(rn)
            dual_i.append(sn)
            self._z[i] = z
        self._x_of_z = x_new
        self._residuals = (math.sqrt(primal), math.sqrt(dual))
        self._k += 1
        if self.balance and self._k % 10 == 0:
            self._rebalance(primal_i, dual_i)
        return x_new

    def _rebalance(self, primal_i, dual_i):
        changed = False
        for i, (r2, s2) in enumerate(zip(primal_i, dual_i)):
            factor = 1.0
            if r2 > 100.0 * s2:  # ‖r‖ > 10 ‖s‖
                factor = 2.0
            elif s2 > 100.0 * r2:
                factor = 0.5
            if factor != 1.0:
                self._rho[i] *= factor
                self._u[i] *= self._u[i].dtype.type(1.0 / factor)  # u = y / ρ
                changed = True
        if changed:
            self.x_step.prepare([t.op for t in self.terms], self._rho, self.shape, self.dtype)

    def _objective(self, x):
        # At the split variables z_i = prox(A_i x + u_i): always inside each term's domain,
        # equal to Σ f_i(A_i x) at convergence, and free where a prox knows its value.
        if getattr(self, "_x_of_z", None) is not x:
            return sum(float(t.cost(t.forward(x))) for t in self.terms if not t.cost.indicator)
        total = 0.0
        for term, z in zip(self.terms, self._z):
            if not term.cost.indicator:
                total += float(term.cost(z))
        return total

    def _diagnostics(self):
        out = {"primal_residual": self._residuals[0], "dual_residual": self._residuals[1]}
        if self.balance:
            out["rho"] = list(self._rho)
        return out

    def __repr__(self):
        return f"ADMM({', '.join(repr(t) for t in self.terms)}; x_step={self.x_step!r})"
