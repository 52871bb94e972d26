r"""Zernike polynomials in Noll's order, and the PSF of a pupil aberrated by them.

Noll (1976) numbers the Zernike polynomials by a single index :math:`j \ge 1`
and normalizes them to unit RMS over the unit disk:

.. math::

    Z_j(\rho, \varphi) = \sqrt{n + 1}\; R_n^0(\rho) \quad (m = 0), \qquad
    Z_j = \sqrt{2(n + 1)}\; R_n^{|m|}(\rho)
          \begin{cases} \cos m\varphi & j \text{ even} \\ \sin |m|\varphi & j \text{ odd} \end{cases}

    R_n^m(\rho) = \sum_{k=0}^{(n-m)/2} \frac{(-1)^k (n-k)!}
                  {k!\,\big(\tfrac{n+m}{2}-k\big)!\,\big(\tfrac{n-m}{2}-k\big)!}\,\rho^{n-2k}

so :math:`\frac{1}{\pi}\int_{\text{disk}} Z_j Z_k = \delta_{jk}`. The first ones
(the names of :data:`NOLL_NAMES`): 1 piston, 2 tip (x), 3 tilt (y), 4 defocus,
5–6 astigmatism, 7–8 coma, 9–10 trefoil, 11 primary spherical, 12–13
secondary astigmatism, 14–15 quadrafoil, 22 secondary spherical.

The aberration is a *phase in radians*, :math:`W(\rho, \varphi) = \sum_j c_j Z_j`,
added to the pupil: with unit-RMS polynomials :math:`c_j` is the RMS wavefront
error of mode j in radians (:math:`c_j / 2\pi` waves). The pupil coordinates
are :math:`\rho = n\sin\theta/\mathrm{NA}` and :math:`\varphi` the azimuth from
the x axis (a positive tip moves the PSF towards +x).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import factorial
from typing import Any

import numpy as np

from ._checks import check_oversample, check_shape, check_spacing
from ._optics import axial_origin_offset, build_optics

__all__ = [
    "MAX_NOLL_INDEX",
    "NOLL_NAMES",
    "coefficient_array",
    "noll_to_nm",
    "radial_polynomial",
    "zernike",
    "zernike_polynomial",
]

#: Largest Noll index accepted (radial order 20).
MAX_NOLL_INDEX = 231

#: Names of the first-class modes, to give coefficients by name.
NOLL_NAMES: dict[str, int] = {
    "piston": 1,
    "tip": 2,
    "tilt": 3,
    "defocus": 4,
    "oblique_astigmatism": 5,
    "vertical_astigmatism": 6,
    "vertical_coma": 7,
    "horizontal_coma": 8,
    "vertical_trefoil": 9,
    "oblique_trefoil": 10,
    "spherical": 11,
    "vertical_secondary_astigmatism": 12,
    "oblique_secondary_astigmatism": 13,
    "vertical_quadrafoil": 14,
    "oblique_quadrafoil": 15,
    "secondary_spherical": 22,
}

MODELS = ("scalar", "vectorial")


def check_noll_index(j: Any, what: str = "Zernike index") -> int:
    """A Noll index: an integer in [1, MAX_NOLL_INDEX]."""
    if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)):
        raise TypeError(f"{what} must be an integer Noll index j >= 1, got {j!r}")
    if not 1 <= int(j) <= MAX_NOLL_INDEX:
        raise ValueError(
            f"{what} {int(j)} is out of range: Noll indices run from 1 (piston) to "
            f"{MAX_NOLL_INDEX} (radial order 20)"
        )
    return int(j)


def noll_to_nm(j: int) -> tuple[int, int]:
    """Radial order n and signed azimuthal frequency m of Noll index ``j``.

    ``m > 0`` is a cosine mode (even ``j``), ``m < 0`` a sine mode (odd ``j``).

    >>> [noll_to_nm(j) for j in (1, 2, 3, 4, 5, 6, 11, 22)]
    [(0, 0), (1, 1), (1, -1), (2, 0), (2, -2), (2, 2), (4, 0), (6, 0)]
    """
    j = check_noll_index(j)
    n = int((np.sqrt(8 * (j - 1) + 1) - 1) // 2)
    while (n + 1) * (n + 2) // 2 < j:  # guard the float square root
        n += 1
    while n * (n + 1) // 2 >= j:
        n -= 1
    position = j - n * (n + 1) // 2  # 1-based position inside order n
    parity = n % 2
    m = 2 * ((position + parity) // 2) - parity
    if m != 0 and j % 2 == 1:
        m = -m
    return n, m


def radial_polynomial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    """Zernike radial polynomial :math:`R_n^{|m|}(\\rho)` (Horner-free explicit sum)."""
    m = abs(m)
    rho = np.asarray(rho, dtype=float)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        coefficient = (-1) ** k * factorial(n - k) / (
            factorial(k) * factorial((n + m) // 2 - k) * factorial((n - m) // 2 - k)
        )
        out = out + coefficient * rho ** (n - 2 * k)
    return out


def zernike_polynomial(j: int, rho: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Noll-normalized Zernike polynomial :math:`Z_j(\\rho, \\varphi)` (unit RMS on the disk)."""
    n, m = noll_to_nm(j)
    radial = radial_polynomial(n, m, rho)
    if m == 0:
        return np.sqrt(n + 1.0) * radial
    angular = np.cos(m * phi) if m > 0 else np.sin(-m * phi)
    return np.sqrt(2.0 * (n + 1)) * radial * angular


def coefficient_array(coefficients: Any) -> dict[int, float]:
    """Validate Zernike coefficients (radians) into ``{noll_index: value}``.

    Accepts a mapping ``{j or name: value}`` or a 1D sequence whose entry ``i``
    is the coefficient of ``j = i + 1`` (piston first). None means no aberration.
    """
    if coefficients is None:
        return {}
    if isinstance(coefficients, Mapping):
        items = list(coefficients.items())
    else:
        values = np.asarray(coefficients, dtype=object)
        if values.ndim != 1:
            raise ValueError(
                "coefficients must be a mapping {noll_index: radians} or a 1D sequence "
                f"(entry i is j = i + 1); got an array of shape {values.shape}"
            )
        if values.size > MAX_NOLL_INDEX:
            raise ValueError(
                f"{values.size} coefficients given: Noll indices stop at {MAX_NOLL_INDEX}"
            )
        items = [(i + 1, v) for i, v in enumerate(values.tolist())]
    out: dict[int, float] = {}
    for key, value in items:
        if isinstance(key, str):
            if key not in NOLL_NAMES:
                raise ValueError(
                    f"unknown Zernike mode name {key!r}: use a Noll index or one of "
                    f"{', '.join(NOLL_NAMES)}"
                )
            j = NOLL_NAMES[key]
        else:
            j = check_noll_index(key, "Zernike coefficient index")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"the coefficient of Z{j} must be a number (radians), got {value!r}"
            ) from None
        if not np.isfinite(number):
            raise ValueError(f"the coefficient of Z{j} must be finite, got {value!r}")
        if j in out:
            raise ValueError(f"Z{j} is given twice (by index and by name)")
        out[j] = number
    return out


def zernike(
    shape: Sequence[int],
    spacing: Sequence[float],
    na: float,
    wavelength: float,
    ni: float,
    coefficients: Mapping[Any, float] | Sequence[float] | None = None,
    *,
    model: str = "scalar",
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
    pupil_samples: int | None = None,
    sheet_fwhm: float | None = None,
) -> np.ndarray:
    r"""PSF of a pupil aberrated by Zernike modes, on top of the Gibson–Lanni optics.

    The pupil, sampled on a Cartesian grid of the normalized pupil plane
    (:math:`u, v`, :math:`\rho = \sqrt{u^2 + v^2} \le 1`, the NA band limit), is

    .. math:: P_z(u, v) = A(\rho)\, e^{\,i k\,\mathrm{OPD}(\rho, z)}\, e^{\,i W(\rho, \varphi)},
              \qquad W = \sum_j c_j Z_j

    (:math:`\mathrm{OPD}` as in :func:`gibson_lanni`, so ``ns``, ``depth`` and
    the coverslip act as there), and the amplitude PSF of each plane is its 2D
    Fourier transform, :math:`a_z(x, y) = \sum_{u,v} P_z(u, v)\,
    e^{-2\pi i\,\mathrm{NA}(u x + v y)/\lambda}`, evaluated on the voxel grid
    by two matrix products (a matrix Fourier transform). ``model="scalar"``
    gives :math:`h = |a|^2` with :math:`A = 1`; ``"vectorial"`` sums the six
    dipole-orientation × polarization fields of an isotropic emitter with the
    Richards–Wolf factors (:math:`A = 1/\sqrt{\cos\theta_i}`), as :func:`vectorial`.
    With no coefficients it reproduces :func:`gibson_lanni` / :func:`vectorial`.
    With ``sheet_fwhm`` the detection PSF is multiplied by a light sheet's
    excitation profile centred on the centre plane,
    :math:`h(z, y, x) \propto s(z)\, |a_z(x, y)|^2`,
    :math:`s(z) = \exp(-4\ln 2\, z^2 / w^2)` (a light-sheet or lattice
    light-sheet microscope whose sheet lies in the detection's focal plane).

    Parameters
    ----------
    shape, spacing : tuple
        Odd sizes (nz, ny, nx) and voxel size (dz, dy, dx) in µm (``dz`` the stage step).
    na, wavelength, ni : float
        Numerical aperture, emission wavelength in vacuum (µm), immersion index.
    coefficients : mapping or sequence, optional
        Zernike coefficients in **radians** of phase (unit-RMS Noll polynomials,
        so each is the RMS wavefront error of its mode): ``{11: 0.5}`` or
        ``{"spherical": 0.5}``, or a 1D sequence whose entry ``i`` is
        :math:`c_{i+1}` (piston first). Indices 1 to 231.
    model : {"scalar", "vectorial"}
        Scalar (Gibson–Lanni) or vectorial (Richards–Wolf) pupil.
    ns, depth, ng, tg, ni0, ng0, tg0, ti0 : float
        The index-mismatch optics of :func:`gibson_lanni`.
    oversample : int
        Sub-samples per voxel along each axis (voxel integration).
    axial_origin : {"focus", "paraxial", "nominal"}
        The centre plane (see :func:`gibson_lanni`); ``"focus"`` maximizes the
        on-axis intensity of the aberrated pupil itself.
    pupil_samples : int, optional
        Pupil grid samples across the diameter; by default chosen from the
        phase's slope and the lateral extent (Nyquist with a 30 % margin).
    sheet_fwhm : float, optional
        FWHM :math:`w` (µm) of the light sheet along z; None (default): widefield.

    Returns
    -------
    ndarray, float32, shape ``shape``
        The PSF, ZYX, normalized to sum 1.

    Examples
    --------
    >>> psf = zernike((17, 33, 33), (0.2, 0.1, 0.1), 1.2, 0.52, 1.33, {"spherical": 0.5})
    >>> psf.shape, psf.dtype
    ((17, 33, 33), dtype('float32'))
    """
    from ._pupil import PupilModel  # the engine imports this module's polynomials

    shape = check_shape(shape)
    spacing = check_spacing(spacing)
    oversample = check_oversample(oversample)
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    values = coefficient_array(coefficients)
    if sheet_fwhm is not None and not (np.isfinite(sheet_fwhm) and sheet_fwhm > 0):
        raise ValueError(f"sheet_fwhm must be a positive length in µm (e.g. 1.0), got {sheet_fwhm!r}")
    optics = build_optics(
        na, wavelength, ni, ns=ns, depth=depth, ng=ng, tg=tg, ni0=ni0, ng0=ng0, tg0=tg0, ti0=ti0
    )
    modes = tuple(sorted(values)) or (1,)
    c = np.array([values.get(j, 0.0) for j in modes])
    if axial_origin == "nominal":
        offset = 0.0
    else:
        offset = pupil_focus(optics, spacing, model, modes, c, axial_origin, pupil_samples)
    engine = PupilModel(
        optics, shape, spacing, model=model, modes=modes, oversample=oversample,
        axial_offset=offset, pupil_samples=pupil_samples,
        phase_slope=float(np.sum(np.abs(c) * [max_slope(j) for j in modes])),
        sheet_fwhm=None if sheet_fwhm is None else float(sheet_fwhm),
    )  # fmt: skip
    return engine.psf(c).astype(np.float32)


def pupil_focus(optics: Any, spacing: tuple[float, ...], model: str, modes: tuple[int, ...],
                c: np.ndarray, axial_origin: str = "focus",
                pupil_samples: int | None = None) -> float:  # fmt: skip
    """Stage offset (µm) of the centre plane of the Zernike pupil ``c`` for ``axial_origin``."""
    from ._optics import least_squares_focus
    from ._pupil import PupilModel

    probe = PupilModel(optics, (1, 1, 1), spacing, model=model, modes=modes,
                       pupil_samples=pupil_samples or 96, oversample=1)  # fmt: skip
    guess = probe.defocus_guess(c)
    guesses = (guess, guess + float(least_squares_focus(optics))) if np.any(c) else ()
    return axial_origin_offset(optics, axial_origin, lambda z: probe.on_axis(c, z), guesses)


def max_slope(j: int) -> float:
    r"""Largest :math:`|\partial Z_j / \partial\rho|` on the unit disk (at :math:`\rho = 1`), rad per unit ρ.

    For a Zernike polynomial the radial slope is largest at the edge; the
    azimuthal one, :math:`|m| R/\rho`, is at most :math:`|m|` times it there.
    """
    n, m = noll_to_nm(j)
    norm = np.sqrt(n + 1.0) if m == 0 else np.sqrt(2.0 * (n + 1))
    rho = np.linspace(0.0, 1.0, 257)
    radial = radial_polynomial(n, m, rho)
    slope = np.abs(np.gradient(radial, rho)).max()
    return float(norm * max(slope, abs(m) * np.abs(radial[1:] / rho[1:]).max() if m else 0.0))
