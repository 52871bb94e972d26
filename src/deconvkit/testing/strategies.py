"""Hypothesis strategies for testing operators and costs on nd-arrays.

Requires ``hypothesis`` (``pip install deconvkit[test]``). Arrays are drawn
from a seed rather than element by element, so examples stay fast and shrink
to small shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from ._operators import random_array

__all__ = ["shapes", "spacings", "dtypes", "psfs", "arrays", "arrays_for"]


def shapes(min_dims: int = 1, max_dims: int = 3, min_side: int = 1, max_side: int = 12):
    """Shapes of 1 to 3 axes with odd and even sizes (size-1 axes included)."""
    return st.integers(min_dims, max_dims).flatmap(
        lambda ndim: st.tuples(*[st.integers(min_side, max_side)] * ndim)
    )


def spacings(ndim: int, min_value: float = 0.05, max_value: float = 5.0):
    """Voxel spacings (µm), one positive value per axis."""
    return st.tuples(*[st.floats(min_value, max_value, allow_nan=False)] * ndim)


def dtypes():
    """float32 and float64."""
    return st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])


def arrays(shape: tuple[int, ...], dtype: Any = np.float64):
    """Standard normal arrays of ``shape`` drawn from a seed."""
    return st.integers(0, 2**32 - 1).map(
        lambda seed: random_array(tuple(shape), dtype, np.random.default_rng(seed))
    )


def arrays_for(op: Any, dtype: Any = None, adjoint: bool = False):
    """Arrays an operator takes (``op.dims``), or its adjoint takes (``op.dimsd``)."""
    return arrays(op.dimsd if adjoint else op.dims, op.dtype if dtype is None else dtype)


def psfs(shape: tuple[int, ...], dtype: Any = np.float64):
    """Non-negative PSFs of sum 1 that fit in ``shape`` (odd and even sizes)."""

    def build(sides_and_seed):
        *sides, seed = sides_and_seed
        psf = np.random.default_rng(seed).random(tuple(sides)) + 1e-3
        return (psf / psf.sum()).astype(dtype)

    return st.tuples(*[st.integers(1, n) for n in shape], st.integers(0, 2**32 - 1)).map(build)
