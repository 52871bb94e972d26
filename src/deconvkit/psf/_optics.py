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

:math:`z` is the position of the plane relative to the *nominal focus*, in
µm of stage (focus-drive) travel, positive deeper into the sample (away from
the objective): at :math:`z = 0` the objective has moved by :math:`z_p` from
the position that focuses on the coverslip, i.e. it would focus on the source
if the sample had index :math:`n_i`.  With matched indices the OPD reduces to
the exact (non-paraxial) defocus term :math:`-z\,c_{n_i}(q)`.

The axial origin of the PSFs
----------------------------
With a mismatch the source is *not* in focus at the nominal position. The
models put their centre plane at one of three origins (``axial_origin``),
given here as the stage offset :math:`z_0` from the nominal focus:

``"focus"`` (default)
    The plane where the source is in focus: the maximum of the on-axis
    intensity of the model itself (:func:`intensity_focus`). A PSF for
    deconvolution must have its origin there, or the deconvolved object is
    moved by the focal shift (1.3 µm for 5 µm of water under an NA 1.4 oil
    objective) and the PSF's peak is off-centre.
``"paraxial"``
    The paraxial focus (:func:`paraxial_focus`), where the quadratic
    (paraxial defocus) part of the OPD vanishes,
    :math:`z_0 = z_p(n_i/n_s - 1) + n_i(t_g/n_g - t_g^*/n_g^*) - t_i^*(n_i/n_i^* - 1)`;
    this is psfmodels' centre (its ``zv = z_p``).
``"nominal"``
    :math:`z_0 = 0`: the stage position, for modelling a stack whose stage
    coordinates are known relative to the coverslip.

For reference :func:`least_squares_focus` gives the non-paraxial defocus that
minimizes the RMS of the wavefront over the pupil (the Maréchal best focus for
small aberrations), and :func:`marginal_focus` the focus of the marginal ray
(geometrical optics); the intensity focus lies between the paraxial and the
marginal ones and is close to the least-squares one while the aberration is
moderate (NA below :math:`n_s`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.optimize

from ._checks import (
    check_nonnegative,
    check_numerical_aperture,
    check_refractive_index,
    check_wavelength,
)

__all__ = [
    "AXIAL_ORIGINS",
    "Optics",
    "axial_origin_offset",
    "build_optics",
    "intensity_focus",
    "least_squares_focus",
    "marginal_focus",
    "optical_path_difference",
    "paraxial_focus",
    "pupil_quadrature",
]

#: The conventions for the centre plane of a PSF (see the module notes).
AXIAL_ORIGINS = ("focus", "paraxial", "nominal")

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


# -- the axial origin -------------------------------------------------------


def paraxial_focus(optics: Optics) -> float:
    r"""Stage offset (µm) from the nominal focus to the paraxial focus of the source.

    With :math:`c_n(q) \approx n - q^2/2n`, the quadratic part of the OPD is
    :math:`-\tfrac{q^2}{2}\,(z_p/n_s + t_g/n_g - t_g^*/n_g^* + t_i/n_i - t_i^*/n_i^*)`;
    it vanishes at

    .. math:: z_0 = z_p\Big(\frac{n_i}{n_s} - 1\Big)
              + n_i\Big(\frac{t_g}{n_g} - \frac{t_g^*}{n_g^*}\Big)
              - t_i^*\Big(\frac{n_i}{n_i^*} - 1\Big),

    the classical paraxial scaling (the actual focus moves :math:`n_s/n_i`
    times the stage travel). It is exact as NA → 0.
    """
    o = optics
    return float(
        o.depth * (o.ni / o.ns - 1.0)
        + o.ni * (o.tg / o.ng - o.tg0 / o.ng0)
        - o.working_distance * (o.ni / o.ni0 - 1.0)
    )


def least_squares_focus(optics: Optics, residual: bool = False) -> float | tuple[float, float]:
    r"""Stage offset (µm) of the defocus that minimizes the RMS wavefront error.

    The OPD is :math:`W(\rho) - z\,c_{n_i}(q)` with :math:`W` independent of
    :math:`z`; the RMS over the pupil (area measure :math:`\rho\,d\rho`, over
    the part where every layer propagates, :math:`q < \min n`) is smallest at

    .. math:: z_0 = \frac{\operatorname{cov}(W, c_{n_i})}{\operatorname{var}(c_{n_i})},

    the non-paraxial "best focus" of aberration balancing (Maréchal). It tends
    to :func:`paraxial_focus` as NA → 0 and predicts the intensity focus well
    while the residual aberration is small. With ``residual=True`` it also
    returns the RMS of the balanced wavefront (µm).
    """
    limit = min(1.0, *(n / optics.na for n in (optics.ns, optics.ng, optics.ng0)))
    x, w = _gauss_legendre(256)
    rho = limit * (x + 1.0) / 2.0
    weights = w * rho
    weights = weights / weights.sum()
    q = optics.na * rho
    c_immersion = np.sqrt(optics.ni**2 - q**2)
    fixed = optical_path_difference(optics, rho, np.zeros(1))[0].real

    def mean(values: np.ndarray) -> float:
        return float(weights @ values)

    covariance = mean(fixed * c_immersion) - mean(fixed) * mean(c_immersion)
    variance = mean(c_immersion**2) - mean(c_immersion) ** 2
    shift = covariance / variance
    if residual:
        balanced = fixed - shift * c_immersion
        return shift, float(np.sqrt(max(mean(balanced**2) - mean(balanced) ** 2, 0.0)))
    return shift


def marginal_focus(optics: Optics) -> float:
    r"""Stage offset (µm) that focuses the marginal ray on the source (geometrical optics).

    A ray leaving the source at :math:`\theta_s` (:math:`n_s\sin\theta_s = \mathrm{NA}`)
    reaches the coverslip at radius :math:`z_p\tan\theta_s`; the objective
    focuses it there when the stage has moved by :math:`z_p\tan\theta_s/\tan\theta_i`
    (the formula of Visser et al. 1992 for the depth ratio). Sample mismatch
    only; needs ``NA < ns``.
    """
    if optics.na >= optics.ns:
        raise ValueError(
            f"the marginal ray is totally reflected (NA {optics.na} >= ns {optics.ns}): "
            "the marginal focus is defined only for NA < ns"
        )
    tan_sample = optics.na / np.sqrt(optics.ns**2 - optics.na**2)
    tan_immersion = optics.na / np.sqrt(optics.ni**2 - optics.na**2)
    return float(optics.depth * (tan_sample / tan_immersion - 1.0))


#: Grid steps per depth of field in the coarse search for the intensity focus.
_FOCUS_STEPS_PER_DOF = 16


def intensity_focus(
    optics: Optics,
    on_axis: Callable[[np.ndarray], np.ndarray],
    guesses: tuple[float, ...] = (),
) -> float:
    r"""Stage offset (µm) of the maximum of the on-axis intensity ``on_axis(z)``.

    The search runs on a grid of a sixteenth of the depth of field
    :math:`\lambda / (n_i - \sqrt{n_i^2 - \mathrm{NA}^2})` over the span of the
    paraxial, least-squares and nominal foci widened by three depths of field,
    then refines the best grid point with a bounded Brent search (to 1e-5 µm).
    Without aberration (only a defocus, e.g. matched indices) it returns the
    least-squares focus, which is then exact. ``guesses`` (µm) widen the span:
    a caller whose ``on_axis`` holds more aberration than ``optics`` (a
    Zernike pupil) must give them, and then no shortcut is taken.
    """
    balanced_focus, rms = least_squares_focus(optics, residual=True)
    unaberrated = rms < 1e-9 * optics.wavelength and optics.na <= min(optics.ns, optics.ng, optics.ng0)
    if unaberrated and not guesses:
        return balanced_focus  # no aberration but defocus: the focus is exact
    dof = optics.wavelength / (optics.ni - np.sqrt(optics.ni**2 - optics.na**2))
    guesses = (0.0, paraxial_focus(optics), balanced_focus, *guesses)
    low, high = min(guesses) - 3.0 * dof, max(guesses) + 3.0 * dof
    step = dof / _FOCUS_STEPS_PER_DOF
    grid = np.arange(low, high + step, step)
    values = np.asarray(on_axis(grid), dtype=float).reshape(-1)
    start = float(grid[int(np.argmax(values))])
    best = scipy.optimize.minimize_scalar(
        lambda z: -float(np.asarray(on_axis(np.array([z]))).reshape(-1)[0]),
        bounds=(start - step, start + step),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(best.x) if -best.fun >= values.max() else start


def axial_origin_offset(
    optics: Optics,
    axial_origin: str,
    on_axis: Callable[[np.ndarray], np.ndarray],
    guesses: tuple[float, ...] = (),
) -> float:
    """Stage offset :math:`z_0` (µm) of the centre plane for ``axial_origin`` (see the module notes).

    ``guesses`` go to :func:`intensity_focus` (needed when ``on_axis`` holds
    aberrations beyond ``optics``)."""
    if axial_origin == "nominal":
        return 0.0
    if axial_origin == "paraxial":
        return paraxial_focus(optics)
    if axial_origin == "focus":
        return intensity_focus(optics, on_axis, guesses)
    raise ValueError(
        f"axial_origin must be one of {AXIAL_ORIGINS}, got {axial_origin!r}: 'focus' centres "
        "the PSF where the source is in focus (for deconvolution)"
    )
