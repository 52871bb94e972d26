r"""Fully blind Richardson–Lucy (Fish, Brinicombe, Pike & Walker, JOSA A 12(1), 1995), constrained.

Rounds alternate Richardson–Lucy on the object and on the PSF. The PSF step
is the same EM update with the roles swapped, on the extended domain:

.. math:: h \leftarrow \frac{h}{(S^{\mathsf H} 1) \star x}\;
          \Big(S^{\mathsf H}\frac{y}{S(h \ast x) + b}\Big) \star x ,

followed by the projections that make it a microscope's PSF:

- the **band limit** of the NA: the PSF's spectrum is zeroed outside the
  widefield OTF support (in stage coordinates, the autocorrelation of the
  pupil cap of radius :math:`n_i/\lambda`: lateral frequencies up to
  :math:`2\mathrm{NA}/\lambda`, axial ones up to
  :math:`\sqrt{(n_i/\lambda)^2 - (k_r - \mathrm{NA}/\lambda)^2} - \sqrt{(n_i/\lambda)^2 - (\mathrm{NA}/\lambda)^2}`,
  dilated by one frequency bin for the box's truncation);
- a **support**: the PSF box, narrowed to the geometrical double cone of the
  defocused light (radius :math:`2\lambda/\mathrm{NA} + 1.5\,|z|\tan\alpha`);
- **non-negativity and unit sum**.

This is the baseline of ``estimate="blind"``; it knows nothing of the optics
beyond the NA, so it needs far more photons than the Zernike model to get
as close.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.ndimage

from ._common import Domain, negative_log_likelihood, run_rl

__all__ = ["blind_rl", "otf_support", "psf_support"]


def otf_support(shape: tuple[int, ...], spacing: tuple[float, ...], na: float,
                wavelength: float, ni: float) -> np.ndarray:  # fmt: skip
    """Boolean mask of the widefield OTF support on the full ``fftn`` grid of ``shape``."""
    kz, ky, kx = (np.fft.fftfreq(n, d) for n, d in zip(shape, spacing))
    kr = np.hypot(ky[:, None], kx[None, :])[None]
    radius, cap = ni / wavelength, na / wavelength
    kz_max = np.sqrt(np.maximum(radius**2 - (kr - cap) ** 2, 0.0)) - np.sqrt(radius**2 - cap**2)
    mask = (kr <= 2 * cap) & (np.abs(kz)[:, None, None] <= kz_max)
    mask[0, 0, 0] = True
    # one bin of margin on every axis (dilated about the centred spectrum)
    centred = np.fft.fftshift(mask)
    return np.fft.ifftshift(scipy.ndimage.binary_dilation(centred, np.ones((3, 3, 3), bool)))


def psf_support(shape: tuple[int, ...], spacing: tuple[float, ...], na: float,
                wavelength: float, ni: float, focus_index: int | None = None) -> np.ndarray:  # fmt: skip
    """Boolean double cone around the focus plane (the centre plane by default)."""
    centre = [n // 2 for n in shape]
    focus = centre[0] if focus_index is None else focus_index
    z = (np.arange(shape[0]) - focus) * spacing[0]
    y = (np.arange(shape[1]) - centre[1]) * spacing[1]
    x = (np.arange(shape[2]) - centre[2]) * spacing[2]
    tan_alpha = na / np.sqrt(ni**2 - na**2)
    limit = 2.0 * wavelength / na + 1.5 * np.abs(z) * tan_alpha
    r = np.hypot(y[:, None], x[None, :])
    return r[None] <= limit[:, None, None]


def project(psf: np.ndarray, band: np.ndarray | None, support: np.ndarray | None) -> np.ndarray:
    """Band-limit, cut to the support, clip negatives and normalize to sum 1."""
    if band is not None:
        psf = np.fft.ifftn(np.fft.fftn(psf) * band).real
    if support is not None:
        psf = psf * support
    psf = np.clip(psf, 0.0, None)
    total = psf.sum()
    return psf / total if total > 0 else psf


def blind_rl(
    domain: Domain,
    y: np.ndarray,
    background: Any,
    psf0: np.ndarray,
    *,
    band: np.ndarray | None,
    support: np.ndarray | None,
    method: str,
    max_iter: int,
    psf_iter: int,
    object_iter: int,
    psf_steps: int,
    tol: float,
) -> dict[str, Any]:
    """The rounds of blind RL; a dict for BlindResult."""
    start = time.perf_counter()
    psf = project(np.asarray(psf0, dtype=np.float64), band, support)
    initial = psf.copy()
    history: dict[str, list] = {k: [] for k in ("round", "objective", "psf_change", "time")}
    best, bad_rounds = (float("inf"), psf.copy()), 0
    stop_reason, diverged, messages = f"{psf_iter} PSF updates", False, []
    x = None
    n_object = 0
    for round_index in range(1, psf_iter + 1):
        x = run_rl(domain, y, background, psf, x, object_iter, method).astype(np.float64)
        n_object += object_iter
        x_spectrum = domain.spectrum(x)
        normalization = domain.correlate(np.ones(y.shape), x_spectrum)
        normalization = np.maximum(normalization, 1e-12 * normalization.max())
        previous = psf
        for _ in range(psf_steps):
            mu = domain.blur(domain.kernel_spectrum(psf), x_spectrum) + background
            ratio = y / np.maximum(mu, 1e-12)
            psf = project(psf * domain.correlate(ratio, x_spectrum) / normalization, band, support)
        mu = domain.blur(domain.kernel_spectrum(psf), x_spectrum) + background
        value = negative_log_likelihood(mu, y)
        change = float(np.linalg.norm(psf - previous) / np.linalg.norm(previous))
        history["round"].append(round_index)
        history["objective"].append(value)
        history["psf_change"].append(change)
        history["time"].append(time.perf_counter() - start)
        if not np.isfinite(value) or not np.all(np.isfinite(psf)) or psf.sum() <= 0:
            diverged, stop_reason = True, "diverged: the PSF or the likelihood is not finite; kept the best estimate"
            break
        if value < best[0]:
            best, bad_rounds = (value, psf.copy()), 0
        else:
            bad_rounds += 1
            if bad_rounds >= 3:
                diverged = True
                stop_reason = ("diverged: the likelihood rose for 3 rounds in a row; "
                               "kept the best estimate")  # fmt: skip
                break
        if change < tol:
            stop_reason = f"the PSF changed by less than {tol} (relative) in a round"
            break
    if diverged:
        messages.append(stop_reason)
        psf = best[1] if np.isfinite(best[0]) else initial
    x = run_rl(domain, y, background, psf, None, max_iter, method)
    n_object += max_iter
    return {
        "x": x, "psf": psf, "coefficients": {}, "history": history,
        "info": {"identifiable": True, "stop_reason": stop_reason, "diverged": diverged,
                 "messages": messages, "n_object_iter": n_object,
                 "band_limited": band is not None, "support": support is not None},
    }  # fmt: skip
