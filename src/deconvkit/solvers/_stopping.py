"""Stopping rules: small objects combined with ``|`` (any) and ``&`` (all).

A rule is called with the solver's :class:`~deconvkit.solvers.State` at every
recorded iteration (see ``record_every`` in :meth:`Solver.run`) and returns
``None`` to go on or a readable reason to stop::

    stop = MaxIter(500) | (RelativeChange(1e-4) & ObjectiveChange(1e-6)) | TimeLimit(60)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "StoppingRule",
    "StopReason",
    "MaxIter",
    "RelativeChange",
    "ObjectiveChange",
    "TimeLimit",
    "AnyOf",
    "AllOf",
]


class StopReason(str):
    """A readable reason to stop, that also knows whether it means convergence."""

    converged: bool = False

    def __new__(cls, text: str, converged: bool = False) -> StopReason:
        obj = super().__new__(cls, text)
        obj.converged = converged
        return obj


def _positive(value: Any, what: str) -> float:
    if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


class StoppingRule:
    """Base class: ``rule(state)`` returns ``None`` (go on) or a reason (stop).

    Subclasses implement :meth:`check`. ``a | b`` stops when either says so,
    ``a & b`` when both do; :meth:`reset` is called when a run begins.
    """

    def reset(self) -> None:
        """Forget what the rule remembered from an earlier run."""

    def check(self, state: Any) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, state: Any) -> str | None:
        return self.check(state)

    def __or__(self, other: StoppingRule) -> AnyOf:
        if not isinstance(other, StoppingRule):
            return NotImplemented
        return AnyOf(self, other)

    def __and__(self, other: StoppingRule) -> AllOf:
        if not isinstance(other, StoppingRule):
            return NotImplemented
        return AllOf(self, other)

    @property
    def max_iter(self) -> int | None:
        """The iteration cap this rule implies (None if it implies none)."""
        return None


class MaxIter(StoppingRule):
    """Stop after ``n`` iterations."""

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
            raise ValueError(f"MaxIter needs a positive integer number of iterations, got {n!r}")
        self.n = int(n)

    def check(self, state):
        if state.iteration >= self.n:
            return f"reached the maximum number of iterations ({self.n})"
        return None

    @property
    def max_iter(self):
        return self.n

    def __repr__(self):
        return f"MaxIter({self.n})"


class RelativeChange(StoppingRule):
    r"""Stop when :math:`\|x_k - x_{k-1}\| / \|x_{k-1}\| \le` ``tol``."""

    def __init__(self, tol: float) -> None:
        self.tol = _positive(tol, "RelativeChange's tol")

    def check(self, state):
        change = state.relative_change
        if change is not None and not math.isnan(change) and change <= self.tol:
            return StopReason(f"relative change of x {change:.3g} <= {self.tol:g}", True)
        return None

    def __repr__(self):
        return f"RelativeChange({self.tol:g})"


class ObjectiveChange(StoppingRule):
    r"""Stop when :math:`|f_k - f_{k'}| / \max(|f_{k'}|, \epsilon) \le` ``tol``.

    ``k'`` is the previous recorded iteration with an objective (rows without
    one, see ``objective_every``, are skipped). Solvers that do not track the
    objective never trigger this rule (their history says so).
    """

    def __init__(self, tol: float) -> None:
        self.tol = _positive(tol, "ObjectiveChange's tol")

    def check(self, state):
        values = state.history.get("objective", [])
        if not values or not math.isfinite(values[-1]):
            return None
        known = [v for v in values[-2::-1] if math.isfinite(v)]
        if not known:
            return None
        now, before = values[-1], known[0]
        change = abs(now - before) / max(abs(before), 1e-300)
        if change <= self.tol:
            return StopReason(f"relative change of the objective {change:.3g} <= {self.tol:g}", True)
        return None

    def __repr__(self):
        return f"ObjectiveChange({self.tol:g})"


class TimeLimit(StoppingRule):
    """Stop once ``seconds`` of wall time have passed since the run began."""

    def __init__(self, seconds: float) -> None:
        self.seconds = _positive(seconds, "TimeLimit's seconds")

    def check(self, state):
        if state.elapsed >= self.seconds:
            return f"time limit of {self.seconds:g} s reached ({state.elapsed:.3g} s)"
        return None

    def __repr__(self):
        return f"TimeLimit({self.seconds:g})"


class AnyOf(StoppingRule):
    """Stop when any of ``rules`` says so (``a | b``); the first reason is given."""

    def __init__(self, *rules: StoppingRule) -> None:
        flat: list[StoppingRule] = []
        for rule in rules:
            flat.extend(rule.rules if isinstance(rule, AnyOf) else [rule])
        self.rules = tuple(flat)

    def reset(self):
        for rule in self.rules:
            rule.reset()

    def check(self, state):
        for rule in self.rules:
            reason = rule.check(state)
            if reason:
                return reason
        return None

    @property
    def max_iter(self):
        caps = [r.max_iter for r in self.rules if r.max_iter is not None]
        return min(caps) if caps else None

    def __repr__(self):
        return " | ".join(repr(r) for r in self.rules)


class AllOf(StoppingRule):
    """Stop when all of ``rules`` say so (``a & b``); their reasons are joined."""

    def __init__(self, *rules: StoppingRule) -> None:
        flat: list[StoppingRule] = []
        for rule in rules:
            flat.extend(rule.rules if isinstance(rule, AllOf) else [rule])
        self.rules = tuple(flat)

    def reset(self):
        for rule in self.rules:
            rule.reset()

    def check(self, state):
        reasons = []
        for rule in self.rules:
            reason = rule.check(state)
            if not reason:
                return None
            reasons.append(reason)
        return StopReason(" and ".join(reasons), all(getattr(r, "converged", False) for r in reasons))

    @property
    def max_iter(self):
        caps = [r.max_iter for r in self.rules if r.max_iter is not None]
        return max(caps) if len(caps) == len(self.rules) else None

    def __repr__(self):
        return "(" + " & ".join(repr(r) for r in self.rules) + ")"
