r"""The cost interface and its algebra: ``cost @ op``, ``cost + cost``, ``c * cost``.

A cost is a function :math:`f: \mathbb{R}^{\text{dims}} \to \mathbb{R} \cup \{+\infty\}`
of an nd-array that a solver can evaluate (``f(x)``), differentiate where it is
smooth (``f.grad(x)``, with ``f.grad_lipschitz`` when the gradient's Lipschitz
constant is known) and apply the proximal map of where that is simple,

.. math:: \operatorname{prox}_{\tau f}(v) = \arg\min_x \tfrac12\|x - v\|^2 + \tau f(x),

(``f.prox(v, tau)``), and that of its convex conjugate by the Moreau identity
(``f.prox_conjugate(v, sigma)``). The flags ``smooth`` and ``proximable`` tell
a solver which of these exist, so it can refuse a cost with a clear message.
"""

from __future__ import annotations

import numbers
import zlib
from typing import Any

import numpy as np
from pylops import LinearOperator
from ..backend import namespace

__all__ = [
    "Cost", "Composition", "ScaledCost", "SumCost", "check_tau", "content_key", "sum_squares",
]


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "any shape" if shape is None else "x".join(str(n) for n in shape)


def check_tau(tau: Any, what: str = "tau") -> float:
    """A step size must be a positive finite number."""
    if not isinstance(tau, numbers.Real) or not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {tau!r}")
    return float(tau)


class Cost:
    """Base class of the costs.

    Subclasses set the flags and implement ``_value(x)``, and, as they apply,
    ``_grad(x)``, ``_prox(x, tau)``, ``_prox_conjugate(x, sigma)`` and
    ``_compute_grad_lipschitz()``. The public methods check shapes and steps.

    Parameters
    ----------
    shape : tuple of int, optional
        Shape of the arrays the cost takes; None for any shape.
    """

    #: The cost is differentiable with a gradient ``grad(x)``.
    smooth: bool = False
    #: The cost has a proximal map ``prox(x, tau)``.
    proximable: bool = False
    #: The cost is the indicator of a convex set (values 0 or +inf).
    indicator: bool = False

    def __init__(self, shape: tuple[int, ...] | None = None) -> None:
        self.shape = None if shape is None else tuple(int(n) for n in shape)

    # -- evaluation -------------------------------------------------------
    def __call__(self, x: Any) -> float:
        """The value ``f(x)`` (a Python float, possibly ``inf``)."""
        self._check(x)
        return float(self._value(x))

    def grad(self, x: Any) -> Any:
        """Gradient ``∇f(x)``, an array of ``x``'s shape and dtype."""
        if not self.smooth:
            raise TypeError(
                f"{self!r} is not differentiable: use a proximal solver "
                "(ProximalGradient, ADMM, ChambollePock) or a smoothed version"
            )
        self._check(x)
        return self._grad(x)

    def prox(self, x: Any, tau: float) -> Any:
        r"""Proximal map :math:`\arg\min_z \tfrac12\|z - x\|^2 + \tau f(z)`."""
        tau = check_tau(tau)
        if not self.proximable:
            raise TypeError(
                f"{self!r} has no proximal map in closed form: give it to a solver "
                "that splits it (ADMM, ChambollePock) or one that uses its gradient"
            )
        self._check(x)
        return self._prox(x, tau)

    def prox_conjugate(self, x: Any, sigma: float) -> Any:
        r"""Proximal map of the convex conjugate :math:`f^*`, by the Moreau identity.

        .. math:: \operatorname{prox}_{\sigma f^*}(x) = x - \sigma\,
                  \operatorname{prox}_{f/\sigma}(x / \sigma)
        """
        sigma = check_tau(sigma, "sigma")
        self._check(x)
        return self._prox_conjugate(x, sigma)

    def _prox_conjugate(self, x: Any, sigma: float) -> Any:
        if not self.proximable:
            raise TypeError(f"{self!r} has no proximal map, so neither has its conjugate")
        out = self._prox(x / x.dtype.type(sigma), 1.0 / sigma)
        out *= out.dtype.type(-sigma)
        out += x
        return out

    @property
    def grad_lipschitz(self) -> float | None:
        """Lipschitz constant of the gradient where known (None otherwise)."""
        if not self.smooth:
            return None
        return self._compute_grad_lipschitz()

    def _compute_grad_lipschitz(self) -> float | None:
        return None

    def _value(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prox(self, x: Any, tau: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, x: Any) -> None:
        if self.shape is not None and tuple(x.shape) != self.shape:
            raise ValueError(
                f"{self!r} takes arrays of shape {_shape_text(self.shape)}, "
                f"got {_shape_text(tuple(x.shape))}"
            )

    # -- composition through an operator -------------------------------------
    def prox_through(self, op: LinearOperator):
        """A closed-form prox of ``self ∘ op`` for this particular ``op``, or None.

        Subclasses override this when ``op`` has a structure they can use
        (e.g. a circulant ``op`` for quadratic costs). Returns a callable
        ``(x, tau) -> prox`` or None.
        """
        return None

    # -- algebra ---------------------------------------------------------
    def __matmul__(self, op: Any) -> Composition:
        if isinstance(op, LinearOperator):
            return Composition(self, op)
        return NotImplemented

    def __add__(self, other: Any) -> SumCost:
        if isinstance(other, Cost):
            return SumCost([self, other])
        return NotImplemented

    def __radd__(self, other: Any) -> Cost:
        if isinstance(other, numbers.Number) and other == 0:  # sum([f, g, ...])
            return self
        return NotImplemented

    def __rmul__(self, scalar: Any) -> Cost:
        if isinstance(scalar, numbers.Real):
            return ScaledCost(scalar, self)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Composition(Cost):
    r"""``f @ A``: the cost :math:`x \mapsto f(Ax)`.

    Gradient by the chain rule, :math:`A^H \nabla f(Ax)`, with Lipschitz
    constant :math:`L_f \|A\|^2`. Proximal map when ``A`` is semi-orthogonal
    (:math:`A A^H = \nu I`),

    .. math:: \operatorname{prox}_{\tau f\circ A}(x) = x + \nu^{-1} A^H
              \big(\operatorname{prox}_{\nu\tau f}(Ax) - Ax\big),

    or when ``f`` knows a closed form through ``A`` (:meth:`Cost.prox_through`).

    A smooth composition keeps :math:`Ax` from its last value for the next
    gradient, when that gradient is asked at an array of the same content
    (:func:`content_key`; host arrays only): a gradient solver that records
    :math:`f(x_k)` and then steps from :math:`\nabla f(x_k)` applies ``A`` once.
    """

    def __init__(self, cost: Cost, op: LinearOperator) -> None:
        if cost.shape is not None and tuple(op.dimsd) != cost.shape:
            raise ValueError(
                f"cannot compose {cost!r} @ {op!r}: the cost takes arrays of shape "
                f"{_shape_text(cost.shape)} but the operator returns {_shape_text(tuple(op.dimsd))}"
            )
        super().__init__(tuple(op.dims))
        self.cost, self.op = cost, op
        self.smooth = cost.smooth
        self.indicator = cost.indicator
        self._special_prox = cost.prox_through(op)
        nu = getattr(op, "semi_orthogonal", None)
        self._nu = nu if cost.proximable and nu else None
        self.proximable = self._special_prox is not None or self._nu is not None
        self._last_forward: tuple[Any, Any] | None = None

    def _apply(self, x):
        if hasattr(self.op, "_forward"):
            return self.op._forward(x)
        return (self.op @ x.ravel()).reshape(self.op.dimsd)

    def _apply_adjoint(self, y):
        if hasattr(self.op, "_adjoint_apply"):
            return self.op._adjoint_apply(y)
        return (self.op.H @ y.ravel()).reshape(self.op.dims)

    def _value(self, x):
        ax = self._apply(x)
        if self.smooth:
            # Solvers evaluate f(A x) at an iterate and then its gradient: keep A x for the
            # gradient, keyed on x's content (a callback may change x in place in between).
            key = content_key(x)
            self._last_forward = None if key is None else (key, ax)
        return self.cost._value(ax)

    def _grad(self, x):
        last, self._last_forward = self._last_forward, None
        if last is not None and last[0] == content_key(x):
            ax = last[1]
        else:
            ax = self._apply(x)
        return self._apply_adjoint(self.cost._grad(ax))

    def _compute_grad_lipschitz(self):
        lf, la = self.cost.grad_lipschitz, getattr(self.op, "lipschitz", None)
        return None if lf is None or la is None else lf * la**2

    def _prox(self, x, tau):
        if self._special_prox is not None:
            return self._special_prox(x, tau)
        nu = self._nu
        ax = self._apply(x)
        step = self.cost._prox(ax, nu * tau)
        step -= ax
        out = self._apply_adjoint(step)
        out *= out.dtype.type(1.0 / nu)
        out += x
        return out

    def __repr__(self) -> str:
        return f"{self.cost!r} @ {self.op!r}"


class ScaledCost(Cost):
    r"""``c * f`` for ``c >= 0``: value :math:`c f(x)`, gradient :math:`c\nabla f`,
    :math:`\operatorname{prox}_{\tau c f} = \operatorname{prox}_{(c\tau) f}`."""

    def __init__(self, scalar: float, cost: Cost) -> None:
        if not np.isfinite(scalar) or scalar < 0:
            raise ValueError(
                f"the weight of {cost!r} must be a finite number >= 0 (a convex cost), got {scalar}"
            )
        super().__init__(cost.shape)
        self.scalar, self.cost = float(scalar), cost
        self.smooth, self.proximable, self.indicator = cost.smooth, cost.proximable, cost.indicator

    def _value(self, x):
        return self.scalar * self.cost._value(x) if self.scalar else 0.0

    def _grad(self, x):
        g = self.cost._grad(x)
        g *= g.dtype.type(self.scalar)
        return g

    def _compute_grad_lipschitz(self):
        lipschitz = self.cost.grad_lipschitz
        return None if lipschitz is None else self.scalar * lipschitz

    def _prox(self, x, tau):
        return self.cost._prox(x, self.scalar * tau) if self.scalar else x.copy()

    def prox_through(self, op):
        inner = self.cost.prox_through(op)
        if inner is None:
            return None
        return lambda x, tau: inner(x, self.scalar * tau) if self.scalar else x.copy()

    def __matmul__(self, op):
        # c * (f @ A) reads better than (c * f) @ A and is the same cost
        if isinstance(op, LinearOperator):
            return ScaledCost(self.scalar, Composition(self.cost, op))
        return NotImplemented

    def __repr__(self) -> str:
        return f"{self.scalar:g} * {self.cost!r}"


class SumCost(Cost):
    """``f + g + ...``: value and gradient of a sum (the terms stay in ``terms``).

    A sum has no proximal map in general: solvers split it into its ``terms``.
    """

    def __init__(self, terms: list[Cost]) -> None:
        flat: list[Cost] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, SumCost) else [term])
        shapes = {t.shape for t in flat if t.shape is not None}
        if len(shapes) > 1:
            listed = ", ".join(f"{t!r}: {_shape_text(t.shape)}" for t in flat)
            raise ValueError(f"cannot add costs on arrays of different shapes ({listed})")
        super().__init__(shapes.pop() if shapes else None)
        self.terms = flat
        self.smooth = all(t.smooth for t in flat)
        self.proximable = len(flat) == 1 and flat[0].proximable

    def _value(self, x):
        total = 0.0
        for term in self.terms:
            total += float(term._value(x))
            if total == np.inf:
                break
        return total

    def _grad(self, x):
        g = self.terms[0]._grad(x)
        for term in self.terms[1:]:
            g += term._grad(x)
        return g

    def _compute_grad_lipschitz(self):
        values = [t.grad_lipschitz for t in self.terms]
        return None if any(v is None for v in values) else float(sum(values))

    def _prox(self, x, tau):
        return self.terms[0]._prox(x, tau)

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self.terms)


def content_key(x: Any) -> tuple[Any, ...] | None:
    """A cheap fingerprint of an array's content: shape, dtype and the CRC-32 of its bytes.

    Two arrays with the same key hold the same values (up to a 2⁻³² collision);
    an in-place change of any element changes it. A CRC of a 64x256x256
    float32 volume takes about 7 ms, against 80 ms for one ``Blur`` application
    (``benchmarks/bench_solver_audit.py``). None for arrays outside host memory
    (CuPy): then nothing is cached.
    """
    if not isinstance(x, np.ndarray):
        return None
    data = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    return (x.shape, x.dtype.str, zlib.crc32(memoryview(data).cast("B")))


def sum_squares(x: Any) -> float:
    """``Σ x²`` accumulated in double precision (float32 sums of 10⁷ voxels drift)."""
    xp = namespace(x)
    return float(xp.sum(xp.square(x), dtype=xp.float64))
