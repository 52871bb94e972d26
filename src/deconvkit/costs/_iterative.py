r"""Proximal maps of ``norm @ Gradient`` by inner iterations on the dual (TV proxes).

For a cost :math:`f` whose conjugate has a cheap prox (a norm: the projection
onto the dual ball) and a linear map :math:`A` of norm :math:`L`,

.. math:: \operatorname{prox}_{\tau f\circ A}(v) = v - \tau A^H p^\star, \qquad
          p^\star = \arg\min_p \tfrac12\|v - \tau A^H p\|^2 + \tau f^*(p),

and the dual problem is solved by accelerated projected gradient (FISTA on the
dual; Beck & Teboulle 2009, "fast gradient projection" for TV) with step
:math:`1/(\tau L^2)`:

.. math:: p \leftarrow \operatorname{prox}_{f^*/(\tau L^2)}\big(q + \tfrac{1}{\tau L^2} A(v - \tau A^H q)\big).

The prox is inexact: the loop stops when the dual iterate changes by less
than ``tol`` (relative; at least 50 machine epsilons of the dtype) or after
``max_iter`` iterations; the last dual point
warm-starts the next call, so inside an outer solver each prox costs few
iterations. Each iteration costs one ``A``, one ``Aᴴ`` and one projection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pylops import LinearOperator
from ..backend import namespace

from ..operators._base import apply, apply_adjoint

__all__ = ["dual_prox"]


def dual_prox(
    cost: Any, op: LinearOperator, max_iter: int = 200, tol: float = 1e-6
) -> Callable[[Any, float], Any]:
    """A callable ``(v, tau) -> prox_{tau cost∘op}(v)`` by the dual iterations above."""
    lipschitz_squared = float(op.lipschitz) ** 2
    state: dict[str, Any] = {"dual": None}

    def prox(v: Any, tau: float) -> Any:
        xp = namespace(v)
        if lipschitz_squared == 0.0:  # A = 0 (e.g. a gradient along size-1 axes): f∘A is constant
            return v.copy()
        # float32 iterates stagnate near 1e-7: do not chase a change below the precision
        tolerance = max(tol, 50.0 * float(np.finfo(v.dtype).eps))
        step = 1.0 / (tau * lipschitz_squared)
        dual = state["dual"]
        if dual is None or dual.dtype != v.dtype or namespace(dual) is not xp:
            dual = xp.zeros(tuple(op.dimsd), dtype=v.dtype)
        extrapolated, t = dual.copy(), 1.0
        for _ in range(max_iter):
            x = apply_adjoint(op, extrapolated)
            x *= x.dtype.type(-tau)
            x += v
            ascent = apply(op, x)
            ascent *= ascent.dtype.type(step)
            ascent += extrapolated
            new = cost._prox_conjugate(ascent, step)
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            change = new - dual
            size = float(xp.linalg.norm(change.ravel()))
            extrapolated = change
            extrapolated *= extrapolated.dtype.type((t - 1.0) / t_new)
            extrapolated += new
            dual, t = new, t_new
            if size <= tolerance * max(float(xp.linalg.norm(new.ravel())), 1e-30):
                break
        state["dual"] = dual
        out = apply_adjoint(op, dual)
        out *= out.dtype.type(-tau)
        out += v
        return out

    return prox
