"""Automatic weights of the iterative methods against the best weight on a grid: the
discrepancy principle and the projected Poisson risk estimate (PURE).

Run: python benchmarks/bench_auto_iterative.py [--quick]
     [--methods rltv admm-tv admm-hessian ictm fista]
     [--cases cytoplasm:50 cytoplasm:300 filaments:300 beads:1000] [--rules discrepancy pure]
     [--seed 0] [--eta 1e-3|plain] [--threads 2] [--curve] [--boundary periodic]

For simulated widefield stacks (16x64x64, vectorial PSF NA 1.3 oil 15x31x31,
voxels 0.2 x 0.1 x 0.1 µm, background 10, Poisson counts) each method runs
with each rule of ``--rules`` (``lam="discrepancy"``: the weight whose
estimate fits the data to the noise level,
``deconvkit.methods._auto.choose_weight_by_discrepancy``; ``lam="pure"``: the
weight of least projected risk, ``choose_weight_by_risk``) and with every λ of
a grid (3 a decade over [1e-5, 1]; 2 with ``--quick``), each for its default
iteration count. The table shows the grid's best λ and NRMSE, the default λ's
NRMSE, then per rule the chosen λ, the ratio of its NRMSE to the grid's best
(goal: within 3 %) and the time of the choice. The last column of each case
is rl-accelerated's best iterate (with the truth, 200 iterations): the figure
a regularized method must beat to earn its place. ``--seed S`` draws another
object (seed S) and noise (seed S + 1): the rules' constants were set on seed 0.
``--eta E`` runs PURE with the projection's η = E instead of the default
(``deconvkit.methods._auto.RISK_FILTER``), ``--eta plain`` with no projection
(G = I: the prediction's error), as η was chosen. ``--curve`` also prints the NRMSE
at every λ of the grid: a solver that has not converged shows as an error that is
not smooth in λ (ADMM's penalty stuck below its norm's threshold did).
``--boundary periodic`` images the object periodically on the field itself (no light
from outside it) and deconvolves with ``boundary="periodic"``: what the criteria do
when the data see the whole object, as against the default, where the object
extends past the field and the methods estimate it on a margin.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from unittest import mock

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def case(kind: str, photons: float, seed: int = 0, boundary: str = "extended"
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    field, psf_shape = (16, 64, 64), (15, 31, 31)
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    if boundary == "periodic":
        obj = dk.simulate.phantom(field, SPACING, kind=kind, seed=seed)
        y, truth = dk.simulate.observe(obj, psf, boundary="periodic", photons=photons,
                                       background=10, seed=seed + 1)
        return y, truth, psf
    obj = dk.simulate.phantom(extended_shape(field, psf_shape), SPACING, kind=kind, seed=seed)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                   background=10, seed=seed + 1)
    return y, truth, psf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 grid points a decade")
    parser.add_argument("--methods", nargs="+",
                        default=["rltv", "admm-tv", "admm-hessian", "ictm", "fista"])
    parser.add_argument("--cases", nargs="+",
                        default=["cytoplasm:50", "cytoplasm:300", "filaments:300", "beads:1000"])
    parser.add_argument("--rules", nargs="+", default=["discrepancy", "pure"],
                        choices=("discrepancy", "pure"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eta", default=None, help="PURE's η, or 'plain' (no projection)")
    parser.add_argument("--curve", action="store_true",
                        help="also print each grid λ's NRMSE (how smooth the error is in λ)")
    parser.add_argument("--boundary", choices=("extended", "periodic"), default="extended",
                        help="periodic: the object imaged and deconvolved periodically on "
                             "the field (no margin)")
    args = parser.parse_args()
    projection = contextlib.nullcontext()
    if args.eta is not None:
        from deconvkit.methods._auto import risk_filter

        eta = args.eta
        weights = ((lambda otf2: otf2 * 0 + 1.0) if eta == "plain" else
                   (lambda otf2: risk_filter(otf2, float(eta))))
        projection = mock.patch("deconvkit.methods._plan.risk_filter", weights)
        print(f"PURE's projection: {'none (G = I)' if eta == 'plain' else f'eta = {eta}'}")
    grid = np.logspace(-5, 0, 11 if args.quick else 16)
    head = "".join(f" {rule[:4] + ' lam':>9s} {'ratio':>6s} {'s':>5s}" for rule in args.rules)
    print(f"{'object':9s} {'photons':>7s} {'method':13s} {'best lam':>9s} {'best':>7s} "
          f"{'default':>7s}{head} {'rla best':>8s}")
    within = dict.fromkeys(args.rules, 0)
    near = dict.fromkeys(args.rules, 0)
    total = 0
    for text in args.cases:
        kind, photons = text.split(":")
        y, truth, psf = case(kind, float(photons), args.seed, args.boundary)
        common = dict(spacing=SPACING, background=10.0, ground_truth=truth,
                      boundary=args.boundary)
        with backend.fft_workers(args.threads):
            reference = dk.methods.run(y, psf, "rl-accelerated", max_iter=200, **common)
            rla = float(np.min(reference.history["nrmse"]))
            for method in args.methods:
                errors = [dk.methods.run(y, psf, method, lam=float(v), **common)
                          .history["nrmse"][-1] for v in grid]
                best = int(np.argmin(errors))
                if args.curve:
                    print(f"  {method} NRMSE by λ: " + ", ".join(
                        f"{v:.3g}: {e:.4f}" for v, e in zip(grid, errors)), flush=True)
                default = dk.methods.run(y, psf, method, **common).history["nrmse"][-1]
                total += 1
                line = (f"{kind:9s} {photons:>7s} {method:13s} {grid[best]:9.2e} "
                        f"{errors[best]:7.4f} {default:7.4f}")
                for rule in args.rules:
                    start = time.perf_counter()
                    with warnings.catch_warnings(), projection:
                        warnings.simplefilter("ignore")
                        chosen = dk.methods.plan(y, psf, method, spacing=SPACING,
                                                 background=10.0, lam=rule,
                                                 boundary=args.boundary)
                    seconds = time.perf_counter() - start
                    auto = chosen.solve(ground_truth=truth).history["nrmse"][-1]
                    ratio = auto / errors[best]
                    within[rule] += ratio <= 1.03
                    near[rule] += ratio <= 1.06
                    edge = "*" if chosen.weight_choice.at_edge else " "
                    line += f" {chosen.values['lam']:8.2e}{edge}{ratio:6.3f} {seconds:5.1f}"
                print(f"{line} {rla:8.4f}", flush=True)
    for rule in args.rules:
        print(f"\n{rule}: within 3 % of the grid's best in {within[rule]} of {total}, "
              f"within 6 % in {near[rule]}", end="")
    print("\n(* : the choice is an end of the search; ratio: its NRMSE over the grid's best; "
          "rla best: rl-accelerated's best iterate)")


if __name__ == "__main__":
    main()
