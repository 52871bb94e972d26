r"""What the figures show, as numbers: spectra, OTF support, views and bead profiles.

Frequencies are in cycles/µm: along an axis of :math:`n` voxels of size
:math:`d`, :math:`k_j = j/(n d)` for :math:`|j| \le n/2` (Nyquist
:math:`1/(2d)`). These functions need numpy only; :mod:`._figures` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.ndimage

__all__ = ["RadialSpectrum", "find_bead", "orthogonal_views", "otf_support", "radial_spectra"]

#: |OTF| / OTF(0) above which a frequency counts as transmitted (a PSF cut to its box
#: leaves a floor of about 1e-3 at every frequency, which this stays above).
OTF_THRESHOLD = 5e-3


def _frequency_grids(shape: tuple[int, ...], spacing: tuple[float, ...]):
    """|k_z| and the lateral radius sqrt(k_y² + k_x²) on the real-FFT half spectrum, cycles/µm."""
    kz = np.abs(scipy.fft.fftfreq(shape[0], spacing[0]))
    ky = scipy.fft.fftfreq(shape[1], spacing[1])
    kx = scipy.fft.rfftfreq(shape[2], spacing[2])
    lateral = np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    return kz, lateral


@dataclass(frozen=True)
class RadialSpectrum:
    """Power spectra averaged over lateral rings and over axial planes.

    Attributes
    ----------
    lateral_frequency, axial_frequency : ndarray
        Bin centres, cycles/µm.
    lateral, axial : ndarray
        Mean power in each bin.
    """

    lateral_frequency: np.ndarray
    lateral: np.ndarray
    axial_frequency: np.ndarray
    axial: np.ndarray


def radial_spectra(volume: np.ndarray, spacing: tuple[float, float, float]) -> RadialSpectrum:
    r"""Radially averaged power spectrum of a ZYX volume, laterally and axially.

    With :math:`\hat v = \mathcal{F}(v - \bar v)` (3D DFT) and
    :math:`\rho = \sqrt{k_y^2 + k_x^2}`,

    .. math:: P_\perp(\rho_i) = \operatorname{mean}_{k:\ \rho \in [\rho_i - \delta/2,\,
              \rho_i + \delta/2)} |\hat v(k)|^2, \qquad
              P_z(k_{z,j}) = \operatorname{mean}_{k:\ |k_z| = k_{z,j}} |\hat v(k)|^2

    over every :math:`k_z` (lateral) or every :math:`(k_y, k_x)` (axial), the
    ring width :math:`\delta` the coarser of the lateral frequency steps
    :math:`1/(n_y d_y)`, :math:`1/(n_x d_x)`. The half spectrum of the real
    FFT is used (the other half holds the same magnitudes), and the anisotropic
    resolution of a microscope is why the lateral and axial axes are kept apart.
    """
    v = np.asarray(volume, dtype=np.float64)
    power = np.abs(scipy.fft.rfftn(v - v.mean())) ** 2
    kz, lateral = _frequency_grids(v.shape, spacing)
    step = max(1.0 / (v.shape[1] * spacing[1]), 1.0 / (v.shape[2] * spacing[2]))
    rings = np.rint(lateral / step).astype(int)
    per_ring = power.sum(axis=0)  # sum over k_z, then average per ring below
    counts = np.bincount(rings.ravel()) * v.shape[0]
    sums = np.bincount(rings.ravel(), weights=per_ring.ravel())
    nyquist = min(0.5 / spacing[1], 0.5 / spacing[2])
    centres = np.arange(sums.size) * step
    keep = (counts > 0) & (centres <= nyquist + 1e-9)
    planes = power.mean(axis=(1, 2))
    order = np.argsort(kz, kind="stable")
    axial_k, index = np.unique(kz[order], return_inverse=True)
    axial = np.bincount(index, weights=planes[order]) / np.bincount(index)
    return RadialSpectrum(centres[keep], sums[keep] / counts[keep], axial_k, axial)


def otf_support(psf: np.ndarray, spacing: tuple[float, float, float], shape: tuple[int, ...],
                threshold: float = OTF_THRESHOLD) -> tuple[float, float]:
    r"""The highest lateral and axial frequencies the PSF transmits, cycles/µm.

    The OTF :math:`\hat h` is the DFT of the PSF zero-padded to ``shape``;
    the support is :math:`\{k : |\hat h(k)| > t\,\hat h(0)\}` and this returns
    :math:`\max \rho` and :math:`\max |k_z|` over it, the latter where
    :math:`\rho \ge 0.1 \max \rho` (for a widefield PSF
    about :math:`2\,\mathrm{NA}/\lambda` and :math:`(n - \sqrt{n^2 -
    \mathrm{NA}^2})/\lambda`). Frequencies outside it reach the camera only
    as noise, so a method restoring power there is inventing it (or is told
    to by its prior).
    """
    padded_shape = tuple(max(s, p) for s, p in zip(shape, psf.shape))
    otf = np.abs(scipy.fft.rfftn(np.asarray(psf, dtype=np.float64), padded_shape))
    inside = otf > threshold * otf.flat[0]
    kz, lateral = _frequency_grids(padded_shape, spacing)
    lateral_max = float(np.max(np.broadcast_to(lateral, inside.shape)[inside]))
    # Near the axis (ρ → 0, the missing cone of a widefield OTF) a PSF cut to its box
    # leaks along k_z; the axial extent is read where ρ is at least a tenth of the band.
    off_axis = inside & (lateral >= 0.1 * lateral_max)[None]
    axial_max = float(np.max(np.broadcast_to(kz[:, None, None], inside.shape)[off_axis],
                             initial=0.0))
    return lateral_max, axial_max


def find_bead(truth: np.ndarray, margin: tuple[int, int, int]) -> tuple[int, int, int]:
    """A bright, isolated voxel of the ground truth, at least ``margin`` from every edge.

    Among the 30 brightest local maxima (3x3x3 neighbourhood) inside the
    margin, the one whose ``2 margin + 1`` box holds the least other light;
    the brightest voxel inside the margin if there is no local maximum.
    """
    inner = tuple(slice(m, n - m) if n > 2 * m else slice(n // 2, n // 2 + 1)
                  for m, n in zip(margin, truth.shape))
    peaks = (truth == scipy.ndimage.maximum_filter(truth, size=3)) & (truth > 0)
    mask = np.zeros(truth.shape, bool)
    mask[inner] = True
    candidates = np.argwhere(peaks & mask)
    if candidates.size == 0:
        window = truth[inner]
        local = np.unravel_index(int(np.argmax(window)), window.shape)
        return tuple(int(s.start + i) for s, i in zip(inner, local))
    values = truth[tuple(candidates.T)]
    candidates = candidates[np.argsort(-values, kind="stable")[:30]]
    best, best_clutter = None, np.inf
    for c in candidates:
        box = tuple(slice(max(i - m, 0), i + m + 1) for i, m in zip(c, margin))
        clutter = (float(truth[box].sum()) - float(truth[tuple(c)])) / float(truth[tuple(c)])
        if clutter < best_clutter:
            best, best_clutter = c, clutter
    return tuple(int(i) for i in best)


def orthogonal_views(volume: np.ndarray, at: tuple[int, int, int] | None = None):
    """XY, XZ and YZ views: maximum-intensity projections, or sections through ``at``.

    Returns three 2D arrays: ``(y, x)``, ``(z, x)`` and ``(z, y)``.
    """
    if at is None:
        return volume.max(axis=0), volume.max(axis=1), volume.max(axis=2)
    z, y, x = at
    return volume[z], volume[:, y, :], volume[:, :, x]
