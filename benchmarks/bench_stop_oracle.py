"""Can any error the data see rank the iterates? The true data-space errors, with the truth.

Run: python benchmarks/bench_stop_oracle.py [--methods fista ista rl]
     [--kinds beads filaments cytoplasm] [--photons 50 300 1000] [--max-iter 150]
     [--field 24x96x96] [--seed 0] [--boundary periodic]

A stopping rule computed from the data (the discrepancy, PURE, a held-out half)
estimates an error of the model :math:`\\hat\\mu_k = A x_k + b` against the data's
mean :math:`\\mu`. This benchmark skips the estimate: it takes the noiseless mean
from the simulation and computes the true error of every 5th iterate in each of
two families of data-space weightings,

- ``G(η)``: :math:`\\lVert G(\\hat\\mu_k - \\mu)\\rVert^2`, :math:`G = (H^*H + \\eta)^{-1}H^*`
  (the projection of ``lam="pure"`` and of ``fista``'s held-out stop, η = 1e-3), for
  η = 1e-1 … 1e-6, and :math:`\\lVert\\hat\\mu_k - \\mu\\rVert^2` (η → ∞, "prediction");
- ``stop(τ)``: the error at the frequencies where the field's blur passes almost
  nothing, :math:`|\\hat h|^2 < \\tau` (its peak 1), τ = 1e-2 … 1e-6: with a margin the
  model has content there only through the crop, so this band sees the margin's light;

and prints, per case, the object's best NRMSE (affine fit on the field) and its
iteration, then for each weighting the iteration where its true error is least and
the NRMSE's excess there. If no weighting's least lies within 10 % of the best, no
estimate of any of these errors can stop the method there, however exact.
``--boundary periodic`` images each phantom periodically on the field and
deconvolves it so (no margin). The header line shows why the margin matters: at the
lateral frequency 0 a widefield PSF passes each plane's total flux, so each of the
field's slices sees a moving sum of the object's slices along z, over the PSF's
axial length. On the extended domain that is a wide matrix with a null space (the
object's low lateral frequencies split between field and margin in ways no data
can tell apart); on the periodic field it is square and of full rank.
"""

from __future__ import annotations

import argparse

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.methods import plan
from deconvkit.methods._auto import projected_error, risk_filter
from deconvkit.methods._plan import _field_otf2
from deconvkit.metrics import nrmse
from deconvkit.operators import extended_shape
from deconvkit.solvers import Callback

SPACING = (0.2, 0.1, 0.1)
ETAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
TAUS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("x"))


class _Trace(Callback):
    """The field's NRMSE and the model A x + b at every 5th iteration."""

    def __init__(self, problem, truth):
        self.problem, self.truth, self.rows = problem, truth, {}

    def step(self, state):
        if state.iteration % 5 == 0 and state.iteration > 0:
            mean = np.asarray(self.problem.forward @ state.x, np.float64)
            field = np.asarray(state.x)[self.problem.field]
            self.rows[state.iteration] = (nrmse(field, self.truth),
                                          mean + self.problem.background)


def data_space_weights(otf2: np.ndarray) -> dict[str, np.ndarray]:
    """The weightings on the rfft half spectrum, by name: G(η) for each η of ``ETAS``, the
    prediction (all ones) and the stopband |ĥ|² < τ for each τ of ``TAUS`` (``otf2`` its
    peak 1)."""
    weights = {f"G({eta:g})": risk_filter(otf2, eta) for eta in ETAS}
    weights["prediction"] = np.ones_like(otf2)
    weights.update({f"stop({tau:g})": (otf2 < tau).astype(np.float64) for tau in TAUS})
    return weights


def axial_sum_rank(psf: np.ndarray, slices: int) -> tuple[int, int, int]:
    """The lateral-DC axial operator: each of the field's ``slices`` sees the PSF's per-plane
    flux over its length. Its unknowns and rank on the extended domain, and its rank when the
    same flux wraps around the ``slices`` planes (periodic)."""
    flux = psf.sum(axis=(1, 2))
    length = flux.size
    unknowns = slices + length - 1
    moving = np.zeros((slices, unknowns))
    wrapped = np.zeros((slices, slices))
    for row in range(slices):
        moving[row, row:row + length] = flux[::-1]
        for k, value in enumerate(flux[::-1]):
            wrapped[row, (row + k - length // 2) % slices] += value
    tol = 1e-10 * flux.sum()
    return (unknowns, int(np.linalg.matrix_rank(moving, tol=tol)),
            int(np.linalg.matrix_rank(wrapped, tol=tol)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["fista", "ista", "rl"])
    parser.add_argument("--kinds", nargs="+", default=["beads", "filaments", "cytoplasm"])
    parser.add_argument("--photons", nargs="+", type=float, default=[50, 300, 1000])
    parser.add_argument("--max-iter", type=int, default=150)
    parser.add_argument("--field", type=shape, default=(24, 96, 96))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--boundary", choices=("extended", "periodic"), default="extended")
    args = parser.parse_args()
    field = args.field
    psf_shape = tuple(n - 1 if n % 2 == 0 else n for n in field[:1]) + tuple(
        n // 2 - 1 if (n // 2) % 2 == 0 else n // 2 for n in field[1:])  # fmt: skip
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    slices = field[0]
    unknowns, rank, periodic = axial_sum_rank(psf, slices)
    print(f"field {field}, PSF {psf_shape}, {args.boundary}, cap {args.max_iter}; at lateral "
          f"frequency 0 the field's {slices} slices see {unknowns} object slices on the "
          f"extended domain (rank {rank}, null space {unknowns - rank}); periodic: rank "
          f"{periodic} of {slices}")
    names = list(data_space_weights(np.ones(1)))
    print(f"{'method':6s} {'object':10s} {'photons':>7s} {'best':>7s} {'at':>4s}  "
          + "  ".join(f"{n:>14s}" for n in names))
    reachable, total = 0, 0
    for method in args.methods:
        for kind in args.kinds:
            for photons in args.photons:
                if args.boundary == "periodic":
                    obj = dk.simulate.phantom(field, SPACING, kind=kind, seed=args.seed)
                    obs = dk.simulate.observe(obj, psf, boundary="periodic", photons=photons,
                                              background=10, seed=args.seed + 1)
                else:
                    obj = dk.simulate.phantom(extended_shape(field, psf_shape), SPACING,
                                              kind=kind, seed=args.seed)
                    obs = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                              background=10, seed=args.seed + 1)
                y, truth = obs.data, obs.ground_truth
                noiseless = obs.noiseless.astype(np.float64)
                chosen = plan(y, psf, method, background=10, spacing=SPACING,
                              max_iter=args.max_iter, boundary=args.boundary)
                problem = chosen.problem(y, None)
                solver = chosen.method.build(problem,
                                             clip_negative=chosen.values["clip_negative"],
                                             **chosen.own)
                trace = _Trace(problem, truth)
                with backend.fft_workers(args.threads):
                    solver.run(x0=chosen._start(problem), max_iter=args.max_iter,
                               callbacks=[trace])
                iterations = sorted(trace.rows)
                values = np.array([trace.rows[k][0] for k in iterations])
                best = float(values.min())
                weights = data_space_weights(np.asarray(_field_otf2(chosen, y)))
                cells, hit = [], False
                for w in weights.values():
                    errors = [projected_error(trace.rows[k][1], noiseless, w) for k in iterations]
                    at = int(np.argmin(errors))
                    excess = values[at] / best - 1
                    hit |= excess <= 0.10
                    cells.append(f"{iterations[at]:4d} {excess:+8.1%}")
                total += 1
                reachable += hit
                print(f"{method:6s} {kind:10s} {photons:7g} {best:7.4f} "
                      f"{iterations[int(np.argmin(values))]:4d}  " + "  ".join(cells),
                      flush=True)
    print(f"\ncases where some weighting's true error is least within 10 % of the best: "
          f"{reachable} of {total}")


if __name__ == "__main__":
    main()
