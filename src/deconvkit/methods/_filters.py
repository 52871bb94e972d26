r"""Closed-form inverse filters: NIF, WIF, TRIF, RIF.

Each is the exact minimizer of a quadratic cost on a circulant model, computed
by the circulant algebra in one FFT division (no special code per filter):

.. math:: \hat x = (H^H H + \lambda L^H L)^{-1} H^H (y - b)

with :math:`L = I` (TRIF, WIF) or the Laplacian normalized by its norm (RIF),
and :math:`|\hat h|^2 = \bar{\hat h}\hat h` in the denominator (not
:math:`\hat h^2`). A circulant model needs a periodic domain: with the default
``boundary="extended"`` the filters run on the extended domain with the margin
mirror-filled (``"reflect"``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..backend import namespace
from ..costs import LeastSquares
from ..solvers import solve_quadratic
from ._problem import Problem
from ._registry import Parameter, register
from ._terms import data_minus_background, quadratic_regularizer

__all__ = ["inverse_filter"]

LAMBDA_HELP = ("regularization weight λ (relative to ‖H‖² = 1; > 0: without it the filter is "
               "singular where the OTF vanishes); 'auto': chosen by generalized "
               "cross-validation")


def inverse_filter(problem: Problem, lam: float, regularizer: str = "identity") -> np.ndarray:
    r"""Solve :math:`(H^HH + \lambda L^HL)\,x = H^H(y - b)` exactly on the problem's domain.

    The minimizer of ``½‖Hx − (y − b)‖² + λ/2 ‖Lx‖²`` by
    :func:`deconvkit.solvers.solve_quadratic` (one FFT division).

    Parameters
    ----------
    problem : Problem
        A problem with a circulant model (``periodic`` or ``reflect``).
    lam : float
        λ > 0.
    regularizer : {"identity", "laplacian"}
        ``L``: the identity, or the Laplacian (with the problem's spacing)
        divided by its norm so that λ means the same for any voxel size.
    """
    data = LeastSquares(data_minus_background(problem)) @ problem.blur
    return solve_quadratic([data, quadratic_regularizer(problem, lam, regularizer)])


@register(
    "nif",
    "naive inverse filter: 1/H where |H| exceeds a threshold, 0 elsewhere",
    model="least squares, circulant",
    regularization="truncation of the OTF",
    solver="closed form",
    iterative=False, arrays=6,
    parameters=(Parameter("epsilon", float, 0.1,
                          "|OTF| at or below which frequencies are dropped (|OTF| <= 1, so 1 "
                          "would drop them all)", range=(0.0, 1.0), open=(True, True)),),
)
def _nif(problem: Problem, epsilon: float) -> np.ndarray:
    inverse = problem.blur.inv(floor=epsilon)
    transfer = inverse.transfer_function
    kept = int(namespace(transfer).count_nonzero(transfer))
    if kept == 0:
        raise ValueError(
            f"nif: every |OTF| is at or below epsilon={epsilon:g}, so the filter keeps no "
            "frequency and the result would be 0: use a smaller epsilon (0.01-0.1)")
    if kept < 1e-3 * transfer.size:
        warnings.warn(
            f"nif: epsilon={epsilon:g} keeps {kept} of {transfer.size} frequencies, so the "
            "result is nearly flat: use a smaller epsilon (0.01-0.1)", stacklevel=2)
    return inverse @ data_minus_background(problem)


@register(
    "wif",
    "Wiener filter: H*/(|H|² + NSR) with a flat noise-to-signal power ratio",
    model="Gaussian noise, circulant",
    regularization="noise-to-signal ratio",
    solver="closed form",
    iterative=False, arrays=10,
    parameters=(Parameter("nsr", float, 0.05, "noise-to-signal power ratio (> 0: 0 is the naive inverse, "
                          "singular where the OTF vanishes; use nif); 'auto': by GCV",
                          range=(0.0, None), open=(True, False), auto=True),),
)
def _wif(problem: Problem, nsr: float) -> np.ndarray:
    return inverse_filter(problem, nsr, "identity")


@register(
    "trif",
    "Tikhonov-regularized inverse filter: minimizes ½‖Hx − y‖² + λ/2 ‖x‖²",
    model="least squares, circulant",
    regularization="Tikhonov (identity)",
    solver="closed form",
    iterative=False, arrays=10,
    parameters=(Parameter("lam", float, 0.05, LAMBDA_HELP, range=(0.0, None), open=(True, False),
                          auto=True),),
)
def _trif(problem: Problem, lam: float) -> np.ndarray:
    return inverse_filter(problem, lam, "identity")


@register(
    "rif",
    "regularized inverse filter: minimizes ½‖Hx − y‖² + λ/2 ‖Δx‖²/‖Δ‖²",
    model="least squares, circulant",
    regularization="Tikhonov (Laplacian)",
    solver="closed form",
    iterative=False, arrays=10,
    parameters=(Parameter("lam", float, 0.5, LAMBDA_HELP, range=(0.0, None), open=(True, False),
                          auto=True),),
)
def _rif(problem: Problem, lam: float) -> np.ndarray:
    return inverse_filter(problem, lam, "laplacian")
