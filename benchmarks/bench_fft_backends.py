"""scipy.fft against pyFFTW as the FFT backend, per transform and end to end.

Run: python benchmarks/bench_fft_backends.py [--shape 128x384x384] [--iters 20]

deconvkit calls ``scipy.fft.rfftn``/``irfftn`` (all cores), so another FFT
library plugs in through ``scipy.fft.set_backend`` without any change to
deconvkit::

    import pyfftw.interfaces.scipy_fft, pyfftw.interfaces.cache, scipy.fft
    pyfftw.interfaces.cache.enable()
    with scipy.fft.set_backend(pyfftw.interfaces.scipy_fft):
        x = deconvkit.deconvolve(image, psf, method="rl")

Printed, for a float32 volume of the extended domain's size:

* one ``rfftn`` + ``irfftn`` pair: the first call (planning included) and the
  median of the next ones;
* Richardson–Lucy end to end (``deconvkit.methods.run``, ``--iters``
  iterations, the problem set-up and the first plans included), the figure a
  user sees.

pyFFTW is measured only where it is installed (it is not a dependency).
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import numpy as np
import scipy.fft

import deconvkit as dk


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("x"))


def pair_seconds(x: np.ndarray, repeats: int) -> tuple[float, float]:
    """(first call, median of the next ``repeats``) of rfftn + irfftn on ``x``."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        spectrum = scipy.fft.rfftn(x, workers=-1)
        scipy.fft.irfftn(spectrum, s=x.shape, workers=-1, overwrite_x=True)
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:])


def rl_seconds(image: np.ndarray, psf: np.ndarray, iters: int) -> float:
    start = time.perf_counter()
    dk.methods.run(image, psf, "rl", max_iter=iters, background=10.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=parse_shape, default=(128, 384, 384),
                        help="FFT shape (default: the extended domain of 64x256x256 + 63x127x127)")
    parser.add_argument("--image", type=parse_shape, default=(64, 256, 256))
    parser.add_argument("--psf", type=parse_shape, default=(63, 127, 127))
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    backends = [("scipy.fft", nullcontext)]
    try:
        import pyfftw.interfaces.cache
        import pyfftw.interfaces.scipy_fft

        pyfftw.interfaces.cache.enable()
        pyfftw.interfaces.cache.set_keepalive_time(600)
        backends.append(("pyfftw", lambda: scipy.fft.set_backend(pyfftw.interfaces.scipy_fft)))
    except ImportError:
        print("pyFFTW is not installed: only scipy.fft is measured")

    rng = np.random.default_rng(0)
    x = rng.random(args.shape, dtype=np.float32)
    psf = dk.psf.gaussian(args.psf, (0.2, 0.1, 0.1), na=1.2, wavelength=0.52, ni=1.33)
    image = rng.poisson(100.0, args.image).astype(np.float32)
    print(f"pair: rfftn + irfftn of {'x'.join(map(str, args.shape))} float32; "
          f"RL: {args.iters} iterations on {'x'.join(map(str, args.image))} with a "
          f"{'x'.join(map(str, args.psf))} PSF (extended domain)")
    print(f"{'backend':>10} {'pair, first':>12} {'pair':>8} {'RL total':>9} {'RL vs scipy':>12}")
    reference = None
    for name, context in backends:
        with context():
            first, steady = pair_seconds(x, args.repeats)
            total = rl_seconds(image, psf, args.iters)
        reference = reference or total
        print(f"{name:>10} {first:11.3f}s {steady:7.3f}s {total:8.2f}s {reference / total:11.2f}x")


if __name__ == "__main__":
    main()
