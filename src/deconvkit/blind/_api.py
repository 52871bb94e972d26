"""The entry point: :func:`blind_deconvolve`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import psf as psf_models
from ..psf._checks import check_shape, check_spacing
from ._common import (
    BlindResult,
    Domain,
    check_background,
    check_count,
    check_image,
    check_method,
    has_structure,
    model_parameters,
)
from ._fish import blind_rl, otf_support, psf_support
from ._zernike import MODEL_KEYS, OPTICS_KEYS, check_modes, semi_blind

__all__ = ["ESTIMATES", "blind_deconvolve"]

ESTIMATES = ("zernike", "blind")


def _psf_shape(image_shape: tuple[int, ...], psf0: Any, psf_shape: Any) -> tuple[int, int, int]:
    if psf0 is not None:
        return check_shape(np.shape(psf0), "psf0's shape")
    if psf_shape is not None:
        return check_shape(psf_shape, "psf_shape")
    return tuple(n if n % 2 else n - 1 for n in image_shape)  # type: ignore[return-value]


def _check_psf0(psf0: Any) -> np.ndarray | None:
    if psf0 is None:
        return None
    array = np.asarray(psf0, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(f"psf0 must be a 3D ZYX PSF, got an array of shape {array.shape}")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.sum() <= 0:
        raise ValueError("psf0 must be finite and non-negative with a positive sum")
    return array / array.sum()


def blind_deconvolve(
    image: Any,
    psf0: Any = None,
    *,
    psf_model: Mapping[str, Any] | None = None,
    estimate: str = "zernike",
    method: str = "rl",
    max_iter: int = 50,
    psf_iter: int = 10,
    object_iter: int = 20,
    spacing: Sequence[float] | None = None,
    background: float | Any = 0.0,
    modes: Sequence[int] | None = None,
    psf_shape: Sequence[int] | None = None,
    coefficient_iter: int = 15,
    psf_steps: int = 3,
    max_std: float = 0.2,
    tol: float = 1e-3,
) -> BlindResult:
    r"""Deconvolve a stack while estimating its PSF: semi-blind (Zernike pupil) or blind (RL).

    The model is :math:`y \sim \mathrm{Poisson}(S(h \ast x) + b)` on the
    extended domain. Rounds alternate ``object_iter`` Richardson–Lucy
    iterations on the object with a PSF update; then the object is
    deconvolved afresh with the final PSF for ``max_iter`` iterations.

    ``estimate="zernike"`` (semi-blind, default): :math:`h` is the pupil model
    of :func:`deconvkit.psf.zernike` with the known optics of ``psf_model``
    and unknown Zernike coefficients (``modes``, Noll indices; astigmatism to
    secondary spherical by default), started from the aberration-free model
    (or from the fit of ``psf0``); each update is an L-BFGS-B minimization of
    the Poisson negative log-likelihood over the coefficients with the object
    fixed, with its exact gradient (an adjoint pupil transform), lengthened by
    a line search on the likelihood with the object re-deconvolved. ``estimate="blind"``: blind RL
    (Fish et al. 1995) from ``psf0`` or the model, the PSF kept non-negative,
    of sum 1, band-limited by the NA and inside a double-cone support.

    Parameters
    ----------
    image : array
        The stack, ZYX, in photon counts (negative read-noise values are clipped to 0).
    psf0 : array, optional
        A starting PSF (odd sizes, its centre voxel the origin); it sets the PSF box.
    psf_model : mapping, optional
        The optics, as keyword arguments of :func:`deconvkit.psf.zernike`:
        ``na``, ``wavelength`` (µm), ``ni`` required; ``ns``, ``depth`` (µm),
        ``ng``, ``tg``, ``ni0``, ``ng0``, ``tg0``, ``ti0``, ``model``
        (``"scalar"`` or ``"vectorial"``), ``oversample`` (default 2),
        ``pupil_samples``, ``coefficients`` (the starting aberration,
        radians) and ``sheet_fwhm`` (µm: a light-sheet microscope, the
        detection PSF times the sheet's Gaussian profile along z, of this
        known width; it is not estimated: the likelihood prefers an ever
        thinner sheet, as it prefers a delta PSF, the object explaining the
        rest).
        Needed for ``"zernike"``; for ``"blind"`` it gives the start (if no
        ``psf0``) and the NA band limit.
    estimate : {"zernike", "blind"}
        Semi-blind with the pupil model, or blind RL.
    method : {"rl", "rl-accelerated"}
        The object iterations: plain or momentum-accelerated Richardson–Lucy.
    max_iter : int
        Iterations of the final deconvolution with the estimated PSF.
    psf_iter : int
        PSF updates (rounds) at most.
    object_iter : int
        Richardson–Lucy iterations of each object estimate inside the rounds
        (``"zernike"``: from a flat start for every trial PSF of the line search;
        ``"blind"``: warm-started).
    spacing : (float, float, float)
        Voxel size (dz, dy, dx) in µm, ``dz`` the stage step; needed with ``psf_model``.
    background : float, array or "auto"
        The background :math:`b` in counts (``"auto"``: the 1st percentile).
    modes : sequence of int, optional
        Noll indices to estimate (``"zernike"``); default 5–15 and 22.
    psf_shape : (int, int, int), optional
        The PSF box without ``psf0``; default the image's shape made odd.
    coefficient_iter : int
        L-BFGS-B iterations per coefficient update.
    psf_steps : int
        Multiplicative PSF steps per round (``"blind"``).
    max_std : float
        Modes whose Cramér–Rao bound exceeds this (radians) are not estimated.
    tol : float
        Stop when the coefficients move less than ``tol`` radians in a round
        (``"zernike"``) or the PSF less than ``tol`` relative (``"blind"``).

    Returns
    -------
    BlindResult
        ``x`` (the object on the image's field, float32), ``psf`` (float32,
        sum 1), ``coefficients`` (radians by Noll index), ``history``, ``info``.

    Notes
    -----
    Without structure in the image (flat Poisson noise) nothing can be
    estimated: ``info["identifiable"]`` is False, the initial PSF is returned
    and ``info["messages"]`` says so. If a PSF update makes the likelihood
    non-finite or raises it (blind RL: for three rounds), the rounds stop, the
    best PSF so far is kept and ``info["diverged"]`` is True.
    """
    y = check_image(image)
    if estimate not in ESTIMATES:
        raise ValueError(f"estimate must be one of {ESTIMATES}, got {estimate!r}")
    method = check_method(method)
    max_iter = check_count(max_iter, "max_iter")
    psf_iter = check_count(psf_iter, "psf_iter", minimum=0)
    object_iter = check_count(object_iter, "object_iter")
    coefficient_iter = check_count(coefficient_iter, "coefficient_iter")
    psf_steps = check_count(psf_steps, "psf_steps")
    if not (np.isfinite(max_std) and max_std > 0):
        raise ValueError(f"max_std must be a positive number of radians, got {max_std!r}")
    b = check_background(background, y)
    psf0 = _check_psf0(psf0)
    parameters = model_parameters(psf_model, MODEL_KEYS)
    if parameters and spacing is None:
        raise ValueError("spacing (dz, dy, dx) in µm is needed with psf_model, e.g. (0.2, 0.1, 0.1)")
    spacing = check_spacing(spacing) if spacing is not None else None
    shape = _psf_shape(y.shape, psf0, psf_shape)
    domain = Domain(y.shape, shape)
    counts = np.clip(y, 0, None)
    structured = has_structure(counts, b)
    messages = []
    if not structured:
        messages.append("the image holds no structure beyond flat noise: the PSF was not "
                        "identifiable and the initial PSF is returned")  # fmt: skip

    if estimate == "zernike":
        if not parameters:
            raise ValueError(
                "estimate='zernike' needs psf_model with the optics, e.g. psf_model={'na': 1.4, "
                "'wavelength': 0.52, 'ni': 1.515, 'ns': 1.33, 'depth': 10.0}"
            )
        outcome = semi_blind(
            domain, counts, b, spacing, parameters, check_modes(modes), psf0=psf0, method=method,
            max_iter=max_iter, psf_iter=psf_iter if structured else 0, object_iter=object_iter,
            coefficient_iter=coefficient_iter, max_std=float(max_std), tol=float(tol),
        )  # fmt: skip
    else:
        if psf0 is None and not parameters:
            raise ValueError("estimate='blind' needs a starting PSF: give psf0 or psf_model")
        if psf0 is None:
            optics = {k: parameters[k] for k in OPTICS_KEYS if k in parameters}
            psf0 = psf_models.zernike(
                shape, spacing, model=parameters.get("model", "scalar"),
                coefficients=parameters.get("coefficients"),
                oversample=int(parameters.get("oversample", 2)),
                sheet_fwhm=parameters.get("sheet_fwhm"), **optics,
            )  # fmt: skip
        band = support = None
        if parameters:
            optics = (parameters["na"], parameters["wavelength"], parameters["ni"])
            band = otf_support(shape, spacing, *optics)
            support = psf_support(shape, spacing, *optics)
        else:
            messages.append("no psf_model: the PSF is neither band-limited nor cone-supported")
        outcome = blind_rl(
            domain, counts, b, psf0, band=band, support=support, method=method,
            max_iter=max_iter, psf_iter=psf_iter if structured else 0, object_iter=object_iter,
            psf_steps=psf_steps, tol=float(tol),
        )  # fmt: skip
    info = outcome["info"]
    if not structured:
        info["identifiable"] = False
        info["stop_reason"] = messages[0]
    info["messages"] = messages + info["messages"]
    info.update({"estimate": estimate, "method": method, "background": b if np.ndim(b) == 0
                 else "map", "psf_shape": shape, "domain_shape": domain.shape})  # fmt: skip
    x = np.asarray(outcome["x"])[domain.window].astype(np.float32)
    psf = np.asarray(outcome["psf"], dtype=np.float64)
    return BlindResult(
        x=x, psf=(psf / psf.sum()).astype(np.float32), coefficients=outcome["coefficients"],
        history=outcome["history"], info=info,
    )

