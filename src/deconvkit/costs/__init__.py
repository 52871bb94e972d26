"""Costs: data fidelities, regularizers, constraints and plug-and-play priors (``deconvkit.costs``).

Compose them with operators (``LeastSquares(y) @ (S @ H)``), add them, and
weight them (``0.01 * MixedNorm21() @ Gradient(shape)``).
"""

from ._base import Composition, Cost, ScaledCost, SumCost
from ._constraints import Box, NonNegative
from ._data import LeastSquares, PoissonLikelihood
from ._plug_and_play import (
    BM4D,
    NonLocalMeans,
    PlugAndPlay,
    RegularizationByDenoising,
    WaveletShrinkage,
)
from ._norms import L1, Huber, MixedNorm21, NonNegativeL1, SquaredL2, Tikhonov
from ._regularizers import (
    HessianSchatten,
    SmoothedMixedNorm21,
    SmoothedTotalVariation,
    TotalVariation,
)
from ._schatten import SchattenNorm

__all__ = [
    "BM4D",
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
    "NonLocalMeans",
    "PlugAndPlay",
    "RegularizationByDenoising",
    "PoissonLikelihood",
    "ScaledCost",
    "SchattenNorm",
    "SmoothedMixedNorm21",
    "SmoothedTotalVariation",
    "SquaredL2",
    "SumCost",
    "Tikhonov",
    "TotalVariation",
    "WaveletShrinkage",
]
