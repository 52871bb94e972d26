"""The one validator of images, PSFs and backgrounds, called once at the plan's edge.

Everything below the plan (problems, costs, solvers, blocks) trusts what it is
given; every message here names the problem and the fix in one line.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..backend import namespace, to_host

__all__ = ["check_image", "check_psf", "check_background", "estimate_background",
           "data_percentile",
           "poisson_problem", "lazy"]


def lazy(image: Any) -> bool:
    """True for arrays that are not in memory (dask, zarr): checked chunk by chunk."""
    module = type(image).__module__
    return module.startswith("dask") or module.startswith("zarr")


def check_image(image: Any, what: str = "the image") -> Any:
    """The image as float32 (float64 kept) on its own backend; refuses NaN/Inf and non-arrays.

    Lazy arrays (dask, zarr) are checked for shape and dtype only here: their
    values are checked by the plan's statistics pass, chunk by chunk.
    """
    if lazy(image):
        if np.dtype(image.dtype).kind not in "uif" or image.ndim == 0:
            raise ValueError(f"{what} must be a 1D to 3D array of numbers, got {image.dtype} "
                             f"{image.shape}")
        if image.ndim > 3:
            raise ValueError(f"{what} has {image.ndim} axes ({image.shape}); deconvolve one ZYX "
                             "volume at a time (split channels and time points first)")
        return image
    xp = namespace(image)
    image = xp.asarray(image)
    if image.dtype.kind not in "uif" or image.ndim == 0:
        raise ValueError(f"{what} must be a 1D to 3D array of numbers, got {image.dtype} {image.shape}")
    if image.ndim > 3:
        raise ValueError(
            f"{what} has {image.ndim} axes ({image.shape}); deconvolve one ZYX volume at a "
            "time (split channels and time points first)"
        )
    image = image.astype(np.float64 if image.dtype == np.float64 else np.float32, copy=False)
    step = max(1, (1 << 22) // max(1, int(np.prod(image.shape[1:]))))  # slabs: small temporaries
    bad = sum(int(xp.count_nonzero(~xp.isfinite(image[i:i + step])))
              for i in range(0, image.shape[0], step))
    if bad:
        raise ValueError(f"{what} contains {bad} NaN or infinite values; replace them first")
    return image


def check_psf(psf: Any, ndim: int, dtype: Any = np.float32) -> np.ndarray:
    """Check a PSF and bring it to the conventions: non-negative, sum 1, peak centred.

    The PSF is small: it is checked on the host and returned as a NumPy array.
    Negative values are clipped and an off-centre peak is recentred by padding
    (never cropping), each with a warning; normalization is silent. The centre
    voxel is ``n // 2`` on every axis, for odd and even sizes alike: a peak on
    ``n // 2 - 1`` of an even axis is recentred too (one voxel of padding before it).
    """
    psf = to_host(psf) if not isinstance(psf, np.ndarray) else psf
    psf = np.asarray(psf)
    if psf.dtype.kind not in "uif":
        raise ValueError(f"the PSF must be an array of numbers, got {psf.dtype}")
    psf = psf.astype(dtype)
    if psf.ndim != ndim:
        raise ValueError(
            f"the PSF has {psf.ndim} axes but the image has {ndim}: give a "
            f"{ndim}D PSF (for a 2D image, a single in-focus plane of the 3D PSF)"
        )
    if not np.all(np.isfinite(psf)):
        raise ValueError("the PSF contains NaN or infinite values; replace them first")
    negative = psf < 0
    if negative.any():
        lost = -float(psf[negative].sum()) / max(float(np.abs(psf).sum()), 1e-30)
        warnings.warn(
            f"the PSF has {int(negative.sum())} negative values ({lost:.1%} of its absolute "
            "sum); they were clipped to 0",
            stacklevel=3,
        )
        psf = np.clip(psf, 0, None)
    total = float(psf.sum(dtype=np.float64))
    if total <= 0:
        raise ValueError("the PSF is zero everywhere: it must have a positive sum")
    psf = psf / psf.dtype.type(total)
    peak = np.unravel_index(int(np.argmax(psf)), psf.shape)
    centre = tuple(n // 2 for n in psf.shape)
    if psf[centre] >= psf.dtype.type(0.999) * psf[peak]:
        peak = centre  # a plateau (a flat or symmetric top) that holds the centre is centred
    if peak != centre:
        # pad so that the peak lands on the centre voxel n // 2 of the padded axis
        # before the peak: n - 1 - 2p voxels (the size becomes odd, the peak its centre);
        # after it: 2p - n voxels (the size becomes 2p, whose n // 2 is the peak)
        before = tuple(n - 1 - 2 * p if p < c else 0 for p, c, n in zip(peak, centre, psf.shape))
        after = tuple(2 * p - n if p > c else 0 for p, c, n in zip(peak, centre, psf.shape))
        psf = np.pad(psf, list(zip(before, after)))
        new_centre = tuple(n // 2 for n in psf.shape)
        moved = tuple(p + b for p, b in zip(peak, before))
        assert moved == new_centre, (moved, new_centre)
        warnings.warn(
            f"the PSF's peak was at voxel {tuple(int(p) for p in peak)}, not at its centre "
            f"{centre} (n // 2); it was recentred by zero-padding to {psf.shape}",
            stacklevel=3,
        )
    return psf


def estimate_background(image: Any, percentile: float = 1.0) -> float:
    """Camera offset plus dark background, as a low percentile of the data.

    The darkest voxels of a fluorescence stack hold the camera offset and the
    faintest background; the 1st percentile is robust to a few dead pixels.
    Lazy arrays are estimated from a regular subsample of at most 2²⁴ voxels.
    """
    return data_percentile(image, percentile)


#: Voxels above which a percentile is read from a regular subsample.
PERCENTILE_SAMPLE = 2**24


def data_percentile(image: Any, percentile: float) -> float:
    """A percentile of the data: exact up to 2²⁴ voxels, else from a regular subsample.

    The subsample (every ``step``-th voxel along each axis) keeps the plan from copying
    a large volume to sort it, in memory or lazy alike.
    """
    if image.size > PERCENTILE_SAMPLE:
        step = max(1, int(np.ceil((image.size / PERCENTILE_SAMPLE) ** (1 / image.ndim))))
        image = image[tuple(slice(None, None, step) for _ in range(image.ndim))]
    if lazy(image):
        return float(np.percentile(np.asarray(image), percentile))
    return float(namespace(image).percentile(image, percentile))


def check_background(background: Any, image_shape: tuple[int, ...]) -> Any:
    """A finite number, ``"auto"``, or a finite map of the image's shape (host or device)."""
    if isinstance(background, str):
        if background != "auto":
            raise ValueError(f"background must be a number, an array or 'auto', got {background!r}")
        return background
    if np.ndim(background) == 0:
        value = float(background)
        if not np.isfinite(value):
            raise ValueError(f"background must be finite, got {background}")
        return value
    background = check_image(background, "the background map")
    if tuple(background.shape) != tuple(image_shape):
        raise ValueError(
            f"the background map has shape {tuple(background.shape)}, the image "
            f"{tuple(image_shape)}: they must match"
        )
    return background


def poisson_problem(negative: int, minimum: float, clip_negative: bool, method: str) -> None:
    """Refuse negative counts for a Poisson likelihood unless they are to be clipped."""
    if negative and not clip_negative:
        raise ValueError(
            f"{method}: the data has {negative} negative voxels (minimum {minimum:.4g}) but a "
            "Poisson likelihood needs photon counts ≥ 0. Subtract less background before "
            "deconvolving (pass it as background= instead), or clip them to 0 with "
            "clip_negative=True (--clip-negative on the command line)"
        )
