r"""Run every method of a study on every case and keep what a comparison needs.

For each run (case × method × grid point) the method runs once, to its
``max_iter``, with the ground truth, so the solver's history holds the
metrics at every iteration; a callback keeps the estimate of the best
iteration (one copy of the image). Metrics, all against the ground truth
:math:`g` on the image's field:

``nrmse``
    :math:`\lVert a x + b - g\rVert_2 / \lVert g\rVert_2` after the
    least-squares affine fit :math:`(a, b)` (:func:`deconvkit.metrics.nrmse`);
    lower is better. The default for choosing the best iteration and parameters.
``psnr``
    :math:`10\log_{10}(R^2/\mathrm{MSE}(x, g))`, :math:`R = \max g - \min g`,
    on the raw estimate (:func:`deconvkit.metrics.psnr`, as the history
    records it); higher is better.
``ssim``
    :func:`deconvkit.metrics.ssim` of :math:`a x + b` (the same affine fit,
    so that SSIM's luminance and contrast terms do not measure the arbitrary
    scale of a deconvolution); higher is better. Chosen as the study's
    metric, it is computed at every recorded iteration (costly in 3D:
    about one iteration's time).

Wall time is measured around :func:`deconvkit.methods.run` (problem set-up,
iterations and the per-iteration metrics, a few percent of an iteration).
Peak memory is :mod:`tracemalloc`'s peak during the run: the largest total of
the arrays allocated through Python's and NumPy's allocators while the method
ran, i.e. what the method itself needs on top of the loaded data. The
process's resident set size (``resource.getrusage``) is not used: it is a
high-water mark over the worker's whole life, which cannot be reset between
runs and includes the interpreter, the libraries and every earlier run.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
import tracemalloc
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, TextIO

import numpy as np

from .. import methods, metrics
from ..solvers import Callback
from ._cases import Case, CaseLike, slug
from ._grid import MethodGrid, format_parameters

__all__ = ["METRICS", "Baseline", "RunRecord", "Study", "StudyResult", "fitted", "fitted_ssim"]

#: Metrics a study can rank by, and whether lower is better.
METRICS = {"nrmse": True, "psnr": False, "ssim": False}

MIB = 2.0**20


def fitted(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    r"""The estimate on the reference's scale: :math:`a x + b`, float64.

    :math:`(a, b)` minimize :math:`\lVert a x + b - g\rVert_2`
    (:func:`deconvkit.metrics.affine_fit`).
    """
    x = np.asarray(estimate, dtype=np.float64)
    g = np.asarray(reference, dtype=np.float64)
    a, b = metrics.affine_fit(x, g)
    return a * x + b


def fitted_ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SSIM of the affinely fitted estimate against the reference (see the module notes)."""
    return metrics.ssim(fitted(estimate, reference), reference)


def better(metric: str, value: float, than: float | None) -> bool:
    """Whether ``value`` beats ``than`` (None: nothing yet) for ``metric``; NaN never does."""
    if not math.isfinite(value):
        return False
    if than is None or not math.isfinite(than):
        return True
    return value < than if METRICS[metric] else value > than


@dataclass
class RunRecord:
    """One run: a method with one grid point on one case, at its best iteration.

    Attributes
    ----------
    case, label, method : str
        The case's name, the method's label in the study, its catalogue name.
    parameters : dict
        The grid point and the fixed parameters the study set.
    point : dict
        The grid point alone (what differs between the runs of a method).
    iterative : bool
        Whether ``history`` has one row per iteration.
    best_iteration, n_iter, max_iter : int
        The iteration the study's metric was best at, the iterations run, the cap
        (0, 0, 0 for a closed-form method).
    nrmse, psnr, ssim : float
        At the best iteration.
    seconds : float
        Wall time of the whole run.
    seconds_to_best : float
        Time from the start of the iterations to the best one.
    peak_memory_mib : float
        tracemalloc's peak during the run, MiB.
    estimated_memory_mib : float
        :func:`deconvkit.methods.memory_estimate`, MiB, for comparison.
    stop_reason : str
        Why the method stopped.
    history : dict of str to list
        ``iteration``, ``time``, ``nrmse``, ``psnr`` (and ``ssim`` when it is
        the study's metric) at every recorded iteration.
    image : numpy.ndarray or None
        The estimate at the best iteration (dropped once another grid point
        of the same method is better).
    auto_weight : dict or None
        With ``lam="auto"`` (``nsr``): the weight the plan chose, as
        ``Result.parameters["auto_weight"]`` holds it (``parameter``, ``value``,
        ``criterion``, ``omega``, ``at_edge``, and the curve it was read from,
        ``grid`` and ``scores``, lists of floats).
    """

    case: str
    label: str
    method: str
    parameters: dict[str, Any]
    point: dict[str, Any]
    iterative: bool
    best_iteration: int
    n_iter: int
    max_iter: int
    nrmse: float
    psnr: float
    ssim: float
    seconds: float
    seconds_to_best: float
    peak_memory_mib: float
    estimated_memory_mib: float
    stop_reason: str
    history: dict[str, list] = field(repr=False)
    image: np.ndarray | None = field(default=None, repr=False)
    auto_weight: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def parameter_text(self) -> str:
        """The parameters as ``lam=0.01, max_iter=50`` (``lam=auto → 0.00321``: chosen)."""
        return format_parameters(self._with_choice(self.parameters))

    @property
    def point_text(self) -> str:
        """The grid point as ``lam=0.01`` (``defaults`` for a method without a grid), and an
        automatic weight with its value, grid axis or not (``lam=auto → 0.00321``)."""
        return format_parameters(self._with_choice(self.point))

    def _with_choice(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if self.auto_weight is None:
            return parameters
        name = self.auto_weight["parameter"]
        asked = self.point.get(name, self.parameters.get(name))  # "auto", or a rule ("pure")
        word = asked if isinstance(asked, str) else "auto"
        return {**parameters, name: f"{word} → {self.auto_weight['value']:.3g}"}

    def value(self, metric: str) -> float:
        """The record's value of ``metric``."""
        return float(getattr(self, metric))


@dataclass(frozen=True)
class Baseline:
    """The raw observation scored as an estimate of the ground truth."""

    case: str
    nrmse: float
    psnr: float
    ssim: float

    def value(self, metric: str) -> float:
        return float(getattr(self, metric))


class _KeepBest(Callback):
    """Copy the estimate's field into ``buffer`` whenever the metric improves."""

    def __init__(self, buffer: np.ndarray, truth: np.ndarray, metric: str) -> None:
        self.buffer = buffer
        self.truth = truth
        self.metric = metric
        self.best: tuple[int, float] | None = None
        self.ssim: dict[int, float] = {}

    def _window(self, x: np.ndarray) -> np.ndarray:
        starts = [(s - n) // 2 for s, n in zip(x.shape, self.buffer.shape)]
        return x[tuple(slice(b, b + n) for b, n in zip(starts, self.buffer.shape))]

    def _consider(self, state: Any) -> None:
        window = self._window(state.x)
        if self.metric == "ssim":
            value = fitted_ssim(window, self.truth)
            self.ssim[state.iteration] = value
        else:
            value = float(state.history[self.metric][-1])
        if better(self.metric, value, None if self.best is None else self.best[1]):
            np.copyto(self.buffer, window)
            self.best = (state.iteration, value)

    def begin(self, state: Any) -> None:
        self._consider(state)

    def step(self, state: Any) -> None:
        if state.recorded:
            self._consider(state)


def execute_run(case: Case, grid: MethodGrid, point: dict[str, Any], metric: str,
                record_every: int = 1) -> RunRecord:
    """Run ``grid.method`` with ``point`` on ``case`` and score its best iteration."""
    spec = methods.get(grid.method)
    params = {**grid.params, **point, "spacing": case.spacing, "background": case.background}
    buffer = np.empty(case.image.shape, dtype=np.float32)  # allocated before tracing
    keeper = _KeepBest(buffer, case.ground_truth, metric)
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    else:
        tracemalloc.start()
        base = 0
    start = time.perf_counter()
    try:
        extra = {"callbacks": [keeper], "record_every": record_every} if spec.iterative else {}
        result = methods.run(case.image, case.psf, spec.name, ground_truth=case.ground_truth,
                             **extra, **params)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()

    history = {k: list(map(float, result.history[k])) for k in ("time", "nrmse", "psnr")}
    history["iteration"] = [int(i) for i in result.history["iteration"]]
    if spec.iterative and keeper.best is not None:
        best_iteration = keeper.best[0]
        image = buffer
    else:  # closed form, or a metric undefined at every iteration
        best_iteration = int(history["iteration"][-1]) if spec.iterative else 0
        image = np.asarray(result.x, dtype=np.float32)
    if metric == "ssim":
        history["ssim"] = [keeper.ssim.get(i, math.nan) for i in history["iteration"]]
    row = history["iteration"].index(best_iteration)
    ssim = keeper.ssim.get(best_iteration) if metric == "ssim" and spec.iterative else None
    if ssim is None:
        ssim = fitted_ssim(image, case.ground_truth)
    if not spec.iterative and metric == "ssim":
        history["ssim"] = [ssim]
    estimate = methods.memory_estimate(case.image.shape, case.psf.shape, spec.name)
    choice = (result.parameters or {}).get("auto_weight")
    return RunRecord(
        case=case.name, label=grid.label, method=spec.name,
        parameters={**point, **grid.params}, point=dict(point), iterative=spec.iterative,
        best_iteration=best_iteration, n_iter=int(result.n_iter),
        max_iter=int(params.get("max_iter", spec.defaults().get("max_iter", 0))
                     if spec.iterative else 0),
        nrmse=history["nrmse"][row], psnr=history["psnr"][row], ssim=float(ssim),
        seconds=seconds, seconds_to_best=history["time"][row] if spec.iterative else seconds,
        peak_memory_mib=peak / MIB, estimated_memory_mib=estimate / MIB,
        stop_reason=str(result.stop_reason), history=history, image=image,
        auto_weight=None if choice is None else _small_choice(choice))


def _small_choice(choice: dict[str, Any]) -> dict[str, Any]:
    """A run's automatic weight in plain Python numbers (the curve as lists of floats)."""
    small = {key: choice[key] for key in ("parameter", "criterion") if key in choice}
    small["value"] = float(choice["value"])
    small["omega"] = None if choice.get("omega") is None else float(choice["omega"])
    small["at_edge"] = bool(choice.get("at_edge", False))
    small["grid"] = [float(v) for v in choice.get("grid", ())]
    small["scores"] = [float(v) for v in choice.get("scores", ())]
    return small


def score_observation(case: Case) -> Baseline:
    """The raw image as an estimate: what deconvolution has to beat."""
    return Baseline(case.name, metrics.nrmse(case.image, case.ground_truth),
                    metrics.psnr(case.image, case.ground_truth),
                    fitted_ssim(case.image, case.ground_truth))


# -- worker processes -------------------------------------------------------------
_WORKER_CASES: OrderedDict[str, Case] = OrderedDict()
#: Seconds between a worker's checks that the study's process is still alive.
WATCH_PARENT_EVERY = 0.5
#: Seconds :func:`stop_pool` waits for a worker after SIGTERM before SIGKILL.
STOP_GRACE = 2.0


def _worker_start(parent: int) -> None:
    """In each worker: ignore Ctrl-C (the study's process decides and ends the workers) and
    exit as soon as the study's process is gone (killed with SIGKILL, say), so no worker
    goes on computing for nobody."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(WATCH_PARENT_EVERY)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="deconvkit-watch-parent", daemon=True).start()


def stop_pool(pool: ProcessPoolExecutor, grace: float = STOP_GRACE) -> None:
    """End a pool's workers now: cancel the queued runs, SIGTERM each worker, SIGKILL any
    still alive after ``grace`` seconds, and reap them all.

    ``ProcessPoolExecutor.shutdown`` alone waits for every running (and, without
    ``cancel_futures``, every queued) run to finish, which is what an interrupted
    study must not do.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(deadline - time.monotonic(), 0.0))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def _run_in_worker(token: str, case: CaseLike, grid: MethodGrid, point: dict[str, Any],
                   metric: str, record_every: int) -> RunRecord:
    """A run in a worker process; each process loads (simulates, reads) a case once."""
    if token not in _WORKER_CASES:
        _WORKER_CASES[token] = case.load()
        while len(_WORKER_CASES) > 2:
            _WORKER_CASES.popitem(last=False)
    return execute_run(_WORKER_CASES[token], grid, point, metric, record_every)


@dataclass
class StudyResult:
    """What :meth:`Study.execute` returns: every run, the baselines, the best per method.

    Attributes
    ----------
    study : Study
        The study that ran.
    cases : list of Case
        The loaded cases (arrays), in the study's order.
    records : list of RunRecord
        One per case × method × grid point, in the study's order (whatever ``jobs``).
    baselines : dict of str to Baseline
        The raw observation's scores, per case.
    seconds : float
        Wall time of the whole study.
    jobs : int
        Worker processes used.
    """

    study: Study
    cases: list[Case]
    records: list[RunRecord]
    baselines: dict[str, Baseline]
    seconds: float
    jobs: int

    def best(self, case: str) -> list[RunRecord]:
        """Each method's best run on ``case``, best first (by the study's metric)."""
        metric = self.study.metric
        chosen: dict[str, RunRecord] = {}
        for record in self.records:
            if record.case != case:
                continue
            current = chosen.get(record.label)
            if current is None or better(metric, record.value(metric),
                                         current.value(metric)):
                chosen[record.label] = record
        sign = 1.0 if METRICS[metric] else -1.0
        return sorted(chosen.values(),
                      key=lambda r: (not math.isfinite(r.value(metric)),
                                     sign * r.value(metric)))

    def ranking(self, case: str) -> list[RunRecord | Baseline]:
        """The best run of each method and the raw observation, best first."""
        metric = self.study.metric
        rows: list[RunRecord | Baseline] = list(self.best(case))
        baseline = self.baselines[case]
        position = next((i for i, r in enumerate(rows)
                         if not better(metric, r.value(metric), baseline.value(metric))),
                        len(rows))
        rows.insert(position, baseline)
        return rows

    def case(self, name: str) -> Case:
        """The loaded case called ``name``."""
        return next(c for c in self.cases if c.name == name)


@dataclass
class Study:
    """A comparison: every method (with its grid) on every case, ranked by a metric.

    Parameters
    ----------
    cases : sequence of Case, SimulatedCase or FileCase
        The problems, each with its ground truth; names must differ.
    methods : sequence of MethodGrid
        The methods and their parameter grids; labels must differ.
    metric : {"nrmse", "psnr", "ssim"}
        What picks the best iteration and the best parameters.
    name : str
        The study's title in the report.
    record_every : int
        Iterative methods record the metrics every this many iterations.

    Examples
    --------
    >>> from deconvkit.compare import MethodGrid, SimulatedCase, Study
    >>> study = Study(
    ...     [SimulatedCase("beads", shape=(16, 32, 32), psf_shape=(9, 17, 17), phantom="beads")],
    ...     [MethodGrid("wif", {"nsr": [0.01, 0.1]}), MethodGrid("rl", params={"max_iter": 20})])
    >>> len(study.runs())
    3
    >>> result = study.run("my-study")  # doctest: +SKIP
    """

    cases: Sequence[CaseLike]
    methods: Sequence[MethodGrid]
    metric: str = "nrmse"
    name: str = "deconvkit study"
    record_every: int = 1

    def __post_init__(self) -> None:
        self.cases = list(self.cases)
        self.methods = list(self.methods)
        if not self.cases:
            raise ValueError("a study needs at least one case")
        if not self.methods:
            raise ValueError("a study needs at least one method")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        for case in self.cases:
            if not hasattr(case, "load"):
                raise ValueError(f"a case must be a Case, SimulatedCase or FileCase, got {case!r}")
        for things, key in ((self.cases, "name"), (self.methods, "label")):
            seen: dict[str, str] = {}
            for thing in things:
                value = getattr(thing, key)
                if slug(value) in seen:
                    raise ValueError(f"two {'cases' if key == 'name' else 'methods'} are "
                                     f"called {seen[slug(value)]!r} and {value!r}; give each "
                                     f"a distinct {key}")
                seen[slug(value)] = value
        if (isinstance(self.record_every, bool) or not isinstance(self.record_every, int)
                or self.record_every < 1):
            raise ValueError(f"record_every must be a positive whole number, "
                             f"got {self.record_every!r}")

    def runs(self) -> list[tuple[int, MethodGrid, dict[str, Any]]]:
        """(case index, method grid, grid point) of every run, case by case."""
        return [(i, grid, point) for i in range(len(self.cases))
                for grid in self.methods for point in grid.points()]

    def execute(self, jobs: int = 1, progress: TextIO | None = None) -> StudyResult:
        """Run the study; nothing is written.

        Parameters
        ----------
        jobs : int
            Worker processes (1: in this process). Runs are independent and
            deterministic, so the records are the same whatever ``jobs``
            (timings and memory aside).
        progress : text stream, optional
            One line per finished run (e.g. ``sys.stderr``).
        """
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive whole number, got {jobs!r}")
        start = time.perf_counter()
        runs = self.runs()
        say = _Progress(progress, len(runs), self.metric)
        say.header(self, jobs)
        cases = [case.load() for case in self.cases]
        baselines = {case.name: score_observation(case) for case in cases}
        records: list[RunRecord | None] = [None] * len(runs)
        keep = _BestImages(self.metric)
        if jobs == 1:
            for index, (c, grid, point) in enumerate(runs):
                record = execute_run(cases[c], grid, point, self.metric, self.record_every)
                records[index] = keep.offer(record)
                say.line(record, baselines[record.case])
        else:
            tokens = [f"{os.getpid()}-{id(self)}-{i}" for i in range(len(cases))]
            context = get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                       initializer=_worker_start, initargs=(os.getpid(),))
            try:
                futures = {
                    pool.submit(_run_in_worker, tokens[c], _portable(self.cases[c], cases[c]),
                                grid, point, self.metric, self.record_every): index
                    for index, (c, grid, point) in enumerate(runs)}
                for future in as_completed(futures):
                    record = future.result()
                    records[futures[future]] = record
                    say.line(record, baselines[record.case])
            except BaseException:  # Ctrl-C, SIGTERM, a failed run: end the workers now
                stop_pool(pool)
                raise
            pool.shutdown(wait=True)
            for index, record in enumerate(records):  # in the study's order, as serially
                records[index] = keep.offer(record)
        return StudyResult(self, cases, [r for r in records if r is not None], baselines,
                           time.perf_counter() - start, jobs)

    def run(self, output: str | os.PathLike[str] = "deconvkit-study", *, overwrite: bool = False,
            jobs: int = 1, progress: TextIO | None = None, figures: bool = True) -> StudyResult:
        """Run the study and write its folder (see :func:`deconvkit.compare.write_report`).

        The output folder must not exist unless ``overwrite``; this is checked
        before anything runs, and the folder is built beside it then renamed
        into place, so a failed study leaves no half-written folder.
        """
        from ._report import check_output, study_inputs, write_report

        check_output(output, overwrite, study_inputs(self))
        result = self.execute(jobs=jobs, progress=progress)
        write_report(result, output, overwrite=overwrite, figures=figures)
        return result


def _portable(spec: CaseLike, loaded: Case) -> CaseLike:
    """What to send to a worker: the small description, or the arrays themselves."""
    return loaded if isinstance(spec, Case) else spec


class _BestImages:
    """Keep the best image of each (case, method) only, dropping the others."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.best: dict[tuple[str, str], RunRecord] = {}

    def offer(self, record: RunRecord) -> RunRecord:
        key = (record.case, record.label)
        current = self.best.get(key)
        if current is None or better(self.metric, record.value(self.metric),
                                     current.value(self.metric)):
            if current is not None:
                current.image = None
            self.best[key] = record
        else:
            record.image = None
        return record


class _Progress:
    """One line per finished run on a text stream (or nothing)."""

    def __init__(self, stream: TextIO | None, total: int, metric: str) -> None:
        self.stream, self.total, self.metric, self.done = stream, total, metric, 0
        self.start = time.perf_counter()

    def _write(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(text + "\n")
            self.stream.flush()

    def header(self, study: Study, jobs: int) -> None:
        self._write(f"{study.name}: {self.total} runs ({len(study.cases)} case"
                    f"{'s' if len(study.cases) != 1 else ''} x {len(study.methods)} methods), "
                    f"best by {self.metric}, {jobs} process{'es' if jobs != 1 else ''}")

    def line(self, record: RunRecord, baseline: Baseline) -> None:
        self.done += 1
        width = len(str(self.total))
        where = (f"iteration {record.best_iteration} of {record.n_iter}" if record.iterative
                 else "closed form")
        self._write(
            f"[{self.done:{width}d}/{self.total}] {record.case} | {record.label} "
            f"{record.parameter_text}: {self.metric} {record.value(self.metric):.4g} "
            f"(raw {baseline.value(self.metric):.4g}) at {where}, {record.seconds:.1f} s, "
            f"{record.peak_memory_mib:.0f} MiB; {time.perf_counter() - self.start:.0f} s elapsed")
