r"""What semi-blind and blind deconvolution share: the result, the checks, the extended domain.

The forward model is deconvkit's extended-domain one,

.. math:: y \sim \mathrm{Poisson}(S\,(h \ast x) + b),

with :math:`x` on the image plus a PSF-sized margin (fast FFT sizes), :math:`S`
the crop to the camera's field and :math:`h` circulant there. Both estimators
alternate object steps (Richardson–Lucy, :class:`deconvkit.solvers.RichardsonLucy`
on ``PoissonLikelihood(y, background=b) @ (Crop @ Blur)``) with PSF steps
that lower the same negative log-likelihood

.. math:: f = \sum_i \mu_i - y_i \log \mu_i, \qquad \mu = S(h \ast x) + b,

whose gradient with respect to the PSF is a correlation,
:math:`\partial f/\partial h = (S^{\mathsf H}(1 - y/\mu)) \star x`, cut to the PSF's box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import costs, operators, solvers
from ..backend import irfftn, rfftn

__all__ = ["BlindResult", "Domain", "check_background", "check_image", "has_structure", "run_rl"]

METHODS = ("rl", "rl-accelerated")


@dataclass
class BlindResult:
    """What :func:`blind_deconvolve` returns.

    Attributes
    ----------
    x : numpy.ndarray
        The deconvolved object on the image's field (float32, the image's shape).
    psf : numpy.ndarray
        The estimated PSF (float32, sum 1, centre voxel the origin).
    coefficients : dict of int to float
        The estimated Zernike coefficients in radians, by Noll index (all the
        modes estimated, the fixed ones included); empty for ``estimate="blind"``.
    history : dict of str to list
        One row per PSF update: ``round``, ``objective`` (the Poisson negative
        log-likelihood, up to a constant, after the update), ``psf_change``
        (relative L2 change of the PSF), ``time`` (s) and, for ``"zernike"``,
        ``coefficients`` (the vector after the update).
    info : dict
        ``estimate``, ``identifiable`` (False: the PSF could not be estimated
        from this image and ``psf`` is the initial one), ``stop_reason`` (in
        words), ``diverged``, ``messages`` (what the user should know),
        ``n_object_iter``, ``background``, and for ``"zernike"`` the ``modes``
        estimated, their ``coefficient_std`` (Cramér–Rao bounds, radians) and
        ``axial_offset`` (µm).
    """

    x: np.ndarray
    psf: np.ndarray
    coefficients: dict[int, float]
    history: dict[str, list]
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"BlindResult(x={self.x.shape}, psf={self.psf.shape}, "
            f"{len(self.coefficients)} coefficients, stop_reason={self.info.get('stop_reason')!r})"
        )


def check_image(image: Any) -> np.ndarray:
    """A 3D ZYX stack of finite values, as float32 (integers convert)."""
    array = np.asarray(image)
    if array.ndim != 3:
        raise ValueError(
            f"blind_deconvolve needs a 3D ZYX stack, got an array of shape {array.shape}"
        )
    if min(array.shape) < 3:
        raise ValueError(f"the image {array.shape} is too small: at least 3 voxels per axis")
    array = array.astype(np.float32) if array.dtype != np.float64 else array
    if not np.all(np.isfinite(array)):
        raise ValueError("the image holds NaN or infinite values: clean it first")
    return array


def check_background(background: Any, image: np.ndarray) -> float | np.ndarray:
    """A number, a map of the image's shape or ``"auto"`` (the 1st percentile, as ``deconvolve``)."""
    if isinstance(background, str):
        if background != "auto":
            raise ValueError(f"background must be a number, a map or 'auto', got {background!r}")
        return float(np.percentile(image, 1.0))
    if np.ndim(background) == 0:
        value = float(background)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"background must be finite and >= 0, got {background!r}")
        return value
    array = np.asarray(background, dtype=image.dtype)
    if array.shape != image.shape:
        raise ValueError(
            f"a background map must have the image's shape {image.shape}, got {array.shape}"
        )
    if not np.all(np.isfinite(array)) or array.min() < 0:
        raise ValueError("the background map must be finite and non-negative")
    return array


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"method must be one of {METHODS} (the object steps are Richardson–Lucy), "
            f"got {method!r}"
        )
    return method


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def has_structure(y: np.ndarray, background: float | np.ndarray) -> bool:
    r"""Does the image hold more than flat Poisson noise?

    For a flat image the variance equals the mean (shot noise); the excess
    :math:`\mathrm{var}(y - b) - \mathrm{mean}(y)` must pass five standard
    errors of the variance, :math:`5\sqrt{2/N}\,\mathrm{mean}(y)`.
    """
    signal = np.asarray(y, dtype=np.float64) - background
    mean = float(np.mean(y))
    if mean <= 0 or float(signal.max()) <= 0:
        return False
    excess = float(np.var(signal)) - mean
    return excess > 5.0 * np.sqrt(2.0 / signal.size) * max(mean, 1.0)


class Domain:
    """The extended object domain of an image and a PSF box, with the FFT pieces of the model.

    Parameters
    ----------
    image_shape, psf_shape : tuple of int
        The field and the PSF box (odd sizes).
    """

    def __init__(self, image_shape: tuple[int, ...], psf_shape: tuple[int, ...]) -> None:
        self.image_shape = tuple(int(n) for n in image_shape)
        self.psf_shape = tuple(int(n) for n in psf_shape)
        self.shape = operators.extended_shape(self.image_shape, self.psf_shape)
        self.crop = operators.Crop(self.shape, self.image_shape)
        self.window = self.crop.window
        self.axes = tuple(range(len(self.shape)))

    def pad(self, field_values: np.ndarray) -> np.ndarray:
        """:math:`S^{\\mathsf H}`: the field put back into zeros on the domain."""
        out = np.zeros(self.shape, field_values.dtype)
        out[self.window] = field_values
        return out

    def kernel_spectrum(self, psf: np.ndarray) -> np.ndarray:
        """The OTF of ``psf`` on the domain (origin, the centre voxel, moved to index 0)."""
        return rfftn(operators.kernel_at_origin(np.asarray(psf), self.shape, np.float64),
                     self.axes)

    def spectrum(self, x: np.ndarray) -> np.ndarray:
        return rfftn(np.asarray(x, dtype=np.float64), self.axes)

    def blur(self, otf: np.ndarray, x_spectrum: np.ndarray) -> np.ndarray:
        """:math:`S(h \\ast x)` from the two spectra (float64, the field's shape)."""
        return irfftn(otf * x_spectrum, self.shape, self.axes)[self.window]

    def correlate(self, residual: np.ndarray, x_spectrum: np.ndarray) -> np.ndarray:
        """:math:`(S^{\\mathsf H} r) \\star x` on the PSF box: the gradient of a cost of ``S(h * x)``."""
        full = irfftn(self.spectrum(self.pad(residual)) * x_spectrum.conj(), self.shape, self.axes)
        full = np.roll(full, tuple(p // 2 for p in self.psf_shape), axis=self.axes)
        return full[tuple(slice(0, p) for p in self.psf_shape)]

    def operator(self, psf: np.ndarray) -> Any:
        """``Crop @ Blur`` for this PSF (float32)."""
        return self.crop @ operators.Blur(np.asarray(psf, np.float32), self.shape)


def negative_log_likelihood(mu: np.ndarray, y: np.ndarray) -> float:
    r""":math:`\sum \mu - y\log\mu` (the Poisson NLL up to a constant); inf if :math:`\mu \le 0` where :math:`y > 0`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(y > 0, y * np.log(np.maximum(mu, 1e-300)), 0.0)
    if np.any((mu <= 0) & (y > 0)) or not np.all(np.isfinite(mu)):
        return float("inf")
    return float(np.sum(mu) - np.sum(logs))


def run_rl(
    domain: Domain,
    y: np.ndarray,
    background: float | np.ndarray,
    psf: np.ndarray,
    x0: np.ndarray | None,
    n_iter: int,
    method: str,
) -> np.ndarray:
    """``n_iter`` Richardson–Lucy iterations on the extended domain (float32 object)."""
    data = costs.PoissonLikelihood(y, background=background) @ domain.operator(psf)
    acceleration = "momentum" if method == "rl-accelerated" else None
    solver = solvers.RichardsonLucy(data, acceleration=acceleration, track_objective=False)
    return solver.run(x0=x0, max_iter=n_iter).x


def model_parameters(psf_model: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict:
    """Validate a ``psf_model`` mapping: the optics of ``deconvkit.psf.zernike`` (na, wavelength, ni, ...)."""
    if psf_model is None:
        return {}
    if not isinstance(psf_model, Mapping):
        raise TypeError(
            "psf_model must be a mapping of the PSF model's parameters, e.g. "
            "{'na': 1.4, 'wavelength': 0.52, 'ni': 1.515, 'ns': 1.33, 'depth': 10.0}"
        )
    unknown = sorted(set(psf_model) - set(allowed))
    if unknown:
        raise ValueError(
            f"psf_model has unknown parameter(s) {', '.join(map(repr, unknown))}: "
            f"it takes {', '.join(allowed)}"
        )
    missing = [name for name in ("na", "wavelength", "ni") if name not in psf_model]
    if missing:
        raise ValueError(
            f"psf_model is missing {', '.join(map(repr, missing))}: give at least na, "
            "wavelength (µm) and ni, e.g. {'na': 1.4, 'wavelength': 0.52, 'ni': 1.515}"
        )
    return dict(psf_model)
