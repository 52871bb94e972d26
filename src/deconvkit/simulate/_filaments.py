r"""Microtubule-like filaments: smooth random curves with a Gaussian cross-section."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq

from ._common import (
    DEFAULT_SPACING,
    FWHM_PER_SIGMA,
    Seed,
    check_count,
    check_grid,
    check_margin,
    check_positive,
    check_range,
    splat_gaussians,
    voxel_variance,
)

__all__ = ["filaments", "random_curve"]


def _box(shape: tuple[int, ...], spacing: np.ndarray, margin: float | Sequence[float]):
    """The box ``[low, high]`` (µm) the curves stay in, and the axes they can move along."""
    margin = check_margin(margin, spacing)
    extent = (np.asarray(shape) - 1) * spacing
    low, high = margin.copy(), extent - margin
    if np.any((np.asarray(shape) > 1) & (high < low)):
        raise ValueError(
            f"margin {tuple(margin)} µm leaves no room in a field of "
            f"{tuple(np.round(extent, 6))} µm (centre to centre): use a smaller margin"
        )
    moving = high > low
    low[~moving] = high[~moving] = extent[~moving] / 2
    return low, high, moving


def _advance(position: np.ndarray, direction: np.ndarray, distance: float,
             low: np.ndarray, high: np.ndarray, points: list) -> tuple[np.ndarray, np.ndarray]:
    """Move ``distance`` µm, bouncing off the walls of ``[low, high]``; append each point
    reached (wall hits included, so the polyline keeps the distance travelled)."""
    while True:
        with np.errstate(divide="ignore", invalid="ignore"):
            to_wall = np.where(direction > 0, (high - position) / direction,
                               np.where(direction < 0, (low - position) / direction, np.inf))
        axis = int(np.argmin(to_wall))
        if to_wall[axis] >= distance:
            position = position + distance * direction
            points.append(position)
            return position, direction
        travel = max(float(to_wall[axis]), 0.0)
        position = position + travel * direction
        position[axis] = high[axis] if direction[axis] > 0 else low[axis]
        direction = direction.copy()
        direction[axis] = -direction[axis]
        distance -= travel
        if travel > 0:
            points.append(position)


def _langevin_inverse(mean_cosine: float) -> float:
    """κ of the 3D von Mises-Fisher law with E[cos θ] = coth κ - 1/κ = mean_cosine."""
    return brentq(lambda k: 1.0 / np.tanh(k) - 1.0 / k - mean_cosine, 1e-6, 1e9)


def _turn(rng: np.random.Generator, direction: np.ndarray, moving: np.ndarray,
          mean_cosine: float, kappa: float) -> np.ndarray:
    """Turn a unit vector by a random angle θ with E[cos θ] = mean_cosine, in the moving axes."""
    u = direction[moving]
    if len(u) == 2:  # θ ~ N(0, v): E[cos θ] = exp(-v/2)
        theta = rng.normal(0.0, np.sqrt(-2.0 * np.log(mean_cosine)))
        c, s = np.cos(theta), np.sin(theta)
        u = np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
    elif len(u) == 3:  # von Mises-Fisher about u, sampled exactly (Wood 1994)
        floor = np.exp(-2.0 * kappa)  # w = cos θ by inverting its distribution function
        w = 1.0 + np.log(floor + (1.0 - floor) * (1.0 - rng.random())) / kappa
        v = rng.standard_normal(3)
        v -= (v @ u) * u
        u = w * u + np.sqrt(max(0.0, 1.0 - w * w)) * v / np.linalg.norm(v)
    out = direction.copy()
    out[moving] = u / np.linalg.norm(u)
    return out


def random_curve(
    rng: np.random.Generator,
    length: float,
    persistence: float,
    low: np.ndarray,
    high: np.ndarray,
    moving: np.ndarray,
) -> np.ndarray:
    r"""Control points of a worm-like chain of ``length`` µm inside the box ``[low, high]``.

    A persistent random walk of step :math:`h = \min(P/4, L/8)`: before each
    step the direction turns by a random angle :math:`\theta` (uniform
    azimuth) with :math:`E[\cos\theta] = e^{-h/P}`, so the tangents
    decorrelate exactly as :math:`\langle u(s)\cdot u(0)\rangle = e^{-s/P}`
    at the steps (in 3D a von Mises-Fisher turn, in a plane a Gaussian angle).
    The walk bounces off the walls of the box like a billiard ball.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    length, persistence : float
        :math:`L` and :math:`P`, µm.
    low, high : (d,) array
        The box, µm.
    moving : (d,) bool array
        Axes the walk may move along (others stay at ``low``).

    Returns
    -------
    (K, d) array
        Control points in µm: every step's end, ``h`` apart, and the points
        where the walk hits a wall, so the polyline is exactly ``length`` long.
    """
    ndim = len(low)
    steps = int(np.ceil(length / min(persistence / 4.0, length / 8.0)))
    step = length / steps
    mean_cosine = float(np.exp(-step / persistence))
    kappa = _langevin_inverse(mean_cosine) if moving.sum() == 3 else 0.0
    direction = rng.standard_normal(ndim) * moving
    direction /= np.linalg.norm(direction)
    position = np.where(moving, low + rng.random(ndim) * (high - low), low)
    points = [position]
    for _ in range(steps):
        direction = _turn(rng, direction, moving, mean_cosine, kappa)
        position, direction = _advance(position, direction, step, low, high, points)
    return np.asarray(points)


def filaments(
    shape: Sequence[int],
    spacing: float | Sequence[float] = DEFAULT_SPACING,
    *,
    n: int = 10,
    thickness: float = 0.1,
    intensity: float = 1.0,
    length: float | Sequence[float] | None = None,
    persistence: float | None = None,
    margin: float | Sequence[float] = 0.0,
    seed: Seed = None,
) -> np.ndarray:
    r"""Microtubule-like filaments: smooth random curves with a Gaussian cross-section.

    Each filament is a worm-like chain (:func:`random_curve`) of ``length`` µm,
    smoothed by a cubic spline through its control points, that bounces off
    the walls of the field (less ``margin``). Its density at distance
    :math:`d` from the centre line is

    .. math:: \rho(d) = I \exp\!\big(-d^2 / 2\sigma^2\big), \qquad
              \sigma = \mathrm{thickness} / (2\sqrt{2\ln 2}),

    and each voxel holds the average of :math:`\rho` over its volume, computed
    as the line integral of a Gaussian whose per-axis variance is
    :math:`\sigma^2 + s_i^2/12` (the voxel box approximated by a Gaussian of
    the same variance), sampled every half of its smallest width. Filaments
    that cross, and a filament folding back at a wall, add up.

    Parameters
    ----------
    shape : tuple of int
        ``(nz, ny, nx)`` or ``(ny, nx)``.
    spacing : float or tuple of float
        Voxel size in µm, one per axis or one for all (default 0.1).
    n : int
        Number of filaments.
    thickness : float
        Full width at half maximum of the cross-section, µm (microtubules are
        25 nm; the default 0.1 µm keeps them visible at 0.1 µm voxels).
    intensity : float
        Peak density :math:`I` on the centre line.
    length : float or (low, high), optional
        Length of each filament in µm, or a range to draw it from uniformly.
        Default: the largest extent of the field.
    persistence : float, optional
        Persistence length :math:`P` in µm (stiffness). Default: half the longest length.
    margin : float or tuple of float
        Distance in µm between the centre lines and the outermost voxel centres.
    seed : int, Generator or None
        Random seed; the same seed gives the same filaments.

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``, non-negative.

    Notes
    -----
    Statistics (up to the tails cut by the array's border, negligible with a
    margin of :math:`4\sigma`): the total

    .. math:: \sum_j f_j \prod_i s_i \approx n\, I\, (2\pi\sigma^2)^{(d-1)/2}\, \bar L

    (the integrated density; :math:`d` the number of axes, :math:`\bar L` the mean
    length); away from crossings and folds the voxels are at most :math:`I`, and about
    :math:`I` on the centre line when the thickness is a few voxels wide.
    """
    shape, spacing = check_grid(shape, spacing)
    n = check_count(n)
    sigma = check_positive(thickness, "thickness", " (µm, full width at half maximum)")
    sigma /= FWHM_PER_SIGMA
    intensity = check_positive(intensity, "intensity")
    low, high, moving = _box(shape, spacing, margin)
    if not moving.any():
        raise ValueError(
            f"a field of shape {shape} has no room for filaments: give more than one voxel"
        )
    if length is None:
        length = float(np.max((np.asarray(shape) - 1) * spacing)) or float(spacing.max())
    length_low, length_high = check_range(length, "length", " (µm)")
    if persistence is None:
        persistence = length_high / 2.0
    persistence = check_positive(persistence, "persistence", " (µm)")
    rng = np.random.default_rng(seed)

    width = np.sqrt(sigma**2 + voxel_variance(spacing))  # per-axis std of the rendered kernel
    sample = float(width.min()) / 2.0
    line_density = intensity * (2.0 * np.pi * sigma**2) ** ((len(shape) - 1) / 2.0)
    centres, weights = [], []
    for _ in range(n):
        control = random_curve(rng, rng.uniform(length_low, length_high), persistence,
                               low, high, moving)
        chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(control, axis=0), axis=1))])
        keep = np.concatenate([[True], np.diff(chord) > 0])  # a pinned walk may not move
        if keep.sum() < 2:
            continue
        curve = CubicSpline(chord[keep], control[keep], axis=0, bc_type="natural")
        t = np.linspace(0.0, chord[-1], int(np.ceil(chord[-1] / sample)) + 1)
        points = curve(t)
        segments = np.linalg.norm(np.diff(points, axis=0), axis=1)
        centres.append(np.clip((points[1:] + points[:-1]) / 2.0, low, high))
        weights.append(line_density * segments)
    if not centres:
        return np.zeros(shape, np.float32)
    rendered = splat_gaussians(shape, spacing, np.concatenate(centres), np.concatenate(weights),
                               width)
    return rendered.astype(np.float32)
