r"""Confocal PSF: excitation PSF times the emission PSF seen through a pinhole.

.. math::

    h_{conf}(r, z) = h_{ex}(r, z)\,\big[h_{em}(\cdot, z) \ast_{xy} D_R\big](r)

:math:`h_{ex}` is the model at the excitation wavelength, :math:`h_{em}` at the
emission wavelength, and :math:`D_R` the indicator of the pinhole projected
into the sample (a disk of radius :math:`R`). The lateral convolution of a
radial profile with a disk stays radial:

.. math::

    (f \ast D_R)(r) = \int_0^\infty f(\rho)\,2\rho\,\varphi(r, \rho)\,d\rho,
    \qquad \cos\varphi = \frac{r^2 + \rho^2 - R^2}{2 r \rho}\ \text{(clipped to [-1, 1])},

where :math:`2\rho\varphi` is the length of the circle of radius :math:`\rho`
inside the disk. It is one banded matrix applied to all planes at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse

from ._checks import (
    check_nonnegative,
    check_oversample,
    check_shape,
    check_spacing,
    check_wavelength,
)
from ._gaussian import AIRY_UNIT_FACTOR
from ._optics import Optics, axial_origin_offset, build_optics
from ._sampling import render_radial
from ._scalar import scalar_intensity
from ._vectorial import vectorial_intensity

__all__ = ["confocal", "disk_convolution_matrix"]

_MODELS: dict[str, Callable[[Optics, np.ndarray, np.ndarray], np.ndarray]] = {
    "born_wolf": scalar_intensity,
    "gibson_lanni": scalar_intensity,
    "vectorial": vectorial_intensity,
}


def disk_convolution_matrix(
    step: float, n_out: int, n_in: int, radius: float, subsamples: int = 8
) -> scipy.sparse.csr_matrix:
    r"""Matrix ``M`` with ``(f * disk)(r_i) = sum_j M[i, j] f(r_j)`` for radial ``f``.

    Radii are ``r_j = j * step``; ``f`` is taken linear between samples and each
    interval is integrated by the midpoint rule with ``subsamples`` points (more
    when the disk is small against ``step``). Its rows sum to about
    :math:`\pi R^2` where ``f`` is constant.
    """
    subsamples = max(subsamples, int(np.ceil(16.0 * step / radius)))
    band = int(np.ceil(radius / step)) + 2
    out = np.arange(n_out)
    intervals = out[:, None] + np.arange(-band, band + 1)[None, :]  # (n_out, width)
    t = (np.arange(subsamples) + 0.5) / subsamples
    rho = (intervals[:, :, None] + t[None, None, :]) * step  # (n_out, width, m)
    r = (out * step)[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (r**2 + rho**2 - radius**2) / (2.0 * r * rho)
    cosine = np.where(r == 0, np.where(rho < radius, -1.0, 1.0), cosine)
    arc = 2.0 * rho * np.arccos(np.clip(cosine, -1.0, 1.0)) * (step / subsamples)
    arc = np.where(rho > 0, arc, 0.0)
    valid = (intervals >= 0) & (intervals + 1 < n_in)
    rows = np.broadcast_to(out[:, None], intervals.shape)[valid]
    lower = ((1.0 - t) * arc).sum(axis=2)[valid]
    upper = (t * arc).sum(axis=2)[valid]
    columns = intervals[valid]
    return scipy.sparse.csr_matrix(
        (
            np.concatenate([lower, upper]),
            (np.concatenate([rows, rows]), np.concatenate([columns, columns + 1])),
        ),
        shape=(n_out, n_in),
    )


def confocal(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    ni: float,
    *,
    excitation_wavelength: float | None = None,
    pinhole: float = 1.0,
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
    axial_origin: str = "focus",
) -> np.ndarray:
    r"""Laser scanning confocal PSF from a diffraction model and a pinhole.

    .. math::

        h_{conf}(x, y, z) = h_{ex}(x, y, z)\,
                           \big[h_{em}(\cdot, \cdot, z) \ast_{xy} D_R\big](x, y)

    with :math:`h_{ex}` the model at ``excitation_wavelength``, :math:`h_{em}` at
    ``wavelength`` and :math:`D_R` the pinhole back-projected into the sample,
    a disk of radius :math:`R = \text{pinhole}\cdot 1.22\,\lambda_{em}/(2\,\mathrm{NA})`.
    ``pinhole=0`` is an ideal point detector: :math:`h_{ex} h_{em}`, about
    :math:`1/\sqrt{2}` of the widefield width for equal wavelengths; a large
    pinhole tends to the excitation PSF.

    Parameters
    ----------
    shape : (int, int, int)
        Odd sizes (nz, ny, nx); the centre voxel is the origin (``axial_origin``).
    spacing : (float, float, float)
        Voxel size (dz, dy, dx) in µm: the stage step and the pixel size.
    na : float
        Numerical aperture, ``0 < na < ni`` (the same objective excites and detects).
    wavelength : float
        Emission wavelength in vacuum, µm.
    ni : float
        Refractive index of the immersion medium (actual).
    excitation_wavelength : float, optional
        Excitation wavelength in vacuum, µm; defaults to ``wavelength``.
    pinhole : float
        Pinhole diameter in Airy units of the emission (1 AU =
        :math:`1.22\,\lambda_{em}/\mathrm{NA}` in the sample); 0 = ideal point.
    model : {"gibson_lanni", "born_wolf", "vectorial"}
        Model for both the excitation and emission PSFs. ``"born_wolf"``
        ignores the mismatch parameters.
    ns, depth, ng, tg, ni0, ng0, tg0, ti0 :
        Sample, coverslip and design parameters, as in :func:`gibson_lanni`.
    oversample : int
        Sub-samples per voxel along each axis (voxel integration), applied to
        the confocal product; 1 gives point samples.
    axial_origin : {"focus", "paraxial", "nominal"}
        The centre plane (see :func:`gibson_lanni`); ``"focus"`` is the
        maximum of the on-axis product of excitation and emission.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The PSF, ZYX, normalized to sum 1.

    Notes
    -----
    The vectorial option uses the isotropic-emitter intensity for the excitation
    too (a circularly polarized or depolarized beam), not a linearly polarized
    focus.

    Examples
    --------
    >>> psf = confocal((21, 41, 41), (0.1, 0.04, 0.04), na=1.4, wavelength=0.52,
    ...                ni=1.515, excitation_wavelength=0.488, pinhole=1.0)
    >>> psf.shape
    (21, 41, 41)
    """
    if model not in _MODELS:
        raise ValueError(
            f"model must be one of {sorted(_MODELS)}, got {model!r}; for the Gaussian "
            "approximation use gaussian(..., confocal=True)"
        )
    shape = check_shape(shape)
    spacing = check_spacing(spacing)
    oversample = check_oversample(oversample)
    pinhole = check_nonnegative(pinhole, "pinhole", unit="Airy units")
    if model == "born_wolf":
        ns, depth, ng, tg, ni0, ng0, tg0 = None, 0.0, 1.515, 170.0, None, 1.515, 170.0
    emission = build_optics(
        na, wavelength, ni, ns=ns, depth=depth, ng=ng, tg=tg, ni0=ni0, ng0=ng0, tg0=tg0, ti0=ti0
    )
    excitation_wavelength = (
        wavelength
        if excitation_wavelength is None
        else check_wavelength(excitation_wavelength, "excitation_wavelength")
    )
    excitation = emission.with_wavelength(excitation_wavelength)
    intensity = _MODELS[model]
    pinhole_radius = pinhole * AIRY_UNIT_FACTOR * emission.wavelength / (2.0 * emission.na)

    def on_axis(z: np.ndarray) -> np.ndarray:  # point pinhole: the product of the two
        return (intensity(excitation, z, np.zeros(1)) * intensity(emission, z, np.zeros(1)))[:, 0]

    origin = axial_origin_offset(emission, axial_origin, on_axis)

    def profile(z: np.ndarray, radii: np.ndarray) -> np.ndarray:
        z = z + origin
        excited = intensity(excitation, z, radii)
        step = float(radii[1] - radii[0])
        if pinhole_radius <= step:
            # A disk smaller than the radial step (< ~0.05 AU) acts as a point:
            # f * D = pi R^2 (f + R^2 lap(f) / 8 + ...), and the scale is normalized away.
            return excited * intensity(emission, z, radii)
        n_in = radii.size + int(np.ceil(pinhole_radius / step)) + 3
        detected = intensity(emission, z, np.arange(n_in) * step)
        blur = disk_convolution_matrix(step, radii.size, n_in, pinhole_radius)
        return excited * (blur @ detected.T).T

    resolution = min(emission.wavelength, excitation.wavelength) / emission.na
    return render_radial(profile, shape, spacing, oversample, resolution)
