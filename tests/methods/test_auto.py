"""lam="auto": weighted GCV for the closed-form filters, the discrepancy principle for the
iterative methods; decided once by the plan."""

import warnings

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.methods import plan
from deconvkit.methods._auto import (
    DISCREPANCY_GRID,
    OMEGA,
    central_block,
    choose_weight_by_discrepancy,
    gcv_curve,
)
from deconvkit.methods._problem import build_problem
from deconvkit.methods._stopping import expected_discrepancy
from deconvkit.operators import extended_shape
from deconvkit.solvers import Callback

SPACING = (0.2, 0.1, 0.1)


def _simulated(kind, field):
    """(data, truth, PSF): ``kind`` at 300 photons over a background of 10, Gaussian PSF."""
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind=kind, seed=3)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=4)
    return y, truth, psf


@pytest.fixture(scope="module")
def filaments():
    return _simulated("filaments", (16, 48, 48))


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
    with pytest.raises(ValueError, match=r"rl-wb: alpha must be a number, got 'auto'"):
        plan(np.ones((8, 16, 16), np.float32), psf, "rl-wb", alpha="auto")


def test_a_stack_thinner_than_the_psf_still_gets_a_weight():
    psf = dk.psf.gaussian((15, 31, 31), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    y = np.random.default_rng(0).poisson(50, (8, 64, 64)).astype(np.float32) + 10
    y[:, 20:40, 20:40] += 100
    chosen = plan(y, psf, "trif", background=10.0, lam="auto")
    assert 1e-7 < chosen.values["lam"] < 10 and chosen.solve(y).x.shape == y.shape


# -- the iterative methods: the discrepancy principle ---------------------------------------


def test_the_expected_discrepancy_is_the_poisson_mean_of_twice_the_kl():
    """E[2 KL(y, μ)] by Monte Carlo at a few counts, and 1 + 1/(6μ) + 1/(6μ²) far above."""
    rng = np.random.default_rng(0)
    for mu in (0.5, 2.0, 10.0, 80.0):
        y = rng.poisson(mu, 400_000).astype(np.float64)
        terms = 2 * (np.where(y > 0, y * np.log(np.maximum(y, 1) / mu), 0.0) - y + mu)
        sampled = terms.mean()
        assert abs(expected_discrepancy(np.array([mu])) - sampled) <= 4 * terms.std() / 632
    assert expected_discrepancy(np.array([5e3])) == pytest.approx(1 + 1 / 3e4 + 1 / 1.5e8)
    # at 10 photons the true model sits 1.9 % above 1: the reason for the correction
    assert expected_discrepancy(np.full(10, 10.0)) == pytest.approx(1.0188, abs=2e-4)


def test_the_search_finds_the_root_of_a_monotone_misfit_from_above():
    root = 3.7e-3
    calls = []

    def misfit(lam):
        calls.append(lam)
        return np.log10(lam / root)

    choice = choose_weight_by_discrepancy(misfit, "admm-tv", "poisson")
    assert choice.value <= root < choice.value * 10 ** (1 / 16) and not choice.at_edge
    assert calls[:4] == list(DISCREPANCY_GRID[:4])  # scanned from the smoothest end down
    assert choice.criterion == "Poisson discrepancy" and len(choice.grid) == len(calls)


def test_a_misfit_that_turns_up_at_small_weights_is_read_from_above():
    """Unconverged solvers fit worse again at tiny λ: the root below the top one is not taken."""
    def misfit(lam):
        return abs(np.log10(lam) + 3) - 0.5  # negative only on (10^-3.5, 10^-2.5)

    choice = choose_weight_by_discrepancy(misfit, "admm-hessian", "poisson")
    assert 10**-3 <= choice.value <= 10**-2.5


def test_no_weight_fitting_the_noise_says_so_and_takes_the_weakest():
    with pytest.warns(UserWarning, match=r"no weight in \[1e-05, 1\] fits the data.*weakest"):
        choice = choose_weight_by_discrepancy(lambda lam: 0.2 + (np.log10(lam) + 2) ** 2,
                                              "rltv", "poisson")
    assert choice.value == DISCREPANCY_GRID[-1] and choice.at_edge
    assert len(choice.grid) == len(DISCREPANCY_GRID)  # the whole range was tried
    with pytest.warns(UserWarning, match=r"even lam=1 fits"):
        choice = choose_weight_by_discrepancy(lambda lam: -1.0, "rltv", "gaussian")
    assert choice.value == 1.0 and choice.criterion == "Morozov discrepancy"


@pytest.fixture(scope="module")
def cytoplasm():
    return _simulated("cytoplasm", (12, 40, 40))


def test_an_iterative_weight_fits_the_data_to_its_noise_level(cytoplasm):
    """The chosen λ's estimate sits at the noise level: D/E − 1 changes sign across it."""
    y, truth, psf = cytoplasm
    chosen = plan(y, psf, "admm-tv", spacing=SPACING, background=10.0, lam="discrepancy",
                  max_iter=20)
    lam, choice = chosen.values["lam"], chosen.weight_choice
    assert choice.parameter == "lam" and choice.value == lam and not choice.at_edge
    assert any("lam='discrepancy': the Poisson discrepancy principle chose" in note
               for note in chosen.notes)
    block = chosen._block(y)
    assert chosen._misfit(block, None, lam) <= 0 < chosen._misfit(block, None, lam * 10 ** 0.25)
    result = chosen.solve(ground_truth=truth)
    assert result.parameters["auto_weight"]["criterion"] == "Poisson discrepancy"
    assert result.parameters["lam"] == lam
    # a weight of the right order: better than the default λ's estimate (0.01, too weak here)
    default = dk.methods.run(y, psf, "admm-tv", spacing=SPACING, background=10.0, max_iter=20,
                             ground_truth=truth)
    assert result.history["nrmse"][-1] < default.history["nrmse"][-1]


@pytest.mark.parametrize("method", ["rltv", "ictm", "fista", "pd-tv", "admm-hessian"])
def test_every_regularized_iterative_method_takes_auto(cytoplasm, method):
    y, _, psf = cytoplasm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an end of the range is allowed here
        chosen = plan(y, psf, method, spacing=SPACING, background=10.0, lam="discrepancy",
                      max_iter=5)
        auto = plan(y, psf, method, spacing=SPACING, background=10.0, lam="auto", max_iter=5)
    assert DISCREPANCY_GRID[-1] <= chosen.values["lam"] <= DISCREPANCY_GRID[0]
    criterion = "Poisson" if chosen.method.poisson(chosen.values) else "Morozov"
    assert chosen.weight_choice.criterion == f"{criterion} discrepancy"
    assert auto.weight_choice.criterion == "PURE"  # the default rule, for every method


def test_tiles_of_an_iterative_auto_weight_use_the_plans_choice(cytoplasm):
    """The search runs once, on the whole image: tiles solve with its λ, not their own."""
    y, _, psf = cytoplasm
    common = dict(spacing=SPACING, background=10.0, max_iter=8)
    chosen = plan(y, psf, "rltv", lam="discrepancy", **common)
    tiles = (12, 24, 24)
    automatic = dk.deconvolve(y, psf, "rltv", lam="discrepancy", tile_shape=tiles, **common)
    fixed = dk.deconvolve(y, psf, "rltv", lam=chosen.values["lam"], tile_shape=tiles, **common)
    np.testing.assert_array_equal(automatic, fixed)
    other = dk.deconvolve(y, psf, "rltv", lam=chosen.values["lam"] * 4, tile_shape=tiles,
                          **common)
    assert not np.array_equal(automatic, other)  # the weight does matter here


def test_the_search_callbacks_see_every_trial_solve_and_can_stop_the_search(cytoplasm):
    """``search_callbacks`` reach the trial solves (a user interface cancels through them)."""
    y, _, psf = cytoplasm
    common = dict(spacing=SPACING, background=10.0, lam="discrepancy", max_iter=4)

    class Count(Callback):
        def __init__(self):
            self.begun, self.steps = 0, 0

        def begin(self, state):
            self.begun += 1

        def step(self, state):
            self.steps += 1

    count = Count()
    chosen = plan(y, psf, "rltv", search_callbacks=[count], **common)
    assert count.begun == len(chosen.weight_choice.grid) and count.steps == 4 * count.begun

    class Stop(Callback):
        def step(self, state):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        plan(y, psf, "rltv", search_callbacks=[Stop()], **common)
    # a fixed weight has no search: the callbacks are never called
    plan(y, psf, "rltv", search_callbacks=[Stop()], **{**common, "lam": 0.01})
