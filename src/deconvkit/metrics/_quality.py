r"""Image quality metrics of an estimate :math:`x` against a reference :math:`g`.

:func:`nrmse`
    :math:`\lVert a x + b - g\rVert_2 / \lVert g\rVert_2`, with :math:`a, b`
    the least-squares affine fit (or :math:`a = 1, b = 0`); 0 is best.
:func:`snr`
    :math:`10\log_{10}(\lVert g\rVert^2 / \lVert x - g\rVert^2)`, dB; higher is better.
:func:`psnr`
    :math:`10\log_{10}(R^2 / \mathrm{MSE})`, dB; higher is better.
:func:`ssim`
    structural similarity with a Gaussian window of σ = 1.5 voxels; 1 is best.
:func:`flux_ratio`
    :math:`\sum x / \sum g`; 1 is best.

Inputs are arrays of the same shape, any number of axes (YX, ZYX, ...),
accumulated in float64; results are Python floats. Mismatched shapes,
NaN/Inf, complex or empty inputs raise ``ValueError`` naming the problem.
Every metric takes ``(estimate, reference)`` in this order.

>>> from deconvkit.metrics import flux_ratio, nrmse, snr
>>> nrmse([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])  # 2x + 1: a perfect affine fit
0.0
>>> round(nrmse([1.0, 2.0], [1.0, 3.0], fit=None), 4)  # 1 / sqrt(10)
0.3162
>>> round(snr([3.0, 5.0], [3.0, 4.0]), 2), flux_ratio([1, 2, 3], [2, 2, 2])
(13.98, 1.0)

This module is a leaf: it imports numpy and scipy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.ndimage

from ..backend import namespace, to_host

__all__ = ["FITS", "affine_fit", "flux_ratio", "nrmse", "psnr", "snr", "ssim"]

#: Fits :func:`nrmse` accepts before comparing.
FITS = ("affine", None)

#: SSIM constants and window (Wang et al. 2004).
SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_TRUNCATE = 0.01, 0.03, 1.5, 3.5


def _pair(estimate: Any, reference: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, after checking shape, dtype and finiteness."""
    xp = namespace(estimate, reference)
    arrays = []
    for what, value in (("estimate", estimate), ("reference", reference)):
        array = xp.asarray(value)
        if array.dtype.kind == "c":
            raise ValueError(f"{metric}: the {what} is complex ({array.dtype}); give real images")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{metric}: the {what} must be an array of numbers, got {array.dtype}")
        arrays.append(array)
    x, g = arrays
    if x.shape != g.shape:
        raise ValueError(
            f"{metric}: shape mismatch, the estimate has shape {x.shape} and the reference "
            f"{g.shape}; crop them to the same field first"
        )
    if x.size == 0:
        raise ValueError(f"{metric}: the arrays are empty (shape {x.shape})")
    for what, array in (("estimate", x), ("reference", g)):
        if not bool(xp.all(xp.isfinite(array))):
            nan, inf = int(xp.count_nonzero(xp.isnan(array))), int(xp.count_nonzero(xp.isinf(array)))
            kinds = " and ".join(k for k, n in (("NaN", nan), ("Inf", inf)) if n)
            raise ValueError(f"{metric}: the {what} contains {nan + inf} {kinds} values")
    return x.astype(np.float64, copy=False), g.astype(np.float64, copy=False)


def _data_range(g: np.ndarray, data_range: float | None, metric: str) -> float:
    if data_range is None:
        data_range = float(namespace(g).max(g) - namespace(g).min(g))
        if data_range <= 0:
            raise ValueError(f"{metric}: the reference is constant, so its range is 0; "
                             "give data_range explicitly")
        return data_range
    data_range = float(data_range)
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"{metric}: data_range must be positive and finite, got {data_range}")
    return data_range


def _norm_of_reference(g: np.ndarray, metric: str) -> float:
    norm = float(namespace(g).linalg.norm(g.ravel()))
    if norm == 0:
        raise ValueError(f"{metric}: the reference is zero everywhere, so a relative error "
                         "is undefined")
    return norm


def affine_fit(estimate: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    r"""The least-squares :math:`(a, b)` minimizing :math:`\lVert a x + b - g\rVert_2`.

    .. math:: a = \frac{\sum (x - \bar x)(g - \bar g)}{\sum (x - \bar x)^2}, \qquad
              b = \bar g - a \bar x

    (:math:`a = 0` for a constant :math:`x`.) Float64 arrays of one shape, unchecked.
    """
    xp = namespace(estimate)
    x_mean, g_mean = float(estimate.mean()), float(reference.mean())
    dx = (estimate - x_mean).ravel()
    variance = float(xp.vdot(dx, dx))
    a = float(xp.vdot(dx, (reference - g_mean).ravel())) / variance if variance > 0 else 0.0
    return a, g_mean - a * x_mean


def nrmse(estimate: Any, reference: Any, fit: str | None = "affine") -> float:
    r"""Normalized root-mean-square error, after fitting the estimate to the reference.

    .. math:: \mathrm{NRMSE}(x, g) = \frac{\lVert a x + b - g\rVert_2}{\lVert g\rVert_2}

    with :math:`(a, b)` the least-squares fit of :func:`affine_fit` for
    ``fit="affine"``, so neither a global scale nor an offset of the estimate
    counts as error (a deconvolution's flux and background are often off by a
    constant), and :math:`a = 1, b = 0` for ``fit=None``.

    Parameters
    ----------
    estimate, reference : array
        Same shape, any number of axes.
    fit : {"affine", None}
        Fit before comparing (default), or compare raw values.

    Returns
    -------
    float
        0 for a perfect estimate. With ``fit="affine"`` it is at most
        :math:`\lVert g - \bar g\rVert / \lVert g\rVert \le 1` (reached by a
        constant estimate) and equals :math:`\sqrt{1 - \rho^2}\,\lVert g -
        \bar g\rVert / \lVert g\rVert`, :math:`\rho` the Pearson correlation.

    Notes
    -----
    The normalization by :math:`\lVert g\rVert` (not :math:`\lVert g - \bar
    g\rVert`) is the one of the ``nrmse`` the solvers record with
    ``ground_truth=`` (raw there); ``nrmse(x, g, fit=None)`` equals it and
    :math:`-20\log_{10}` of it is :func:`snr`. Raises ``ValueError`` for a zero reference.
    """
    if fit not in FITS:
        raise ValueError(f"nrmse: fit must be one of {FITS}, got {fit!r}")
    x, g = _pair(estimate, reference, "nrmse")
    norm = _norm_of_reference(g, "nrmse")
    if fit == "affine":
        a, b = affine_fit(x, g)
        x = a * x + b
    return float(namespace(x).linalg.norm((x - g).ravel())) / norm


def snr(estimate: Any, reference: Any) -> float:
    r"""Signal-to-noise ratio of the estimate, in dB.

    .. math:: \mathrm{SNR}(x, g) = 10 \log_{10}
              \frac{\lVert g\rVert_2^2}{\lVert x - g\rVert_2^2}
              = -20 \log_{10} \mathrm{NRMSE}_{\mathrm{raw}}(x, g)

    ``inf`` when the estimate equals the reference; ``ValueError`` for a zero reference.
    """
    x, g = _pair(estimate, reference, "snr")
    norm = _norm_of_reference(g, "snr")
    error = float(namespace(x).linalg.norm((x - g).ravel()))
    return math.inf if error == 0 else 20.0 * math.log10(norm / error)


def psnr(estimate: Any, reference: Any, data_range: float | None = None) -> float:
    r"""Peak signal-to-noise ratio, in dB.

    .. math:: \mathrm{PSNR}(x, g) = 10 \log_{10} \frac{R^2}{\frac{1}{N}\sum_j (x_j - g_j)^2}

    Parameters
    ----------
    estimate, reference : array
        Same shape, any number of axes.
    data_range : float, optional
        :math:`R`; default :math:`\max g - \min g` (as the solvers' history
        records it). A constant reference needs it explicitly.

    Returns
    -------
    float
        ``inf`` when the estimate equals the reference.
    """
    x, g = _pair(estimate, reference, "psnr")
    data_range = _data_range(g, data_range, "psnr")
    mse = float(namespace(x).mean((x - g) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def ssim(estimate: Any, reference: Any, data_range: float | None = None) -> float:
    r"""Mean structural similarity (Wang et al. 2004), in 2D or 3D, Gaussian window.

    With local means, variances and covariance weighted by a Gaussian window
    :math:`w` of standard deviation 1.5 voxels on every axis (truncated at
    3.5 σ: 11 taps, mirrored at the edges),

    .. math:: \mu_x = w * x, \quad \sigma_x^2 = w * x^2 - \mu_x^2, \quad
              \sigma_{xg} = w * (x g) - \mu_x \mu_g,

    .. math:: \mathrm{SSIM}(x, g) = \operatorname{mean}\;
              \frac{(2\mu_x\mu_g + C_1)(2\sigma_{xg} + C_2)}
                   {(\mu_x^2 + \mu_g^2 + C_1)(\sigma_x^2 + \sigma_g^2 + C_2)},
              \quad C_1 = (0.01 R)^2,\; C_2 = (0.03 R)^2,

    the mean taken over the voxels at least 5 voxels (the window's radius)
    from every edge. This is ``skimage.metrics.structural_similarity(x, g,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=R)``, in float64.

    Parameters
    ----------
    estimate, reference : array
        Same shape; axes of length 1 are dropped, and every other axis needs
        at least 11 voxels.
    data_range : float, optional
        :math:`R`; default :math:`\max g - \min g`.

    Returns
    -------
    float
        At most 1, reached when the estimate equals the reference.
    """
    x, g = _pair(estimate, reference, "ssim")
    x, g = to_host(x), to_host(g)  # scipy.ndimage's filters: on the host
    data_range = _data_range(g, data_range, "ssim")
    x, g = np.squeeze(x), np.squeeze(g)
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    if x.ndim == 0 or min(x.shape) < 2 * radius + 1:
        raise ValueError(
            f"ssim: the images ({np.shape(estimate)}) need at least {2 * radius + 1} voxels on "
            f"every axis longer than 1 (the Gaussian window, sigma {SSIM_SIGMA})"
        )

    def window(array: np.ndarray) -> np.ndarray:
        return scipy.ndimage.gaussian_filter(array, SSIM_SIGMA, mode="reflect",
                                             truncate=SSIM_TRUNCATE)

    mu_x, mu_g = window(x), window(g)
    var_x = window(x * x) - mu_x * mu_x
    var_g = window(g * g) - mu_g * mu_g
    cov = window(x * g) - mu_x * mu_g
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    index = ((2 * mu_x * mu_g + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_g**2 + c1) * (var_x + var_g + c2)
    )
    interior = tuple(slice(radius, n - radius) for n in index.shape)
    return float(index[interior].mean())


def flux_ratio(estimate: Any, reference: Any) -> float:
    r"""Ratio of total intensities :math:`\sum_j x_j / \sum_j g_j` (1: flux preserved).

    Richardson–Lucy preserves the flux of the data; this shows how much of
    the reference's light an estimate holds. ``ValueError`` when
    :math:`\sum g = 0`.
    """
    x, g = _pair(estimate, reference, "flux_ratio")
    total = float(g.sum())
    if total == 0:
        raise ValueError("flux_ratio: the reference sums to 0, so the ratio is undefined")
    return float(x.sum()) / total
