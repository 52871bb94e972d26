"""Callbacks: hooks a solver calls when a run begins, after every iteration, and at the end.

Subclass :class:`Callback` and override any of ``begin``, ``step``, ``end``;
each receives the solver's :class:`~deconvkit.solvers.State` (iteration
number, current ``x``, the history so far, elapsed time). ``state.x`` is the
solver's own array and may be overwritten by the next iteration: copy it to
keep it.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable, TextIO

__all__ = ["Callback", "ProgressLine", "EveryIteration"]


class Callback:
    """Base class with do-nothing ``begin``, ``step`` and ``end`` hooks."""

    def begin(self, state: Any) -> None:
        """Called once, before the first iteration (``state.iteration == 0``)."""

    def step(self, state: Any) -> None:
        """Called after every iteration (``state.recorded`` tells whether the
        history got a row this iteration)."""

    def end(self, state: Any) -> None:
        """Called once, after the last iteration (``state.stop_reason`` is set)."""


class EveryIteration(Callback):
    """Wrap a plain function ``fn(state)`` as a callback called after every iteration."""

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.fn = fn

    def step(self, state):
        self.fn(state)


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.6g}"


class ProgressLine(Callback):
    """Print ``iteration, objective, relative change, elapsed`` every ``every``
    recorded iterations to ``stream`` (stderr by default), one line each.

    ``Solver.run(progress=True)`` adds one with ``every=10``; ``progress=k``
    prints every ``k`` iterations.
    """

    def __init__(self, every: int = 10, stream: TextIO | None = None) -> None:
        if every <= 0:
            raise ValueError(f"ProgressLine's every must be a positive integer, got {every!r}")
        self.every = int(every)
        self.stream = stream
        self._last = -1

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def begin(self, state):
        self._last = -1
        self._write(f"{state.solver_name}: {'iter':>6} {'objective':>13} {'rel.change':>11} {'elapsed':>9}")

    def _line(self, state):
        self._last = state.iteration
        self._write(
            f"{state.solver_name}: {state.iteration:6d} {_number(state.objective):>13} "
            f"{_number(state.relative_change):>11} {state.elapsed:8.2f}s"
        )

    def step(self, state):
        if state.recorded and state.iteration - max(self._last, 0) >= self.every:
            self._line(state)

    def end(self, state):
        if state.iteration != self._last:
            self._line(state)
        self._write(f"{state.solver_name}: stopped after {state.iteration} iterations: {state.stop_reason}")
