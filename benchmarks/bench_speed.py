"""RL at the FFT floor, and the best image in a handful of iterations.

Run: python benchmarks/bench_speed.py [--quick] [--threads N] [--no-quality]

Part 1, per iteration, on the 64x256x256 stack with a 63x127x127 PSF (the
extended grid 128x384x384; ``--quick``: 32x128x128 with 31x63x63), in one
process: the floor (one ``scipy.fft.rfftn`` + ``irfftn`` pair on the grid, as
the issue defines it, and the same pair in deconvkit's reused in-place buffer),
then seconds per iteration of rl, rl-accelerated, rl-wb, admm-tv and
admm-hessian through ``deconvkit.methods.run`` at their defaults (the history's
times, set-up excluded), each as a ratio to two pairs (RL's two blurs), and
the tracemalloc peak of RL and rl-accelerated.

Part 2, per image: on 32x128x128 and 64x256x256 simulated stacks (mixed
phantom, vectorial PSF NA 1.3 oil, 300 photons, background 10), the best NRMSE
each method reaches along its history and the wall time to reach it; with a
``dw`` (deconwolf) binary on PATH, deconwolf's 50 iterations on the same stack
too, scored the same way (build: ``git clone https://github.com/elgw/deconwolf``,
``apt-get install libfftw3-dev libtiff-dev libgsl-dev``, ``make -C deconwolf``;
deconwolf reads TIFF: this script writes the stack and PSF to a temporary folder
and runs ``dw --iter N --out out.tif image.tif psf.tif``).

Timings are one run each on a shared machine: indicative, not exact.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy
import scipy.fft

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)
MiB = 2.0**20


def text(shape) -> str:
    return "x".join(map(str, shape))


def floor_pair(shape, threads: int, repeat: int = 5) -> tuple[float, float]:
    """Seconds of one scipy rfftn+irfftn pair, and of one pair in the reused buffer."""
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    scipy.fft.irfftn(scipy.fft.rfftn(x, workers=threads), s=shape, workers=threads)
    start = time.perf_counter()
    for _ in range(repeat):
        scipy.fft.irfftn(scipy.fft.rfftn(x, workers=threads), s=shape, workers=threads)
    public = (time.perf_counter() - start) / repeat
    plan = backend.RealFFT(shape, np.float32)
    with backend.fft_workers(threads):
        plan.forward(x)
        plan.inverse()
        start = time.perf_counter()
        for _ in range(repeat):
            plan.forward(x)
            plan.inverse()
    return public, (time.perf_counter() - start) / repeat


def make_case(field, psf_shape, seed=0, photons=300.0, background=10.0):
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=seed)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                   background=background, seed=seed + 1)
    return y, truth, psf, background


def per_iteration(y, psf, background, method, iterations, threads, truth=None):
    """(seconds per iteration, tracemalloc peak MiB, result) of a method run."""
    with backend.fft_workers(threads):
        dk.methods.run(y, psf, method, max_iter=1, background=background, spacing=SPACING)
        tracemalloc.start()
        result = dk.methods.run(y, psf, method, max_iter=iterations, background=background,
                                spacing=SPACING, ground_truth=truth)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    times = result.history["time"]
    return (times[-1] - times[0]) / max(1, result.n_iter), peak / MiB, result


def time_to_best(result) -> tuple[float, int, float]:
    iteration, value = result.best("nrmse")
    row = result.history["iteration"].index(iteration)
    return value, iteration, result.history["time"][row]


def run_deconwolf(y, psf, iterations, threads):
    binary = shutil.which("dw")
    if binary is None:
        return None
    import tifffile

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        tifffile.imwrite(folder / "image.tif", y.astype(np.float32))
        tifffile.imwrite(folder / "psf.tif", psf.astype(np.float32))
        start = time.perf_counter()
        subprocess.run([binary, "--iter", str(iterations), "--threads", str(threads),
                        "--out", str(folder / "out.tif"), str(folder / "image.tif"),
                        str(folder / "psf.tif")], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        return tifffile.imread(folder / "out.tif"), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-quality", action="store_true", help="part 1 only")
    args = parser.parse_args()
    field, psf_shape = ((32, 128, 128), (31, 63, 63)) if args.quick else \
        ((64, 256, 256), (63, 127, 127))
    grid = extended_shape(field, psf_shape)
    print(f"deconvkit {dk.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{platform.processor() or platform.machine()}, {args.threads} threads, "
          f"fused kernels: {backend.kernels.fused_available()}")
    print(f"\n## Per iteration: field {text(field)}, PSF {text(psf_shape)}, grid {text(grid)}")
    public, buffered = floor_pair(grid, args.threads)
    floor = 2 * public
    print(f"FFT pair (scipy rfftn + irfftn): {public * 1e3:.1f} ms; in the reused buffer: "
          f"{buffered * 1e3:.1f} ms; floor of an RL iteration (two scipy pairs): "
          f"{floor * 1e3:.1f} ms")
    y, truth, psf, b = make_case(field, psf_shape)
    print(f"{'method':16s} {'s/iter':>8s} {'x floor':>8s} {'x buffered floor':>17s} "
          f"{'peak MiB':>9s}")
    for method, iterations in (("rl", 10), ("rl-accelerated", 10), ("rl-wb", 3),
                               ("admm-tv", 3), ("admm-hessian", 3)):
        seconds, peak, _ = per_iteration(y, psf, b, method, iterations, args.threads)
        print(f"{method:16s} {seconds:8.3f} {seconds / floor:8.2f} {seconds / (2 * buffered):17.2f} "
              f"{peak:9.0f}")
    if args.no_quality:
        return
    cases = [((32, 128, 128), (31, 63, 63))] + ([] if args.quick else [(field, psf_shape)])
    for case_field, case_psf in cases:
        y, truth, psf, b = make_case(case_field, case_psf, seed=3)
        raw = dk.metrics.nrmse(y, truth)
        print(f"\n## Time to the best: field {text(case_field)}, PSF {text(case_psf)} "
              f"(raw NRMSE {raw:.4f})")
        print(f"{'method':16s} {'best NRMSE':>10s} {'at iter':>8s} {'seconds to best':>16s}")
        for method, iterations in (("rl", 150), ("rl-accelerated", 40), ("rl-wb", 10)):
            with backend.fft_workers(args.threads):
                result = dk.methods.run(y, psf, method, max_iter=iterations, background=b,
                                        spacing=SPACING, ground_truth=truth)
            value, iteration, seconds = time_to_best(result)
            print(f"{method:16s} {value:10.4f} {iteration:8d} {seconds:16.2f}")
        found = run_deconwolf(y, psf, 50, args.threads)
        if found is None:
            print("deconwolf: no `dw` on PATH (see the docstring to build it)")
        else:
            image, seconds = found
            print(f"{'deconwolf 50 it':16s} {dk.metrics.nrmse(image, truth):10.4f} {50:8d} "
                  f"{seconds:16.2f} (whole process)")


if __name__ == "__main__":
    main()
