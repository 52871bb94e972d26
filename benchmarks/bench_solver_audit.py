"""Figures of the solver audit (issue 13): each item's before/after, printed.

Run: ``python benchmarks/bench_solver_audit.py [--quick] [--only NAME ...]``
(names: cache, steps, tvprox, admm, pdtv, adjoint, beads). ``--quick`` uses
smaller volumes for the timing (32x128x128 instead of 64x256x256) and fewer
ADMM iterations.

* cache: seconds per GradientDescent iteration on ½‖S H x − y‖², with the
  composition's content-keyed A x cache and without it;
* steps: ChambollePock's objective gap on a Laplacian-Tikhonov problem with
  the weight outside / inside the operator (the same now), and unweighted steps;
* tvprox: the iterative TV prox at tau = 0.05 and 4 (float32): relative excess
  over its optimum, its gap certificate, iterations, and two calls compared;
* admm: iterations of admm-tv / admm-hessian to reach given NRMSE ratios on the
  catalogue's 24x56x56 case, with the former penalties (1/mean(y) for every
  term, times the catalogue's 0.02 on Poisson data, no balancing) and the new;
* pdtv: pd-tv's objective gap to admm-tv's minimum after its 300 iterations;
* adjoint: check_adjoint's error on three planted bugs (32x64x64 float32),
  measured the former way (against the norms' product) and the new way;
* beads: from_beads' background and PSF centre on beads whose PSF tails cross
  the box faces, 'faces-median' (the former default) against 'auto'.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deconvkit as dk
from deconvkit import costs, metrics
from deconvkit import operators as ops
from deconvkit.solvers import ADMM, ChambollePock, GradientDescent, RelativeChange, solve_quadratic


def _gaussian(shape, sigma):
    grids = np.meshgrid(*[np.arange(n) - n // 2 for n in shape], indexing="ij")
    g = np.exp(-sum((a / s) ** 2 for a, s in zip(grids, sigma)) / 2)
    return g / g.sum()


def bench_cache(quick):
    import deconvkit.costs._base as base

    shape = (32, 128, 128) if quick else (64, 256, 256)
    ext = tuple(n + 16 for n in shape)
    rng = np.random.default_rng(0)
    H = ops.Blur(_gaussian((9, 9, 9), (2, 2, 2)).astype(np.float32), ext)
    S = ops.Crop(ext, shape)
    data = costs.LeastSquares(rng.random(shape).astype(np.float32)) @ (S @ H)
    solver = GradientDescent(data)
    timings = {}
    original = base.content_key
    for label, key in (("cached (content key)", original), ("no cache", lambda x: None)):
        base.content_key = key
        solver.run(max_iter=2)
        start = time.perf_counter()
        solver.run(max_iter=10)
        timings[label] = (time.perf_counter() - start) / 10
    base.content_key = original
    print(f"cache: GradientDescent on {'x'.join(map(str, ext))}: "
          + ", ".join(f"{k} {v * 1e3:.0f} ms/iteration" for k, v in timings.items()))


def bench_steps(quick):
    shape = (8, 16, 16)
    rng = np.random.default_rng(0)
    H = ops.Blur(_gaussian((5, 5, 5), (1, 1, 1)), shape)
    y = H @ rng.random(shape) + 0.01 * rng.standard_normal(shape)
    L = ops.Laplacian(shape, spacing=(0.2, 0.1, 0.1), dtype="float64")
    c = 0.05 / L.lipschitz**2
    weighted = [costs.LeastSquares(y) @ H, c * costs.SquaredL2() @ L]
    inside = [costs.LeastSquares(y) @ H, costs.SquaredL2() @ (np.sqrt(c) * L)]
    solution = solve_quadratic(weighted)
    best = sum(t(solution) for t in weighted)
    for label, terms, kwargs in (("weight outside", weighted, {}), ("weight inside", inside, {}),
                                 ("weight outside, diagonal steps", weighted, {"precondition": True})):
        for n in (300, 3000):
            x = ChambollePock(terms, **kwargs).run(max_iter=n).x
            gap = (sum(t(x) for t in weighted) - best) / best
            print(f"steps: ChambollePock, {label}, {n} iterations: objective gap {gap:.2e}")
    unweighted = ChambollePock(weighted)
    norm = float(np.sqrt(H.lipschitz**2 + L.lipschitz**2))
    unweighted.tau, unweighted.sigmas = 0.99 / norm, [1 / norm, 1 / norm]
    x = unweighted.run(max_iter=3000).x
    print(f"steps: unweighted steps (the former rule), 3000 iterations: objective gap "
          f"{(sum(t(x) for t in weighted) - best) / best:.2e}")


def bench_tvprox(quick):
    from deconvkit.costs._iterative import DualProx

    shape = (16, 32, 32)
    v = np.random.default_rng(0).random(shape).astype(np.float32)
    G = ops.Gradient(shape, spacing=(0.2, 0.1, 0.1))
    tv = costs.MixedNorm21() @ G
    for tau in (0.05, 4.0):
        exact = DualProx(costs.MixedNorm21(), G, max_iter=20000, tol=1e-12)(v.astype(np.float64), tau)
        phi = lambda z: 0.5 * np.sum((z.astype(np.float64) - v) ** 2) + tau * tv(z.astype(np.float64))
        prox = costs.MixedNorm21() @ G
        start = time.perf_counter()
        first = prox.prox(v, tau)
        seconds = time.perf_counter() - start
        inner = prox._special_prox
        gap, iterations = inner.last_gap, inner.last_iterations
        second = prox.prox(v, tau)
        print(f"tvprox: tau={tau:g}: excess {(phi(first) - phi(exact)) / phi(exact):.2e} "
              f"(certified gap {gap:.1e}), {iterations} iterations, "
              f"{seconds:.2f} s; second call differs by {np.abs(second - first).max():.1e}")


def _catalogue_case(kind):
    spacing = (0.25, 0.1, 0.1)
    psf = dk.psf.gaussian((9, 17, 17), spacing, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom((24, 56, 56), spacing, kind=kind, seed=3)
    return psf, dk.simulate.observe(obj, psf, photons=500, background=20.0, seed=4), spacing


def _former_rho(terms):
    from deconvkit.costs import Composition
    from deconvkit.solvers._terms import operator_norm

    rho0 = None
    for term in terms:
        value = term.cost.grad_lipschitz if term.cost.smooth else None
        if value:
            rho0 = max(rho0 or 0.0, float(value))
    if rho0 is None:
        for term in terms:
            y = getattr(term.cost, "y", None)
            if y is None and isinstance(term.cost, Composition):
                y = getattr(term.cost.cost, "y", None)
            if y is not None:
                rho0 = 1.0 / float(np.mean(np.abs(y)))
                break
    return [(rho0 or 1.0) / max(operator_norm(t.op), 1e-12) ** 2 for t in terms]


def bench_admm(quick):
    import deconvkit.methods._iterative as catalogue
    from deconvkit.methods import run

    def former(terms, data):
        split = ADMM(terms, balance=False).terms
        rho = _former_rho(split)
        return ADMM(terms, rho=[0.02 * r for r in rho] if data == "poisson" else rho, balance=False)

    new = catalogue._admm
    n = 60 if quick else 120
    for kind in ("filaments", "beads"):
        psf, observed, spacing = _catalogue_case(kind)
        before = metrics.nrmse(observed.data, observed.ground_truth)
        for method in ("admm-tv", "admm-hessian"):
            for data in ("poisson", "gaussian"):
                for label, build in (("former", former), ("new", new)):
                    catalogue._admm = build
                    result = run(observed.data, psf, method, background=20.0, spacing=spacing,
                                 ground_truth=observed.ground_truth, max_iter=n, data=data)
                    ratio = np.array(result.history["nrmse"]) / before
                    reach = {t: next((int(result.history["iteration"][k]) for k in range(len(ratio))
                                      if ratio[k] <= t), None) for t in (0.5, 0.45, 0.42)}
                    print(f"admm: {kind:9s} {method:12s} {data:8s} {label:6s} NRMSE ratio at 50: "
                          f"{ratio[min(50, len(ratio) - 1)]:.3f}, iterations to "
                          + ", ".join(f"{t}: {v}" for t, v in reach.items()))
        catalogue._admm = new


def bench_pdtv(quick):
    from deconvkit.methods import run
    from deconvkit.solvers import Callback

    class Grab(Callback):
        def begin(self, state):
            self.solver = state.solver

        def end(self, state):
            self.x = state.x

    psf, observed, spacing = _catalogue_case("filaments")
    admm, pd = Grab(), Grab()
    run(observed.data, psf, "admm-tv", background=20.0, spacing=spacing,
        max_iter=400 if quick else 1500, callbacks=[admm])
    result = run(observed.data, psf, "pd-tv", background=20.0, spacing=spacing, callbacks=[pd])
    objective = pd.solver._objective
    best = objective(np.maximum(admm.x, 0))
    print(f"pdtv: filaments 24x56x56, pd-tv after {result.n_iter} iterations: "
          f"{(objective(pd.x) - best) / best:.1e} above admm-tv's minimum; NRMSE ratio "
          f"{metrics.nrmse(result.x, observed.ground_truth) / metrics.nrmse(observed.data, observed.ground_truth):.3f}")


def bench_adjoint(quick):
    from deconvkit.testing import check_adjoint

    shape = (32, 64, 64)
    psf = _gaussian((31, 31, 31), (6, 6, 6)).astype(np.float32)

    class Scaled(ops.Blur):
        def _adjoint_apply(self, y):
            return super()._adjoint_apply(y) * y.dtype.type(1.001)

    class Shifted(ops.Blur):
        def _adjoint_apply(self, y):
            return np.roll(super()._adjoint_apply(y), 1, axis=-1)

    for label, kind in (("scaled by 1.001", Scaled), ("shifted by a voxel", Shifted)):
        op = kind(psf, shape)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.standard_normal(shape).astype(np.float32)
        ax, ahy = op @ x, op.H @ y
        left, right = np.vdot(y.astype(float), ax.astype(float)), np.vdot(ahy.astype(float), x.astype(float))
        former = abs(left - right) / max(np.linalg.norm(ax) * np.linalg.norm(y),
                                         np.linalg.norm(x) * np.linalg.norm(ahy))
        print(f"adjoint: {label}, float32 32x64x64: former error {former:.1e}, new "
              f"{check_adjoint(op, rtol=1.0):.1e} (tolerance 1e-4)")


def bench_beads(quick):
    from scipy.signal.windows import tukey

    spacing, box, wide = (0.2, 0.1, 0.1), (21, 31, 31), (41, 81, 81)
    window = tukey(wide[0], 0.3)[:, None, None] * tukey(wide[1], 0.3)[None, :, None]
    window = window * tukey(wide[2], 0.3)[None, None, :]
    psf = dk.psf.born_wolf(wide, spacing, 1.2, 0.6, 1.515, oversample=1).astype(float) * window
    centre = tuple(slice(n // 2 - b // 2, n // 2 + b // 2 + 1) for n, b in zip(wide, box))
    truth = psf[centre] / psf[centre].sum()
    rng = np.random.default_rng(0)
    shape = (56, 200, 200)
    stack = np.zeros(shape)
    for y in (50, 150):
        for x in (50, 150):
            region = tuple(slice(c - n // 2, c + n // 2 + 1) for c, n in zip((28, y, x), wide))
            stack[region] += rng.uniform(0.7, 1.3) * 1e6 * psf / psf.sum()
    stack = rng.poisson(stack + 100.0).astype(np.float32)
    for background in ("faces-median", "auto"):
        estimate, report = dk.psf.from_beads(stack, spacing, shape=box, taper=0.0, background=background)
        print(f"beads: background={background!r}: estimated {np.mean(report.backgrounds):.2f} "
              f"(true 100), PSF centre {estimate.max() / truth.max():.3f} x the truth's")


BENCHES = {"cache": bench_cache, "steps": bench_steps, "tvprox": bench_tvprox, "admm": bench_admm,
           "pdtv": bench_pdtv, "adjoint": bench_adjoint, "beads": bench_beads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=list(BENCHES), default=list(BENCHES))
    args = parser.parse_args()
    for name in args.only:
        BENCHES[name](args.quick)


if __name__ == "__main__":
    main()
