"""The circulant family: operators diagonal in the DFT, applied by real FFTs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import (
    backend_of,
    complex_dtype,
    irfftn,
    kernels,
    namespace,
    real_dtype,
    rfft_shape,
    rfftn,
    to_backend,
)
from ._base import Operator, _blocks_norm, _shape_text

__all__ = ["Circulant", "multiply_blocks", "inverse"]


def multiply_blocks(a: Any, b: Any) -> Any:
    """Per-frequency matrix product of ``(m, k, ...)`` and ``(k, n, ...)`` blocks."""
    if a.shape[:2] == (1, 1) or b.shape[:2] == (1, 1):
        return a * b
    xp = namespace(a)
    return xp.einsum("ik...,kj...->ij...", a, b)


class Circulant(Operator):
    r"""A circulant operator given by its transfer function.

    .. math:: A x = \mathcal{F}^{-1}\big(h \cdot \mathcal{F} x\big),
              \qquad A^H y = \mathcal{F}^{-1}\big(\bar h \cdot \mathcal{F} y\big)

    with :math:`\mathcal{F}` the real FFT over the spatial axes. Stacked
    operators map ``n`` stacked inputs to ``m`` stacked outputs with a matrix of
    transfer functions, :math:`(\mathcal{F} A x)_i = \sum_j h_{ij} (\mathcal{F} x)_j`.

    Parameters
    ----------
    transfer_function : array
        ``h`` on the half spectrum, shape ``rfft_shape(shape)``, or stacked
        blocks of shape ``(m, n, *rfft_shape(shape))``. It must be the real
        FFT of a real kernel (Hermitian), so that ``A`` maps reals to reals.
    shape : tuple of int
        Spatial shape of the arrays.
    stacked_in, stacked_out : bool
        Whether the input (output) has a leading axis of ``n`` (``m``) components.
    name : str, optional
        Text shown by ``repr``.
    """

    applies_by_fft = True

    def __init__(
        self,
        transfer_function: Any,
        shape: tuple[int, ...],
        *,
        stacked_in: bool = False,
        stacked_out: bool = False,
        name: str | None = None,
    ) -> None:
        shape = tuple(int(n) for n in shape)
        half = rfft_shape(shape)
        blocks = transfer_function
        if tuple(blocks.shape) == half:
            blocks = blocks[None, None]
        if tuple(blocks.shape[2:]) != half or blocks.ndim != len(shape) + 2:
            raise ValueError(
                f"transfer function of shape {blocks.shape} does not fit arrays of shape "
                f"{shape}: expected {half} (the rfftn half spectrum) or (m, n, *{half})"
            )
        m, n = blocks.shape[:2]
        if (n > 1 and not stacked_in) or (m > 1 and not stacked_out):
            raise ValueError(f"{m}x{n} blocks need stacked_in/stacked_out to be set")
        dims = (n, *shape) if stacked_in else shape
        dimsd = (m, *shape) if stacked_out else shape
        super().__init__(dims, dimsd, dtype=real_dtype(blocks.dtype), name=name)
        self.circulant_shape = shape
        self.stacked_in, self.stacked_out = stacked_in, stacked_out
        self._stored_blocks = blocks
        self._blocks_cache[(complex_dtype(blocks.dtype), backend_of(blocks))] = blocks
        self._conj_cache: dict[tuple, Any] = {}

    @property
    def home(self) -> str:
        return backend_of(self._stored_blocks)

    def _compute_blocks(self, dtype: np.dtype, backend: str) -> Any:
        return to_backend(self._stored_blocks, backend).astype(dtype, copy=False)

    def _compute_lipschitz(self) -> float:
        return _blocks_norm(self._stored_blocks)

    def __repr__(self) -> str:
        if self.name != type(self).__name__:
            return self.name
        return f"Circulant({_shape_text(self.circulant_shape)})"

    @property
    def transfer_function(self) -> Any:
        """``h`` on the half spectrum (for a stack: the ``(m, n, ...)`` blocks)."""
        blocks = self.circulant_blocks()
        return blocks[0, 0] if blocks.shape[:2] == (1, 1) else blocks

    def _apply_blocks(self, x: Any, adjoint: bool) -> Any:
        shape = self.circulant_shape
        axes = tuple(range(-len(shape), 0))
        spectrum = rfftn(x, axes)
        blocks = self.circulant_blocks(spectrum.dtype, like=spectrum)
        stacked_input = self.stacked_out if adjoint else self.stacked_in
        stacked_output = self.stacked_in if adjoint else self.stacked_out
        if not (stacked_input or stacked_output):
            if adjoint:
                kernels.multiply_conjugate(spectrum, blocks[0, 0])
            else:
                spectrum *= blocks[0, 0]
        else:
            if adjoint:
                key = (spectrum.dtype, backend_of(spectrum))
                if key not in self._conj_cache:
                    self._conj_cache[key] = blocks.swapaxes(0, 1).conj()
                blocks = self._conj_cache[key]
            xp = namespace(spectrum)
            if not stacked_input:
                spectrum = spectrum[None]
            spectrum = xp.einsum("ij...,j...->i...", blocks, spectrum)
            if not stacked_output:
                spectrum = spectrum[0]
        return irfftn(spectrum, shape, axes)

    def _forward(self, x):
        return self._apply_blocks(x, adjoint=False)

    def _adjoint_apply(self, y):
        return self._apply_blocks(y, adjoint=True)


def inverse(op: Operator, floor: float = 0.0) -> Circulant:
    """Exact (or truncated, with ``floor > 0``) inverse of a 1x1 circulant operator."""
    if not op.is_circulant:
        raise ValueError(
            f"{op!r} is not in the circulant family, so it has no exact inverse: "
            "use an iterative solver (deconvkit.solvers) instead"
        )
    blocks = op.circulant_blocks(keep=False)
    own = blocks.dtype
    if blocks.shape[:2] != (1, 1) or op.stacked_in or op.stacked_out:
        raise ValueError(
            f"{op!r} maps {_shape_text(op.dims)} -> {_shape_text(op.dimsd)}: only square, "
            "unstacked circulant operators can be inverted (form A.H @ A first)"
        )
    if floor < 0 or not np.isfinite(floor):
        raise ValueError(f"floor must be a finite number >= 0, got {floor}")
    xp = namespace(blocks)
    if floor == 0.0:
        if _has_zeros(blocks) and own != np.complex128:
            # A well-posed sum such as I + c·LᴴL can span more magnitudes than float32
            # resolves; decide (and invert) in double precision before calling it singular.
            blocks = op.circulant_blocks(np.float64, keep=False)
        zeros = _has_zeros(blocks)
        if zeros:
            raise ValueError(
                f"{op!r} is singular: its transfer function vanishes at {zeros} of "
                f"{blocks.size} frequencies; pass floor > 0 for the truncated inverse "
                "or regularize (e.g. (A.H @ A + lam * Identity(shape)).inv())"
            )
        inverted = (1.0 / blocks).astype(own, copy=False)
    else:
        magnitude = xp.abs(blocks)
        safe = xp.where(magnitude > floor, blocks, 1.0)
        inverted = xp.where(magnitude > floor, 1.0 / safe, 0.0).astype(own)
    return Circulant(inverted, op.circulant_shape, name=f"({op!r}).inv()")


def _has_zeros(blocks: Any) -> int:
    """How many transfer-function values are zero to the blocks' precision."""
    xp = namespace(blocks)
    magnitude = xp.abs(blocks)
    tiny = float(xp.max(magnitude)) * np.finfo(real_dtype(blocks.dtype)).eps
    return int(xp.count_nonzero(magnitude <= tiny))
