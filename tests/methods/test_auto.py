"""lam="auto" for the closed-form filters: weighted GCV, decided once by the plan."""

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.methods import plan
from deconvkit.methods._auto import OMEGA, central_block, gcv_curve
from deconvkit.methods._problem import build_problem
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


@pytest.fixture(scope="module")
def filaments():
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    field = (16, 48, 48)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="filaments",
                              seed=3)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=4)
    return y, truth, psf


def test_the_half_spectrum_criterion_equals_the_dense_influence_matrix():
    """WGCV(λ) = N‖(I − A)y‖² / (N − ω tr A)², A = H (HᵀH + λLᵀL)⁻¹ Hᵀ, on 15 and 16 voxels.

    (Infinite where N − ω tr A ≤ 0, the undersmoothed side of the pole ω > 1 puts
    in the criterion: no minimum is taken there.)
    """
    rng = np.random.default_rng(0)
    for n in (15, 16):
        psf = np.exp(-0.5 * ((np.arange(7) - 3) / 1.3) ** 2)
        y = (20 + 5 * rng.standard_normal(n)).astype(np.float64)
        chosen = plan(y, psf, "rif", boundary="periodic", lam=0.1)
        problem = build_problem(y, chosen._psf(), boundary="periodic", background=0.0,
                                spacing=(1.0,), apodize=0, constants=chosen.constants)
        blur = problem.blur.todense()
        laplacian = dk.operators.Laplacian((n,), (1.0,), dtype=np.float64)
        lap = laplacian.todense() / laplacian.lipschitz
        for lam in (1e-3, 0.1, 3.0, 30.0):
            influence = blur @ np.linalg.solve(blur.T @ blur + lam * lap.T @ lap, blur.T)
            residual = y - influence @ y
            left = n - OMEGA * np.trace(influence)  # ≤ 0: beyond the criterion's pole
            dense = n * residual @ residual / left**2 if left > 0 else np.inf
            np.testing.assert_allclose(gcv_curve(problem, "laplacian", [lam])[0], dense,
                                       rtol=1e-6)


@pytest.mark.parametrize("method, weight", [("trif", "lam"), ("rif", "lam"), ("wif", "nsr")])
def test_auto_comes_within_3_percent_of_the_best_weight_on_a_grid(filaments, method, weight):
    y, truth, psf = filaments
    result = dk.methods.run(y, psf, method, spacing=SPACING, background=10.0,
                            ground_truth=truth, **{weight: "auto"})
    choice = result.parameters["auto_weight"]
    assert choice["parameter"] == weight and result.parameters[weight] == choice["value"]
    assert choice["criterion"] == "GCV" and not choice["at_edge"]
    assert len(choice["grid"]) == len(choice["scores"]) > 10
    errors = [dk.methods.run(y, psf, method, spacing=SPACING, background=10.0,
                             ground_truth=truth, **{weight: float(v)}).history["nrmse"][-1]
              for v in np.logspace(-5, 1, 25)]
    assert result.history["nrmse"][-1] <= 1.03 * min(errors)


def test_the_plan_chooses_once_and_every_tile_uses_the_choice(filaments):
    y, _, psf = filaments
    chosen = plan(y, psf, "rif", spacing=SPACING, background=10.0, lam="auto")
    value = chosen.values["lam"]
    assert isinstance(value, float) and value > 0
    assert any("cross-validation" in note for note in chosen.notes)
    whole = dk.deconvolve(y, psf, "rif", spacing=SPACING, background=10.0, lam=value)
    tiled = dk.deconvolve(y, psf, "rif", spacing=SPACING, background=10.0, lam="auto",
                          tile_shape=(16, 24, 24))
    assert np.sqrt(np.mean((tiled - whole) ** 2)) <= 0.01 * np.sqrt(np.mean(whole**2))


def test_a_large_image_is_judged_on_its_central_block():
    region = central_block((100, 2048, 2048), limit=2**24)
    sizes = [r.stop - r.start for r in region]
    assert np.prod(sizes) <= 2**24 and sizes[0] == 100
    assert all(r.start == (n - s) // 2 for r, n, s in zip(region, (100, 2048, 2048), sizes))


def test_a_flat_image_is_refused_in_one_line():
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    with pytest.raises(ValueError, match=r"lam='auto' needs structure.*give lam a number"):
        plan(np.full((8, 24, 24), 20.0, np.float32), psf, "trif", background=10.0, lam="auto")


def test_no_minimum_in_the_range_says_so_and_takes_its_end():
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    noise = np.random.default_rng(1).poisson(50.0, (12, 32, 32)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"no minimum in \[1e-07, 10\].*upper end"):
        chosen = plan(noise, psf, "rif", background=10.0, lam="auto")
    assert chosen.values["lam"] == 10.0 and chosen.weight_choice.at_edge


def test_auto_is_refused_where_no_criterion_exists():
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    with pytest.raises(ValueError, match=r"admm-tv: lam must be a number, got 'auto'"):
        plan(np.ones((8, 16, 16), np.float32), psf, "admm-tv", lam="auto")


def test_a_stack_thinner_than_the_psf_still_gets_a_weight():
    psf = dk.psf.gaussian((15, 31, 31), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    y = np.random.default_rng(0).poisson(50, (8, 64, 64)).astype(np.float32) + 10
    y[:, 20:40, 20:40] += 100
    chosen = plan(y, psf, "trif", background=10.0, lam="auto")
    assert 1e-7 < chosen.values["lam"] < 10 and chosen.solve(y).x.shape == y.shape
