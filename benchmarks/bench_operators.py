"""Blur forward + adjoint against the FFT floor (2 rfftn + 2 irfftn of the same size).

Run: python benchmarks/bench_operators.py [--repeat N] [--shapes 64x256x256 128x256x256]

Prints seconds per forward+adjoint pair, the floor measured in the same run
with scipy.fft on all cores, and their ratio (target <= 1.15).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.fft

from deconvkit.operators import Blur, Crop, Gradient, Hessian, extended_shape


def best_of(fn, repeat: int) -> float:
    fn()  # warm up (plans, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def floor_pair(x: np.ndarray) -> None:
    for _ in range(2):
        spectrum = scipy.fft.rfftn(x, workers=-1)
        scipy.fft.irfftn(spectrum, s=x.shape, workers=-1, overwrite_x=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shapes", nargs="+", default=["64x256x256", "128x256x256"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"scipy {scipy.__version__}, numpy {np.__version__}, float32, best of {args.repeat}")
    print(f"{'shape':>14} {'operator':>28} {'seconds':>9} {'floor':>9} {'ratio':>6}")
    for text in args.shapes:
        shape = tuple(int(n) for n in text.split("x"))
        x = rng.standard_normal(shape).astype(np.float32)
        psf = rng.random((31, 63, 63)).astype(np.float32)
        psf /= psf.sum()
        floor = best_of(lambda: floor_pair(x), args.repeat)
        blur = Blur(psf, shape)
        rows = [("Blur @ x, Blur.H @ y", lambda: (blur @ x, blur.H @ x), floor)]
        grad, hess = Gradient(shape, (0.3, 0.1, 0.1)), Hessian(shape, (0.3, 0.1, 0.1))
        g, h = grad @ x, hess @ x
        rows.append(("Gradient fwd + adj", lambda: (grad @ x, grad.H @ g), floor))
        rows.append(("Hessian fwd + adj", lambda: (hess @ x, hess.H @ h), floor))
        for name, fn, ref in rows:
            seconds = best_of(fn, args.repeat)
            print(f"{text:>14} {name:>28} {seconds:9.4f} {ref:9.4f} {seconds / ref:6.2f}")
        # the extended-domain model on an image of this shape
        ext = extended_shape(shape, (63, 127, 127))
        xe = rng.standard_normal(ext).astype(np.float32)
        model = Crop(ext, shape) @ Blur(psf, ext)
        ye = model @ xe
        floor_ext = best_of(lambda: floor_pair(xe), args.repeat)
        seconds = best_of(lambda: (model @ xe, model.H @ ye), args.repeat)
        label = "x".join(map(str, ext))
        print(f"{label:>14} {'(Crop @ Blur) fwd + adj':>28} {seconds:9.4f} {floor_ext:9.4f} "
              f"{seconds / floor_ext:6.2f}")


if __name__ == "__main__":
    main()
