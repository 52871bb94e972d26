"""Elementwise operators: Identity, Diagonal (weights) and Mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import backend_of, namespace, ones, rfft_shape, to_backend
from ._base import Operator, _shape_text
from ._checks import check_finite, check_shape

__all__ = ["Identity", "Diagonal", "Mask"]


class Identity(Operator):
    """``I x = x`` on arrays of ``shape``; a circulant member with transfer function 1."""

    single_entry_rows = single_entry_cols = True

    def __init__(self, shape: tuple[int, ...], dtype: Any = "float32") -> None:
        shape = check_shape(shape)
        super().__init__(shape, shape, dtype=dtype)
        self.circulant_shape = shape

    def _forward(self, x):
        return x.copy()

    _adjoint_apply = _forward

    def _adjoint(self):
        return self

    def _compute_lipschitz(self):
        return 1.0

    @property
    def semi_orthogonal(self):
        return 1.0

    def abs_operator(self, power=1.0):
        return self

    def _compute_blocks(self, dtype, backend):
        return ones((1, 1, *rfft_shape(self.dims)), dtype=dtype, backend=backend)


class Diagonal(Operator):
    r"""Elementwise weights: :math:`(W x)[n] = w[n]\, x[n]`, adjoint :math:`\bar w[n]\, y[n]`.

    Parameters
    ----------
    weights : array
        The weights, with the shape of the arrays the operator acts on.
    """

    single_entry_rows = single_entry_cols = True

    def __init__(self, weights: Any) -> None:
        xp = namespace(weights)
        weights = xp.asarray(weights)
        check_shape(weights.shape, "the weights' shape")
        check_finite(weights, "the weights")
        super().__init__(weights.shape, weights.shape, dtype=np.result_type(weights.dtype, np.float32))
        self.weights = weights
        self._cast: dict[tuple, Any] = {}

    @property
    def home(self) -> str:
        return backend_of(self.weights)

    def _weights_for(self, like):
        key = (like.dtype, backend_of(like))
        if key not in self._cast:
            self._cast[key] = to_backend(self.weights, key[1]).astype(like.dtype, copy=False)
        return self._cast[key]

    def _forward(self, x):
        return x * self._weights_for(x)

    def _adjoint_apply(self, y):
        return y * self._weights_for(y).conj()

    def _compute_lipschitz(self):
        return float(namespace(self.weights).max(abs(self.weights)))

    def abs_operator(self, power=1.0):
        xp = namespace(self.weights)
        return Diagonal(xp.abs(self.weights) ** power)

    def __repr__(self):
        return f"{self.name}({_shape_text(self.dims)})"


class Mask(Diagonal):
    """Keep the voxels where ``mask`` is true, zero the others (self-adjoint projection)."""

    def __init__(self, mask: Any) -> None:
        xp = namespace(mask)
        super().__init__(xp.asarray(mask, dtype=bool).astype(np.float32))

    def abs_operator(self, power=1.0):
        return self  # entries 0 and 1

    def _adjoint(self):
        return self
