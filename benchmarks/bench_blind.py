"""Semi-blind (Zernike) and blind (RL) deconvolution on simulated aberrated stacks.

Run: python benchmarks/bench_blind.py [--case water|spherical|all] [--shape 16x48x48]
     [--photons 3000] [--psf-iter 10] [--max-iter 100] [--object filaments]

Cases (oil objective NA 1.3, ni 1.515, emission 0.52 µm, voxels 0.2 x 0.1 x 0.1 µm):

* ``water``: the source 10 µm deep in water (ns 1.33) plus 0.5 rad of primary
  spherical aberration (Z11); the estimator knows only NA, wavelength and ni
  and starts from the aberration-free model, so the Zernike modes must carry
  the whole index mismatch (its truth coefficients below are the least-squares
  projection of the true pupil phase on the estimated modes, the exact
  defocus and piston);
* ``spherical``: a matched medium with 0.5 rad of Z11 and 0.3 rad of
  astigmatism (Z6): exactly a Zernike pupil.

For each case it prints the PSF's NCC with the truth (start, semi-blind,
blind RL), the coefficients against the truth, and the object NRMSE
(``deconvkit.metrics.nrmse``) of Richardson-Lucy (``--max-iter`` iterations)
with (a) the wrong, aberration-free PSF, (b) the true PSF, and with the
semi-blind and blind estimates, with the share of the (a)-(b) gap closed.
The true PSFs and the estimates use 2x2x2 voxel integration.

``--measured PSF.tif``: the same comparison with a measured PSF as the truth,
e.g. the lattice light-sheet bead PSF of pycudadecon's test data
(``tests/test_data/psf.tif`` of https://github.com/tlambert03/pycudadecon,
61x128x128 at 0.1 µm, detection NA 1.1 in water; read from where you put it,
not copied here). It is cleaned by ``deconvkit.psf.prepare`` to
``--measured-shape`` and a stack of ``--object`` is imaged through it
(``--photons``); the estimators know only the detection optics
(``--measured-optics``) and start from their aberration-free widefield model,
or with ``--measured-sheet W`` from that model under a light sheet of FWHM W
µm (``sheet_fwhm``: known, not estimated; blind RL starts from it too).
No image recorded through that PSF is published with it, so the object is
simulated and the PSF is real. The PSF NCCs are printed in the whole box and
in its central third along z (where a widefield pupil model can describe a
light sheet's PSF: the sheet cuts the widefield cone beyond it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from deconvkit import blind_deconvolve, metrics, psf, simulate
from deconvkit.blind._common import Domain, run_rl
from deconvkit.operators import extended_shape
from deconvkit.psf._optics import build_optics, optical_path_difference

NA, WAVELENGTH, NI, SPACING = 1.3, 0.52, 1.515, (0.2, 0.1, 0.1)
MODES = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 22, 37)
CASES = {
    "water": {"optics": {"ns": 1.33, "depth": 10.0}, "coefficients": {11: 0.5}},
    "spherical": {"optics": {}, "coefficients": {11: 0.5, 6: 0.3}},
}


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = (np.asarray(v, float).ravel() for v in (a, b))
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def projected_truth(case: dict, modes: tuple[int, ...]) -> dict[int, float]:
    """Least-squares fit of the true pupil phase by piston, exact defocus and the Zernike modes."""
    optics = build_optics(NA, WAVELENGTH, NI, **case["optics"])
    x, w = np.polynomial.legendre.leggauss(160)
    rho, weight = (x + 1) / 2, w / 2 * (x + 1) / 2
    phi = np.arange(96) * 2 * np.pi / 96
    r, p = np.meshgrid(rho, phi, indexing="ij")
    phase = optics.wavenumber * optical_path_difference(optics, rho, np.zeros(1))[0].real
    truth = phase[:, None] + sum(v * psf.zernike_polynomial(j, r, p) for j, v in
                                 case["coefficients"].items())  # fmt: skip
    defocus = np.sqrt(NI**2 - (NA * r) ** 2)
    basis = [np.ones_like(r), defocus] + [psf.zernike_polynomial(j, r, p) for j in modes]
    a = np.stack([b.ravel() for b in basis], axis=1)
    sw = np.sqrt(np.repeat(weight, phi.size))
    solution = np.linalg.lstsq(a * sw[:, None], truth.ravel() * sw, rcond=None)[0]
    return dict(zip(modes, solution[2:]))


def observe_and_score(true_psf: np.ndarray, wrong_psf: np.ndarray, field: tuple[int, ...],
                      spacing: tuple[float, ...], args: argparse.Namespace):
    """The stack imaged through ``true_psf``, its truth, and RL's NRMSE with the wrong and true PSFs."""
    shape = true_psf.shape
    obj = simulate.phantom(extended_shape(field, shape), spacing, seed=0, kind=args.object)
    observation = simulate.observe(obj, true_psf, field_shape=field, photons=args.photons,
                                   background=10.0, seed=1)  # fmt: skip
    y, truth = observation.data, observation.ground_truth
    domain = Domain(field, shape)
    counts = np.clip(y, 0, None)

    def nrmse_with(h: np.ndarray) -> float:
        x = run_rl(domain, counts, 10.0, h, None, args.max_iter, "rl")[domain.window]
        return metrics.nrmse(x, truth)

    return y, truth, nrmse_with(wrong_psf), nrmse_with(true_psf)


def print_gap(labels: tuple[str, str], wrong: float, right: float, truth: np.ndarray,
              semi, semi_time: float, fish, fish_time: float) -> None:
    """The object NRMSE of each PSF and the share of the (a)-(b) gap the estimates close."""
    gap = wrong - right
    rows = [(labels[0], wrong, ""), (labels[1], right, ""),
            ("semi-blind", metrics.nrmse(semi.x, truth), f"{semi_time:.0f} s, "
             f"{len(semi.history['round'])} rounds"),
            ("blind RL", metrics.nrmse(fish.x, truth), f"{fish_time:.0f} s, "
             f"{len(fish.history['round'])} rounds")]  # fmt: skip
    for label, value, note in rows:
        closed = f"  gap closed {100 * (wrong - value) / gap:5.1f} %  ({note})" if note else ""
        print(f"NRMSE {label:<16s} {value:.4f}{closed}")


def run_case(name: str, args: argparse.Namespace) -> None:
    case = CASES[name]
    field = tuple(int(n) for n in args.shape.split("x"))
    psf_shape = tuple(n if n % 2 else n - 1 for n in field)
    common = {"na": NA, "wavelength": WAVELENGTH, "ni": NI, "oversample": 2}
    true_psf = psf.zernike(psf_shape, SPACING, coefficients=case["coefficients"],
                           **case["optics"], **common)  # fmt: skip
    wrong_psf = psf.zernike(psf_shape, SPACING, **common)
    y, truth, wrong, right = observe_and_score(true_psf, wrong_psf, field, SPACING, args)
    model = {"na": NA, "wavelength": WAVELENGTH, "ni": NI, "oversample": 2}
    start = time.perf_counter()
    semi = blind_deconvolve(y, psf_model=model, spacing=SPACING, background=10.0, modes=MODES,
                            max_iter=args.max_iter, psf_iter=args.psf_iter)  # fmt: skip
    semi_time = time.perf_counter() - start
    start = time.perf_counter()
    fish = blind_deconvolve(y, psf_model=model, spacing=SPACING, background=10.0, estimate="blind",
                            max_iter=args.max_iter, psf_iter=args.psf_iter)  # fmt: skip
    fish_time = time.perf_counter() - start

    print(f"\n== {name}: {case}  field {field}, PSF {psf_shape}, {args.object}, "
          f"{args.photons:g} photons, RL {args.max_iter} iterations ==")  # fmt: skip
    print(f"PSF NCC with the truth: start {ncc(wrong_psf, true_psf):.4f}   "
          f"semi-blind {ncc(semi.psf, true_psf):.4f}   blind RL {ncc(fish.psf, true_psf):.4f}")
    target = projected_truth(case, MODES)
    shown = [j for j in MODES if abs(target[j]) > 0.02 or abs(semi.coefficients[j]) > 0.05]
    print("coefficients (rad)   " + "  ".join(f"Z{j:<5d}" for j in shown))
    print("  truth (projected)  " + "  ".join(f"{target[j]:+.3f}" for j in shown))
    print("  semi-blind         " + "  ".join(f"{semi.coefficients[j]:+.3f}" for j in shown))
    print("  Cramér–Rao std     " + "  ".join(f"{semi.info['coefficient_std'][j]:.3f} "
                                              for j in shown))  # fmt: skip
    print_gap(("(a) wrong PSF", "(b) true PSF"), wrong, right, truth, semi, semi_time, fish,
              fish_time)  # fmt: skip
    print(f"semi-blind: {semi.info['stop_reason']}; {semi.info['psf_evaluations']} PSF evaluations, "
          f"pupil {semi.info['pupil_samples']} samples; objective per round "
          + ", ".join(f"{v:.6g}" for v in semi.history["objective"]))


def run_measured(args: argparse.Namespace) -> None:
    import tifffile

    spacing = tuple(args.measured_spacing)
    optics = {key: float(value) for key, value in
              (item.split("=") for item in args.measured_optics)}  # fmt: skip
    shape = tuple(int(n) for n in args.measured_shape.split("x"))
    true_psf = psf.prepare(tifffile.imread(args.measured).astype(np.float32), shape=shape)
    field = tuple(int(n) for n in args.shape.split("x"))
    model = {**optics, "oversample": 2}
    if args.measured_sheet:
        model["sheet_fwhm"] = args.measured_sheet
    wrong_psf = psf.zernike(shape, spacing, **model)
    y, truth, wrong, right = observe_and_score(true_psf, wrong_psf, field, spacing, args)
    start = time.perf_counter()
    semi = blind_deconvolve(y, psf_model=model, spacing=spacing, background=10.0,
                            psf_shape=shape, max_iter=args.max_iter,
                            psf_iter=args.psf_iter)  # fmt: skip
    semi_time = time.perf_counter() - start
    start = time.perf_counter()
    fish = blind_deconvolve(y, psf_model=model, spacing=spacing, background=10.0,
                            psf_shape=shape, estimate="blind", max_iter=args.max_iter,
                            psf_iter=args.psf_iter)  # fmt: skip
    fish_time = time.perf_counter() - start
    core = (slice(shape[0] // 3, shape[0] - shape[0] // 3), slice(None), slice(None))

    print(f"\n== measured PSF {args.measured} ({shape}, {spacing} µm), optics {optics}; "
          f"field {field}, {args.object}, {args.photons:g} photons, RL {args.max_iter} "
          f"iterations ==")  # fmt: skip
    for label, region in (("whole box", ...), ("central third in z", core)):
        print(f"PSF NCC with the measured PSF, {label}: start "
              f"{ncc(wrong_psf[region], true_psf[region]):.4f}   semi-blind "
              f"{ncc(semi.psf[region], true_psf[region]):.4f}   blind RL "
              f"{ncc(fish.psf[region], true_psf[region]):.4f}")
    shown = [j for j, v in semi.coefficients.items() if abs(v) > 0.05]
    print("semi-blind coefficients (rad): " + ", ".join(
        f"Z{j} {semi.coefficients[j]:+.3f}" for j in shown))  # fmt: skip
    print_gap(("(a) model PSF", "(b) measured PSF"), wrong, right, truth, semi, semi_time, fish,
              fish_time)  # fmt: skip
    print(f"semi-blind: {semi.info['stop_reason']}; blind RL: {fish.info['stop_reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--shape", default="16x48x48", help="field size, ZxYxX")
    parser.add_argument("--photons", type=float, default=3000.0)
    parser.add_argument("--psf-iter", type=int, default=10)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--object", default="filaments",
                        choices=["filaments", "beads", "mixed", "shells"])
    parser.add_argument("--measured", help="a measured PSF (TIFF) as the truth instead")
    parser.add_argument("--measured-spacing", type=float, nargs=3, default=(0.1, 0.1, 0.1),
                        metavar=("DZ", "DY", "DX"), help="its voxel size, µm")
    parser.add_argument("--measured-optics", nargs="+",
                        default=("na=1.1", "wavelength=0.52", "ni=1.333"),
                        help="the detection optics the estimators know, NAME=VALUE")
    parser.add_argument("--measured-sheet", type=float, default=None, metavar="FWHM",
                        help="model a light sheet of this FWHM (µm), as known optics")
    parser.add_argument("--measured-shape", default="31x47x47",
                        help="the PSF box the measured PSF is cleaned to")
    args = parser.parse_args()
    if args.measured:
        run_measured(args)
        return
    for name in CASES if args.case == "all" else [args.case]:
        run_case(name, args)


if __name__ == "__main__":
    main()
