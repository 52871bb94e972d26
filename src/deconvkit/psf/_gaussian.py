r"""Gaussian approximations of widefield and confocal PSFs (Zhang, Zerubia & Olivo-Marin 2007).

B. Zhang, J. Zerubia, J.-C. Olivo-Marin, "Gaussian approximations of
fluorescence microscope point-spread function models", Applied Optics 46(10),
1819-1829 (2007): the least-squares Gaussian fits of the diffraction-limited
PSFs, in closed form. With :math:`k = 2\pi/\lambda`, :math:`n = n_i`,
:math:`\alpha = \arcsin(\mathrm{NA}/n)` and :math:`c = \cos\alpha`:

widefield, paraxial
    :math:`\sigma_r = \sqrt{2}/(k\,\mathrm{NA})`,
    :math:`\sigma_z = 2\sqrt{6}\,n/(k\,\mathrm{NA}^2)`;
widefield, non-paraxial
    :math:`\sigma_r = \frac{1}{nk}\left[\frac{4 - 7c^{3/2} + 3c^{7/2}}
    {7(1 - c^{3/2})}\right]^{-1/2}`,
    :math:`\sigma_z = \frac{5\sqrt{7}\,(1 - c^{3/2})}{\sqrt{6}\,nk\,
    \left[4c^5 - 25c^{7/2} + 42c^{5/2} - 25c^{3/2} + 4\right]^{1/2}}`;
confocal, paraxial, pinhole radius :math:`R` (sample space), with
:math:`c_1 = k_{ex} R\,\mathrm{NA}`, :math:`c_2 = k_{em} R\,\mathrm{NA}`,
:math:`J_m = J_m(c_2)`
    :math:`\sigma_r = \sqrt{2}\Big/\sqrt{\frac{c_1^2}{R^2} + \frac{4c_2J_0J_1 - 8J_1^2}
    {R^2(J_0^2 + J_1^2 - 1)}}`,
    :math:`\sigma_z = 2\sqrt{6}\Big/\sqrt{\frac{c_1^2\mathrm{NA}^2}{R^2n^2}
    - \frac{48c_2^2(J_0^2 + J_1^2) - 192J_1^2}{n^2k_{em}^2R^4(J_0^2 + J_1^2 - 1)}}`,
    which tends to the product of the excitation and emission Gaussians,
    :math:`\sigma^{-2} = \sigma_{ex}^{-2} + \sigma_{em}^{-2}`, as :math:`R \to 0`;
confocal, non-paraxial, ideal pinhole
    the product of the non-paraxial excitation and emission Gaussians.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.special

from ._checks import (
    check_nonnegative,
    check_numerical_aperture,
    check_oversample,
    check_refractive_index,
    check_shape,
    check_spacing,
    check_wavelength,
)
from ._sampling import render_radial

__all__ = ["AIRY_UNIT_FACTOR", "gaussian", "gaussian_widths"]

#: One Airy unit (pinhole diameter) is this factor times wavelength / NA, in sample space.
AIRY_UNIT_FACTOR = 1.22

#: Below this value of c2 = k_em R NA the confocal formulas use their R -> 0 limit.
_SMALL_PINHOLE = 1e-2


def _widefield_widths(
    na: float, wavenumber: float, n: float, paraxial: bool
) -> tuple[float, float]:
    """(sigma_r, sigma_z) in µm of the widefield Gaussian."""
    if paraxial:
        return np.sqrt(2.0) / (wavenumber * na), 2.0 * np.sqrt(6.0) * n / (wavenumber * na**2)
    c = np.cos(np.arcsin(na / n))
    lateral = (4.0 - 7.0 * c**1.5 + 3.0 * c**3.5) / (7.0 * (1.0 - c**1.5))
    sigma_r = 1.0 / (n * wavenumber * np.sqrt(lateral))
    axial = 4.0 * c**5 - 25.0 * c**3.5 + 42.0 * c**2.5 - 25.0 * c**1.5 + 4.0
    sigma_z = 5.0 * np.sqrt(7.0) * (1.0 - c**1.5) / (np.sqrt(6.0) * n * wavenumber * np.sqrt(axial))
    return float(sigma_r), float(sigma_z)


def _confocal_paraxial_widths(
    na: float, k_emission: float, k_excitation: float, n: float, radius: float
) -> tuple[float, float]:
    """(sigma_r, sigma_z) in µm of Zhang et al.'s paraxial confocal Gaussian, pinhole radius R."""
    c1, c2 = k_excitation * radius * na, k_emission * radius * na
    if c2 < _SMALL_PINHOLE:
        k_total = np.hypot(k_excitation, k_emission)
        return np.sqrt(2.0) / (na * k_total), 2.0 * np.sqrt(6.0) * n / (na**2 * k_total)
    j0, j1 = scipy.special.j0(c2), scipy.special.j1(c2)
    ring = j0**2 + j1**2 - 1.0
    lateral = c1**2 / radius**2 + (4.0 * c2 * j0 * j1 - 8.0 * j1**2) / (radius**2 * ring)
    axial = c1**2 * na**2 / (radius**2 * n**2) - (
        48.0 * c2**2 * (j0**2 + j1**2) - 192.0 * j1**2
    ) / (n**2 * k_emission**2 * radius**4 * ring)
    return float(np.sqrt(2.0 / lateral)), float(2.0 * np.sqrt(6.0) / np.sqrt(axial))


def gaussian_widths(
    na: float,
    wavelength: float,
    ni: float,
    *,
    confocal: bool = False,
    excitation_wavelength: float | None = None,
    pinhole: float = 0.0,
    paraxial: bool = False,
) -> tuple[float, float]:
    """Standard deviations ``(sigma_lateral, sigma_axial)`` in µm of :func:`gaussian`.

    The FWHM is :math:`2\\sqrt{2\\ln 2}\\,\\sigma \\approx 2.355\\,\\sigma`. Parameters as
    in :func:`gaussian`.
    """
    ni = check_refractive_index(ni, "ni")
    na = check_numerical_aperture(na, ni)
    k_emission = 2.0 * np.pi / check_wavelength(wavelength)
    widefield = _widefield_widths(na, k_emission, ni, paraxial)
    if not confocal:
        return widefield
    excitation = wavelength if excitation_wavelength is None else excitation_wavelength
    k_excitation = 2.0 * np.pi / check_wavelength(excitation, "excitation_wavelength")
    pinhole = check_nonnegative(pinhole, "pinhole", unit="Airy units")
    if paraxial:
        radius = pinhole * AIRY_UNIT_FACTOR * wavelength / (2.0 * na)
        return _confocal_paraxial_widths(na, k_emission, k_excitation, ni, radius)
    if pinhole > 0:
        raise ValueError(
            "the Gaussian approximation of Zhang et al. has a closed form for a finite "
            "pinhole only in the paraxial case; pass paraxial=True, or pinhole=0 (ideal), or "
            "use confocal(..., pinhole=...) for the diffraction model"
        )
    excitation_widths = _widefield_widths(na, k_excitation, ni, paraxial=False)
    return tuple(  # type: ignore[return-value]
        float(1.0 / np.hypot(1.0 / a, 1.0 / b)) for a, b in zip(widefield, excitation_widths)
    )


def gaussian(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    ni: float,
    confocal: bool = False,
    *,
    excitation_wavelength: float | None = None,
    pinhole: float = 0.0,
    paraxial: bool = False,
    oversample: int = 3,
) -> np.ndarray:
    r"""Separable Gaussian approximation of a widefield or confocal PSF.

    .. math::

        h(x, y, z) \propto \exp\left(-\frac{x^2 + y^2}{2\sigma_r^2}
                                     - \frac{z^2}{2\sigma_z^2}\right)

    with the widths of Zhang, Zerubia & Olivo-Marin (Applied Optics 2007),
    given in the module docstring (:func:`gaussian_widths` returns them).

    Parameters
    ----------
    shape : (int, int, int)
        Odd sizes (nz, ny, nx); the centre voxel is the focus.
    spacing : (float, float, float)
        Voxel size (dz, dy, dx) in µm.
    na : float
        Numerical aperture, ``0 < na < ni``.
    wavelength : float
        Emission wavelength in vacuum, µm.
    ni : float
        Refractive index of the immersion medium (and sample).
    confocal : bool
        False: widefield. True: laser scanning confocal (excitation times
        pinhole-filtered emission).
    excitation_wavelength : float, optional
        Confocal only: excitation wavelength, µm; defaults to ``wavelength``.
    pinhole : float
        Confocal only: pinhole diameter in Airy units
        (1 AU = :math:`1.22\,\lambda_{em}/\mathrm{NA}` in the sample); 0 is an
        ideal point pinhole.
    paraxial : bool
        Use the paraxial formulas (valid for small NA, say below 0.7) instead of
        the non-paraxial ones. A finite confocal pinhole needs ``paraxial=True``.
    oversample : int
        Sub-samples per voxel along each axis (voxel integration); 1 gives
        point samples.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The PSF, ZYX, normalized to sum 1.

    Notes
    -----
    A Gaussian has no rings and no missing cone in its OTF: use it for quick
    tests and as a smooth starting guess, a diffraction model for real data.
    With equal wavelengths and an ideal pinhole the confocal widths are those
    of widefield divided by :math:`\sqrt{2}`.

    Examples
    --------
    >>> psf = gaussian((21, 31, 31), (0.2, 0.1, 0.1), na=1.2, wavelength=0.6, ni=1.33)
    >>> psf.shape, round(float(psf.sum()), 4)
    ((21, 31, 31), 1.0)
    """
    shape = check_shape(shape)
    spacing = check_spacing(spacing)
    oversample = check_oversample(oversample)
    sigma_r, sigma_z = gaussian_widths(
        na,
        wavelength,
        ni,
        confocal=confocal,
        excitation_wavelength=excitation_wavelength,
        pinhole=pinhole,
        paraxial=paraxial,
    )

    def profile(z: np.ndarray, radii: np.ndarray) -> np.ndarray:
        axial = np.exp(-0.5 * (z / sigma_z) ** 2)
        lateral = np.exp(-0.5 * (radii / sigma_r) ** 2)
        return np.outer(axial, lateral)

    return render_radial(profile, shape, spacing, oversample, resolution=2.355 * sigma_r)
