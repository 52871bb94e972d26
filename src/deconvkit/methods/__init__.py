"""The catalogue of named deconvolution methods and the one-call entry points.

``deconvolve(image, psf, method="rl", **params)`` returns the restored
array; ``run`` takes the same arguments and returns the solver's full
:class:`~deconvkit.solvers.Result` (history included). Every method is a few
lines composing :mod:`deconvkit.operators`, :mod:`deconvkit.costs` and
:mod:`deconvkit.solvers`, described once in the registry (:func:`available`)
from which the command line and the docs are built. See ``docs/methods.md``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from ..backend import backend_of, to_backend
from ..solvers import Callback, Result
from . import _filters, _iterative  # noqa: F401  (they register the methods)
from ._auto import WEIGHT_RULES
from ._plan import Plan, memory_estimate, plan
from ._problem import BOUNDARIES, Constants, Problem, prepare
from ._registry import COMMON, ITERATIVE, Method, Parameter, available, get
from ._stopping import Discrepancy
from ._tiles import Tiling, default_overlap, solve_tiled, tiling
from ._validate import check_image, check_psf, estimate_background, lazy
from ._views import VIEW_METHODS, run_views

__all__ = [
    "deconvolve",
    "run",
    "plan",
    "Plan",
    "Tiling",
    "tiling",
    "default_overlap",
    "solve_tiled",
    "run_views",
    "VIEW_METHODS",
    "WEIGHT_RULES",
    "Constants",
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
    keep: str = "last",
    backend: str | None = None,
    tile_shape: Any = None,
    overlap: Any = None,
    search_callbacks: Iterable[Callback] = (),
    **params: Any,
) -> Result:
    r"""Deconvolve ``image`` by ``method`` and return the full :class:`~deconvkit.solvers.Result`.

    ``plan(image, psf, method, backend=backend, **params).solve(image, ...)``:
    see :func:`plan` for what is checked and decided once, and
    :meth:`Plan.solve` for the run.

    Parameters
    ----------
    image : array
        The measured stack, ZYX (1D to 3D); integer data converts to float32.
        NumPy or CuPy: the result lives where the image does.
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
    keep : {"last", "best"}
        ``"best"`` (with ``ground_truth``) also returns the best iterate as
        ``Result.best_x``.
    backend : {"numpy", "cupy", "auto"}, optional
        Where to compute (default: where the image lives). A NumPy image
        solved with ``"cupy"`` comes back as a NumPy array.
    tile_shape, overlap : optional
        Solve in tiles with a halo (see :func:`deconvolve`); the result then has
        no per-iteration history (the tiles run in parallel) and callbacks are
        not called.
    search_callbacks : iterable of Callback
        Called at every iteration of an automatic weight search's trial solves
        (see :func:`plan`).
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
    if isinstance(image, (list, tuple)):
        if tile_shape is not None or overlap is not None or x0 is not None:
            raise ValueError("several views are solved whole: tile_shape, overlap and x0 "
                             "apply to one view")
        return run_views(image, psf, method, ground_truth=ground_truth, callbacks=callbacks,
                         progress=progress, record_every=record_every, keep=keep, **params)
    chosen = plan(image, psf, method, backend=backend, search_callbacks=search_callbacks,
                  **params)
    if tile_shape is not None or overlap is not None:
        layout = tiling(chosen, "auto" if tile_shape is None else tile_shape, overlap)
        x = solve_tiled(chosen, image, layout)
        n_iter = chosen.max_iter or 0
        return Result(x=x, history={"iteration": [n_iter]}, n_iter=n_iter,
                      stop_reason=f"{len(layout)} tiles of "
                                  f"{'x'.join(map(str, layout.tile_shape))}, each "
                                  f"{n_iter} iterations" if chosen.method.iterative else
                                  f"closed form, {len(layout)} tiles",
                      solver=chosen.method.solver,
                      parameters={**chosen.record, "tile_shape": layout.tile_shape,
                                  "overlap": layout.overlap})
    result = chosen.solve(x0=x0, ground_truth=ground_truth, callbacks=callbacks,
                          progress=progress, record_every=record_every, keep=keep)
    home = backend_of(image)
    if backend_of(result.x) != home:  # a host image solved on a device comes back to the host
        best = None if result.best_x is None else to_backend(result.best_x, home)
        result = replace(result, x=to_backend(result.x, home), best_x=best)
    return result


def deconvolve(image: Any, psf: Any, method: str = "rl", *, tile_shape: Any = None,
               overlap: Any = None, memory: int | None = None, scheduler: Any = None,
               workers: int | None = None, output: Any = None, resume: bool = False,
               progress: bool = False, concurrent: int | None = None, **params: Any) -> Any:
    r"""Deconvolve ``image`` (ZYX) by ``psf`` with a method of the catalogue.

    The one-call entry point. The problem is prepared the same way for every
    method: the PSF is checked (NaN, more axes than the image), normalized to
    sum 1 and centred; the object lives on an extended domain (image + PSF −
    1, rounded up to fast FFT sizes) so light from outside the field is
    modelled and the PSF is never truncated; the background is a number, a
    map or ``"auto"``; float32 is kept. A volume too large for memory is cut
    into tiles with a halo, solved with one plan (see :mod:`deconvkit.methods._tiles`).

    Parameters
    ----------
    image : array or list of arrays
        The measured stack: NumPy or CuPy (the result is of the same kind), a
        dask array (a lazy dask array comes back) or a zarr array (read tile by
        tile); or a list of views of one object (:func:`run_views`: one result).
    psf : array or list of arrays
        The PSF (same number of axes, any size); one per view for several views.
    method : str
        ``"rl"`` (default), ``"rltv"``, ``"rl-accelerated"``, ``"admm-hessian"``,
        ``"wif"``, ... : see :func:`available` or ``deconvkit methods``.
    tile_shape : tuple of int or "auto", optional
        Solve tiles of this core shape (ZYX) with a halo instead of the whole
        volume; ``"auto"`` fits ``memory``. Lazy inputs are always tiled.
    overlap : int or tuple of int, optional
        The halo per side, voxels; by default from the PSF's support
        (:func:`~deconvkit.methods._tiles.default_overlap`).
    memory : int, optional
        Bytes the tiles may use together (``tile_shape="auto"``); by default 60 %
        of the memory available.
    scheduler : str or distributed.Client, optional
        Where tiles run: dask's local threads (default), ``"synchronous"``, or a
        dask.distributed cluster (``"tcp://host:port"``, a Client).
    workers : int, optional
        Start a dask ``LocalCluster`` of this many worker processes for the tiles.
    output : zarr array, optional
        Write the result into it tile by tile (then it is returned); see
        :func:`deconvkit.io.create_zarr`.
    resume : bool
        With ``output``: skip the tiles a previous, interrupted run of the same
        plan finished.
    progress : bool
        A progress bar over the tiles.
    concurrent : int, optional
        Tiles solved at once by dask's local threads (default: the cores).
    **params
        The method's parameters (e.g. ``max_iter=100``, ``lam=0.01``), the
        common ones (``boundary``, ``background``, ``spacing``, ``stop``) and
        ``backend`` (``"numpy"``, ``"cupy"``, ``"auto"``).

    Returns
    -------
    array
        The restored object, of the image's shape and dtype (float32 for
        integer input), on the image's backend (lazy for dask input).

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
    >>> tiled = dk.deconvolve(y, psf, method="rl", max_iter=50, spacing=spacing,
    ...                       tile_shape=(16, 24, 24))
    >>> float(abs(tiled - x).max() / x.max()) < 0.02
    True
    """
    if isinstance(image, (list, tuple)):  # several views of one object
        return run(image, psf, method, tile_shape=tile_shape, overlap=overlap, **params).x
    tiled = (tile_shape is not None or lazy(image) or output is not None
             or scheduler is not None or workers is not None)
    if not tiled:
        return run(image, psf, method, **params).x
    chosen = plan(image, psf, method, **params)
    layout = tiling(chosen, "auto" if tile_shape is None else tile_shape, overlap, memory)
    return solve_tiled(chosen, image, layout, output=output, scheduler=scheduler,
                       workers=workers, resume=resume, progress=progress,
                       concurrent=concurrent)


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
