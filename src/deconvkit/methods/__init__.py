"""The catalogue of named deconvolution methods and the one-call entry points.

``deconvolve(image, psf, method="rl", **params)`` returns the restored
array; ``run`` takes the same arguments and returns the solver's full
:class:`~deconvkit.solvers.Result` (history included). Every method is a few
lines composing :mod:`deconvkit.operators`, :mod:`deconvkit.costs` and
:mod:`deconvkit.solvers`, described once in the registry (:func:`available`)
from which the command line and the docs are built. See ``docs/methods.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from .. import metrics
from ..solvers import Callback, MaxIter, RelativeChange, Result
from . import _filters, _iterative  # noqa: F401  (they register the methods)
from ._problem import BOUNDARIES, Problem, check_image, check_psf, estimate_background, prepare
from ._registry import COMMON, ITERATIVE, Method, Parameter, available, get
from ._stopping import Discrepancy
from ._terms import data_minus_background

__all__ = [
    "deconvolve",
    "run",
    "available",
    "get",
    "describe",
    "memory_estimate",
    "prepare",
    "Problem",
    "Method",
    "Parameter",
    "Discrepancy",
    "check_image",
    "check_psf",
    "estimate_background",
    "BOUNDARIES",
    "COMMON",
    "ITERATIVE",
]

_PREPARE = ("boundary", "background", "spacing", "apodize")
_RUN = ("max_iter", "stop", "clip_negative")


def run(
    image: Any,
    psf: Any,
    method: str = "rl",
    *,
    ground_truth: Any = None,
    x0: Any = None,
    callbacks: Iterable[Callback] = (),
    progress: bool | int = False,
    record_every: int = 1,
    **params: Any,
) -> Result:
    r"""Deconvolve ``image`` by ``method`` and return the full :class:`~deconvkit.solvers.Result`.

    Parameters
    ----------
    image : array
        The measured stack, ZYX (1D to 3D); integer data converts to float32.
    psf : array
        The PSF, with as many axes as the image, of any size: it is checked,
        normalized to sum 1 and centred, never truncated.
    method : str
        A name from :func:`available` (DeconvolutionLab2's short names and
        aliases accepted, e.g. ``"nnls"`` for ``"lw+"``).
    ground_truth : array, optional
        Of the image's shape: the history then records ``nrmse`` and ``psnr``
        at every recorded iteration, so the best iteration is known without
        rerunning (:meth:`Result.best`).
    x0 : array, optional
        Warm start, of the image's shape (the margin of an extended domain
        starts at the solver's default level).
    callbacks : iterable of Callback
        Called at every iteration with the solver's state.
    progress : bool or int
        Print a progress line every 10 (or ``progress``) iterations.
    record_every : int
        Record the history every this many iterations.
    **params
        The method's parameters and the common ones: ``boundary``
        (``"extended"`` default, ``"periodic"``, ``"reflect"``),
        ``background`` (a number, a map or ``"auto"``), ``spacing`` (µm,
        ZYX), ``apodize``; for iterative methods ``max_iter``, ``stop``
        (``"max_iter"`` or ``"auto"``, the discrepancy principle) and
        ``clip_negative``, ``rel_tol``. ``deconvkit methods`` lists them all.

    Returns
    -------
    Result
        ``x`` of the image's shape (the object estimated in the margin is
        cropped away), ``history``, ``n_iter``, ``stop_reason``, and
        ``parameters`` (the method's name and every parameter's value).
    """
    spec = get(method)
    values = spec.validate(params)
    image = check_image(image)
    truth = None
    if ground_truth is not None:
        truth = check_image(ground_truth, "the ground truth")
        if truth.shape != image.shape:
            raise ValueError(
                f"the ground truth has shape {truth.shape} but the image {image.shape}: "
                "they must match"
            )
    boundary = values["boundary"]
    if not spec.iterative and boundary == "extended":
        # A closed form needs a circulant model: the extended domain's margin
        # is mirror-filled so that the field is not cut by circular wrap-around.
        boundary = "reflect"
    problem = prepare(image, psf, boundary=boundary, background=values["background"],
                      spacing=values["spacing"], apodize=values["apodize"])
    own = {p.name: values[p.name] for p in spec.parameters}
    record = {"method": spec.name, **{k: v for k, v in values.items() if np.ndim(v) == 0}}
    if isinstance(values["background"], str) or np.ndim(problem.background) == 0:
        record["background"] = float(np.mean(problem.background))
    record["spacing"] = tuple(problem.spacing)
    record["boundary_used"] = problem.boundary

    if not spec.iterative:
        return _run_closed_form(spec, problem, own, truth, record)

    solver = spec.build(problem, clip_negative=values["clip_negative"], **own)
    max_iter = values["max_iter"]
    stop = MaxIter(max_iter)
    if values["stop"] == "auto":
        model = "poisson" if spec.model.lower().startswith("poisson") and own.get(
            "data", "poisson") == "poisson" else "gaussian"
        stop = Discrepancy(problem, model) | stop
    if values["rel_tol"]:
        stop = RelativeChange(values["rel_tol"]) | stop
    start = None
    if x0 is not None:
        start = _start_in_domain(problem, check_image(x0, "x0"))
    elif spec.start_from_data:
        data = np.maximum(data_minus_background(problem), 0)
        start = data if data.shape == tuple(problem.shape) else _start_in_domain(problem, data)
    result = solver.run(x0=start, max_iter=max_iter, stop=stop, callbacks=callbacks,
                        progress=progress, ground_truth=truth, record_every=record_every)
    return replace(result, x=problem.to_image(result.x), parameters=record)


def deconvolve(image: Any, psf: Any, method: str = "rl", **params: Any) -> np.ndarray:
    r"""Deconvolve ``image`` (ZYX) by ``psf`` with a method of the catalogue.

    The one-call entry point. The problem is prepared the same way for every
    method: the PSF is checked (NaN, more axes than the image), normalized to
    sum 1 and centred; the object lives on an extended domain (image + PSF −
    1, rounded up to fast FFT sizes) so light from outside the field is
    modelled and the PSF is never truncated; the background is a number, a
    map or ``"auto"``; float32 is kept.

    Parameters
    ----------
    image : array
        The measured stack.
    psf : array
        The PSF (same number of axes, any size).
    method : str
        ``"rl"`` (default), ``"rltv"``, ``"rl-accelerated"``, ``"admm-hessian"``,
        ``"wif"``, ... : see :func:`available` or ``deconvkit methods``.
    **params
        The method's parameters (e.g. ``max_iter=100``, ``lam=0.01``) and the
        common ones (``boundary``, ``background``, ``spacing``, ``stop``).

    Returns
    -------
    ndarray
        The restored object, of the image's shape and dtype (float32 for
        integer input).

    Examples
    --------
    >>> import deconvkit as dk
    >>> spacing = (0.2, 0.1, 0.1)
    >>> psf = dk.psf.gaussian((15, 31, 31), spacing, na=1.2, wavelength=0.52, ni=1.33)
    >>> obj = dk.simulate.phantom((30, 78, 78), spacing, kind="beads", seed=1)
    >>> y, truth = dk.simulate.observe(obj, psf, photons=500, seed=2)  # a 16x48x48 field
    >>> x = dk.deconvolve(y, psf, method="rl", max_iter=50, spacing=spacing)
    >>> x.shape, x.dtype
    ((16, 48, 48), dtype('float32'))
    """
    return run(image, psf, method, **params).x


def _run_closed_form(spec: Method, problem: Problem, own: dict, truth: Any,
                     record: dict) -> Result:
    start = time.perf_counter()
    x = problem.to_image(spec.build(problem, **own))
    elapsed = time.perf_counter() - start
    history: dict[str, list] = {"iteration": [0], "objective": [math.nan],
                                "relative_change": [math.nan], "time": [elapsed]}
    if truth is not None:
        history["nrmse"] = [metrics.nrmse(x, truth)]
        history["psnr"] = [metrics.psnr(x, truth)]
    return Result(x=x, history=history, n_iter=0, stop_reason="closed form (one FFT division)",
                  converged=True, solver=spec.solver, parameters=record)


def _start_in_domain(problem: Problem, x0: Any) -> Any:
    """``x0`` (the image's shape) on the object's domain, the margin at its mean."""
    if x0.shape != problem.image_shape:
        raise ValueError(f"x0 has shape {x0.shape} but the image {problem.image_shape}")
    if x0.shape == tuple(problem.shape):
        return x0.astype(problem.data.dtype, copy=False)
    level = float(np.mean(x0))
    out = np.full(problem.shape, level, dtype=problem.data.dtype)
    out[problem.field] = x0
    return out


def describe(method: str | None = None) -> str:
    """The catalogue (or one method) as text: name, summary, parameters with defaults."""
    if method is not None:
        spec = get(method)
        lines = [spec.describe(), f"    model: {spec.model}; regularization: "
                 f"{spec.regularization}; solver: {spec.solver}"]
        if spec.aliases:
            lines.append(f"    aliases: {', '.join(spec.aliases)}")
        return "\n".join(lines)
    blocks = [describe(name) for name in available()]
    common = ["common parameters:"] + [f"    {p.describe()}" for p in COMMON]
    common += ["iterative methods also take:"] + [f"    {p.describe()}" for p in ITERATIVE]
    return "\n".join(blocks + common)


def memory_estimate(image_shape: tuple[int, ...], psf_shape: tuple[int, ...],
                    method: str = "rl", boundary: str = "extended",
                    dtype: Any = np.float32) -> int:
    """Bytes a method needs for an image and a PSF: its working arrays on the object's domain.

    The domain is the image (``periodic``) or the image plus the PSF's size
    rounded up to fast FFT sizes (``extended``, ``reflect``); each method
    holds a known number of domain-sized arrays (the registry's ``arrays``,
    measured), plus the input and output on the image's field and any working
    memory of fixed size (``scratch_mib``). FFT scratch space inside
    ``scipy.fft`` is not counted.
    """
    from ..operators import extended_shape

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
