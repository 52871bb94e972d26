"""Costs: data fidelities, regularizers and constraints (``deconvkit.costs``).

Compose them with operators (``LeastSquares(y) @ (S @ H)``), add them, and
weight them (``0.01 * MixedNorm21() @ Gradient(shape)``).
"""

from ._base import Composition, Cost, ScaledCost, SumCost
from ._constraints import Box, NonNegative
from ._data import LeastSquares, PoissonLikelihood
from ._norms import L1, Huber, MixedNorm21, NonNegativeL1, SquaredL2, Tikhonov
from ._regularizers import (
    HessianSchatten,
    SmoothedMixedNorm21,
    SmoothedTotalVariation,
    TotalVariation,
)
from ._schatten import SchattenNorm

__all__ = [
    "L1",
    "Box",
    "Composition",
    "Cost",
    "HessianSchatten",
    "Huber",
    "LeastSquares",
    "MixedNorm21",
    "NonNegative",
    "NonNegativeL1",
    "PoissonLikelihood",
    "ScaledCost",
    "SchattenNorm",
    "SmoothedMixedNorm21",
    "SmoothedTotalVariation",
    "SquaredL2",
    "SumCost",
    "Tikhonov",
    "TotalVariation",
]
