"""Tiled deconvolution equals the untiled result, on every kind of input and scheduler.

Tolerances (relative RMS difference to the untiled result, 5 iterations, a
12x48x48 stack, measured; see docs/tiles.md for the benchmark at full size):
the Richardson–Lucy family, RL-TV, the least-squares iterations, the primal-dual
TV and the Wiener/Tikhonov/Laplacian filters agree within 1 % (measured 0.07 %
to 0.5 %); rl-wb within 4 % (measured 2.7 % at 5 and 10 iterations: its
unmatched back projector rings at each block's edge, so the voxels near a tile's
border differ while the quality is the same: the NRMSE of both to the truth agrees
within 0.001); the
ADMM methods within 2 % (measured 0.7 % and 1.2 %: residual balancing follows
each block's residuals, the starting penalties and level are the plan's); the
naive inverse filter, which amplifies noise without bound, within 20 %
(measured 16 %).
"""

import threading

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.methods import available, default_overlap, get, plan, tiling
from deconvkit.operators import extended_shape

SPACING = (0.3, 0.1, 0.1)
TOLERANCE = {"nif": 0.2, "rl-wb": 0.04, "admm-tv": 0.02, "admm-hessian": 0.02}


@pytest.fixture(scope="module")
def case():
    psf = dk.psf.gaussian((7, 13, 13), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    field = (12, 48, 48)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=5)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=6)
    return y, truth, psf


def _relative_rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


@pytest.mark.parametrize("method", list(available()))
def test_tiled_equals_untiled_for_every_method(case, method):
    y, truth, psf = case
    options = {"max_iter": 5} if get(method).iterative else {}
    whole = dk.deconvolve(y, psf, method, spacing=SPACING, background=10.0, **options)
    tiled = dk.deconvolve(y, psf, method, spacing=SPACING, background=10.0,
                          tile_shape=(12, 20, 20), **options)  # 3 x 3 tiles, edge ones smaller
    assert tiled.shape == whole.shape and tiled.dtype == whole.dtype
    assert _relative_rms(tiled, whole) <= TOLERANCE.get(method, 0.01)
    if method == "rl-wb":
        assert abs(dk.metrics.nrmse(tiled, truth) - dk.metrics.nrmse(whole, truth)) <= 0.01


@pytest.mark.parametrize("method", ["rl", "fista"])
def test_tiles_with_an_automatic_stop_all_run_one_count(case, method, caplog):
    """stop="auto" tiled: every tile runs the one count the whole image stops at (the
    brightest tile's discrepancy stop for rl, the plan's held-out iteration for fista,
    with no calibrating run), and the result matches the untiled run of that count: within
    1 % for rl, 2 % for fista (measured 0.1 %; 1.6 % for fista at its 10 iterations here and
    0.5 % at 5: its restarts follow each block's objective)."""
    y, _, psf = case
    common = dict(spacing=SPACING, background=10.0, stop="auto", max_iter=40)
    chosen = plan(y, psf, method, **common)
    whole = chosen.solve()
    with caplog.at_level("INFO", logger="deconvkit"):
        tiled = dk.deconvolve(y, psf, method, tile_shape=(12, 20, 20), **common)
    if method == "fista":
        assert chosen.held_out_iteration == whole.n_iter
        assert f"held-out iteration, {whole.n_iter}" in caplog.text
    else:
        assert "brightest tile stopped at iteration" in caplog.text
    fixed = dk.deconvolve(y, psf, method, spacing=SPACING, background=10.0,
                          max_iter=whole.n_iter if method == "fista" else _logged_count(caplog))
    assert _relative_rms(tiled, fixed) <= {"rl": 0.01, "fista": 0.02}[method]


def _logged_count(caplog):
    text = caplog.text.split("brightest tile stopped at iteration ")[1]
    return int(text.split(":")[0])


@pytest.mark.parametrize("method", ["admm-tv", "pd-tv"])
def test_a_tile_takes_the_whole_images_steps_and_start(case, method):
    """The penalties, steps and the margin's start level are plan constants, not a block's."""
    y, _, psf = case
    chosen = plan(y, psf, method, spacing=SPACING, background=10.0)
    region = (slice(0, 12), slice(0, 20), slice(0, 28))
    whole, tile = (chosen.method.build(chosen.problem(block, where), clip_negative=False,
                                       **chosen.own)
                   for block, where in ((y, None), (y[region], region)))
    if method == "admm-tv":
        # (ADMM's x-step is a whole-domain inverse filter: no voxel is local after one step)
        np.testing.assert_allclose(tile.rho, whole.rho, rtol=1e-12)
        return
    assert (tile.tau, tile.sigma, tile.scales) == (whole.tau, whole.sigma, whole.scales)
    first = chosen.solve(y, max_iter=1).x
    inside = (slice(None), slice(0, 6), slice(0, 14))  # far from the tile's cuts
    assert np.allclose(chosen.solve(y[region], region=region, max_iter=1).x[inside],
                       first[region][inside], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("tile_shape", [(5, 11, 11), (12, 13, 48), (7, 48, 17)])
def test_odd_counts_tiles_smaller_than_the_psf_and_edge_tiles(case, tile_shape):
    y, _, psf = case
    whole = dk.deconvolve(y, psf, "rl", max_iter=8, spacing=SPACING, background=10.0)
    tiled = dk.deconvolve(y, psf, "rl", max_iter=8, spacing=SPACING, background=10.0,
                          tile_shape=tile_shape)
    assert _relative_rms(tiled, whole) <= 0.01


def test_the_halo_holds_99_percent_of_the_psfs_energy_per_axis():
    psf = dk.methods.check_psf(dk.psf.gaussian((15, 31, 31), SPACING, na=1.2,
                                               wavelength=0.52, ni=1.33), 3)
    halo = default_overlap(psf)
    for axis, h in enumerate(halo):
        profile = psf.sum(axis=tuple(a for a in range(3) if a != axis))
        c = psf.shape[axis] // 2
        assert profile[c - h:c + h + 1].sum() >= 0.99 - 1e-6
        if h > 4:
            assert profile[c - h + 1:c + h].sum() < 0.99  # the smallest such window
    chosen = plan(np.ones((8, 40, 40), np.float32) + 1, psf, "wif")
    assert tiling(chosen, (8, 20, 20)).overlap == tuple(2 * h for h in halo)  # closed forms: 2x


def test_a_dask_array_in_gives_a_lazy_dask_array_out(case, monkeypatch):
    da = pytest.importorskip("dask.array")
    from deconvkit.methods import _tiles

    y, _, psf = case
    calls = []
    solve = _tiles._solve_tile
    monkeypatch.setattr(_tiles, "_solve_tile", lambda *a, **k: calls.append(1) or solve(*a, **k))
    lazy = da.from_array(y, chunks=(12, 24, 24))
    result = dk.deconvolve(lazy, psf, "rl", max_iter=4, spacing=SPACING, background=10.0,
                           tile_shape=(12, 24, 24))
    assert isinstance(result, da.Array)
    assert result.chunks == ((12,), (24, 24), (24, 24))
    assert not calls  # nothing solved until asked
    values = result.compute()
    assert len(calls) == 4
    expected = dk.deconvolve(y, psf, "rl", max_iter=4, spacing=SPACING, background=10.0,
                             tile_shape=(12, 24, 24))
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-5 * float(expected.max()))


def test_a_zarr_output_is_written_tile_by_tile_and_keeps_the_voxel_size(case, tmp_path):
    y, _, psf = case
    path = tmp_path / "out.ome.zarr"
    array = dk.io.create_zarr(path, y.shape, axes="ZYX", spacing=SPACING, chunks=(12, 24, 24))
    dk.deconvolve(y, psf, "rl", max_iter=4, spacing=SPACING, background=10.0,
                  tile_shape=(12, 24, 24), output=array)
    dk.io.publish_zarr(path)
    stored, meta = dk.io.open_zarr(path)
    assert meta.spacing == pytest.approx(SPACING) and meta.axes == "ZYX"
    expected = dk.deconvolve(y, psf, "rl", max_iter=4, spacing=SPACING, background=10.0,
                             tile_shape=(12, 24, 24))
    np.testing.assert_allclose(np.asarray(stored), expected, rtol=1e-6)
    assert not dk.io.partial_path(path).exists()


def test_a_zarr_input_is_read_tile_by_tile(case, tmp_path):
    zarr = pytest.importorskip("zarr")
    y, _, psf = case
    source = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=y.shape,
                             chunks=(12, 24, 24), dtype="float32")
    source[...] = y
    tiled = dk.deconvolve(source, psf, "rl", max_iter=4, spacing=SPACING, background=10.0,
                          tile_shape=(12, 24, 24))
    np.testing.assert_allclose(tiled, dk.deconvolve(y, psf, "rl", max_iter=4, spacing=SPACING,
                                                    background=10.0, tile_shape=(12, 24, 24)),
                               rtol=1e-6)


def test_an_interrupted_run_resumes_only_its_missing_tiles(case, tmp_path, monkeypatch):
    from deconvkit.methods import _tiles

    y, _, psf = case
    path = tmp_path / "out.ome.zarr"
    array = dk.io.create_zarr(path, y.shape, axes="ZYX", spacing=SPACING, chunks=(12, 16, 16))
    solve = _tiles._solve_tile
    solved = []
    lock = threading.Lock()

    def failing(*args, **kwargs):
        with lock:
            if len(solved) >= 4:
                raise KeyboardInterrupt("interrupted")
            solved.append(args[2])
        return solve(*args, **kwargs)

    monkeypatch.setattr(_tiles, "_solve_tile", failing)
    options = dict(max_iter=4, spacing=SPACING, background=10.0, tile_shape=(12, 16, 16))
    with pytest.raises(KeyboardInterrupt):
        dk.deconvolve(y, psf, "rl", output=array, concurrent=1, **options)
    done = set(dict(array.attrs)[_tiles.PROGRESS_KEY]["done"][""])
    assert 0 < len(done) <= 4
    with pytest.raises(ValueError, match="resume"):  # never silently mixed with a new run
        dk.deconvolve(y, psf, "rl", output=array, **options)
    with pytest.raises(ValueError, match="another run"):  # other parameters: refused
        dk.deconvolve(y, psf, "rl", output=array, resume=True, **{**options, "max_iter": 5})
    monkeypatch.setattr(_tiles, "_solve_tile", solve)
    counted = []
    monkeypatch.setattr(_tiles, "_solve_tile", lambda *a, **k: counted.append(1) or solve(*a, **k))
    dk.deconvolve(y, psf, "rl", output=array, resume=True, **options)
    assert len(counted) == 9 - len(done)
    expected = dk.deconvolve(y, psf, "rl", **options)
    np.testing.assert_allclose(np.asarray(array), expected, rtol=1e-6)


def test_a_local_cluster_gives_the_threaded_result(case):
    pytest.importorskip("distributed", reason="dask.distributed is the cluster extra")
    y, _, psf = case
    options = dict(max_iter=4, spacing=SPACING, background=10.0, tile_shape=(12, 24, 24))
    threaded = dk.deconvolve(y, psf, "rl", **options)
    clustered = dk.deconvolve(y, psf, "rl", workers=2, **options)
    np.testing.assert_allclose(clustered, threaded, rtol=1e-5, atol=1e-5 * float(threaded.max()))


def test_auto_tiles_fit_the_memory(case):
    y, _, psf = case
    chosen = plan(y, psf, "rl")
    budget = chosen.memory() // 3
    layout = tiling(chosen, "auto", memory=budget)
    assert len(layout) > 1
    assert chosen.memory(layout.largest_region()) <= budget
    assert layout.tile_shape[0] == y.shape[0]  # whole along Z first


@pytest.mark.parametrize("tile_shape, message", [
    ((0, 10, 10), "at least 1"),
    ((-4, 10, 10), "at least 1"),
    ((4.5, 10, 10), "whole numbers"),
    ((4, 10), "needs 3 values"),
    ("big", "'auto' or 3 whole numbers"),
])
def test_bad_tile_shapes_are_one_clear_line(case, tile_shape, message):
    y, _, psf = case
    with pytest.raises(ValueError, match=message):
        dk.deconvolve(y, psf, "rl", max_iter=2, tile_shape=tile_shape)


def test_a_budget_no_tile_fits_is_refused_with_the_need(case):
    y, _, psf = case
    chosen = plan(y, psf, "rl")
    with pytest.raises(ValueError, match="no tile fits"):
        tiling(chosen, "auto", memory=1000)


def test_a_bad_overlap_is_refused(case):
    y, _, psf = case
    with pytest.raises(ValueError, match="the overlap must be at least 0"):
        dk.deconvolve(y, psf, "rl", max_iter=2, tile_shape=(12, 24, 24), overlap=-1)


def test_an_unwritable_zarr_path_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        dk.io.create_zarr(blocker / "out.ome.zarr", (4, 8, 8), axes="ZYX", spacing=SPACING,
                          chunks=(4, 8, 8))
