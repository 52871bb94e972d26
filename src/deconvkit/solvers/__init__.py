"""Solvers: iterative engines that take costs and operators (``deconvkit.solvers``).

Every solver is built from costs (and operators inside them) and its
parameters, then ``run(x0=None, max_iter=..., stop=..., callbacks=...,
progress=False, ground_truth=None, record_every=1)`` returns a
:class:`Result` with ``x``, ``history``, ``n_iter``, ``stop_reason`` and
``converged``. Step sizes and penalties default to values computed from the
known Lipschitz bounds. See ``docs/solvers.md``.
"""

from ._admm import ADMM, CirculantSolve, ConjugateGradientSolve, XStep
from ._callbacks import Callback, EveryIteration, ProgressLine
from ._engine import Result, Solver, State
from ._multiview import MultiViewRichardsonLucy, Views, build_views
from ._gradient import FISTA, GradientDescent, ProjectedGradient, ProximalGradient
from ._primal_dual import ChambollePock, CondatVu
from ._quadratic import solve_quadratic
from ._richardson_lucy import RichardsonLucy
from ._stopping import (
    AllOf,
    AnyOf,
    MaxIter,
    ObjectiveChange,
    RelativeChange,
    StoppingRule,
    StopReason,
    TimeLimit,
)

__all__ = [
    # solvers
    "GradientDescent",
    "ProximalGradient",
    "FISTA",
    "ProjectedGradient",
    "RichardsonLucy",
    "MultiViewRichardsonLucy",
    "build_views",
    "Views",
    "ADMM",
    "ChambollePock",
    "CondatVu",
    "solve_quadratic",
    # ADMM x-steps
    "XStep",
    "CirculantSolve",
    "ConjugateGradientSolve",
    # the engine
    "Solver",
    "Result",
    "State",
    # stopping rules
    "StoppingRule",
    "StopReason",
    "MaxIter",
    "RelativeChange",
    "ObjectiveChange",
    "TimeLimit",
    "AnyOf",
    "AllOf",
    # callbacks
    "Callback",
    "EveryIteration",
    "ProgressLine",
]
