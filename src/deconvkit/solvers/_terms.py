"""Taking problems apart: a list of terms ``f_i @ A_i`` into ``(f_i, A_i)`` pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from pylops import LinearOperator
from ..backend import namespace

from ..costs import Composition, Cost, ScaledCost, SumCost
from ..operators import Identity

__all__ = [
    "Term", "split_terms", "common_shape", "operator_norm", "apply", "apply_adjoint",
    "reference_array", "step_scale", "data_scale", "abs_sums",
]


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


def _homogeneity(cost: Cost) -> float | None:
    """Degree p of ``f(c z) = c^p f(z)`` as far as the steps go; None for indicators (weight-free)."""
    from ..costs import (
        L1, Huber, LeastSquares, MixedNorm21, NonNegativeL1, PoissonLikelihood, SchattenNorm,
        SquaredL2,
    )

    if cost.indicator:
        return None
    if isinstance(cost, (SquaredL2, LeastSquares, PoissonLikelihood)):
        return 2.0
    if isinstance(cost, (L1, NonNegativeL1, MixedNorm21, SchattenNorm, Huber)):
        return 1.0
    return 2.0 if cost.smooth else 1.0


def data_scale(terms: list[Term]) -> float:
    r"""The magnitude of the unknown, from the data: the mean of :math:`|y - b|` of the first data term.

    ``LeastSquares(y)`` gives :math:`\overline{|y|}`, ``PoissonLikelihood(y, b)``
    :math:`\overline{y} - \overline{b}` (the object's photons per voxel);
    1 when no term carries data (or the mean is 0).
    """
    from ..costs import LeastSquares, PoissonLikelihood

    for term in terms:
        _, inner = _strip(term.cost)
        if isinstance(inner, (LeastSquares, PoissonLikelihood)):
            xp = namespace(inner.y)
            mean = float(xp.mean(xp.abs(inner.y), dtype=xp.float64))
            if isinstance(inner, PoissonLikelihood):
                b = inner.background
                mean -= b if isinstance(b, float) else float(xp.mean(b, dtype=xp.float64))
            if mean > 0 and np.isfinite(mean):
                return mean
    return 1.0


def _strip(cost: Cost) -> tuple[float, Cost]:
    """``c * (f @ S)`` → ``(c, f)``: the weight and the cost under weights and compositions."""
    weight = 1.0
    while True:
        if isinstance(cost, ScaledCost):
            weight *= cost.scalar
            cost = cost.cost
        elif isinstance(cost, Composition):
            cost = cost.cost
        else:
            return weight, cost


def step_scale(cost: Cost, scale: float = 1.0, mean: float | None = None) -> float:
    r"""The factor :math:`s` such that, for the steps, ``cost(K x)`` acts as :math:`\tfrac12\|s K x\|^2`.

    A cost of degree :math:`p` (:math:`f(tz) = t^p f(z)`) with weight
    :math:`c` is replaced by the quadratic of the same value at the typical
    magnitude :math:`\bar z` of its argument, :math:`c\bar z^{p-2} z^2`, so

    .. math:: s = \sqrt{c\,\bar z^{\,p - 2}}

    with :math:`\bar z` = ``scale`` (:func:`data_scale`): :math:`\sqrt c` for
    the quadratics (``SquaredL2``, ``LeastSquares``, times :math:`\sqrt{\bar w}`
    for weights ``w``), :math:`\sqrt{c/\bar z}` for the norms (``L1``,
    ``MixedNorm21``, ``SchattenNorm``, ``Huber``), and for a Poisson
    likelihood the quadratic of its curvature at the data, :math:`\sqrt{c/\bar y}`
    (:math:`\bar y` = ``mean`` when given, else read from the term's data).
    An indicator's weight changes nothing: :math:`s = 1`. Other costs count as
    quadratics when smooth and as norms otherwise.

    On a TV-regularized least-squares problem the best fixed scale of the TV
    term was 0.3 for λ = 0.02 and 0.1 for λ = 0.002 with data of mean 0.2,
    where the rule gives 0.32 and 0.1 (the unweighted rule, 1, took 1.2 and
    2.3 times as many iterations; the weight alone, 0.02, did not converge in
    3000); on a Laplacian-Tikhonov one, :math:`\sqrt c` reaches in 300
    iterations what :math:`s = 1` does not in 3000.
    """
    from ..costs import LeastSquares, PoissonLikelihood

    weight, inner = _strip(cost)
    degree = _homogeneity(inner)
    if degree is None:
        return 1.0
    if weight == 0:
        weight = 1.0  # a zero term: any step will do
    if isinstance(inner, PoissonLikelihood):
        if mean is None:
            xp = namespace(inner.y)
            mean = float(xp.mean(inner.y, dtype=xp.float64))
        return float(np.sqrt(weight / mean)) if mean > 0 else float(np.sqrt(weight))
    factor = 1.0
    if isinstance(inner, LeastSquares) and inner.weights is not None:
        mean = float(namespace(inner.weights).mean(inner.weights))
        factor = mean if mean > 0 else 1.0
    return float(np.sqrt(weight * factor * scale ** (degree - 2.0)))


def abs_sums(op: LinearOperator | None, shape: tuple[int, ...], dtype: Any,
             alpha: float = 1.0, like: Any = None) -> tuple[Any, Any] | None:
    r"""Row sums :math:`\sum_j |K_{ij}|^{\alpha}` (of ``dimsd``) and column sums
    :math:`\sum_i |K_{ij}|^{2-\alpha}` (of ``dims``) of ``op``, or None when unknown.

    From ``op.abs_operator`` (see ``deconvkit.operators._absolute``); ``op``
    None is the identity on ``shape``. The sums may be upper bounds. Arrays
    are allocated on the backend of ``like`` (NumPy when None).
    """
    from ..backend import ones
    from ..operators._absolute import abs_operator

    if op is None:
        unit = ones(shape, dtype, like=like)
        return unit, unit.copy()
    rows_of, cols_of = abs_operator(op, alpha), abs_operator(op, 2.0 - alpha)
    if rows_of is None or cols_of is None:
        return None
    rows = apply(rows_of, ones(tuple(op.dims), dtype, like=like))
    cols = apply_adjoint(cols_of, ones(tuple(op.dimsd), dtype, like=like))
    return rows, cols


