"""Taking problems apart: a list of terms ``f_i @ A_i`` into ``(f_i, A_i)`` pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from pylops import LinearOperator
from ..backend import namespace

from ..costs import Composition, Cost, ScaledCost, SumCost
from ..operators import Identity

__all__ = ["Term", "split_terms", "common_shape", "operator_norm", "apply", "apply_adjoint",
           "reference_array"]


def apply(op: LinearOperator, x: Any) -> Any:
    """``op @ x`` on nd-arrays for any pylops operator."""
    if hasattr(op, "_forward"):
        return op._forward(x)
    return _fresh((op @ x.ravel()).reshape(op.dimsd), x)


def apply_adjoint(op: LinearOperator, y: Any) -> Any:
    """``op.H @ y`` on nd-arrays for any pylops operator."""
    if hasattr(op, "_adjoint_apply"):
        return op._adjoint_apply(y)
    return _fresh((op.H @ y.ravel()).reshape(op.dims), y)


def _fresh(out: Any, given: Any) -> Any:
    # A pylops operator may hand its input back (pylops.Identity); solvers update
    # their results in place, so never let a result alias the iterate.
    return out.copy() if namespace(out).may_share_memory(out, given) else out


@dataclass
class Term:
    """One term ``cost(op @ x)`` of a problem; ``op`` is None for the identity."""

    cost: Cost
    op: LinearOperator | None
    original: Cost

    @property
    def shape(self) -> tuple[int, ...] | None:
        if self.op is not None:
            return tuple(self.op.dims)
        return self.cost.shape

    def forward(self, x: Any) -> Any:
        return x.copy() if self.op is None else apply(self.op, x)

    def adjoint(self, y: Any) -> Any:
        return y.copy() if self.op is None else apply_adjoint(self.op, y)

    def __repr__(self) -> str:
        return repr(self.original)


def unwrap(cost: Cost) -> tuple[Cost, LinearOperator | None]:
    """``c * (f @ A)`` → ``(c * f, A)``; ``f @ (B)`` of ``g @ A`` → ``(g, A @ B)``; ``f`` → ``(f, None)``."""
    if isinstance(cost, ScaledCost):
        inner, op = unwrap(cost.cost)
        return (ScaledCost(cost.scalar, inner) if op is not None else cost), op
    if isinstance(cost, Composition):
        inner, op = unwrap(cost.cost)
        if op is None:
            return cost.cost, cost.op
        return inner, op @ cost.op
    return cost, None


def split_terms(terms: Any, solver: str) -> list[Term]:
    """Turn a cost, a sum of costs or a list of them into :class:`Term` s."""
    if isinstance(terms, Cost):
        terms = [terms]
    if not isinstance(terms, Iterable):
        raise TypeError(f"{solver} takes a list of costs (e.g. [data, tv, NonNegative()]), got {terms!r}")
    flat: list[Cost] = []
    for term in terms:
        if isinstance(term, SumCost):
            flat.extend(term.terms)
        elif isinstance(term, Cost):
            flat.append(term)
        else:
            raise TypeError(
                f"{solver} takes costs such as LeastSquares(y) @ Blur(psf, shape), got {term!r} "
                f"({type(term).__name__})"
            )
    if not flat:
        raise ValueError(f"{solver} needs at least one cost")
    out = []
    for term in flat:
        cost, op = unwrap(term)
        out.append(Term(cost, op, term))
    return out


def common_shape(terms: list[Term], solver: str, shape: Any = None) -> tuple[int, ...]:
    """The shape of ``x`` all terms agree on (ValueError listing them if they do not)."""
    shapes = {t.shape for t in terms if t.shape is not None}
    if shape is not None:
        shapes.add(tuple(int(n) for n in shape))
    if len(shapes) > 1:
        listed = "; ".join(
            f"{t!r} takes {'x'.join(map(str, t.shape))}" for t in terms if t.shape is not None
        )
        raise ValueError(f"{solver}: the terms disagree on the shape of x ({listed})")
    if not shapes:
        raise ValueError(
            f"{solver}: no term fixes the shape of x (all are shape-free costs such as "
            "NonNegative()): compose one with an operator or pass shape="
        )
    return shapes.pop()


def reference_array(terms: list[Term]) -> Any:
    """A data term's array (its ``y``), so that a solver allocates on the data's backend."""
    for term in terms:
        cost = term.cost
        while cost is not None:
            y = getattr(cost, "y", None)
            if y is not None:
                return y
            cost = getattr(cost, "cost", None)
    return None


def problem_dtype(terms: list[Term]) -> np.dtype:
    """float32 unless an operator or data is float64."""
    dtypes = [np.dtype(t.op.dtype) for t in terms if t.op is not None]
    dtypes += [np.dtype(getattr(t.cost, "y").dtype) for t in terms if hasattr(t.cost, "y")]
    real = [d for d in dtypes if d.kind in "fc"]
    if not real:
        return np.dtype(np.float32)
    return np.finfo(np.result_type(np.float32, *real)).dtype


def operator_norm(op: LinearOperator | None) -> float:
    """``‖A‖₂``: the known bound, or a power-iteration estimate inflated by 1%."""
    if op is None:
        return 1.0
    known = getattr(op, "lipschitz", None)
    if known is not None:
        return float(known)
    if hasattr(op, "estimate_lipschitz"):
        return 1.01 * float(op.estimate_lipschitz())
    # a plain pylops operator: estimate through a deconvkit Identity wrapper (ours on
    # the left, so that the product is a deconvkit operator)
    wrapped = Identity(tuple(op.dimsd), dtype=op.dtype) @ op
    return 1.01 * float(wrapped.estimate_lipschitz())
