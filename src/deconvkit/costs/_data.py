"""Data fidelities: how far a prediction is from the measured data."""

from __future__ import annotations

from typing import Any

import numpy as np
from pylops.utils.backend import get_array_module

from ._base import Cost, sum_squares

__all__ = ["LeastSquares"]


def _as_data(y: Any, what: str) -> Any:
    xp = get_array_module(y)
    y = xp.asarray(y)
    if y.dtype.kind not in "fc":
        y = y.astype(np.float32)
    if not bool(xp.all(xp.isfinite(y))):
        raise ValueError(f"{what} contains NaN or infinite values; clean or replace them first")
    return y


class LeastSquares(Cost):
    r"""Weighted least squares, :math:`f(x) = \tfrac12 \sum_n w_n (x_n - y_n)^2`.

    .. math:: \nabla f(x) = w\,(x - y), \qquad
              \operatorname{prox}_{\tau f}(v) = \frac{v + \tau w y}{1 + \tau w}

    Composed with an operator, ``LeastSquares(y) @ A`` is
    :math:`\tfrac12\|Ax - y\|_W^2`; when ``A`` is in the circulant family and
    there are no weights, its prox is exact in one FFT division,
    :math:`(I + \tau A^HA)^{-1}(v + \tau A^H y)`.

    Parameters
    ----------
    y : array
        The data.
    weights : array or float, optional
        Non-negative weights ``w`` (inverse noise variances); 1 by default.
    """

    smooth = True
    proximable = True

    def __init__(self, y: Any, weights: Any = None) -> None:
        y = _as_data(y, "the data y")
        super().__init__(y.shape)
        self.y = y
        if weights is not None:
            xp = get_array_module(y)
            weights = xp.asarray(weights, dtype=y.dtype)
            if weights.shape not in ((), y.shape) or not bool(xp.all(weights >= 0)):
                raise ValueError(
                    "weights must be a non-negative number or an array of the data's shape "
                    f"{y.shape}"
                )
        self.weights = weights

    def _residual(self, x):
        r = x - self.y.astype(x.dtype, copy=False)
        return r

    def _value(self, x):
        r = self._residual(x)
        if self.weights is None:
            return 0.5 * sum_squares(r)
        xp = get_array_module(x)
        return 0.5 * float(xp.sum(self.weights * r * r, dtype=xp.float64))

    def _grad(self, x):
        r = self._residual(x)
        if self.weights is not None:
            r *= self.weights.astype(x.dtype, copy=False)
        return r

    def _compute_grad_lipschitz(self):
        if self.weights is None:
            return 1.0
        return float(get_array_module(self.weights).max(self.weights))

    def _prox(self, x, tau):
        y = self.y.astype(x.dtype, copy=False)
        if self.weights is None:
            return (x + x.dtype.type(tau) * y) / x.dtype.type(1.0 + tau)
        w = self.weights.astype(x.dtype, copy=False) * x.dtype.type(tau)
        return (x + w * y) / (1 + w)

    def prox_through(self, op):
        if self.weights is not None or not getattr(op, "is_circulant", False):
            return None
        from ..operators import Identity

        normal = op.H @ op
        back_projected = op.H @ self.y
        identity = Identity(normal.dims, dtype=normal.dtype)
        inverses: dict[float, Any] = {}

        def prox(v, tau):
            if tau not in inverses:
                inverses.clear()  # keep one: solvers use a fixed step
                inverses[tau] = (identity + tau * normal).inv()
            rhs = back_projected.astype(v.dtype) * v.dtype.type(tau)
            rhs += v
            return inverses[tau] @ rhs

        return prox

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.shape)
        weighted = ", weighted" if self.weights is not None else ""
        return f"LeastSquares({shape}{weighted})"
