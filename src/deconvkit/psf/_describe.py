r"""Measure a PSF (widths, peak, energy, OTF support) and draw it.

Widths are full widths at half maximum of the 1D profiles through the peak
voxel, along Z, Y and X, found sub-voxel on a cubic spline through the samples:
the spline maximum within one voxel of the peak gives the height, and the
half-height crossings on either side are solved on the spline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq

from ._checks import check_spacing, check_volume

__all__ = ["PSFDescription", "describe", "plot"]

#: Default |OTF| / OTF(0) below which a frequency counts as not transmitted.
DEFAULT_OTF_THRESHOLD = 1e-3


@dataclass(frozen=True)
class PSFDescription:
    """What :func:`describe` measures on a PSF; ``str()`` prints it as a table.

    Attributes
    ----------
    shape : tuple of int
        Array shape (nz, ny, nx).
    spacing : tuple of float
        Voxel size (dz, dy, dx), µm.
    peak_index : tuple of int
        Voxel index (z, y, x) of the maximum.
    peak_offset : tuple of float
        Sub-voxel position of the maximum relative to the centre voxel, µm (z, y, x).
    fwhm_z, fwhm_y, fwhm_x : float
        Full widths at half maximum through the peak, µm; NaN where the profile
        does not fall to half maximum inside the array.
    focal_plane_energy : float
        Fraction of the total sum in the plane of the peak.
    otf_support : float
        Fraction of the 3D frequencies where :math:`|\\mathrm{OTF}| > ` ``otf_threshold``
        :math:`\\times\\,\\mathrm{OTF}(0)`; the missing cone and the band limit lower it.
    otf_threshold : float
        The threshold used for ``otf_support``.
    total : float
        Sum of the PSF (1 for a normalized PSF).
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    peak_index: tuple[int, int, int]
    peak_offset: tuple[float, float, float]
    fwhm_z: float
    fwhm_y: float
    fwhm_x: float
    focal_plane_energy: float
    otf_support: float
    otf_threshold: float
    total: float

    @property
    def fwhm_lateral(self) -> float:
        """Mean of the Y and X widths, µm."""
        return 0.5 * (self.fwhm_y + self.fwhm_x)

    @property
    def fwhm_axial(self) -> float:
        """The Z width, µm."""
        return self.fwhm_z

    def __str__(self) -> str:
        def length(value: float) -> str:
            return "beyond the box" if np.isnan(value) else f"{value:.3f} µm"

        centre = tuple(n // 2 for n in self.shape)
        rows = [
            ("shape (z, y, x)", " x ".join(str(n) for n in self.shape)),
            ("spacing (dz, dy, dx)", ", ".join(f"{d:g}" for d in self.spacing) + " µm"),
            ("FWHM lateral (y, x)", f"{length(self.fwhm_y)}, {length(self.fwhm_x)}"),
            ("FWHM axial (z)", length(self.fwhm_z)),
            ("peak voxel (z, y, x)", f"{self.peak_index}, centre {centre}"),
            ("peak offset (z, y, x)", ", ".join(f"{v:+.3f}" for v in self.peak_offset) + " µm"),
            ("focal-plane energy", f"{100 * self.focal_plane_energy:.1f} %"),
            (
                f"OTF support (>{self.otf_threshold:g})",
                f"{100 * self.otf_support:.1f} % of frequencies",
            ),
            ("sum", f"{self.total:.6g}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = ["PSF description", f"{'quantity':<{width}}  value", f"{'-' * width}  {'-' * 24}"]
        lines += [f"{name:<{width}}  {value}" for name, value in rows]
        return "\n".join(lines)


def _profile_peak_and_fwhm(profile: np.ndarray, step: float, index: int) -> tuple[float, float]:
    """Sub-voxel peak position (samples) and FWHM (µm) of a 1D profile around ``index``."""
    size = profile.size
    if size < 3:
        return float(index), float("nan")
    positions = np.arange(size, dtype=float)
    spline = CubicSpline(positions, profile)
    fine = np.linspace(max(index - 1, 0), min(index + 1, size - 1), 401)
    values = spline(fine)
    peak = float(fine[np.argmax(values)])
    half = 0.5 * float(values.max())

    def crossing(direction: int) -> float:
        j = index
        while 0 <= j + direction < size and profile[j + direction] >= half:
            j += direction
        if not 0 <= j + direction < size:
            return float("nan")
        a, b = sorted((j, j + direction))
        return brentq(lambda x: float(spline(x)) - half, a, b)

    left, right = crossing(-1), crossing(+1)
    return peak, (right - left) * step


def _otf_support(psf: np.ndarray, threshold: float) -> float:
    """Fraction of frequencies with |OTF| above ``threshold`` times OTF(0)."""
    magnitude = np.abs(scipy.fft.rfftn(psf))
    reference = magnitude.flat[0]
    if reference <= 0:
        return 0.0
    # Columns 1..(nx-1)//2 of the half spectrum stand for two frequencies each.
    weight = np.full(magnitude.shape[-1], 2.0)
    weight[0] = 1.0
    if psf.shape[-1] % 2 == 0:
        weight[-1] = 1.0
    above = (magnitude > threshold * reference).astype(float)
    return float((above * weight).sum() / psf.size)


def describe(
    psf: ArrayLike, spacing: Sequence[float], otf_threshold: float = DEFAULT_OTF_THRESHOLD
) -> PSFDescription:
    """Measure widths, peak position, focal-plane energy and OTF support of a PSF.

    Parameters
    ----------
    psf : array_like, shape (nz, ny, nx)
        The PSF, ZYX (any normalization).
    spacing : (float, float, float)
        Voxel size (dz, dy, dx), µm.
    otf_threshold : float
        Relative threshold on :math:`|\\mathrm{OTF}|/\\mathrm{OTF}(0)` for ``otf_support``.

    Returns
    -------
    PSFDescription
        The measurements; ``print()`` it for a table.

    Examples
    --------
    >>> from deconvkit.psf import born_wolf
    >>> psf = born_wolf((33, 65, 65), (0.1, 0.03, 0.03), na=1.4, wavelength=0.52, ni=1.515)
    >>> info = describe(psf, (0.1, 0.03, 0.03))
    >>> round(info.fwhm_lateral, 2), info.peak_index
    (0.19, (16, 32, 32))
    """
    volume = check_volume(psf, "psf")
    spacing = check_spacing(spacing)
    peak = tuple(int(i) for i in np.unravel_index(np.argmax(volume), volume.shape))
    profiles = (
        volume[:, peak[1], peak[2]],
        volume[peak[0], :, peak[2]],
        volume[peak[0], peak[1], :],
    )
    offsets, widths = [], []
    for axis, profile in enumerate(profiles):
        position, width = _profile_peak_and_fwhm(profile, spacing[axis], peak[axis])
        offsets.append((position - volume.shape[axis] // 2) * spacing[axis])
        widths.append(width)
    total = float(volume.sum())
    return PSFDescription(
        shape=volume.shape,  # type: ignore[arg-type]
        spacing=spacing,
        peak_index=peak,  # type: ignore[arg-type]
        peak_offset=tuple(offsets),  # type: ignore[arg-type]
        fwhm_z=widths[0],
        fwhm_y=widths[1],
        fwhm_x=widths[2],
        focal_plane_energy=float(volume[peak[0]].sum() / total) if total else float("nan"),
        otf_support=_otf_support(volume, otf_threshold),
        otf_threshold=float(otf_threshold),
        total=total,
    )


def _import_pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        from matplotlib import pyplot
    except ImportError as error:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(
            "deconvkit.psf.plot needs matplotlib; install it with: pip install deconvkit[plot]"
        ) from error
    return pyplot


def plot(psf: ArrayLike, spacing: Sequence[float], floor: float = 1e-4, otf: bool = True) -> Any:
    """Orthogonal sections of a PSF through its peak on a log scale, and of its OTF magnitude.

    Parameters
    ----------
    psf : array_like, shape (nz, ny, nx)
        The PSF, ZYX.
    spacing : (float, float, float)
        Voxel size (dz, dy, dx), µm; the axes are in µm with the true aspect ratio.
    floor : float
        Lowest value shown, relative to the maximum (log scale from ``floor`` to 1).
    otf : bool
        Add a second row with :math:`|\\mathrm{OTF}|` sections (kx-ky, kx-kz, ky-kz), 1/µm.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is missing (``pip install deconvkit[plot]``).
    """
    pyplot = _import_pyplot()
    from matplotlib.colors import LogNorm

    volume = check_volume(psf, "psf")
    dz, dy, dx = check_spacing(spacing)
    nz, ny, nx = volume.shape
    pz, py, px = np.unravel_index(np.argmax(volume), volume.shape)
    norm = LogNorm(vmin=floor, vmax=1.0)
    scaled = np.clip(volume / volume.max(), floor, None)

    def extent(n: int, d: float) -> tuple[float, float]:
        return (-(n // 2 + 0.5) * d, (n - n // 2 - 0.5) * d)

    rows = 2 if otf else 1
    figure, axes = pyplot.subplots(
        rows, 3, figsize=(12, 4 * rows), squeeze=False, layout="constrained"
    )
    sections = [
        (scaled[pz], (*extent(nx, dx), *extent(ny, dy)), "XY (peak plane)", "x (µm)", "y (µm)"),
        (scaled[:, py, :], (*extent(nx, dx), *extent(nz, dz)), "XZ", "x (µm)", "z (µm)"),
        (scaled[:, :, px], (*extent(ny, dy), *extent(nz, dz)), "YZ", "y (µm)", "z (µm)"),
    ]
    for axis, (image, box, title, xlabel, ylabel) in zip(axes[0], sections):
        shown = axis.imshow(image, extent=box, origin="lower", norm=norm, cmap="magma")
        axis.set(title=f"PSF {title}", xlabel=xlabel, ylabel=ylabel, aspect="equal")
    figure.colorbar(shown, ax=list(axes[0]), label="PSF / max (log)")

    if otf:
        magnitude = np.abs(np.fft.fftshift(np.fft.fftn(volume)))
        magnitude = np.clip(magnitude / magnitude.max(), floor, None)
        kz, ky, kx = (
            np.fft.fftshift(np.fft.fftfreq(n, d)) for n, d in zip(volume.shape, (dz, dy, dx))
        )

        def frequency_extent(k: np.ndarray) -> tuple[float, float]:
            step = k[1] - k[0] if k.size > 1 else 1.0
            return (k[0] - step / 2, k[-1] + step / 2)

        cz, cy, cx = nz // 2, ny // 2, nx // 2
        spectra = [
            (magnitude[cz], (*frequency_extent(kx), *frequency_extent(ky)), "kx-ky", "kx", "ky"),
            (
                magnitude[:, cy, :],
                (*frequency_extent(kx), *frequency_extent(kz)),
                "kx-kz",
                "kx",
                "kz",
            ),
            (
                magnitude[:, :, cx],
                (*frequency_extent(ky), *frequency_extent(kz)),
                "ky-kz",
                "ky",
                "kz",
            ),
        ]
        for axis, (image, box, title, xlabel, ylabel) in zip(axes[1], spectra):
            shown = axis.imshow(image, extent=box, origin="lower", norm=norm, cmap="viridis")
            axis.set(title=f"|OTF| {title}", xlabel=f"{xlabel} (1/µm)", ylabel=f"{ylabel} (1/µm)")
            axis.set_aspect("equal")
        figure.colorbar(shown, ax=list(axes[1]), label="|OTF| / OTF(0) (log)")
    return figure
