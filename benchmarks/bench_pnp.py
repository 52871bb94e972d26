"""Plug-and-play ADMM (a denoiser as the prior) against ADMM-TV, ADMM-Hessian and accelerated RL.

Simulated widefield cases (``deconvkit.simulate``: phantom, Gaussian PSF,
Poisson noise and background), each method at its best parameter on a small
grid, NRMSE after the best affine fit (``deconvkit.metrics.nrmse``) and wall time:

* ``rl-accelerated``: ``deconvkit.methods.run(..., method="rl-accelerated")``,
  its best iteration of 50 (early stopping is its regularization);
* ``admm-tv`` / ``admm-hessian``: ``lam`` in {0.001, 0.003, 0.01}, 50 iterations;
* PnP-ADMM: ``ADMM([Poisson @ (S @ H), PlugAndPlay(D, λ), NonNegative()])``,
  the penalties at 0.02 of the default (as the catalogue's Poisson ADMM methods),
  the denoiser's σ = sqrt(λ/ρ) in {0.5, 2, 8, 32} photons, 50 iterations (NL-means:
  ``NonLocalMeans(patch_size=3, patch_distance=2)``; wavelets: BayesShrink, db1);
  BM4D (``bm4d`` package, when installed): 12 iterations only, at
  NL-means' best σ, on the first case only (it takes seconds per call), with
  NL-means at 12 iterations beside it.

The last iterate is scored for the regularized methods. A denoiser is not a
true prox: PnP has no objective, and its convergence here is empirical.

Run: ``python benchmarks/bench_pnp.py`` (``--no-bm4d`` to skip BM4D).
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

import deconvkit as dk
from deconvkit.costs import (
    BM4D,
    NonLocalMeans,
    NonNegative,
    PlugAndPlay,
    PoissonLikelihood,
    WaveletShrinkage,
)
from deconvkit.operators import Blur, Crop, extended_shape
from deconvkit.solvers import ADMM

SPACING = (0.2, 0.1, 0.1)
FIELD = (12, 32, 32)
BACKGROUND = 10.0
#: ADMM's penalty on a Poisson term relative to its default, as in the catalogue's ADMM methods.
POISSON_PENALTY = 0.02


def make_case(kind, seed):
    psf = dk.psf.gaussian((9, 15, 15), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape(FIELD, psf.shape), SPACING, kind=kind, seed=seed)
    obs = dk.simulate.observe(
        obj, psf, photons=200, background=BACKGROUND, field_shape=FIELD, seed=seed + 1
    )
    return obs.data, obs.ground_truth, psf


def catalogue(y, truth, psf, method, **params):
    t0 = time.perf_counter()
    result = dk.methods.run(
        y, psf, method, ground_truth=truth, background=BACKGROUND, spacing=SPACING, **params
    )
    elapsed = time.perf_counter() - t0
    if method == "rl-accelerated":
        iteration, value = result.best("nrmse")
        return value, elapsed, f"iteration {iteration}"
    return (
        float(result.history["nrmse"][-1]),
        elapsed,
        ", ".join(f"{k}={v}" for k, v in params.items()),
    )


def pnp_admm(y, truth, psf, denoiser, sigma, max_iter):
    shape = extended_shape(y.shape, psf.shape)
    A = Crop(shape, y.shape) @ Blur(psf / psf.sum(), shape)
    data = PoissonLikelihood(y, background=BACKGROUND) @ A
    probe = ADMM([data, PlugAndPlay(denoiser, 1.0), NonNegative()])
    rho = [POISSON_PENALTY * r for r in probe.rho]
    prior = PlugAndPlay(denoiser, sigma**2 * rho[1])  # σ² = λ/ρ
    solver = ADMM([data, prior, NonNegative()], rho=rho)
    solver.tracks_objective = False  # a denoiser has no objective
    x0 = np.full(shape, max(float(np.mean(y)) - BACKGROUND, 1.0), np.float32)
    x0[tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(shape, y.shape))] = np.clip(
        y - BACKGROUND, 0, None
    )
    t0 = time.perf_counter()
    result = solver.run(x0=x0, max_iter=max_iter, ground_truth=truth)
    elapsed = time.perf_counter() - t0
    if result.diverged:
        return np.inf, elapsed, f"σ={sigma:g}: {result.stop_reason}"
    return float(result.history["nrmse"][-1]), elapsed, f"σ={sigma:g}"


def best(rows):
    return min(rows, key=lambda r: r[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-bm4d", action="store_true", help="skip PnP-ADMM with BM4D")
    args = parser.parse_args()
    use_bm4d = not args.no_bm4d and importlib.util.find_spec("bm4d") is not None
    print(
        f"field {FIELD}, voxel {SPACING} µm, Gaussian PSF NA 1.2, peak 200 photons, background "
        f"{BACKGROUND:g}; parameter grids in the script's notes\n"
    )
    print("| case | method | NRMSE | s (best run) | best parameter |")
    print("| --- | --- | --- | --- | --- |")
    for number, kind in enumerate(("filaments", "shells")):
        y, truth, psf = make_case(kind, seed=10 * number)
        table = {
            "data (no deconvolution)": (dk.metrics.nrmse(y, truth), 0.0, ""),
            "rl-accelerated": catalogue(y, truth, psf, "rl-accelerated", max_iter=50),
        }
        for method in ("admm-tv", "admm-hessian"):
            table[method] = best(
                [
                    catalogue(y, truth, psf, method, lam=lam, max_iter=50)
                    for lam in (0.001, 0.003, 0.01)
                ]
            )
        sigmas = (0.5, 2.0, 8.0, 32.0)
        nlm = [pnp_admm(y, truth, psf, NonLocalMeans(3, 2), s, 50) for s in sigmas]
        table["PnP-ADMM, NL-means"] = best(nlm)
        table["PnP-ADMM, wavelets"] = best(
            [pnp_admm(y, truth, psf, WaveletShrinkage(), s, 50) for s in sigmas]
        )
        if use_bm4d and number == 0:
            centre = float(table["PnP-ADMM, NL-means"][2].split("=")[1])
            # BM4D takes seconds a call: 12 iterations, and NL-means at the same count beside it
            table["PnP-ADMM, NL-means, 12 iterations"] = pnp_admm(
                y, truth, psf, NonLocalMeans(3, 2), centre, 12
            )
            table["PnP-ADMM, BM4D, 12 iterations"] = pnp_admm(y, truth, psf, BM4D(), centre, 12)
        for method, (value, elapsed, note) in table.items():
            print(f"| {kind} | {method} | {value:.4f} | {elapsed:.1f} | {note} |", flush=True)


if __name__ == "__main__":
    main()
