"""Shared helpers of the PSF tests: a reference optics set-up, NCC, synthetic beads."""

from __future__ import annotations

import numpy as np

# The set-up the issue quotes: oil objective NA 1.4, green emission.
NA = 1.4
WAVELENGTH = 0.52  # µm
NI = 1.515

# Fine sampling so that FWHMs are measured with pixel effects below ~1 %.
FINE_SHAPE = (33, 65, 65)
FINE_SPACING = (0.1, 0.03, 0.03)  # µm

# Theory (scalar, aberration-free): Airy lateral FWHM and the non-paraxial axial formula.
LATERAL_FWHM_THEORY = 0.51 * WAVELENGTH / NA  # 0.189 µm
AXIAL_FWHM_THEORY = 0.88 * WAVELENGTH / (NI - np.sqrt(NI**2 - NA**2))  # 0.489 µm


def normalized_cross_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays (1 = identical up to offset and scale)."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """||estimate - truth||_2 / ||truth||_2."""
    truth = np.asarray(truth, dtype=float)
    return float(np.linalg.norm(np.asarray(estimate, dtype=float) - truth) / np.linalg.norm(truth))


def fourier_shift(volume: np.ndarray, shift: tuple[float, float, float]) -> np.ndarray:
    """Translate a band-limited volume by a sub-voxel ``shift`` (z, y, x) with a phase ramp."""
    spectrum = np.fft.fftn(volume)
    ramp = np.zeros(volume.shape)
    for axis, (n, s) in enumerate(zip(volume.shape, shift)):
        k = np.fft.fftfreq(n).reshape([-1 if a == axis else 1 for a in range(3)])
        ramp = ramp + k * s
    return np.fft.ifftn(spectrum * np.exp(-2j * np.pi * ramp)).real


def bead_stack(
    psf: np.ndarray,
    stack_shape: tuple[int, int, int],
    positions: np.ndarray,
    photons: np.ndarray,
    background: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Beads at sub-voxel ``positions`` (voxel coordinates) with Poisson noise.

    Each bead is ``photons[i] * psf`` translated exactly (phase ramp, the PSF is
    band-limited and zero at its box edges) to ``positions[i]``. Returns the
    noisy stack (float32) and the noise-free one.
    """
    padded = np.zeros(stack_shape)
    padded[tuple(slice(0, n) for n in psf.shape)] = psf
    padded = np.roll(padded, [-(n // 2) for n in psf.shape], axis=(0, 1, 2))  # centre at 0
    spectrum = np.fft.rfftn(padded)
    kz, ky = (np.fft.fftfreq(n) for n in stack_shape[:2])
    kx = np.fft.rfftfreq(stack_shape[2])
    beads = np.zeros(spectrum.shape, dtype=complex)
    for (z, y, x), amount in zip(positions, photons):
        beads += amount * np.exp(
            -2j * np.pi * (kz[:, None, None] * z + ky[None, :, None] * y + kx[None, None, :] * x)
        )
    clean = np.fft.irfftn(spectrum * beads, s=stack_shape, axes=(0, 1, 2)) + background
    noisy = rng.poisson(np.clip(clean, 0.0, None)).astype(np.float32)
    return noisy, clean
