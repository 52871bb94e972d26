"""A method of the catalogue with a grid of parameter values to try."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import methods

__all__ = ["MAX_RUNS", "MethodGrid", "check_study_size", "format_parameters", "log_range"]

#: Parameters a study sets from each case, never from a method's grid.
FROM_THE_CASE = ("spacing", "background")
#: The most runs a study may have (cases x grid points, all methods), and so the most
#: points one grid or one range may have: counted before anything is expanded.
MAX_RUNS = 10_000


def check_study_size(cases: int, grids: Sequence[Any], where: str = "the study") -> int:
    """The number of runs (``cases`` x the grid points of every method); refuse more than
    :data:`MAX_RUNS`, with the count, before anything runs."""
    points = sum(len(grid) for grid in grids)
    runs = cases * points
    if runs > MAX_RUNS:
        raise ValueError(f"{where} has {runs:,} runs ({cases} case(s) x {points:,} grid points), "
                         f"more than the limit of {MAX_RUNS:,}: use fewer values per grid axis "
                         f"(a coarse grid first, then a finer one around the best)")
    return runs


def log_range(start: float, stop: float, num: int) -> list[float]:
    r"""``num`` values from ``start`` to ``stop`` evenly spaced on a log scale.

    .. math:: v_i = \mathrm{start}\,(\mathrm{stop}/\mathrm{start})^{i/(n-1)}, \quad i = 0..n-1

    rounded to 3 significant digits (they name the runs in tables).
    """
    if not (start > 0 and stop > 0):
        raise ValueError(f"a log range needs positive ends, got {start!r} and {stop!r}")
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"a range needs a positive whole number of values, got {num!r}")
    if num > MAX_RUNS:
        raise ValueError(f"a range of {num:,} values is more than a study may run (at most "
                         f"{MAX_RUNS:,} runs); use fewer values")
    return [float(f"{v:.3g}") for v in np.geomspace(start, stop, num)]


def format_parameters(parameters: Mapping[str, Any]) -> str:
    """``lam=0.001, data=gaussian``: the values of a run, short and stable."""
    if not parameters:
        return "defaults"
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in parameters.items())


@dataclass(frozen=True)
class MethodGrid:
    """A method and the parameter values a study tries, every combination of them.

    The iteration count is *not* a grid axis: an iterative method runs to
    ``max_iter`` (a fixed parameter) and the study reads the metric at every
    iteration from the solver's history, so the best iteration is known
    without rerunning.

    Parameters
    ----------
    method : str
        A name of :func:`deconvkit.methods.available` (aliases accepted).
    grid : mapping of str to sequence
        Parameter name to the values to try (the cartesian product is run).
    params : mapping of str to value
        Fixed parameters (``max_iter``, ``data``, ...).
    label : str, optional
        The name in tables and figures (default: the method's name); give one
        when a study runs the same method twice with different fixed parameters.

    Examples
    --------
    >>> grid = MethodGrid("rltv", {"lam": [1e-3, 1e-2]}, {"max_iter": 50})
    >>> grid.points()
    [{'lam': 0.001}, {'lam': 0.01}]
    >>> MethodGrid.sweep("rltv", lam=[1e-3, 1e-2], max_iter=50) == grid
    True
    """

    method: str
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        spec = methods.get(self.method)
        object.__setattr__(self, "method", spec.name)
        label = spec.name if self.label is None else self.label
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"{spec.name}: label must be a non-empty string, got {label!r}")
        object.__setattr__(self, "label", label)
        grid: dict[str, tuple[Any, ...]] = {}
        count = 1
        for name, values in dict(self.grid).items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(  # noqa: TRY004 - user input, one-line message
                    f"{label}: the grid of {name} must be a list of values, "
                                 f"got {values!r}")
            if len(values) == 0:
                raise ValueError(f"{label}: the grid of {name} is empty")
            count *= len(values)  # counted before any axis is copied or combined
            if count > MAX_RUNS:
                sizes = " x ".join(f"{len(v):,}" for v in dict(self.grid).values())
                raise ValueError(f"{label}: the grid has {sizes} points, more than the "
                                 f"limit of {MAX_RUNS:,} runs a study may have; use fewer "
                                 f"values per axis")
        for name, values in dict(self.grid).items():
            grid[name] = tuple(values)
        params = dict(self.params)
        if "max_iter" in grid:
            raise ValueError(
                f"{label}: max_iter is not a grid axis; give one value, the largest: the "
                "metric is read at every iteration from the history, so the best iteration "
                "is found without rerunning")
        for name in FROM_THE_CASE:
            if name in grid or name in params:
                raise ValueError(f"{label}: {name} comes from each case, not from a method")
        both = sorted(set(grid) & set(params))
        if both:
            raise ValueError(f"{label}: {', '.join(both)} is both a grid axis and fixed")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "params", params)
        for point in self.points():
            spec.validate({**params, **point})  # unknown names, out-of-range values

    @classmethod
    def sweep(cls, method: str, *, label: str | None = None, **values: Any) -> MethodGrid:
        """A grid from keyword arguments: lists are axes, other values are fixed."""
        grid = {k: v for k, v in values.items() if isinstance(v, list)}
        params = {k: v for k, v in values.items() if not isinstance(v, list)}
        return cls(method, grid, params, label)

    @property
    def iterative(self) -> bool:
        """Whether the method iterates (then its metric is tracked per iteration)."""
        return methods.get(self.method).iterative

    @property
    def max_iter(self) -> int | None:
        """The iteration cap of an iterative method (its default when not given)."""
        if not self.iterative:
            return None
        return int(self.params.get("max_iter", methods.get(self.method).defaults()["max_iter"]))

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values, in order (the last axis fastest)."""
        names = list(self.grid)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.grid.values())]

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def describe(self) -> str:
        """``rltv: lam in [0.001, 0.01]; max_iter=50``."""
        axes = "; ".join(f"{k} in [{', '.join(format(v, 'g') if isinstance(v, float) else str(v) for v in vs)}]"
                         for k, vs in self.grid.items())
        fixed = format_parameters(self.params) if self.params else ""
        parts = [p for p in (axes, fixed) if p]
        name = self.label if self.label == self.method else f"{self.label} ({self.method})"
        return f"{name}: {'; '.join(parts) or 'defaults'}"
