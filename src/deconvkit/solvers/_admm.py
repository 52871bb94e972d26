r"""ADMM for :math:`\min_x \sum_i f_i(A_i x)`, every operator split off, and its x-steps."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from pylops import LinearOperator
from ..backend import irfftn, kernels, namespace, real_dtype, rfftn, to_backend

from ..costs import Composition
from ..operators import Circulant, Identity
from ._engine import Solver
from ._terms import (
    Term,
    _strip,
    apply,
    apply_adjoint,
    common_shape,
    data_scale,
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

    The x-update divides by :math:`\sum_i \rho_i |a_i|^2` per frequency,
    :math:`|a_i|^2` the transfer function of :math:`A_i^H A_i` (real and
    non-negative). Those are computed once and kept (one real half spectrum
    per operator); a change of the penalties only forms the weighted sum and
    its reciprocal again. Where float32 cannot tell the sum from zero, the
    inverse is formed from the operators in double precision instead.
    """

    def __init__(self) -> None:
        self._normals: dict[int, Any] = {}

    def prepare(self, ops, rhos, shape, dtype):
        super().prepare(ops, rhos, shape, dtype)
        homes = [getattr(op, "home", "numpy") for op in ops if op is not None]
        home = next((h for h in homes if h != "numpy"), "numpy")
        for i, op in enumerate(ops):
            if op is not None and not getattr(op, "is_circulant", False):
                raise ValueError(
                    f"CirculantSolve needs circulant operators; {op!r} is not: use "
                    "ConjugateGradientSolve()"
                )
            if op is not None and i not in self._normals:
                normal = _resident(op.H @ op, home).circulant_blocks(keep=False)[0, 0]
                self._normals[i] = normal.real.astype(real_dtype(normal.dtype), copy=True)
        total, shift = None, 0.0
        for i, (op, rho) in enumerate(zip(ops, rhos)):
            if op is None:
                shift += float(rho)
                continue
            part = self._normals[i] * self._normals[i].dtype.type(rho)
            total = part if total is None else total.__iadd__(part)
        if total is None:  # identities only
            self.inverse = (1.0 / shift) * Identity(shape, dtype=dtype)
            return
        if shift:
            total += total.dtype.type(shift)
        xp = namespace(total)
        largest = float(xp.max(total))
        if largest > 0 and float(xp.min(total)) > largest * np.finfo(total.dtype).eps:
            self.inverse = Circulant(xp.divide(total.dtype.type(1), total, out=total), shape,
                                     name="(Σ ρ_i A_iᴴA_i).inv()")  # fmt: skip
            return
        del total
        self._invert_from_operators(ops, rhos, shape, dtype, home)

    def _invert_from_operators(self, ops, rhos, shape, dtype, home):
        """``sum(rho_i * A_i.H @ A_i).inv()`` from the operators (double precision when needed)."""
        total = None
        for op, rho in zip(ops, rhos):
            normal = Identity(shape, dtype=dtype) if op is None else _resident(op.H @ op, home)
            part = rho * normal
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


def _plain_circulant(op: Any, shape: tuple[int, ...]) -> bool:
    """A 1x1 circulant operator from and to arrays of ``shape`` (no stacked components)."""
    return (op is not None and getattr(op, "is_circulant", False) and not op.stacked_in
            and not op.stacked_out and tuple(op.dims) == tuple(shape) == tuple(op.dimsd)
            and tuple(op.circulant_shape) == tuple(shape))  # fmt: skip


def _resident(normal: LinearOperator, home: str) -> LinearOperator:
    """``normal`` as stored blocks on ``home`` when it lives elsewhere.

    A normal operator built on the host (a finite-difference transfer function)
    would otherwise move to the device each time a penalty changes and the
    inverse is formed again; one stored half spectrum is moved once instead.
    """
    if getattr(normal, "home", "numpy") == home or isinstance(normal, Identity):
        return normal
    blocks = to_backend(normal.circulant_blocks(keep=False), home)
    return Circulant(blocks, normal.circulant_shape, name=repr(normal))


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


def _relative_distance(term: Term, ax: Any) -> float:
    """``‖A x − P_C(A x)‖ / ‖A x‖`` for a constraint term (0 when feasible up to its tolerance)."""
    if term.cost(ax) == 0.0:
        return 0.0
    projected = term.cost.prox(ax, 1.0)
    projected -= ax
    size = math.sqrt(_dot(ax, ax))
    return math.sqrt(_dot(projected, projected)) / size if size > 0 else 0.0


#: Quantile of the counts whose curvature 1/y starts a Poisson term's penalty.
POISSON_QUANTILE = 99.9


def _curvature(term: Term, scale: float, peak: float | None = None) -> float | None:
    r"""A term's penalty in its own space (:math:`z_i = A_i x`): None for a constraint."""
    from ..costs import PoissonLikelihood

    weight, inner = _strip(term.cost)
    if inner.indicator:
        return None
    if isinstance(inner, PoissonLikelihood):
        xp = namespace(inner.y)
        high = float(xp.percentile(inner.y, POISSON_QUANTILE)) if peak is None else peak
        return weight / high if high > 0 else weight
    known = term.cost.grad_lipschitz if term.cost.smooth else None
    if known:
        return float(known)
    return weight / (scale * max(operator_norm(term.op), 1e-12))


def default_rho(terms: list[Term], scale: float | None = None,
                peak: float | None = None) -> list[float]:
    r"""Starting penalties from each term's curvature at the data's scale.

    In its own space (:math:`z_i = A_i x`), each term gets the curvature of its
    cost where the solution lies:

    * a smooth term with a known gradient Lipschitz constant (least squares:
      its weight): that constant, the exact curvature of a quadratic;
    * a Poisson likelihood (curvature :math:`y/(u+b)^2 = 1/y` at the data):
      :math:`c/y_{99.9}`, the curvature at its brightest counts (the 99.9th
      percentile), where the cost bends least and the object lies;
    * a norm (TV, Hessian–Schatten, ℓ1) with weight :math:`c`, no curvature of
      its own: that of :math:`c|z|` replaced by a quadratic of the same slope at
      the typical :math:`|z| = \bar z\,\|A_i\|` (:math:`\bar z` the data's mean,
      :func:`~._terms.data_scale`): :math:`c/(\bar z\|A_i\|)`;
    * a constraint: the smallest of the others' in the space of ``x``,
      :math:`\min_j \rho_j\|A_j\|^2`, over :math:`\|A_i\|^2` (1 without others).

    On the catalogue's small widefield cases these starts sit within a factor
    of 5 of where residual balancing takes the penalties, where the former
    rule (every term at :math:`1/\bar y` in the space of ``x``) sat 50 times
    too high for a Poisson term.

    ``scale`` (:math:`\bar z`) and ``peak`` (:math:`y_{99.9}`) override the values
    read from the terms' data: a plan passes the whole image's, so that every
    tile of it starts from the same penalties.
    """
    scale = data_scale(terms) if scale is None else float(scale)
    own = [_curvature(t, scale, peak) for t in terms]
    spread = [r * max(operator_norm(t.op), 1e-12) ** 2 for r, t in zip(own, terms) if r is not None]
    floor = min(spread) if spread else 1.0
    return [
        floor / max(operator_norm(t.op), 1e-12) ** 2 if r is None else r
        for r, t in zip(own, terms)
    ]


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
        Residual balancing (on by default; Boyd et al. 2011, §3.4.1, with the
        residuals made relative as in Wohlberg 2017): every ``balance_every``
        (5) iterations, per term, with :math:`r_i = \|A_i x - z_i\| /
        \max(\|A_i x\|, \|z_i\|)` and :math:`s_i = \|z_i - z_i^{old}\| /
        \|u_i\|`, :math:`\rho_i` is multiplied by :math:`\sqrt{r_i/s_i}`
        (within [0.1, 10]) when that ratio leaves [1/2, 2] (an infinite one,
        :math:`z_i` unmoved while :math:`r_i > 0`, by 10); the x-step is
        rebuilt when a penalty changes, and the penalties stay fixed after
        ``balance_until`` (250) iterations, which keeps ADMM's convergence.
    shape : tuple of int, optional
        Shape of ``x`` when no term fixes it.
    data_statistics : (float, float), optional
        The data's mean above the background and its 99.9th percentile, for the
        default penalties (:func:`default_rho`); read from the terms' data by default.

    Notes
    -----
    The history's ``objective`` is :math:`\sum_i f_i(A_i x)` over the terms
    that are not constraints, at the x-update (where every :math:`A_i x` is
    at hand: no extra operator application), and ``infeasibility`` the
    largest relative distance :math:`\|A_i x - P_{C_i}(A_i x)\|/\|A_i x\|` of
    :math:`A_i x` to a constraint's set (0 when inside up to
    ``feasibility_tolerance``). The estimate returned (``Result.x``, and the
    ``x`` callbacks see) is the split variable :math:`z_c = P_C(x + u_c)` of
    the first constraint on ``x`` itself (``NonNegative()``), which satisfies
    it exactly and converges to the minimizer with ``x`` (ADMM's theory bounds
    the objective at :math:`(x, z)` and the residual :math:`x - z_c`); a
    projection of ``x`` would converge too, but is not the iterate the method
    controls. Without such a constraint, ``x``. Also ``primal_residual``
    :math:`\sqrt{\sum_i\|A_i x - z_i\|^2}`, ``dual_residual`` (the bound
    :math:`\sqrt{\sum_i \rho_i^2\|A_i\|^2\|z_i - z_i^{old}\|^2}`) and, when
    balancing, ``rho``.
    """

    name = "ADMM"
    objective_note = ("Σ f_i(A_i x) over the terms that are not constraints, at the x-update; "
                      "their violation is in 'infeasibility'")
    #: Residual balancing: check every this many iterations, until this iteration.
    balance_every = 5
    balance_until = 250
    #: The true objective (every term at the x-update) costs as much as a prox: a
    #: Hessian–Schatten term's is an eigen-decomposition per voxel. Recorded every 5
    #: rows and at the last (``objective_every=1`` for every row).
    default_objective_every = 5

    def __init__(self, terms: Any, rho: Any = None, x_step: XStep | None = None,
                 balance: bool = True, shape: Any = None,
                 data_statistics: tuple[float, float] | None = None) -> None:
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
            rhos = default_rho(parsed, *(data_statistics or (None, None)))
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
        # the estimate returned: the split variable of the first constraint on x itself
        plain = [i for i, t in enumerate(parsed) if t.cost.indicator and t.op is None]
        self._estimate_index = plain[0] if plain else None
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
        self._x = x0  # the x-update's iterate
        self._k = 0
        self._residuals = (math.nan, math.nan)
        self._infeasibility = self._infeasibility_at(x0) if self._constraints else math.nan
        self._values: tuple[Any, float] | None = None  # (estimate, objective at its x)
        return self._estimate(x0)

    @property
    def _constraints(self) -> list[int]:
        return [i for i, t in enumerate(self.terms) if t.cost.indicator]

    def _estimate(self, x):
        """The estimate returned: the split variable of the first constraint on x itself, else x."""
        index = self._estimate_index
        return x if index is None else self._z[index]

    def _infeasibility_at(self, x) -> float:
        worst = 0.0
        for i in self._constraints:
            worst = max(worst, _relative_distance(self.terms[i], self.terms[i].forward(x)))
        return worst

    def _spectral_terms(self) -> list[int]:
        """Terms whose operator is a plain 1x1 circulant on x's grid, when the x-step is one too.

        For these the x-update and ``A_i x`` share one spectrum (see :meth:`_spectral_step`).
        """
        inverse = getattr(self.x_step, "inverse", None)
        if not isinstance(self.x_step, CirculantSolve) or not _plain_circulant(inverse, self.shape):
            return []
        return [i for i, t in enumerate(self.terms) if _plain_circulant(t.op, self.shape)]

    def _spectral_step(self, spectral: list[int]) -> tuple[Any, dict[int, Any]]:
        r"""The x-update and :math:`A_i x` of the spectral terms, from one spectrum.

        .. math:: \hat x = \Big(\sum_{i \in C} \bar h_i\, \mathcal F[\rho_i (z_i - u_i)]
                  + \mathcal F\big[\textstyle\sum_{i \notin C} \rho_i A_i^H (z_i - u_i)\big]\Big)
                  \Big/ \sum_i \rho_i |A_i|^2, \qquad A_i x = \mathcal F^{-1}[h_i \hat x]

        Two real FFT pairs where the x-step's inverse, each circulant term's
        adjoint and its forward product would take three or more.
        """
        axes = tuple(range(-len(self.shape), 0))
        spectrum = spatial = None
        for i, (term, rho, z, u) in enumerate(zip(self.terms, self._rho, self._z, self._u)):
            v = kernels.scaled_difference(z, u, rho)  # rho (z - u), one pass
            if i in spectral:
                part = rfftn(v, axes)
                del v
                kernels.multiply_conjugate(part, term.op.circulant_blocks(part.dtype, like=part)[0, 0])
                spectrum = part if spectrum is None else spectrum.__iadd__(part)
            else:
                part = term.adjoint(v) if term.op is not None else v
                spatial = part if spatial is None else spatial.__iadd__(part)
        if spatial is not None:
            spectrum = spectrum.__iadd__(rfftn(spatial, axes))
            del spatial
        spectrum *= self.x_step.inverse.circulant_blocks(spectrum.dtype, like=spectrum)[0, 0]
        forwards = {}
        for i in spectral:
            product = spectrum * self.terms[i].op.circulant_blocks(spectrum.dtype, like=spectrum)[0, 0]
            forwards[i] = irfftn(product, self.shape, axes)
        return irfftn(spectrum, self.shape, axes), forwards

    def _iterate(self, x):
        spectral = self._spectral_terms()
        if spectral:
            x_new, forwards = self._spectral_step(spectral)
        else:
            forwards = {}
            rhs = None
            for term, rho, z, u in zip(self.terms, self._rho, self._z, self._u):
                v = kernels.scaled_difference(z, u, rho)  # rho (z - u), one pass
                part = term.adjoint(v) if term.op is not None else v
                rhs = part if rhs is None else rhs.__iadd__(part)
            x_new = self.x_step.solve(rhs, self._x)
            del rhs
        recording, wanted = self._recording, self._objective_wanted
        check = (self.balance and (self._k + 1) % self.balance_every == 0
                 and self._k + 1 <= self.balance_until)
        objective, infeasibility = 0.0, 0.0
        primal, dual = 0.0, 0.0
        ratios: list[float] = []
        for i, (term, rho) in enumerate(zip(self.terms, self._rho)):
            # in place where the old value is not needed again: one A_i x temporary per term
            ax = forwards.pop(i) if i in forwards else term.forward(x_new)
            # the true objective and infeasibility at x, where A_i x is at hand (the
            # objective only on the rows that record it: a Schatten norm is a second prox)
            if term.cost.indicator:
                if recording:
                    infeasibility = max(infeasibility, _relative_distance(term, ax))
            elif wanted:
                objective += float(term.cost(ax))
            u = self._u[i]
            u += ax  # A_i x + u_i, the point whose prox is the new z_i
            z = term.cost.prox(u, 1.0 / rho)
            if namespace(z).may_share_memory(z, u):  # a user's prox may work in place
                z = z.copy()
            # u_i -= z_i (the new u_i), with |A_i x - z_i|² (the primal residual) and
            # |z_i - z_i_old|² (the dual one) in one pass; the previous estimate may still
            # be held by the caller, so z_i_old is overwritten only where it is not it
            ax_size, z_size, rn, change, u_size = kernels.admm_residuals(
                u, z, ax, self._z[i], scratch=i != self._estimate_index, full=check)
            del ax
            sn = rho**2 * self._norms[i] ** 2 * change
            if check:  # relative residuals: r_i / s_i, scale-free
                size = max(ax_size, z_size)
                r_rel = math.sqrt(rn / size) if size > 0 else 0.0
                s_rel = math.sqrt(change / u_size) if u_size > 0 else math.inf
                ratios.append(r_rel / s_rel if s_rel > 0 else math.inf if r_rel > 0 else 1.0)
            primal += rn
            dual += sn
            self._z[i] = z
        self._x = x_new
        self._residuals = (math.sqrt(primal), math.sqrt(dual))
        self._k += 1
        if check:
            self._rebalance(ratios)
        estimate = self._estimate(x_new)
        self._values = (estimate, objective) if wanted else None
        if recording:
            self._infeasibility = infeasibility if self._constraints else math.nan
        return estimate

    def _rebalance(self, ratios):
        """ρ_i ← ρ_i √(r_i/s_i) (within [0.1, 10]) where r_i/s_i leaves [1/2, 2]; u_i ← u_i / factor."""
        changed = False
        for i, ratio in enumerate(ratios):
            if not (ratio > 2.0 or ratio < 0.5) or ratio == 0 or math.isnan(ratio):
                continue
            # ratio = inf: z_i did not move while A_i x - z_i did not close (a norm's prox
            # thresholding everything to 0 at a penalty far too small): the largest step up
            factor = min(max(math.sqrt(ratio), 0.1), 10.0)
            self._rho[i] *= factor
            self._u[i] *= self._u[i].dtype.type(1.0 / factor)  # u = y / ρ
            changed = True
        if changed:
            self.x_step.prepare([t.op for t in self.terms], self._rho, self.shape, self.dtype)

    def _objective(self, x):
        # Σ f_i(A_i x) at the x-update's iterate (not at the split variables z_i, which
        # fit each term on its own: a Poisson term read 1e-13 there where it was 0.085)
        if self._values is not None and self._values[0] is x:
            return self._values[1]
        point = self._x if x is self._estimate(self._x) else x
        return sum(float(t.cost(t.forward(point))) for t in self.terms if not t.cost.indicator)

    def _diagnostics(self):
        out = {"primal_residual": self._residuals[0], "dual_residual": self._residuals[1]}
        if self._constraints:
            out["infeasibility"] = self._infeasibility
        if self.balance:
            out["rho"] = list(self._rho)
        return out

    def __repr__(self):
        return f"ADMM({', '.join(repr(t) for t in self.terms)}; x_step={self.x_step!r})"
