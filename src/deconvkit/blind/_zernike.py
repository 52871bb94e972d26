r"""Semi-blind deconvolution: the object and the Zernike coefficients of the pupil, together.

The PSF is the pupil model of :func:`deconvkit.psf.zernike`,
:math:`h(c)` (the known optics: NA, wavelength, indices, depth; the unknown
aberration :math:`W = \sum_j c_j Z_j`). With :math:`f(x, c) = \sum \mu - y\log\mu`,
:math:`\mu = S(h(c) \ast x) + b`, and :math:`x_K(c)` the object after
:math:`K` Richardson–Lucy iterations from a flat start with :math:`h(c)`,
each round

1. minimizes :math:`f(x_K(c_r), \cdot)` over the coefficients with the object
   fixed, by L-BFGS-B with the exact gradient

   .. math:: \frac{\partial f}{\partial c_j}
             = \Big\langle \big(S^{\mathsf H}(1 - y/\mu)\big) \star x,\;
               \frac{\partial h}{\partial c_j}\Big\rangle,

   the correlation computed by FFTs on the whole volume and contracted with
   :math:`\partial h/\partial c` by one adjoint pupil transform
   (:meth:`deconvkit.psf._pupil.PupilModel.vjp`): all ~13 parameters for
   the price of about three PSFs, where finite differences would cost 26;
2. takes the step :math:`c_r + \alpha\,(c^\star - c_r)`, :math:`\alpha \in
   \{1, 2, 4, 8\}`, that most lowers the *profile* likelihood
   :math:`F(c) = f(x_K(c), c)` (the object re-deconvolved for every trial):
   with the object fixed, the object absorbs part of the PSF error and
   holds the step back (plain alternation recovers a fixed fraction of the
   remaining aberration per round), which the longer steps make up.

:math:`F` falls every round; the rounds stop when no step lowers it. The
first rounds estimate only the rotationally symmetric modes (the spherical
aberration an index mismatch brings) with the shift, the later ones all
modes. Then the object is deconvolved afresh with the final PSF
(``max_iter`` iterations).

Identifiability. Piston, tip, tilt and defocus (j = 1–4) only move the PSF
and are traded against the object's position: they are not estimated by
default. An exact axial shift of the PSF (the defocus phase
:math:`-k\,\delta\,c_{n_i}(q)`, the last parameter) is estimated instead, so
the PSF can follow the object; the final PSF is re-centred on its focus.
Before the first PSF update the Fisher information of the modes,
:math:`F_{jk} = \sum_i \partial_j\mu_i\,\partial_k\mu_i / \mu_i`, gives their
Cramér–Rao bounds; modes the image cannot determine better than
``max_std`` radians are kept at their initial value, and if none can, the
PSF is declared not identifiable and the initial one returned.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.optimize

from ..psf._optics import build_optics
from ..psf._pupil import PupilModel
from ..psf._zernike import (
    check_noll_index,
    coefficient_array,
    max_slope,
    noll_to_nm,
    pupil_focus,
)
from ._common import Domain, negative_log_likelihood, run_rl

__all__ = ["DEFAULT_MODES", "ZernikeEstimator"]

#: Estimated by default: astigmatism, coma, trefoil, primary spherical,
#: secondary astigmatism, quadrafoil (Noll 5-15), secondary and tertiary spherical (22, 37).
DEFAULT_MODES = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 22, 37)
#: Largest coefficient magnitude the search may reach, radians.
COEFFICIENT_BOUND = 5.0
#: Coefficient magnitude (radians per mode) the pupil sampling is sized for.
SAMPLING_RADIANS = 0.5
#: Largest axial shift of the PSF the search may reach, in planes.
SHIFT_BOUND_PLANES = 4.0
#: The optics keys a psf_model may hold (those of deconvkit.psf.zernike).
OPTICS_KEYS = ("na", "wavelength", "ni", "ns", "depth", "ng", "tg", "ni0", "ng0", "tg0", "ti0")
MODEL_KEYS = OPTICS_KEYS + ("model", "oversample", "pupil_samples", "coefficients", "sheet_fwhm")


def check_modes(modes: Any) -> tuple[int, ...]:
    """The Noll indices to estimate: distinct integers in range."""
    if modes is None:
        return DEFAULT_MODES
    if isinstance(modes, (str, bytes)) or not hasattr(modes, "__iter__"):
        raise TypeError(f"modes must be a sequence of Noll indices, got {modes!r}")
    values = [check_noll_index(j, "Zernike mode") for j in modes]
    if not values:
        raise ValueError("modes is empty: give the Noll indices to estimate, e.g. (5, 6, 7, 8, 11)")
    if len(set(values)) != len(values):
        raise ValueError(f"modes repeats an index: {sorted(values)}")
    return tuple(sorted(values))


class ZernikeEstimator:
    """The PSF model and the coefficient step of semi-blind deconvolution.

    Parameters
    ----------
    domain : Domain
        The extended domain of the image and the PSF box.
    spacing : tuple of float
        Voxel size (dz, dy, dx), µm.
    parameters : dict
        The validated ``psf_model`` (optics, ``model``, ``oversample``,
        ``pupil_samples``, initial ``coefficients``).
    modes : tuple of int
        Noll indices to estimate.
    """

    def __init__(self, domain: Domain, spacing: tuple[float, ...], parameters: dict,
                 modes: tuple[int, ...]) -> None:  # fmt: skip
        self.domain = domain
        optics_values = {k: parameters[k] for k in OPTICS_KEYS if k in parameters}
        self.optics = build_optics(**optics_values)
        model = parameters.get("model", "scalar")
        if model not in ("scalar", "vectorial"):
            raise ValueError(f"psf_model['model'] must be 'scalar' or 'vectorial', got {model!r}")
        initial = coefficient_array(parameters.get("coefficients"))
        self.modes = tuple(sorted(set(modes) | set(initial)))
        # the last parameter is the PSF's axial shift (µm): the PSF follows the object
        self.estimated = np.array([j in modes for j in self.modes] + [True])
        self.c0 = np.array([initial.get(j, 0.0) for j in self.modes] + [0.0])
        self.spacing = tuple(spacing)
        self.model = model
        sheet = parameters.get("sheet_fwhm")
        if sheet is not None and not (isinstance(sheet, (int, float)) and np.isfinite(sheet)
                                      and sheet > 0):  # fmt: skip
            raise ValueError(f"psf_model['sheet_fwhm'] must be a positive length in µm (the light "
                             f"sheet's FWHM, e.g. 1.0), got {sheet!r}")  # fmt: skip
        self.axial_offset = self.focus(self.c0)
        slope = SAMPLING_RADIANS * float(np.sqrt(sum(max_slope(j) ** 2 for j in self.modes)))
        self.engine = PupilModel(
            self.optics, domain.psf_shape, spacing, model=model, modes=self.modes,
            oversample=int(parameters.get("oversample", 2)), axial_offset=self.axial_offset,
            pupil_samples=parameters.get("pupil_samples"), phase_slope=slope, axial_shift=True,
            sheet_fwhm=None if sheet is None else float(sheet),
        )  # fmt: skip
        self.evaluations = 0

    def focus(self, c: np.ndarray) -> float:
        """Stage offset (µm from the nominal focus) of the focus of the pupil ``c`` (shift left out)."""
        return pupil_focus(self.optics, self.spacing, self.model, self.modes, np.asarray(c)[:-1])

    def centred(self, c: np.ndarray) -> np.ndarray:
        """The same pupil with the shift that puts its focus on the centre plane."""
        out = np.array(c, dtype=float)
        out[-1] = self.focus(out) - self.axial_offset
        return out

    def psf(self, c: np.ndarray) -> np.ndarray:
        return self.engine.psf(c)

    # -- the coefficient step ---------------------------------------------
    def _objective(self, active: np.ndarray, c_fixed: np.ndarray, mask: np.ndarray,
                   y: np.ndarray, background: Any, x_spectrum: np.ndarray):  # fmt: skip
        c = c_fixed.copy()
        c[mask] = active
        self.evaluations += 1
        psf = self.engine.psf(c)
        mu = self.domain.blur(self.domain.kernel_spectrum(psf), x_spectrum) + background
        value = negative_log_likelihood(mu, y)
        if not np.isfinite(value):
            return value, np.zeros(active.size)
        residual = 1.0 - y / np.maximum(mu, 1e-300)
        cotangent = self.domain.correlate(residual, x_spectrum)
        _, gradient = self.engine.vjp(c, cotangent)
        return value, gradient[mask]

    def update(self, c: np.ndarray, mask: np.ndarray, x: np.ndarray, y: np.ndarray,
               background: Any, max_iter: int) -> tuple[np.ndarray, float]:  # fmt: skip
        """L-BFGS-B on the active coefficients with ``x`` fixed; returns (c, objective)."""
        x_spectrum = self.domain.spectrum(x)
        result = scipy.optimize.minimize(
            self._objective, c[mask], args=(c, mask, y, background, x_spectrum), jac=True,
            method="L-BFGS-B", bounds=self.bounds(c, mask),
            options={"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-8},
        )  # fmt: skip
        out = c.copy()
        out[mask] = result.x
        return out, float(result.fun)

    def bounds(self, c: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
        shift = SHIFT_BOUND_PLANES * self.spacing[0]
        limits = [(-COEFFICIENT_BOUND, COEFFICIENT_BOUND)] * (len(c) - 1) + [
            (c[-1] - shift, c[-1] + shift)
        ]
        return [b for b, m in zip(limits, mask) if m]

    def objective(self, c: np.ndarray, x: np.ndarray, y: np.ndarray, background: Any) -> float:
        x_spectrum = self.domain.spectrum(x)
        mu = self.domain.blur(self.domain.kernel_spectrum(self.engine.psf(c)), x_spectrum)
        return negative_log_likelihood(mu + background, y)

    def standard_deviations(self, c: np.ndarray, x: np.ndarray, background: Any) -> np.ndarray:
        """Cramér–Rao bounds (radians) of the coefficients at (x, c), from the Fisher information."""
        psf, jacobian = self.engine.jacobian(c)
        x_spectrum = self.domain.spectrum(x)
        mu = self.domain.blur(self.domain.kernel_spectrum(psf), x_spectrum) + background
        weight = 1.0 / np.maximum(mu, 1e-12)
        derivatives = [
            self.domain.blur(self.domain.kernel_spectrum(d), x_spectrum).ravel() for d in jacobian
        ]
        d = np.stack(derivatives)
        fisher = (d * weight.ravel()) @ d.T
        values, vectors = np.linalg.eigh(fisher)
        floor = max(values.max(), 1e-300) * 1e-12
        inverse = (vectors / np.maximum(values, floor)) @ vectors.T
        return np.sqrt(np.clip(np.diag(inverse), 0.0, None))


def semi_blind(
    domain: Domain,
    y: np.ndarray,
    background: Any,
    spacing: tuple[float, ...],
    parameters: dict,
    modes: tuple[int, ...],
    *,
    psf0: np.ndarray | None,
    method: str,
    max_iter: int,
    psf_iter: int,
    object_iter: int,
    coefficient_iter: int,
    max_std: float,
    tol: float,
) -> dict[str, Any]:
    """The rounds of semi-blind deconvolution (see the module notes); a dict for BlindResult."""
    start = time.perf_counter()
    estimator = ZernikeEstimator(domain, spacing, parameters, modes)
    c = estimator.c0.copy()
    messages: list[str] = []
    if psf0 is not None:
        c = fit_coefficients(estimator, c, psf0, coefficient_iter)
        messages.append("started from the Zernike fit of psf0")
    initial_c = c.copy()
    psf = estimator.psf(c)
    history: dict[str, list] = {k: [] for k in ("round", "objective", "psf_change", "time",
                                                  "coefficients", "axial_shift", "step",
                                                  "stage")}  # fmt: skip
    x = None
    best = (float("inf"), c.copy())
    stop_reason, diverged, identifiable = f"{psf_iter} PSF updates", False, True
    mask = estimator.estimated.copy()
    std = np.full(len(c), np.nan)
    n_object = 0
    # stage 1 estimates the rotationally symmetric modes (spherical: what an index mismatch
    # brings) with the shift, stage 2 all of them
    symmetric = np.array([noll_to_nm(j)[1] == 0 for j in estimator.modes] + [True])
    stage = 1 if np.any(mask[:-1] & symmetric[:-1]) and np.any(mask[:-1] & ~symmetric[:-1]) else 2
    x = run_rl(domain, y, background, psf, None, object_iter, method)
    profile = estimator.objective(c, x, y, background)
    n_object += object_iter
    for round_index in range(1, psf_iter + 1):
        if round_index == 1:
            std = estimator.standard_deviations(c, x, background)
            weak = mask & ~(std < max_std)
            weak[-1] = False  # the shift follows whatever modes are estimated
            if np.any(weak):
                names = ", ".join(f"Z{j}" for j, w in zip(estimator.modes, weak) if w)
                messages.append(f"kept at their initial value (Cramér–Rao bound >= {max_std} rad): "
                                f"{names}")  # fmt: skip
            mask &= ~weak
            if not mask[:-1].any():
                identifiable = False
                stop_reason = ("the PSF was not identifiable from this image (no mode's "
                               f"Cramér–Rao bound below {max_std} rad): returned the initial PSF")  # fmt: skip
                messages.append(stop_reason)
                break
        if not np.isfinite(profile):
            diverged, stop_reason = True, "diverged: the likelihood is not finite; kept the best estimate"
            break
        best = (profile, c.copy())
        active = mask & symmetric if stage == 1 else mask
        # 1. the coefficient step with the object fixed gives the direction ...
        target, value = estimator.update(c, active, x, y, background, coefficient_iter)
        if not np.isfinite(value):
            diverged = True
            stop_reason = "diverged: the coefficient step's likelihood is not finite; kept the best estimate"
            break
        # 2. ... and a line search on the profile likelihood (the object re-deconvolved from
        # flat, object_iter iterations) its length: the fixed object holds the step back
        trial = _line_search(estimator, domain, y, background, c, target - c, method,
                             object_iter, profile)  # fmt: skip
        n_object += object_iter * trial["evaluations"]
        if not trial["value"] < profile:
            if stage == 1:
                stage = 2  # the rotationally symmetric modes are done: now all of them
                continue
            stop_reason = "no step along the coefficient update lowers the likelihood: converged"
            break
        change = float(np.linalg.norm(trial["psf"] - psf) / np.linalg.norm(psf))
        moved = float(np.max(np.abs(trial["c"][:-1] - c[:-1])))
        c, psf, x, profile = trial["c"], trial["psf"], trial["x"], trial["value"]
        history["round"].append(round_index)
        history["objective"].append(profile)
        history["psf_change"].append(change)
        history["time"].append(time.perf_counter() - start)
        history["coefficients"].append(c[:-1].tolist())
        history["axial_shift"].append(float(c[-1]))
        history["step"].append(trial["step"])
        history["stage"].append(stage)
        if moved < tol:
            if stage == 1:
                stage = 2
                continue
            stop_reason = f"the coefficients changed by less than {tol} rad"
            break
    if diverged:
        c = best[1]
        messages.append(stop_reason)
    if not identifiable:
        c = initial_c
    c = estimator.centred(c)  # the final PSF has its focus on the centre plane, as all PSFs
    psf = estimator.psf(c)
    x = run_rl(domain, y, background, psf, None, max_iter, method)
    n_object += max_iter
    return {
        "x": x, "psf": psf,
        "coefficients": {j: float(v) for j, v in zip(estimator.modes, c)},
        "history": history,
        "info": {
            "identifiable": identifiable, "stop_reason": stop_reason, "diverged": diverged,
            "messages": messages, "n_object_iter": n_object, "modes": list(estimator.modes),
            "estimated_modes": [j for j, m in zip(estimator.modes, mask[:-1]) if m],
            "coefficient_std": {j: float(s) for j, s in zip(estimator.modes, std[:-1])},
            "axial_offset": estimator.axial_offset + float(c[-1]),
            "pupil_samples": estimator.engine.pupil_samples,
            "psf_evaluations": estimator.evaluations,
            "gradient": "adjoint (one extra pupil transform per evaluation), L-BFGS-B",
        },
    }  # fmt: skip


#: Step lengths tried along the coefficient update, in units of the fixed-object step.
LINE_SEARCH_STEPS = (1.0, 2.0, 4.0, 8.0)
BACKTRACK_STEPS = (0.5, 0.25)


def _line_search(estimator: ZernikeEstimator, domain: Domain, y: np.ndarray, background: Any,
                 c: np.ndarray, direction: np.ndarray, method: str, n_iter: int,
                 reference: float) -> dict:  # fmt: skip
    """The best step along ``direction`` on the profile likelihood (``reference`` at ``c``).

    Steps grow from 1 while the likelihood falls; if the plain step does not
    beat ``reference``, they shrink (1/2, 1/4) until one does.
    """
    best: dict = {"value": float("inf"), "evaluations": 0}

    def evaluate(step: float) -> bool:
        trial_c = c + step * direction
        trial_c[:-1] = np.clip(trial_c[:-1], -COEFFICIENT_BOUND, COEFFICIENT_BOUND)
        psf = estimator.psf(trial_c)
        x = run_rl(domain, y, background, psf, None, n_iter, method)
        value = estimator.objective(trial_c, x, y, background)
        best["evaluations"] += 1
        if not value < best["value"]:
            return False
        best.update(value=value, c=trial_c, psf=psf, x=x, step=step)
        return True

    for step in LINE_SEARCH_STEPS:  # longer while it pays
        if not evaluate(step):
            break
    if best.get("step") == LINE_SEARCH_STEPS[0] and best["value"] >= reference:
        best["value"] = float("inf")  # the plain step does not pay: back-track
    if "step" not in best or best["value"] >= reference:
        for step in BACKTRACK_STEPS:
            if evaluate(step) and best["value"] < reference:
                break
    return best


def fit_coefficients(estimator: ZernikeEstimator, c: np.ndarray, psf0: np.ndarray,
                     max_iter: int) -> np.ndarray:  # fmt: skip
    """Least-squares fit of the coefficients to a given PSF, :math:`\\min_c \\|h(c) - h_0\\|^2`."""
    target = np.asarray(psf0, dtype=np.float64) / float(np.sum(psf0))
    mask = estimator.estimated
    scale = 1.0 / float(np.sum(target**2))

    def objective(active):
        full = c.copy()
        full[mask] = active
        residual = estimator.engine.psf(full) - target
        _, gradient = estimator.engine.vjp(full, 2.0 * scale * residual)
        return scale * float(np.sum(residual**2)), gradient[mask]

    result = scipy.optimize.minimize(
        objective, c[mask], jac=True, method="L-BFGS-B", bounds=estimator.bounds(c, mask),
        options={"maxiter": 5 * max_iter},
    )  # fmt: skip
    out = c.copy()
    out[mask] = result.x
    return out
