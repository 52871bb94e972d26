r"""Plug-and-play priors: a denoiser where a proximal map stands (not a true prox).

For a prior :math:`\lambda R` the proximal map is a MAP denoiser under
Gaussian noise of variance :math:`\sigma^2 = \tau\lambda`:

.. math:: \operatorname{prox}_{\tau\lambda R}(v)
          = \arg\min_x \frac{1}{2\tau\lambda}\|x - v\|^2 + R(x)
          = \arg\max_x\; p(v \mid x)\, e^{-R(x)}, \qquad v = x + \mathcal N(0, \tau\lambda I).

Plug-and-play (Venkatakrishnan, Bouman & Wohlberg 2013) replaces that map by
any good denoiser :math:`D(v, \sigma)` called at :math:`\sigma = \sqrt{\tau\lambda}`
(:class:`PlugAndPlay`); regularization by denoising (RED, Romano, Elad &
Milanfar 2017) uses :math:`\lambda\,(x - D(x, \sigma))` as a gradient
(:class:`RegularizationByDenoising`). Neither is the prox or gradient of a
known function in general (Reehorst & Schniter 2019): there is no objective
to record (the value is NaN) and convergence is empirical.

Denoisers that need no download: :class:`NonLocalMeans` and
:class:`WaveletShrinkage` (scikit-image), :class:`BM4D` (the ``bm4d``
package, ``pip install deconvkit[pnp]``), or any callable
``denoise(x, sigma) -> array`` of ``x``'s shape.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from ..backend import asarray, namespace, to_host
from ._base import Cost

__all__ = [
    "BM4D",
    "DENOISERS",
    "NonLocalMeans",
    "PlugAndPlay",
    "RegularizationByDenoising",
    "WaveletShrinkage",
]


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this denoiser needs {module.split('.')[0]}, which is not installed: "
            f"pip install {extra}"
        ) from None


class NonLocalMeans:
    r"""Non-local means (Buades et al. 2005) on 2D or 3D arrays, by scikit-image.

    ``denoise_nl_means(x, patch_size, patch_distance, h=h_factor·σ, sigma=σ)``
    with the noise variance subtracted from the patch distances
    (``fast_mode`` uniform patch weights). skimage suggests ``h`` of 0.6–0.8 σ.

    Parameters
    ----------
    patch_size : int
        Side of the patches compared (voxels).
    patch_distance : int
        Search radius (voxels): :math:`(2d + 1)^3` candidates per voxel in 3D.
    h_factor : float
        The filter's cut-off ``h`` in units of σ.
    fast_mode : bool
        skimage's fast mode (box-weighted patches).
    """

    def __init__(
        self,
        patch_size: int = 3,
        patch_distance: int = 3,
        h_factor: float = 0.8,
        fast_mode: bool = True,
    ) -> None:
        self.patch_size, self.patch_distance = int(patch_size), int(patch_distance)
        self.h_factor, self.fast_mode = float(h_factor), bool(fast_mode)

    def __call__(self, x: np.ndarray, sigma: float) -> np.ndarray:
        restoration = _need("skimage.restoration", "scikit-image")
        return restoration.denoise_nl_means(
            x,
            patch_size=self.patch_size,
            patch_distance=self.patch_distance,
            h=self.h_factor * sigma,
            sigma=sigma,
            fast_mode=self.fast_mode,
            channel_axis=None,
        )

    def __repr__(self) -> str:
        return f"NonLocalMeans(patch_size={self.patch_size}, patch_distance={self.patch_distance})"


class WaveletShrinkage:
    r"""Wavelet shrinkage (BayesShrink or VisuShrink) on 2D or 3D arrays, by scikit-image.

    ``denoise_wavelet(x, sigma=σ, wavelet, mode, method)``; needs PyWavelets.

    Parameters
    ----------
    wavelet : str
        A PyWavelets name (``"db1"`` Haar, ``"db2"``, ``"sym4"``, ...).
    mode : {"soft", "hard"}
        Thresholding.
    method : {"BayesShrink", "VisuShrink"}
        Threshold per sub-band (adaptive) or universal.
    levels : int, optional
        Decomposition levels (skimage's default otherwise).
    """

    def __init__(
        self,
        wavelet: str = "db1",
        mode: str = "soft",
        method: str = "BayesShrink",
        levels: int | None = None,
    ) -> None:
        self.wavelet, self.mode, self.method, self.levels = wavelet, mode, method, levels

    def __call__(self, x: np.ndarray, sigma: float) -> np.ndarray:
        _need("pywt", "PyWavelets")
        restoration = _need("skimage.restoration", "scikit-image")
        return restoration.denoise_wavelet(
            x,
            sigma=sigma,
            wavelet=self.wavelet,
            mode=self.mode,
            method=self.method,
            wavelet_levels=self.levels,
            rescale_sigma=True,
            channel_axis=None,
        )

    def __repr__(self) -> str:
        return f"WaveletShrinkage({self.wavelet!r}, {self.method})"


class BM4D:
    r"""BM4D (Maggioni et al. 2013): collaborative filtering of grouped 3D blocks.

    ``bm4d.bm4d(x, sigma_psd=σ, stage_arg=...)`` (a number is the noise's standard deviation) from the ``bm4d`` package
    (``pip install deconvkit[pnp]``), white noise of standard deviation σ.
    The best of the three here, and by far the slowest (several seconds even
    for a 16x32x32 volume on two cores).

    Parameters
    ----------
    stages : {"all", "hard"}
        Hard thresholding then Wiener filtering (``"all"``), or the first stage only.
    profile : str
        The package's profile (``"np"`` normal, ``"refilter"``).
    """

    def __init__(self, stages: str = "all", profile: str = "np") -> None:
        if stages not in ("all", "hard"):
            raise ValueError(f"stages must be 'all' or 'hard', got {stages!r}")
        self.stages, self.profile = stages, profile

    def __call__(self, x: np.ndarray, sigma: float) -> np.ndarray:
        bm4d = _need("bm4d", "deconvkit[pnp] (or bm4d)")
        stage = (
            bm4d.BM4DStages.ALL_STAGES
            if self.stages == "all"
            else bm4d.BM4DStages.HARD_THRESHOLDING
        )
        try:
            return bm4d.bm4d(x, sigma_psd=float(sigma), profile=self.profile, stage_arg=stage)
        except ValueError as error:  # e.g. a volume smaller than its blocks
            raise ValueError(f"BM4D on a {'x'.join(map(str, x.shape))} volume: {error}") from None

    def __repr__(self) -> str:
        return f"BM4D(stages={self.stages!r})"


#: Denoisers by name: ``PlugAndPlay("nl-means", ...)``.
DENOISERS: dict[str, Callable[[], Callable]] = {
    "nl-means": NonLocalMeans,
    "wavelet": WaveletShrinkage,
    "bm4d": BM4D,
}


def _denoiser(denoiser: Any) -> Callable:
    if isinstance(denoiser, str):
        if denoiser not in DENOISERS:
            raise ValueError(
                f"unknown denoiser {denoiser!r}: give one of {', '.join(DENOISERS)} or a "
                "callable denoise(x, sigma) -> array"
            )
        return DENOISERS[denoiser]()
    if not callable(denoiser):
        raise TypeError(
            f"the denoiser must be a callable denoise(x, sigma) -> array or a name, got {denoiser!r}"
        )
    return denoiser


def _check_strength(strength: Any, what: str) -> float:
    if (
        isinstance(strength, bool)
        or not isinstance(strength, numbers.Real)
        or not math.isfinite(strength)
        or strength <= 0
    ):
        raise ValueError(f"{what} must be a positive finite number, got {strength!r}")
    return float(strength)


class _Denoising(Cost):
    """Shared: call the denoiser on the host, check its answer, return it on ``x``'s backend."""

    def __init__(self, denoiser: Any, shape: Any = None) -> None:
        super().__init__(shape)
        self.denoiser = _denoiser(denoiser)
        self.calls = 0

    def denoise(self, x: Any, sigma: float) -> Any:
        """``D(x, sigma)``, checked: of ``x``'s shape and dtype, finite."""
        self.calls += 1
        out = self.denoiser(to_host(x), float(sigma))
        if getattr(out, "shape", None) != tuple(x.shape):
            raise ValueError(
                f"{type(self).__name__}: the denoiser {self.denoiser!r} returned "
                f"{'shape ' + str(tuple(out.shape)) if hasattr(out, 'shape') else type(out).__name__} "
                f"for an input of shape {tuple(x.shape)}: it must return an array of the input's shape"
            )
        out = np.asarray(out)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                f"{type(self).__name__}: the denoiser {self.denoiser!r} returned NaN or infinite "
                f"values for a finite input at sigma={sigma:.3g}: check the denoiser, or change strength"
            )
        return asarray(out.astype(x.dtype, copy=False), like=x)

    def _value(self, x: Any) -> float:
        return math.nan


class PlugAndPlay(_Denoising):
    r"""A denoiser in place of a proximal map (PnP): *not* a true prox.

    .. math:: \operatorname{prox}_{\tau\lambda R}(v) \;\leftarrow\; D\big(v, \sigma\big),
              \qquad \sigma = \sqrt{\tau\lambda}

    since for a prior of weight :math:`\lambda` the prox of :math:`\tau\lambda R`
    is the MAP denoiser at noise variance :math:`\sigma^2 = \tau\lambda`. In
    ADMM the prox is taken at :math:`\tau = 1/\rho` (:math:`\sigma = \sqrt{\lambda/\rho}`),
    in proximal gradient at the step :math:`t` (:math:`\sigma = \sqrt{t\lambda}`);
    ``c * PlugAndPlay(D, λ)`` is ``PlugAndPlay(D, cλ)``. σ is in the units of x.

    ``proximable`` is True so that ADMM and ProximalGradient accept it, but
    ``exact_prox`` is False: the denoiser is the prox of no known function in
    general, the value ``f(x)`` is NaN (there is no objective) and convergence
    is empirical (assured for some denoisers and penalties only: Ryu et al. 2019).
    Since the solvers stop when their recorded objective is NaN, run them with
    ``tracks_objective = False`` (then the divergence guard watches the iterate):

    >>> import numpy as np
    >>> from deconvkit.costs import LeastSquares, PlugAndPlay
    >>> from deconvkit.operators import Blur
    >>> from deconvkit.solvers import ADMM
    >>> y = np.random.default_rng(0).poisson(50.0, (8, 16, 16)).astype(np.float32)
    >>> H = Blur(np.ones((3, 3, 3), np.float32) / 27, y.shape)
    >>> admm = ADMM([LeastSquares(y) @ H, PlugAndPlay("wavelet", strength=4.0)])
    >>> admm.tracks_objective = False
    >>> admm.run(max_iter=5).x.shape  # doctest: +SKIP
    (8, 16, 16)

    A denoiser that returns another shape, or NaN for a finite input, is
    refused with one line; a non-finite input (the solver diverged) is passed
    through, so that the solver's divergence guard stops on it.

    Parameters
    ----------
    denoiser : callable or str
        ``denoise(x, sigma) -> array`` of x's shape (called on host arrays),
        or ``"nl-means"``, ``"wavelet"``, ``"bm4d"`` (their default settings).
    strength : float
        The prior's weight λ (> 0).
    shape : tuple of int, optional
        Shape of x, when known.

    Attributes
    ----------
    calls : int
        How many times the denoiser ran.
    """

    proximable = True
    smooth = False
    #: The prox is a denoiser, not the proximal map of a known function.
    exact_prox = False

    def __init__(self, denoiser: Any, strength: float, shape: Any = None) -> None:
        super().__init__(denoiser, shape)
        self.strength = _check_strength(strength, "PlugAndPlay's strength")

    def __rmul__(self, scalar: Any) -> Any:
        """``c * PlugAndPlay(D, λ)`` is ``PlugAndPlay(D, cλ)`` (the flags kept)."""
        if isinstance(scalar, numbers.Real) and not isinstance(scalar, bool):
            return PlugAndPlay(self.denoiser, float(scalar) * self.strength, self.shape)
        return NotImplemented

    def sigma(self, tau: float) -> float:
        r"""The denoiser's noise level for a prox of step ``tau``: :math:`\sqrt{\tau\lambda}`."""
        return math.sqrt(float(tau) * self.strength)

    def _prox(self, x: Any, tau: float) -> Any:
        xp = namespace(x)
        if not bool(xp.all(xp.isfinite(x))):
            return x.copy()  # the iterate diverged: let the solver's guard see it
        return self.denoise(x, self.sigma(tau))

    def __repr__(self) -> str:
        return f"PlugAndPlay({self.denoiser!r}, strength={self.strength:g})"


class RegularizationByDenoising(_Denoising):
    r"""Regularization by denoising (RED): the denoiser's residual as a gradient.

    .. math:: \nabla R(x) \;\leftarrow\; \lambda\,\big(x - D(x, \sigma)\big)

    with a fixed noise level σ. This is the gradient of
    :math:`\tfrac{\lambda}{2} x^T(x - D(x))` only for a locally homogeneous
    denoiser with a symmetric Jacobian (Romano et al. 2017; most denoisers
    are neither, Reehorst & Schniter 2019): ``exact_gradient`` is False and
    the value is NaN. ``grad_lipschitz`` is λ, which holds for a firmly
    non-expansive denoiser (then :math:`I - D` is too): an assumption, stated.
    Use it as a smooth term of ProximalGradient / FISTA with
    ``tracks_objective = False``.

    Parameters
    ----------
    denoiser : callable or str
        As in :class:`PlugAndPlay`.
    strength : float
        λ > 0.
    sigma : float
        The denoiser's noise level, in the units of x.
    shape : tuple of int, optional
        Shape of x, when known.
    """

    smooth = True
    proximable = False
    #: The gradient is a denoiser's residual, not the gradient of a known function.
    exact_gradient = False

    def __init__(self, denoiser: Any, strength: float, sigma: float, shape: Any = None) -> None:
        super().__init__(denoiser, shape)
        self.strength = _check_strength(strength, "RegularizationByDenoising's strength")
        self.noise_level = _check_strength(sigma, "RegularizationByDenoising's sigma")

    def __rmul__(self, scalar: Any) -> Any:
        """``c * RegularizationByDenoising(D, λ, σ)`` is ``RegularizationByDenoising(D, cλ, σ)``."""
        if isinstance(scalar, numbers.Real) and not isinstance(scalar, bool):
            return RegularizationByDenoising(
                self.denoiser, float(scalar) * self.strength, self.noise_level, self.shape
            )
        return NotImplemented

    def _grad(self, x: Any) -> Any:
        xp = namespace(x)
        if not bool(xp.all(xp.isfinite(x))):
            return x.copy()
        g = x - self.denoise(x, self.noise_level)
        g *= g.dtype.type(self.strength)
        return g

    def _compute_grad_lipschitz(self) -> float:
        return self.strength

    def __repr__(self) -> str:
        return (
            f"RegularizationByDenoising({self.denoiser!r}, strength={self.strength:g}, "
            f"sigma={self.noise_level:g})"
        )
