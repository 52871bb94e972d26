r"""The focal shift of a source behind a refractive-index mismatch, by several formulas.

The stage offset :math:`z_0` (µm, positive deeper) from the *nominal* focus
(the objective moved by the depth :math:`z_p` from the coverslip focus) to
the plane where the source is in focus. For an oil objective (:math:`n_i =
1.515`) looking 5 µm into water (:math:`n_s = 1.33`), λ = 0.52 µm:

==========  ==========================================  =======  =======
formula     definition                                   NA 1.2   NA 1.4
==========  ==========================================  =======  =======
paraxial    :math:`z_p(n_i/n_s - 1)`                     0.695    0.695
least       minimum-RMS defocus over the pupil           1.295    (1.975)
intensity   maximum of the on-axis intensity (default)   1.279    1.290
marginal    marginal ray, :math:`z_p(\tan\theta_s/\tan\theta_i - 1)`  3.06  —
==========  ==========================================  =======  =======

The PSF models centre their middle plane on the intensity focus by default
(``axial_origin="focus"``); see ``deconvkit.psf._optics`` for the conventions.
Past the critical angle (NA 1.4 > 1.33) the least-squares formula, restricted
to the propagating part of the pupil, no longer predicts the peak.
"""

from __future__ import annotations

import numpy as np

from ._optics import (
    build_optics,
    intensity_focus,
    least_squares_focus,
    marginal_focus,
    paraxial_focus,
)
from ._scalar import scalar_intensity
from ._vectorial import vectorial_intensity

__all__ = ["FOCAL_SHIFT_FORMULAS", "focal_shift"]

#: The formulas :func:`focal_shift` knows.
FOCAL_SHIFT_FORMULAS = ("intensity", "paraxial", "least_squares", "marginal")
_MODELS = {"gibson_lanni": scalar_intensity, "vectorial": vectorial_intensity}


def focal_shift(
    na: float,
    wavelength: float,
    ni: float,
    *,
    ns: float | None = None,
    depth: float = 0.0,
    ng: float = 1.515,
    tg: float = 170.0,
    ni0: float | None = None,
    ng0: float = 1.515,
    tg0: float = 170.0,
    ti0: float = 150.0,
    model: str = "gibson_lanni",
    formula: str = "intensity",
) -> float:
    r"""Stage offset (µm) from the nominal focus to the focus of a source at ``depth``.

    Positive: the source comes into focus when the objective has moved
    further than ``depth`` (the usual case for :math:`n_s < n_i`, where a
    sample looks axially stretched by about :math:`n_i/n_s`).

    Parameters
    ----------
    na, wavelength, ni, ns, depth, ng, tg, ni0, ng0, tg0, ti0 :
        The optical system, as for :func:`gibson_lanni` (µm).
    model : {"gibson_lanni", "vectorial"}
        The model whose on-axis intensity ``formula="intensity"`` maximizes.
    formula : {"intensity", "paraxial", "least_squares", "marginal"}
        ``"intensity"``: the maximum of the on-axis intensity (the centre
        plane of the PSF models); ``"paraxial"``: :math:`z_p(n_i/n_s - 1)`
        plus the coverslip and immersion terms; ``"least_squares"``: the
        defocus that minimizes the RMS wavefront error; ``"marginal"``: the
        geometrical focus of the marginal ray (needs ``na < ns``).

    Returns
    -------
    float
        :math:`z_0` in µm of stage travel.

    Examples
    --------
    >>> round(focal_shift(1.4, 0.52, 1.515, ns=1.33, depth=5.0), 2)
    1.29
    >>> round(focal_shift(1.4, 0.52, 1.515, ns=1.33, depth=5.0, formula="paraxial"), 3)
    0.695
    """
    if model not in _MODELS:
        raise ValueError(f"model must be one of {sorted(_MODELS)}, got {model!r}")
    if formula not in FOCAL_SHIFT_FORMULAS:
        raise ValueError(f"formula must be one of {FOCAL_SHIFT_FORMULAS}, got {formula!r}")
    optics = build_optics(
        na, wavelength, ni, ns=ns, depth=depth, ng=ng, tg=tg, ni0=ni0, ng0=ng0, tg0=tg0, ti0=ti0
    )
    if formula == "paraxial":
        return paraxial_focus(optics)
    if formula == "least_squares":
        return float(least_squares_focus(optics))
    if formula == "marginal":
        return marginal_focus(optics)
    intensity = _MODELS[model]
    return intensity_focus(optics, lambda z: intensity(optics, z, np.zeros(1))[:, 0])
