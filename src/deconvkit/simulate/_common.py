"""Grids, seeds, argument checks and Gaussian splatting shared by the phantoms.

Coordinates are in µm with the origin at the centre of voxel ``(0, 0, 0)``:
voxel ``j`` on axis ``i`` has its centre at ``j * spacing[i]``, so an array of
``n`` voxels spans ``[0, (n - 1) * spacing[i]]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..operators._checks import check_shape, check_spacing

__all__ = [
    "DEFAULT_SPACING",
    "FWHM_PER_SIGMA",
    "TRUNCATE",
    "Seed",
    "check_count",
    "check_grid",
    "check_margin",
    "check_nonnegative",
    "check_positive",
    "check_range",
    "splat_gaussians",
    "voxel_variance",
]

#: Anything :func:`numpy.random.default_rng` accepts: an int, a SeedSequence, a Generator
#: (used as is, so its state advances), or None for fresh entropy.
Seed = int | np.random.SeedSequence | np.random.Generator | None

#: Voxel size in µm used when none is given (isotropic, every axis).
DEFAULT_SPACING = 0.1

#: Full width at half maximum of a Gaussian, in units of its standard deviation.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

#: Gaussian profiles are rendered out to this many standard deviations.
TRUNCATE = 4.0

# Points splatted per chunk are chosen so that a chunk holds about this many values.
_CHUNK_VALUES = 1 << 21


def check_grid(
    shape: Sequence[int], spacing: float | Sequence[float]
) -> tuple[tuple[int, ...], np.ndarray]:
    """``shape`` as 2 (YX) or 3 (ZYX) positive ints and ``spacing`` as one µm value per axis."""
    shape = check_shape(shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must have 2 (YX) or 3 (ZYX) axes, got {shape}")
    return shape, np.asarray(check_spacing(spacing, len(shape)), dtype=np.float64)


def check_positive(value: float, name: str, unit: str = "") -> float:
    """A finite number > 0."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite{unit}, got {value}")
    return value


def check_nonnegative(value: float, name: str, unit: str = "") -> float:
    """A finite number >= 0."""
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be non-negative and finite{unit}, got {value}")
    return value


def check_count(n: int, name: str = "n") -> int:
    """A non-negative integer count of objects."""
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"{name} must be a non-negative integer (a number of objects), got {n!r}")
    return int(n)


def check_range(value: float | Sequence[float], name: str, unit: str = "",
                positive: bool = True) -> tuple[float, float]:
    """A number or a ``(low, high)`` pair as a pair ``low <= high``; positive or non-negative."""
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.ndim != 1 or values.size not in (1, 2):
        raise ValueError(f"{name} must be a number or a (low, high) pair{unit}, got {value!r}")
    low, high = float(values[0]), float(values[-1])
    check = check_positive if positive else check_nonnegative
    check(low, name, unit)
    check(high, name, unit)
    if low > high:
        raise ValueError(
            f"{name} range ({low}, {high}) is reversed: give (low, high) with low <= high"
        )
    return low, high


def check_margin(margin: float | Sequence[float], spacing: np.ndarray) -> np.ndarray:
    """A margin in µm, one non-negative value per axis (one value for all axes accepted)."""
    values = np.atleast_1d(np.asarray(margin, dtype=np.float64))
    if values.ndim != 1 or values.size not in (1, spacing.size):
        raise ValueError(
            f"margin must be one distance in µm or one per axis ({spacing.size}), got {margin!r}"
        )
    for value in values:
        check_nonnegative(value, "margin", " (µm)")
    return np.broadcast_to(values, spacing.shape).copy()


def voxel_variance(spacing: np.ndarray) -> np.ndarray:
    r"""Variance :math:`s_i^2 / 12` of a uniform distribution over a voxel, per axis.

    Averaging a density over a voxel is a convolution with the voxel's box;
    a Gaussian of this variance approximates that box (same mean and variance).
    """
    return spacing**2 / 12.0


def splat_gaussians(
    shape: tuple[int, ...],
    spacing: np.ndarray,
    points: np.ndarray,
    weights: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    r"""Sum of normalized anisotropic Gaussians centred on ``points``, sampled at voxel centres.

    .. math:: f(x_j) = \sum_k w_k \prod_i \frac{1}{\sqrt{2\pi}\,\sigma_i}
              \exp\!\Big(-\frac{(j_i s_i - p_{k,i})^2}{2\sigma_i^2}\Big)

    truncated at ``TRUNCATE`` standard deviations. Vectorized over points and
    kernel offsets (chunks of points bound the memory).

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    spacing : (d,) array
        Voxel size in µm.
    points : (P, d) array
        Centres in µm.
    weights : (P,) array
        Integral of each Gaussian (µm^d units times density).
    sigma : (d,) array
        Standard deviation of the Gaussians per axis, in µm.

    Returns
    -------
    numpy.ndarray
        float64 array of ``shape``.
    """
    ndim = len(shape)
    out = np.zeros(int(np.prod(shape)), dtype=np.float64)
    if len(points) == 0:
        return out.reshape(shape)
    half = np.ceil(TRUNCATE * sigma / spacing).astype(int)
    offsets = [np.arange(-h, h + 1) for h in half]
    width = int(np.prod([len(o) for o in offsets]))
    chunk = max(1, _CHUNK_VALUES // width)
    norm = 1.0 / (np.sqrt(2.0 * np.pi) * sigma)
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        w = weights[start:start + chunk]
        centre = np.rint(p / spacing).astype(int)
        values = w.reshape(-1, *(1,) * ndim)
        flat = np.zeros((len(p),) + (1,) * ndim, dtype=np.int64)
        inside = np.ones((len(p),) + (1,) * ndim, dtype=bool)
        for axis in range(ndim):
            index = centre[:, axis, None] + offsets[axis]  # (P, 2h+1)
            profile = norm[axis] * np.exp(
                -0.5 * ((index * spacing[axis] - p[:, axis, None]) / sigma[axis]) ** 2
            )
            view = [len(p)] + [1] * ndim
            view[axis + 1] = len(offsets[axis])
            values = values * profile.reshape(view)
            inside = inside & ((index >= 0) & (index < shape[axis])).reshape(view)
            flat = flat * shape[axis] + index.reshape(view)
        values, flat = np.broadcast_arrays(values, flat)
        inside = np.broadcast_to(inside, flat.shape)
        np.add.at(out, flat[inside], values[inside])
    return out.reshape(shape)
