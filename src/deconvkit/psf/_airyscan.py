r"""Array-detector confocal (Zeiss Airyscan): one PSF per detector element.

Each element :math:`e` of the detector sits at a displacement :math:`d_e` from
the optical axis in the pinhole plane (back-projected into the sample). It
sees the excitation spot through the emission PSF shifted by :math:`d_e`:

.. math::

    h_e(\mathbf r, z) = h_{ex}(|\mathbf r|, z)\,
                        \big[h_{em}(\cdot, z) \ast_{xy} D\big](|\mathbf r - d_e|)

with :math:`h_{ex}` the model at the excitation wavelength, :math:`h_{em}` at
the emission wavelength and :math:`D` the element's aperture (a disk of the
element's area). The element's PSF peaks near :math:`d_e/2` (between the
excitation spot and the element: the basis of pixel reassignment).

The elements are the sites of a hexagonal lattice of pitch ``pitch`` (Airy
units) nearest the axis: 1 + 6 + 6 + 6 + 12 = 31 sites within
:math:`\sqrt 7` pitches, then one of the six at 3 pitches for the 32nd, as
on the 32-channel Airyscan detector (about 0.2 AU per element, 1.25 AU
across in all).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._checks import (
    check_nonnegative,
    check_oversample,
    check_shape,
    check_spacing,
    check_wavelength,
)
from ._confocal import _MODELS, disk_convolution_matrix
from ._gaussian import AIRY_UNIT_FACTOR
from ._optics import build_optics
from ._sampling import axial_samples, radial_samples, radial_step, subsample_offsets

__all__ = ["airyscan", "element_positions"]

#: Hexagonal lattice sites considered (more elements than this are refused).
MAX_ELEMENTS = 127


def element_positions(elements: int = 32, pitch: float = 0.2, rotation: float = 0.0) -> np.ndarray:
    r"""Centres of the detector elements, (y, x) in Airy units, nearest the axis first.

    The sites :math:`p\,(i + j/2,\; j\sqrt3/2)` of a hexagonal lattice of pitch
    :math:`p`, sorted by distance from the axis, then by angle counter-clockwise
    from +x; the first ``elements`` of them, rotated by ``rotation`` degrees.

    Examples
    --------
    >>> from deconvkit.psf._airyscan import element_positions
    >>> element_positions(7, pitch=1.0).round(3)[:3]
    array([[ 0.   ,  0.   ],
           [ 0.   ,  1.   ],
           [ 0.866,  0.5  ]])
    """
    if (
        isinstance(elements, bool)
        or int(elements) != elements
        or not 1 <= int(elements) <= MAX_ELEMENTS
    ):
        raise ValueError(f"elements must be an integer from 1 to {MAX_ELEMENTS}, got {elements!r}")
    pitch = float(pitch)
    if not np.isfinite(pitch) or pitch <= 0:
        raise ValueError(f"pitch must be a positive number of Airy units (e.g. 0.2), got {pitch!r}")
    i, j = np.meshgrid(np.arange(-8, 9), np.arange(-8, 9), indexing="ij")
    x = (i + 0.5 * j).ravel()
    y = (np.sqrt(3.0) / 2.0 * j).ravel()
    distance = np.round(np.hypot(x, y), 9)
    angle = np.round(np.mod(np.arctan2(y, x), 2 * np.pi), 9)
    order = np.lexsort((angle, distance))[: int(elements)]
    theta = np.deg2rad(float(rotation))
    xr = x[order] * np.cos(theta) - y[order] * np.sin(theta)
    yr = x[order] * np.sin(theta) + y[order] * np.cos(theta)
    out = pitch * np.stack([yr, xr], axis=1)
    out[np.abs(out) < 1e-12] = 0.0
    return out


def _interpolation(radius: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    position = radius.ravel() / step
    lower = np.floor(position).astype(np.int64)
    return lower, position - lower


def airyscan(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    excitation_wavelength: float,
    ni: float,
    *,
    elements: int = 32,
    pitch: float = 0.2,
    element_size: float | None = None,
    rotation: float = 0.0,
    normalize: str = "each",
    model: str = "gibson_lanni",
    ns: float | None = None,
    depth: float = 0.0,
    ng: float = 1.515,
    tg: float = 170.0,
    ni0: float | None = None,
    ng0: float = 1.515,
    tg0: float = 170.0,
    ti0: float = 150.0,
    oversample: int = 3,
) -> np.ndarray:
    r"""PSFs of the elements of an array-detector confocal (Airyscan), one per element.

    .. math::

        h_e(\mathbf r, z) = h_{ex}(|\mathbf r|, z)\,
                            \big[h_{em}(\cdot, z) \ast_{xy} D\big](|\mathbf r - d_e|)

    :math:`d_e` is element ``e``'s centre (:func:`element_positions`, hexagonal,
    in Airy units of the emission, 1 AU :math:`= 1.22\,\lambda_{em}/\mathrm{NA}`)
    and :math:`D` its aperture, a disk of the area of a hexagon of flat-to-flat
    width ``element_size`` (radius :math:`0.525\,` ``element_size``). Each value is the
    mean over :math:`s^3` sub-samples of the voxel (``oversample`` :math:`= s`).

    Parameters
    ----------
    shape : (int, int, int)
        Odd sizes (nz, ny, nx); the centre voxel is the focus of the excitation.
    spacing : (float, float, float)
        Voxel size (dz, dy, dx) in µm.
    na : float
        Numerical aperture (the same objective excites and detects).
    wavelength : float
        Emission wavelength in vacuum, µm.
    excitation_wavelength : float
        Excitation wavelength in vacuum, µm.
    ni : float
        Refractive index of the immersion medium.
    elements : int
        Number of detector elements (32 on the Airyscan).
    pitch : float
        Distance between neighbouring element centres, Airy units (0.2 AU by default).
    element_size : float, optional
        Flat-to-flat width of an element's aperture, Airy units; ``pitch`` by
        default (elements that tile the detector).
    rotation : float
        Rotation of the layout about the axis, degrees counter-clockwise (from +x towards +y).
    normalize : {"each", "together"}
        ``"each"``: every element's PSF sums to 1. ``"together"``: all of them
        sum to 1, each element's sum being its share of the light the detector
        collects (what a joint model of raw element images needs: outer
        elements are dimmer).
    model : {"gibson_lanni", "born_wolf", "vectorial"}
        Model for the excitation and emission PSFs, as in :func:`confocal`.
    ns, depth, ng, tg, ni0, ng0, tg0, ti0 :
        Sample, coverslip and design parameters, as in :func:`gibson_lanni`.
    oversample : int
        Sub-samples per voxel along each axis; 1 gives point samples.

    Returns
    -------
    ndarray, float32, shape ``(elements, nz, ny, nx)``
        One ZYX PSF per element, in the order of :func:`element_positions`
        (element 0 on the axis).

    Notes
    -----
    The displacement convention: an element at :math:`d_e` (in the sample's
    coordinates, image inversion and magnification removed) sees an emitter at
    :math:`\mathbf r` from the scan position with weight
    :math:`h_{em}(\mathbf r - d_e)`. The recipe to simulate the element images
    of an object is in ``docs/views.md``.

    Examples
    --------
    >>> psfs = airyscan((9, 21, 21), (0.15, 0.04, 0.04), na=1.4, wavelength=0.52,
    ...                 excitation_wavelength=0.488, ni=1.515, elements=7, oversample=1)
    >>> psfs.shape, psfs.dtype
    ((7, 9, 21, 21), dtype('float32'))
    """
    if model not in _MODELS:
        raise ValueError(f"model must be one of {sorted(_MODELS)}, got {model!r}")
    if normalize not in ("each", "together"):
        raise ValueError(f"normalize must be 'each' or 'together', got {normalize!r}")
    shape = check_shape(shape)
    spacing = check_spacing(spacing)
    oversample = check_oversample(oversample)
    positions = element_positions(elements, pitch, rotation)
    size = (
        float(pitch)
        if element_size is None
        else check_nonnegative(element_size, "element_size", "Airy units")
    )
    if model == "born_wolf":
        ns, depth, ng, tg, ni0, ng0, tg0 = None, 0.0, 1.515, 170.0, None, 1.515, 170.0
    emission = build_optics(
        na, wavelength, ni, ns=ns, depth=depth, ng=ng, tg=tg, ni0=ni0, ng0=ng0, tg0=tg0, ti0=ti0
    )
    excitation = emission.with_wavelength(
        check_wavelength(excitation_wavelength, "excitation_wavelength")
    )
    intensity = _MODELS[model]
    airy_unit = AIRY_UNIT_FACTOR * emission.wavelength / emission.na  # µm in the sample
    shifts = positions * airy_unit  # (elements, 2), µm
    radius = size * np.sqrt(np.sqrt(3.0) / (2.0 * np.pi)) * airy_unit  # equal-area disk

    resolution = min(emission.wavelength, excitation.wavelength) / emission.na
    step = radial_step(spacing[1:], oversample, resolution)
    reach = float(np.hypot(*shifts.T).max()) if len(shifts) else 0.0
    radii = radial_samples(shape[1:], spacing[1:], step, extra=reach)
    z = axial_samples(shape[0], spacing[0], oversample)
    excited = intensity(excitation, z, radii)  # (n_z s, n_r)
    if radius <= step:  # a point detector (the scale is normalized away)
        detected = intensity(emission, z, radii)
    else:
        n_in = radii.size + int(np.ceil(radius / step)) + 3
        emitted = intensity(emission, z, np.arange(n_in) * step)
        detected = (disk_convolution_matrix(step, radii.size, n_in, radius) @ emitted.T).T

    offsets = subsample_offsets(oversample)
    y = (((np.arange(shape[1]) - shape[1] // 2)[:, None] + offsets[None, :]) * spacing[1]).ravel()
    x = (((np.arange(shape[2]) - shape[2] // 2)[:, None] + offsets[None, :]) * spacing[2]).ravel()
    lower, fraction = _interpolation(np.hypot(y[:, None], x[None, :]), step)
    spot = excited[:, lower] * (1.0 - fraction) + excited[:, lower + 1] * fraction  # (n_z s, n_pix)
    s = oversample
    volumes = np.empty((len(shifts), *shape), dtype=np.float64)
    for e, (dy, dx) in enumerate(shifts):
        lower, fraction = _interpolation(np.hypot(y[:, None] - dy, x[None, :] - dx), step)
        seen = detected[:, lower] * (1.0 - fraction) + detected[:, lower + 1] * fraction
        seen *= spot
        volumes[e] = seen.reshape(shape[0], s, shape[1], s, shape[2], s).mean(axis=(1, 3, 5))
    np.clip(volumes, 0.0, None, out=volumes)
    totals = volumes.reshape(len(shifts), -1).sum(axis=1)
    if not np.all(np.isfinite(totals)) or np.any(totals <= 0):
        raise ValueError(
            "an element's PSF is zero everywhere on this grid (the box may lie far from the "
            "focus, or be too small for the detector's extent): check shape, spacing and depth"
        )
    if normalize == "each":
        volumes /= totals[:, None, None, None]
    else:
        volumes /= totals.sum()
    return volumes.astype(np.float32)
