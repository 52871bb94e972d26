"""rl-wb and the extended domain's margin: the voxels its back projector does not reach,
and the same stack without a margin.

Run: python benchmarks/bench_wb_margin.py [--floors 0.3 0.1 0.05 0.02 0.01]
     [--large] [--threads 2] [--objects] [--parameters]

Part 1, on the speed benchmark's 32x128x128 stack (``--large``: 64x256x256; mixed
phantom, vectorial PSF NA 1.3 oil, 300 photons, background 10, seed 3): for each
relative level of ``B S^H 1`` below which the back projector does not reach a voxel
(``RichardsonLucy.back_projector_floor``), rl-wb's best NRMSE within 5 iterations and
within 30, and the first iteration within 2 % of rl-accelerated's best in 60; with the
margin beyond the reach frozen at 0 (``frozen``: rl-wb before the matched update) and
with the matched update there (``matched``: rl-wb now), then with momentum and
Biggs–Andrews extrapolation on top (``acceleration=``).

Part 2, the same phantom and PSF on a periodic stack of the field's size
(blurred circularly and solved with ``boundary="periodic"``: no margin): rl-wb
(α = 0.05 and 0.2) against rl-accelerated's best, and the first iteration each
comes within 2 % of it. Where rl-wb comes close here and not in part 1, the gap
is the margin, not the filter.

Part 3, tiles: the tiling test's case (12x48x48, Gaussian PSF, 3x3 tiles of
12x20x20, 5 and 10 iterations): tiled against untiled (relative RMS) and each's
NRMSE to the truth, per level and margin.

Part 4 (``--objects``, about 10 minutes): on 32x128x128 stacks of each phantom
(mixed, beads, filaments, cytoplasm) at 50, 300 and 1000 photons, rl-wb's best NRMSE
in 30 iterations (and its iteration) with the margin frozen and matched, as a ratio
to rl-accelerated's best in 100.

Part 5 (``--parameters``, about 2 minutes; 20 with ``--large``): can any setting of the
back projector reach within 2 % of rl-accelerated's best in 5 iterations? On part 1's
stack, rl-wb's NRMSE at each of its first 10 iterations over rl-accelerated's best in
100, for α from 0.01 to 0.2 with each acceleration; then β (the gain at the cut-off)
and the cut-off itself at 1.5× and 2× 1/FWHM (clamped at Nyquist) at α = 0.05; then
with an exact line search along the step (``LineSearchRL``: a candidate tried and left
out, below), which keeps an aggressive back projector from overshooting.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from unittest import mock

import numpy as np

import deconvkit as dk
import deconvkit.methods._iterative as iterative_methods
from deconvkit import backend
from deconvkit.backend import kernels
from deconvkit.operators import extended_shape, fwhm_voxels, wiener_butterworth
from deconvkit.solvers import RichardsonLucy

SPACING = (0.2, 0.1, 0.1)
TILE_SPACING = (0.3, 0.1, 0.1)  # the tiling test's


def best(history, last: int) -> tuple[float, int]:
    """(least NRMSE, its iteration) among iterations 1 to ``last``."""
    rows = [(v, i) for i, v in zip(history["iteration"], history["nrmse"]) if 1 <= i <= last]
    return min(rows)


def first_within(history, target: float, share: float = 0.02):
    """The first iteration whose NRMSE is within ``share`` of ``target``, or None."""
    return next((i for i, v in zip(history["iteration"], history["nrmse"])
                 if i > 0 and v <= (1 + share) * target), None)


@contextlib.contextmanager
def margin(kind: str, floor: float) -> Iterator[None]:
    """rl-wb at this reach level, its margin beyond ``"matched"`` or ``"frozen"`` at 0."""
    built = RichardsonLucy.__init__

    def frozen(self, *args, **kwargs):
        built(self, *args, **kwargs)
        if self.matched_region is not None:  # the voxels beyond the reach: unobserved
            self.inverse_normalization[self.matched_region] = 0
            self._matched_region = None

    with mock.patch.object(RichardsonLucy, "back_projector_floor", floor), \
            mock.patch.object(RichardsonLucy, "__init__",
                              frozen if kind == "frozen" else built):
        yield


def margin_sweep(field, psf_shape, floors, threads) -> None:
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=3)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=4)
    common = dict(background=10, spacing=SPACING, ground_truth=truth)
    with backend.fft_workers(threads):
        reference = dk.methods.run(y, psf, "rl-accelerated", max_iter=60, **common)
        target, at = best(reference.history, 60)
        print(f"\n## The margin: field {'x'.join(map(str, field))}, PSF "
              f"{'x'.join(map(str, psf_shape))}; rl-accelerated's best {target:.4f} at {at}, "
              f"within 2 % of it from iteration {first_within(reference.history, target)}")
        print(f"{'margin':8s} {'floor':>6s} {'acceleration':>13s} {'best <= 5 it':>13s} "
              f"{'/ rla best':>10s} {'best <= 30 it':>14s} {'within 2 %':>10s}")
        rows = [(kind, floor, "none") for kind in ("frozen", "matched") for floor in floors]
        rows += [("matched", RichardsonLucy.back_projector_floor, a)
                 for a in ("momentum", "biggs-andrews")]
        for kind, floor, acceleration in rows:
            with margin(kind, floor):
                result = dk.methods.run(y, psf, "rl-wb", max_iter=30,
                                        acceleration=acceleration, **common)
            five, thirty = best(result.history, 5), best(result.history, 30)
            near = first_within(result.history, target)
            print(f"{kind:8s} {floor:6g} {acceleration:>13s} {five[0]:9.4f} @{five[1]:<2d} "
                  f"{five[0] / target:10.3f} {thirty[0]:10.4f} @{thirty[1]:<2d} "
                  f"{near if near else 'never':>10}")

        obj = dk.simulate.phantom(field, SPACING, kind="mixed", seed=3)
        y, truth = dk.simulate.observe(obj, psf, photons=300, background=10, seed=4,
                                       boundary="periodic")  # circular blur: no margin
        common = dict(background=10, spacing=SPACING, ground_truth=truth, boundary="periodic")
        reference = dk.methods.run(y, psf, "rl-accelerated", max_iter=60, **common)
        target, at = best(reference.history, 60)
        print(f"\n## No margin (periodic, {'x'.join(map(str, field))}): rl-accelerated's best "
              f"{target:.4f} at {at}")
        within = [i for i, v in zip(reference.history["iteration"], reference.history["nrmse"])
                  if i > 0 and v <= 1.02 * target]
        print(f"rl-accelerated first within 2 % of its best at iteration {within[0]}")
        for alpha in (0.05, 0.2):
            result = dk.methods.run(y, psf, "rl-wb", max_iter=20, alpha=alpha, **common)
            value, iteration = best(result.history, 20)
            five = best(result.history, 5)
            near = [i for i, v in zip(result.history["iteration"], result.history["nrmse"])
                    if i > 0 and v <= 1.02 * target]
            print(f"rl-wb alpha={alpha:<5g} best {value:.4f} at {iteration} "
                  f"({value / target:.3f} x rl-accelerated's best); best in 5 iterations "
                  f"{five[0]:.4f} ({five[0] / target:.3f} x); within 2 % from iteration "
                  f"{near[0] if near else 'never'}")


def tiles(floors) -> None:
    psf = dk.psf.gaussian((7, 13, 13), TILE_SPACING, na=1.2, wavelength=0.52, ni=1.33)
    field = (12, 48, 48)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), TILE_SPACING,
                              kind="mixed", seed=5)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=6)
    print("\n## Tiles: 12x48x48 in 3x3 tiles of 12x20x20")
    print(f"{'margin':8s} {'floor':>6s} {'its':>4s} {'tiled vs whole':>15s} "
          f"{'NRMSE whole':>12s} {'NRMSE tiled':>12s}")
    common = dict(spacing=TILE_SPACING, background=10.0)
    for kind in ("frozen", "matched"):
        for floor in floors:
            for iterations in (5, 10):
                with margin(kind, floor), np.errstate(all="ignore"):
                    whole = dk.deconvolve(y, psf, "rl-wb", max_iter=iterations, **common)
                    tiled = dk.deconvolve(y, psf, "rl-wb", max_iter=iterations,
                                          tile_shape=(12, 20, 20), **common)
                    gap = float(np.sqrt(np.mean((tiled - whole) ** 2) / np.mean(whole**2)))
                print(f"{kind:8s} {floor:6g} {iterations:4d} {gap:15.4f} "
                      f"{dk.metrics.nrmse(whole, truth):12.4f} "
                      f"{dk.metrics.nrmse(tiled, truth):12.4f}")


def objects(threads) -> None:
    field, psf_shape = (32, 128, 128), (31, 63, 63)
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    print("\n## Objects: 32x128x128; best NRMSE over rl-accelerated's best in 100 (at)")
    print(f"{'phantom':10s} {'photons':>7s} {'rl-accelerated':>15s} {'rl-wb frozen':>13s} "
          f"{'rl-wb matched':>14s}")
    for kind in ("mixed", "beads", "filaments", "cytoplasm"):
        for photons in (50, 300, 1000):
            obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind=kind,
                                      seed=3)
            y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=photons,
                                           background=10, seed=4)
            common = dict(background=10, spacing=SPACING, ground_truth=truth)
            with backend.fft_workers(threads):
                reference = best(dk.methods.run(y, psf, "rl-accelerated", max_iter=100,
                                                **common).history, 100)
                cells = [f"{reference[0]:9.4f} @{reference[1]:<3d}"]
                for kind_of_margin in ("frozen", "matched"):
                    with margin(kind_of_margin, RichardsonLucy.back_projector_floor):
                        value, at = best(dk.methods.run(y, psf, "rl-wb", max_iter=30,
                                                        **common).history, 30)
                    cells.append(f"{value / reference[0]:8.3f} @{at:<3d}")
            print(f"{kind:10s} {photons:7d} {cells[0]:>15s} {cells[1]:>13s} {cells[2]:>14s}",
                  flush=True)


class LineSearchRL(RichardsonLucy):
    r"""RL (or rl-wb) with an exact line search along its step: a candidate, NumPy only.

    With :math:`\tilde x` the RL update of :math:`x_k`, the step :math:`d = \tilde x - x_k`
    and :math:`x_{k+1} = x_k + t d`, :math:`t \in [0, t_{\max}]` (:math:`t_{\max}` keeps
    :math:`x \ge 0`, at most 10) minimizing the Poisson negative log-likelihood
    :math:`\varphi(t) = \sum (\mu + t\,SHd) - y \log(\mu + t\,SHd)` (convex; safeguarded
    Newton). The model is linear in t, so :math:`\mu_{k+1} = \mu_k + t\,SHd` costs no blur:
    an iteration is still one forward and one back projection. A step that is not a
    descent direction gets t = 0 (the iteration then stays where it is).
    """

    t_cap = 10.0

    def _start(self, x0):
        x0 = super()._start(x0)
        self._mu, self.steps = None, []
        return x0

    @staticmethod
    def _step_length(mu, hd, y, t_max):
        mu, hd, y = (np.asarray(a, np.float64) for a in (mu, hd, y))
        total = hd.sum()

        def slope_and_curvature(t):
            m = mu + t * hd
            return total - np.sum(y * hd / m), np.sum(y * hd * hd / (m * m))

        if slope_and_curvature(0.0)[0] >= 0:
            return 0.0
        low, high, t = 0.0, t_max, min(1.0, t_max)
        for _ in range(8):
            slope, curvature = slope_and_curvature(t)
            low, high = (low, t) if slope > 0 else (t, high)
            proposal = t - slope / curvature if curvature > 0 else high
            if not low < proposal < high:
                proposal = 0.5 * (low + high)
            if abs(proposal - t) < 1e-3 * t:
                return proposal
            t = proposal
        return t

    def _iterate(self, x):
        self._k += 1
        if self._mu is None:
            self._mu = self._model(x).copy()  # S H x on the field
        ratio = self._mu.copy()
        kernels.rl_ratio(self.y, ratio, self.background)
        step = np.empty_like(x)
        self._change = kernels.rl_update(x, self._back(ratio), self.inverse_normalization, step)
        step -= x
        hd = self._model(step).copy()
        falling = step < 0
        t_max = min(float(np.min(x[falling] / -step[falling])) if falling.any() else self.t_cap,
                    self.t_cap)
        t = self._step_length(self._mu + self.background, hd, self.y, t_max)
        self.steps.append(t)
        x += np.float32(t) * step
        np.maximum(x, 0, out=x)
        self._mu += np.float32(t) * hd
        return x


def parameters(field, psf_shape, threads) -> None:
    psf = dk.psf.vectorial(psf_shape, SPACING, na=1.3, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="mixed", seed=3)
    y, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10,
                                   seed=4)
    common = dict(background=10, spacing=SPACING, ground_truth=truth)

    def curve(result, target):
        return " ".join(f"{v / target:.3f}" for i, v in
                        zip(result.history["iteration"], result.history["nrmse"]) if i >= 1)

    def scaled_cutoff(scale):
        def build(psf, shape, **options):
            widths = fwhm_voxels(np.asarray(psf, np.float64) / float(np.sum(psf)))
            cutoff = tuple(min(scale / max(w, 1.0), 0.5) for w in widths)
            return wiener_butterworth(psf, shape, cutoff=cutoff, **options)
        return build

    with backend.fft_workers(threads):
        target, at = best(dk.methods.run(y, psf, "rl-accelerated", max_iter=100,
                                         **common).history, 100)
        print(f"\n## The back projector's parameters: field {'x'.join(map(str, field))}; "
              f"NRMSE at iterations 1-10 over rl-accelerated's best ({target:.4f} at {at})")
        rows = [(f"alpha={a:g} {acc}", dict(alpha=a, acceleration=acc), None, None)
                for a in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
                for acc in ("none", "momentum", "biggs-andrews")]
        rows += [(f"alpha=0.05 beta={b:g}", dict(beta=b), None, None) for b in (0.01, 0.1)]
        rows += [(f"alpha=0.05 cut-off x{c:g}", {}, scaled_cutoff(c), None) for c in (1.5, 2)]
        rows += [(f"line search rl-wb alpha={a:g}", dict(alpha=a), None, LineSearchRL)
                 for a in (0.01, 0.02, 0.05)]
        rows += [("line search rl", {}, None, LineSearchRL)]
        for label, options, builder, solver in rows:
            method = "rl" if label == "line search rl" else "rl-wb"
            with contextlib.ExitStack() as patches:
                if builder is not None:
                    patches.enter_context(mock.patch.object(
                        iterative_methods, "wiener_butterworth", builder))
                if solver is not None:
                    patches.enter_context(mock.patch.object(
                        iterative_methods, "RichardsonLucy", solver))
                result = dk.methods.run(y, psf, method, max_iter=10, **options, **common)
            print(f"{label:34s} {curve(result, target)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floors", nargs="+", type=float,
                        default=[0.3, 0.1, 0.05, 0.02, 0.01])
    parser.add_argument("--large", action="store_true", help="the 64x256x256 stack")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--objects", action="store_true",
                        help="part 4 only: rl-wb on each phantom and photon count")
    parser.add_argument("--parameters", action="store_true",
                        help="part 5 only: α, β, the cut-off, accelerations, a line search")
    args = parser.parse_args()
    if args.objects:
        objects(args.threads)
        return
    field, psf_shape = ((64, 256, 256), (63, 127, 127)) if args.large else \
        ((32, 128, 128), (31, 63, 63))
    if args.parameters:
        parameters(field, psf_shape, args.threads)
        return
    margin_sweep(field, psf_shape, args.floors, args.threads)
    tiles(args.floors)


if __name__ == "__main__":
    main()
