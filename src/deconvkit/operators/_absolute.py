r"""Entrywise absolute values of operators, for diagonal preconditioning.

``A.abs_operator(power)`` returns an operator :math:`M` with

.. math:: M_{ij} \ge |A_{ij}|^{p} \quad\text{for all } i, j

(equal where the structure allows: every elementary operator, circulant
members, and products with a crop, pad or diagonal), or None where no such
bound is known. Its row and column sums, :math:`M\mathbf 1` and
:math:`M^H\mathbf 1`, give the diagonal steps of Pock & Chambolle (ICCV 2011),
:math:`\tau_j = 1/\sum_i |K_{ij}|^{2-\alpha}`, :math:`\sigma_i = 1/\sum_j |K_{ij}|^{\alpha}`;
an upper bound :math:`M` gives smaller steps, which keep the convergence
condition.

* Circulant members: :math:`|A|^p` is circulant too, with the kernel
  :math:`|k|^p` (the transfer function's inverse FFT, in double precision,
  entries below the rounding level of the transfer function's precision set
  to zero).
* Finite differences: :class:`AbsoluteDifferences`, the same stencils with
  every coefficient made positive (exact for the gradient at any power, for
  the Laplacian and the Hessian at power 1).
* Composites: :math:`|AB|^p \le |A|^p|B|^p` for :math:`p \le 1`, or when ``A``
  has at most one non-zero per row or ``B`` per column (exact then);
  :math:`|A + B|^p \le |A|^p + |B|^p` for :math:`p \le 1`; :math:`|cA|^p = |c|^p|A|^p`;
  :math:`|A^H|^p = (|A|^p)^H`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..backend import irfftn, namespace, rfftn
from ._base import Operator, _shape_text

__all__ = ["AbsoluteDifferences", "circulant_absolute", "abs_operator"]


def abs_operator(op: Any, power: float = 1.0) -> Operator | None:
    """``op.abs_operator(power)`` for a deconvkit operator, None for anything else."""
    method = getattr(op, "abs_operator", None)
    return method(power) if callable(method) else None


def circulant_absolute(op: Operator, power: float) -> Operator:
    """``|A|^p`` of a circulant member, from the kernels of its transfer function."""
    from ._circulant import Circulant

    shape = op.circulant_shape
    blocks = op.circulant_blocks(keep=False)
    axes = tuple(range(2, 2 + len(shape)))
    xp = namespace(blocks)
    # a copy in double precision (irfftn may overwrite its input)
    kernels = xp.abs(irfftn(blocks.astype(np.complex128, copy=True), shape, axes))
    # the transfer function's rounding spreads over every kernel entry: drop it
    level = 64 * float(np.finfo(blocks.real.dtype).eps) * max(float(kernels.max()), 1e-300)
    kernels[kernels <= level] = 0.0
    if power != 1.0:
        kernels = kernels**power
    return Circulant(
        rfftn(kernels, axes), shape, stacked_in=op.stacked_in, stacked_out=op.stacked_out,
        name=f"|{op!r}|" if power == 1.0 else f"|{op!r}|^{power:g}",
    )


def _along(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    return tuple(index if k == axis else slice(None) for k in range(ndim))


def absolute_difference(x: Any, axis: int, step: float, periodic: bool, out: Any) -> Any:
    """``out = |D_axis| x``: the forward difference with both coefficients ``+1/step``."""
    xp = namespace(x)
    at = partial(_along, x.ndim, axis)
    if x.shape[axis] == 1:  # D is 0 along a single voxel
        out[...] = 0
        return out
    xp.add(x[at(slice(1, None))], x[at(slice(None, -1))], out=out[at(slice(None, -1))])
    if periodic:
        xp.add(x[at(slice(0, 1))], x[at(slice(-1, None))], out=out[at(slice(-1, None))])
    else:
        out[at(slice(-1, None))] = 0
    out *= out.dtype.type(1.0 / step)
    return out


def absolute_difference_adjoint(y: Any, axis: int, step: float, periodic: bool, out: Any) -> Any:
    """``out = |D_axis|ᵀ y``."""
    xp = namespace(y)
    at = partial(_along, y.ndim, axis)
    n = y.shape[axis]
    if n == 1:
        out[...] = 0
        return out
    xp.add(y[at(slice(None, -1))], y[at(slice(1, None))], out=out[at(slice(1, None))])
    if periodic:
        xp.add(y[at(slice(-1, None))], y[at(slice(0, 1))], out=out[at(slice(0, 1))])
    else:
        # rows 0 .. n-2 of D are the differences; row n-1 is zero
        out[at(slice(0, 1))] = y[at(slice(0, 1))]
        out[at(slice(-1, None))] = y[at(slice(-2, -1))]
    out *= out.dtype.type(1.0 / step)
    return out


class AbsoluteDifferences(Operator):
    r"""``|A|^p`` of a Gradient (any ``p``), Laplacian or Hessian (``p = 1``).

    With :math:`|D_i|` the forward difference with coefficients :math:`+1/h_i`
    (the same boundary): :math:`|\nabla|^p = (|D_i|)_i` with steps :math:`h_i^p`,
    :math:`|\Delta| = \sum_i |D_i|^T|D_i|`, and the Hessian's components
    :math:`|D_i|^T|D_i|` and :math:`\sqrt2\,|D_i||D_j|`. These are exact: no
    coefficient of the original stencils cancels another.

    Parameters
    ----------
    op : Gradient, Laplacian or Hessian
        The operator whose absolute value this is.
    power : float
        ``p`` (1 only for the Laplacian and the Hessian).
    """

    def __init__(self, op: Any, power: float = 1.0) -> None:
        self.kind = type(op).__name__
        if self.kind not in ("Gradient", "Laplacian", "Hessian"):
            raise TypeError(f"AbsoluteDifferences takes a Gradient, Laplacian or Hessian, got {op!r}")
        if self.kind != "Gradient" and power != 1.0:
            raise ValueError(f"|{op!r}|^p is only known for p = 1, got p = {power:g}")
        super().__init__(op.dims, op.dimsd, dtype=op.dtype)
        self.source, self.power = op, float(power)
        self.periodic = op.periodic
        self.steps = [h**self.power for h in op.spacing] if self.kind == "Gradient" else list(op.spacing)
        self.pairs = getattr(op, "pairs", None)
        self.stacked_out = getattr(op, "stacked_out", False)
        self._lipschitz = None

    def _d(self, x, axis, out=None):
        out = namespace(x).empty_like(x) if out is None else out
        return absolute_difference(x, axis, self.steps[axis], self.periodic, out)

    def _dt(self, y, axis, out=None):
        out = namespace(y).empty_like(y) if out is None else out
        return absolute_difference_adjoint(y, axis, self.steps[axis], self.periodic, out)

    def _normal(self, x, axis):
        return self._dt(self._d(x, axis), axis)

    def _forward(self, x):
        xp = namespace(x)
        if self.kind == "Gradient":
            out = xp.empty(self.dimsd, dtype=x.dtype)
            for axis in range(x.ndim):
                self._d(x, axis, out[axis])
            return out
        if self.kind == "Laplacian":
            out = self._normal(x, 0)
            for axis in range(1, x.ndim):
                out += self._normal(x, axis)
            return out
        out = xp.empty(self.dimsd, dtype=x.dtype)
        root2 = x.dtype.type(np.sqrt(2.0))
        for c, (i, j) in enumerate(self.pairs):
            if i == j:
                out[c] = self._normal(x, i)
            else:
                self._d(self._d(x, j), i, out[c])
                out[c] *= root2
        return out

    def _adjoint_apply(self, y):
        xp = namespace(y)
        if self.kind == "Gradient":
            x = self._dt(y[0], 0)
            scratch = xp.empty_like(x)
            for axis in range(1, len(self.steps)):
                x += self._dt(y[axis], axis, scratch)
            return x
        if self.kind == "Laplacian":
            return self._forward(y)
        root2 = y.dtype.type(np.sqrt(2.0))
        x = xp.zeros(self.dims, dtype=y.dtype)
        for c, (i, j) in enumerate(self.pairs):
            if i == j:
                x += self._normal(y[c], i)
            else:
                part = self._dt(self._dt(y[c], i), j)
                part *= root2
                x += part
        return x

    def __repr__(self):
        power = "" if self.power == 1.0 else f"^{self.power:g}"
        return f"|{self.kind}({_shape_text(self.dims)})|{power}"
