"""One description per method and parameter, driving the API, the command line and the docs."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable

__all__ = ["Parameter", "Method", "register", "get", "available", "COMMON", "ITERATIVE"]


@dataclass(frozen=True)
class Parameter:
    """A method parameter: name, type, default, valid range or choices, one-line help.

    ``range = (low, high)`` bounds the value (None: unbounded on that side);
    ``open = (low_open, high_open)`` excludes a bound itself, so ``(0, None)``
    with ``open=(True, False)`` is "> 0". NaN and infinite values are always
    refused: the printed range is exactly what is accepted. ``auto=True`` also
    accepts the string ``"auto"`` (the plan then chooses the value from the data);
    ``rules`` names the criteria it may be asked for by name instead (``"pure"``,
    ``"discrepancy"``: ``"auto"`` is the first of them).
    """

    name: str
    type: type
    default: Any
    help: str
    range: tuple[float | None, float | None] | None = None
    choices: tuple[Any, ...] | None = None
    open: tuple[bool, bool] = (False, False)
    auto: bool = False
    rules: tuple[str, ...] = ()

    def interval(self) -> str:
        """The accepted range as text: ``[0, inf)``, ``(0, 1)``, ``[1e-06, 1.999]``."""
        low, high = self.range or (None, None)
        left = "(" if low is None or self.open[0] else "["
        right = ")" if high is None or self.open[1] else "]"
        return f"{left}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{right}"

    def validate(self, value: Any, method: str) -> Any:
        """The value converted to the parameter's type, or a ValueError that says what is allowed."""
        if self.auto and isinstance(value, str) and value.lower() in ("auto", *self.rules):
            return value.lower()
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(
                    f"{method}: {self.name} must be one of {', '.join(map(str, self.choices))}; "
                    f"got {value!r}"
                )
            return value
        if self.type in (int, float):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                also = f" or {self._words()}" if self.auto else ""
                raise ValueError(f"{method}: {self.name} must be a number{also}, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{method}: {self.name} must be a finite number in "
                                 f"{self.interval()}, got {value!r}")
            if self.type is int and int(value) != value:
                raise ValueError(f"{method}: {self.name} must be a whole number, got {value!r}")
            value = self.type(value)
            low, high = self.range or (None, None)
            below = low is not None and (value <= low if self.open[0] else value < low)
            above = high is not None and (value >= high if self.open[1] else value > high)
            if below or above:
                raise ValueError(f"{method}: {self.name} must lie in {self.interval()}, got {value:g}")
        elif self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{method}: {self.name} must be True or False, got {value!r}")
        return value

    def _words(self) -> str:
        return ", ".join(repr(w) for w in ("auto", *self.rules))

    def describe(self) -> str:
        """One line: name, type, default, range or choices, help."""
        allowed = ""
        if self.choices:
            allowed = " {" + ", ".join(map(str, self.choices)) + "}"
        elif self.range:
            allowed = f" in {self.interval()}"
        if self.auto:
            allowed += f" or {self._words()}"
        return f"{self.name} ({self.type.__name__}, default {self.default!r}{allowed}): {self.help}"


@dataclass(frozen=True)
class Method:
    """A named deconvolution method of the catalogue."""

    name: str
    summary: str
    model: str
    regularization: str
    solver: str
    iterative: bool
    parameters: tuple[Parameter, ...]
    build: Callable[..., Any] = field(repr=False)
    aliases: tuple[str, ...] = ()
    arrays: int = 6
    max_iter: int = 100
    start_from_data: bool = False
    scratch_mib: float = 0.0

    @property
    def all_parameters(self) -> tuple[Parameter, ...]:
        """The method's own parameters, then the common ones (``max_iter``'s default its own)."""
        if not self.iterative:
            return self.parameters + COMMON
        iterative = tuple(replace(p, default=self.max_iter) if p.name == "max_iter" else p
                          for p in ITERATIVE)
        return self.parameters + COMMON + iterative

    def poisson(self, values: dict[str, Any]) -> bool:
        """Whether the method, with these parameters, fits a Poisson likelihood."""
        return self.model.lower().startswith("poisson") and values.get("data", "poisson") == "poisson"

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.all_parameters}

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Defaults completed by ``params``, each checked; unknown names are refused."""
        known = {p.name: p for p in self.all_parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"{self.name} has no parameter {', '.join(map(repr, unknown))}; its parameters "
                f"are: {', '.join(known)}"
            )
        values = self.defaults()
        for name, value in params.items():
            if value is None and known[name].default is None:
                values[name] = None
                continue
            if known[name].type is object:
                values[name] = value
                continue
            values[name] = known[name].validate(value, self.name)
        return values

    def describe(self) -> str:
        lines = [f"{self.name}: {self.summary}"]
        lines += [f"    {p.describe()}" for p in self.parameters]
        lines += [f"    {p.describe()}" for p in self.all_parameters if p.name == "max_iter"]
        return "\n".join(lines)


COMMON = (
    Parameter("boundary", str, "extended",
              "object domain: image + PSF margin (extended), circular, or mirror-padded",
              choices=("extended", "periodic", "reflect")),
    Parameter("background", object, 0.0, "background b in y ≈ Hx + b: a number, a map, or 'auto'"),
    Parameter("spacing", object, None, "voxel size in µm (dz, dy, dx); 1 if not given"),
    Parameter("apodize", int, 0, "periodic only: voxels blended into the mean at each edge",
              range=(0, None)),
)

ITERATIVE = (
    Parameter("max_iter", int, 100, "number of iterations (the upper limit with stop='auto')",
              range=(1, None)),
    Parameter("stop", str, "max_iter",
              "'max_iter': run all iterations; 'auto': stop at the noise level (discrepancy), "
              "an accelerated RL not before a held-out half of the data fits best, fista "
              "where it does",
              choices=("max_iter", "auto")),
    Parameter("rel_tol", float, None,
              "also stop when ‖x_k − x_{k−1}‖/‖x_{k−1}‖ falls below this (None: never); "
              "a few percent stops RL before any gain, so keep it small (1e-4)",
              range=(0.0, 1.0), open=(True, False)),
    Parameter("clip_negative", bool, False,
              "Poisson methods: clip negative data to 0 instead of refusing them"),
)

_CATALOGUE: dict[str, Method] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str,
    summary: str,
    *,
    model: str,
    regularization: str,
    solver: str,
    iterative: bool,
    parameters: tuple[Parameter, ...] = (),
    aliases: tuple[str, ...] = (),
    arrays: int = 6,
    max_iter: int = 100,
    start_from_data: bool = False,
    scratch_mib: float = 0.0,
) -> Callable:
    """Decorator adding a method to the catalogue.

    ``build(problem, **own_parameters)`` returns the restored array on the
    problem's domain (closed-form methods) or a solver ready to run
    (iterative methods; they also receive ``clip_negative``). ``arrays`` is
    the number of domain-sized float32 arrays the method holds at once (a
    half spectrum counts as one) and ``scratch_mib`` the working memory of a
    fixed size (chunked computations), both measured with tracemalloc
    (``benchmarks/bench_methods.py``) for the memory estimate; ``max_iter`` the
    default number of iterations; ``start_from_data`` starts the solver from
    ``max(y − b, 0)`` (the margin at its mean) instead of the solver's default.
    """

    def decorate(build: Callable) -> Callable:
        method = Method(name, summary, model, regularization, solver, iterative, parameters,
                        build, aliases, arrays, max_iter, start_from_data, scratch_mib)
        _CATALOGUE[name] = method
        for alias in (name, *aliases):
            _ALIASES[alias.lower()] = name
        return build

    return decorate


def get(name: str) -> Method:
    """The method called ``name`` (DeconvolutionLab2's short names and aliases accepted)."""
    key = str(name).lower()
    if key not in _ALIASES:
        raise ValueError(
            f"unknown method {name!r}; available methods: {', '.join(_CATALOGUE)}"
        )
    return _CATALOGUE[_ALIASES[key]]


def available() -> dict[str, Method]:
    """The catalogue: method name to :class:`Method` (summary, parameters, solver)."""
    return dict(_CATALOGUE)
