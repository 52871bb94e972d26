"""Time to compute a 63 x 127 x 127 PSF (spacing 0.2, 0.1, 0.1 µm) with each model.

Run: python benchmarks/bench_psf.py [--repeat N] [--shape 63x127x127] [--oversample 3]

Oil objective NA 1.4, emission 0.52 µm, a source 5 µm deep in water (ns 1.33)
for the models that take the mismatch (``zernike`` adds 0.5 rad of primary
spherical aberration on its 2D pupil). Prints the best of N wall-clock times
(one run when a run takes over 2 s), and psfmodels' (Aguet's C++ code) for the
same PSF when it is installed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import scipy

from deconvkit import psf as dkpsf

NA, WAVELENGTH, EXCITATION, NI, NS, DEPTH = 1.4, 0.52, 0.488, 1.515, 1.33, 5.0


def best_of(function: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` timed runs after a warm-up; a warm-up over 2 s is timed once only."""
    start = time.perf_counter()
    function()  # warm up
    first = time.perf_counter() - start
    if first > 2.0:
        return first
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(shape: tuple[int, int, int], spacing: tuple[float, float, float], oversample: int):
    common = {"shape": shape, "spacing": spacing, "na": NA, "wavelength": WAVELENGTH, "ni": NI}
    mismatch = {"ns": NS, "depth": DEPTH, "oversample": oversample}
    return {
        "gaussian": lambda: dkpsf.gaussian(**common, oversample=oversample),
        "born_wolf": lambda: dkpsf.born_wolf(**common, oversample=oversample),
        "gibson_lanni": lambda: dkpsf.gibson_lanni(**common, **mismatch),
        "vectorial": lambda: dkpsf.vectorial(**common, **mismatch),
        "confocal (gibson_lanni, 1 AU)": lambda: dkpsf.confocal(
            **common, excitation_wavelength=EXCITATION, pinhole=1.0, **mismatch
        ),
        "confocal (vectorial, 1 AU)": lambda: dkpsf.confocal(
            **common, excitation_wavelength=EXCITATION, pinhole=1.0, model="vectorial", **mismatch
        ),
        "zernike (scalar, 2D pupil, Z11 0.5 rad)": lambda: dkpsf.zernike(
            **common, coefficients={11: 0.5}, **mismatch
        ),
        "zernike (vectorial, 2D pupil, Z11 0.5 rad)": lambda: dkpsf.zernike(
            **common, coefficients={11: 0.5}, model="vectorial", **mismatch
        ),
    }


def theirs(shape: tuple[int, int, int], spacing: tuple[float, float, float], oversample: int):
    try:
        import psfmodels
    except ImportError:
        return {}
    common = {
        "z": shape[0], "nx": shape[1], "dxy": spacing[1], "dz": spacing[0], "NA": NA, "ni": NI,
        "oversample_factor": oversample,
    }  # fmt: skip
    mismatch = {"pz": DEPTH, "ns": NS}
    return {
        "gaussian": lambda: psfmodels.make_psf(**common, wvl=WAVELENGTH, model="gaussian"),
        "born_wolf": lambda: psfmodels.make_psf(**common, wvl=WAVELENGTH, ns=NI, model="scalar"),
        "gibson_lanni": lambda: psfmodels.make_psf(
            **common, **mismatch, wvl=WAVELENGTH, model="scalar"
        ),
        "vectorial": lambda: psfmodels.make_psf(
            **common, **mismatch, wvl=WAVELENGTH, model="vectorial"
        ),
        "confocal (gibson_lanni, 1 AU)": lambda: psfmodels.confocal_psf(
            **common, **mismatch, ex_wvl=EXCITATION, em_wvl=WAVELENGTH, model="scalar"
        ),
        "confocal (vectorial, 1 AU)": lambda: psfmodels.confocal_psf(
            **common, **mismatch, ex_wvl=EXCITATION, em_wvl=WAVELENGTH, model="vectorial"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shape", default="63x127x127")
    parser.add_argument("--spacing", default="0.2x0.1x0.1")
    parser.add_argument("--oversample", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.shape.split("x"))
    spacing = tuple(float(d) for d in args.spacing.split("x"))
    if shape[1] != shape[2] or spacing[1] != spacing[2]:
        parser.error("psfmodels needs square planes: use equal Y and X sizes and spacings")

    try:
        import psfmodels

        reference = f"psfmodels {psfmodels.__version__}"
    except ImportError:
        reference = "psfmodels not installed (pip install psfmodels)"
    print(
        f"shape {args.shape}, spacing {args.spacing} µm, oversample {args.oversample}, "
        f"best of {args.repeat}; numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{os.cpu_count()} CPUs; {reference}"
    )
    print(f"{'model':>30} {'deconvkit (s)':>14} {'psfmodels (s)':>14}")
    mine, reference_models = (
        ours(shape, spacing, args.oversample),
        theirs(shape, spacing, args.oversample),
    )
    for name, function in mine.items():
        seconds = best_of(function, args.repeat)
        other = reference_models.get(name)
        other_text = f"{best_of(other, args.repeat):14.3f}" if other else f"{'-':>14}"
        print(f"{name:>30} {seconds:14.3f} {other_text}")


if __name__ == "__main__":
    main()
