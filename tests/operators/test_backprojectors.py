"""The Wiener–Butterworth back projector and Richardson–Lucy with it (rl-wb)."""

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

import deconvkit as dk
from deconvkit.operators import Blur, Crop, extended_shape, fwhm_voxels, wiener_butterworth
from deconvkit.costs import PoissonLikelihood
from deconvkit.solvers import RichardsonLucy
from deconvkit.testing import check_adjoint

SPACING = (0.3, 0.1, 0.1)


@pytest.fixture(scope="module")
def psf():
    return dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)


def test_the_kernel_is_real_and_sums_to_one(psf):
    back = wiener_butterworth(psf, (20, 40, 44))
    kernel = scipy.fft.irfftn(back.transfer_function, s=(20, 40, 44))
    assert kernel.sum() == pytest.approx(1.0, rel=1e-5)
    # a real kernel: its full spectrum is Hermitian, so the round trip is exact
    again = scipy.fft.rfftn(kernel)
    np.testing.assert_allclose(again, back.transfer_function, atol=1e-5)
    assert back.transfer_function.dtype == np.complex64


def test_it_matches_the_formula_in_double_precision(psf):
    shape = (16, 32, 32)
    alpha, order = 0.05, 10
    back = wiener_butterworth(psf, shape, alpha=alpha, beta=0.02, order=order)
    kernel = np.zeros(shape)
    kernel[:9, :17, :17] = psf
    otf = scipy.fft.rfftn(np.roll(kernel, (-4, -8, -8), axis=(0, 1, 2)))
    hn = np.conj(otf) / np.abs(otf).max()
    wiener = hn / (np.abs(hn) ** 2 + alpha)
    cutoff = [1 / w for w in fwhm_voxels(psf)]
    f = [np.fft.fftfreq(16)[:, None, None], np.fft.fftfreq(32)[None, :, None],
         np.fft.rfftfreq(32)[None, None, :]]
    rho2 = sum((fi / c) ** 2 for fi, c in zip(f, cutoff))
    index = int(round(cutoff[2] * 32))
    beta_w = np.abs(np.take(wiener, index, axis=2)).max()
    epsilon = (beta_w / 0.02) ** 2 - 1
    expected = wiener / np.sqrt(1 + epsilon * rho2**order)
    expected /= expected.flat[0].real
    np.testing.assert_allclose(back.transfer_function, expected, atol=2e-5)


def test_an_otf_at_hand_gives_the_same_kernel_at_any_scale(psf):
    shape = (16, 32, 30)
    blur = dk.operators.Blur(psf.astype(np.float32), shape)
    otf = blur.otf * np.complex64(3.0)
    kept = otf.copy()
    np.testing.assert_allclose(wiener_butterworth(psf, shape, otf=otf).transfer_function,
                               wiener_butterworth(psf, shape).transfer_function, atol=1e-6)
    np.testing.assert_array_equal(otf, kept)  # not overwritten
    with pytest.raises(ValueError, match="half spectrum"):
        wiener_butterworth(psf, shape, otf=blur.otf[..., :-1])


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16))
def test_the_back_projector_is_an_exact_circulant_operator(psf, seed):
    back = wiener_butterworth(psf, (12, 24, 25))
    check_adjoint(back, seed=seed)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": 0.0}, "alpha must be a positive number"),
    ({"order": 0}, "Butterworth order"),
    ({"beta": 1.5}, "beta must lie in"),
    ({"cutoff": (0.1, 0.2)}, "one positive frequency per axis"),
])
def test_bad_parameters(psf, kwargs, message):
    with pytest.raises(ValueError, match=message):
        wiener_butterworth(psf, (16, 32, 32), **kwargs)


def test_rl_wb_stays_non_negative_and_fits_the_data_faster(psf):
    field = (12, 40, 40)
    domain = extended_shape(field, psf.shape)
    obj = dk.simulate.phantom(domain, SPACING, kind="filaments", seed=2) * 200
    y = np.random.default_rng(0).poisson((Crop(domain, field) @ Blur(psf, domain)) @ obj + 10)
    data = PoissonLikelihood(y.astype(np.float32), background=10.0) @ (
        Crop(domain, field) @ Blur(psf, domain))
    back = wiener_butterworth(psf, domain)
    fast = RichardsonLucy(data, back_projector=back).run(max_iter=5, objective_every=1)
    plain = RichardsonLucy(data).run(max_iter=5, objective_every=1)
    assert fast.x.min() >= 0
    # not a descent method (the back projector is not Aᴴ), but ahead of matched RL at
    # every one of the first iterations
    fast_fit, plain_fit = (np.array(r.history["objective"][1:]) for r in (fast, plain))
    assert np.all(fast_fit < plain_fit)


def test_the_margin_beyond_the_back_projectors_reach_takes_the_matched_update(psf):
    field = (12, 40, 40)
    domain = extended_shape(field, psf.shape)
    model = Crop(domain, field) @ Blur(psf, domain)
    obj = dk.simulate.phantom(domain, SPACING, kind="mixed", seed=2) * 200
    y = np.random.default_rng(0).poisson(model @ obj + 10).astype(np.float32)
    data = PoissonLikelihood(y, background=10.0) @ model
    fast = RichardsonLucy(data, back_projector=wiener_butterworth(psf, domain))
    plain = RichardsonLucy(data)
    matched = fast.matched_region
    assert matched is not None and 0 < matched.sum() < fast.observed.sum()
    # no voxel that matched RL updates is frozen, and the rest take B's update
    assert np.all(fast.observed[plain.observed])
    x0 = np.where(plain.observed, np.float32(3.0), np.float32(0))  # the same model for both
    one_fast, one_plain = (s.run(x0=x0, max_iter=1).x for s in (fast, plain))
    np.testing.assert_allclose(one_fast[matched], one_plain[matched], rtol=1e-5)
    reached = fast.observed & ~matched
    assert np.abs(one_fast[reached] - one_plain[reached]).max() > 0.1 * one_plain.max()
    # without a margin the back projector reaches every voxel: no second buffer
    periodic = PoissonLikelihood(y[:, :, :], background=10.0) @ Blur(psf, field)
    assert RichardsonLucy(periodic, back_projector=wiener_butterworth(psf, field)) \
        .matched_region is None


def test_a_back_projector_needs_the_fft_path(psf):
    from deconvkit.operators import Diagonal

    domain = (12, 24, 24)
    data = PoissonLikelihood(np.ones(domain, np.float32)) @ (
        Blur(psf, domain) @ Diagonal(np.ones(domain, np.float32)))
    with pytest.raises(TypeError, match="back_projector must be a kernel"):
        RichardsonLucy(data, back_projector=wiener_butterworth(psf, domain))


@pytest.mark.parametrize("acceleration", ["none", "momentum", "biggs-andrews"])
def test_rl_wb_takes_an_acceleration(psf, acceleration):
    from deconvkit.methods import plan

    field = (12, 40, 40)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=2)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=3)
    chosen = plan(y, psf, "rl-wb", acceleration=acceleration, background=10, spacing=SPACING)
    solver = chosen.method.build(chosen.problem(y), clip_negative=False, **chosen.own)
    assert solver.acceleration == (None if acceleration == "none" else acceleration)
    assert solver.back_projector is not None
    result = chosen.solve(y, max_iter=5, ground_truth=truth)
    assert result.history["nrmse"][-1] < 0.8 * result.history["nrmse"][0]
    with pytest.raises(ValueError, match="acceleration"):
        plan(y, psf, "rl-wb", acceleration="nesterov", background=10, spacing=SPACING)
