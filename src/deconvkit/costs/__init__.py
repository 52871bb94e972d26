"""Costs: data fidelities, regularizers and constraints (``deconvkit.costs``).

Compose them with operators (``LeastSquares(y) @ (S @ H)``), add them, and
weight them (``0.01 * MixedNorm21() @ Gradient(shape)``).
"""

from ._base import Composition, Cost, ScaledCost, SumCost
from ._data import LeastSquares

__all__ = ["Cost", "Composition", "ScaledCost", "SumCost", "LeastSquares"]
