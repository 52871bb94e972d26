r"""The microscope as a simulator: blur, crop to the camera's field, photon and read noise.

.. math:: y = \mathrm{Poisson}\big(S H (k x) + b\big) + \mathcal{N}(0, \sigma_r^2)

with the forward model :math:`S H` built from :mod:`deconvkit.operators`
(``Crop @ Blur``), the very operator the solvers invert.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..operators import Blur, Crop, fast_shape
from ..operators._checks import check_shape
from ._common import Seed, check_nonnegative, check_positive

__all__ = ["BOUNDARIES", "Observation", "observe"]

#: Boundary models :func:`observe` simulates.
BOUNDARIES = ("extended", "periodic")


@dataclass(frozen=True, eq=False)
class Observation:
    """A simulated acquisition, in photon counts.

    Unpacks as ``(data, ground_truth)``: ``y, truth = observe(obj, psf)``.

    Attributes
    ----------
    data : numpy.ndarray
        The noisy image (float32, the field's shape): Poisson counts plus
        Gaussian read noise, so it can be negative where the read noise is.
    noiseless : numpy.ndarray
        Its expectation (float32): ``operator @ object + background``
        (FFT round-off below zero, about 1e-7 of the peak, clipped).
    ground_truth : numpy.ndarray
        The object in the field (float32, the field's shape): ``object``
        cropped as the camera crops, on the same scale (photons per voxel).
    object : numpy.ndarray
        The whole scaled object on the blur domain (float32), larger than the
        field with ``boundary="extended"``.
    operator : deconvkit.operators.Operator
        The forward model ``Crop @ Blur`` (``Blur`` for ``periodic``), from
        ``object.shape`` to the field's shape, PSF normalized to sum 1.
    scale : float
        Photons per unit of the input object: ``object = scale * obj`` (zero-padded).
    background : float or numpy.ndarray
        The background added, in photons per voxel.
    """

    data: np.ndarray
    noiseless: np.ndarray
    ground_truth: np.ndarray
    object: np.ndarray
    operator: Any
    scale: float
    background: float | np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.data
        yield self.ground_truth


def _check_array(array: Any, what: str, ndim: int | None = None) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise ValueError(
            f"{what} must be an array of real numbers, got {array.dtype} {array.shape}"
        )
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{what} has {array.ndim} axes but the object has {ndim}: give one per axis"
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{what} contains {bad} NaN or infinite values")
    if np.any(array < 0):
        raise ValueError(f"{what} has {int(np.count_nonzero(array < 0))} negative values; "
                         "fluorescence is non-negative")
    return array


def _domain(obj_shape: tuple[int, ...], psf_shape: tuple[int, ...], field_shape: Any):
    """Field shape, blur-domain shape and where the object goes in it (extended model)."""
    if field_shape is None:
        field = tuple(o - p + 1 for o, p in zip(obj_shape, psf_shape))
        if any(f < 1 for f in field):
            raise ValueError(
                f"the object {obj_shape} is smaller than the PSF {psf_shape}, so no voxel of "
                "the field is fully blurred: give a larger object or field_shape="
            )
        return field, obj_shape, (0,) * len(obj_shape)
    field = check_shape(field_shape, "field_shape")
    if len(field) != len(obj_shape) or any(f > o for f, o in zip(field, obj_shape)):
        raise ValueError(
            f"field_shape {field} must have one size per axis of the object {obj_shape} "
            "and fit inside it"
        )
    needed = tuple(f + p - 1 for f, p in zip(field, psf_shape))
    domain = tuple(o if o >= m else fast_shape((m,))[0] for o, m in zip(obj_shape, needed))
    # pad so that the field stays the object's central window
    offset = tuple((d - f) // 2 - (o - f) // 2 for d, f, o in zip(domain, field, obj_shape))
    return field, domain, offset


def observe(
    obj: Any,
    psf: Any,
    *,
    photons: float | None = 1000.0,
    background: float | Any = 10.0,
    read_noise: float = 0.0,
    boundary: str = "extended",
    field_shape: Sequence[int] | None = None,
    seed: Seed = None,
) -> Observation:
    r"""Image an object through a microscope: blur, crop, scale to photons, add noise.

    .. math:: \bar y = S H (k\,x) + b, \qquad
              y = \mathrm{Poisson}(\bar y) + \mathcal{N}(0, \sigma_r^2)

    :math:`H` is :class:`~deconvkit.operators.Blur` (circular convolution on
    the object's domain, the PSF normalized to sum 1 as the solvers do),
    :math:`S` is :class:`~deconvkit.operators.Crop` to the camera's field
    (centred), :math:`k` the scale that gives the brightest noiseless voxel
    :math:`\max S H (k x)` (background excluded) ``photons`` expected counts,
    :math:`b` the background and :math:`\sigma_r` the read noise, both in photons.

    Parameters
    ----------
    obj : array
        The object (non-negative, ZYX or YX). With ``boundary="extended"`` it
        lives on a domain larger than the field.
    psf : array
        The PSF, one axis per object axis, centre voxel at ``n // 2``; it is
        divided by its sum.
    photons : float or None
        Expected counts of the brightest noiseless voxel; None keeps the
        object's scale (``k = 1``, the object already in photons).
    background : float or array
        Background :math:`b` in photons per voxel (a number, or a map of the
        field's shape); it has shot noise like the signal.
    read_noise : float
        Standard deviation :math:`\sigma_r` of the camera's Gaussian read noise, photons.
    boundary : {"extended", "periodic"}
        ``"extended"``: blur on the object's domain and crop the field from
        it, so light from outside the field enters it. The field is
        ``field_shape`` (central window) or, by default, ``obj.shape - psf.shape + 1``
        (every voxel whose blur the object fully determines). An object
        smaller than ``field + psf - 1`` on an axis is zero-padded to a fast
        FFT size there first (it is taken as zero outside), so the blur of
        the field is always the exact linear convolution.
        ``"periodic"``: circular blur on the object itself, which is the field.
    field_shape : tuple of int, optional
        The camera's field, for ``"extended"``.
    seed : int, Generator or None
        Seed of the noise; the same seed gives the same noise.

    Returns
    -------
    Observation
        ``data``, ``noiseless``, ``ground_truth``, ``object``, ``operator``,
        ``scale``, ``background``; unpacks as ``(data, ground_truth)``.

    Notes
    -----
    ``noiseless`` is the mean of ``data`` and its variance is
    ``noiseless + read_noise**2`` per voxel.
    """
    obj = _check_array(obj, "the object").astype(np.float32)
    psf = _check_array(psf, "the PSF", obj.ndim).astype(np.float64)
    total = psf.sum()
    if total <= 0:
        raise ValueError("the PSF is zero everywhere: it must have a positive sum")
    psf = (psf / total).astype(np.float32)
    read_noise = check_nonnegative(read_noise, "read_noise", " (photons)")

    if boundary == "periodic":
        if field_shape is not None and tuple(field_shape) != obj.shape:
            raise ValueError(
                f"with boundary='periodic' the field is the object itself ({obj.shape}); "
                f"field_shape {tuple(field_shape)} differs: use boundary='extended'"
            )
        domain, operator, crop = obj, Blur(psf, obj.shape), None
        field = obj.shape
    elif boundary == "extended":
        field, shape, offset = _domain(obj.shape, psf.shape, field_shape)
        domain = obj
        if shape != obj.shape:
            domain = np.zeros(shape, np.float32)
            domain[tuple(slice(o, o + m) for o, m in zip(offset, obj.shape))] = obj
        crop = Crop(shape, field)
        operator = crop @ Blur(psf, shape)
    else:
        raise ValueError(
            f"boundary must be one of {BOUNDARIES}, got {boundary!r} (mirror padding is a way "
            "to deconvolve, not a way light reaches a camera)"
        )

    if np.ndim(background) == 0:
        background = check_nonnegative(background, "background", " (photons)")
    else:
        background = _check_array(background, "the background map").astype(np.float32)
        if background.shape != field:
            raise ValueError(f"the background map has shape {background.shape}, "
                             f"the field {field}: they must match")

    blurred = np.maximum(operator @ domain, 0)  # FFT round-off can dip below 0 in the dark
    if photons is None:
        scale = 1.0
    else:
        photons = check_positive(photons, "photons")
        peak = float(blurred.max())
        if peak <= 0:
            raise ValueError("the object sends no light into the field: it cannot be scaled to "
                             "photons (give photons=None or a brighter object)")
        scale = photons / peak
    k = np.float32(scale)
    scale = float(k)  # the factor used, exactly
    noiseless = (k * blurred + background).astype(np.float32)
    rng = np.random.default_rng(seed)
    data = rng.poisson(noiseless).astype(np.float32)
    if read_noise > 0:
        data += rng.normal(0.0, read_noise, field).astype(np.float32)
    scaled = (k * domain).astype(np.float32)
    truth = scaled.copy() if crop is None else crop @ scaled
    return Observation(data, noiseless, np.ascontiguousarray(truth), scaled, operator,
                       scale, background)
