"""Seconds per iteration of the solvers on the extended-domain model, against the FFT floor.

Run: python benchmarks/bench_solvers.py [--quick] [--iters N] [--skip-skimage] [--skip-accel]

* Problem: a float32 observation (default 64x256x256) blurred by a 63x127x127
  PSF on the extended domain ``extended_shape(image, psf)`` (128x384x384),
  ``y ~ Poisson(Crop @ Blur x + b)``.
* Floor: 2 rfftn + 2 irfftn on the extended shape (scipy.fft, workers=-1),
  measured in the same run; each solver's seconds per iteration are given
  next to it, with the ratio and its FFTs per iteration (counted).
* RichardsonLucy against ``skimage.restoration.richardson_lucy`` at equal
  iterations (skimage convolves with ``scipy.signal.convolve`` in "same"
  mode on the image itself: periodic-free but no extended domain, and the PSF
  FFT is recomputed at each call).
* Accelerated RL: iterations each acceleration needs to reach the objective
  of 200 plain RL iterations, on a smaller problem (32x128x128, PSF 31x63x63).
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import numpy as np
import scipy.fft

from deconvkit import costs
from deconvkit.operators import Blur, Crop, Gradient, extended_shape
from deconvkit.solvers import ADMM, FISTA, Callback, ChambollePock, RichardsonLucy


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("x"))


def text(shape) -> str:
    return "x".join(str(n) for n in shape)


def gaussian_psf(shape, sigmas) -> np.ndarray:
    axes = [np.arange(n) - n // 2 for n in shape]
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    psf = np.exp(-sum(g.astype(np.float32) ** 2 / (2 * s**2) for g, s in zip(grids, sigmas)))
    # a widefield-like axial tail so the PSF really fills its box
    z = grids[0].astype(np.float32)
    psf = psf + 0.01 * np.exp(-sum(g.astype(np.float32) ** 2 / (2 * (3 * s) ** 2)
                                   for g, s in zip(grids[1:], sigmas[1:]))) / (1 + (z / 4) ** 2)
    return (psf / psf.sum()).astype(np.float32)


def make_problem(image_shape, psf_shape, seed=0, background=10.0):
    rng = np.random.default_rng(seed)
    ext = extended_shape(image_shape, psf_shape)
    psf = gaussian_psf(psf_shape, (3.0, 1.5, 1.5))
    H = Blur(psf, ext)
    S = Crop(ext, image_shape)
    truth = np.full(ext, 5.0, np.float32)
    n_beads = max(50, int(np.prod(ext) // 20000))
    index = tuple(rng.integers(0, n, n_beads) for n in ext)
    truth[index] += rng.uniform(500, 5000, n_beads).astype(np.float32)
    y = rng.poisson(S @ (H @ truth) + background).astype(np.float32)
    return dict(ext=ext, H=H, S=S, y=y, truth=truth, background=background, psf=psf)


def fft_floor(shape, repeat: int) -> float:
    x = np.random.default_rng(1).random(shape, dtype=np.float32)

    def pair():
        for _ in range(2):
            spectrum = scipy.fft.rfftn(x, workers=-1)
            scipy.fft.irfftn(spectrum, s=shape, workers=-1, overwrite_x=True)

    pair()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        pair()
        times.append(time.perf_counter() - t)
    return min(times)


class Stamps(Callback):
    def begin(self, state):
        self.t = [time.perf_counter()]

    def step(self, state):
        self.t.append(time.perf_counter())


def seconds_per_iteration(solver, iters: int) -> float:
    """Median wall time between iterations (the objective is recorded only at the end)."""
    stamps = Stamps()
    solver.run(max_iter=iters + 1, record_every=iters + 1, callbacks=[stamps])
    gaps = np.diff(stamps.t)[1:-1]  # drop the first iteration (plans, caches) and the last
    return float(statistics.median(gaps)) if len(gaps) else float(np.diff(stamps.t)[-1])


@contextmanager
def counting_ffts():
    counts = {"rfftn": 0, "irfftn": 0}
    originals = scipy.fft.rfftn, scipy.fft.irfftn

    def rfftn(*args, **kwargs):
        counts["rfftn"] += 1
        return originals[0](*args, **kwargs)

    def irfftn(*args, **kwargs):
        counts["irfftn"] += 1
        return originals[1](*args, **kwargs)

    scipy.fft.rfftn, scipy.fft.irfftn = rfftn, irfftn
    try:
        yield counts
    finally:
        scipy.fft.rfftn, scipy.fft.irfftn = originals


def ffts_per_iteration(make) -> str:
    """Count FFTs of iterations 2..6 (built on a small copy of the problem)."""
    solver = make(make_problem((8, 32, 32), (7, 15, 15)))
    with counting_ffts() as counts:
        solver.run(max_iter=1, record_every=1)
        base = dict(counts)
    with counting_ffts() as counts:
        solver.run(max_iter=6, record_every=6)
    per = {k: (counts[k] - base[k]) / 5 for k in counts}
    return f"{per['rfftn']:g}+{per['irfftn']:g}"


def solvers(p, lam=0.01):
    """Makers of the timed solvers (costs are built on demand)."""
    S, H, y, b, ext = p["S"], p["H"], p["y"], p["background"], p["ext"]
    spacing = (0.2, 0.1, 0.1)

    def poisson():
        return costs.PoissonLikelihood(y, background=b) @ (S @ H)

    def least_squares():
        return costs.LeastSquares(y - b) @ (S @ H)

    def tv_terms():
        tv = lam * costs.MixedNorm21() @ Gradient(ext, spacing)
        return [least_squares(), tv, costs.NonNegative()]

    return {
        "RichardsonLucy": lambda: RichardsonLucy(poisson(), track_objective=False),
        "RL biggs-andrews": lambda: RichardsonLucy(poisson(), acceleration="biggs-andrews",
                                                   track_objective=False),
        "RL momentum": lambda: RichardsonLucy(poisson(), acceleration="momentum",
                                              track_objective=False),
        "FISTA-TV (LS)": lambda: FISTA(least_squares(), lam * costs.TotalVariation(ext, spacing)),
        "ADMM-TV (LS)": lambda: ADMM(tv_terms()),
        "ChambollePock-TV (LS)": lambda: ChambollePock(tv_terms()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="64x256x256")
    parser.add_argument("--psf", default="63x127x127")
    parser.add_argument("--iters", type=int, default=6, help="timed iterations per solver")
    parser.add_argument("--quick", action="store_true", help="32x128x128 image, 31x63x63 PSF")
    parser.add_argument("--skip-skimage", action="store_true")
    parser.add_argument("--skip-accel", action="store_true")
    parser.add_argument("--only", nargs="*", help="solver names to time")
    args = parser.parse_args()
    if args.quick:
        args.image, args.psf = "32x128x128", "31x63x63"
    image, psf_shape = parse_shape(args.image), parse_shape(args.psf)
    p = make_problem(image, psf_shape)
    ext = p["ext"]
    floor = fft_floor(ext, repeat=5)
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, float32")
    print(f"image {text(image)}, PSF {text(psf_shape)}, extended domain {text(ext)}")
    print(f"FFT floor (2 rfftn + 2 irfftn on {text(ext)}): {floor:.4f} s\n")
    print(f"{'solver':>24} {'s/iter':>8} {'floor':>8} {'ratio':>6} {'FFTs/iter (r+ir)':>17}")
    table = {}
    for name, make in solvers(p).items():
        if args.only and name not in args.only:
            continue
        solver = make()
        seconds = seconds_per_iteration(solver, args.iters)
        del solver
        count = ffts_per_iteration(lambda q, n=name: solvers(q)[n]())
        table[name] = seconds
        print(f"{name:>24} {seconds:8.4f} {floor:8.4f} {seconds / floor:6.2f} {count:>17}")

    if not args.skip_skimage and "RichardsonLucy" in table:
        from skimage.restoration import richardson_lucy

        n = 3
        observed = np.clip(p["y"] - p["background"], 0, None)
        richardson_lucy(observed, p["psf"], num_iter=1, clip=False)  # warm up
        t = time.perf_counter()
        richardson_lucy(observed, p["psf"], num_iter=n, clip=False)
        sk = (time.perf_counter() - t) / n
        rl = table["RichardsonLucy"]
        print(f"\nskimage.restoration.richardson_lucy ({text(image)}, same-size, {n} iterations): "
              f"{sk:.4f} s/iter; deconvkit RL (extended {text(ext)}): {rl:.4f} s/iter; "
              f"speed-up {sk / rl:.2f}x")

    if not args.skip_accel:
        small = make_problem((32, 128, 128), (31, 63, 63), seed=2)
        data = costs.PoissonLikelihood(small["y"], background=small["background"]) @ (small["S"] @ small["H"])
        plain = RichardsonLucy(data).run(max_iter=200).history["objective"]
        target = plain[200]
        print(f"\naccelerated RL on 32x128x128 (PSF 31x63x63, extended "
              f"{text(small['ext'])}): objective of 200 plain iterations = {target:.6g}")
        for acceleration in ("biggs-andrews", "momentum"):
            objective = RichardsonLucy(data, acceleration=acceleration).run(max_iter=200).history["objective"]
            reached = next((k for k, v in enumerate(objective) if v <= target), None)
            print(f"  {acceleration:>14}: {reached if reached is not None else '>200'} iterations "
                  f"(objective after 50: {objective[50]:.6g}, plain after 50: {plain[50]:.6g})")


if __name__ == "__main__":
    main()
