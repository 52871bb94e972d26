r"""Scalar diffraction models: Born & Wolf (aberration-free) and Gibson & Lanni.

The scalar field of a point source, in the Debye approximation with the pupil
uniform in :math:`\rho = \sin\theta/\sin\alpha` (Gibson & Lanni 1991; Li, Xue &
Blu, JOSA A 34(6) 2017), is a Hankel transform over the pupil,

.. math::

    h(r, z) = \left|\int_0^1 e^{\,i k\,\mathrm{OPD}(\rho, z)}\,
              J_0(k\,\mathrm{NA}\,r\rho)\,\rho\,d\rho\right|^2,
    \qquad k = 2\pi/\lambda .

It is computed for every radius and axial position at once as one matrix
product (phase matrix, Gauss-Legendre weights, Bessel matrix), then mapped
onto the voxel grid (see ``_sampling``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.special

from ._checks import check_oversample, check_shape, check_spacing
from ._optics import (
    Optics,
    axial_origin_offset,
    build_optics,
    optical_path_difference,
    pupil_quadrature,
)
from ._sampling import render_radial

__all__ = ["born_wolf", "gibson_lanni", "scalar_intensity"]


def scalar_intensity(optics: Optics, z: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Scalar intensity :math:`h(r, z)` on the outer product of ``z`` and ``radii``.

    Parameters
    ----------
    optics : Optics
        The optical system.
    z : ndarray, shape (n_z,)
        Axial positions relative to the nominal focus, µm, positive deeper.
    radii : ndarray, shape (n_r,)
        Distances from the optical axis, µm.

    Returns
    -------
    ndarray, float64, shape (n_z, n_r)
        Unnormalized intensity.
    """
    rho, weights = pupil_quadrature(optics, z, float(np.max(radii)))
    k = optics.wavenumber
    pupil = np.exp(1j * k * optical_path_difference(optics, rho, z)) * (weights * rho)
    bessel = scipy.special.j0(k * optics.na * np.outer(rho, radii))
    real, imag = pupil.real @ bessel, pupil.imag @ bessel
    return real * real + imag * imag


def gibson_lanni(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    ni: float,
    *,
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
    r"""Scalar PSF with the refractive-index mismatch aberration of Gibson & Lanni (1991).

    .. math::

        h(r, z) = \left|\int_0^1 e^{\,i k\,\mathrm{OPD}(\rho, z)}\,
                  J_0(k\,\mathrm{NA}\,r\rho)\,\rho\,d\rho\right|^2

    with the optical path difference of the stratified sample/coverslip/immersion
    system (:math:`q = \mathrm{NA}\,\rho`, :math:`c_n = \sqrt{n^2 - q^2}`):

    .. math::

        \mathrm{OPD} = z_p c_{n_s} + t_g c_{n_g} - t_g^* c_{n_g^*}
                     + t_i c_{n_i} - t_i^* c_{n_i^*},\qquad t_i = t_i^* - z_p - z .

    With :math:`n_s < n_i` the source comes into focus deeper than nominal
    (paraxially by :math:`z_p (n_i/n_s - 1)` of stage travel, 1.29 µm for 5 µm
    of water at NA 1.4) and the PSF becomes axially asymmetric; past the
    critical angle (:math:`\mathrm{NA} > n_s`) the marginal rays are evanescent
    in the sample and are damped as :math:`e^{-k z_p |c_{n_s}|}`.

    Parameters
    ----------
    shape : (int, int, int)
        Odd sizes (nz, ny, nx); the centre voxel is the origin (``axial_origin``).
    spacing : (float, float, float)
        Voxel size (dz, dy, dx) in µm: ``dz`` is the stage (focus-drive) step
        of the stack, ``dy, dx`` the pixel size in the sample plane.
    na : float
        Numerical aperture, ``0 < na < ni``.
    wavelength : float
        Emission wavelength in vacuum, µm.
    ni : float
        Refractive index of the immersion medium (actual).
    ns : float, optional
        Refractive index of the sample; defaults to ``ni`` (no mismatch).
    depth : float
        Depth of the source below the coverslip, µm (:math:`z_p`).
    ng, tg : float
        Coverslip index and thickness (µm), actual.
    ni0, ng0, tg0 : float
        Design values of the immersion index (defaults to ``ni``), coverslip index
        and thickness (µm).
    ti0 : float
        Design working distance (immersion thickness), µm; matters only when
        ``ni != ni0``.
    oversample : int
        Sub-samples per voxel along each axis; each voxel holds the mean of the
        PSF over its volume (pixel integration). 1 gives point samples.
    axial_origin : {"focus", "paraxial", "nominal"}
        What the centre plane is. ``"focus"`` (default, for deconvolution):
        the plane where the source is in focus, the maximum of the on-axis
        intensity. ``"paraxial"``: the paraxial focus (psfmodels' centre).
        ``"nominal"``: the stage position that would focus on the source if
        the sample had index ``ni`` (the objective moved by ``depth`` from the
        coverslip focus); the peak is then :func:`focal_shift` deeper.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The PSF, ZYX, normalized to sum 1. Axis 0 points deeper into the sample
        (away from the objective); flip it (``psf[::-1]``) for stacks acquired
        the other way.

    Notes
    -----
    Valid for any NA in the scalar approximation; above NA ~ 1 the vectorial
    model (:func:`vectorial`) is laterally broader and more accurate. The pupil
    has no apodization, as in Gibson & Lanni and Li, Xue & Blu (2017). The
    integral is a Gauss-Legendre quadrature over the pupil for all radii and
    planes at once, then linear interpolation in :math:`r`.

    Examples
    --------
    >>> psf = gibson_lanni((33, 65, 65), (0.1, 0.05, 0.05), na=1.4, wavelength=0.52,
    ...                    ni=1.515, ns=1.33, depth=5.0)
    >>> psf.shape, psf.dtype
    ((33, 65, 65), dtype('float32'))
    """
    shape = check_shape(shape)
    spacing = check_spacing(spacing)
    oversample = check_oversample(oversample)
    optics = build_optics(
        na, wavelength, ni, ns=ns, depth=depth, ng=ng, tg=tg, ni0=ni0, ng0=ng0, tg0=tg0, ti0=ti0
    )
    origin = axial_origin_offset(
        optics, axial_origin, lambda z: scalar_intensity(optics, z, np.zeros(1))[:, 0]
    )
    return render_radial(
        lambda z, radii: scalar_intensity(optics, z + origin, radii),
        shape,
        spacing,
        oversample,
        resolution=optics.wavelength / optics.na,
    )


def born_wolf(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    ni: float,
    *,
    oversample: int = 3,
) -> np.ndarray:
    r"""Scalar PSF of an aberration-free objective focused in a matched medium.

    .. math::

        h(r, z) = \left|\int_0^1 e^{-i k z \sqrt{n_i^2 - \mathrm{NA}^2\rho^2}}\,
                  J_0(k\,\mathrm{NA}\,r\rho)\,\rho\,d\rho\right|^2

    This is :func:`gibson_lanni` without mismatch (``ns = ni``, design
    coverslip). The defocus phase is the exact one, not Born & Wolf's paraxial
    :math:`k z\,\mathrm{NA}^2\rho^2/(2 n_i)`, so the axial width stays right at
    high NA. In focus it is the Airy pattern (lateral FWHM
    :math:`0.51\,\lambda/\mathrm{NA}`); it is symmetric about the focal plane.

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
        Refractive index of the immersion medium (and of the sample).
    oversample : int
        Sub-samples per voxel along each axis (pixel integration); 1 gives
        point samples.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The PSF, ZYX, normalized to sum 1.

    Examples
    --------
    >>> psf = born_wolf((31, 63, 63), (0.1, 0.04, 0.04), na=1.4, wavelength=0.52, ni=1.515)
    >>> round(float(psf.sum()), 4)
    1.0
    """
    return gibson_lanni(
        shape, spacing, na, wavelength, ni, oversample=oversample, axial_origin="nominal"
    )
