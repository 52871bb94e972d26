"""Per-iteration speed on a GPU (CuPy) against its FFT floor and against the CPU path.

Run: python benchmarks/bench_gpu.py [--backend cupy|numpy] [--quick] [--cpu-iterations N]

The 64x256x256 stack with a 63x127x127 PSF on the extended domain (grid
128x384x384; ``--quick``: 32x128x128 with 31x63x63). Printed, on the chosen
backend: ms per rfftn+irfftn pair on the grid (the floor), then for rl,
rl-accelerated, rl-wb, admm-tv and admm-hessian the ms per iteration (the
history's times, the device synchronised at every recorded row), the ratio to
two pairs (RL's two blurs), the ns per voxel per iteration, and the speed-up
over the CPU path measured in the same run (``--cpu-iterations`` iterations on
NumPy, 0 to skip). Targets of the speed issue: RL at most 1.3x the GPU FFT
floor and 2 ms per iteration on one H200; admm-hessian at most 10x RL.

On a machine without a GPU, ``--backend numpy`` runs the same script on the
CPU (that is how it is tested).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)
METHODS = (("rl", 20), ("rl-accelerated", 20), ("rl-wb", 5), ("admm-tv", 5), ("admm-hessian", 3))


def device_name(where: str) -> str:
    if where == "cupy":
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    return platform.processor() or platform.machine()


def fft_floor(shape, where: str, repeat: int = 20) -> float:
    """Seconds of one rfftn + irfftn pair on ``where`` (the device synchronised)."""
    x = backend.to_backend(np.random.default_rng(0).random(shape, dtype=np.float32), where)
    axes = tuple(range(len(shape)))
    backend.irfftn(backend.rfftn(x, axes), shape, axes)
    backend.synchronize(x)
    start = time.perf_counter()
    for _ in range(repeat):
        backend.irfftn(backend.rfftn(x, axes), shape, axes)
    backend.synchronize(x)
    return (time.perf_counter() - start) / repeat


def seconds_per_iteration(image, psf, method: str, iterations: int, where: str) -> float:
    data = backend.to_backend(image, where)
    dk.methods.run(data, psf, method, max_iter=1, spacing=SPACING, background=10.0)  # warm-up
    backend.synchronize(data)
    result = dk.methods.run(data, psf, method, max_iter=iterations, spacing=SPACING,
                            background=10.0, record_every=iterations)
    backend.synchronize(data)
    times = result.history["time"]
    return (times[-1] - times[0]) / max(1, result.n_iter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cupy", choices=("cupy", "numpy"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpu-iterations", type=int, default=3)
    args = parser.parse_args()
    where = backend.resolve_backend(args.backend)
    field, psf_shape = ((32, 128, 128), (31, 63, 63)) if args.quick else \
        ((64, 256, 256), (63, 127, 127))
    grid = extended_shape(field, psf_shape)
    voxels = math.prod(grid)
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(grid, SPACING, kind="mixed", seed=0)
    image, _ = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=1)
    print(f"deconvkit {dk.__version__} on {where}: {device_name(where)}; host "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"field {'x'.join(map(str, field))}, PSF {'x'.join(map(str, psf_shape))}, grid "
          f"{'x'.join(map(str, grid))} ({voxels / 1e6:.1f} M voxels)")
    floor = fft_floor(grid, where)
    print(f"FFT pair (rfftn + irfftn): {floor * 1e3:.2f} ms; RL floor (two pairs): "
          f"{2 * floor * 1e3:.2f} ms")
    print(f"{'method':16s} {'ms/iter':>9s} {'x floor':>8s} {'ns/voxel':>9s} {'CPU ms/iter':>12s} "
          f"{'speed-up':>9s}")
    rl = None
    for method, iterations in METHODS:
        seconds = seconds_per_iteration(image, psf, method, iterations, where)
        cpu = math.nan
        if args.cpu_iterations and where != "numpy":
            cpu = seconds_per_iteration(image, psf, method, args.cpu_iterations, "numpy")
        rl = seconds if method == "rl" else rl
        print(f"{method:16s} {seconds * 1e3:9.2f} {seconds / (2 * floor):8.2f} "
              f"{seconds / voxels * 1e9:9.3f} {cpu * 1e3:12.1f} {cpu / seconds:9.1f}")
    print(f"admm-hessian / rl: see the rows above; targets: RL <= 1.3x floor and <= 2 ms "
          f"(H200), admm-hessian <= 10x RL")


if __name__ == "__main__":
    main()
