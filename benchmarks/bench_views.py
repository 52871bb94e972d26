"""Joint deconvolution of several views against the best single view and the sum of the views.

Three simulated cases, registered views of one phantom at one voxel size:

* ``4 views``: widefield PSFs elongated along z, y, x and the y = x diagonal
  (the blur of a multi-view light sheet's detection axes, views registered);
* ``8 views``: the elongation turned in the z–x plane in steps of 22.5°;
* ``32 views``: the 32 elements of an Airyscan detector (``deconvkit.psf.airyscan``,
  each element's share of the light kept: ``normalize="together"``).

Each view is ``deconvkit.simulate.observe`` of the same object (photons per
voxel, Poisson noise, background). Methods, each at its best iteration
(NRMSE after the best affine fit, ``deconvkit.metrics.nrmse``, against the
ground truth along the run):

* best single view: Richardson–Lucy on each view alone, the best of them;
* sum of views: RL on ``Σ_v y_v`` with the PSF ``Σ_v h_v`` (what one gets by
  adding the channels first, e.g. the Airyscan's confocal sum);
* joint, simultaneous: ``MultiViewRichardsonLucy(views.data)``;
* joint, ordered subsets: ``MultiViewRichardsonLucy(views.data, subsets=V)``, one
  view per sub-iteration (and, for 32 views, 8 and 4 subsets of 4 and 8 views).

"passes" counts passes over all the data (one pass: one forward and one
adjoint blur per view). "passes to 1 %" is the first pass at which a joint
run comes within 1 % of the simultaneous run's best NRMSE (ordered subsets
end in a limit cycle slightly above it, so the exact best is not the mark).

Run: ``python benchmarks/bench_views.py`` (about 10 minutes on two idle cores);
``--quick`` for a smaller field.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deconvkit as dk
from deconvkit.operators import extended_shape
from deconvkit.solvers import MultiViewRichardsonLucy, RichardsonLucy, build_views


#: "Reaching the simultaneous quality": an NRMSE within 1% of the simultaneous run's best.
TOLERANCE = 1.01


def elongated_gaussian(shape, spacing, direction, sigma=0.12, long=0.45):
    """A Gaussian PSF (µm widths) elongated along ``direction`` (z, y, x), sum 1."""
    axes = [(np.arange(n) - n // 2) * d for n, d in zip(shape, spacing)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    u = np.asarray(direction, float) / np.linalg.norm(direction)
    along = grid @ u
    across2 = np.sum(grid**2, axis=-1) - along**2
    h = np.exp(-0.5 * (along**2 / long**2 + across2 / sigma**2))
    return (h / h.sum()).astype(np.float32)


def case_psfs(name, spacing):
    if name == "4 views":
        directions = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 1)]
        return [elongated_gaussian((15, 21, 21), spacing, d) for d in directions], None
    if name == "8 views":
        angles = np.deg2rad(np.arange(8) * 22.5)
        directions = [(np.cos(a), 0.0, np.sin(a)) for a in angles]
        return [elongated_gaussian((15, 21, 21), spacing, d) for d in directions], None
    psfs = dk.psf.airyscan(
        (15, 25, 25),
        spacing,
        na=1.4,
        wavelength=0.52,
        excitation_wavelength=0.488,
        ni=1.515,
        normalize="together",
        oversample=2,
    )
    return list(psfs), psfs.sum(axis=(1, 2, 3))


def best_of(result):
    iteration, value = result.best("nrmse")
    return value, iteration


def run_case(name, field, spacing, photons, background, max_iter, seed=0):
    psfs, shares = case_psfs(name, spacing)
    n = len(psfs)
    domain = extended_shape(field, psfs[0].shape)
    obj = dk.simulate.phantom(domain, spacing, kind="mixed", seed=seed)
    obj = obj * (photons / obj.max())
    # each view gets the object through its PSF; Airyscan elements their share of the light
    brightness = np.full(n, 1.0) if shares is None else shares / shares.max()
    views, truth = [], None
    for v, h in enumerate(psfs):
        obs = dk.simulate.observe(
            obj * float(brightness[v]),
            h,
            photons=None,
            background=background,
            field_shape=field,
            seed=seed + 1 + v,
        )
        views.append(obs.data)
        truth = obs.ground_truth / float(brightness[v])
    psfs_scaled = [h / h.sum() * b for h, b in zip(psfs, brightness)]
    rows = {}

    singles = []
    for y, h in zip(views, psfs):
        single = build_views([y], [h], backgrounds=background)
        result = RichardsonLucy(single.data[0], track_objective=False).run(
            max_iter=max_iter, ground_truth=truth
        )
        singles.append(best_of(result))
    rows["best single view"] = min(singles) + (None, None)

    total = np.sum(views, axis=0)
    summed_psf = np.sum(psfs_scaled, axis=0)
    added = build_views([total], [summed_psf], backgrounds=n * background)
    result = RichardsonLucy(added.data[0], track_objective=False).run(
        max_iter=max_iter, ground_truth=truth
    )
    rows["sum of views"] = best_of(result) + (None, None)

    joint = build_views(views, psfs_scaled, backgrounds=background, normalize=False)
    runs = [("joint, simultaneous", 1), (f"joint, ordered subsets ({n} x 1 view)", n)]
    if n > 8:
        runs += [
            (f"joint, ordered subsets (8 x {n // 8} views)", 8),
            (f"joint, ordered subsets (4 x {n // 4} views)", 4),
        ]
    target = None
    for label, subsets in runs:
        solver = MultiViewRichardsonLucy(joint.data, subsets=subsets, track_objective=False)
        t0 = time.perf_counter()
        result = solver.run(max_iter=max_iter, ground_truth=truth)
        per_pass = (time.perf_counter() - t0) / result.n_iter
        curve = np.asarray(result.history["nrmse"])
        if target is None:  # within 1% of the simultaneous run's best
            target = TOLERANCE * float(np.nanmin(curve))
        reached = np.nonzero(curve <= target)[0]
        match = int(result.history["iteration"][reached[0]]) if reached.size else "not reached"
        rows[label] = best_of(result) + (per_pass, match)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a 16x48x48 field, 40 passes (else 20x56x56, 60)"
    )
    args = parser.parse_args()
    spacing = (0.15, 0.04, 0.04)
    field = (16, 48, 48) if args.quick else (20, 56, 56)
    max_iter = 40 if args.quick else 60
    print(
        f"field {field}, voxel {spacing} µm, phantom 'mixed', peak 30 photons/view, background 5, "
        f"up to {max_iter} passes\n"
    )
    print(
        "| case | method | best NRMSE | at pass | s / pass | passes to 1 % of simultaneous best |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("4 views", "8 views", "32 views"):
        rows = run_case(name, field, spacing, photons=30.0, background=5.0, max_iter=max_iter)
        for method, (value, iteration, per_pass, match) in rows.items():
            timing = f"{per_pass:.3f}" if per_pass is not None else ""
            matched = "" if match is None else str(match)
            print(
                f"| {name} | {method} | {value:.4f} | {iteration} | {timing} | {matched} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
