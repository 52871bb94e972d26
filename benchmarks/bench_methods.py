"""Time, memory and accuracy of every method of the catalogue at its defaults.

Run: python benchmarks/bench_methods.py [--quick] [--shape Z Y X] [--methods rl wif ...]

* Problem: a mixed phantom (beads, filaments, blobs; ``simulate.phantom``) on
  an object domain larger than the field by the PSF, imaged by
  ``simulate.observe(obj, psf, photons=300, background=10)`` on the extended
  model, so light from outside the field is in the data as in a real stack.
  Default field 64x256x256 (``--quick``: 32x96x96); PSF ``psf.gaussian``
  31x63x63, spacing (0.2, 0.1, 0.1) µm, NA 1.2, λ 0.52 µm, n 1.33.
* Each method runs once through ``methods.run`` at its default parameters
  (``max_iter`` its own default, ``boundary="extended"``, the true background
  given) with ``ground_truth=``, so the history records the NRMSE at every
  iteration: the time includes that bookkeeping (one affine fit per
  iteration, small next to the FFTs).
* Columns: wall seconds, seconds per iteration, tracemalloc peak (MiB), the
  final NRMSE (``metrics.nrmse``, affine fit) against the ground truth, and the
  best NRMSE along the history with its iteration. The first row is the
  observation itself (the background-subtracted data against the truth).
* One run per method on a shared machine: the seconds are indicative only.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import tracemalloc

import numpy as np
import scipy

import deconvkit
from deconvkit import methods, metrics, psf, simulate

SPACING = (0.2, 0.1, 0.1)
PSF_SHAPE = (31, 63, 63)
MiB = 2.0**20


def text(shape) -> str:
    return "x".join(str(n) for n in shape)


def make_problem(field, psf_shape=PSF_SHAPE, seed=0):
    """Observation, ground truth and PSF for a ``field``-shaped camera."""
    h = psf.gaussian(psf_shape, SPACING, na=1.2, wavelength=0.52, ni=1.33)
    domain = tuple(f + p - 1 for f, p in zip(field, psf_shape))
    obj = simulate.phantom(domain, SPACING, kind="mixed", seed=seed)
    y, truth = simulate.observe(obj, h, photons=300, background=10, seed=seed + 1)
    assert y.shape == tuple(field), (y.shape, field)
    return y, truth, h


def measure(name, y, h, truth):
    """(seconds, n_iter, peak MiB, final NRMSE, best iteration, best NRMSE) of one method."""
    gc.collect()
    # numpy registers its data buffers with tracemalloc (since numpy 1.13), so
    # the peak counts the arrays; scratch memory allocated inside the FFT
    # library's C code is not traced.
    tracemalloc.start()
    start = time.perf_counter()
    result = methods.run(y, h, name, background=10.0, spacing=SPACING, ground_truth=truth)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    best_iter, best = result.best()
    final = metrics.nrmse(result.x, truth)
    return seconds, result.n_iter, peak / MiB, final, best_iter, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", nargs=3, type=int, default=(64, 256, 256), metavar=("Z", "Y", "X"),
                        help="field (camera) shape")
    parser.add_argument("--methods", nargs="*", help="method names (default: all)")
    parser.add_argument("--quick", action="store_true", help="32x96x96 field")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    field = (32, 96, 96) if args.quick else tuple(args.shape)
    names = args.methods or list(methods.available())
    unknown = [n for n in names if n.lower() not in {m.lower() for m in methods.available()}]
    if unknown:
        parser.error(f"unknown methods {unknown}; available: {', '.join(methods.available())}")

    y, truth, h = make_problem(field, seed=args.seed)
    domain = tuple(f + p - 1 for f, p in zip(field, PSF_SHAPE))
    print(f"deconvkit {deconvkit.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"python {platform.python_version()}, {y.dtype}")
    print(f"field {text(field)}, PSF {text(PSF_SHAPE)}, phantom domain {text(domain)}, "
          f"photons 300, background 10, seed {args.seed}\n")

    header = (f"{'method':>16} {'iters':>5} {'s':>8} {'s/iter':>8} {'peak MiB':>9} "
              f"{'NRMSE':>7} {'best':>7} {'at':>4}")
    print(header)
    print("-" * len(header))
    observed = metrics.nrmse(y - 10.0, truth)
    print(f"{'(observation)':>16} {'':>5} {'':>8} {'':>8} {'':>9} {observed:7.3f} {'':>7} {'':>4}",
          flush=True)
    for name in names:
        try:
            seconds, n_iter, peak, final, best_iter, best = measure(name, y, h, truth)
        except Exception as error:  # noqa: BLE001  (report and go on: one broken method must not hide the rest)
            print(f"{name:>16} failed: {type(error).__name__}: {error}", flush=True)
            continue
        per = f"{seconds / n_iter:8.3f}" if n_iter else f"{'-':>8}"
        print(f"{name:>16} {n_iter:5d} {seconds:8.2f} {per} {peak:9.0f} "
              f"{final:7.3f} {best:7.3f} {best_iter:4d}", flush=True)


if __name__ == "__main__":
    main()
