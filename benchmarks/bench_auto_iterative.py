"""Automatic weights of the iterative methods against the best weight on a grid: the
discrepancy principle and the projected Poisson risk estimate (PURE).

Run: python benchmarks/bench_auto_iterative.py [--quick]
     [--methods rltv admm-tv admm-hessian ictm fista]
     [--cases cytoplasm:50 cytoplasm:300 filaments:300 beads:1000] [--rules discrepancy pure]
     [--seed 0] [--eta 1e-3|plain] [--threads 2] [--curve] [--boundary periodic] [--oracle]

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
``--oracle`` runs no rule: with the noiseless data from the simulation it finds, for each
data-space weighting of ``bench_stop_oracle.py`` (PURE's projection for η = 1e-1 … 1e-6,
the prediction, the blur's stopband), the λ of least *true* error on a grid of 4 a decade
over [1e-5, 1] (with ``--quick`` or without), and shows the object's NRMSE there over
the grid's best, for η = 1e-3 (what ``lam="pure"`` estimates) and for the weighting that
comes closest. Where even the closest is more than 3 % off, no estimate of any of these
errors, however exact, can choose λ within 3 %.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def observation(kind: str, photons: float, seed: int = 0, boundary: str = "extended"
                ) -> tuple[dk.simulate.Observation, np.ndarray]:
    """The simulated stack of a case (its data, truth and noiseless mean) and the PSF."""
    field, psf_shape = (16, 64, 64), (15, 31, 31)
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    if boundary == "periodic":
        obj = dk.simulate.phantom(field, SPACING, kind=kind, seed=seed)
        return dk.simulate.observe(obj, psf, boundary="periodic", photons=photons,
                                   background=10, seed=seed + 1), psf
    obj = dk.simulate.phantom(extended_shape(field, psf_shape), SPACING, kind=kind, seed=seed)
    return dk.simulate.observe(obj, psf, field_shape=field, photons=photons, background=10,
                               seed=seed + 1), psf


def case(kind: str, photons: float, seed: int = 0, boundary: str = "extended"
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data, truth and PSF of a case."""
    seen, psf = observation(kind, photons, seed, boundary)
    return seen.data, seen.ground_truth, psf


def oracle_grid(y, truth, noiseless, psf, method, grid, boundary) -> tuple[list, dict]:
    """The object's NRMSE at each λ of ``grid`` and, per data-space weighting of
    ``bench_stop_oracle``, the true error ‖W(μ̂ − μ)‖² of the model at each λ."""
    from bench_stop_oracle import data_space_weights

    from deconvkit.methods._auto import projected_error
    from deconvkit.methods._plan import _field_otf2

    chosen = dk.methods.plan(y, psf, method, spacing=SPACING, background=10.0,
                             lam=float(grid[0]), boundary=boundary)
    weights = data_space_weights(np.asarray(_field_otf2(chosen, y)))
    errors, true = [], {name: [] for name in weights}
    for lam in grid:
        problem, x = chosen._trial(y, None, float(lam))
        mean = np.asarray(problem.forward @ x, np.float64) + problem.background
        errors.append(dk.metrics.nrmse(np.asarray(x)[problem.field], truth))
        for name, w in weights.items():
            true[name].append(projected_error(mean, noiseless, w))
    return errors, true


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
    parser.add_argument("--oracle", action="store_true",
                        help="instead of the rules: the λ of least true data-space error "
                             "(with the noiseless data) for each weighting of "
                             "bench_stop_oracle.py")
    args = parser.parse_args()
    if args.oracle:
        oracle(args)
        return
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


def oracle(args: argparse.Namespace) -> None:
    """Where the true data-space errors are least along the grid, against the object's best."""
    sys.path.insert(0, str(Path(__file__).parent))
    grid = np.logspace(-5, 0, 21)  # 4 a decade: the quarter decades PURE's refined choice lies on
    print(f"{'object':9s} {'photons':>7s} {'method':13s} {'best lam':>9s} {'best':>7s} "
          f"{'G(0.001) lam':>12s} {'ratio':>6s} {'best weighting':>15s} {'lam':>8s} "
          f"{'ratio':>6s}")
    projected, any_weighting, total = 0, 0, 0
    for text in args.cases:
        kind, photons = text.split(":")
        seen, psf = observation(kind, float(photons), args.seed, args.boundary)
        noiseless = seen.noiseless.astype(np.float64)
        for method in args.methods:
            with backend.fft_workers(args.threads), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errors, true = oracle_grid(seen.data, seen.ground_truth, noiseless, psf,
                                           method, grid, args.boundary)
            best = int(np.argmin(errors))
            ratios = {name: errors[int(np.argmin(e))] / errors[best] for name, e in true.items()}
            closest = min(ratios, key=ratios.get)
            at = int(np.argmin(true["G(0.001)"]))
            total += 1
            projected += ratios["G(0.001)"] <= 1.03
            any_weighting += ratios[closest] <= 1.03
            print(f"{kind:9s} {photons:>7s} {method:13s} {grid[best]:9.2e} {errors[best]:7.4f} "
                  f"{grid[at]:12.2e} {ratios['G(0.001)']:6.3f} {closest:>15s} "
                  f"{grid[int(np.argmin(true[closest]))]:8.2e} {ratios[closest]:6.3f}",
                  flush=True)
    print(f"\nthe true projected error (η = 1e-3, what PURE estimates) is least within 3 % of "
          f"the grid's best in {projected} of {total}; the best of the weightings, chosen "
          f"per case with the truth, in {any_weighting} of {total}")


if __name__ == "__main__":
    main()
