r"""Closed-form minimizers of quadratic problems through the circulant algebra."""

from __future__ import annotations

from typing import Any

import numpy as np
from ..backend import namespace, zeros

from ..operators import Identity
from ._terms import (
    Term,
    apply,
    apply_adjoint,
    common_shape,
    problem_dtype,
    reference_array,
    split_terms,
)

__all__ = ["solve_quadratic", "quadratic_form"]


def quadratic_form(term: Term, shape: tuple[int, ...], dtype: Any,
                   like: Any = None) -> tuple[float, Any]:
    r"""``(a, y)`` such that the term's cost is :math:`\tfrac a2\|v - y\|^2` + const.

    Found from two gradients (at 0 and at 1), so it works for any isotropic
    quadratic cost (``LeastSquares(y)``, ``c * SquaredL2()``, their scalings).
    """
    cost = term.cost
    if not cost.smooth:
        raise TypeError(
            f"solve_quadratic takes quadratic costs (LeastSquares, SquaredL2, Tikhonov); "
            f"{term!r} is not even smooth: use ADMM, ChambollePock or FISTA"
        )
    vshape = tuple(term.op.dimsd) if term.op is not None else (cost.shape or shape)
    probe = zeros(vshape, dtype=dtype, like=reference_array([term]) if like is None else like)
    g0 = cost.grad(probe)

    def spread(step: float) -> tuple[float, float]:
        # (min, max) of grad(step) - grad(0): a constant step * a for (a/2)||v - y||^2;
        # reductions only, so the check costs no volume-sized temporaries beyond one gradient
        probe.fill(step)
        difference = cost.grad(probe)
        difference -= g0
        return float(difference.min()), float(difference.max())

    low, high = spread(1.0)
    a = high
    if not (low > 0 and high - low <= 1e-4 * high):
        raise TypeError(
            f"solve_quadratic needs terms of the form (a/2)||A x - y||^2 with one weight a > 0; "
            f"{term!r} is not (weighted or not quadratic): use ADMM with "
            "ConjugateGradientSolve() or FISTA"
        )
    low, high = spread(2.0)  # quadratic: the gradient at 2 is g0 + 2a
    if max(abs(low - 2 * a), abs(high - 2 * a)) > 1e-3 * 2 * a + 1e-6 * (1 + a):
        raise TypeError(
            f"solve_quadratic needs quadratic costs; {term!r} is not: use FISTA, ADMM or "
            "ChambollePock"
        )
    y = g0
    y *= y.dtype.type(-1.0 / a)
    return a, y


def solve_quadratic(terms: Any, shape: Any = None) -> Any:
    r"""Minimize :math:`\sum_i \tfrac{a_i}2 \|A_i x - y_i\|^2` exactly, circulant :math:`A_i`.

    .. math:: x = \Big(\sum_i a_i A_i^H A_i\Big)^{-1} \sum_i a_i A_i^H y_i

    in one FFT division. Every inverse filter is a call of this function:
    Tikhonov-regularized inverse ``[LeastSquares(y) @ H, lam * SquaredL2()]``,
    Laplacian-regularized ``[LeastSquares(y) @ H, lam * SquaredL2() @ Laplacian(shape)]``.

    Parameters
    ----------
    terms : list of Cost
        Isotropic quadratic costs composed with circulant operators
        (``LeastSquares(y) @ Blur``, ``c * SquaredL2() @ Gradient``).
    shape : tuple of int, optional
        Shape of ``x`` when no term fixes it.

    Returns
    -------
    array
        The minimizer, of ``x``'s shape.
    """
    parsed = split_terms(terms, "solve_quadratic")
    x_shape = common_shape(parsed, "solve_quadratic", shape)
    dtype = problem_dtype(parsed)
    reference = reference_array(parsed)
    normal, rhs = None, None
    for term in parsed:
        op = term.op
        if op is not None and not getattr(op, "is_circulant", False):
            raise ValueError(
                f"solve_quadratic needs circulant operators; {op!r} in {term!r} is not "
                "(e.g. a crop): use ADMM (it splits the crop off) or ConjugateGradientSolve"
            )
        a, y = quadratic_form(term, x_shape, dtype, like=reference)
        part = a * (Identity(x_shape, dtype=dtype) if op is None else op.H @ op)
        normal = part if normal is None else normal + part
        del part  # the running sum holds the combined transfer function
        back = y if op is None else apply_adjoint(op, y.astype(dtype, copy=False))
        del y
        back *= back.dtype.type(a)
        if rhs is None:
            rhs = back
        else:
            rhs += back
        del back
    try:
        inverse = normal.inv()
        del normal
    except ValueError as error:
        raise ValueError(
            "solve_quadratic: the problem has no unique minimizer (Σ a_i A_iᴴA_i is singular); "
            f"add a regularizer such as lam * SquaredL2() ({error})"
        ) from None
    xp = namespace(rhs)
    return xp.asarray(apply(inverse, rhs), dtype=dtype)
