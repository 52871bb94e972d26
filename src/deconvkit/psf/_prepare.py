r"""Turn a measured PSF into one fit for deconvolution.

The steps, shared with :func:`from_beads`: subtract the background, move the
peak to the centre voxel with sub-voxel accuracy, taper the edges with a Tukey
window, clip negatives and normalize to sum 1.

The sub-voxel peak is the vertex of a parabola through the logarithm of the
three samples around the maximum along each axis (exact for a Gaussian peak),

.. math::

    \delta = \frac{1}{2}\,\frac{\ln h_{-1} - \ln h_{+1}}{\ln h_{-1} - 2\ln h_0 + \ln h_{+1}},

taken on the PSF lightly smoothed (Gaussian, 1 voxel) so that noise does not
steer it; the move itself is a cubic-spline resampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal
from numpy.typing import ArrayLike
from scipy import ndimage

from ._checks import check_shape, check_volume

__all__ = ["prepare"]

#: Smoothing (voxels) applied before locating a peak.
PEAK_SMOOTHING = 1.0


def shell_median(volume: np.ndarray) -> float:
    """Median of the voxels on the six faces of ``volume`` (the old, biased background)."""
    return float(np.median(faces(volume)))


def faces(volume: np.ndarray) -> np.ndarray:
    """The voxels on the six faces of ``volume``, flattened."""
    mask = np.ones(volume.shape, dtype=bool)
    mask[tuple(slice(1, -1) if n > 2 else slice(0, 0) for n in volume.shape)] = False
    return volume[mask]


def noise_sigma(volume: np.ndarray) -> float:
    r"""Robust standard deviation of the noise, from differences of neighbours along x.

    :math:`\hat\sigma = 1.4826\,\mathrm{MAD}(v_{n+1} - v_n)/\sqrt 2`: a smooth
    signal (PSF tails, uneven background) cancels in the differences and the
    median ignores the beads' edges.
    """
    axis = int(np.argmax(volume.shape)) if volume.ndim else 0
    differences = np.diff(np.asarray(volume, dtype=np.float64), axis=axis).ravel()
    if differences.size == 0:
        return 0.0
    centre = np.median(differences)
    return float(1.4826 * np.median(np.abs(differences - centre)) / np.sqrt(2.0))


#: Half-width of the final averaging window of :func:`background_mode`, in noise sigmas.
MODE_WINDOW = 3.0


def background_mode(values: np.ndarray, sigma: float) -> float:
    r"""The background level of ``values``: the centre of their noise peak, ignoring tails.

    Two mean shifts from the median: one with a Gaussian kernel of width
    :math:`\sigma` (to the mode of the histogram, which light added by PSF tails
    and other beads does not move the way it moves the median and the mean),
    then one with a window of :math:`\pm 3\sigma` (the mean of the noise peak
    around that mode: a mode alone is biased by the skew of Poisson noise,
    by -0.25 at a background of 100, which times the tens of thousands of
    voxels of a PSF box is a percent of its flux; the window's mean is within
    0.08 of a Poisson mean of 10 to 1000 and exact for Gaussian noise).
    ``sigma`` of 0 (noise-free data) gives the median.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no voxels to estimate the background from; pass background= as a number")
    estimate = float(np.median(values))
    if not sigma > 0:
        return estimate
    for _ in range(200):  # Gaussian kernel: the mode
        weights = np.exp(-0.5 * np.square((values - estimate) / sigma))
        moved = float(np.dot(weights, values) / weights.sum())
        done = abs(moved - estimate) <= 1e-4 * sigma
        estimate = moved
        if done:
            break
    for _ in range(200):  # ±3σ window: the mean of the noise peak
        near = values[np.abs(values - estimate) <= MODE_WINDOW * sigma]
        if near.size == 0:
            break
        moved = float(near.mean())
        done = abs(moved - estimate) <= 1e-4 * sigma
        estimate = moved
        if done:
            break
    return estimate


def subvoxel_peak(
    volume: np.ndarray, near: Sequence[int] | None = None, reach: int = 2
) -> np.ndarray:
    """Sub-voxel position (z, y, x) of the maximum, searched within ``reach`` of ``near`` if given.

    The argmax is taken on a lightly smoothed copy, then refined per axis by the
    log-parabola vertex (a plain parabola where a sample is not positive),
    clipped to half a voxel.
    """
    smooth = ndimage.gaussian_filter(volume, PEAK_SMOOTHING, mode="nearest")
    if near is None:
        index = np.array(np.unravel_index(np.argmax(smooth), smooth.shape))
    else:
        low = np.maximum(np.asarray(near) - reach, 0)
        high = np.minimum(np.asarray(near) + reach + 1, smooth.shape)
        window = smooth[tuple(slice(a, b) for a, b in zip(low, high))]
        index = low + np.array(np.unravel_index(np.argmax(window), window.shape))
    position = index.astype(float)
    for axis in range(3):
        if not 0 < index[axis] < volume.shape[axis] - 1:
            continue
        samples = []
        for step in (-1, 0, 1):
            where = index.copy()
            where[axis] += step
            samples.append(smooth[tuple(where)])
        below, centre, above = samples
        if min(samples) > 0:
            below, centre, above = np.log(below), np.log(centre), np.log(above)
        curvature = below - 2.0 * centre + above
        if curvature < 0:
            position[axis] += float(np.clip(0.5 * (below - above) / curvature, -0.5, 0.5))
    return position


def extract(
    volume: np.ndarray, centre: np.ndarray, shape: Sequence[int], fill: str = "constant"
) -> np.ndarray:
    """Box of ``shape`` whose centre voxel samples ``volume`` at sub-voxel ``centre`` (cubic)."""
    half = np.array([n // 2 for n in shape], dtype=float)
    return ndimage.affine_transform(
        volume,
        np.ones(3),
        offset=np.asarray(centre, dtype=float) - half,
        output_shape=tuple(shape),
        order=3,
        mode=fill,
        cval=0.0,
    )


def tukey_window(shape: Sequence[int], taper: float) -> np.ndarray:
    """Separable Tukey window; ``taper`` is the tapered fraction of each axis (0 = none)."""
    window = np.ones(tuple(shape))
    if taper <= 0:
        return window
    for axis, n in enumerate(shape):
        profile = scipy.signal.windows.tukey(n + 2, alpha=taper)[1:-1]  # keep edge voxels > 0
        window = window * profile.reshape([-1 if a == axis else 1 for a in range(3)])
    return window


def _shift_whole_voxels(volume: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Shift by whole voxels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(volume)
    source, target = [], []
    for s, n in zip(shift, volume.shape):
        s = int(s)
        source.append(slice(max(-s, 0), n - max(s, 0)))
        target.append(slice(max(s, 0), n - max(-s, 0)))
    out[tuple(target)] = volume[tuple(source)]
    return out


def finish(volume: np.ndarray, taper: float) -> np.ndarray:
    """Window, clip negatives, put the maximum on the centre voxel, normalize; float32."""
    shape = volume.shape
    window = tukey_window(shape, taper)
    result = np.clip(volume * window, 0.0, None)
    centre = np.array([n // 2 for n in shape])
    peak = np.array(np.unravel_index(np.argmax(result), shape))
    if np.any(peak != centre):
        # Noise can make a neighbour of the sub-voxel peak the brightest voxel.
        result = np.clip(_shift_whole_voxels(volume, centre - peak) * window, 0.0, None)
    total = result.sum()
    if total <= 0:
        raise ValueError(
            "the PSF has no positive signal after background subtraction; check the "
            "background value or the bead positions"
        )
    return (result / total).astype(np.float32)


def check_taper(taper: float) -> float:
    """Return a taper fraction in [0, 1] or raise."""
    value = float(taper)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"taper is the tapered fraction of each axis, in [0, 1]; got {taper!r}")
    return value


def background_level(volume: np.ndarray, background: float | str) -> float:
    """The background to subtract: :func:`background_mode` of the faces for ``"auto"``, else the number.

    ``"faces-median"`` keeps the median of the faces (biased upward when the
    PSF's tails reach the faces, as a widefield PSF's do in a box of a few µm).
    """
    if isinstance(background, str):
        if background == "auto":
            return background_mode(faces(volume), noise_sigma(volume))
        if background == "faces-median":
            return shell_median(volume)
        raise ValueError(
            f"background must be 'auto', 'faces-median' or a number, got {background!r}"
        )
    value = float(background)
    if not np.isfinite(value):
        raise ValueError(f"background must be finite, got {background!r}")
    return value


def prepare(
    psf: ArrayLike,
    *,
    shape: Sequence[int] | None = None,
    background: float | str = "auto",
    taper: float = 0.25,
    recentre: bool = True,
) -> np.ndarray:
    r"""Clean a single measured PSF: background, sub-voxel recentring, window, clip, normalize.

    .. math::

        h = \frac{\max\big(0,\ w \cdot T_{\delta}(m - b)\big)}
                 {\sum \max\big(0,\ w \cdot T_{\delta}(m - b)\big)}

    with :math:`m` the measurement, :math:`b` the background, :math:`T_\delta` the
    sub-voxel translation that brings the peak to the centre voxel and
    :math:`w` a separable Tukey window.

    Parameters
    ----------
    psf : array_like, shape (nz, ny, nx)
        The measured PSF (e.g. an averaged bead), any size; NaNs are refused.
    shape : (int, int, int), optional
        Odd output size; defaults to the input size, made odd by dropping one
        voxel along even axes.
    background : "auto", "faces-median" or float
        Value subtracted first. ``"auto"``: :func:`background_mode` of the six
        faces, the estimator :func:`from_beads` applies to the voxels far from
        every bead. Right when the faces lie beyond the PSF's support: give a
        box about twice the PSF's extent, or the number (faces that cut a
        widefield PSF's tails read high whatever the estimator: 112.8 here,
        113 for their median, for a background of 100 in a 4 x 3 x 3 µm box).
        ``"faces-median"``: the median of the faces.
    taper : float
        Fraction of each axis tapered by the Tukey window (0 = no window).
    recentre : bool
        Move the peak to the centre voxel with sub-voxel accuracy. If False the
        box is cut around voxel ``n // 2`` and only moved by whole voxels, as
        far as needed to put the maximum on the centre voxel.

    Returns
    -------
    ndarray, float32, shape ``shape``
        Odd-sized, maximum on the centre voxel, non-negative, sum 1.

    Examples
    --------
    >>> import numpy as np
    >>> from deconvkit.psf import gaussian
    >>> measured = np.roll(gaussian((21, 31, 31), (0.2, 0.1, 0.1), 1.2, 0.6, 1.33), 3, axis=2)
    >>> clean = prepare(measured + 0.001)
    >>> np.unravel_index(np.argmax(clean), clean.shape)
    (np.int64(10), np.int64(15), np.int64(15))
    """
    volume = check_volume(psf, "psf")
    if shape is None:
        shape = tuple(n if n % 2 else n - 1 for n in volume.shape)
        if min(shape) < 1:
            raise ValueError(
                f"psf of shape {volume.shape} is too small; give at least 1 voxel per axis"
            )
    shape = check_shape(shape)
    taper = check_taper(taper)
    volume = volume - background_level(volume, background)
    if recentre:
        centre = subvoxel_peak(volume)
    else:
        centre = np.array([n // 2 for n in volume.shape], dtype=float)
    return finish(extract(volume, centre, shape), taper)
