"""A deconvolution problem for one block: its domain, forward model and data.

:func:`build_problem` is what :meth:`Plan.solve <deconvkit.methods.Plan.solve>`
calls for every block (the whole image, or a tile with its halo): it trusts its
inputs (the plan checked them once) and only builds. :func:`prepare` is the
checked entry point for composing a problem by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import namespace, to_backend, backend_of
from ..operators import Blur, Crop, extended_shape, fast_shape
from ..operators._checks import check_spacing
from ._validate import (
    check_background,
    check_image,
    check_psf,
    data_percentile,
    estimate_background,
    lazy,
)

__all__ = ["BOUNDARIES", "Constants", "Problem", "build_problem", "prepare", "statistics"]

BOUNDARIES = ("extended", "periodic", "reflect")


@dataclass(frozen=True)
class Constants:
    """Numbers of the whole image that every block uses, so that blocks cannot disagree.

    Attributes
    ----------
    data_scale : float
        :math:`\\overline{y - b}`, the mean of the data above the background (at
        least 1e-12): the scale of least-squares regularizers.
    data_max : float
        :math:`\\max y`: the level of RL-TV's smoothing and primal–dual steps.
    data_mean : float
        :math:`\\overline{\\max(y, 0)}`: photon-counting noise variance (the
        least-squares discrepancy) and ADMM's penalty scale.
    flat_level : float
        :math:`\\overline{\\max(y - b, 0)}` (at least 1e-12): the flat start of
        Richardson–Lucy.
    data_peak : float
        The data's 99.9th percentile (ADMM's Poisson penalty: the curvature at the
        brightest counts).
    negative : int
        Voxels of the data below 0 (a Poisson likelihood refuses them).
    minimum : float
        The data's minimum.
    count : int
        Voxels in the image.
    """

    data_scale: float
    data_max: float
    data_mean: float
    flat_level: float
    data_peak: float
    negative: int
    minimum: float
    count: int


def statistics(image: Any, background: Any) -> Constants:
    """The :class:`Constants` of an image and its background, in one pass.

    In-memory arrays (NumPy, CuPy) are reduced directly; lazy arrays (dask,
    zarr) chunk by chunk with dask, which also counts NaN and Inf (refused).
    """
    if lazy(image):
        import dask.array as da

        data = image if type(image).__module__.startswith("dask") else da.from_array(image)
        data = data.astype(np.float32)
        b = background if np.ndim(background) == 0 else da.asarray(background)
        above = data - b
        values = da.compute(
            da.count_nonzero(~da.isfinite(data)), da.mean(above, dtype=np.float64),
            da.max(data), da.mean(da.maximum(data, 0), dtype=np.float64),
            da.mean(da.maximum(above, 0), dtype=np.float64), da.count_nonzero(data < 0),
            da.min(data))
        bad, scale, top, mean, flat, negative, minimum = (v.item() if hasattr(v, "item") else v
                                                          for v in values)
        if bad:
            raise ValueError(f"the image contains {int(bad)} NaN or infinite values; replace "
                             "them first")
    else:
        # slab by slab along the first axis: the temporaries stay a few MB
        xp = namespace(image)
        sums = np.zeros(3)
        top, minimum, negative = -np.inf, np.inf, 0
        step = max(1, (1 << 22) // max(1, math.prod(image.shape[1:])))
        for start in range(0, image.shape[0], step):
            part = image[start:start + step]
            b = background if np.ndim(background) == 0 else background[start:start + step]
            above = part - (part.dtype.type(b) if np.ndim(b) == 0 else b)
            sums[0] += float(xp.sum(above, dtype=np.float64))
            xp.maximum(above, 0, out=above)
            sums[1] += float(xp.sum(above, dtype=np.float64))
            sums[2] += float(xp.sum(xp.maximum(part, 0), dtype=np.float64))
            top, minimum = max(top, float(xp.max(part))), min(minimum, float(xp.min(part)))
            negative += int(xp.count_nonzero(part < 0))
        count = math.prod(image.shape)
        scale, flat, mean = (float(v) / count for v in sums)
    peak = data_percentile(image, 99.9)
    return Constants(data_scale=max(float(scale), 1e-12), data_max=float(top),
                     data_mean=float(mean), flat_level=max(float(flat), 1e-12),
                     data_peak=float(peak),
                     negative=int(negative), minimum=float(minimum),
                     count=int(math.prod(image.shape)))


@dataclass
class Problem:
    """A deconvolution problem ready for a solver.

    Attributes
    ----------
    data : array
        The measured data the likelihood compares with (float32): the block,
        or for ``reflect`` the mirror-padded block.
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
        Where the block lies in the object's domain (``x[field]`` has its shape).
    spacing : tuple of float
        Voxel size in µm (ZYX).
    boundary : str
        ``"extended"``, ``"periodic"`` or ``"reflect"``.
    image_shape : tuple of int
        The block's shape.
    constants : Constants
        The whole image's numbers (equal to the block's own for the whole image).
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
    constants: Constants

    def to_image(self, x: Any) -> Any:
        """The estimate on the block's field, a new array of the block's shape."""
        return namespace(x).ascontiguousarray(x[self.field])


def _apodize(image: Any, width: int) -> Any:
    """Blend the edges into the mean with a raised-cosine ramp of ``width`` voxels."""
    xp = namespace(image)
    mean = float(image.mean())
    out = image - image.dtype.type(mean)
    for axis, n in enumerate(image.shape):
        w = min(width, n // 2)
        if w < 1:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(w) + 0.5) / w)
        window = np.ones(n, image.dtype)
        window[:w], window[n - w:] = ramp, ramp[::-1]
        shape = [-1 if a == axis else 1 for a in range(image.ndim)]
        out *= to_backend(window.reshape(shape), backend_of(image))
    return out + image.dtype.type(mean)


def _reflect_pad(array: Any, widths: list[tuple[int, int]]) -> Any:
    """Mirror-pad (edge voxel repeated), repeating the mirror when a margin exceeds the size."""
    xp = namespace(array)
    out = array
    for axis, (before, after) in enumerate(widths):
        pad = [(0, 0)] * array.ndim
        pad[axis] = (before, after)
        out = xp.pad(out, pad, mode="symmetric")
    return out


def build_problem(data: Any, psf: Any, *, boundary: str, background: Any, spacing: Any,
                  apodize: int, constants: Constants) -> Problem:
    """Build the :class:`Problem` of one block; its inputs are trusted (see :func:`prepare`)."""
    shape_in = tuple(data.shape)
    if boundary == "extended":
        shape = extended_shape(shape_in, psf.shape)
        crop = Crop(shape, shape_in)
        blur = Blur(psf, shape)
        return Problem(data, psf, shape, blur, crop @ blur, background, crop.window,
                       spacing, boundary, shape_in, constants)
    if boundary == "periodic":
        data = _apodize(data, apodize) if apodize else data
        blur = Blur(psf, shape_in)
        field = tuple(slice(0, n) for n in shape_in)
        return Problem(data, psf, shape_in, blur, blur, background, field, spacing, boundary,
                       shape_in, constants)
    shape = fast_shape(tuple(n + p - 1 for n, p in zip(shape_in, psf.shape)))
    before = tuple((s - n) // 2 for s, n in zip(shape, shape_in))
    widths = [(b, s - n - b) for b, s, n in zip(before, shape, shape_in)]
    padded = _reflect_pad(data, widths)
    if np.ndim(background):
        background = _reflect_pad(background, widths)
    blur = Blur(psf, shape)
    field = tuple(slice(b, b + n) for b, n in zip(before, shape_in))
    return Problem(padded, psf, shape, blur, blur, background, field, spacing, boundary,
                   shape_in, constants)


def check_boundary(boundary: str, image_shape: tuple[int, ...], psf_shape: tuple[int, ...],
                   apodize: int) -> None:
    """The boundary's name, the periodic model's size limit, and apodize's scope."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    if boundary == "periodic" and any(p > n for p, n in zip(psf_shape, image_shape)):
        raise ValueError(
            f"the PSF ({tuple(psf_shape)}) is larger than the image ({tuple(image_shape)}) on "
            "some axis, so a periodic model would truncate it: use boundary='extended' "
            "(the default)"
        )
    if apodize and boundary != "periodic":
        raise ValueError(
            f"apodize blends the edges of a periodic model; with boundary={boundary!r} there is "
            "no wrap-around to soften: drop apodize, or use boundary='periodic'"
        )


def prepare(
    image: Any,
    psf: Any,
    *,
    boundary: str = "extended",
    background: Any = 0.0,
    spacing: Any = None,
    apodize: int = 0,
) -> Problem:
    """Check an image and a PSF and build their :class:`Problem` (to compose a method by hand).

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
    psf = to_backend(check_psf(psf, image.ndim, image.dtype), backend_of(image))
    check_boundary(boundary, image.shape, psf.shape, apodize)
    spacing = check_spacing(spacing, image.ndim)
    background = check_background(background, image.shape)
    if isinstance(background, str):
        background = estimate_background(image)
    if np.ndim(background):
        background = to_backend(background.astype(image.dtype, copy=False), backend_of(image))
    return build_problem(image, psf, boundary=boundary, background=background, spacing=spacing,
                         apodize=apodize, constants=statistics(image, background))
