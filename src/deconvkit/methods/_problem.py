"""Preparing a deconvolution problem the same way for every method.

``prepare`` checks and normalizes the PSF, chooses the object's domain for the
boundary model, builds the forward operator and resolves the background, so a
method only composes costs and a solver on the result.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..operators import Blur, Crop, extended_shape, fast_shape
from ..operators._checks import check_spacing

__all__ = ["Problem", "prepare", "check_image", "check_psf", "estimate_background", "BOUNDARIES"]

logger = logging.getLogger("deconvkit")

BOUNDARIES = ("extended", "periodic", "reflect")


@dataclass
class Problem:
    """A deconvolution problem ready for a solver.

    Attributes
    ----------
    data : array
        The measured data the likelihood compares with (float32): the image,
        or for ``reflect`` the mirror-padded image.
    psf : array
        The checked PSF (non-negative, sum 1, peak at the centre voxel).
    shape : tuple of int
        Shape of the object ``x`` the solver estimates.
    blur : Blur
        Convolution with the PSF on ``shape``.
    forward : LinearOperator
        The model ``A`` with ``data ≈ A x + background``: ``Crop @ Blur`` for
        ``extended``, ``Blur`` otherwise.
    background : float or array
        Background ``b`` in the data's space.
    field : tuple of slice
        Where the image lies in the object's domain (``x[field]`` has the
        image's shape).
    spacing : tuple of float
        Voxel size in µm (ZYX).
    boundary : str
        ``"extended"``, ``"periodic"`` or ``"reflect"``.
    """

    data: Any
    psf: Any
    shape: tuple[int, ...]
    blur: Blur
    forward: Any
    background: Any
    field: tuple[slice, ...]
    spacing: tuple[float, ...]
    boundary: str
    image_shape: tuple[int, ...]

    def to_image(self, x: Any) -> Any:
        """The estimate on the image's field, a new array of the image's shape."""
        return np.ascontiguousarray(x[self.field])

    def to_domain(self, image_like: Any) -> Any:
        """Place an array of the image's shape in the object's domain (zeros around)."""
        out = np.zeros(self.shape, dtype=image_like.dtype)
        out[self.field] = image_like
        return out


def check_image(image: Any, what: str = "the image") -> np.ndarray:
    """The image as float32 (float64 kept), refusing NaN/Inf and non-arrays."""
    image = np.asarray(image)
    if image.dtype.kind not in "uif" or image.ndim == 0:
        raise ValueError(f"{what} must be a 1D to 3D array of numbers, got {image.dtype} {image.shape}")
    if image.ndim > 3:
        raise ValueError(
            f"{what} has {image.ndim} axes ({image.shape}); deconvolve one ZYX volume at a "
            "time (split channels and time points first)"
        )
    image = image.astype(np.float64 if image.dtype == np.float64 else np.float32, copy=False)
    if not np.all(np.isfinite(image)):
        bad = int(np.count_nonzero(~np.isfinite(image)))
        raise ValueError(f"{what} contains {bad} NaN or infinite values; replace them first")
    return image


def check_psf(psf: Any, ndim: int, dtype: Any = np.float32) -> np.ndarray:
    """Check a PSF and bring it to the conventions: non-negative, sum 1, peak centred.

    Negative values are clipped and an off-centre peak is recentred by padding
    (never cropping), each with a warning; normalization is silent.
    """
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
    # the centre voxel is n // 2; an even axis may peak one voxel before it
    if any(p != c and not (n % 2 == 0 and p == c - 1) for p, c, n in zip(peak, centre, psf.shape)):
        before = tuple(max(0, (n - 1 - p) - p) for p, n in zip(peak, psf.shape))
        after = tuple(max(0, p - (n - 1 - p)) for p, n in zip(peak, psf.shape))
        psf = np.pad(psf, list(zip(before, after)))
        warnings.warn(
            f"the PSF's peak was at voxel {tuple(int(p) for p in peak)}, not at its centre "
            f"{centre}; it was recentred by zero-padding to {psf.shape}",
            stacklevel=3,
        )
    return psf


def estimate_background(image: np.ndarray, percentile: float = 1.0) -> float:
    """Camera offset plus dark background, as a low percentile of the data.

    The darkest voxels of a fluorescence stack hold the camera offset and the
    faintest background; the 1st percentile is robust to a few dead pixels.
    """
    return float(np.percentile(image, percentile))


def _apodize(image: np.ndarray, width: int) -> np.ndarray:
    """Blend the edges into the mean with a raised-cosine ramp of ``width`` voxels."""
    mean = float(image.mean())
    out = image - mean
    for axis, n in enumerate(image.shape):
        w = min(width, n // 2)
        if w < 1:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(w) + 0.5) / w)
        window = np.ones(n, image.dtype)
        window[:w], window[n - w:] = ramp, ramp[::-1]
        out *= window.reshape([-1 if a == axis else 1 for a in range(image.ndim)])
    return out + image.dtype.type(mean)


def prepare(
    image: Any,
    psf: Any,
    *,
    boundary: str = "extended",
    background: Any = 0.0,
    spacing: Any = None,
    apodize: int = 0,
) -> Problem:
    """Build the :class:`Problem` for an image and a PSF.

    Parameters
    ----------
    image : array
        The measured stack (ZYX; 1D to 3D). Integer data converts to float32.
    psf : array
        The PSF with as many axes as the image; any size (it is never cropped).
    boundary : {"extended", "periodic", "reflect"}
        ``extended`` (default): the object lives on the image plus a PSF-sized
        margin and the model crops after blurring (light from outside enters
        the field). ``periodic``: circular convolution on the image itself.
        ``reflect``: the image is mirror-padded by the PSF's size, deconvolved
        periodically, and cropped.
    background : float, array or "auto"
        Background ``b`` of the model ``y ≈ A x + b``: a number, a map of the
        image's shape, or ``"auto"`` (:func:`estimate_background`).
    spacing : tuple of float, optional
        Voxel size in µm (ZYX), for regularizers built on derivatives.
    apodize : int
        With ``periodic``, blend this many voxels at each edge into the mean.
    """
    image = check_image(image)
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    psf = check_psf(psf, image.ndim, image.dtype)
    spacing = check_spacing(spacing, image.ndim)
    if isinstance(background, str):
        if background != "auto":
            raise ValueError(f"background must be a number, an array or 'auto', got {background!r}")
        background = estimate_background(image)
        logger.info("estimated background: %.4g", background)
    elif np.ndim(background) == 0:
        background = float(background)
        if not np.isfinite(background):
            raise ValueError(f"background must be finite, got {background}")
    else:
        background = check_image(background, "the background map")
        if background.shape != image.shape:
            raise ValueError(
                f"the background map has shape {background.shape}, the image {image.shape}: "
                "they must match"
            )

    if boundary == "extended":
        shape = extended_shape(image.shape, psf.shape)
        crop = Crop(shape, image.shape)
        blur = Blur(psf, shape)
        return Problem(image, psf, shape, blur, crop @ blur, background, crop.window,
                       spacing, boundary, image.shape)

    if boundary == "periodic":
        if any(p > n for p, n in zip(psf.shape, image.shape)):
            raise ValueError(
                f"the PSF ({psf.shape}) is larger than the image ({image.shape}) on some axis, "
                "so a periodic model would truncate it: use boundary='extended' (the default)"
            )
        data = _apodize(image, apodize) if apodize else image
        blur = Blur(psf, image.shape)
        field = tuple(slice(0, n) for n in image.shape)
        return Problem(data, psf, image.shape, blur, blur, background, field, spacing,
                       boundary, image.shape)

    shape = fast_shape(tuple(n + p - 1 for n, p in zip(image.shape, psf.shape)))
    before = tuple((s - n) // 2 for s, n in zip(shape, image.shape))
    widths = [(b, s - n - b) for b, s, n in zip(before, shape, image.shape)]
    data = _reflect_pad(image, widths)
    if np.ndim(background):
        background = _reflect_pad(background, widths)
    blur = Blur(psf, shape)
    field = tuple(slice(b, b + n) for b, n in zip(before, image.shape))
    return Problem(data, psf, shape, blur, blur, background, field, spacing, boundary,
                   image.shape)


def _reflect_pad(array: np.ndarray, widths: list[tuple[int, int]]) -> np.ndarray:
    """Mirror-pad (edge voxel repeated), repeating the mirror when a margin exceeds the size."""
    out = array
    for axis, (before, after) in enumerate(widths):
        pad = [(0, 0)] * array.ndim
        pad[axis] = (before, after)
        out = np.pad(out, pad, mode="symmetric")
    return out
