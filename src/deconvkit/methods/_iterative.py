r"""Iterative methods: each a few lines composing costs and a solver.

Every builder takes the prepared :class:`Problem` and the method's own
parameters and returns a solver ready to ``run``. Step sizes and penalties
are the solvers' defaults, computed from the Lipschitz bounds of the
operators, so no default can diverge (DeconvolutionLab2's TM does, in 3D).
"""

from __future__ import annotations

from ..costs import NonNegative
from ..operators import wiener_butterworth
from ..solvers import (
    ADMM,
    ChambollePock,
    GradientDescent,
    ProjectedGradient,
    ProximalGradient,
    RichardsonLucy,
)
from ._auto import WEIGHT_RULES
from ._problem import Problem
from ._registry import Parameter, register
from ._terms import (
    data_scale,
    least_squares_term,
    poisson_term,
    quadratic_regularizer,
    sparsity_regularizer,
)

__all__: list[str] = []

GAMMA = Parameter("gamma", float, 1.0,
                  "step size in units of 1/‖A‖² (the Lipschitz bound); below 2 converges",
                  range=(1e-6, 1.999))
REGULARIZATION = Parameter("regularization", str, "identity",
                           "L in λ/2‖Lx‖²: the identity or the Laplacian (normalized by its norm)",
                           choices=("identity", "laplacian"))
DATA = Parameter("data", str, "poisson", "noise model of the data term",
                 choices=("poisson", "gaussian"))


def _lipschitz_step(problem: Problem, gamma: float, extra: float = 0.0) -> float:
    """``γ / L`` with ``L = ‖A‖² + extra`` (the gradient's Lipschitz constant).

    Both quadratic regularizers have gradient Lipschitz constant λ (the
    Laplacian is normalized by its norm), which is the ``extra``.
    """
    norm = problem.forward.lipschitz
    return gamma / (norm**2 + extra)


# -- least squares --------------------------------------------------------------
@register(
    "lw",
    "Landweber: gradient descent on ½‖Ax − y‖² (no regularization: stop early)",
    model="least squares", regularization="early stopping", solver="GradientDescent",
    iterative=True, parameters=(GAMMA,), arrays=7, max_iter=30,
)
def _landweber(problem: Problem, gamma: float, clip_negative: bool):
    data = least_squares_term(problem)
    return GradientDescent(data, step=_lipschitz_step(problem, gamma))


@register(
    "lw+",
    "Landweber with non-negativity projected at every iteration (NNLS)",
    model="least squares", regularization="early stopping, x ≥ 0", solver="ProjectedGradient",
    iterative=True, parameters=(GAMMA,), aliases=("nnls", "lwp"), arrays=7, max_iter=30,
)
def _landweber_positive(problem: Problem, gamma: float, clip_negative: bool):
    data = least_squares_term(problem)
    return ProjectedGradient(data, NonNegative(), step=_lipschitz_step(problem, gamma))


@register(
    "tm",
    "Tikhonov–Miller: gradient descent on ½‖Ax − y‖² + λ/2‖Lx‖²",
    model="least squares", regularization="Tikhonov (identity or Laplacian)",
    solver="GradientDescent", iterative=True,
    parameters=(Parameter("lam", float, 0.05, "regularization weight λ (relative to ‖A‖² = 1)",
                          range=(0.0, None), auto=True, rules=WEIGHT_RULES), REGULARIZATION, GAMMA),
    arrays=8, max_iter=100,
)
def _tikhonov_miller(problem: Problem, lam: float, regularization: str, gamma: float,
                     clip_negative: bool):
    cost = least_squares_term(problem) + quadratic_regularizer(problem, lam, regularization)
    return GradientDescent(cost, step=_lipschitz_step(problem, gamma, lam))


@register(
    "ictm",
    "iterative constrained Tikhonov–Miller: TM with x ≥ 0 projected at every iteration",
    model="least squares", regularization="Tikhonov (identity or Laplacian), x ≥ 0",
    solver="ProjectedGradient", iterative=True,
    parameters=(Parameter("lam", float, 0.05, "regularization weight λ (relative to ‖A‖² = 1)",
                          range=(0.0, None), auto=True, rules=WEIGHT_RULES), REGULARIZATION, GAMMA),
    arrays=8, max_iter=100,
)
def _ictm(problem: Problem, lam: float, regularization: str, gamma: float, clip_negative: bool):
    cost = least_squares_term(problem) + quadratic_regularizer(problem, lam, regularization)
    return ProjectedGradient(cost, NonNegative(), step=_lipschitz_step(problem, gamma, lam))


SPARSITY = (
    Parameter("lam", float, 0.01,
              "weight λ of the sparsity prior, relative to the mean of the data", range=(0.0, None),
              auto=True, rules=WEIGHT_RULES),
    Parameter("prior", str, "l1",
              "‖x‖₁ on x ≥ 0 (sparse objects such as beads) or total variation (slow: inner "
              "iterations per prox)",
              choices=("l1", "tv")),
)


def _ista(problem: Problem, lam: float, prior: str, accelerate: bool):
    data = least_squares_term(problem)
    prior_cost = sparsity_regularizer(problem, lam, prior, scale=data_scale(problem))
    return ProximalGradient(data, prior_cost, step=_lipschitz_step(problem, 1.0),
                            accelerate=accelerate)


@register(
    "ista",
    "ISTA: proximal gradient on ½‖Ax − y‖² + λ R(x), R the ℓ1 norm or total variation",
    model="least squares", regularization="ℓ1 or TV", solver="ProximalGradient",
    iterative=True, parameters=SPARSITY, arrays=7, max_iter=30,
)
def _ista_plain(problem: Problem, lam: float, prior: str, clip_negative: bool):
    return _ista(problem, lam, prior, accelerate=False)


@register(
    "fista",
    "FISTA: ISTA with Nesterov acceleration and adaptive restart",
    model="least squares", regularization="ℓ1 or TV", solver="ProximalGradient (FISTA)",
    iterative=True, parameters=SPARSITY, arrays=9, max_iter=10,
)
def _fista(problem: Problem, lam: float, prior: str, clip_negative: bool):
    return _ista(problem, lam, prior, accelerate=True)


# -- Poisson ------------------------------------------------------------------
@register(
    "rl",
    "Richardson–Lucy: multiplicative EM on the Poisson likelihood, with background",
    model="Poisson", regularization="early stopping", solver="RichardsonLucy",
    iterative=True, arrays=5, max_iter=50,
)
def _richardson_lucy(problem: Problem, clip_negative: bool):
    return RichardsonLucy(poisson_term(problem, clip_negative, "rl"),
                          start_level=problem.constants.flat_level)


@register(
    "rl-accelerated",
    "Richardson–Lucy accelerated by momentum (deconwolf) or Biggs–Andrews extrapolation",
    model="Poisson", regularization="early stopping", solver="RichardsonLucy (accelerated)",
    iterative=True,
    parameters=(Parameter("acceleration", str, "momentum",
                          "scaled heavy-ball momentum or Biggs–Andrews vector extrapolation",
                          choices=("momentum", "biggs-andrews")),),
    aliases=("rla",), arrays=5, max_iter=15,
)
def _richardson_lucy_accelerated(problem: Problem, acceleration: str, clip_negative: bool):
    data = poisson_term(problem, clip_negative, "rl-accelerated")
    return RichardsonLucy(data, acceleration=acceleration,
                          start_level=problem.constants.flat_level)


@register(
    "rl-wb",
    "Richardson–Lucy with the Wiener–Butterworth back projector (Guo et al. 2020): "
    "many RL iterations' image in a few",
    model="Poisson", regularization="early stopping (few iterations)",
    solver="RichardsonLucy (unmatched back projector)", iterative=True,
    parameters=(Parameter("alpha", float, 0.05,
                          "Wiener parameter α of the back projector (relative to max|OTF|² = 1)",
                          range=(0.0, 1.0), open=(True, False)),
                Parameter("beta", float, None,
                          "gain of the back projector at the resolution cut-off, in (0, 1); "
                          "None: the matched back projector's gain there",
                          range=(0.0, 1.0), open=(True, True)),
                Parameter("order", int, 10, "order n of the Butterworth roll-off",
                          range=(1, 40)),
                Parameter("acceleration", str, "none",
                          "none, scaled heavy-ball momentum or Biggs–Andrews extrapolation",
                          choices=("none", "momentum", "biggs-andrews"))),
    aliases=("rlwb", "wb"), arrays=7, max_iter=10,
)
def _richardson_lucy_wb(problem: Problem, alpha: float, beta: float | None, order: int,
                        acceleration: str, clip_negative: bool):
    back = wiener_butterworth(problem.psf, problem.shape, alpha=alpha, beta=beta, order=order,
                              otf=problem.blur.otf)
    return RichardsonLucy(poisson_term(problem, clip_negative, "rl-wb"), back_projector=back,
                          acceleration=None if acceleration == "none" else acceleration,
                          start_level=problem.constants.flat_level)


@register(
    "rltv",
    "Richardson–Lucy with total variation by the split-gradient rule (Dey et al. 2006)",
    model="Poisson", regularization="smoothed TV", solver="RichardsonLucy",
    iterative=True,
    parameters=(Parameter("lam", float, 0.002,
                          "TV weight λ (the gradient normalized by its norm)", range=(0.0, 1.0),
                          auto=True, rules=WEIGHT_RULES),),
    arrays=15, max_iter=50,
)
def _richardson_lucy_tv(problem: Problem, lam: float, clip_negative: bool):
    data = poisson_term(problem, clip_negative, "rltv")
    tv = sparsity_regularizer(problem, lam, "tv", smooth=True)
    return RichardsonLucy(data, regularizer=tv, start_level=problem.constants.flat_level)


def _data_term(problem: Problem, data: str, clip_negative: bool, method: str):
    """The data term of the chosen noise model and the regularizer's scale."""
    if data == "poisson":
        return poisson_term(problem, clip_negative, method), 1.0
    return least_squares_term(problem), data_scale(problem)


#: Chambolle–Pock's primal step on a Poisson term, on top of the solver's steps (which
#: already weigh each term), in units of the data's maximum. Gap to admm-tv's minimum after
#: the default 300 iterations on the catalogue's 24x56x56 widefield cases: filaments
#: 2e-4 / 7.8e-4 / 3.7e-3 for 0.3 / 1 / 3, beads 1.6e-2 / 3.8e-3 / 5.7e-3: 1 serves both.
PD_STEP_RATIO = 1.0


def _admm(terms: list, problem: Problem) -> ADMM:
    # the solver's penalties (each term's curvature at the data's scale, then residual
    # balancing) serve Poisson and least-squares data alike; the scale is the whole
    # image's, so that every tile starts from the same penalties
    c = problem.constants
    return ADMM(terms, data_statistics=(c.data_scale, c.data_peak))


@register(
    "admm-tv",
    "ADMM on the Poisson (or least-squares) likelihood + λ TV, x ≥ 0",
    model="Poisson or least squares", regularization="TV, x ≥ 0", solver="ADMM",
    iterative=True,
    parameters=(Parameter("lam", float, 0.01, "TV weight λ (the gradient normalized by its norm)",
                          range=(0.0, None), auto=True, rules=WEIGHT_RULES), DATA),
    arrays=28, max_iter=50, start_from_data=True,
)
def _admm_tv(problem: Problem, lam: float, data: str, clip_negative: bool):
    fidelity, scale = _data_term(problem, data, clip_negative, "admm-tv")
    tv = sparsity_regularizer(problem, lam, "tv", scale=scale)
    return _admm([fidelity, tv, NonNegative()], problem)


@register(
    "admm-hessian",
    "ADMM on the Poisson (or least-squares) likelihood + λ Hessian–Schatten-1 norm, x ≥ 0",
    model="Poisson or least squares", regularization="Hessian–Schatten (p = 1), x ≥ 0",
    solver="ADMM", iterative=True,
    parameters=(Parameter("lam", float, 0.01,
                          "Hessian–Schatten weight λ (the Hessian normalized by its norm)",
                          range=(0.0, None), auto=True, rules=WEIGHT_RULES), DATA),
    arrays=35, scratch_mib=24.0,  # the eigen-decompositions' chunks (costs._schatten.CHUNK)
    max_iter=50, start_from_data=True,
)
def _admm_hessian(problem: Problem, lam: float, data: str, clip_negative: bool):
    fidelity, scale = _data_term(problem, data, clip_negative, "admm-hessian")
    hessian = sparsity_regularizer(problem, lam, "hessian", scale=scale)
    return _admm([fidelity, hessian, NonNegative()], problem)


@register(
    "pd-tv",
    "Chambolle–Pock primal–dual on the Poisson likelihood + λ TV, x ≥ 0 (no inner solves)",
    model="Poisson or least squares", regularization="TV, x ≥ 0", solver="ChambollePock",
    iterative=True,
    parameters=(Parameter("lam", float, 0.01, "TV weight λ (the gradient normalized by its norm)",
                          range=(0.0, None), auto=True, rules=WEIGHT_RULES), DATA),
    arrays=28, max_iter=300, start_from_data=True,
)
def _primal_dual_tv(problem: Problem, lam: float, data: str, clip_negative: bool):
    fidelity, scale = _data_term(problem, data, clip_negative, "pd-tv")
    tv = sparsity_regularizer(problem, lam, "tv", scale=scale)
    # steps scaled by the whole image's magnitude, so that every tile takes the same
    same = {"data_scale": problem.constants.data_scale, "data_mean": problem.constants.data_mean}
    solver = ChambollePock([fidelity, tv], primal=NonNegative(), **same)
    if data != "poisson":
        return solver
    # The dual of a Poisson term stays below 1 while x is in photons: a primal
    # step in the data's units (and the dual steps shrunk to match, τ Σσ_i‖K_i‖² < 1)
    ratio = PD_STEP_RATIO * max(problem.constants.data_max, 1.0)
    return ChambollePock([fidelity, tv], primal=NonNegative(), tau=solver.tau * ratio,
                         sigma=solver.sigma / ratio, **same)
