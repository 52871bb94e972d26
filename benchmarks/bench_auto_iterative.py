"""lam="auto" for the iterative methods against the best weight on a grid (discrepancy principle).

Run: python benchmarks/bench_auto_iterative.py [--quick] [--methods rltv admm-tv admm-hessian ictm fista]
     [--cases cytoplasm:50 cytoplasm:300 filaments:300 beads:1000] [--threads 2]

For simulated widefield stacks (16x64x64, vectorial PSF NA 1.3 oil 15x31x31,
voxels 0.2 x 0.1 x 0.1 µm, background 10, Poisson counts) each method runs
with ``lam="auto"`` (the weight whose estimate fits the data to the noise
level, ``deconvkit.methods._auto.choose_weight_by_discrepancy``) and with
every λ of a grid (3 a decade over [1e-5, 1]; 2 with ``--quick``), each for
its default iteration count. The table shows the chosen λ and its NRMSE, the
grid's best λ and NRMSE, their ratio (goal: within 3 %), the default λ's
NRMSE, and the time of the choice. The last column of each case is
rl-accelerated's best iterate (with the truth, 200 iterations): the figure a
regularized method must beat to earn its place.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def case(kind: str, photons: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    field, psf_shape = (16, 64, 64), (15, 31, 31)
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(field, psf_shape), SPACING, kind=kind, seed=0)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                   background=10, seed=1)
    return y, truth, psf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 grid points a decade")
    parser.add_argument("--methods", nargs="+",
                        default=["rltv", "admm-tv", "admm-hessian", "ictm", "fista"])
    parser.add_argument("--cases", nargs="+",
                        default=["cytoplasm:50", "cytoplasm:300", "filaments:300", "beads:1000"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    grid = np.logspace(-5, 0, 11 if args.quick else 16)
    print(f"{'object':9s} {'photons':>7s} {'method':13s} {'auto lam':>9s} {'NRMSE':>7s} "
          f"{'best lam':>9s} {'best':>7s} {'ratio':>6s} {'default':>7s} {'choice s':>8s} "
          f"{'rla best':>8s}")
    within, total = 0, 0
    for text in args.cases:
        kind, photons = text.split(":")
        y, truth, psf = case(kind, float(photons))
        common = dict(spacing=SPACING, background=10.0, ground_truth=truth)
        with backend.fft_workers(args.threads):
            reference = dk.methods.run(y, psf, "rl-accelerated", max_iter=200, **common)
            rla = float(np.min(reference.history["nrmse"]))
            for method in args.methods:
                errors = [dk.methods.run(y, psf, method, lam=float(v), **common)
                          .history["nrmse"][-1] for v in grid]
                best = int(np.argmin(errors))
                default = dk.methods.run(y, psf, method, **common).history["nrmse"][-1]
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    chosen = dk.methods.plan(y, psf, method, spacing=SPACING, background=10.0,
                                             lam="auto")
                seconds = time.perf_counter() - start
                auto = chosen.solve(ground_truth=truth).history["nrmse"][-1]
                ratio = auto / errors[best]
                total += 1
                within += ratio <= 1.03
                edge = "*" if chosen.weight_choice.at_edge else " "
                print(f"{kind:9s} {photons:>7s} {method:13s} {chosen.values['lam']:9.2e}{edge}"
                      f"{auto:7.4f} {grid[best]:9.2e} {errors[best]:7.4f} {ratio:6.3f} "
                      f"{default:7.4f} {seconds:8.1f} {rla:8.4f}", flush=True)
    print(f"\nwithin 3 % of the grid's best: {within} of {total} (* : the choice is an end of "
          "the search; rla best: rl-accelerated's best iterate)")


if __name__ == "__main__":
    main()
