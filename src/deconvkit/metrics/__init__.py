"""Image quality against a reference, and resolution (``deconvkit.metrics``).

Quality (:mod:`deconvkit.metrics._quality`): :func:`nrmse` (after the best
affine fit), :func:`snr`, :func:`psnr`, :func:`ssim`, :func:`flux_ratio`.

Resolution without a ground truth (:mod:`deconvkit.metrics._resolution`), per
direction (lateral YX, axial Z) in µm: :func:`frc` (two images, FRC/FSC),
:func:`checkerboard_frc` and :func:`thinning_frc` (one image split in two),
:func:`decorrelation` (one image), :func:`estimate_resolution` (any of them by
name); each returns a :class:`Resolution` with its curves and ``plot()``.

This package is a leaf: it imports numpy, scipy and :mod:`deconvkit.backend`.
"""

from ._quality import FITS, affine_fit, flux_ratio, nrmse, psnr, snr, ssim
from ._resolution import (
    DIRECTIONS,
    METHODS,
    THRESHOLDS,
    Resolution,
    ResolutionCurve,
    checkerboard_frc,
    decorrelation,
    estimate_resolution,
    frc,
    half_bit_threshold,
    thinning_frc,
)

__all__ = [
    "DIRECTIONS",
    "FITS",
    "METHODS",
    "THRESHOLDS",
    "Resolution",
    "ResolutionCurve",
    "affine_fit",
    "checkerboard_frc",
    "decorrelation",
    "estimate_resolution",
    "flux_ratio",
    "frc",
    "half_bit_threshold",
    "nrmse",
    "psnr",
    "snr",
    "ssim",
    "thinning_frc",
]
