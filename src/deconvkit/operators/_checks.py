"""Validation of the arguments operators are built from, with messages that say the fix."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_shape", "check_spacing", "check_finite"]


def check_shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    """A tuple of positive ints, 1 to 3 (or more) axes."""
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise ValueError(f"{what} must be a tuple of ints such as (64, 256, 256), got {shape!r}")
    if not shape or any(n < 1 for n in shape):
        raise ValueError(f"{what} must have at least one axis and positive sizes, got {shape}")
    return shape


def check_spacing(spacing: Any, ndim: int) -> tuple[float, ...]:
    """Voxel spacing in physical units (µm), one positive number per axis; None means 1."""
    if spacing is None:
        return (1.0,) * ndim
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.size == 1:
        values = np.repeat(values, ndim)
    if values.ndim != 1 or values.size != ndim:
        raise ValueError(
            f"spacing has {values.size} values but the arrays have {ndim} axes: "
            f"give one voxel size per axis, e.g. (dz, dy, dx) in µm for 3D"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"spacing must be positive and finite (µm per voxel), got {tuple(values)}")
    return tuple(float(v) for v in values)


def check_finite(array: Any, what: str) -> None:
    """Refuse NaN and Inf with a message that names the array."""
    from ..backend import namespace

    xp = namespace(array)
    if not bool(xp.all(xp.isfinite(array))):
        bad = int(xp.count_nonzero(~xp.isfinite(array)))
        raise ValueError(f"{what} contains {bad} NaN or infinite values; clean or replace them first")
