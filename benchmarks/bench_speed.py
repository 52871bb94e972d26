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
each method (rl, rl-accelerated, rl-wb, rl-wb with either acceleration) reaches
along its history and the wall time to reach it; with a
``dw`` (deconwolf) binary on PATH (or ``--dw PATH``), part 3 too.

Part 3, against deconwolf, whole processes on the same TIFF files: deconwolf
(its default ``shb`` method, ``--float --bg B``) at 10, 25, 50, 100 and 200
iterations, each timed as a whole process and scored by NRMSE; its best of
those is the quality to reach. For rl-accelerated, rl-wb and rl-wb with
``acceleration=biggs-andrews`` or ``momentum``, the history (with the truth) gives
the first iteration at or below that NRMSE; then ``deconvkit deconvolve image.tif
psf.tif -m METHOD --iter K [--param acceleration=...]`` runs as a whole process, is
timed and scored the same way, and the ratio of the two times is printed. Each process's peak resident memory (its own ``ru_maxrss``, what GNU
time's ``%M`` reports) is printed beside its time, with that of a Python process
that only imports deconvkit's command line. Build deconwolf (GPL; it stays
outside this repository): clone https://github.com/elgw/deconwolf, ``apt-get
install libfftw3-dev libtiff-dev libgsl-dev libpng-dev``, ``cmake -DENABLE_GPU=OFF
-B build && make -C build``.

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


#: Parts 2 and 3: (method, its parameters, iterations run along the history).
RUNS = (("rl", {}, 150), ("rl-accelerated", {}, 60), ("rl-wb", {}, 40),
        ("rl-wb", {"acceleration": "biggs-andrews"}, 40),
        ("rl-wb", {"acceleration": "momentum"}, 40))


def label(method: str, options: dict) -> str:
    return " ".join([method, *(f"{k}={v}" for k, v in options.items())])


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


# Run by a small Python process, so that the command's peak is its own: Linux starts a
# forked child's ``ru_maxrss`` at its parent's resident size, which here would be the
# benchmark's gigabyte of arrays.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_process(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident memory in MiB) of ``command`` as a whole process.

    The peak is the process's own ``ru_maxrss`` (``os.wait4`` in a small launcher), the
    figure GNU time's ``%M`` reports: every page the process touched, an interpreter
    and its imports included.
    """
    import sys

    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True,
                          text=True)
    try:
        seconds, peak, code = done.stdout.split()
    except ValueError:
        code = "?"
    if done.returncode != 0 or code != "0":
        raise RuntimeError(f"{command[0]} failed ({code}): {done.stderr[-2000:]}")
    return float(seconds), int(peak) / 1024.0  # KiB on Linux


def run_deconwolf(binary, folder: Path, iterations, threads, background):
    """(image, whole-process seconds, peak MiB) of deconwolf on ``folder``'s image.tif and
    psf.tif."""
    import tifffile

    out = folder / f"dw_{iterations}.tif"
    seconds, peak = run_process([binary, "--iter", str(iterations), "--threads", str(threads),
                                 "--float", "--bg", str(background), "--overwrite", "--out",
                                 str(out), str(folder / "image.tif"), str(folder / "psf.tif")])
    return tifffile.imread(out), seconds, peak


def run_deconvkit_cli(folder: Path, method, iterations, threads, background, options=None):
    """(image, whole-process seconds, peak MiB) of the ``deconvkit deconvolve`` command."""
    import sys

    import tifffile

    options = options or {}
    out = folder / f"dk_{method}_{'_'.join(map(str, options.values()))}_{iterations}.tif"
    seconds, peak = run_process(
        [sys.executable, "-m", "deconvkit", "deconvolve", str(folder / "image.tif"),
         str(folder / "psf.tif"), "-m", method, "--iter", str(iterations),
         *(f"--param={k}={v}" for k, v in options.items()),
         "--background", str(background), "--threads", str(threads),
         "--spacing", *map(str, SPACING), "--dtype", "float32", "--overwrite",
         "-q", "-o", str(out)])
    return tifffile.imread(out), seconds, peak


def against_deconwolf(binary, case_field, case_psf, threads) -> None:
    """Part 3: time to deconwolf's best quality, whole processes."""
    import tifffile

    y, truth, psf, b = make_case(case_field, case_psf, seed=3)
    print(f"\n## Against deconwolf ({binary}): field {text(case_field)}, PSF "
          f"{text(case_psf)}, whole processes, NRMSE with the affine fit")
    print(f"{'run':28s} {'NRMSE':>8s} {'seconds':>8s} {'peak MiB':>9s}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        tifffile.imwrite(folder / "image.tif", y.astype(np.float32))
        tifffile.imwrite(folder / "psf.tif", psf.astype(np.float32))
        runs = []
        for iterations in (10, 25, 50, 100, 200):
            image, seconds, peak = run_deconwolf(binary, folder, iterations, threads, b)
            value = dk.metrics.nrmse(image, truth)
            runs.append((value, seconds, iterations, peak))
            print(f"{'deconwolf ' + str(iterations) + ' it':28s} {value:8.4f} {seconds:8.2f} "
                  f"{peak:9.0f}")
        target, dw_seconds, dw_iterations, dw_peak = min(runs)
        print(f"deconwolf's best of those: {target:.4f} ({dw_iterations} it) in "
              f"{dw_seconds:.2f} s, peak {dw_peak:.0f} MiB")
        import sys

        seconds, peak = run_process([sys.executable, "-c", "import deconvkit.cli"])
        runtime = "python, import deconvkit.cli"
        print(f"{runtime:28s} {'':8s} {seconds:8.2f} {peak:9.0f}")
        for method, options, _ in RUNS[1:]:
            with backend.fft_workers(threads):
                result = dk.methods.run(y, psf, method, max_iter=60, background=b,
                                        spacing=SPACING, ground_truth=truth, **options)
            # The history's NRMSE is the same affine-fitted metric; the command's
            # output is scored again below.
            reached = [i for i, v in zip(result.history["iteration"], result.history["nrmse"])
                       if i > 0 and v <= target]
            name = label(method, options)
            if not reached:
                print(f"{name} does not reach it in 60 iterations (its best: "
                      f"{min(result.history['nrmse']):.4f})")
                continue
            image, seconds, peak = run_deconvkit_cli(folder, method, reached[0], threads, b,
                                                     options)
            value = dk.metrics.nrmse(image, truth)
            print(f"{name + ' ' + str(reached[0]) + ' it':28s} {value:8.4f} "
                  f"{seconds:8.2f} {peak:9.0f}  {dw_seconds / seconds:.1f}x sooner, "
                  f"{peak / dw_peak:.2f}x the memory of deconwolf")


def per_iteration_table(field, psf_shape, threads) -> None:
    """Part 1: seconds per iteration against the FFT floor, and peak memory."""
    grid = extended_shape(field, psf_shape)
    print(f"\n## Per iteration: field {text(field)}, PSF {text(psf_shape)}, grid {text(grid)}")
    public, buffered = floor_pair(grid, threads)
    floor = 2 * public
    print(f"FFT pair (scipy rfftn + irfftn): {public * 1e3:.1f} ms; in the reused buffer: "
          f"{buffered * 1e3:.1f} ms; floor of an RL iteration (two scipy pairs): "
          f"{floor * 1e3:.1f} ms")
    y, truth, psf, b = make_case(field, psf_shape)
    print(f"{'method':16s} {'s/iter':>8s} {'x floor':>8s} {'x buffered floor':>17s} "
          f"{'peak MiB':>9s}")
    for method, iterations in (("rl", 10), ("rl-accelerated", 10), ("rl-wb", 3),
                               ("admm-tv", 10), ("admm-hessian", 10)):
        seconds, peak, _ = per_iteration(y, psf, b, method, iterations, threads)
        print(f"{method:16s} {seconds:8.3f} {seconds / floor:8.2f} {seconds / (2 * buffered):17.2f} "
              f"{peak:9.0f}")


def time_to_best_table(case_field, case_psf, threads) -> None:
    """Part 2: the best NRMSE along each method's history and the time to it."""
    y, truth, psf, b = make_case(case_field, case_psf, seed=3)
    raw = dk.metrics.nrmse(y, truth)
    print(f"\n## Time to the best: field {text(case_field)}, PSF {text(case_psf)} "
          f"(raw NRMSE {raw:.4f})")
    print(f"{'method':28s} {'best NRMSE':>10s} {'at iter':>8s} {'seconds to best':>16s}")
    for method, options, iterations in RUNS:
        with backend.fft_workers(threads):
            result = dk.methods.run(y, psf, method, max_iter=iterations, background=b,
                                    spacing=SPACING, ground_truth=truth, **options)
        value, iteration, seconds = time_to_best(result)
        print(f"{label(method, options):28s} {value:10.4f} {iteration:8d} {seconds:16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-quality", action="store_true", help="part 1 only")
    parser.add_argument("--dw", default=shutil.which("dw"),
                        help="deconwolf's binary for part 3 (default: `dw` on PATH)")
    parser.add_argument("--part", type=int, nargs="+", default=(1, 2, 3),
                        help="which parts to run (default: all)")
    args = parser.parse_args()
    field, psf_shape = ((32, 128, 128), (31, 63, 63)) if args.quick else \
        ((64, 256, 256), (63, 127, 127))
    print(f"deconvkit {dk.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{platform.processor() or platform.machine()}, {args.threads} threads, "
          f"fused kernels: {backend.kernels.fused_available()}")
    parts = {1} if args.no_quality else set(args.part)
    if 1 in parts:
        per_iteration_table(field, psf_shape, args.threads)
    cases = [((32, 128, 128), (31, 63, 63))] + ([] if args.quick else [(field, psf_shape)])
    if 2 in parts:
        for case_field, case_psf in cases:
            time_to_best_table(case_field, case_psf, args.threads)
    if 3 in parts:
        if args.dw is None:
            print("\ndeconwolf: no `dw` on PATH and no --dw (see the docstring to build it)")
            return
        for case_field, case_psf in cases:
            against_deconwolf(args.dw, case_field, case_psf, args.threads)


if __name__ == "__main__":
    main()
