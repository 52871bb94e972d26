r"""The plan: every whole-volume decision made once, then any block solved with it.

``plan(image, psf, method, **params)`` checks the image, the PSF and the
parameters once, and fixes everything that depends on the whole volume: the
method and the boundary actually used, the prepared PSF (non-negative, sum 1,
centred), the background, the data's constants (:class:`Constants`: its scale,
maximum, photon level, the flat start of RL), the stop rule and iteration
count, the backend and the memory a block needs. :meth:`Plan.solve` then runs
the same computation on the whole image, on a tile with its halo, or on a GPU:
a tile cannot choose another weight, background or iteration count than its
neighbours. :func:`deconvolve <deconvkit.methods.deconvolve>`, :func:`run
<deconvkit.methods.run>`, the command line, studies and the napari plugin all
go through a plan.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from .. import metrics
from ..backend import (
    namespace,
    resolve_backend,
    to_backend,
    to_host,
)
from ..operators import extended_shape
from ..operators._checks import check_spacing
from ..solvers import Callback, MaxIter, RelativeChange, Result, StoppingRule
from ._auto import (
    AUTO_WEIGHTS,
    DEFAULT_WEIGHT_RULE,
    DISCREPANCY_GRID,
    DISCREPANCY_STEPS,
    DISCREPANCY_VOXELS,
    DISCREPANCY_WEIGHTS,
    MAX_VOXELS,
    RISK_PROBE,
    WeightChoice,
    apodize_width,
    central_block,
    choose_weight,
    choose_weight_by_discrepancy,
    choose_weight_by_risk,
    has_signal,
    projected_error,
    projected_pure,
    risk_filter,
)
from ._problem import BOUNDARIES, Constants, Problem, build_problem, check_boundary, statistics
from ._registry import Method, get
from ._stopping import Discrepancy, HeldOutBest, poisson_halves, relative_misfit
from ._terms import data_minus_background
from ._validate import (
    check_background,
    check_image,
    check_psf,
    estimate_background,
    lazy,
    poisson_problem,
)

__all__ = ["Plan", "memory_estimate", "plan"]

logger = logging.getLogger("deconvkit")
#: One INFO record per weight a search has tried (the weight, its criterion, the time so
#: far): an iterative method's search runs its solver 6 to 20 times, minutes on a large
#: block. Silent unless a handler is attached (the command line attaches one).
search_logger = logging.getLogger("deconvkit.weight_search")

#: ``keep=`` choices of :meth:`Plan.solve`.
KEEP = ("last", "best")


def memory_estimate(image_shape: tuple[int, ...], psf_shape: tuple[int, ...],
                    method: str = "rl", boundary: str = "extended",
                    dtype: Any = np.float32) -> int:
    """Bytes a method needs for an image and a PSF: its working arrays on the object's domain.

    The domain is the image (``periodic``) or the image plus the PSF's size
    rounded up to fast FFT sizes (``extended``, ``reflect``); each method
    holds a known number of domain-sized arrays (the registry's ``arrays``,
    measured), plus the input and output on the image's field and any working
    memory of fixed size (``scratch_mib``). FFT scratch space inside the FFT
    library is not counted.
    """
    spec = get(method)
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    image_shape, psf_shape = tuple(image_shape), tuple(psf_shape)
    if len(psf_shape) != len(image_shape):
        raise ValueError(f"the PSF has {len(psf_shape)} axes but the image {len(image_shape)}")
    domain = image_shape if boundary == "periodic" else extended_shape(image_shape, psf_shape)
    itemsize = np.dtype(dtype).itemsize
    arrays = spec.arrays * math.prod(domain) + 2 * math.prod(image_shape)
    return int(itemsize * arrays + spec.scratch_mib * 2**20)


@dataclass
class Plan:
    """Every decision that depends on the whole volume, made once (see the module notes).

    Make one with :func:`plan`. Attributes are read-only in spirit: change a
    parameter by making a new plan.

    Attributes
    ----------
    method : Method
        The catalogue entry.
    values : dict
        Every parameter's value (the method's own, the common and the iterative ones).
    psf : numpy.ndarray
        The prepared PSF (non-negative, sum 1, peak at the centre voxel ``n // 2``).
    spacing : tuple of float
        Voxel size (µm), ZYX.
    boundary : str
        The boundary used (``"reflect"`` when a closed form is asked for ``"extended"``).
    background : float or array
        The background: a number (given or estimated once) or a map of the image's shape.
    constants : Constants
        The whole image's numbers every block uses.
    backend : str
        ``"numpy"``, ``"cupy"`` (or ``"guarded"``, the test stand-in for a device).
    dtype : numpy.dtype
        float32, or float64 for float64 images.
    image_shape : tuple of int
        The whole image's shape.
    notes : list of str
        Decisions worth telling the user (boundary switched, background estimated, ...).
    weight_choice : WeightChoice or None
        With ``lam="auto"`` (``nsr``): the weight generalized cross-validation chose
        and its curve.
    held_out_iteration : int or None
        With ``stop="auto"`` and an accelerated RL or ``fista``: the iteration whose
        estimate fits a held-out half of the data best (two-fold Poisson thinning on the
        central block; for ``fista`` the error projected through PURE's :math:`G`). The
        discrepancy rule of an accelerated RL does not stop before it; ``fista`` stops
        there (:mod:`deconvkit.methods._stopping`).
    """

    method: Method
    values: dict[str, Any]
    psf: np.ndarray
    spacing: tuple[float, ...]
    boundary: str
    background: Any
    constants: Constants
    backend: str
    dtype: np.dtype
    image_shape: tuple[int, ...]
    notes: list[str] = field(default_factory=list)
    image: Any = field(default=None, repr=False)
    weight_choice: WeightChoice | None = None
    held_out_iteration: int | None = None
    _on_backend: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- what the plan fixed ----------------------------------------------------------
    @property
    def own(self) -> dict[str, Any]:
        """The method's own parameters (``lam``, ``acceleration``, ...)."""
        return {p.name: self.values[p.name] for p in self.method.parameters}

    @property
    def stops_at_held_out(self) -> bool:
        """Whether ``stop="auto"`` stops at :attr:`held_out_iteration` itself (``fista``), on
        any block, with no rule to evaluate."""
        return self.held_out_iteration is not None and _held_out_check(self) == "projected"

    @property
    def max_iter(self) -> int | None:
        """The iteration cap (None for a closed form)."""
        return self.values.get("max_iter") if self.method.iterative else None

    @property
    def record(self) -> dict[str, Any]:
        """What produced a result, for ``Result.parameters`` and sidecars."""
        values = {k: v for k, v in self.values.items() if np.ndim(v) == 0 and
                  not isinstance(v, (list, tuple))}
        record = {"method": self.method.name, **values}
        record["background"] = (float(self.background) if np.ndim(self.background) == 0
                                else "map")
        record["spacing"] = tuple(self.spacing)
        record["boundary_used"] = self.boundary
        record["backend"] = self.backend
        if self.weight_choice is not None:
            record["auto_weight"] = self.weight_choice.as_record()
        if self.held_out_iteration is not None:
            record["held_out_iteration"] = self.held_out_iteration
        if self.notes:
            record["notes"] = list(self.notes)
        return record

    def memory(self, block_shape: tuple[int, ...] | None = None) -> int:
        """Bytes one block of ``block_shape`` (the whole image by default) needs to solve."""
        shape = self.image_shape if block_shape is None else tuple(block_shape)
        return memory_estimate(shape, self.psf.shape, self.method.name, self.boundary, self.dtype)

    # -- solving a block --------------------------------------------------------------
    def _psf(self) -> Any:
        if "psf" not in self._on_backend:
            self._on_backend["psf"] = to_backend(self.psf, self.backend)
        return self._on_backend["psf"]

    def _background(self, region: tuple[slice, ...] | None) -> Any:
        if np.ndim(self.background) == 0:
            return float(self.background)
        part = self.background if region is None else self.background[region]
        part = np.asarray(part) if lazy(part) else part
        return to_backend(part, self.backend).astype(self.dtype, copy=False)

    def problem(self, block: Any = None, region: tuple[slice, ...] | None = None) -> Problem:
        """The :class:`Problem` of one block (the whole image by default) on the plan's backend.

        ``region`` locates the block in the image (it crops a background map).
        """
        block = self._block(block)
        return build_problem(block, self._psf(), boundary=self.boundary,
                             background=self._background(region), spacing=self.spacing,
                             apodize=self.values["apodize"], constants=self.constants)

    def _block(self, block: Any) -> Any:
        if block is None:
            if self.image is None or lazy(self.image):
                raise ValueError("this plan was made from a lazy image: give the block to solve")
            block = self.image
        if lazy(block):
            block = np.asarray(block)
        if block.ndim != len(self.image_shape):
            raise ValueError(f"a block of {block.ndim} axes for a plan of {len(self.image_shape)}")
        block = to_backend(block, self.backend)
        return block.astype(self.dtype, copy=False)

    def solve(
        self,
        block: Any = None,
        *,
        region: tuple[slice, ...] | None = None,
        x0: Any = None,
        ground_truth: Any = None,
        callbacks: Iterable[Callback] = (),
        progress: bool | int = False,
        record_every: int = 1,
        keep: str = "last",
        max_iter: int | None = None,
        stop: StoppingRule | None = None,
    ) -> Result:
        """Run the method on ``block`` (the whole image by default) and return its :class:`Result`.

        Parameters
        ----------
        block : array, optional
            The whole image or a tile of it (with its halo); on any backend, moved to
            the plan's. The plan's checks are not repeated.
        region : tuple of slice, optional
            Where ``block`` lies in the image (crops a background map).
        x0 : array, optional
            Warm start of the block's shape (the margin of an extended domain
            starts at the solver's default level).
        ground_truth : array, optional
            Of the block's shape: the history records ``nrmse`` and ``psnr``.
        callbacks, progress, record_every
            As :meth:`deconvkit.solvers.Solver.run`.
        keep : {"last", "best"}
            ``"best"`` (with ``ground_truth``) also returns the iterate of the best
            NRMSE as ``Result.best_x``.
        max_iter : int, optional
            Overrides the plan's iteration count (tiles of a plan with ``stop="auto"``
            run the count the plan calibrated).
        stop : StoppingRule, optional
            Replaces the plan's stop rule (the iteration cap still applies).

        Returns
        -------
        Result
            ``x`` of the block's shape on the plan's backend, ``history``,
            ``n_iter``, ``stop_reason``, ``parameters`` (:attr:`record`).
        """
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
        problem = self.problem(block, region)
        truth = None
        if ground_truth is not None:
            truth = to_backend(check_image(ground_truth, "the ground truth"), self.backend)
            if tuple(truth.shape) != tuple(problem.image_shape):
                raise ValueError(
                    f"the ground truth has shape {tuple(truth.shape)} but the image "
                    f"{tuple(problem.image_shape)}: they must match")
        if not self.method.iterative:
            return self._closed_form(problem, truth)

        values = self.values
        solver = self.method.build(problem, clip_negative=values["clip_negative"], **self.own)
        cap = values["max_iter"] if max_iter is None else int(max_iter)
        rule: StoppingRule = MaxIter(cap)
        if stop is not None:
            rule = stop | rule
        else:
            if values["stop"] == "auto" and max_iter is None:
                if self.stops_at_held_out:
                    rule = HeldOutBest(self.held_out_iteration) | rule
                else:
                    model = "poisson" if self.method.poisson(values) else "gaussian"
                    rule = Discrepancy(problem, model,
                                       not_before=self.held_out_iteration or 0) | rule
            if values["rel_tol"]:
                rule = RelativeChange(values["rel_tol"]) | rule
        if x0 is not None:
            x0 = to_backend(check_image(x0, "x0"), self.backend)
        result = solver.run(x0=self._start(problem, x0), max_iter=cap, stop=rule,
                            callbacks=callbacks, progress=progress, ground_truth=truth,
                            record_every=record_every, keep=keep)
        best = None if result.best_x is None else problem.to_image(result.best_x)
        return replace(result, x=problem.to_image(result.x), best_x=best,
                       parameters=self.record)

    def _start(self, problem: Problem, x0: Any = None) -> Any:
        """The solver's first iterate on the object's domain (None: the solver's own)."""
        if x0 is not None:
            return _start_in_domain(problem, x0)
        if self.method.start_from_data:
            data = namespace(problem.data).maximum(data_minus_background(problem), 0)
            return data if data.shape == tuple(problem.shape) else _start_in_domain(problem, data)
        return None

    def _trial(self, block: Any, region: tuple[slice, ...] | None, lam: float,
               callbacks: Iterable[Callback] = ()) -> tuple[Problem, Any]:
        """The block's problem and the method's estimate (object domain) with weight ``lam``,
        after its full iteration count (no early stop): one step of a weight search
        (``callbacks``: the search's, see :func:`plan`)."""
        values = {**self.values, "lam": float(lam)}
        trial = replace(self, values=values, notes=[], weight_choice=None, _on_backend={})
        problem = trial.problem(block, region)
        solver = trial.method.build(problem, clip_negative=values["clip_negative"], **trial.own)
        result = solver.run(x0=trial._start(problem), max_iter=values["max_iter"],
                            stop=MaxIter(values["max_iter"]), callbacks=callbacks)
        return problem, result.x

    def _misfit(self, block: Any, region: tuple[slice, ...] | None, lam: float,
                callbacks: Iterable[Callback] = ()) -> float:
        """:math:`D/E - 1` of the method's estimate with weight ``lam`` on ``block``: the
        discrepancy search's one step."""
        problem, x = self._trial(block, region, lam, callbacks)
        model = "poisson" if self.method.poisson(self.values) else "gaussian"
        return relative_misfit(problem, x, model)

    def _risk(self, block: Any, moved: Any, probe: Any, weights: Any,
              region: tuple[slice, ...] | None, lam: float,
              callbacks: Iterable[Callback] = ()) -> float:
        """PURE of the estimate with weight ``lam`` on ``block`` (two solves: of the data and
        of the data moved by ε·``probe``): the risk search's one step."""
        means = []
        for data in (block, moved):
            problem, x = self._trial(data, region, lam, callbacks)
            mean = problem.forward @ x
            b = problem.background
            mean += b if np.ndim(b) else mean.dtype.type(b)
            means.append(mean)
        return projected_pure(block, means[0], means[1], probe, weights, RISK_PROBE)

    def _closed_form(self, problem: Problem, truth: Any) -> Result:
        start = time.perf_counter()
        x = problem.to_image(self.method.build(problem, **self.own))
        elapsed = time.perf_counter() - start
        history: dict[str, list] = {"iteration": [0], "objective": [math.nan],
                                    "relative_change": [math.nan], "time": [elapsed]}
        if truth is not None:
            history["nrmse"] = [metrics.nrmse(x, truth)]
            history["psnr"] = [metrics.psnr(x, truth)]
        return Result(x=x, history=history, n_iter=0,
                      stop_reason="closed form (one FFT division)", converged=True,
                      solver=self.method.solver, parameters=self.record,
                      best_x=x if truth is not None else None)


def _start_in_domain(problem: Problem, x0: Any) -> Any:
    """``x0`` (the block's shape) on the object's domain, the margin at the data's flat level.

    The level is the whole image's (a plan constant), not the block's mean, so that
    each tile starts as the whole image would.
    """
    if tuple(x0.shape) != tuple(problem.image_shape):
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but the image "
                         f"{tuple(problem.image_shape)}")
    x0 = x0.astype(problem.data.dtype, copy=False)
    if tuple(x0.shape) == tuple(problem.shape):
        return x0
    xp = namespace(x0)
    out = xp.full(problem.shape, problem.constants.flat_level, dtype=x0.dtype)
    out[problem.field] = x0
    return out


def plan(image: Any, psf: Any, method: str = "rl", *, backend: str | None = None,
         search_callbacks: Iterable[Callback] = (), **params: Any) -> Plan:
    r"""Check the inputs once and fix every whole-volume decision: the :class:`Plan`.

    Parameters
    ----------
    image : array
        The measured stack, ZYX (1D to 3D): a NumPy or CuPy array, or a lazy
        dask/zarr array (then its statistics are computed chunk by chunk).
    psf : array
        The PSF, with as many axes as the image, of any size: checked,
        normalized to sum 1 and centred once, never truncated.
    method : str
        A name of the catalogue (:func:`deconvkit.methods.available`).
    backend : {"numpy", "cupy", "auto"}, optional
        Where blocks are solved; by default where ``image`` lives (CuPy arrays
        on the GPU, everything else on the host).
    search_callbacks : iterable of Callback, optional
        Called at every iteration of an automatic weight search's trial solves
        (``lam="auto"``, ``"pure"``, ``"discrepancy"`` of an iterative method: 6 to 20
        runs of the method before the plan is made), e.g. to cancel the search
        from a user interface by raising in ``step``. Each weight tried is also
        logged, at INFO, to the ``deconvkit.weight_search`` logger.
    **params
        The method's parameters and the common ones (``boundary``,
        ``background``, ``spacing``, ``apodize``; for iterative methods
        ``max_iter``, ``stop``, ``rel_tol``, ``clip_negative``).

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        Bad images, PSFs or parameters, in one line each; a background at or
        above the data's maximum; negative counts for a Poisson method.
    """
    spec = get(method)
    values = spec.validate(params)
    image = check_image(image)
    where = resolve_backend(backend, like=None if lazy(image) else image)
    dtype = np.dtype(np.float64 if np.dtype(image.dtype) == np.float64 else np.float32)
    prepared = check_psf(psf, image.ndim, dtype)
    requested = values["boundary"]
    check_boundary(requested, image.shape, prepared.shape, values["apodize"])
    notes: list[str] = []
    boundary = requested
    if not spec.iterative and requested == "extended":
        boundary = "reflect"
        notes.append("closed-form filters need a circulant model: the extended domain's margin "
                     "is mirror-filled (boundary 'reflect')")
    spacing = check_spacing(values["spacing"], image.ndim)
    background = check_background(values["background"], image.shape)
    if isinstance(background, str):
        background = estimate_background(image)
        notes.append(f"background estimated as {background:.4g} (the 1st percentile of the data)")
    constants = statistics(image, background)
    top = constants.data_max
    level = float(background) if np.ndim(background) == 0 else float(
        to_host(namespace(background).mean(background)) if not lazy(background) else
        np.mean(background))
    if level >= top:
        raise ValueError(
            f"the background ({level:.4g}) is at or above the data's maximum ({top:.4g}): nothing "
            "would be left to deconvolve; give the camera offset and dark level (or "
            "background='auto', --background auto)")
    if spec.iterative and spec.poisson(values):
        poisson_problem(constants.negative, constants.minimum, values["clip_negative"], spec.name)
    chosen = Plan(method=spec, values=values, psf=prepared, spacing=spacing, boundary=boundary,
                  background=background, constants=constants, backend=where, dtype=dtype,
                  image_shape=tuple(int(n) for n in image.shape), notes=notes, image=image)
    if spec.name in AUTO_WEIGHTS and values[AUTO_WEIGHTS[spec.name][0]] == "auto":
        _choose_weight(chosen)
    elif spec.name in DISCREPANCY_WEIGHTS and isinstance(values["lam"], str):
        rule = DEFAULT_WEIGHT_RULE if values["lam"] == "auto" else values["lam"]
        _choose_iterative_weight(chosen, rule, tuple(search_callbacks))
    if spec.iterative and values["stop"] == "auto" and _held_out_check(chosen):
        _choose_held_out_iteration(chosen, tuple(search_callbacks))
    for note in notes:
        logger.info(note)
    return chosen


#: Every this many iterations the held-out check scores the estimate (the discrepancy's
#: own interval).
HELD_OUT_EVERY = 5
#: A half's run ends this many checks after its held-out likelihood's least (it rises
#: steadily past it), not at the cap.
HELD_OUT_PATIENCE = 4


#: The methods whose ``stop="auto"`` is the held-out check alone, scored through PURE's
#: projection (``python benchmarks/bench_stop.py --methods fista [--seed 1]``).
HELD_OUT_ALONE = ("fista",)


def _held_out_check(chosen: Plan) -> str | None:
    """Which held-out check ``stop="auto"`` makes (see :mod:`deconvkit.methods._stopping`):
    ``"likelihood"`` for an RL with an acceleration (the discrepancy waits for it),
    ``"projected"`` for :data:`HELD_OUT_ALONE` (it stops there), None for the others."""
    if chosen.method.name in HELD_OUT_ALONE:
        return "projected"
    if (chosen.method.poisson(chosen.values) and chosen.method.solver.startswith(
            "RichardsonLucy") and chosen.values.get("acceleration") not in (None, "none")):
        return "likelihood"
    return None


class _HeldOutScore(StoppingRule):
    r"""The score of every 5th iterate against a held-out half, added to ``scores``: the
    Poisson negative log-likelihood, or with ``weights`` (:math:`|\hat g|^2`) the squared
    error through :math:`G` (:func:`~deconvkit.methods._auto.projected_error`). It ends the
    run :data:`HELD_OUT_PATIENCE` checks after this fold's least."""

    def __init__(self, problem: Problem, held: Any, scores: dict[int, float],
                 weights: Any = None) -> None:
        self.problem, self.held, self.scores, self.weights = problem, held, scores, weights
        self.own: dict[int, float] = {}

    def reset(self) -> None:
        self.own = {}

    def check(self, state: Any) -> str | None:
        if state.iteration == 0 or state.iteration % HELD_OUT_EVERY:
            return None
        mean = self.problem.forward @ state.x
        xp, b = namespace(mean), self.problem.background
        mean = mean.astype(np.float64)
        mean += b if np.ndim(b) else float(b)
        if self.weights is not None:
            score = projected_error(mean, self.held, self.weights)
        else:
            xp.maximum(mean, 1e-12, out=mean)
            score = float(to_host(xp.sum(mean - self.held * xp.log(mean))))
        self.own[state.iteration] = score
        self.scores[state.iteration] = self.scores.get(state.iteration, 0.0) + score
        least = min(self.own, key=self.own.get)
        if state.iteration - least >= HELD_OUT_PATIENCE * HELD_OUT_EVERY:
            return f"the held-out likelihood has not improved since iteration {least}"
        return None


def _choose_held_out_iteration(chosen: Plan, callbacks: tuple[Callback, ...] = ()) -> None:
    """Fix :attr:`Plan.held_out_iteration`: the data's counts thinned into two halves
    (:func:`~deconvkit.methods._stopping.poisson_halves`), the method run on each to the
    cap or until its score has not improved for :data:`HELD_OUT_PATIENCE` checks (on the
    central block of at most :data:`~deconvkit.methods._auto.DISCREPANCY_VOXELS`), every 5th
    iterate scored by the other half (its likelihood, or for :data:`HELD_OUT_ALONE` the
    squared error through PURE's :math:`G`), the two folds summed; the least's iteration
    among those both folds scored."""
    image, region = chosen.image, None
    if lazy(image) or math.prod(image.shape) > DISCREPANCY_VOXELS:
        region = central_block(image.shape, DISCREPANCY_VOXELS)
        image = image[region]
    block = chosen._block(image)
    background = chosen._background(region)
    halves = [to_backend(half, chosen.backend).astype(chosen.dtype, copy=False)
              for half in poisson_halves(block)]
    half_background = background / 2 if np.ndim(background) else float(background) / 2
    if not all(has_signal(half, half_background)[0] for half in halves):
        chosen.notes.append(
            "stop='auto': no held-out check (the data's halves hold no light above the "
            "background: are the data in photons?); the discrepancy alone decides")
        return
    cap = chosen.values["max_iter"]
    projected = _held_out_check(chosen) == "projected"
    weights = risk_filter(_field_otf2(chosen, halves[0])) if projected else None
    scores: dict[int, float] = {}
    runs: list[set[int]] = []
    start = time.perf_counter()
    for fold, (fit, held) in enumerate(((halves[0], halves[1]), (halves[1], halves[0])), 1):
        search_logger.info("%s: stop='auto': held-out check, run %d of 2 (at most %d "
                           "iterations on half the photons; %.0f s so far)", chosen.method.name,
                           fold, cap, time.perf_counter() - start)
        # the whole image's background halved (a map is cropped to the block by `region`)
        half = replace(chosen, background=chosen.background / 2 if np.ndim(chosen.background)
                       else float(chosen.background) / 2,
                       constants=statistics(fit, half_background), notes=[],
                       weight_choice=None, _on_backend={})
        problem = half.problem(fit, region)
        solver = half.method.build(problem, clip_negative=half.values["clip_negative"],
                                   **half.own)
        score = _HeldOutScore(problem, held.astype(np.float64), scores, weights)
        solver.run(x0=half._start(problem), max_iter=cap, stop=score | MaxIter(cap),
                   callbacks=callbacks)
        runs.append(set(score.own))
    both = runs[0] & runs[1]  # the iterations both folds scored
    if not both:  # a cap below the first check
        return
    chosen.held_out_iteration = min(both, key=scores.get)
    where = "" if region is None else (
        " on the central " + "x".join(str(r.stop - r.start) for r in region) + " block")
    runs_text = " and ".join(str(max(r)) for r in runs)
    chosen.notes.append(
        f"stop='auto': the held-out half of the data{where} fitted best at iteration "
        f"{chosen.held_out_iteration} (two-fold Poisson thinning, "
        + (f"the error projected through G, runs of {runs_text} iterations): the run stops "
           "there" if projected else
           f"runs of {runs_text} iterations): the discrepancy rule does not stop before it"))


def _choose_weight(chosen: Plan) -> None:
    """Fix ``lam="auto"`` (``nsr``) by GCV on the whole image, or its central block."""
    image, region = chosen.image, None
    if lazy(image) or math.prod(image.shape) > MAX_VOXELS:
        region = central_block(image.shape)
        image = image[region]
    # on the image itself, periodic, its edges blended into the mean (see _auto's notes);
    # a PSF longer than the image along an axis (a thin stack) is cut to it for the choice
    block = to_backend(image if not lazy(image) else np.asarray(image), chosen.backend)
    psf = _psf_within(chosen.psf, block.shape)
    problem = build_problem(block.astype(chosen.dtype, copy=False),
                            to_backend(np.ascontiguousarray(psf), chosen.backend),
                            boundary="periodic", background=chosen._background(region),
                            spacing=chosen.spacing, apodize=apodize_width(chosen.psf.shape,
                                                                          block.shape),
                            constants=chosen.constants)
    choice = choose_weight(problem, chosen.method.name)
    chosen.values[choice.parameter] = choice.value
    chosen.weight_choice = choice
    where = "" if region is None else (
        " on the central " + "x".join(str(r.stop - r.start) for r in region) + " block")
    chosen.notes.append(f"{choice.parameter}='auto': generalized cross-validation{where} chose "
                        f"{choice.parameter}={choice.value:.3g}")


def _choose_iterative_weight(chosen: Plan, rule: str,
                             callbacks: tuple[Callback, ...] = ()) -> None:
    """Fix an iterative method's ``lam`` by ``rule`` (``"discrepancy"``: see
    :func:`~deconvkit.methods._auto.choose_weight_by_discrepancy`; ``"pure"``:
    :func:`~deconvkit.methods._auto.choose_weight_by_risk`), on the whole image or its
    central block of at most :data:`~deconvkit.methods._auto.DISCREPANCY_VOXELS`;
    ``callbacks`` go to every trial solve."""
    image, region = chosen.image, None
    if lazy(image) or math.prod(image.shape) > DISCREPANCY_VOXELS:
        region = central_block(image.shape, DISCREPANCY_VOXELS)
        image = image[region]
    block = chosen._block(image)
    asked = chosen.values["lam"]
    signal, excess = has_signal(block, chosen._background(region))
    if not signal:
        raise ValueError(
            f"{chosen.method.name}: lam={asked!r} needs light above the background, but the "
            f"image holds none (a mean excess of {excess:.3g} photons a voxel, within the "
            "noise): give lam a number, or check the background")
    if rule == "pure":
        xp = namespace(block)
        signs = np.random.default_rng(0).integers(0, 2, size=block.shape) * 2.0 - 1.0
        probe = xp.sqrt(xp.maximum(block.astype(np.float64), 0.0)) * to_backend(
            signs, chosen.backend)
        moved = xp.maximum(block + RISK_PROBE * probe, 0.0).astype(chosen.dtype)
        weights = risk_filter(_field_otf2(chosen, block))
        criterion = _reported(
            lambda lam: chosen._risk(block, moved, probe, weights, region, lam, callbacks),
            f"{chosen.method.name}: lam={asked!r}", "PURE",
            len(DISCREPANCY_GRID) + 4)  # the decades, then ±½ and ±¼ decade
        choice = choose_weight_by_risk(criterion, chosen.method.name, asked)
        solves = 2 * len(choice.grid)
        what = "projected Poisson risk estimate (PURE)"
    else:
        model = "poisson" if chosen.method.poisson(chosen.values) else "gaussian"
        criterion = _reported(lambda lam: chosen._misfit(block, region, lam, callbacks),
                              f"{chosen.method.name}: lam={asked!r}", "misfit D/E - 1",
                              len(DISCREPANCY_GRID) + DISCREPANCY_STEPS)
        choice = choose_weight_by_discrepancy(criterion, chosen.method.name, model, asked)
        solves = len(choice.grid)
        what = f"{choice.criterion} principle"
    chosen.values["lam"] = choice.value
    chosen.weight_choice = choice
    where = "" if region is None else (
        " on the central " + "x".join(str(r.stop - r.start) for r in region) + " block")
    chosen.notes.append(
        f"lam={asked!r}: the {what}{where} chose lam={choice.value:.3g} ({solves} solves of "
        f"{chosen.values['max_iter']} iterations)")


def _reported(criterion: Any, search: str, name: str, at_most: int) -> Any:
    """``criterion`` that logs each weight it is asked for to :data:`search_logger`."""
    start = time.perf_counter()
    count = 0

    def value(lam: float) -> float:
        nonlocal count
        result = criterion(lam)
        count += 1
        search_logger.info("%s: weight %d of at most %d, lam=%.3g: %s %.4g (%.0f s)", search,
                           count, at_most, lam, name, result, time.perf_counter() - start)
        return result

    return value


def _field_otf2(chosen: Plan, block: Any) -> Any:
    """:math:`|\\hat h|^2` of the plan's PSF, circulant on ``block``'s shape (the PSF cut to it
    where longer), its peak 1, on the rfft half spectrum (float64)."""
    psf = _psf_within(chosen.psf, block.shape)
    problem = build_problem(block, to_backend(np.ascontiguousarray(psf), chosen.backend),
                            boundary="periodic", background=0.0, spacing=chosen.spacing,
                            apodize=0, constants=chosen.constants)
    xp = namespace(block)
    otf2 = xp.abs(problem.blur.circulant_blocks(np.complex128)[0, 0]) ** 2
    return otf2 / xp.max(otf2)


def _psf_within(psf: Any, shape: tuple[int, ...]) -> Any:
    """``psf`` cut, centred, to at most ``shape`` (odd sizes; renormalized) where it is longer."""
    if all(p <= n for p, n in zip(psf.shape, shape)):
        return psf
    keep = tuple(min(p, n - (1 - n % 2)) for p, n in zip(psf.shape, shape))
    psf = psf[tuple(slice((p - k) // 2, (p - k) // 2 + k) for p, k in zip(psf.shape, keep))]
    return psf / psf.sum()
