r"""Richardson–Lucy: multiplicative EM for the Poisson likelihood, regularized and accelerated."""

from __future__ import annotations

import numpy as np
from ..backend import namespace

from ..costs import Cost
from ._engine import Solver
from ._terms import apply, apply_adjoint, split_terms

__all__ = ["RichardsonLucy"]

ACCELERATIONS = (None, "biggs-andrews", "momentum")


def _is_poisson(cost: Cost) -> bool:
    from .. import costs

    poisson = getattr(costs, "PoissonLikelihood", None)
    if poisson is not None and isinstance(cost, poisson):
        return True
    return type(cost).__name__ == "PoissonLikelihood" and hasattr(cost, "y")


class RichardsonLucy(Solver):
    r"""Richardson–Lucy for :math:`y \sim \mathrm{Poisson}(Ax + b)`, A non-negative.

    .. math:: x_{k+1} = \frac{x_k}{A^H 1 + \lambda\nabla R(x_k)}\;
              A^H\!\left(\frac{y}{A x_k + b}\right)

    The normalization by :math:`A^H 1` (Bertero & Boccacci 2005) makes the
    extended-domain model ``Crop @ Blur`` work: where :math:`A^H 1` is below
    ``floor`` times its maximum the voxel is unobserved and x is kept at 0.
    A smooth regularizer enters by the split-gradient rule (Dey et al. 2006,
    RL-TV; RL-Tikhonov likewise); the denominator is kept at least
    ``A^H 1 / 10`` so one iteration multiplies a voxel by at most 10.
    Each iteration costs one ``A`` and one ``Aᴴ`` (2 rfftn + 2 irfftn for a blur).

    Parameters
    ----------
    data : Cost
        ``PoissonLikelihood(y, background=b) @ A``.
    regularizer : Cost, optional
        A smooth cost on x including its weight, e.g.
        ``0.002 * SmoothedTotalVariation(shape)`` or ``1e-3 * Tikhonov(Laplacian(shape))``.
    acceleration : {None, "biggs-andrews", "momentum"}
        ``"biggs-andrews"``: vector extrapolation (Biggs & Andrews 1997),
        :math:`y_k = x_k + \alpha_k (x_k - x_{k-1})` with
        :math:`\alpha_k = \langle g_{k-1}, g_{k-2}\rangle / \langle g_{k-2}, g_{k-2}\rangle`
        clipped to ``[0, alpha_max]``, :math:`g_k = x_{k+1} - y_k`;
        ``"momentum"``: the scaled heavy ball of deconwolf (Wang & Miller 2014;
        Wernersson et al. 2024), :math:`\alpha_k = (k-1)/(k+2)` capped at ``alpha_max``.
        Both take the RL step at the extrapolated point, clipped to a tiny
        positive floor (zero is absorbing for multiplicative updates).
    alpha_max : float
        Cap of the extrapolation weight, in ``[0, 1)`` (default 0.95).
    floor : float
        Relative floor of :math:`A^H 1` (default 1e-3).
    track_objective : bool
        Record the negative log-likelihood (plus the regularizer). For plain
        RL it is free (its ``A x`` is reused by the next iteration); with an
        acceleration it costs one extra ``A`` per recorded iteration.
    """

    name = "RichardsonLucy"
    objective_note = "the Poisson negative log-likelihood (as the data cost defines it) + regularizer"

    def __init__(self, data: Cost, regularizer: Cost | None = None,
                 acceleration: str | None = None, alpha_max: float = 0.95,
                 floor: float = 1e-3, track_objective: bool = True) -> None:
        terms = split_terms(data, self.name)
        if len(terms) != 1:
            raise TypeError(
                "RichardsonLucy takes one data term, PoissonLikelihood(y, background=b) @ A, "
                "and an optional smooth regularizer=; for several terms use ADMM"
            )
        term = terms[0]
        cost, op = term.cost, term.op
        if not _is_poisson(cost):
            raise TypeError(
                f"RichardsonLucy needs PoissonLikelihood(y, background=b) @ A as data, got {data!r}: "
                "for least squares use ProjectedGradient / FISTA with NonNegative(), or ADMM"
            )
        if acceleration not in ACCELERATIONS:
            raise ValueError(f"acceleration must be one of {ACCELERATIONS}, got {acceleration!r}")
        if not 0 <= alpha_max < 1:
            raise ValueError(f"alpha_max must be in [0, 1), got {alpha_max!r}")
        if not 0 <= floor < 1:
            raise ValueError(f"floor must be in [0, 1), got {floor!r}")
        self.data, self.poisson, self.op = data, cost, op
        self.acceleration, self.alpha_max, self.floor = acceleration, float(alpha_max), float(floor)
        self.tracks_objective = bool(track_objective)
        y = cost.y
        self.shape = tuple(op.dims) if op is not None else tuple(y.shape)
        self.dtype = np.finfo(np.result_type(np.float32, y.dtype)).dtype
        xp = namespace(y)
        self.y = xp.asarray(y, dtype=self.dtype)
        background = getattr(cost, "background", 0.0)
        background = 0.0 if background is None else background
        self.background = (
            float(background) if np.ndim(background) == 0 else xp.asarray(background, dtype=self.dtype)
        )
        if regularizer is not None:
            if isinstance(regularizer, Cost) and not regularizer.smooth:
                raise TypeError(
                    f"RichardsonLucy's regularizer must be smooth (split-gradient rule); {regularizer!r} "
                    "is not: use SmoothedTotalVariation for RL-TV or Tikhonov for RL-Tikhonov, "
                    "or ADMM for TotalVariation / HessianSchatten"
                )
            reg_shape = getattr(regularizer, "shape", None)
            if reg_shape is not None and tuple(reg_shape) != self.shape:
                raise ValueError(
                    f"RichardsonLucy: the regularizer takes {reg_shape} but x has shape {self.shape}"
                )
        self.regularizer = regularizer
        # Aᴴ1, once
        ones = xp.ones(op.dimsd if op is not None else self.shape, dtype=self.dtype)
        norm = apply_adjoint(op, ones) if op is not None else ones
        top = float(norm.max())
        if top <= 0 or float(norm.min()) < -1e-3 * top:
            raise ValueError(
                f"RichardsonLucy needs a non-negative operator A (a non-negative PSF); Aᴴ1 of {op!r} "
                f"ranges over [{float(norm.min()):.3g}, {top:.3g}]"
            )
        self.observed = norm > self.floor * top
        self.normalization = xp.where(self.observed, norm, 0).astype(self.dtype)
        inv = xp.zeros_like(norm)
        xp.divide(1.0, norm, out=inv, where=self.observed)
        self.inverse_normalization = inv.astype(self.dtype)
        flux = float(xp.sum(xp.clip(self.y - self.background, 0, None), dtype=np.float64))
        weight = float(xp.sum(self.normalization, dtype=np.float64))
        self.flat_level = max(flux / weight, 1e-12) if weight > 0 else 1.0

    # -- pieces -------------------------------------------------------------
    def _default_x0(self):
        xp = namespace(self.y)
        return xp.where(self.observed, self.dtype.type(self.flat_level), 0).astype(self.dtype)

    def _forward(self, x):
        return apply(self.op, x) if self.op is not None else x.copy()

    def _rl(self, x, ax=None):
        """One RL update of ``x`` (a new array)."""
        xp = namespace(x)
        if ax is None:
            ax = self._forward(x)
        if isinstance(self.background, float):
            if self.background:
                ax += ax.dtype.type(self.background)
        else:
            ax += self.background
        xp.maximum(ax, ax.dtype.type(1e-30), out=ax)
        xp.divide(self.y, ax, out=ax)
        update = apply_adjoint(self.op, ax) if self.op is not None else ax
        # Aᴴ of a positive ratio is positive; FFT round-off leaves ±1e-7 relative ripples
        xp.maximum(update, update.dtype.type(0), out=update)
        if self.regularizer is None:
            update *= self.inverse_normalization
        else:
            den = self.regularizer.grad(x)
            den += self.normalization
            xp.maximum(den, self.normalization * den.dtype.type(0.1), out=den)
            xp.divide(update, den, out=update, where=self.observed)
            update *= self.observed
        update *= x
        return update

    def _start(self, x0):
        xp = namespace(x0)
        x0 = xp.clip(x0, 0, None) * self.observed
        self._cache = None
        self._prev = None
        self._g1 = self._g2 = None
        self._alpha = 0.0
        self._k = 0
        self._eps = self.dtype.type(1e-6 * self.flat_level)
        return x0.astype(self.dtype, copy=False)

    def _take_cached(self, x):
        if self._cache is not None and self._cache[0] is x:
            ax = self._cache[1]
            self._cache = None
            return ax
        self._cache = None
        return None

    def _extrapolate(self, x, alpha):
        xp = namespace(x)
        y = x - self._prev
        y *= y.dtype.type(alpha)
        y += x
        xp.maximum(y, self._eps, out=y)  # unobserved voxels get eps, the update zeroes them
        return y

    def _iterate(self, x):
        self._k += 1
        if self.acceleration is None:
            return self._rl(x, self._take_cached(x))
        self._cache = None
        xp = namespace(x)
        if self.acceleration == "biggs-andrews":
            alpha = 0.0
            if self._g2 is not None:
                denominator = float(xp.vdot(self._g2.ravel(), self._g2.ravel()).real)
                if denominator > 0:
                    alpha = float(xp.vdot(self._g1.ravel(), self._g2.ravel()).real) / denominator
                alpha = min(max(alpha, 0.0), self.alpha_max)
        else:
            alpha = min(max((self._k - 1.0) / (self._k + 2.0), 0.0), self.alpha_max)
        point = x if (alpha == 0.0 or self._prev is None) else self._extrapolate(x, alpha)
        x_new = self._rl(point)
        if self.acceleration == "biggs-andrews":
            g = x_new - point
            self._g2, self._g1 = self._g1, g
        self._alpha = alpha
        self._prev = x
        return x_new

    def _objective(self, x):
        ax = self._forward(x)
        value = float(self.poisson(ax))
        if self.acceleration is None:
            self._cache = (x, ax)  # the next iteration starts from A x
        if self.regularizer is not None:
            value += float(self.regularizer(x))
        return value

    def _diagnostics(self):
        return {"alpha": self._alpha} if self.acceleration else {}

    def __repr__(self):
        extra = f", acceleration={self.acceleration!r}" if self.acceleration else ""
        return f"RichardsonLucy({self.data!r}{extra})"
