r"""Phantoms: beads, hollow shells, a smooth cytoplasm, and their mixture.

Every phantom takes ``(shape, spacing, *, ..., seed)`` and returns a
non-negative float32 array of ``shape`` (ZYX or YX); the same seed gives the
same array. Lengths are in µm, so anisotropic voxels are respected (a sphere
in µm is a sphere, whatever the voxel size). Values are densities in
arbitrary units; :func:`deconvkit.simulate.observe` scales them to photons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft

from ._common import (
    DEFAULT_SPACING,
    FWHM_PER_SIGMA,
    TRUNCATE,
    Seed,
    check_count,
    check_grid,
    check_margin,
    check_nonnegative,
    check_positive,
    check_range,
    voxel_variance,
)
from ._filaments import filaments

__all__ = ["KINDS", "MIXTURE", "beads", "cytoplasm", "phantom", "shells"]

#: Phantom kinds accepted by :func:`phantom`.
KINDS = ("mixed", "beads", "filaments", "shells", "cytoplasm")

#: Peak density (mean for the cytoplasm) of each component of ``phantom(kind="mixed")``.
MIXTURE = {"cytoplasm": 0.05, "shells": 0.5, "filaments": 0.5, "beads": 3.0}


def beads(
    shape: Sequence[int],
    spacing: float | Sequence[float] = DEFAULT_SPACING,
    *,
    n: int = 20,
    intensity: float | Sequence[float] = 1.0,
    margin: float | Sequence[float] = 0.0,
    seed: Seed = None,
) -> np.ndarray:
    """Sub-resolution beads: single bright voxels at random positions.

    Parameters
    ----------
    shape : tuple of int
        ``(nz, ny, nx)`` or ``(ny, nx)``.
    spacing : float or tuple of float
        Voxel size in µm, one per axis or one for all (default 0.1).
    n : int
        Number of beads.
    intensity : float or (low, high)
        Value of every bead voxel, or a range to draw each from uniformly.
    margin : float or tuple of float
        Least distance in µm between a bead and the outermost voxel centres
        (rounded up to whole voxels per axis), e.g. the PSF's half size so
        that every bead's full image is in the field.
    seed : int, Generator or None
        Random seed; the same seed gives the same beads.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape`` with exactly ``n`` non-zero voxels (no two
        beads share a voxel), each in ``[low, high]``; the sum is
        ``n * intensity`` for a single intensity.
    """
    shape, spacing = check_grid(shape, spacing)
    n = check_count(n)
    low, high = check_range(intensity, "intensity")
    margin = check_margin(margin, spacing)
    border = np.ceil(margin / spacing - 1e-9).astype(int)
    region = np.asarray(shape) - 2 * border
    if np.any(region < 1) or n > np.prod(region):
        raise ValueError(
            f"{n} beads do not fit in a {shape} field with a margin of {tuple(margin)} µm "
            f"({tuple(int(b) for b in border)} voxels): use fewer beads or a smaller margin"
        )
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(region)), size=n, replace=False)
    index = tuple(i + b for i, b in zip(np.unravel_index(flat, tuple(region)), border))
    out = np.zeros(shape, np.float32)
    out[index] = rng.uniform(low, high, n) if high > low else low
    return out


#: Draws of a shell's centre before accepting one that overlaps an earlier shell.
_PLACEMENT_TRIES = 50


def _shell_centre(rng, extent: np.ndarray, outer: float, placed: list) -> np.ndarray:
    """A centre whose sphere fits in the field on every axis where it can (centred otherwise)
    and does not overlap the ``placed`` ``(centre, outer radius)`` pairs, if it can."""
    low = np.minimum(outer, extent / 2)
    high = np.maximum(extent - outer, extent / 2)
    for _ in range(_PLACEMENT_TRIES):
        centre = low + rng.random(len(extent)) * (high - low)
        if all(np.linalg.norm(centre - c) >= outer + r for c, r in placed):
            break
    placed.append((centre, outer))
    return centre


def shells(
    shape: Sequence[int],
    spacing: float | Sequence[float] = DEFAULT_SPACING,
    *,
    n: int = 3,
    radius: float | Sequence[float] | None = None,
    thickness: float = 0.2,
    intensity: float = 1.0,
    seed: Seed = None,
) -> np.ndarray:
    r"""Hollow spheres (circles in 2D), like nuclear envelopes.

    Shell :math:`k` has centre :math:`c_k` and radius :math:`R_k` in µm; its
    wall has a Gaussian radial profile of full width ``thickness``, and each
    voxel holds the wall's density averaged over the voxel along the radius:

    .. math:: f(x) = I\,\frac{\sigma}{\sigma_x}
              \exp\!\Big(-\frac{(\lVert x - c_k\rVert - R_k)^2}{2\sigma_x^2}\Big),
              \quad \sigma = \frac{\mathrm{thickness}}{2\sqrt{2\ln 2}},
              \quad \sigma_x^2 = \sigma^2 + \sum_i \frac{u_i^2 s_i^2}{12},

    with :math:`u` the radial unit vector (the voxel's extent along the radius,
    so thin walls keep their integrated density on coarse grids). Distances
    are in µm, so shells are round whatever the voxel size.

    Parameters
    ----------
    shape : tuple of int
        ``(nz, ny, nx)`` or ``(ny, nx)``.
    spacing : float or tuple of float
        Voxel size in µm, one per axis or one for all (default 0.1).
    n : int
        Number of shells.
    radius : float or (low, high), optional
        Radius in µm, or a range to draw each from uniformly. Default: 15 % to
        30 % of the field's smallest extent.
    thickness : float
        Full width at half maximum of the wall, µm.
    intensity : float
        Peak density :math:`I` of the wall.
    seed : int, Generator or None
        Random seed; the same seed gives the same shells.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, non-negative, hollow: about 0 at the centre
        of a shell whose radius exceeds a few thicknesses.

    Notes
    -----
    A centre is drawn uniformly where the whole shell fits in the field
    (centred on an axis too short for it), again (up to 50 draws) while the
    shell would overlap an earlier one; when the field is too crowded the
    last draw is kept and overlapping walls add up. The integrated density of one shell
    (:math:`\sum_j f_j \prod_i s_i` when it is inside the field) is
    :math:`I\sqrt{2\pi}\,\sigma\cdot 4\pi(R^2 + \sigma^2)` in 3D and
    :math:`I\sqrt{2\pi}\,\sigma\cdot 2\pi R` in 2D.
    """
    shape, spacing = check_grid(shape, spacing)
    n = check_count(n)
    sigma = check_positive(thickness, "thickness", " (µm, full width at half maximum)")
    sigma /= FWHM_PER_SIGMA
    intensity = check_positive(intensity, "intensity")
    extent = (np.asarray(shape) - 1) * spacing
    if radius is None:
        smallest = float(np.min(np.asarray(shape) * spacing))
        radius = (0.15 * smallest, 0.3 * smallest)
    radius_low, radius_high = check_range(radius, "radius", " (µm)")
    rng = np.random.default_rng(seed)
    out = np.zeros(shape, np.float64)
    reach = TRUNCATE * float(np.sqrt(sigma**2 + voxel_variance(spacing).max()))
    placed: list = []
    for _ in range(n):
        r0 = rng.uniform(radius_low, radius_high)
        centre = _shell_centre(rng, extent, r0 + thickness, placed)
        first = np.maximum(np.floor((centre - r0 - reach) / spacing), 0).astype(int)
        last = np.minimum(np.ceil((centre + r0 + reach) / spacing), np.asarray(shape) - 1)
        last = last.astype(int)
        box = tuple(slice(a, b + 1) for a, b in zip(first, last))
        offsets = np.ogrid[box]
        delta = [o * s - c for o, s, c in zip(offsets, spacing, centre)]
        squares = sum(d * d for d in delta)
        r = np.sqrt(squares)
        along = sum(d * d * v for d, v in zip(delta, voxel_variance(spacing)))
        safe = np.where(squares > 0, squares, 1.0)
        variance = sigma**2 + np.where(squares > 0, along / safe, voxel_variance(spacing).mean())
        wall = np.exp(-((r - r0) ** 2) / (2 * variance))
        out[box] += intensity * sigma / np.sqrt(variance) * wall
    return out.astype(np.float32)


def cytoplasm(
    shape: Sequence[int],
    spacing: float | Sequence[float] = DEFAULT_SPACING,
    *,
    intensity: float = 1.0,
    scale: float = 1.0,
    contrast: float = 0.5,
    seed: Seed = None,
) -> np.ndarray:
    r"""A smooth, strictly positive, low-frequency background (log-normal filtered noise).

    White Gaussian noise is smoothed by a Gaussian of standard deviation
    ``scale`` µm (periodically, in Fourier space), standardized to
    :math:`g` (zero mean, unit variance over the array) and exponentiated:

    .. math:: f = I\, \frac{e^{c g}}{\operatorname{mean}(e^{c g})}

    Parameters
    ----------
    shape : tuple of int
        ``(nz, ny, nx)`` or ``(ny, nx)``.
    spacing : float or tuple of float
        Voxel size in µm, one per axis or one for all (default 0.1).
    intensity : float
        Mean value :math:`I` (exact, up to rounding).
    scale : float
        Smoothing length in µm: features are about this size and larger.
    contrast : float
        :math:`c`, the standard deviation of :math:`\log f` (0 gives a constant).
    seed : int, Generator or None
        Random seed; the same seed gives the same texture.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, strictly positive, mean ``intensity``, and
        periodic (it tiles without seams).
    """
    shape, spacing = check_grid(shape, spacing)
    intensity = check_positive(intensity, "intensity")
    scale = check_positive(scale, "scale", " (µm)")
    contrast = check_nonnegative(contrast, "contrast")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(shape)
    axes = tuple(range(len(shape)))
    frequencies = [scipy.fft.fftfreq(m, d=s) for m, s in zip(shape[:-1], spacing[:-1])]
    frequencies.append(scipy.fft.rfftfreq(shape[-1], d=spacing[-1]))
    squared = sum(f.reshape([-1 if a == i else 1 for a in axes]) ** 2
                  for i, f in enumerate(frequencies))
    spectrum = scipy.fft.rfftn(noise, axes=axes) * np.exp(-2.0 * np.pi**2 * scale**2 * squared)
    smooth = scipy.fft.irfftn(spectrum, s=shape, axes=axes)
    smooth -= smooth.mean()
    std = smooth.std()
    field = np.exp(contrast * smooth / std) if std > 0 else np.ones(shape)
    return (field * (intensity / field.mean())).astype(np.float32)


def phantom(
    shape: Sequence[int],
    spacing: float | Sequence[float] = DEFAULT_SPACING,
    *,
    kind: str = "mixed",
    seed: Seed = None,
) -> np.ndarray:
    """A test object: one kind of structure, or a cell-like mixture of all of them.

    Parameters
    ----------
    shape : tuple of int
        ``(nz, ny, nx)`` or ``(ny, nx)``.
    spacing : float or tuple of float
        Voxel size in µm, one per axis or one for all (default 0.1).
    kind : {"mixed", "beads", "filaments", "shells", "cytoplasm"}
        A single kind is that function with its defaults and this seed
        (``phantom(s, d, kind="beads", seed=1)`` equals ``beads(s, d, seed=1)``).
        ``"mixed"`` sums, with independent seeds drawn from ``seed``:
        ``cytoplasm`` (mean 0.05), 3 ``shells`` (peak 0.5), 10 ``filaments``
        (peak 0.5) and 20 ``beads`` (3.0, so a bead, one voxel, stays visible
        after blurring); see :data:`MIXTURE`.
    seed : int, Generator or None
        Random seed; the same seed gives the same phantom.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, strictly positive for ``"mixed"``.
    """
    makers = {"beads": beads, "filaments": filaments, "shells": shells, "cytoplasm": cytoplasm}
    if kind in makers:
        return makers[kind](shape, spacing, seed=seed)
    if kind != "mixed":
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    seeds = dict(zip(MIXTURE, rng.integers(0, 2**63 - 1, size=len(MIXTURE))))
    parts = [makers[name](shape, spacing, intensity=value, seed=int(seeds[name]))
             for name, value in MIXTURE.items()]
    return np.sum(parts, axis=0, dtype=np.float64).astype(np.float32)
