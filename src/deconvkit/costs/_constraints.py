r"""Constraints: indicator functions of convex sets (``NonNegative``, ``Box``).

An indicator :math:`\iota_C(x)` is 0 on the set :math:`C` and :math:`+\infty`
outside; its proximal map is the Euclidean projection onto :math:`C` whatever
the step, and the projection's output is exactly feasible.

Feasibility is tested with a tiny tolerance, so that a point a solver computed
in float32 (e.g. ``x + Sᴴ(P(Sx) − Sx)`` through a crop) is not declared
infinitely bad for a rounding error: a bound ``l <= x`` holds when
``x >= l − tol`` with

.. math:: \mathrm{tol} = 16\,\varepsilon_{\text{dtype}} \max(1, \max_n |x_n|),

:math:`\varepsilon_{\text{dtype}}` the machine epsilon of ``x``'s dtype
(about :math:`1.9\times 10^{-6}` relative in float32, :math:`3.6\times
10^{-15}` in float64).

Both projections are written with ``clip``/``maximum`` into one new array
rather than wrapping :class:`pyproximal.Box`: on a 64x256x256 float32 volume
pyproximal's ``Box(0, inf).prox`` took 8.5 ms against 2.1 ms for
``np.clip(x, 0, None, out=...)`` (it computes ``minimum(maximum(x, l), u)``
with two full-size temporaries), and 7.0 ms against 4.5 ms with array bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ..backend import namespace

from ._base import Cost

__all__ = ["Box", "NonNegative", "feasibility_tolerance"]


def feasibility_tolerance(x: Any) -> float:
    r"""Absolute tolerance of the feasibility tests: :math:`16\varepsilon\max(1, \|x\|_\infty)`."""
    xp = namespace(x)
    scale = float(xp.max(xp.abs(x))) if x.size else 0.0
    return 16.0 * float(np.finfo(x.dtype).eps) * max(1.0, scale)


class _Indicator(Cost):
    """Shared flags: an indicator is proximable (projection), not smooth."""

    proximable = True
    indicator = True

    def _value(self, x: Any) -> float:
        return 0.0 if self.contains(x) else float("inf")

    def contains(self, x: Any) -> bool:  # pragma: no cover - abstract
        """True when ``x`` lies in the set, up to :func:`feasibility_tolerance`."""
        raise NotImplementedError


class NonNegative(_Indicator):
    r"""Non-negativity, :math:`\iota_{\ge 0}(x) = 0` if :math:`x \ge 0` else :math:`+\infty`.

    .. math:: \operatorname{prox}_{\tau\iota}(v) = \max(v, 0)
              \quad(\text{the step } \tau \text{ is ignored}),\qquad
              \operatorname{prox}_{\sigma\iota^*}(v) = \min(v, 0).

    Takes arrays of any shape; the value is 0 when
    :math:`\min_n x_n \ge -\mathrm{tol}` (see :func:`feasibility_tolerance`).

    Examples
    --------
    >>> import numpy as np
    >>> from deconvkit.costs import NonNegative
    >>> NonNegative().prox(np.array([-1.0, 2.0]), 1.0)
    array([0., 2.])
    """

    def contains(self, x: Any) -> bool:
        if x.size == 0:
            return True
        xp = namespace(x)
        return bool(xp.min(x) >= -feasibility_tolerance(x))

    def _prox(self, x: Any, tau: float) -> Any:
        xp = namespace(x)
        return xp.maximum(x, x.dtype.type(0))

    def _prox_conjugate(self, x: Any, sigma: float) -> Any:
        # ι*_{≥0} = ι_{≤0}: the conjugate's prox is the projection onto x <= 0
        xp = namespace(x)
        return xp.minimum(x, x.dtype.type(0))


def _as_bound(value: Any, what: str) -> Any:
    if np.ndim(value) == 0:
        value = float(value)
        if np.isnan(value):
            raise ValueError(f"the {what} bound is NaN; give a number (or ±inf for no bound)")
        return value
    xp = namespace(value)
    value = xp.asarray(value)
    if value.dtype.kind not in "fiu":
        raise ValueError(f"the {what} bound must be real numbers, got dtype {value.dtype}")
    if bool(xp.any(xp.isnan(value))):
        raise ValueError(f"the {what} bound contains NaN; use ±inf where there is no bound")
    return value


class Box(_Indicator):
    r"""Box constraint, :math:`\iota_{[l, u]}(x) = 0` if :math:`l \le x \le u` else :math:`+\infty`.

    .. math:: \operatorname{prox}_{\tau\iota}(v) = \min(\max(v, l), u)
              \quad(\text{the step } \tau \text{ is ignored})

    Parameters
    ----------
    lower, upper : float or array
        Bounds, scalars or arrays of the shape of ``x`` (then the cost takes
        only that shape); ``-inf`` / ``inf`` for no bound. ``lower <= upper``
        everywhere, else the set is empty and a ValueError is raised.

    Examples
    --------
    >>> import numpy as np
    >>> from deconvkit.costs import Box
    >>> Box(0.0, 1.0).prox(np.array([-1.0, 0.5, 3.0]), 1.0)
    array([0. , 0.5, 1. ])
    """

    def __init__(self, lower: Any = 0.0, upper: Any = np.inf) -> None:
        lower, upper = _as_bound(lower, "lower"), _as_bound(upper, "upper")
        shapes = {tuple(b.shape) for b in (lower, upper) if not isinstance(b, float)}
        if len(shapes) > 1:
            raise ValueError(
                f"the lower and upper bounds have different shapes {sorted(shapes)}: "
                "give arrays of one shape (or scalars)"
            )
        arrays = [b for b in (lower, upper) if not isinstance(b, float)]
        xp = namespace(arrays[0]) if arrays else np
        if not bool(xp.all(xp.asarray(lower) <= xp.asarray(upper))):
            raise ValueError(
                "Box needs lower <= upper everywhere (the set is empty otherwise): "
                "swap the bounds or fix the voxels where lower > upper"
            )
        super().__init__(shapes.pop() if shapes else None)
        self.lower, self.upper = lower, upper

    def _bounds(self, x: Any) -> tuple[Any, Any]:
        cast = lambda b: x.dtype.type(b) if isinstance(b, float) else b.astype(x.dtype, copy=False)
        return cast(self.lower), cast(self.upper)

    def contains(self, x: Any) -> bool:
        if x.size == 0:
            return True
        xp = namespace(x)
        lower, upper = self._bounds(x)
        tol = x.dtype.type(feasibility_tolerance(x))
        # no temporaries from x - lower: compare with the shifted bounds
        return bool(xp.all(x >= lower - tol)) and bool(xp.all(x <= upper + tol))

    def _prox(self, x: Any, tau: float) -> Any:
        xp = namespace(x)
        lower, upper = self._bounds(x)
        return xp.clip(x, lower, upper, out=xp.empty_like(x))

    def __repr__(self) -> str:
        def text(b):
            return f"{b:g}" if isinstance(b, float) else "array"

        return f"Box({text(self.lower)}, {text(self.upper)})"
