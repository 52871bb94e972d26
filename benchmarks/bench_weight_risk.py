"""What an automatic weight can see: PURE against the true risk it estimates and the
object's error, along λ.

Run: python benchmarks/bench_weight_risk.py [--method ictm] [--case cytoplasm:50]
     [--seed 0] [--probes 3] [--max-iter N] [--threads 2]

On ``benchmarks/bench_auto_iterative.py``'s stacks (16x64x64, vectorial PSF, 300
photons max, background 10), for λ over [1e-5, 1] at 4 a decade: the object's
NRMSE (affine fit, and raw), PURE of the projected error with each of
``--probes`` Monte-Carlo probes (``deconvkit.methods._auto.projected_pure``,
η = 1e-3), the true projected risk (1/N)‖G(μ̂ − μ)‖² it estimates (μ the
noiseless data), and the true prediction error (1/N)‖μ̂ − μ‖². Then the λ each
one would choose. Where PURE tracks the true risk but the risk's minimum is not
the object's, no better estimate of the risk can fix the choice: the criterion
itself disagrees with the object's error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.methods import plan
from deconvkit.methods._auto import RISK_PROBE, half_spectrum_counts, projected_pure, risk_filter
from deconvkit.methods._plan import _field_otf2

sys.path.insert(0, str(Path(__file__).parent))
from bench_auto_iterative import SPACING, case  # noqa: E402  (the same stacks)


def projected_error(mean, truth_mean, weights) -> float:
    """(1/N) ‖G(μ̂ − μ)‖² through the half spectrum (Parseval), photons² a voxel."""
    counts = half_spectrum_counts(mean.shape[-1])
    spectrum = np.fft.rfftn(mean - truth_mean)
    return float(np.sum(weights * counts * np.abs(spectrum) ** 2)) / mean.size**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ictm")
    parser.add_argument("--case", default="cytoplasm:50")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probes", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    kind, photons = args.case.split(":")
    y, truth, psf = case(kind, float(photons), args.seed)
    psf_shape = psf.shape
    obj = dk.simulate.phantom(dk.operators.extended_shape(y.shape, psf_shape), SPACING,
                              kind=kind, seed=args.seed)
    mu = dk.simulate.observe(obj, psf, field_shape=y.shape, photons=float(photons),
                             background=10, seed=args.seed + 1).noiseless.astype(np.float64)
    extra = {} if args.max_iter is None else {"max_iter": args.max_iter}
    chosen = plan(y, psf, args.method, background=10, spacing=SPACING, lam=0.05, **extra)
    weights = risk_filter(_field_otf2(chosen, y))
    probes = []
    for index in range(args.probes):
        signs = np.random.default_rng(index).integers(0, 2, size=y.shape) * 2.0 - 1.0
        probe = np.sqrt(np.maximum(y.astype(np.float64), 0)) * signs
        probes.append((probe, np.maximum(y + RISK_PROBE * probe, 0).astype(np.float32)))
    print(f"{args.method} on {kind} at {photons} photons, seed {args.seed}, "
          f"{chosen.values['max_iter']} iterations")
    print(f"{'lam':>9s} {'NRMSE':>7s} {'raw':>7s} {'PURE (each probe)':>26s} "
          f"{'true risk':>10s} {'prediction':>10s}")
    rows = []

    def mean_of(data, lam):
        problem, x = chosen._trial(data, None, lam)
        return problem, x, np.asarray(problem.forward @ x, np.float64) + problem.background

    with backend.fft_workers(args.threads):
        for lam in [10 ** (-k / 4) for k in range(21)]:
            problem, x, mean = mean_of(y, lam)
            field = x[problem.field]
            nrmse = dk.metrics.nrmse(field, truth)
            raw = dk.metrics.nrmse(field, truth, fit=None)
            pures = [projected_pure(y, mean, mean_of(moved, lam)[2], probe, weights, RISK_PROBE)
                     for probe, moved in probes]
            risk = projected_error(mean, mu, weights)
            prediction = float(np.mean((mean - mu) ** 2))
            rows.append((lam, nrmse, raw, pures, risk, prediction))
            print(f"{lam:9.3g} {nrmse:7.4f} {raw:7.4f} "
                  f"{' '.join(f'{p:8.4g}' for p in pures):>26s} {risk:10.4g} {prediction:10.4g}")
    best = min(rows, key=lambda r: r[1])
    print(f"\nthe object's best: lam={best[0]:.3g} (NRMSE {best[1]:.4f})")
    choices = [("true projected risk", lambda r: r[4]), ("true prediction error", lambda r: r[5]),
               ("raw NRMSE", lambda r: r[2])]
    choices += [(f"PURE, probe {i}", lambda r, i=i: r[3][i]) for i in range(args.probes)]
    for name, key in choices:
        pick = min(rows, key=key)
        print(f"{name:22s} chooses lam={pick[0]:.3g}: NRMSE {pick[1]:.4f} "
              f"({pick[1] / best[1]:.3f} x the best)")
    gaps = [abs(np.mean(r[3]) - r[4]) / r[4] for r in rows]
    print(f"PURE (mean of the probes) against the true risk: within {100 * max(gaps):.0f} % "
          f"at every λ (median {100 * float(np.median(gaps)):.0f} %)")


if __name__ == "__main__":
    main()
