"""The plan: decisions made once from the whole image, validation once, and what it refuses."""

import warnings

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.methods import available, get, plan, run

SPACING = (0.3, 0.1, 0.1)


@pytest.fixture(scope="module")
def case():
    psf = dk.psf.gaussian((7, 13, 13), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom((18, 52, 52), SPACING, kind="beads", seed=3)
    y, truth = dk.simulate.observe(obj, psf, field_shape=(12, 40, 40), photons=300,
                                   background=20, seed=4)
    return y, truth, psf


def test_the_plan_fixes_the_whole_images_numbers(case):
    y, _, psf = case
    chosen = plan(y, psf, "rl", background="auto", spacing=SPACING)
    b = float(np.percentile(y, 1))
    assert chosen.background == pytest.approx(b)
    assert any("background estimated" in note for note in chosen.notes)
    c = chosen.constants
    assert c.data_max == pytest.approx(float(y.max()))
    assert c.data_scale == pytest.approx(float(np.mean(y - b)), rel=1e-5)
    assert c.flat_level == pytest.approx(float(np.mean(np.maximum(y - b, 0))), rel=1e-5)
    assert c.data_mean == pytest.approx(float(np.mean(np.maximum(y, 0))), rel=1e-5)
    # a tile uses the plan's numbers, not its own
    tile = y[:, :20, :20]
    assert chosen.problem(tile, (slice(None), slice(0, 20), slice(0, 20))).constants == c


def test_closed_forms_say_they_run_on_the_reflect_domain(case):
    y, _, psf = case
    chosen = plan(y, psf, "wif", spacing=SPACING)
    assert chosen.boundary == "reflect"
    assert any("reflect" in note for note in chosen.notes)
    assert run(y, psf, "wif", spacing=SPACING).parameters["boundary_used"] == "reflect"


@pytest.mark.parametrize("params, message", [
    ({"background": 1e6}, "at or above the data's maximum"),
    ({"apodize": 4}, "apodize blends the edges of a periodic model"),
    ({"max_iter": float("inf")}, "max_iter must be a finite number"),
    ({"max_iter": float("nan")}, "max_iter must be a finite number"),
])
def test_refusals_name_the_problem(case, params, message):
    y, _, psf = case
    with pytest.raises(ValueError, match=message):
        plan(y, psf, "rl", **params)


@pytest.mark.parametrize("method, params, message", [
    ("trif", {"lam": 0.0}, r"lam must lie in \(0, inf\)"),
    ("wif", {"nsr": 0.0}, r"nsr must lie in \(0, inf\)"),
    ("rif", {"lam": 0.0}, r"lam must lie in \(0, inf\)"),
    ("nif", {"epsilon": 1.0}, r"epsilon must lie in \(0, 1\)"),
    ("rltv", {"lam": float("nan")}, "lam must be a finite number"),
])
def test_documented_ranges_are_exactly_the_accepted_ones(case, method, params, message):
    y, _, psf = case
    with pytest.raises(ValueError, match=message):
        plan(y, psf, method, **params)


def test_every_printed_range_is_enforced_at_its_ends():
    for name, spec in available().items():
        for parameter in spec.all_parameters:
            if parameter.range is None or parameter.type not in (int, float):
                continue
            low, high = parameter.range
            assert parameter.interval() in parameter.describe()
            for end, is_open in ((low, parameter.open[0]), (high, parameter.open[1])):
                if end is None:
                    continue
                if is_open:
                    with pytest.raises(ValueError, match="must lie in"):
                        parameter.validate(parameter.type(end), name)
                else:
                    assert parameter.validate(parameter.type(end), name) == end


def test_nif_that_keeps_almost_no_frequency_says_so(case):
    y, _, psf = case
    with pytest.warns(UserWarning, match="nearly flat"):
        run(y, psf, "nif", epsilon=0.9999999)  # only the mean passes


def test_negative_counts_are_refused_once_for_poisson_methods(case):
    y, _, psf = case
    data = y - 30.0
    with pytest.raises(ValueError, match=r"rl: the data has \d+ negative voxels"):
        plan(data, psf, "rl")
    assert plan(data, psf, "rl", clip_negative=True).constants.negative > 0
    plan(data, psf, "lw")  # least squares takes them


def test_an_even_psf_peaking_before_its_centre_is_recentred_not_shifting_the_result():
    psf = dk.psf.gaussian((7, 13, 13), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    even = np.zeros((8, 14, 14), np.float32)
    even[:7, :13, :13] = psf  # the peak at (3, 6, 6): one voxel before 8 // 2, 14 // 2
    image = np.full((12, 32, 32), 5.0, np.float32)
    image[6, 16, 16] = 500.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shifted = dk.deconvolve(image, even, "rl", max_iter=30, spacing=SPACING)
    assert any("recentred" in str(w.message) for w in caught)
    centred = dk.deconvolve(image, psf, "rl", max_iter=30, spacing=SPACING)
    assert np.unravel_index(np.argmax(shifted), shifted.shape) == (6, 16, 16)
    np.testing.assert_allclose(shifted, centred, atol=1e-3 * float(centred.max()))


def test_keep_best_returns_the_iterate_of_the_best_nrmse(case):
    y, truth, psf = case
    result = run(y, psf, "rl", max_iter=40, ground_truth=truth, keep="best", background=20.0,
                 spacing=SPACING)
    iteration, value = result.best("nrmse")
    assert result.best_x is not None and result.best_x.shape == y.shape
    assert dk.metrics.nrmse(result.best_x, truth) == pytest.approx(value, rel=1e-6)
    assert value <= dk.metrics.nrmse(result.x, truth) + 1e-12
    assert run(y, psf, "rl", max_iter=3).best_x is None  # no truth, nothing kept


def test_solve_takes_a_block_and_its_region_of_a_background_map(case):
    y, _, psf = case
    background = np.full(y.shape, 20.0, np.float32)
    chosen = plan(y, psf, "rl", background=background, max_iter=5)
    region = (slice(None), slice(4, 30), slice(0, 26))
    part = chosen.solve(y[region], region=region)
    direct = run(y[region], psf, "rl", background=background[region], max_iter=5)
    assert part.x.shape == y[region].shape
    np.testing.assert_allclose(part.x, direct.x, rtol=1e-3, atol=1e-3 * float(direct.x.max()))


def test_the_memory_of_a_block_is_the_methods_estimate(case):
    y, _, psf = case
    chosen = plan(y, psf, "admm-tv")
    assert chosen.memory() == dk.methods.memory_estimate(y.shape, chosen.psf.shape, "admm-tv")
    assert chosen.memory((6, 20, 20)) < chosen.memory()


def test_every_method_has_its_plan(case):
    y, _, psf = case
    for name in available():
        chosen = plan(y, psf, name, spacing=SPACING)
        assert chosen.record["method"] == get(name).name


@pytest.mark.parametrize("method", ["admm-tv", "admm-hessian"])
def test_the_admm_methods_return_a_non_negative_estimate(case, method):
    """Documented x ≥ 0: the estimate is the constraint's split variable, not the x-update."""
    y, _, psf = case
    x = dk.deconvolve(y, psf, method, spacing=SPACING, background=20.0, max_iter=15)
    assert float(x.min()) >= 0.0 and float(x.max()) > 0.0


def test_the_image_is_checked_once_at_the_plans_edge(case, monkeypatch):
    from deconvkit.methods import _plan, _problem, _validate

    calls = []
    original = _validate.check_image

    def counted(image, *args, **kwargs):
        calls.append(getattr(image, "shape", None))
        return original(image, *args, **kwargs)

    for module in (_plan, _problem, _validate):
        monkeypatch.setattr(module, "check_image", counted, raising=False)
    y, _, psf = case
    dk.deconvolve(y, psf, "rl", spacing=SPACING, background=20.0, max_iter=2)
    dk.deconvolve(y, psf, "rl", spacing=SPACING, background=20.0, max_iter=2,
                  tile_shape=(y.shape[0], y.shape[1] // 2, y.shape[2] // 2))
    assert calls == [y.shape, y.shape]  # once per call, whatever the number of blocks
