r"""The optical system shared by the diffraction models, and its pupil quadrature.

The stratified system of Gibson & Lanni (1991): a point source at depth
:math:`z_p` below the coverslip in a sample of index :math:`n_s`, a coverslip
(index :math:`n_g`, thickness :math:`t_g`), the immersion layer (index
:math:`n_i`, thickness :math:`t_i`), and an objective designed for
:math:`n_g^*, t_g^*, n_i^*, t_i^*`. With :math:`q = \mathrm{NA}\,\rho` the
transverse index (:math:`q = n \sin\theta` in every layer, Snell) and
:math:`c_n(q) = \sqrt{n^2 - q^2}` (complex past the critical angle), the optical
path difference at normalized pupil radius :math:`\rho \in [0, 1]` is

.. math::

    \mathrm{OPD}(\rho, z) = z_p c_{n_s} + t_g c_{n_g} - t_g^* c_{n_g^*}
                          + t_i c_{n_i} - t_i^* c_{n_i^*},
    \qquad t_i = t_i^* - z_p - z .

:math:`z` is the position of the voxel relative to the nominal focus (µm),
positive deeper into the sample (away from the objective): the stage has
moved the objective by :math:`z_p + z` from the coverslip focus.  With matched
indices the OPD reduces to the exact (non-paraxial) defocus term
:math:`-z\,c_{n_i}(q)`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._checks import (
    check_nonnegative,
    check_numerical_aperture,
    check_refractive_index,
    check_wavelength,
)

__all__ = ["Optics", "build_optics", "optical_path_difference", "pupil_quadrature"]

#: Minimum number of Gauss-Legendre nodes on each pupil segment.
_MIN_NODES_PER_SEGMENT = 24
#: Gauss-Legendre nodes per radian of integrand oscillation over the pupil (tested converged).
NODES_PER_RADIAN = 0.6


@dataclass(frozen=True)
class Optics:
    """Parameters of the objective, the layers it looks through and the source.

    Lengths (``wavelength``, thicknesses, ``depth``, ``working_distance``) in µm.
    ``ni0``, ``ng0``, ``tg0`` are the design values the objective is corrected for.
    """

    na: float
    wavelength: float
    ni: float
    ns: float
    ng: float
    tg: float
    ni0: float
    ng0: float
    tg0: float
    working_distance: float
    depth: float

    @property
    def wavenumber(self) -> float:
        """Vacuum wavenumber :math:`k = 2\\pi/\\lambda` in rad/µm."""
        return 2.0 * np.pi / self.wavelength

    def with_wavelength(self, wavelength: float) -> Optics:
        """The same optics at another wavelength (e.g. the excitation)."""
        return Optics(**{**self.__dict__, "wavelength": wavelength})

    @property
    def kinks(self) -> tuple[float, ...]:
        """Pupil radii in (0, 1] where a layer's :math:`c_n(q)` turns evanescent (:math:`q = n`)."""
        radii = {n / self.na for n in (self.ns, self.ng, self.ng0) if n <= self.na}
        return tuple(sorted(radii))


def build_optics(
    na: float,
    wavelength: float,
    ni: float,
    ns: float | None = None,
    depth: float = 0.0,
    ng: float = 1.515,
    tg: float = 170.0,
    ni0: float | None = None,
    ng0: float = 1.515,
    tg0: float = 170.0,
    ti0: float = 150.0,
) -> Optics:
    """Check the physical parameters and bundle them; ``ns`` and ``ni0`` default to ``ni``."""
    ni = check_refractive_index(ni, "ni")
    ns = ni if ns is None else check_refractive_index(ns, "ns")
    ni0 = ni if ni0 is None else check_refractive_index(ni0, "ni0")
    na = check_numerical_aperture(na, ni)
    check_numerical_aperture(na, ni0, immersion_name="ni0")
    return Optics(
        na=na,
        wavelength=check_wavelength(wavelength),
        ni=ni,
        ns=ns,
        ng=check_refractive_index(ng, "ng"),
        tg=check_nonnegative(tg, "tg (coverslip thickness)"),
        ni0=ni0,
        ng0=check_refractive_index(ng0, "ng0"),
        tg0=check_nonnegative(tg0, "tg0 (design coverslip thickness)"),
        working_distance=check_nonnegative(ti0, "ti0 (design working distance)"),
        depth=check_nonnegative(depth, "depth (source depth below the coverslip)"),
    )


def axial_cosine(index: float, transverse: np.ndarray) -> np.ndarray:
    r""":math:`c_n(q) = \sqrt{n^2 - q^2}`, principal branch (:math:`+i|\cdot|` if evanescent)."""
    return np.sqrt((index**2 - transverse**2).astype(complex))


def optical_path_difference(optics: Optics, rho: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Optical path difference (µm) for pupil radii ``rho`` and defocus ``z``.

    Parameters
    ----------
    optics : Optics
        The optical system.
    rho : ndarray, shape (n_rho,)
        Normalized pupil radii in [0, 1].
    z : ndarray, shape (n_z,)
        Axial positions relative to the nominal focus, µm, positive deeper.

    Returns
    -------
    ndarray, complex, shape (n_z, n_rho)
        The OPD; its imaginary part (past a critical angle) makes
        :math:`e^{ik\\,\\mathrm{OPD}}` decay, as an evanescent wave does.
    """
    q = optics.na * np.asarray(rho, dtype=float)
    c_immersion = axial_cosine(optics.ni, q)
    fixed = (
        optics.depth * axial_cosine(optics.ns, q)
        + optics.tg * axial_cosine(optics.ng, q)
        - optics.tg0 * axial_cosine(optics.ng0, q)
        + optics.working_distance * (c_immersion - axial_cosine(optics.ni0, q))
        - optics.depth * c_immersion
    )
    return fixed[None, :] - np.asarray(z, dtype=float)[:, None] * c_immersion[None, :]


@lru_cache(maxsize=64)
def _gauss_legendre(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (cached: the eigen-solve is the slow part)."""
    nodes, weights = np.polynomial.legendre.leggauss(count)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def pupil_quadrature(
    optics: Optics, z: np.ndarray, max_radius: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss-Legendre nodes and weights on :math:`\rho \in [0, 1]` for the pupil integrals.

    The pupil is split where a layer turns evanescent: the integrand behaves as
    :math:`\sqrt{|\rho - \rho_c|}` there, so each segment is mapped by
    :math:`\rho = \rho_c \pm L u^2` (or a smoothstep when both ends are kinks),
    which makes it smooth in :math:`u` and keeps Gauss-Legendre's fast
    convergence. The number of nodes grows with the oscillations of the
    integrand: the Bessel factor :math:`J_m(k\,\mathrm{NA}\,r\rho)` up to
    ``max_radius`` and the phase :math:`k\,\mathrm{OPD}` over ``z``.

    Returns
    -------
    rho, weights : ndarray
        Nodes and weights (the weights sum to 1).
    """
    k = optics.wavenumber
    probe = np.linspace(0.0, 1.0, 513)
    z = np.asarray(z, dtype=float)
    extremes = np.array([z.min(), z.max()]) if z.size else np.zeros(1)
    phase = k * optics_path_real(optics, probe, extremes)
    phase_span = float(np.max(np.ptp(phase, axis=1)))
    bessel_span = k * optics.na * max_radius
    total_nodes = int(np.ceil(NODES_PER_RADIAN * (phase_span + bessel_span))) + 48

    kinks = set(optics.kinks)
    edges = sorted({0.0, 1.0, *kinks})
    nodes, weights = [], []
    for start, stop in itertools.pairwise(edges):
        length = stop - start
        count = max(_MIN_NODES_PER_SEGMENT, int(np.ceil(total_nodes * length)))
        x, w = _gauss_legendre(count)
        u, du = (x + 1.0) / 2.0, w / 2.0
        if start in kinks and stop in kinks:  # smoothstep: flat at both ends
            position, slope = 3 * u**2 - 2 * u**3, 6 * u * (1 - u)
        elif start in kinks:
            position, slope = u**2, 2 * u
        elif stop in kinks:
            position, slope = 1 - (1 - u) ** 2, 2 * (1 - u)
        else:
            position, slope = u, np.ones_like(u)
        nodes.append(start + length * position)
        weights.append(length * slope * du)
    return np.concatenate(nodes), np.concatenate(weights)


def optics_path_real(optics: Optics, rho: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Real part of the OPD (the oscillating part of the phase), shape (n_z, n_rho)."""
    return optical_path_difference(optics, rho, z).real
