"""``stop="auto"`` against the best iterate: how far from the best NRMSE does it stop?

Run: python benchmarks/bench_stop.py [--methods rl rl-accelerated lw] [--max-iter 300]
     [--field 24x96x96] [--kinds beads filaments cytoplasm] [--photons 50 300 1000]
     [--seed 0] [--pure] [--split]

For each object kind and photon count (vectorial PSF NA 1.3 oil, voxels
0.2 x 0.1 x 0.1 µm, background 10, Poisson counts), each method runs once with
the truth to ``--max-iter`` iterations (its NRMSE history gives the best
iterate) and once with ``stop="auto"`` (the discrepancy principle of
``deconvkit.methods._stopping``); the table shows the best NRMSE and its
iteration, and where the automatic stop fired with the relative excess of its
NRMSE over the best (goal: within 10 %). A stop at the cap is shown with ``cap``:
the rule did not fire, and the best may lie beyond the cap too. ``--seed S`` draws
another object (seed S) and noise (seed S + 1); the rule was designed on seed 0.

``--split`` adds a data-split cross-validation: the counts thinned into two halves
(each photon to either with probability 1/2: two independent Poisson images of half
the mean), the method run on each half to the cap, every 5th iteration scored by the
Poisson negative log-likelihood of the other half, the two folds summed; shown are the
iteration of its least ("split") and the later of it and the discrepancy's stop
("both": stop when both say so). ``stop="auto"`` of an accelerated RL now makes this
held-out check itself (the plan's ``held_out_iteration``, another thinning draw), so
for ``rl-accelerated`` the "auto stop" column already is a "both"; for ``rl`` and
``lw`` the columns show what the check would change. ``fista``'s ``stop="auto"`` is a
held-out check alone, scored through PURE's projection instead of the likelihood, so
for it "auto stop" is that check and "split" the likelihood's.

``--pure`` adds a candidate that was tried and left out: stop at the least projected
Poisson risk (PURE, ``deconvkit.methods._auto.projected_pure`` as ``lam="pure"`` uses
it), the method run alongside on the probed data y + εs, the risk at every 5th
iteration; its excess over the best is shown the same way, alone and at the later
of it and the discrepancy's stop ("later").
"""

from __future__ import annotations

import argparse

import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.methods import plan
from deconvkit.methods._auto import RISK_PROBE, projected_pure, risk_filter
from deconvkit.methods._plan import _field_otf2
from deconvkit.operators import extended_shape
from deconvkit.solvers import Callback

SPACING = (0.2, 0.1, 0.1)


def shape(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("x"))


class _Means(Callback):
    """The model A x + b at every 5th iteration."""

    def __init__(self, problem):
        self.problem, self.means = problem, {}

    def step(self, state):
        if state.iteration % 5 == 0:
            model = np.asarray(self.problem.forward @ state.x, np.float64)
            self.means[state.iteration] = model + self.problem.background


def pure_stop(y, psf, method, max_iter, threads) -> int:
    """The iteration (a multiple of 5) of least projected PURE along the method's run."""
    chosen = plan(y, psf, method, background=10, spacing=SPACING, max_iter=max_iter)
    signs = np.random.default_rng(0).integers(0, 2, size=y.shape) * 2.0 - 1.0
    probe = np.sqrt(np.maximum(y.astype(np.float64), 0)) * signs
    moved = np.maximum(y + RISK_PROBE * probe, 0).astype(np.float32)
    runs = []
    for data in (y, moved):
        problem = chosen.problem(data, None)
        solver = chosen.method.build(problem, clip_negative=chosen.values["clip_negative"],
                                     **chosen.own)
        means = _Means(problem)
        with backend.fft_workers(threads):
            solver.run(x0=chosen._start(problem), max_iter=max_iter, callbacks=[means])
        runs.append(means.means)
    weights = risk_filter(_field_otf2(chosen, y))
    risk = {k: projected_pure(y, runs[0][k], runs[1][k], probe, weights, RISK_PROBE)
            for k in runs[0]}
    return min(risk, key=risk.get)


def split_stop(y, psf, method, max_iter, threads, seed) -> int:
    """The iteration (a multiple of 5) of least two-fold held-out Poisson NLL on split data."""
    counts = np.rint(np.maximum(y, 0)).astype(np.int64)
    first = np.random.default_rng(seed + 100).binomial(counts, 0.5)
    halves = first.astype(np.float32), (counts - first).astype(np.float32)
    total: dict[int, float] = {}
    for fit, held in (halves, halves[::-1]):
        chosen = plan(fit, psf, method, background=5, spacing=SPACING, max_iter=max_iter)
        problem = chosen.problem(fit, None)
        solver = chosen.method.build(problem, clip_negative=chosen.values["clip_negative"],
                                     **chosen.own)
        means = _Means(problem)
        with backend.fft_workers(threads):
            solver.run(x0=chosen._start(problem), max_iter=max_iter, callbacks=[means])
        held = held.astype(np.float64)
        for k, mean in means.means.items():
            if k > 0:
                score = float(np.sum(mean - held * np.log(np.maximum(mean, 1e-12))))
                total[k] = total.get(k, 0.0) + score
    return min(total, key=total.get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["rl", "rl-accelerated", "lw"])
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--field", type=shape, default=(24, 96, 96))
    parser.add_argument("--kinds", nargs="+", default=["beads", "filaments", "cytoplasm"])
    parser.add_argument("--photons", nargs="+", type=float, default=[50, 300, 1000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pure", action="store_true", help="also the PURE-based stop")
    parser.add_argument("--split", action="store_true",
                        help="also the data-split cross-validation, alone and with the "
                             "discrepancy")
    args = parser.parse_args()
    field = args.field
    psf_shape = tuple(n - 1 if n % 2 == 0 else n for n in field[:1]) + tuple(
        n // 2 - 1 if (n // 2) % 2 == 0 else n // 2 for n in field[1:])  # fmt: skip
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    print(f"field {field}, PSF {psf_shape}, cap {args.max_iter} iterations")
    print(f"{'method':15s} {'object':10s} {'photons':>7s} {'best NRMSE':>10s} {'at':>5s} "
          f"{'auto stop':>9s} {'its NRMSE':>9s} {'excess':>7s}"
          + (f" {'PURE stop':>9s} {'excess':>7s} {'later':>5s} {'excess':>7s}" if args.pure
             else "")
          + (f" {'split':>5s} {'excess':>7s} {'both':>5s} {'excess':>7s}" if args.split
             else ""))
    misses, total, pure_misses = 0, 0, 0
    split_misses, both_misses, pure_both_misses = 0, 0, 0
    for method in args.methods:
        for kind in args.kinds:
            for photons in args.photons:
                obj = dk.simulate.phantom(extended_shape(field, psf_shape), SPACING, kind=kind,
                                          seed=args.seed)  # fmt: skip
                y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                               background=10, seed=args.seed + 1)  # fmt: skip
                common = {"background": 10, "spacing": SPACING, "max_iter": args.max_iter}
                with backend.fft_workers(args.threads):
                    full = dk.methods.run(y, psf, method, ground_truth=truth, **common)
                    auto = dk.methods.run(y, psf, method, stop="auto", **common)
                iterations = np.array(full.history["iteration"])
                values = np.array(full.history["nrmse"])
                best = float(values.min())
                stopped = auto.n_iter
                reached = float(values[np.argmin(np.abs(iterations - stopped))])
                excess = reached / best - 1
                total += 1
                misses += excess > 0.10
                where = "cap" if stopped >= args.max_iter else str(stopped)
                extra = ""
                if args.pure:
                    at = pure_stop(y, psf, method, args.max_iter, args.threads)
                    pure_excess = float(values[np.argmin(np.abs(iterations - at))]) / best - 1
                    pure_misses += pure_excess > 0.10
                    later = max(at, stopped)
                    later_excess = float(values[np.argmin(np.abs(iterations - later))]) / best - 1
                    pure_both_misses += later_excess > 0.10
                    extra = f" {at:9d} {pure_excess:+7.1%} {later:5d} {later_excess:+7.1%}"
                if args.split:
                    at = split_stop(y, psf, method, args.max_iter, args.threads, args.seed)
                    both = max(at, stopped)
                    split_excess, both_excess = (
                        float(values[np.argmin(np.abs(iterations - k))]) / best - 1
                        for k in (at, both))
                    split_misses += split_excess > 0.10
                    both_misses += both_excess > 0.10
                    extra += f" {at:5d} {split_excess:+7.1%} {both:5d} {both_excess:+7.1%}"
                print(f"{method:15s} {kind:10s} {photons:7g} {best:10.4f} "
                      f"{int(iterations[np.argmin(values)]):5d} {where:>9s} {reached:9.4f} "
                      f"{excess:+7.1%}{extra}", flush=True)
    print(f"\nwithin 10 % of the best: {total - misses} of {total}")
    if args.pure:
        print(f"the PURE-based stop: {total - pure_misses} of {total}; with the discrepancy "
              f"(the later of the two): {total - pure_both_misses} of {total}")
    if args.split:
        print(f"the split cross-validation: {total - split_misses} of {total}; with the "
              f"discrepancy (the later of the two): {total - both_misses} of {total}")


if __name__ == "__main__":
    main()
