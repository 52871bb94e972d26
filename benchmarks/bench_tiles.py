"""Tiled deconvolution: seam error, memory, throughput, and a 200x2048x2048 stack on disk.

Run: python benchmarks/bench_tiles.py [--quick] [--part a b c d] [--folder DIR]

(a) Seam error: RL (30 iterations) tiled against untiled on a 64x512x512
    simulated stack (mixed phantom, widefield Gaussian PSF 31x63x63, 300
    photons), for several overlaps: the relative RMS difference, the largest
    difference within 2 voxels of an inner tile border (relative to the
    result's maximum), and both NRMSEs against the truth.
(b) Peak memory against the tile shape (tracemalloc, one tile at a time): it
    follows the tile, not the volume.
(c) Throughput, voxels of the volume per second: untiled, tiled with 1 and 2
    tiles at once on dask's threads, and on a 2-worker LocalCluster.
(d) A 200x2048x2048 uint16 stack written to disk as OME-Zarr chunk by chunk
    (never held in memory), deconvolved with 30 RL iterations into an OME-Zarr
    output by the command line in a subprocess: wall time, the subprocess's
    peak resident memory, and the time the untiled per-voxel rate of (c) would
    give for the volume.

``--quick`` shrinks every part (a 32x192x192 stack, (d) at 40x512x512).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import deconvkit as dk
from deconvkit.methods import default_overlap, plan, tiling
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)
MiB = 2.0**20


def make_case(field, psf_shape, seed=0):
    psf = dk.psf.gaussian(psf_shape, SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=seed)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=seed + 1)
    return y, truth, psf


def border_error(tiled, whole, layout) -> float:
    """Largest |tiled − whole| within 2 voxels of an inner tile border, over max |whole|."""
    mask = np.zeros(whole.shape, bool)
    for axis, (n, t) in enumerate(zip(whole.shape, layout.tile_shape)):
        for edge in range(t, n, t):
            index = [slice(None)] * whole.ndim
            index[axis] = slice(max(0, edge - 2), min(n, edge + 2))
            mask[tuple(index)] = True
    if not mask.any():
        return 0.0
    return float(np.abs(tiled - whole)[mask].max() / np.abs(whole).max())


def part_a(y, truth, psf, iterations, tile):
    print(f"\n## (a) Seam error: RL {iterations} iterations, {'x'.join(map(str, y.shape))}, "
          f"tiles {'x'.join(map(str, tile))}")
    whole = dk.deconvolve(y, psf, "rl", max_iter=iterations, background=10.0, spacing=SPACING)
    chosen = plan(y, psf, "rl", max_iter=iterations, background=10.0, spacing=SPACING)
    halo = default_overlap(chosen.psf)
    print(f"default halo {halo}; untiled NRMSE {dk.metrics.nrmse(whole, truth):.4f}")
    print(f"{'overlap':>14s} {'rel. RMS':>9s} {'max at borders':>15s} {'NRMSE tiled':>12s} "
          f"{'dNRMSE':>8s}")
    for scale in (0.0, 0.5, 1.0, 2.0):
        overlap = tuple(int(round(scale * h)) for h in halo)
        layout = tiling(chosen, tile, overlap)
        tiled = dk.methods.solve_tiled(chosen, y, layout)
        rms = float(np.sqrt(np.mean((tiled - whole) ** 2)) / np.sqrt(np.mean(whole**2)))
        error = dk.metrics.nrmse(tiled, truth)
        label = f"{scale:g}x {'x'.join(map(str, overlap))}"
        print(f"{label:>14s} {rms:9.2e} {border_error(tiled, whole, layout):15.2e} "
              f"{error:12.4f} {error - dk.metrics.nrmse(whole, truth):+8.4f}")
    return whole


def part_b(y, psf, iterations):
    print(f"\n## (b) Peak memory (tracemalloc, one tile at a time) against the tile shape")
    chosen = plan(y, psf, "rl", max_iter=iterations, background=10.0, spacing=SPACING)
    print(f"{'tile':>14s} {'tiles':>6s} {'peak MiB':>9s} {'estimate MiB':>13s}")
    tracemalloc.start()
    dk.deconvolve(y[:, :64, :64], psf, "rl", max_iter=1, background=10.0)  # compile
    tracemalloc.stop()
    for tile in [None, (y.shape[0], y.shape[1] // 2, y.shape[2] // 2),
                 (y.shape[0], y.shape[1] // 4, y.shape[2] // 4),
                 (y.shape[0] // 2, y.shape[1] // 4, y.shape[2] // 4)]:
        gc.collect()
        tracemalloc.start()
        if tile is None:
            chosen.solve()
            count, estimate = 1, chosen.memory()
        else:
            layout = tiling(chosen, tile)
            dk.methods.solve_tiled(chosen, y, layout, concurrent=1)
            count, estimate = len(layout), chosen.memory(layout.largest_region())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        label = "whole" if tile is None else "x".join(map(str, tile))
        print(f"{label:>14s} {count:6d} {peak / MiB:9.0f} {estimate / MiB:13.0f}")


def part_c(y, psf, iterations, tile):
    print(f"\n## (c) Throughput: RL {iterations} iterations on {'x'.join(map(str, y.shape))}")
    chosen = plan(y, psf, "rl", max_iter=iterations, background=10.0, spacing=SPACING)
    layout = tiling(chosen, tile)
    runs = [("untiled", lambda: chosen.solve()),
            ("tiled, 1 at once", lambda: dk.methods.solve_tiled(chosen, y, layout, concurrent=1)),
            ("tiled, 2 at once", lambda: dk.methods.solve_tiled(chosen, y, layout, concurrent=2))]
    try:
        import distributed  # noqa: F401

        runs.append(("LocalCluster, 2 workers",
                     lambda: dk.methods.solve_tiled(chosen, y, layout, workers=2)))
    except ImportError:
        pass
    rates = {}
    for label, run in runs:
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        rates[label] = y.size / seconds
        print(f"{label:>24s}: {seconds:7.1f} s, {y.size / seconds / 1e6:7.2f} M voxels/s "
              f"({seconds / iterations / y.size * 1e9:.1f} ns per voxel per iteration)")
    return rates["untiled"]


def write_big_stack(path: Path, shape, chunks) -> None:
    """A uint16 OME-Zarr stack, written chunk by chunk from a seeded generator."""
    array = dk.io.create_zarr(path, shape, axes="ZYX", spacing=SPACING, chunks=chunks,
                              dtype="uint16")
    rng = np.random.default_rng(0)
    zz = np.arange(shape[0])[:, None, None]
    for z0 in range(0, shape[0], chunks[0]):
        for y0 in range(0, shape[1], chunks[1]):
            for x0 in range(0, shape[2], chunks[2]):
                block = tuple(slice(a, min(a + c, n))
                              for a, c, n in zip((z0, y0, x0), chunks, shape))
                sub = [s.stop - s.start for s in block]
                yy = np.arange(block[1].start, block[1].stop)[None, :, None]
                xx = np.arange(block[2].start, block[2].stop)[None, None, :]
                mean = 100 + 40 * np.sin(yy / 37.0) * np.cos(xx / 23.0) * np.cos(
                    zz[block[0]] / 11.0) ** 2
                array[block] = rng.poisson(np.broadcast_to(mean, sub)).astype(np.uint16)
    dk.io.publish_zarr(path)


def part_d(folder: Path, shape, tile, iterations, untiled_rate: float | None):
    print(f"\n## (d) {'x'.join(map(str, shape))} uint16 on disk (OME-Zarr), RL {iterations} "
          f"iterations, tiles {'x'.join(map(str, tile))}")
    source, output = folder / "big.ome.zarr", folder / "big_rl.ome.zarr"
    for path in (source, output, dk.io.partial_path(output)):
        shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    write_big_stack(source, shape, (shape[0], 256, 256) if shape[1] >= 256 else shape)
    print(f"written in {time.perf_counter() - start:.0f} s "
          f"({math.prod(shape) * 2 / 1e9:.2f} GB uint16)")
    psf = dk.psf.gaussian((31, 63, 63), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    dk.io.write(folder / "psf.tif", psf, spacing=SPACING, overwrite=True)
    command = [sys.executable, "-m", "deconvkit", "deconvolve", str(source),
               str(folder / "psf.tif"), "--iter", str(iterations), "--background", "100",
               "--tile-shape", ",".join(map(str, tile)), "-o", str(output), "-q"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"deconvolved in {seconds:.0f} s, peak resident memory {peak / 1e9:.2f} GB")
    if untiled_rate:
        expected = math.prod(shape) / untiled_rate * iterations
        print(f"the untiled rate of (c) would take {expected:.0f} s for this volume: "
              f"ratio {seconds / expected:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", nargs="+", default=["a", "b", "c", "d"])
    parser.add_argument("--folder", type=Path, default=None,
                        help="where (d) writes its stacks (default: a temporary folder)")
    args = parser.parse_args()
    field = (32, 192, 192) if args.quick else (64, 512, 512)
    tile = (field[0], field[1] // 4, field[2] // 4)
    iterations = 10 if args.quick else 30
    print(f"deconvkit {dk.__version__}, {os.cpu_count()} cores")
    y, truth, psf = make_case(field, (31, 63, 63))
    rate = None
    if "a" in args.part:
        part_a(y, truth, psf, iterations, tile)
    if "b" in args.part:
        part_b(y, psf, iterations)
    if "c" in args.part:
        rate = part_c(y, psf, iterations, tile) * iterations  # voxels x iterations per second
    if "d" in args.part:
        big = (40, 512, 512) if args.quick else (200, 2048, 2048)
        big_tile = (big[0], 512, 512) if not args.quick else (big[0], 256, 256)
        if args.folder is None:
            with tempfile.TemporaryDirectory() as folder:
                part_d(Path(folder), big, big_tile, iterations, rate)
        else:
            args.folder.mkdir(parents=True, exist_ok=True)
            part_d(args.folder, big, big_tile, iterations, rate)


if __name__ == "__main__":
    main()
