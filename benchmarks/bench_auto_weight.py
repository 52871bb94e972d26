"""lam="auto" against the best weight on a grid: how close does GCV come?

Run: python benchmarks/bench_auto_weight.py [--quick] [--omega 1 2]

For simulated widefield stacks (24x64x64, Gaussian PSF 15x31x31, background
10) of several objects and photon counts, and for each closed-form filter
that takes ``lam="auto"`` (trif, rif; wif is trif with another name), prints
the weight weighted GCV chose, the NRMSE it gives, the best NRMSE over a
36-point grid of λ in [1e-6, 10] with its λ, their ratio, and the NRMSE of
the method's default weight. ``--omega`` compares trace weights (1 is plain
GCV; deconvkit uses :data:`deconvkit.methods._auto.OMEGA`). The second seed of
every case was not used to choose ω.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deconvkit as dk
from deconvkit.methods import _auto
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)
CASES = [("mixed", 50), ("mixed", 300), ("mixed", 1000), ("beads", 300), ("filaments", 300),
         ("cytoplasm", 300), ("shells", 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, a coarser grid")
    parser.add_argument("--omega", type=float, nargs="+", default=[_auto.OMEGA])
    args = parser.parse_args()
    seeds = (1,) if args.quick else (1, 11)
    grid = np.logspace(-6, 1, 15 if args.quick else 36)
    psf = dk.psf.gaussian((15, 31, 31), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    field = (24, 64, 64)
    print(f"{'object':9s} {'photons':>7s} {'seed':>4s} {'method':6s} {'omega':>5s} "
          f"{'auto lam':>9s} {'NRMSE':>7s} {'best lam':>9s} {'best':>7s} {'ratio':>6s} "
          f"{'default':>7s} {'choice s':>8s}")
    ratios: dict[float, list[float]] = {w: [] for w in args.omega}
    for kind, photons in CASES:
        for seed in seeds:
            obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind=kind,
                                      seed=seed)
            y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                           background=10, seed=seed + 1)
            common = dict(spacing=SPACING, background=10.0, ground_truth=truth)
            for method in ("trif", "rif"):
                errors = [dk.methods.run(y, psf, method, lam=float(v), **common)
                          .history["nrmse"][-1] for v in grid]
                best = int(np.argmin(errors))
                default = dk.methods.run(y, psf, method, **common).history["nrmse"][-1]
                for omega in args.omega:
                    _auto.OMEGA = omega
                    start = time.perf_counter()
                    chosen = dk.methods.plan(y, psf, method, spacing=SPACING, background=10.0,
                                             lam="auto")
                    seconds = time.perf_counter() - start
                    error = chosen.solve(ground_truth=truth).history["nrmse"][-1]
                    ratio = error / errors[best]
                    ratios[omega].append(ratio)
                    print(f"{kind:9s} {photons:7d} {seed:4d} {method:6s} {omega:5g} "
                          f"{chosen.values['lam']:9.3g} {error:7.4f} {grid[best]:9.3g} "
                          f"{errors[best]:7.4f} {ratio:6.3f} {default:7.4f} {seconds:8.2f}")
    for omega, values in ratios.items():
        values = np.array(values)
        print(f"omega {omega:g}: within 3 % of the grid's best in {np.sum(values <= 1.03)} of "
              f"{len(values)}; median ratio {np.median(values):.3f}, worst {values.max():.3f}")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # an edge choice is printed in the table
    main()
