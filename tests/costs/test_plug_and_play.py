"""Plug-and-play priors: the noise level a prox implies, PnP-ADMM / PnP-FISTA / RED against known
minimizers, the built-in denoisers, and refusal of bad denoisers."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from deconvkit import metrics
from deconvkit.costs import (
    BM4D,
    Cost,
    LeastSquares,
    NonLocalMeans,
    NonNegative,
    PlugAndPlay,
    RegularizationByDenoising,
    SquaredL2,
    WaveletShrinkage,
)
from deconvkit.operators import Blur, Identity
from deconvkit.solvers import ADMM, FISTA
from deconvkit.testing import check_gradient

C = 2.0  # curvature of the Gaussian prior R(x) = (C/2)‖x‖²


def gaussian_map_denoiser(v, sigma):
    """The exact MAP denoiser of the prior (C/2)‖x‖² at noise level sigma."""
    return v / (1.0 + C * sigma**2)


def psf3(sigma=1.0):
    axis = np.arange(5) - 2
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    h = np.exp(-(x**2 + y**2 + z**2) / (2 * sigma**2))
    return h / h.sum()


@pytest.fixture(scope="module")
def tikhonov():
    """½‖Hx − y‖² + λ(C/2)‖x‖²: its closed-form minimizer."""
    rng = np.random.default_rng(0)
    shape = (8, 16, 16)
    H = Blur(psf3(), shape)
    y = H @ rng.random(shape) + 0.05 * rng.standard_normal(shape)
    lam = 0.1
    solution = (H.H @ H + lam * C * Identity(shape, dtype=np.float64)).inv() @ (H.H @ y)
    return dict(H=H, y=y, lam=lam, solution=solution, shape=shape)


def test_prox_is_the_denoiser_at_sigma_squared_tau_lambda():
    v = np.random.default_rng(1).standard_normal((4, 6, 6))
    lam = 0.3
    pnp = PlugAndPlay(gaussian_map_denoiser, lam)
    true_prox = (lam * C) * SquaredL2()
    for tau in (0.1, 1.0, 7.0):
        assert pnp.sigma(tau) == pytest.approx(math.sqrt(tau * lam))
        np.testing.assert_allclose(pnp.prox(v, tau), true_prox.prox(v, tau), rtol=1e-12)
    # a weight multiplies the strength, and the result is still marked as not a true prox
    assert (0.5 * pnp).exact_prox is False and (0.5 * pnp).strength == pytest.approx(0.5 * lam)
    np.testing.assert_allclose(
        (0.5 * pnp).prox(v, 2.0), PlugAndPlay(gaussian_map_denoiser, 0.5 * lam).prox(v, 2.0)
    )


def test_flags_say_it_is_not_a_true_prox_and_has_no_value():
    pnp = PlugAndPlay(gaussian_map_denoiser, 1.0)
    assert pnp.proximable and not pnp.smooth and pnp.exact_prox is False
    assert math.isnan(pnp(np.ones((3, 4, 4))))
    red = RegularizationByDenoising(gaussian_map_denoiser, 1.0, sigma=0.5)
    assert red.smooth and red.exact_gradient is False and math.isnan(red(np.ones((3, 4, 4))))


@pytest.mark.parametrize("solver", ["admm", "fista"])
def test_pnp_with_an_exact_map_denoiser_converges_to_the_regularized_minimizer(tikhonov, solver):
    data = LeastSquares(tikhonov["y"]) @ tikhonov["H"]
    pnp = PlugAndPlay(gaussian_map_denoiser, tikhonov["lam"])
    if solver == "admm":
        run = ADMM([data, pnp])
    else:
        run = FISTA(data, pnp)
    result = run.run(max_iter=150)
    assert not result.diverged
    np.testing.assert_allclose(
        result.x, tikhonov["solution"], atol=1e-7 * np.abs(tikhonov["solution"]).max()
    )
    assert pnp.calls >= 150


def test_red_with_a_symmetric_linear_denoiser_is_a_gradient_and_reaches_the_minimizer(tikhonov):
    shape = tikhonov["shape"]
    W = Blur(psf3(0.8), shape)  # a symmetric PSF: W is self-adjoint, D(x) = W x
    red = RegularizationByDenoising(lambda v, s: W @ v, 0.7, sigma=1.0, shape=shape)

    class RedValue(Cost):  # the RED prior ½λ xᵀ(x − W x), whose gradient RED claims to give
        smooth = True

        def _value(self, x):
            return 0.5 * 0.7 * float(np.vdot(x, x - W @ x))

        def _grad(self, x):
            return red.grad(x)

    check_gradient(RedValue(shape), np.random.default_rng(2).standard_normal(shape))
    # with D(v) = v/(1 + C) and strength λ(1 + C) the RED gradient is λ C x: Tikhonov again
    lam = tikhonov["lam"]
    shrink = RegularizationByDenoising(lambda v, s: v / (1.0 + C), lam * (1.0 + C), sigma=1.0)
    fista = FISTA([LeastSquares(tikhonov["y"]) @ tikhonov["H"], shrink])
    x = fista.run(max_iter=200).x
    np.testing.assert_allclose(
        x, tikhonov["solution"], atol=1e-7 * np.abs(tikhonov["solution"]).max()
    )


def test_solver_stops_on_divergence_and_returns_the_last_finite_iterate(tikhonov):
    pnp = PlugAndPlay(gaussian_map_denoiser, 1e-6)
    fista = FISTA(LeastSquares(tikhonov["y"]) @ tikhonov["H"], pnp, step=50.0, accelerate=False)
    result = fista.run(max_iter=2000)
    assert result.diverged and "NaN or Inf" in result.stop_reason
    assert np.all(np.isfinite(result.x)) and result.n_iter < 2000


@pytest.mark.parametrize(
    "denoiser, message",
    [
        (lambda v, s: v[1:], r"returned shape \(3, 6, 6\) for an input of shape \(4, 6, 6\)"),
        (
            lambda v, s: np.full_like(v, np.nan),
            "returned NaN or infinite values for a finite input",
        ),
        (lambda v, s: 3.0, "returned float for an input"),
    ],
)
def test_bad_denoiser_output_is_refused_in_one_line(denoiser, message):
    pnp = PlugAndPlay(denoiser, 1.0)
    with pytest.raises(ValueError, match=message) as info:
        pnp.prox(np.ones((4, 6, 6)), 1.0)
    assert "\n" not in str(info.value)


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="unknown denoiser 'tv'"):
        PlugAndPlay("tv", 1.0)
    with pytest.raises(TypeError, match="callable denoise"):
        PlugAndPlay(3.0, 1.0)
    with pytest.raises(ValueError, match="strength must be a positive finite number"):
        PlugAndPlay(gaussian_map_denoiser, 0.0)
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        RegularizationByDenoising(gaussian_map_denoiser, 1.0, sigma=-1.0)


@pytest.fixture(scope="module")
def noisy_volume():
    rng = np.random.default_rng(3)
    clean = np.zeros((12, 24, 24), np.float32)
    clean[3:9, 6:18, 6:18] = 50.0
    clean[5:7, 2:22, 10:13] = 80.0
    return clean, (clean + 5.0 * rng.standard_normal(clean.shape)).astype(np.float32)


def _skip_without(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed (an optional dependency: pip install deconvkit[pnp])"
        )


@pytest.mark.parametrize(
    "name, denoiser", [("skimage", NonLocalMeans()), ("pywt", WaveletShrinkage())]
)
def test_builtin_denoisers_denoise_3d_volumes_and_keep_float32(noisy_volume, name, denoiser):
    _skip_without(name)
    clean, noisy = noisy_volume
    out = PlugAndPlay(denoiser, 25.0).prox(noisy, 1.0)  # sigma = 5, the noise's level
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert metrics.nrmse(out, clean, fit=None) < 0.6 * metrics.nrmse(noisy, clean, fit=None)


def test_bm4d_denoiser_when_installed(noisy_volume):
    _skip_without("bm4d")
    clean, noisy = noisy_volume
    out = PlugAndPlay(BM4D(stages="hard"), 25.0).prox(noisy[:8, :12, :12], 1.0)
    assert out.dtype == np.float32
    small = clean[:8, :12, :12]
    assert metrics.nrmse(out, small, fit=None) < 0.6 * metrics.nrmse(
        noisy[:8, :12, :12], small, fit=None
    )


def test_pnp_admm_with_nl_means_deconvolves_better_than_the_data(noisy_volume):
    _skip_without("skimage")
    clean, _ = noisy_volume
    H = Blur(psf3(1.0).astype(np.float32), clean.shape)
    y = (H @ clean + 2.0 * np.random.default_rng(4).standard_normal(clean.shape)).astype(np.float32)
    terms = [LeastSquares(y) @ H, PlugAndPlay(NonLocalMeans(patch_distance=2), 2.0), NonNegative()]
    admm = ADMM(terms, rho=0.2)  # sigma = sqrt(2 / 0.2) ≈ 3.2
    result = admm.run(max_iter=15, ground_truth=clean)
    assert result.x.dtype == np.float32 and not result.diverged
    assert result.history["nrmse"][-1] < 0.6 * metrics.nrmse(y, clean)
