"""Image quality against a reference, and resolution (``deconvkit.metrics``).

Quality (:mod:`deconvkit.metrics._quality`): :func:`nrmse` (after the best
affine fit), :func:`snr`, :func:`psnr`, :func:`ssim`, :func:`flux_ratio`.

This package is a leaf: it imports numpy, scipy and :mod:`deconvkit.backend`.
"""

from ._quality import FITS, affine_fit, flux_ratio, nrmse, psnr, snr, ssim

__all__ = ["FITS", "affine_fit", "flux_ratio", "nrmse", "psnr", "snr", "ssim"]
