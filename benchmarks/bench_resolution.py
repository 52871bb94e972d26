"""Resolution estimates on simulated widefield data against the PSF's FWHM, and their cost.

Run: python benchmarks/bench_resolution.py [--field 32x96x96] [--spacing 0.1,0.04,0.04]
                                           [--kind filaments] [--seed 0] [--no-deconvolution]
                                           [--timing 64x256x256]

For each PSF (Born–Wolf NA 1.4 oil, Born–Wolf NA 1.2 water, Gaussian NA 1.2 water,
Born–Wolf NA 0.8 air; emission 0.52 µm) and peak photon count (100, 1000, 10000;
background 5 photons) a phantom is imaged twice with independent Poisson noise
(``deconvkit.simulate.observe``). Printed, as markdown tables:

1. lateral figures (µm) of the raw image by FRC (the two draws; with the default
   Tukey window, then with a Hann window, ``window=1``), checkerboard, thinning and
   decorrelation (the first draw), next to the PSF's lateral FWHM
   (``deconvkit.psf.describe``) and the optical cutoff λ/(2 NA); then FRC and
   decorrelation of the images restored by 30 Richardson–Lucy iterations (each draw
   restored on its own);
2. the same for the axial direction, next to the axial FWHM and, for the Born–Wolf
   PSFs, the largest frequency of the widefield OTF inside the 45° axial cone,
   2 (n/λ) sin(θ - 45°) with sin θ = NA/n (as a length, 1/that;
   "none" when θ ≤ 45°: the missing cone covers the whole axial sector);
3. the checkerboard against FRC as the pixel grows (it needs fine pixels);
4. seconds per estimate on a ``--timing`` volume of noise.

``*`` marks a figure at the sampling limit (the curve never fell below the
threshold), ``-`` no correlation above noise.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import deconvkit as dk
from deconvkit.metrics import checkerboard_frc, decorrelation, frc, thinning_frc
from deconvkit.operators import extended_shape

PSFS = (
    ("born_wolf", 1.4, 1.515),
    ("born_wolf", 1.2, 1.33),
    ("gaussian", 1.2, 1.33),
    ("born_wolf", 0.8, 1.0),
)
WAVELENGTH, BACKGROUND = 0.52, 5.0
PHOTONS = (100, 1000, 10000)


def shape_arg(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.lower().split("x"))


def figure(result: dk.metrics.Resolution, direction: str) -> str:
    curve = result.curves.get(direction)
    if curve is None or curve.status == "uncorrelated":
        return "-"
    return f"{curve.resolution:.3f}" + ("*" if curve.status == "sampling-limited" else "")


def psf_shape(spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """About ±1.5 µm axially and ±1.25 µm laterally, odd sizes."""
    half_z, half_xy = round(1.5 / spacing[0]), round(1.25 / spacing[1])
    return (2 * half_z + 1, 2 * half_xy + 1, 2 * half_xy + 1)


def cone_limit(model: str, na: float, ni: float) -> str:
    """1 / (largest |k| of the widefield OTF support inside the 45° axial cone), µm."""
    if model == "gaussian":
        return "-"
    theta = math.asin(na / ni)
    if theta <= math.pi / 4:
        return "none"
    return f"{1 / (2 * ni / WAVELENGTH * math.sin(theta - math.pi / 4)):.3f}"


def measure(field, spacing, kind, seed, deconvolve):
    rows = {"lateral": [], "axial": []}
    for model, na, ni in PSFS:
        psf = getattr(dk.psf, model)(psf_shape(spacing), spacing, na=na, wavelength=WAVELENGTH,
                                     ni=ni)
        info = dk.psf.describe(psf, spacing)
        obj = dk.simulate.phantom(extended_shape(field, psf.shape), spacing, kind=kind, seed=seed)
        for photons in PHOTONS:
            y1, y2 = (dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                          background=BACKGROUND, seed=seed + s).data
                      for s in (1, 2))
            raw = [frc(y1, y2, spacing), frc(y1, y2, spacing, window=1.0),
                   checkerboard_frc(y1, spacing), thinning_frc(y1, spacing, seed=seed),
                   decorrelation(y1, spacing)]
            restored = []
            if deconvolve:
                x1, x2 = (dk.deconvolve(y, psf, method="rl", max_iter=30, spacing=spacing)
                          for y in (y1, y2))
                restored = [frc(x1, x2, spacing), decorrelation(x1, spacing)]
            label = f"{model} NA {na}"
            rows["lateral"].append([label, str(photons), f"{info.fwhm_lateral:.3f}",
                                    f"{WAVELENGTH / (2 * na):.3f}"]
                                   + [figure(r, "lateral") for r in raw + restored])
            rows["axial"].append([label, str(photons), f"{info.fwhm_axial:.3f}",
                                  cone_limit(model, na, ni)]
                                 + [figure(r, "axial") for r in raw + restored])
    return rows


def checkerboard_by_pixel(spacing, kind, seed):
    rows = []
    model, na, ni = PSFS[0]
    for dx in (0.03, 0.04, 0.06, 0.08):
        step = (spacing[0], dx, dx)
        n = 2 * round(2.56 / dx)
        field = (8, n, n)
        psf = getattr(dk.psf, model)(psf_shape(step), step, na=na, wavelength=WAVELENGTH, ni=ni)
        fwhm = dk.psf.describe(psf, step).fwhm_lateral
        obj = dk.simulate.phantom(extended_shape(field, psf.shape), step, kind=kind, seed=seed)
        y1, y2 = (dk.simulate.observe(obj, psf, field_shape=field, photons=1000,
                                      background=BACKGROUND, seed=seed + s).data for s in (1, 2))
        board = checkerboard_frc(y1, step)
        rows.append([f"{dx:g}", f"{fwhm:.3f}", figure(frc(y1, y2, step), "lateral"),
                     figure(board, "lateral"),
                     figure(checkerboard_frc(y1, step, correction=False), "lateral"),
                     "yes" if board.notes else "no"])
    return rows


def timings(shape):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, *shape)).astype(np.float32)
    counts = rng.poisson(20.0, size=shape).astype(np.float32)
    calls = {"frc": lambda: frc(a, b, (0.2, 0.1, 0.1)),
             "checkerboard": lambda: checkerboard_frc(a, (0.2, 0.1, 0.1)),
             "thinning": lambda: thinning_frc(counts, (0.2, 0.1, 0.1), seed=0),
             "decorrelation": lambda: decorrelation(a, (0.2, 0.1, 0.1))}
    rows = []
    for name, call in calls.items():
        call()
        start = time.perf_counter()
        call()
        rows.append([name, f"{time.perf_counter() - start:.2f}"])
    return rows


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", type=shape_arg, default=(32, 96, 96))
    parser.add_argument("--spacing", default="0.1,0.04,0.04")
    parser.add_argument("--kind", default="filaments", help="phantom kind (simulate.phantom)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-deconvolution", action="store_true")
    parser.add_argument("--timing", type=shape_arg, default=(64, 256, 256))
    args = parser.parse_args()
    spacing = tuple(float(v) for v in args.spacing.split(","))
    start = time.perf_counter()
    rows = measure(args.field, spacing, args.kind, args.seed, not args.no_deconvolution)
    columns = ["PSF", "photons", "FWHM", "FRC", "FRC (Hann)", "checkerboard", "thinning",
               "decorrelation"]
    if not args.no_deconvolution:
        columns += ["RL: FRC", "RL: decorrelation"]
    print(f"{args.kind}, field {'x'.join(map(str, args.field))}, voxel "
          f"{' x '.join(map(str, spacing))} µm, background {BACKGROUND:g} photons, "
          f"seed {args.seed}\n")
    print("lateral resolution (µm)\n")
    print(table(columns[:3] + ["λ/2NA"] + columns[3:], rows["lateral"]) + "\n")
    print("axial resolution (µm)\n")
    print(table(columns[:3] + ["cone limit"] + columns[3:], rows["axial"]) + "\n")
    print("checkerboard against FRC by pixel size (born_wolf NA 1.4, 1000 photons, 8 planes)\n")
    print(table(["pixel (µm)", "FWHM", "FRC", "checkerboard", "uncorrected", "unreliable note"],
                checkerboard_by_pixel(spacing, args.kind, args.seed)) + "\n")
    print(f"seconds per estimate, {'x'.join(map(str, args.timing))} float32 noise, "
          f"{dk.backend.workers()} FFT threads\n")
    print(table(["method", "seconds"], timings(args.timing)))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
