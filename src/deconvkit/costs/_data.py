"""Data fidelities: how far a prediction is from the measured data."""

from __future__ import annotations

from typing import Any

import numpy as np
from ..backend import kernels, namespace

from ._base import Cost, sum_squares

__all__ = ["LeastSquares", "PoissonLikelihood"]


def _as_data(y: Any, what: str) -> Any:
    xp = namespace(y)
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
    check : bool
        Check ``y`` for NaN and Inf (default). The methods layer passes False:
        its plan checked the whole image once.
    """

    smooth = True
    proximable = True

    def __init__(self, y: Any, weights: Any = None, *, check: bool = True) -> None:
        y = _as_data(y, "the data y") if check else y
        super().__init__(y.shape)
        self.y = y
        if weights is not None:
            xp = namespace(y)
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
        xp = namespace(x)
        return 0.5 * float(xp.sum(self.weights * r * r, dtype=xp.float64))

    def _grad(self, x):
        r = self._residual(x)
        if self.weights is not None:
            r *= self.weights.astype(x.dtype, copy=False)
        return r

    def _compute_grad_lipschitz(self):
        if self.weights is None:
            return 1.0
        return float(namespace(self.weights).max(self.weights))

    def _prox(self, x, tau):
        y = self.y.astype(x.dtype, copy=False)
        if self.weights is None:
            return (x + x.dtype.type(tau) * y) / x.dtype.type(1.0 + tau)
        w = self.weights.astype(x.dtype, copy=False) * x.dtype.type(tau)
        return (x + w * y) / (1 + w)

    def prox_through(self, op):
        if self.weights is not None or not getattr(op, "is_circulant", False):
            return None
        # Formed on the first call only: most solvers never ask this prox, and
        # (I + τ AᴴA)⁻¹ and Aᴴy are two domain-sized arrays.
        state: dict[str, Any] = {}

        def prox(v, tau):
            if state.get("tau") != tau:  # keep one inverse: solvers use a fixed step
                from ..operators import Identity

                state.pop("inverse", None)
                identity = Identity(op.dims, dtype=op.dtype)
                state["inverse"] = (identity + tau * (op.H @ op)).inv()
                state["tau"] = tau
            if "back_projected" not in state:
                state["back_projected"] = op.H @ self.y
            rhs = state["back_projected"] * v.dtype.type(tau)
            rhs = rhs.astype(v.dtype, copy=False)
            rhs += v
            return state["inverse"] @ rhs

        return prox

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.shape)
        weighted = ", weighted" if self.weights is not None else ""
        return f"LeastSquares({shape}{weighted})"


def _as_counts(y: Any) -> Any:
    xp = namespace(y)
    y = xp.asarray(y)
    if y.dtype.kind not in "fc":
        y = y.astype(np.float32)
    if bool(xp.any(xp.isnan(y))):
        raise ValueError("the data y contains NaN values; replace them (e.g. np.nan_to_num) first")
    if not bool(xp.all(xp.isfinite(y))):
        raise ValueError("the data y contains infinite values; clean or replace them first")
    if y.size and bool(xp.min(y) < 0):
        raise ValueError(
            f"PoissonLikelihood needs counts y >= 0, but y has negative values (min {float(xp.min(y)):g}), "
            "typically from subtracting a background or offset: subtract less background, pass it as "
            "background= instead, or clip the data with np.clip(y, 0, None)"
        )
    return y


class PoissonLikelihood(Cost):
    r"""Poisson negative log-likelihood as the Kullback–Leibler divergence from ``y`` to ``u + b``.

    .. math:: f(u) = \sum_n (u_n + b_n) - y_n - y_n \log\frac{u_n + b_n}{y_n},

    with :math:`0 \log 0 = 0` (a voxel with :math:`y_n = 0` contributes
    :math:`u_n + b_n`), and :math:`f(u) = +\infty` where :math:`u_n + b_n \le 0`
    with :math:`y_n > 0`, or :math:`u_n + b_n < 0`. It is the negative
    log-likelihood of :math:`y \sim \mathrm{Poisson}(u + b)` up to a constant,
    non-negative and 0 at :math:`u + b = y`.

    .. math:: \nabla f(u) = 1 - \frac{y}{u + b}

    (1 where :math:`y = 0`, including at :math:`u + b = 0`; outside the domain
    the gradient is meaningless: ``-inf`` or negative values of :math:`u + b`.)

    The gradient is not Lipschitz (it blows up as :math:`u + b \to 0`), so
    ``smooth`` is True but ``grad_lipschitz`` is None: use it in Richardson–Lucy,
    ADMM or a primal–dual solver, not in plain gradient descent. The prox is
    the positive root of a quadratic per voxel: with :math:`a = v + b - \tau`,

    .. math:: \operatorname{prox}_{\tau f}(v) = \tfrac12\big(a + \sqrt{a^2 + 4\tau y}\big) - b
              = \frac{2\tau y}{\sqrt{a^2 + 4\tau y} - a} - b \quad (a < 0),

    the second form used where :math:`a < 0` to avoid cancellation; it lies in
    the domain (:math:`u + b > 0` where :math:`y > 0`, :math:`= \max(v + b - \tau, 0)` where :math:`y = 0`).

    Parameters
    ----------
    y : array
        The measured counts, non-negative and finite (integers are read as float32).
    background : float or array, optional
        The known background ``b`` (camera offset already removed, or a
        background map of ``y``'s shape); 0 by default.
    check : bool
        Check ``y`` (finite, non-negative counts) and ``background`` (default).
        The methods layer passes False: its plan checked the whole image once.

    Examples
    --------
    >>> import numpy as np
    >>> from deconvkit.costs import PoissonLikelihood
    >>> f = PoissonLikelihood(np.array([2.0, 0.0]), background=1.0)
    >>> f(np.array([1.0, 0.0]))  # the model equals the data at the first voxel
    1.0
    """

    smooth = True
    proximable = True

    def __init__(self, y: Any, background: Any = 0.0, *, check: bool = True) -> None:
        y = _as_counts(y) if check else y
        super().__init__(y.shape)
        self.y = y
        xp = namespace(y)
        if np.ndim(background) == 0:
            background = float(background)
            if not np.isfinite(background):
                raise ValueError(f"background must be a finite number or array, got {background}")
        elif not check:
            background = background.astype(y.dtype, copy=False)
        else:
            background = xp.asarray(background, dtype=y.dtype)
            if background.shape != y.shape:
                raise ValueError(
                    f"background must be a number or an array of the data's shape {y.shape}, "
                    f"got shape {background.shape}"
                )
            if not bool(xp.all(xp.isfinite(background))):
                raise ValueError("background contains NaN or infinite values")
        self.background = background
        # voxels without counts: gradient 1 (of u + b), also at u + b = 0 (no 0/0)
        self._no_counts = (y == 0) if bool(xp.any(y == 0)) else None

    def _shifted(self, u: Any, dtype: Any) -> Any:
        """``u + b`` as a new array of ``dtype``."""
        b = self.background
        if isinstance(b, float):
            out = u.astype(dtype, copy=True)
            if b:
                out += out.dtype.type(b)
            return out
        return namespace(u).add(u, b, dtype=dtype)

    def _value(self, u: Any) -> float:
        # per-voxel terms in float64, summed once (no cancellation between large sums near
        # the optimum), in one fused pass
        return kernels.kl_divergence(self.y, u, self.background)

    def _grad(self, u: Any) -> Any:
        xp = namespace(u)
        out = self._shifted(u, u.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            xp.divide(self.y.astype(u.dtype, copy=False), out, out=out)
        if self._no_counts is not None:
            out[self._no_counts] = 0
        return xp.subtract(u.dtype.type(1), out, out=out)

    def _prox(self, v: Any, tau: float) -> Any:
        xp = namespace(v)
        dtype = v.dtype
        a = self._shifted(v, dtype)
        a -= dtype.type(tau)
        c = self.y.astype(dtype) * dtype.type(4 * tau)  # 4τy, a new array
        root = xp.multiply(a, a)
        root += c
        xp.sqrt(root, out=root)
        # u + b = (a + root)/2 where a >= 0, 2τy/(root − a) where a < 0 (no cancellation)
        out = xp.add(root, a)
        out *= dtype.type(0.5)
        root -= a
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 only where a = 0 = y: unused
            xp.divide(c, root, out=c)
        c *= dtype.type(0.5)
        xp.copyto(out, c, where=a < 0)
        b = self.background
        if isinstance(b, float):
            if b:
                out -= dtype.type(b)
        else:
            out -= b.astype(dtype, copy=False)
        return out

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.shape)
        b = self.background
        text = f"{b:g}" if isinstance(b, float) else "array"
        return f"PoissonLikelihood({shape}, background={text})"
