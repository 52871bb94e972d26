r"""From a radial profile :math:`h(r, z)` to a voxel grid, with voxel integration.

Every model here is rotationally symmetric about the optical axis, so it is
computed once as a radial profile on a fine radial grid for all axial
positions at once, then mapped onto the 3D grid.  With an oversampling factor
:math:`s`, each voxel value is the mean of the profile over :math:`s^3`
sub-samples at :math:`(i + (m + 1/2)/s - 1/2)\,\Delta` for :math:`m = 0..s-1`
on each axis (the voxel integral by the midpoint rule): laterally this is the
camera pixel integration, axially the average over the z step.  The lateral
part (linear interpolation in :math:`r`, then the pixel mean) is one sparse
matrix applied to all planes at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse

__all__ = [
    "axial_samples",
    "bin_axial",
    "normalized_float32",
    "radial_samples",
    "radial_step",
    "radial_to_grid",
    "render_radial",
    "subsample_offsets",
]

#: Radial samples per lateral resolution length lambda/NA, at least.
_RADIAL_SAMPLES_PER_RESOLUTION = 80


def subsample_offsets(oversample: int) -> np.ndarray:
    """Sub-sample offsets inside a voxel, in voxel units, centred on 0."""
    return (np.arange(oversample) + 0.5) / oversample - 0.5


def axial_samples(size: int, step: float, oversample: int) -> np.ndarray:
    """Axial sub-sample positions (µm) relative to the centre voxel, shape (size * oversample,)."""
    index = np.arange(size) - size // 2
    return ((index[:, None] + subsample_offsets(oversample)[None, :]) * step).ravel()


def radial_step(lateral_spacing: tuple[float, float], oversample: int, resolution: float) -> float:
    """Radial sampling step (µm): fine against both the sub-pixel pitch and ``resolution``."""
    pitch = min(lateral_spacing) / oversample
    return min(pitch / 2.0, resolution / _RADIAL_SAMPLES_PER_RESOLUTION)


def radial_samples(
    lateral_shape: tuple[int, int],
    lateral_spacing: tuple[float, float],
    step: float,
    extra: float = 0.0,
) -> np.ndarray:
    """Radii 0, step, 2 step, ... covering the farthest sub-sample of the grid, plus ``extra``."""
    half_extent = [(n // 2 + 0.5) * d for n, d in zip(lateral_shape, lateral_spacing)]
    farthest = float(np.hypot(*half_extent)) + extra
    return np.arange(int(np.ceil(farthest / step)) + 3) * step


def bin_axial(profile: np.ndarray, oversample: int) -> np.ndarray:
    """Mean over groups of ``oversample`` consecutive axial sub-samples (axis 0)."""
    if oversample == 1:
        return profile
    return profile.reshape(-1, oversample, *profile.shape[1:]).mean(axis=1)


def _lateral_matrix(
    radii_step: float,
    n_radii: int,
    lateral_shape: tuple[int, int],
    lateral_spacing: tuple[float, float],
    oversample: int,
) -> scipy.sparse.csr_matrix:
    """Sparse (ny * nx, n_radii) map: linear interpolation in r, then the pixel mean."""
    ny, nx = lateral_shape
    dy, dx = lateral_spacing
    offsets = subsample_offsets(oversample)
    y = ((np.arange(ny) - ny // 2)[:, None] + offsets[None, :]) * dy  # (ny, s)
    x = ((np.arange(nx) - nx // 2)[:, None] + offsets[None, :]) * dx  # (nx, s)
    radius = np.hypot(y[:, :, None, None], x[None, None, :, :])  # (ny, s, nx, s)
    position = radius / radii_step
    lower = np.floor(position).astype(np.int64)
    fraction = position - lower
    pixel = np.broadcast_to(
        (np.arange(ny)[:, None, None, None] * nx + np.arange(nx)[None, None, :, None]),
        radius.shape,
    )
    weight = 1.0 / oversample**2
    rows = np.concatenate([pixel.ravel(), pixel.ravel()])
    cols = np.concatenate([lower.ravel(), lower.ravel() + 1])
    data = np.concatenate([((1.0 - fraction) * weight).ravel(), (fraction * weight).ravel()])
    if cols.max() >= n_radii:
        raise RuntimeError("internal error: the radial grid does not cover the lateral grid")
    return scipy.sparse.csr_matrix((data, (rows, cols)), shape=(ny * nx, n_radii))


def radial_to_grid(
    profile: np.ndarray,
    radii_step: float,
    lateral_shape: tuple[int, int],
    lateral_spacing: tuple[float, float],
    oversample: int,
) -> np.ndarray:
    """Map radial profiles (n_z, n_radii) onto (n_z, ny, nx) pixels, integrating each pixel."""
    matrix = _lateral_matrix(
        radii_step, profile.shape[1], lateral_shape, lateral_spacing, oversample
    )
    planes = matrix @ profile.T  # (ny * nx, n_z)
    return np.ascontiguousarray(planes.T).reshape(profile.shape[0], *lateral_shape)


def normalized_float32(volume: np.ndarray) -> np.ndarray:
    """Clip tiny negative round-off, normalize to sum 1 and return float32."""
    volume = np.clip(np.asarray(volume, dtype=np.float64), 0.0, None)
    total = volume.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(
            "the PSF is zero everywhere on this grid (the box may lie far from the focus); "
            "check shape, spacing and depth"
        )
    return (volume / total).astype(np.float32)


def render_radial(
    profile_function: Callable[[np.ndarray, np.ndarray], np.ndarray],
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    oversample: int,
    resolution: float,
) -> np.ndarray:
    """Evaluate ``profile_function(z, r) -> (n_z, n_r)`` and integrate it over every voxel.

    Parameters
    ----------
    profile_function : callable
        Intensity :math:`h(r, z)` on the outer product of axial positions ``z``
        (µm, relative to the centre voxel) and radii ``r`` (µm).
    shape, spacing : tuple
        Grid size (odd) and voxel size (µm), ZYX.
    oversample : int
        Sub-samples per voxel along each axis.
    resolution : float
        Lateral resolution length (µm, about lambda/NA) that sets the radial step.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The voxel-integrated PSF, normalized to sum 1.
    """
    step = radial_step(spacing[1:], oversample, resolution)
    radii = radial_samples(shape[1:], spacing[1:], step)
    z = axial_samples(shape[0], spacing[0], oversample)
    profile = bin_axial(profile_function(z, radii), oversample)
    volume = radial_to_grid(profile, step, shape[1:], spacing[1:], oversample)
    return normalized_float32(volume)
