r"""An experimental PSF from a stack of sub-resolution beads.

1. Detection: local maxima of the stack smoothed by a 1-voxel Gaussian, above a
   threshold (by default the median plus 20 % of the range above it).
2. Selection: a bead is kept if its box (plus a 2-voxel margin) lies inside the
   stack and no other detected bead is close enough for the two boxes to
   overlap (:math:`|\Delta_a| < n_a` along every axis).
3. Each box has the background subtracted, is cut at the bead's sub-voxel peak
   (cubic-spline resampling) and normalized to sum 1. The background is the
   mode of the histogram of the voxels far from every bead (outside a box twice
   the PSF box around each candidate, or 1.5 times, or once, whichever leaves
   at least a box's worth of voxels): a widefield PSF's tails reach the faces
   of a box of a few µm, and a median of those faces read 114 for a
   background of 100, which took the tails off and made the PSF's centre
   44 % too bright.
4. Registration: each bead is aligned on the current mean by the sub-voxel
   maximum of their cross-correlation (a parabola through the three samples
   around the correlation peak along each axis), twice.
5. The mean of the aligned beads is recentred, windowed, clipped and
   normalized as in :func:`prepare`.

The report gives the relative difference of each bead to the mean,
:math:`\|b_i - \bar b\|_2 / \|\bar b\|_2`, the dispersion of the measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike
from scipy import ndimage
from scipy.spatial import cKDTree

from ._checks import check_shape, check_spacing, check_volume
from ._prepare import (
    PEAK_SMOOTHING,
    background_level,
    background_mode,
    check_taper,
    extract,
    finish,
    noise_sigma,
    subvoxel_peak,
)

__all__ = ["BeadReport", "from_beads", "far_background"]

#: Voxels kept around each box so that sub-voxel resampling never reads outside.
_MARGIN = 2
#: Default detection threshold: median + this fraction of (max - median) of the smoothed stack.
_RELATIVE_THRESHOLD = 0.2
#: Registration passes (cross-correlation against the running mean).
_REGISTRATION_PASSES = 2
#: Exclusion boxes around each bead for the background, in PSF boxes, tried in turn.
_FAR_FACTORS = (2.0, 1.5, 1.0)


@dataclass(frozen=True)
class BeadReport:
    """What :func:`from_beads` did.

    Attributes
    ----------
    n_beads : int
        Beads averaged into the PSF.
    positions : ndarray, shape (n_beads, 3)
        Their sub-voxel centres in the stack, voxel coordinates (z, y, x).
    spacing : tuple of float
        Voxel size (dz, dy, dx), µm.
    n_candidates : int
        Local maxima above ``threshold`` (or positions given).
    rejected_border : int
        Candidates whose box did not fit inside the stack.
    rejected_crowded : int
        Candidates with another bead inside their box.
    threshold : float
        Detection threshold on the smoothed stack (NaN when positions were given).
    backgrounds : ndarray, shape (n_beads,)
        Background subtracted around each bead.
    deviations : ndarray, shape (n_beads,)
        Relative L2 difference of each aligned bead to the mean.
    """

    n_beads: int
    positions: np.ndarray
    spacing: tuple[float, float, float]
    n_candidates: int
    rejected_border: int
    rejected_crowded: int
    threshold: float
    backgrounds: np.ndarray = field(repr=False)
    deviations: np.ndarray = field(repr=False)

    @property
    def positions_um(self) -> np.ndarray:
        """Bead centres in µm (z, y, x) from the first voxel."""
        return self.positions * np.asarray(self.spacing)

    @property
    def dispersion(self) -> float:
        """Mean relative L2 difference between a bead and the mean (0 = identical beads)."""
        return float(np.mean(self.deviations))

    def __str__(self) -> str:
        lines = [
            (
                f"beads used: {self.n_beads} of {self.n_candidates} candidates "
                f"({self.rejected_border} at the border, {self.rejected_crowded} crowded)"
            ),
            f"dispersion (mean ||bead - mean|| / ||mean||): {self.dispersion:.3f}",
            "   z (µm)    y (µm)    x (µm)   background  deviation",
        ]
        for (z, y, x), bg, dev in zip(self.positions_um, self.backgrounds, self.deviations):
            lines.append(f"{z:9.3f} {y:9.3f} {x:9.3f} {bg:12.4g} {dev:10.3f}")
        return "\n".join(lines)


def _default_box(
    spacing: tuple[float, float, float], stack_shape: tuple[int, ...]
) -> tuple[int, int, int]:
    """About 6 µm axially and 4 µm laterally, odd, and small enough for the stack."""
    extent = (6.0, 4.0, 4.0)
    sizes = []
    for length, step, n in zip(extent, spacing, stack_shape):
        size = 2 * round(length / (2 * step)) + 1
        largest = n - 2 * _MARGIN - (1 - (n - 2 * _MARGIN) % 2)
        sizes.append(max(1, min(size, largest)))
    return tuple(sizes)  # type: ignore[return-value]


def _detect(smoothed: np.ndarray, threshold: float | None) -> tuple[np.ndarray, float]:
    """Local maxima (3x3x3) of the smoothed stack above ``threshold``, brightest first."""
    if threshold is None:
        median = float(np.median(smoothed))
        threshold = median + _RELATIVE_THRESHOLD * (float(smoothed.max()) - median)
    is_peak = (smoothed == ndimage.maximum_filter(smoothed, size=3, mode="nearest")) & (
        smoothed > threshold
    )
    peaks = np.argwhere(is_peak)
    order = np.argsort(-smoothed[tuple(peaks.T)], kind="stable")
    return peaks[order], float(threshold)


def _snap(smoothed: np.ndarray, positions: ArrayLike) -> np.ndarray:
    """Given approximate centres (n, 3), the brightest smoothed voxel within 2 voxels of each."""
    points = np.asarray(positions, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3 or not np.all(np.isfinite(points)):
        raise ValueError(
            "positions must be an (n, 3) array of finite voxel coordinates (z, y, x), "
            f"got shape {points.shape}"
        )
    if points.shape[0] == 0:
        raise ValueError("positions is empty; pass at least one bead centre or None to detect them")
    upper = np.array(smoothed.shape) - 1
    if np.any(points < 0) or np.any(points > upper):
        raise ValueError(
            f"positions must lie inside the stack (0 <= z, y, x <= {tuple(upper)}), "
            "in voxel coordinates (z, y, x), not µm"
        )
    snapped = []
    for point in np.round(points).astype(int):
        low = np.maximum(point - 2, 0)
        high = np.minimum(point + 3, smoothed.shape)
        window = smoothed[tuple(slice(a, b) for a, b in zip(low, high))]
        snapped.append(low + np.array(np.unravel_index(np.argmax(window), window.shape)))
    return np.array(snapped)


def _select(
    peaks: np.ndarray, stack_shape: tuple[int, ...], box: tuple[int, int, int]
) -> tuple[np.ndarray, int, int]:
    """Keep peaks whose box fits and that have no neighbour within a box size on every axis."""
    box_array = np.array(box)
    half = box_array // 2 + _MARGIN
    fits = np.all((peaks - half >= 0) & (peaks + half < np.array(stack_shape)), axis=1)
    # Boxes overlap when |delta_a| < box_a on every axis: a Chebyshev distance < 1 once
    # each axis is divided by the box size (integer positions, so |delta| = box gives 1).
    pairs = cKDTree(peaks / box_array).query_pairs(1.0 - 1e-9, p=np.inf, output_type="ndarray")
    crowded = np.zeros(len(peaks), dtype=bool)
    crowded[pairs.ravel()] = True
    keep = fits & ~crowded
    return peaks[keep], int((~fits).sum()), int((fits & crowded).sum())


def _correlation_shift(moving: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Sub-voxel shift d with moving(x + d) ~ reference(x), from the cross-correlation peak."""
    spectrum = scipy.fft.rfftn(moving) * np.conj(scipy.fft.rfftn(reference))
    correlation = scipy.fft.irfftn(spectrum, s=moving.shape)
    index = np.array(np.unravel_index(np.argmax(correlation), correlation.shape))
    shift = np.where(
        index > np.array(moving.shape) // 2, index - np.array(moving.shape), index
    ).astype(float)
    for axis, n in enumerate(moving.shape):
        if n < 3:
            continue
        samples = []
        for step in (-1, 0, 1):
            where = index.copy()
            where[axis] = (where[axis] + step) % n
            samples.append(correlation[tuple(where)])
        curvature = samples[0] - 2.0 * samples[1] + samples[2]
        if curvature < 0:
            shift[axis] += float(np.clip(0.5 * (samples[0] - samples[2]) / curvature, -0.5, 0.5))
    return shift


def far_background(
    volume: np.ndarray, peaks: np.ndarray, box: Sequence[int]
) -> tuple[float, float] | None:
    """The background from the voxels far from every bead: ``(level, factor)``, or None.

    ``factor`` is the size of the exclusion box around each peak, in PSF boxes
    (the first of :data:`_FAR_FACTORS` that leaves at least ``prod(box)``
    voxels); the level is :func:`background_mode` of the voxels left. None
    when no factor leaves enough (a crowded or small stack).
    """
    sigma = noise_sigma(volume)
    box_array = np.array(box)
    for factor in _FAR_FACTORS:
        half = np.floor(box_array * factor / 2).astype(int)
        far = np.ones(volume.shape, dtype=bool)
        for peak in np.asarray(peaks, dtype=int):
            far[tuple(slice(max(p - h, 0), p + h + 1) for p, h in zip(peak, half))] = False
        if int(far.sum()) >= int(np.prod(box_array)):
            return background_mode(volume[far], sigma), factor
    return None


def from_beads(
    stack: ArrayLike,
    spacing: Sequence[float],
    shape: Sequence[int] | None = None,
    positions: ArrayLike | None = None,
    *,
    threshold: float | None = None,
    background: float | str = "auto",
    taper: float = 0.25,
) -> tuple[np.ndarray, BeadReport]:
    r"""Average the isolated beads of a stack into an experimental PSF.

    .. math::

        \bar b = \frac{1}{N}\sum_{i=1}^N \frac{T_{c_i}(s - \beta_i)}{\sum T_{c_i}(s - \beta_i)},
        \qquad h = \mathrm{prepare}(\bar b)

    with :math:`s` the stack, :math:`\beta_i` the background around bead
    :math:`i` and :math:`T_{c_i}` the cut of a box centred on its sub-voxel
    position :math:`c_i`, refined by cross-correlation with :math:`\bar b`.

    Parameters
    ----------
    stack : array_like, shape (nz, ny, nx)
        Image of sub-resolution beads, ZYX; NaNs are refused.
    spacing : (float, float, float)
        Voxel size (dz, dy, dx), µm.
    shape : (int, int, int), optional
        Odd size of the PSF box; defaults to about 6 µm x 4 µm x 4 µm (ZYX).
    positions : array_like, shape (n, 3), optional
        Approximate bead centres in voxel coordinates (z, y, x); each is
        snapped to the brightest voxel within 2 voxels. Default: detect them.
    threshold : float, optional
        Detection threshold on the stack smoothed by a 1-voxel Gaussian, in the
        stack's units; default: median + 0.2 (max - median).
    background : "auto", "faces-median" or float
        Background subtracted around each bead. ``"auto"``: the mode of the
        histogram of the voxels far from every detected bead (see
        :func:`far_background`), one level for the stack; in a stack too
        crowded for that, the mode of each box's faces. ``"faces-median"``:
        the median of each box's faces (biased upward by the PSF's tails).
    taper : float
        Fraction of each axis tapered by the Tukey window (0 = no window).

    Returns
    -------
    psf : ndarray, float32, shape ``shape``
        Odd-sized, maximum on the centre voxel, non-negative, sum 1.
    report : BeadReport
        Beads used, their positions, the rejections and the bead-to-bead
        dispersion; ``print(report)`` shows it.

    Raises
    ------
    ValueError
        Empty stack, NaNs, bad spacing or shape, or no isolated bead found.
    """
    volume = check_volume(stack, "stack", dtype=np.float32)  # crops are made float64
    spacing = check_spacing(spacing)
    box = _default_box(spacing, volume.shape) if shape is None else check_shape(shape)
    if any(b + 2 * _MARGIN > n for b, n in zip(box, volume.shape)):
        raise ValueError(
            f"the PSF box {box} (plus a {_MARGIN}-voxel margin) is larger than the stack "
            f"{volume.shape}; pass a smaller odd shape"
        )
    taper = check_taper(taper)
    smoothed = ndimage.gaussian_filter(volume, PEAK_SMOOTHING, mode="nearest")
    if positions is None:
        candidates, threshold_used = _detect(smoothed, threshold)
    else:
        candidates, threshold_used = _snap(smoothed, positions), float("nan")
    kept, n_border, n_crowded = _select(candidates, volume.shape, box)
    if kept.shape[0] == 0:
        raise ValueError(
            f"no isolated beads found: {len(candidates)} candidate(s) above threshold "
            f"{threshold_used:.4g}, {n_border} too close to the border, {n_crowded} too close "
            f"to another bead for a box of {box}; lower `threshold`, pass `positions`, "
            "or use a smaller `shape`"
        )

    stack_level = None
    if isinstance(background, str) and background == "auto":
        found = far_background(volume, candidates, box)
        stack_level = None if found is None else found[0]
    half = np.array(box) // 2 + _MARGIN
    crops, centres, backgrounds = [], [], []
    for peak in kept:
        region = tuple(slice(p - h, p + h + 1) for p, h in zip(peak, half))
        crop = volume[region].astype(np.float64)
        level = stack_level if stack_level is not None else background_level(crop, background)
        crop -= level
        local = subvoxel_peak(crop, half)  # sub-voxel peak near the crop centre
        crops.append(crop)
        centres.append(local)
        backgrounds.append(level)

    def cut(crop: np.ndarray, centre: np.ndarray) -> np.ndarray:
        bead = extract(crop, centre, box, fill="nearest")
        total = bead.sum()
        return bead / total if total > 0 else bead

    beads = np.array([cut(c, x) for c, x in zip(crops, centres)])
    for _ in range(_REGISTRATION_PASSES):
        mean = beads.mean(axis=0)
        centres = [x + _correlation_shift(b, mean) for b, x in zip(beads, centres)]
        beads = np.array([cut(c, x) for c, x in zip(crops, centres)])
    mean = beads.mean(axis=0)
    deviations = np.array([np.linalg.norm(bead - mean) for bead in beads]) / np.linalg.norm(mean)

    centred = extract(mean, subvoxel_peak(mean), box)
    psf = finish(centred, taper)
    report = BeadReport(
        n_beads=len(beads),
        positions=kept - half + np.array(centres),
        spacing=spacing,
        n_candidates=len(candidates),
        rejected_border=n_border,
        rejected_crowded=n_crowded,
        threshold=threshold_used,
        backgrounds=np.array(backgrounds),
        deviations=deviations,
    )
    return psf, report
