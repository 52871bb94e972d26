"""Input checks shared by the PSF models and the bead tools.

Every check raises a ``ValueError`` whose message names the problem and says
how to fix it, so that a user who mixes up nanometres and micrometres, or
passes an even-sized box, learns what to change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "check_nonnegative",
    "check_numerical_aperture",
    "check_oversample",
    "check_refractive_index",
    "check_shape",
    "check_spacing",
    "check_volume",
    "check_wavelength",
]

#: Longest wavelength accepted, in µm; larger values are almost surely nanometres.
MAX_WAVELENGTH_UM = 10.0


def check_shape(shape: Sequence[int], name: str = "shape") -> tuple[int, int, int]:
    """Return ``shape`` as three odd positive ints (Z, Y, X) or raise ``ValueError``."""
    try:
        sizes = tuple(int(size) for size in shape)
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of 3 odd sizes (nz, ny, nx), got {shape!r}"
        ) from None
    if len(sizes) != 3 or any(size != value for size, value in zip(sizes, shape)):
        raise ValueError(
            f"{name} must have 3 integer sizes (nz, ny, nx) in ZYX order, got {tuple(shape)!r}"
        )
    if any(size < 1 for size in sizes):
        raise ValueError(f"{name} sizes must be positive, got {sizes}")
    if any(size % 2 == 0 for size in sizes):
        suggestion = tuple(size + 1 if size % 2 == 0 else size for size in sizes)
        raise ValueError(
            f"{name} {sizes} has even sizes; use odd sizes, e.g. {suggestion}, so that the "
            "centre voxel is the focus"
        )
    return sizes  # type: ignore[return-value]


def check_spacing(spacing: Sequence[float] | float) -> tuple[float, float, float]:
    """Return ``spacing`` as three positive floats (dz, dy, dx) in µm or raise."""
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.ndim != 1 or values.size != 3:
        raise ValueError(
            "spacing must have 3 values (dz, dy, dx) in µm, in ZYX order; "
            f"got {values.size} value(s): {np.asarray(spacing).tolist()!r}"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            f"spacing values must be positive and finite (voxel size in µm), got {tuple(values)}"
        )
    return tuple(float(value) for value in values)  # type: ignore[return-value]


def check_wavelength(wavelength: float, name: str = "wavelength") -> float:
    """Return a wavelength in µm, refusing non-positive values and likely nanometres."""
    value = float(wavelength)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"{name} must be positive, in µm (e.g. 0.52 for 520 nm), got {wavelength!r}"
        )
    if value > MAX_WAVELENGTH_UM:
        raise ValueError(
            f"{name}={value:g} µm looks like nanometres; give it in µm "
            f"(e.g. {value / 1000:g} for {value:g} nm)"
        )
    return value


def check_refractive_index(value: float, name: str) -> float:
    """Return a refractive index (a finite value >= 1) or raise."""
    index = float(value)
    if not np.isfinite(index) or index < 1.0:
        raise ValueError(
            f"{name} is a refractive index and must be >= 1 (e.g. 1.515 for oil, "
            f"1.33 for water), got {value!r}"
        )
    return index


def check_numerical_aperture(na: float, ni: float, immersion_name: str = "ni") -> float:
    """Return ``na`` after checking ``0 < na < ni`` (NA = n sin(alpha) < n)."""
    value = float(na)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"na (numerical aperture) must be positive, got {na!r}")
    if value >= ni:
        raise ValueError(
            f"na={value:g} must be smaller than the immersion index {immersion_name}={ni:g} "
            "(NA = n sin(alpha) < n); check the objective's NA and its immersion medium"
        )
    return value


def check_nonnegative(value: float, name: str, unit: str = "µm") -> float:
    """Return a finite value >= 0 or raise (thicknesses, depths, pinhole sizes)."""
    number = float(value)
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be >= 0 ({unit}), got {value!r}")
    return number


def check_oversample(oversample: int) -> int:
    """Return the integer oversampling factor (>= 1) or raise."""
    if isinstance(oversample, bool) or int(oversample) != oversample or int(oversample) < 1:
        raise ValueError(
            f"oversample must be an integer >= 1 (1 = point samples at voxel centres), "
            f"got {oversample!r}"
        )
    return int(oversample)


def check_volume(volume: ArrayLike, name: str = "stack", dtype: type = np.float64) -> np.ndarray:
    """Return a finite, non-empty 3D copy of ``volume`` as ``dtype`` or raise."""
    array = np.asarray(volume)
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be a 3D array in ZYX order, got {array.ndim} dimension(s) "
            f"with shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass a non-empty 3D stack")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = array.astype(dtype)
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s); replace them "
            "(e.g. with np.nan_to_num or the local background) before computing a PSF"
        )
    return array
