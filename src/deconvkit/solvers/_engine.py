"""The one loop every solver runs: :class:`Solver`, its :class:`State` and :class:`Result`.

A solver is built from costs and operators and its parameters; ``run`` then
iterates ``x ← step(x)`` until a stopping rule, the iteration cap or the
divergence guard says stop, recording a history row every ``record_every``
iterations:

=================== ==========================================================
``iteration``       the iteration number (0 is the starting point)
``objective``       the value minimized, when the solver tracks it (``nan``
                    rows otherwise; indicator terms are left out, see the
                    solver's ``objective_note``)
``relative_change`` :math:`\\|x_k - x_{k-1}\\| / \\|x_{k-1}\\|` (``nan`` at 0)
``time``            seconds since the run began
``nrmse``, ``psnr`` with ``ground_truth=``: :func:`deconvkit.metrics.nrmse`
                    (after the best affine fit, so scale and offset are not
                    punished) and :func:`deconvkit.metrics.psnr`
=================== ==========================================================

plus the solver's own diagnostics (ADMM's residuals, FISTA's restarts, ...).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
from ..backend import backend_of, namespace, to_backend, zeros

from .. import metrics
from ._callbacks import Callback, ProgressLine
from ._stopping import StoppingRule, StopReason

__all__ = ["Solver", "State", "Result", "StopReason", "check_max_iter"]

#: Divergence: the objective exceeds its reference by this factor (orders of magnitude).
DIVERGENCE_FACTOR = 1e4


@dataclass
class Result:
    """What :meth:`Solver.run` returns.

    Attributes
    ----------
    x : array
        The estimate (the last finite iterate if the run diverged).
    history : dict of str to list
        One row per recorded iteration (see the module notes for the keys).
    n_iter : int
        Number of iterations behind ``x``.
    stop_reason : str
        Why the run stopped, in words.
    converged : bool
        True when a tolerance rule (``RelativeChange``, ``ObjectiveChange``)
        stopped the run; False for an iteration cap, a time limit or divergence.
    solver : str
        The solver's name.
    diverged : bool
        True when the divergence guard stopped the run.
    parameters : dict
        What produced the result, for the record (a method's name and
        parameters when :func:`deconvkit.methods.run` made it).
    best_x : array or None
        With ``keep="best"`` and a ground truth: the iterate of the lowest
        NRMSE (its iteration is ``best()[0]``); None otherwise.
    """

    x: Any
    history: dict[str, list]
    n_iter: int
    stop_reason: str
    converged: bool = False
    solver: str = ""
    diverged: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    best_x: Any = field(default=None, repr=False)

    def best(self, metric: str = "nrmse") -> tuple[int, float]:
        """The recorded iteration where ``metric`` was best, and its value.

        Lowest for ``nrmse``, highest for ``psnr``/``ssim``. Needs a run with
        ``ground_truth=``.
        """
        if metric not in self.history:
            raise KeyError(f"the history has no {metric!r}; run with ground_truth= to record it")
        values = np.asarray(self.history[metric], dtype=float)
        values = np.where(np.isfinite(values), values, np.nan)
        if np.all(np.isnan(values)):
            raise ValueError(f"{metric} is undefined at every recorded iteration")
        index = int(np.nanargmin(values) if metric == "nrmse" else np.nanargmax(values))
        return int(self.history["iteration"][index]), float(values[index])

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in getattr(self.x, "shape", ()))
        return (
            f"Result({self.solver}, x: {shape}, n_iter={self.n_iter}, "
            f"stop_reason={str(self.stop_reason)!r})"
        )


@dataclass
class State:
    """What callbacks and stopping rules see at each iteration."""

    solver_name: str
    iteration: int = 0
    x: Any = None
    history: dict[str, list] = field(default_factory=dict)
    elapsed: float = 0.0
    objective: float | None = None
    relative_change: float | None = None
    recorded: bool = False
    stop_reason: str | None = None
    solver: Any = None


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def check_max_iter(max_iter: Any) -> int:
    """``max_iter`` must be a positive integer."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter <= 0:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    return int(max_iter)


def _norm(x: Any) -> float:
    xp = namespace(x)
    return float(xp.sqrt(xp.vdot(x.ravel(), x.ravel()).real))


def _crop_centre(x: Any, shape: tuple[int, ...]) -> Any:
    window = tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(x.shape, shape))
    return x[window]


class Solver:
    r"""Base class: the loop, the history, stopping, callbacks and the divergence guard.

    Subclasses set ``shape`` and ``dtype`` in ``__init__`` and implement

    * ``_start(x0) -> x``: set up auxiliary variables from a starting point
      (``x0`` already checked, or None for the solver's default);
    * ``_iterate(x) -> x_new``: one iteration; it returns a new array (it
      may reuse buffers other than ``x``), or ``x`` itself updated in place
      when ``updates_in_place`` is True;
    * ``_objective(x) -> float`` when ``tracks_objective`` is True
      (``_objective_wanted`` tells ``_iterate`` whether the engine will ask it for
      this iteration, ``_recording`` whether the iteration is a history row);
    * optionally ``_diagnostics() -> dict`` of extra history values.

    A solver that already knows :math:`\|x_{k+1} - x_k\|^2` and
    :math:`\|x_{k+1}\|^2` (a fused kernel computed them while updating) sets
    ``self._change = (change², norm²)`` in ``_iterate``; the loop then forms no
    difference array. A solver that updates in place must do so.
    """

    name = "Solver"
    default_max_iter = 100
    tracks_objective = True
    #: How the objective is defined (shown in docs and ``repr``).
    objective_note = ""
    #: ``_iterate`` overwrites its input (the loop cannot keep the previous iterate).
    updates_in_place = False
    #: Record the objective every this many recorded rows by default (1: every row).
    default_objective_every = 1
    _change: tuple[float, float] | None = None

    shape: tuple[int, ...] = ()
    dtype: Any = np.float32
    #: Set by ``run`` before each ``_iterate``: whether that iteration will be recorded
    #: (a row of the history), and whether the engine will ask for its objective there
    #: (every ``objective_every`` rows: a solver may then compute it inside the iteration,
    #: where it is cheap, and skip it on the other rows, where it is not wanted).
    _recording: bool = True
    _objective_wanted: bool = True

    # -- hooks -----------------------------------------------------------
    def _start(self, x0: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _iterate(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _objective(self, x: Any) -> float:
        return math.nan

    def _diagnostics(self) -> dict[str, float]:
        return {}

    #: An array of the problem's backend (data or operator), to allocate like.
    _like: Any = None

    def _default_x0(self) -> Any:
        return zeros(self.shape, dtype=self.dtype, like=self._like)

    # -- the loop --------------------------------------------------------
    def _check_x0(self, x0: Any) -> Any:
        if isinstance(x0, Result):
            x0 = x0.x
        if x0 is None:
            return self._default_x0()
        xp = namespace(x0)
        x0 = xp.asarray(x0)
        if tuple(x0.shape) != tuple(self.shape):
            raise ValueError(
                f"{self.name}: x0 has shape {x0.shape} but the problem's unknown has shape "
                f"{tuple(self.shape)}"
            )
        if not bool(xp.all(xp.isfinite(x0))):
            raise ValueError(f"{self.name}: x0 contains NaN or infinite values")
        dtype = x0.dtype if x0.dtype.kind == "f" else self.dtype
        return x0.astype(dtype, copy=True)

    def run(
        self,
        x0: Any = None,
        max_iter: int | None = None,
        stop: StoppingRule | None = None,
        callbacks: Iterable[Callback] = (),
        progress: bool | int = False,
        ground_truth: Any = None,
        record_every: int = 1,
        keep: str = "last",
        objective_every: int | None = None,
    ) -> Result:
        """Iterate from ``x0`` until a stopping rule or ``max_iter`` says stop.

        Parameters
        ----------
        x0 : array or Result, optional
            Starting point (warm start; a previous ``Result`` continues from its
            ``x``). The solver's default otherwise (zeros; for RichardsonLucy a
            flat image with the data's flux). Never modified.
        max_iter : int, optional
            Iteration cap, always applied; by default the ``MaxIter`` inside
            ``stop`` if any, else the solver's ``default_max_iter``.
        stop : StoppingRule, optional
            E.g. ``RelativeChange(1e-4) | TimeLimit(60)``; checked at recorded
            iterations.
        callbacks : iterable of Callback
            Their ``begin``/``step``/``end`` hooks are called with the state.
        progress : bool or int
            Print a progress line to stderr every 10 (or ``progress``) iterations.
        ground_truth : array, optional
            Adds ``nrmse`` and ``psnr`` to the history (computed on the
            iterate's backend: a GPU run synchronises only at recorded rows).
            Of ``x``'s shape, or smaller: then compared with the centred
            window of ``x`` (the field of view inside an extended domain).
        record_every : int
            Record the history (relative change, metrics, stopping rules,
            divergence guard) every this many iterations, and at the last.
        keep : {"last", "best"}
            ``"best"`` with ``ground_truth`` also keeps a copy of the iterate of
            the lowest NRMSE as ``Result.best_x`` (one more array).
        objective_every : int, optional
            Compute the objective at every this many recorded rows (and at the
            last one); other rows hold NaN. The solver's
            ``default_objective_every`` by default (1 for most; Richardson–Lucy
            records it every 10 rows, since its log costs a quarter of an iteration).

        Returns
        -------
        Result
        """
        if stop is not None and not isinstance(stop, StoppingRule):
            raise TypeError(
                f"stop must be a stopping rule such as MaxIter(100) | RelativeChange(1e-4), "
                f"got {stop!r}"
            )
        if max_iter is None:
            max_iter = (stop.max_iter if stop is not None else None) or self.default_max_iter
        max_iter = check_max_iter(max_iter)
        record_every = _positive_int(record_every, "record_every")
        objective_every = _positive_int(objective_every or self.default_objective_every,
                                        "objective_every")
        if keep not in ("last", "best"):
            raise ValueError(f"keep must be 'last' or 'best', got {keep!r}")
        callbacks = list(callbacks)
        if progress:
            every = 10 if progress is True else int(progress)
            callbacks.append(ProgressLine(every=every))
        if stop is not None:
            stop.reset()

        x = self._start(self._check_x0(x0))
        truth = None
        if ground_truth is not None:
            truth = to_backend(ground_truth, backend_of(x))
            truth = truth.astype(np.float64) if truth.dtype != np.float64 else truth
            if truth.ndim != len(self.shape) or any(
                m > n for m, n in zip(truth.shape, self.shape)
            ):
                raise ValueError(
                    f"{self.name}: ground_truth of shape {tuple(truth.shape)} does not fit x of "
                    f"shape {tuple(self.shape)} (same shape, or a centred window of it)"
                )
        history: dict[str, list] = {"iteration": [], "objective": [], "relative_change": [], "time": []}
        state = State(self.name, 0, x, history, solver=self)
        t0 = time.perf_counter()
        self._best = None
        self._keep_best = keep == "best" and truth is not None
        self._record(state, x, math.nan, truth, t0)
        reference = state.objective  # for the divergence test
        best = reference
        in_place = self.updates_in_place
        good = x if (record_every == 1 or in_place) else x.copy()
        for callback in callbacks:
            callback.begin(state)

        reason: StopReason | None = None
        diverged = False
        n_iter = 0
        norm_at = (0, _norm(x))  # (iteration, ‖x‖) of the last norm computed
        rows = 0
        k = 0
        for k in range(1, max_iter + 1):
            prev = x
            self._change = None
            self._recording = k % record_every == 0 or k == max_iter
            self._objective_wanted = self._recording and self.tracks_objective and (
                (rows + 1) % objective_every == 0 or k == max_iter)
            x = self._iterate(x)
            state.iteration, state.x, state.recorded = k, x, False
            if k % record_every == 0 or k == max_iter:
                rows += 1
                if self._change is not None:
                    change_norm, x_norm = (math.sqrt(v) for v in self._change)
                    prev_norm = norm_at[1] if norm_at[0] == k - 1 else math.nan
                else:
                    prev_norm = norm_at[1] if norm_at[0] == k - 1 else _norm(prev)
                    diff = x - prev
                    change_norm = _norm(diff)
                    del diff
                    x_norm = _norm(x)
                norm_at = (k, x_norm)
                if prev_norm > 0:
                    change = change_norm / prev_norm
                elif math.isnan(prev_norm):
                    change = math.nan  # a sparse record: the previous norm is not known
                else:
                    change = math.nan if change_norm == 0 else math.inf  # from 0 to 0: undefined
                wanted = self.tracks_objective and (rows % objective_every == 0 or k == max_iter)
                objective = self._objective(x) if wanted else math.nan
                bad = self._check_divergence(change_norm, x_norm, objective if wanted else None,
                                             reference, best)
                if bad:
                    n_iter = history["iteration"][-1]
                    if in_place:
                        reason = StopReason(f"{bad} at iteration {k}: stopped; this solver updates "
                                            "in place, so the estimate is the diverged iterate; "
                                            "reduce the step size / penalty or check the data")
                        n_iter = k
                    else:
                        x = good
                        reason = StopReason(
                            f"{bad} at iteration {k}: stopped and returned the last finite iterate "
                            f"(iteration {n_iter}); reduce the step size / penalty or check the data"
                        )
                    diverged = True
                    state.x, state.iteration = x, n_iter
                    break
                state.relative_change = change
                self._record(state, x, change, truth, t0, objective)
                if math.isfinite(objective):
                    best = objective if not math.isfinite(best) else min(best, objective)
                good = x if (record_every == 1 or in_place) else x.copy()
                state.recorded = True
                if stop is not None:
                    text = stop(state)
                    if text:
                        reason = text if isinstance(text, StopReason) else StopReason(text)
                        n_iter = k
            state.elapsed = time.perf_counter() - t0
            for callback in callbacks:
                callback.step(state)
            if reason is not None:
                break
        else:
            n_iter = max_iter
            reason = StopReason(f"reached the maximum number of iterations ({max_iter})")
        if (self.tracks_objective and not diverged and history["objective"]
                and math.isnan(history["objective"][-1]) and history["iteration"][-1] == n_iter):
            history["objective"][-1] = float(self._objective(x))  # the last row always has it
            state.objective = history["objective"][-1]
        state.stop_reason = reason
        state.elapsed = time.perf_counter() - t0
        for callback in callbacks:
            callback.end(state)
        best_x = self._best[1] if self._best is not None else None
        return Result(
            x=x,
            history=history,
            n_iter=n_iter,
            stop_reason=reason,
            converged=bool(getattr(reason, "converged", False)),
            solver=self.name,
            diverged=diverged,
            best_x=best_x,
        )

    # -- helpers -------------------------------------------------------------
    def _record(self, state: State, x: Any, change: float, truth: Any, t0: float,
                objective: float | None = None) -> None:
        history = state.history
        if state.iteration == 0:
            objective = self._objective(x) if self.tracks_objective else math.nan
        state.objective = objective
        history["iteration"].append(state.iteration)
        history["objective"].append(float(objective))
        history["relative_change"].append(float(change))
        state.elapsed = time.perf_counter() - t0
        history["time"].append(state.elapsed)
        for key, value in self._diagnostics().items():
            history.setdefault(key, []).append(value)
        if truth is not None:
            estimate = x if tuple(x.shape) == tuple(truth.shape) else _crop_centre(x, truth.shape)
            error = _safe_metric(metrics.nrmse, estimate, truth)
            history.setdefault("nrmse", []).append(error)
            history.setdefault("psnr", []).append(_safe_metric(metrics.psnr, estimate, truth))
            if self._keep_best and math.isfinite(error) and (
                    self._best is None or error < self._best[0]):
                self._best = (error, x.copy())

    def _check_divergence(self, change_norm: float, x_norm: float, objective: float | None,
                          reference: float, best: float) -> str | None:
        if not (math.isfinite(change_norm) and math.isfinite(x_norm)):
            return "NaN or Inf in the iterate"
        if not self.tracks_objective or objective is None:
            return None
        if math.isnan(objective) or objective == -math.inf:
            return f"the objective became {objective}"
        if objective == math.inf:
            # a finite iterate outside a term's domain (a Poisson term where A x + b = 0
            # before the data are fitted) is not divergence; the iterate is watched above
            return None
        if reference is None or not math.isfinite(reference):
            return None
        floor = best if best is not None and math.isfinite(best) else reference
        scale = max(abs(reference), abs(floor))
        if scale > 0 and objective - floor > DIVERGENCE_FACTOR * scale:
            return (
                f"divergence (the objective grew from {floor:.3g} to {objective:.3g}, "
                f"more than {DIVERGENCE_FACTOR:g} times)"
            )
        return None

    def __repr__(self) -> str:
        return f"{self.name}({'x'.join(str(n) for n in self.shape)})"


def _safe_metric(metric: Any, estimate: Any, truth: Any) -> float:
    """The metric, or NaN where it is undefined (a constant or zero ground truth)."""
    try:
        return float(metric(estimate, truth))
    except ValueError:
        return math.nan
