r"""Finite differences with physical voxel spacing: Gradient, Laplacian, Hessian.

All are built from the forward difference along one axis,

.. math:: (D_i x)[n] = \frac{x[n + e_i] - x[n]}{h_i},

whose last entry wraps around (``boundary="periodic"``: circulant, transfer
function :math:`(e^{2\pi i k/N} - 1)/h`) or is zero (``boundary="neumann"``:
zero flux across the border). ``D_iᵀD_i`` has largest eigenvalue
:math:`(2 - 2\cos(2\pi\lfloor N/2\rfloor/N))/h^2` (periodic) or
:math:`(2 - 2\cos(\pi (N-1)/N))/h^2` (Neumann), which gives every norm below
exactly.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..backend import kernels, namespace, rfft_shape, to_backend
from ._base import Operator, _shape_text
from ._checks import check_shape, check_spacing

__all__ = ["Gradient", "Laplacian", "Hessian"]

BOUNDARIES = ("periodic", "neumann")


def _along(ndim: int, axis: int, index: slice) -> tuple[slice, ...]:
    return tuple(index if k == axis else slice(None) for k in range(ndim))


def difference(x: Any, axis: int, step: float, periodic: bool, out: Any) -> Any:
    """``out = D_axis x``: forward difference divided by ``step``."""
    xp = namespace(x)
    at = partial(_along, x.ndim, axis)
    xp.subtract(x[at(slice(1, None))], x[at(slice(None, -1))], out=out[at(slice(None, -1))])
    if periodic:
        xp.subtract(x[at(slice(0, 1))], x[at(slice(-1, None))], out=out[at(slice(-1, None))])
    else:
        out[at(slice(-1, None))] = 0
    out *= out.dtype.type(1.0 / step)
    return out


def difference_adjoint(y: Any, axis: int, step: float, periodic: bool, out: Any) -> Any:
    """``out = D_axisᵀ y``: backward difference (negated) divided by ``step``."""
    xp = namespace(y)
    at = partial(_along, y.ndim, axis)
    xp.subtract(y[at(slice(None, -1))], y[at(slice(1, None))], out=out[at(slice(1, None))])
    if periodic:
        xp.subtract(y[at(slice(-1, None))], y[at(slice(0, 1))], out=out[at(slice(0, 1))])
    elif y.shape[axis] == 1:
        out[...] = 0
    else:
        # np.negative(..., out=) on strided float32 views reads the wrong elements
        # in NumPy 2.4 (found by the adjoint property test): multiply by -1.
        xp.multiply(y[at(slice(0, 1))], y.dtype.type(-1), out=out[at(slice(0, 1))])
        out[at(slice(-1, None))] = y[at(slice(-2, -1))]
    out *= out.dtype.type(1.0 / step)
    return out


def _largest_eigenvalue(n: int, step: float, periodic: bool) -> float:
    """Largest eigenvalue of ``DᵀD`` along an axis of ``n`` voxels."""
    angle = 2 * np.pi * (n // 2) / n if periodic else np.pi * (n - 1) / n
    return (2.0 - 2.0 * np.cos(angle)) / step**2


def _difference_transfer(shape: tuple[int, ...], axis: int, step: float, dtype: Any) -> Any:
    """Transfer function ``(exp(2πik/N) − 1)/h`` of ``D_axis`` on the rfft grid."""
    half = rfft_shape(shape)
    k = np.arange(half[axis])
    values = (np.exp(2j * np.pi * k / shape[axis]) - 1.0) / step
    return values.reshape([-1 if a == axis else 1 for a in range(len(shape))]).astype(dtype)


class _Differences(Operator):
    """Shared set-up: shape, spacing, boundary, circulant when periodic."""

    def __init__(self, shape, spacing, boundary, dimsd, dtype):
        shape = check_shape(shape)
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        self.spacing = check_spacing(spacing, len(shape))
        self.boundary = boundary
        self.periodic = boundary == "periodic"
        super().__init__(shape, dimsd(shape), dtype=dtype)
        self.circulant_shape = shape if self.periodic else None
        self.eigenvalues = [
            _largest_eigenvalue(n, h, self.periodic) for n, h in zip(shape, self.spacing)
        ]

    def _diff(self, x, axis, out=None):
        out = namespace(x).empty_like(x) if out is None else out
        return difference(x, axis, self.spacing[axis], self.periodic, out)

    def _diff_adjoint(self, y, axis, out=None):
        out = namespace(y).empty_like(y) if out is None else out
        return difference_adjoint(y, axis, self.spacing[axis], self.periodic, out)

    def _second(self, x, axis):
        """``-D_axisᵀ D_axis x``, the second difference (a new array)."""
        out = self._diff_adjoint(self._diff(x, axis), axis)
        out *= out.dtype.type(-1)
        return out

    def _transfers(self, dtype):
        return [_difference_transfer(self.dims, a, h, dtype) for a, h in enumerate(self.spacing)]

    def abs_operator(self, power: float = 1.0):
        """``|A|^p`` by the stencils with positive coefficients (any ``p`` for the gradient, else 1)."""
        from ._absolute import AbsoluteDifferences

        if isinstance(self, Gradient) or power == 1.0:
            return AbsoluteDifferences(self, power)
        return super().abs_operator(power)  # periodic: the circulant kernel; Neumann: None

    def __repr__(self):
        extra = "" if self.periodic else ", neumann"
        return f"{type(self).__name__}({_shape_text(self.dims)}{extra})"


class Gradient(_Differences):
    r"""Forward-difference gradient, partials stacked on a new leading axis.

    .. math:: \nabla x = (D_0 x, \dots, D_{d-1} x), \qquad
              \nabla^H g = \sum_i D_i^T g_i

    Output shape ``(ndim, *shape)``. ``lipschitz`` is exact:
    :math:`\sqrt{\sum_i \lambda_{\max}(D_i^TD_i)}` (``sqrt(4 Σ 1/h_i²)`` for
    large even periodic sizes).

    Parameters
    ----------
    shape : tuple of int
        Shape of the arrays (ZYX).
    spacing : float or tuple of float, optional
        Voxel size per axis in physical units (µm); 1 by default.
    boundary : {"periodic", "neumann"}
        Periodic (circulant: in the Fourier algebra) or zero flux at the border.
    """

    stacked_out = True

    def __init__(self, shape, spacing=None, boundary: str = "periodic", dtype: Any = "float32"):
        super().__init__(shape, spacing, boundary, lambda s: (len(s), *s), dtype)

    def _forward(self, x):
        if x.ndim == 3:  # one fused pass on the host (float, C order), the same bits
            fused = kernels.gradient3(x, self.spacing, self.periodic)
            if fused is not None:
                return fused
        out = namespace(x).empty(self.dimsd, dtype=x.dtype)
        for axis in range(x.ndim):
            self._diff(x, axis, out[axis])
        return out

    def _adjoint_apply(self, y):
        if y.ndim == 4:
            fused = kernels.gradient3_adjoint(y, self.spacing, self.periodic)
            if fused is not None:
                return fused
        x = self._diff_adjoint(y[0], 0)
        scratch = namespace(y).empty_like(x)
        for axis in range(1, len(self.spacing)):
            x += self._diff_adjoint(y[axis], axis, scratch)
        return x

    def _compute_lipschitz(self):
        return float(np.sqrt(sum(self.eigenvalues)))

    def _compute_blocks(self, dtype, backend):
        half = rfft_shape(self.dims)
        blocks = np.stack([np.broadcast_to(t, half) for t in self._transfers(dtype)])[:, None]
        return to_backend(blocks, backend)


class Laplacian(_Differences):
    r"""Discrete Laplacian :math:`\Delta x = \sum_i (x[n+e_i] - 2x[n] + x[n-e_i]) / h_i^2`.

    Equal to ``-(Gradient.H @ Gradient)`` for the same boundary: negative
    semi-definite, self-adjoint, transfer function
    :math:`-\sum_i |e^{2\pi i k_i/N_i} - 1|^2 / h_i^2` when periodic.
    ``lipschitz`` is exact: :math:`\sum_i \lambda_{\max}(D_i^TD_i)`.
    """

    def __init__(self, shape, spacing=None, boundary: str = "periodic", dtype: Any = "float32"):
        super().__init__(shape, spacing, boundary, lambda s: s, dtype)

    def _forward(self, x):
        out = self._second(x, 0)
        for axis in range(1, x.ndim):
            out += self._second(x, axis)
        return out

    _adjoint_apply = _forward

    def _adjoint(self):
        return self

    def _compute_lipschitz(self):
        return float(sum(self.eigenvalues))

    def _compute_blocks(self, dtype, backend):
        total = sum(-np.abs(t) ** 2 for t in self._transfers(dtype))
        blocks = np.broadcast_to(total, rfft_shape(self.dims)).astype(dtype)[None, None]
        return to_backend(blocks, backend)


class Hessian(_Differences):
    r"""The distinct second-order partials, stacked on a new leading axis.

    Component ``(i, j)`` for ``i <= j`` in :attr:`pairs` (row-major upper
    triangle: 3D gives zz, zy, zx, yy, yx, xx) is

    .. math:: H_{ii} x = -D_i^T D_i x, \qquad H_{ij} x = \sqrt 2\, D_i D_j x \quad (i < j),

    the mixed terms weighted by :math:`\sqrt 2` so that the Euclidean norm of the
    stack at a voxel is the Frobenius norm of the symmetric Hessian matrix there.
    Output shape ``(ndim (ndim + 1) / 2, *shape)``. ``lipschitz`` is exact and
    equals the Laplacian's: :math:`\|Hx\|^2 = \|(\sum_i D_i^TD_i) x\|^2` since
    the ``D_i`` commute.
    """

    stacked_out = True

    def __init__(self, shape, spacing=None, boundary: str = "periodic", dtype: Any = "float32"):
        ndim = len(check_shape(shape))
        self.pairs = [(i, j) for i in range(ndim) for j in range(i, ndim)]
        super().__init__(shape, spacing, boundary, lambda s: (len(self.pairs), *s), dtype)

    def _forward(self, x):
        if x.ndim == 3:  # one fused pass on the host (float, C order), the same bits
            fused = kernels.hessian3(x, self.spacing, self.periodic)
            if fused is not None:
                return fused
        xp = namespace(x)
        out = xp.empty(self.dimsd, dtype=x.dtype)
        partials = [self._diff(x, axis) for axis in range(x.ndim)]
        root2 = x.dtype.type(np.sqrt(2.0))
        for c, (i, j) in enumerate(self.pairs):
            if i == j:
                self._diff_adjoint(partials[i], i, out[c])
                out[c] *= root2.dtype.type(-1)
            else:
                self._diff(partials[j], i, out[c])
                out[c] *= root2
        return out

    def _adjoint_apply(self, y):
        if y.ndim == 4:  # one fused pass on the host, the same bits
            fused = kernels.hessian3_adjoint(y, self.spacing, self.periodic)
            if fused is not None:
                return fused
        xp = namespace(y)
        ndim = len(self.spacing)
        root2 = y.dtype.type(np.sqrt(2.0))
        x = xp.zeros(self.dims, dtype=y.dtype)
        inner = xp.empty_like(x)
        scratch = xp.empty_like(x)
        for j in range(ndim):
            # x += D_jᵀ ( -D_j y_jj + √2 Σ_{i<j} D_iᵀ y_ij )
            self._diff(y[self.pairs.index((j, j))], j, inner)
            inner *= root2.dtype.type(-1)
            for i in range(j):
                self._diff_adjoint(y[self.pairs.index((i, j))], i, scratch)
                scratch *= root2
                inner += scratch
            x += self._diff_adjoint(inner, j, scratch)
        return x

    def _compute_lipschitz(self):
        return float(sum(self.eigenvalues))

    def _compute_blocks(self, dtype, backend):
        d = self._transfers(dtype)
        half = rfft_shape(self.dims)
        components = [
            -np.abs(d[i]) ** 2 if i == j else np.sqrt(2.0) * d[i] * d[j] for i, j in self.pairs
        ]
        blocks = np.stack([np.broadcast_to(c, half).astype(dtype) for c in components])[:, None]
        return to_backend(blocks, backend)
