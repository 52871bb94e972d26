"""Checks and hypothesis strategies for users' own operators (and ours).

A user's adjoint test is three lines::

    from hypothesis import given
    from deconvkit.testing import check_adjoint, strategies as dks

    @given(dks.shapes())
    def test_my_operator(shape):
        check_adjoint(MyOperator(shape))

Costs have their checks too: ``check_gradient(cost, x)`` (finite
differences), ``check_prox(cost, x, tau)`` (optimality, perturbations, Moreau
identity, projections), ``check_cost_dtype`` and ``check_cost_not_mutated``.

``strategies`` needs hypothesis (``pip install deconvkit[test]``) and is
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._costs import check_cost_dtype, check_cost_not_mutated, check_gradient, check_prox
from ._operators import (
    check_adjoint,
    check_dtype_preserved,
    check_linearity,
    check_lipschitz,
    check_not_mutated,
    check_operator,
    check_shapes,
    default_rtol,
    random_array,
)

__all__ = [
    "check_adjoint",
    "check_cost_dtype",
    "check_cost_not_mutated",
    "check_dtype_preserved",
    "check_gradient",
    "check_linearity",
    "check_lipschitz",
    "check_not_mutated",
    "check_operator",
    "check_prox",
    "check_shapes",
    "default_rtol",
    "random_array",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name == "strategies":
        try:
            return importlib.import_module(".strategies", __name__)
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError(
                "deconvkit.testing.strategies needs hypothesis: pip install 'deconvkit[test]'"
            ) from error
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
