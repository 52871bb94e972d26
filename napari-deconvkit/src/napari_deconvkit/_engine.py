"""Deconvolving a napari layer's data: axes, a PSF per channel, time series, progress, cancel.

Nothing here imports Qt or napari, so the whole computation is testable (and
usable from a script) without a viewer. A layer of ``T`` time points and ``C``
channels (any order of the letters ``T``, ``C`` before or between the spatial
axes, e.g. ``TCZYX``, ``TZCYX``) is split into ``T x C`` volumes; each volume
goes through :func:`deconvkit.methods.run` with the channel's PSF, and for a
time series the previous time point's result is the next one's warm start
(``x0=``), which is where the frames' similarity pays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

import deconvkit
from deconvkit import methods
from deconvkit.solvers import Callback

__all__ = [
    "Cancelled",
    "InputError",
    "Job",
    "Layout",
    "Outcome",
    "Progress",
    "axes_choices",
    "execute",
    "guess_axes",
    "layout",
    "psf_per_channel",
]

SPATIAL = "ZYX"

#: The axis orders offered for a layer of each number of axes (the first is the default).
AXES = {
    1: ("X",),
    2: ("YX",),
    3: ("ZYX",),
    4: ("TZYX", "CZYX", "ZCYX"),
    5: ("TCZYX", "CTZYX", "TZCYX"),
}


class InputError(ValueError):
    """Bad input from the user, in one line that names the problem and the fix."""


class Cancelled(Exception):
    """Raised inside the solver's callback when the user cancels a run."""


def axes_choices(ndim: int) -> tuple[str, ...]:
    """The axis orders offered for a layer with ``ndim`` axes (``()`` if none fits)."""
    return AXES.get(int(ndim), ())


def guess_axes(ndim: int, hints: Sequence[Any] = ()) -> str:
    """The first hint that is a valid order for ``ndim`` axes, else the default.

    Hints are strings (``"TZYX"``, a reader's ``metadata["axes"]``) or sequences
    of axis labels (napari's ``viewer.dims.axis_labels``, e.g. ``("t", "z", "y", "x")``).
    """
    choices = axes_choices(ndim)
    for hint in hints:
        if hint is None:
            continue
        text = hint if isinstance(hint, str) else "".join(str(label)[:1] for label in hint)
        text = text.upper()
        if text in choices:
            return text
    if not choices:
        raise InputError(
            f"a layer of {ndim} axes is not supported: give a YX, ZYX, or a 4D/5D layer with "
            "time (T) and channel (C) axes"
        )
    return choices[0]


@dataclass(frozen=True)
class Layout:
    """How a layer's axes split into time (``T``), channels (``C``) and space (``ZYX``)."""

    axes: str
    shape: tuple[int, ...]

    @property
    def spatial(self) -> str:
        return "".join(a for a in self.axes if a in SPATIAL)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(n for a, n in zip(self.axes, self.shape) if a in SPATIAL)

    @property
    def n_time(self) -> int:
        return self.shape[self.axes.index("T")] if "T" in self.axes else 1

    @property
    def n_channels(self) -> int:
        return self.shape[self.axes.index("C")] if "C" in self.axes else 1

    def index(self, t: int, c: int) -> tuple:
        """The index of the volume at time ``t``, channel ``c`` in the layer's data."""
        return tuple(t if a == "T" else c if a == "C" else slice(None) for a in self.axes)

    def spacing(self, scale: Sequence[float]) -> tuple[float, ...]:
        """The voxel size (µm) along the spatial axes from a layer's ``scale``."""
        return tuple(float(s) for a, s in zip(self.axes, scale) if a in SPATIAL)


def layout(shape: Sequence[int], axes: str) -> Layout:
    """Check that ``axes`` describes an array of ``shape`` and return its :class:`Layout`."""
    shape = tuple(int(n) for n in shape)
    axes = str(axes).upper()
    if len(axes) != len(shape):
        raise InputError(f"the axes {axes!r} name {len(axes)} axes but the layer has "
                         f"{len(shape)} ({'x'.join(map(str, shape))}): choose a matching order")
    if set(axes) - set("TC" + SPATIAL) or len(set(axes)) != len(axes):
        raise InputError(f"axes {axes!r} must use each of T, C, Z, Y, X at most once")
    spatial = "".join(a for a in axes if a in SPATIAL)
    if spatial not in ("X", "YX", "ZYX"):
        raise InputError(f"axes {axes!r}: the spatial axes must be YX or ZYX, in that order")
    return Layout(axes, shape)


def psf_per_channel(psf: Any, lay: Layout, name: str = "the PSF") -> list[np.ndarray]:
    """One PSF per channel: a spatial PSF for all, or one per channel along a leading axis.

    Raises :class:`InputError` with the expected shapes when ``psf`` fits neither.
    """
    psf = np.asarray(psf)
    n = len(lay.spatial)
    if psf.ndim == n:
        return [psf] * lay.n_channels
    if psf.ndim == n + 1 and psf.shape[0] in (1, lay.n_channels):
        return [psf[min(c, psf.shape[0] - 1)] for c in range(lay.n_channels)]
    channels = lay.n_channels
    expected = f"a {lay.spatial} PSF ({n} axes)"
    if channels > 1:
        expected += f", or C{lay.spatial} with one PSF per channel (C={channels})"
    raise InputError(f"{name} has {psf.ndim} axes {psf.shape} but the image's spatial axes are "
                     f"{lay.spatial}: give {expected}")


@dataclass
class Job:
    """Everything a run needs, decided in the main thread before the worker starts.

    ``params`` go to :func:`deconvkit.methods.run` as they are (the method's
    parameters, ``spacing`` and the run options the user set).
    """

    data: Any
    layout: Layout
    psfs: list[np.ndarray]
    method: str
    params: dict[str, Any]
    warm_start: bool = True

    @property
    def n_runs(self) -> int:
        return self.layout.n_time * self.layout.n_channels

    @property
    def steps_per_run(self) -> int:
        """Iterations of one run (1 for a closed form): the progress bar's unit."""
        spec = methods.get(self.method)
        if not spec.iterative:
            return 1
        return int(self.params.get("max_iter", spec.max_iter))

    @property
    def total_steps(self) -> int:
        return self.n_runs * self.steps_per_run


class Progress(Callback):
    """Reports ``(done, total)`` after every iteration and raises :class:`Cancelled` on request.

    ``offset`` counts the steps of the runs already done (set by :func:`execute`),
    so one bar covers every channel, time point (and method, in a comparison).
    """

    def __init__(self, total: int, report: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None, per_run: int = 1) -> None:
        self.total = int(total)
        self.report = report
        self.cancel = cancel
        self.per_run = int(per_run)
        self.offset = 0

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    def begin(self, state: Any) -> None:
        self.check()

    def step(self, state: Any) -> None:
        if self.report is not None:
            self.report(self.offset + min(int(state.iteration), self.per_run), self.total)
        self.check()

    def finish_run(self) -> None:
        """A run is done: the bar jumps to its end (early stops, closed forms)."""
        self.offset += self.per_run
        if self.report is not None:
            self.report(self.offset, self.total)
        self.check()


class SearchGuard(Callback):
    """Cancels an automatic weight search (its trial solves) on request; reports nothing,
    so the progress bar stays the run's."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, state: Any) -> None:
        self.progress.check()


@dataclass
class Outcome:
    """The restored layer data and the per-volume :class:`~deconvkit.solvers.Result`s."""

    data: np.ndarray
    runs: list[tuple[tuple[int, int], Any]] = field(default_factory=list)
    job: Job | None = None

    @property
    def results(self) -> list[Any]:
        return [result for _, result in self.runs]

    def label(self) -> str:
        """``rl, 50 it`` (iterative) or ``wif`` (closed form), for a layer's name."""
        first = self.results[0]
        name = first.parameters.get("method", self.job.method if self.job else "?")
        if not methods.get(name).iterative:
            return name
        counts = sorted({int(r.n_iter) for r in self.results})
        its = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        return f"{name}, {its} it"

    def auto_weight(self) -> str:
        """``lam='auto' → 0.00312 (Poisson discrepancy)``: the weight the runs chose; "" if none.

        Over several volumes, the range of the chosen values and their count.
        """
        choices = [choice for choice in (_chosen_weight(r) for r in self.results) if choice]
        if not choices:
            return ""
        chosen = sorted(float(choice["value"]) for choice in choices)
        value = (f"{chosen[0]:.3g}" if chosen[0] == chosen[-1]
                 else f"{chosen[0]:.3g} to {chosen[-1]:.3g} over {len(chosen)} volumes")
        criteria = ", ".join(sorted({_criterion_text(choice) for choice in choices}))
        edge = ", at the end of the search range" if any(c.get("at_edge") for c in choices) else ""
        return f"{choices[0]['parameter']}='auto' → {value} ({criteria}{edge})"

    def metadata(self, source: str = "", psf: str = "") -> dict[str, Any]:
        """What produced the layer: method, parameters, iterations, stop reason, per run.

        With a weight chosen by ``'auto'``, ``auto_weight`` says which (its text,
        and each run's value).
        """
        first = self.results[0]
        runs = []
        for (t, c), r in self.runs:
            run = {"t": t, "c": c, "n_iter": int(r.n_iter), "stop_reason": str(r.stop_reason)}
            choice = _chosen_weight(r)
            if choice:
                run["auto_weight"] = float(choice["value"])
            runs.append(run)
        reasons = sorted({run["stop_reason"] for run in runs})
        text = self.auto_weight()
        chosen = {"auto_weight": text} if text else {}
        return {
            "method": first.parameters.get("method", self.job.method if self.job else ""),
            "parameters": dict(first.parameters),
            "n_iter": max(run["n_iter"] for run in runs),
            "stop_reason": reasons[0] if len(reasons) == 1 else "; ".join(reasons),
            **chosen,
            "runs": runs,
            "axes": self.job.layout.axes if self.job else "",
            "warm_start": bool(self.job and self.job.warm_start and self.job.layout.n_time > 1),
            "source": source,
            "psf": psf,
            "deconvkit_version": deconvkit.__version__,
        }


def _chosen_weight(result: Any) -> dict[str, Any] | None:
    """``result.parameters["auto_weight"]`` (``parameter``, ``value``, ``criterion``), or None."""
    return (getattr(result, "parameters", None) or {}).get("auto_weight")


def _criterion_text(choice: dict[str, Any]) -> str:
    """``Poisson discrepancy``, ``GCV`` or ``weighted GCV, ω = 2``: how a weight was chosen."""
    criterion, omega = str(choice.get("criterion", "criterion")), choice.get("omega")
    if omega is None or criterion != "GCV":
        return criterion
    return "GCV" if omega == 1 else f"weighted GCV, ω = {omega:g}"


def execute(job: Job, report: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None, progress: Progress | None = None) -> Outcome:
    """Deconvolve every volume of ``job``: channel by channel, time point by time point.

    Parameters
    ----------
    job : Job
        The data, its layout, one PSF per channel, the method and its parameters.
    report : callable, optional
        ``report(done, total)`` after every iteration (called from this thread).
    cancel : threading.Event, optional
        Set it to stop: the running solver raises :class:`Cancelled` at its next
        iteration (a closed form at the end of its volume) and nothing is returned.
    progress : Progress, optional
        A shared progress callback (a comparison runs several jobs on one bar);
        made from ``report`` and ``cancel`` when not given.

    Returns
    -------
    Outcome
        The restored data, of the layer's shape, float32 (float64 kept).
    """
    lay = job.layout
    if progress is None:
        progress = Progress(job.total_steps, report, cancel, job.steps_per_run)
    progress.per_run = job.steps_per_run
    out = None
    runs: list[tuple[tuple[int, int], Any]] = []
    for c in range(lay.n_channels):
        previous = None
        for t in range(lay.n_time):
            progress.check()
            index = lay.index(t, c)
            volume = np.asarray(job.data[index])
            start = {"x0": previous} if job.warm_start and previous is not None else {}
            result = methods.run(volume, job.psfs[c], job.method, callbacks=[progress],
                                 search_callbacks=[SearchGuard(progress)],
                                 **job.params, **start)
            if out is None:
                dtype = np.float64 if result.x.dtype == np.float64 else np.float32
                out = np.empty(lay.shape, dtype=dtype)
            out[index] = result.x
            previous = result.x
            runs.append(((t, c), result))
            progress.finish_run()
    return Outcome(data=out, runs=runs, job=job)
