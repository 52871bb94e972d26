r"""Volumes larger than memory: tiles with a halo, solved by one plan, on dask.

The volume is cut into *cores* (``tile_shape``, the last ones smaller); each
core is solved as its own block, the core plus a *halo* of ``overlap`` voxels
on every side (clipped at the volume's edges), with the plan made once from
the whole volume, and only the core of the result is kept. Every tile sees the
same PSF, background, weights, start and iteration count: the plan's.

**The halo.** A voxel's estimate depends on the data its PSF reaches, and on the
data those voxels' PSFs reach, and so on, each RL iteration one PSF further; in
practice the dependence falls off within about the PSF's half-size. The
default halo along each axis is the half-width of the centred window that
holds 99 % of the PSF's projected energy along that axis (a widefield PSF's
energy is spread evenly along z, so its axial halo is about half its depth),
at least 4 voxels, and twice that for the closed-form filters, whose inverse
kernels reach further than the PSF; ``benchmarks/bench_tiles.py`` measures
the seam error against the overlap (docs/tiles.md).

**Seams.** Each core is cropped from its own solution (no blending): with the
default halo the cropped tiles agree with the untiled result to well under a
percent of its RMS, and cropping keeps every voxel the output of one solve.

**Execution.** The tiles are dask tasks: the local threaded scheduler by
default (tiles in parallel, each on ``threads`` FFT threads), or a
``dask.distributed`` cluster (``scheduler="tcp://host:port"``, or a
``distributed.Client``; ``workers=N`` starts a ``LocalCluster``). A dask
array in gives a lazy dask array out; a zarr array out (``output=``) is
written tile by tile, chunk-aligned, and a run interrupted there resumes with
``resume=True`` (the finished tiles are recorded in the store with the plan's
fingerprint, and a store written by another plan is refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import available_memory, fft_workers, to_host
from ._plan import Plan
from ._validate import lazy

__all__ = ["Tiling", "auto_tile_shape", "default_overlap", "solve_tiled", "tiling"]

logger = logging.getLogger("deconvkit")

#: Energy fraction of the PSF's per-axis projection that the default halo holds.
HALO_ENERGY = 0.99
#: The smallest default halo, voxels.
MIN_HALO = 4
#: Attribute of a zarr output that records the finished tiles.
PROGRESS_KEY = "deconvkit_tiles"


def default_overlap(psf: np.ndarray, fraction: float = HALO_ENERGY,
                    scale: float = 1.0) -> tuple[int, ...]:
    """The halo per axis: ``scale`` times the half-width of the centred window holding
    ``fraction`` of the PSF's projected energy along that axis, at least :data:`MIN_HALO`."""
    halo = []
    total = float(psf.sum())
    for axis, n in enumerate(psf.shape):
        profile = psf.sum(axis=tuple(a for a in range(psf.ndim) if a != axis)) / total
        centre = n // 2
        radius = 0
        while radius < n and float(profile[max(0, centre - radius):centre + radius + 1].sum()) \
                < fraction:
            radius += 1
        halo.append(int(math.ceil(scale * max(MIN_HALO, radius))))
    return tuple(halo)


@dataclass(frozen=True)
class Tiling:
    """Cores and their halos over a volume.

    Attributes
    ----------
    shape : tuple of int
        The volume's shape.
    tile_shape : tuple of int
        The cores' shape (the last core along an axis may be smaller).
    overlap : tuple of int
        The halo per side along each axis.
    """

    shape: tuple[int, ...]
    tile_shape: tuple[int, ...]
    overlap: tuple[int, ...]

    @property
    def counts(self) -> tuple[int, ...]:
        """Tiles along each axis."""
        return tuple(math.ceil(n / t) for n, t in zip(self.shape, self.tile_shape))

    def __len__(self) -> int:
        return math.prod(self.counts)

    def tiles(self) -> Iterator[tuple[int, tuple[slice, ...], tuple[slice, ...], tuple[slice, ...]]]:
        """``(index, core, region, core_in_region)`` for every tile, in C order.

        ``core`` and ``region`` (the core with its halo, clipped to the volume)
        are slices of the volume; ``core_in_region`` is the core's place in the
        region's solution.
        """
        for index, corner in enumerate(itertools.product(*(range(c) for c in self.counts))):
            core, region, inner = [], [], []
            for k, n, t, h in zip(corner, self.shape, self.tile_shape, self.overlap):
                start, stop = k * t, min((k + 1) * t, n)
                low, high = max(0, start - h), min(n, stop + h)
                core.append(slice(start, stop))
                region.append(slice(low, high))
                inner.append(slice(start - low, stop - low))
            yield index, tuple(core), tuple(region), tuple(inner)

    def largest_region(self) -> tuple[int, ...]:
        """The largest core-with-halo shape (what a tile's memory is sized for)."""
        return tuple(min(n, t + 2 * h) for n, t, h in zip(self.shape, self.tile_shape,
                                                          self.overlap))


def _check_shape(values: Any, ndim: int, what: str, minimum: int) -> tuple[int, ...]:
    try:
        items = tuple(values)
    except TypeError:
        items = (values,) * ndim
    if len(items) == 1 and ndim > 1:
        items = items * ndim
    if len(items) != ndim:
        raise ValueError(f"{what} needs {ndim} values (one per axis, ZYX), got {len(items)}")
    out = []
    for value in items:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) and not (
                isinstance(value, float) and value.is_integer()):
            raise ValueError(f"{what} must be whole numbers of voxels, got {values!r}")
        if int(value) < minimum:
            raise ValueError(f"{what} must be at least {minimum} on every axis, got {values!r}")
        out.append(int(value))
    return tuple(out)


def auto_tile_shape(plan: Plan, overlap: tuple[int, ...], memory: int,
                    concurrent: int = 1) -> tuple[int, ...]:
    """The largest tile, all Z first, whose block with halo fits ``memory / concurrent``.

    Halving the longest of the lateral axes (then Z) until a tile fits keeps
    tiles square-ish and whole along Z, where a widefield PSF's halo is largest.
    """
    shape = list(plan.image_shape)
    budget = memory / max(1, concurrent)
    while True:
        region = tuple(min(n, t + 2 * h) for n, t, h in zip(plan.image_shape, shape, overlap))
        if plan.memory(region) <= budget:
            return tuple(shape)
        lateral = list(range(1, len(shape))) if len(shape) > 1 else [0]
        axis = max(lateral, key=lambda a: shape[a])
        if shape[axis] <= max(2 * overlap[axis], 16):
            axis = 0
            if shape[0] <= max(2 * overlap[0], 8):
                raise ValueError(
                    f"no tile fits {budget / 1e9:.3g} GB: even a "
                    f"{'x'.join(map(str, shape))} tile with its halo "
                    f"{'x'.join(map(str, overlap))} needs {plan.memory(region) / 1e9:.3g} GB; "
                    "give more memory (memory=, --memory-limit) or a smaller PSF")
        shape[axis] = max(1, math.ceil(shape[axis] / 2))


def tiling(plan: Plan, tile_shape: Any = "auto", overlap: Any = None,
           memory: int | None = None, concurrent: int = 1) -> Tiling:
    """The :class:`Tiling` of the plan's volume (checks the tile shape and the overlap)."""
    ndim = len(plan.image_shape)
    if overlap is None:
        halo = default_overlap(plan.psf, scale=1.0 if plan.method.iterative else 2.0)
    else:
        halo = _check_shape(overlap, ndim, "the overlap", 0)
    if isinstance(tile_shape, str):
        if tile_shape != "auto":
            raise ValueError(f"tile_shape must be 'auto' or {ndim} whole numbers, got {tile_shape!r}")
        if memory is None:
            memory = available_memory() or 8 * 10**9
            memory = int(0.6 * memory)
        shape = auto_tile_shape(plan, halo, memory, concurrent)
    else:
        shape = _check_shape(tile_shape, ndim, "the tile shape", 1)
    shape = tuple(min(t, n) for t, n in zip(shape, plan.image_shape))
    return Tiling(plan.image_shape, shape, halo)


def fingerprint(plan: Plan, layout: Tiling, source: str) -> str:
    """A hash of everything a tile's values depend on: plan, PSF, layout, input."""
    record = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
              for k, v in plan.record.items()}
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(plan.psf).tobytes())
    if np.ndim(plan.background):
        digest.update(b"background map")
    digest.update(repr((layout.shape, layout.tile_shape, layout.overlap, source)).encode())
    return digest.hexdigest()


# -- reading regions ----------------------------------------------------------------
def read_region(source: Any, region: tuple[slice, ...]) -> np.ndarray:
    """``source[region]`` in memory: NumPy, CuPy, zarr (lazy) or dask (computed here)."""
    part = source[region]
    if type(part).__module__.startswith("dask"):
        return np.asarray(part.compute(scheduler="synchronous"))
    return part if not lazy(part) else np.asarray(part)


# -- the progress record of a zarr output -----------------------------------------------
class _Progress:
    """Which tiles of a zarr output are finished, stored in its attributes.

    ``attrs[PROGRESS_KEY] = {"fingerprint": ..., "done": {volume: [tile, ...]}}``: one
    fingerprint for the whole run, the finished tiles per volume (channel, time point).
    """

    def __init__(self, owner: Any, key: str, resume: bool, volume: str = "") -> None:
        self.owner, self.key, self.volume, self.lock = owner, key, volume, threading.Lock()
        recorded = dict(owner.attrs).get(PROGRESS_KEY)
        if recorded and recorded.get("fingerprint") != key:
            raise ValueError(
                "the output was written by another run (other parameters, PSF, tiles or "
                "input): its tiles cannot be reused; choose another output, or remove it")
        done = dict(recorded.get("done", {})) if recorded else {}
        if done.get(volume) and not resume:
            raise ValueError("the output already holds tiles of this run: pass resume=True "
                             "(--resume) to finish it, or choose another output")
        self.all = done
        self.done = set(done.get(volume, []))
        self._save()

    def _save(self) -> None:
        self.all[self.volume] = sorted(self.done)
        self.owner.attrs[PROGRESS_KEY] = {"fingerprint": self.key, "done": self.all}

    def finish(self, index: int) -> None:
        with self.lock:
            self.done.add(index)
            self._save()


class _Within:
    """``array[leading + core] = values``: one volume (channel, time point) of an output."""

    def __init__(self, array: Any, leading: tuple[int, ...]) -> None:
        self.array, self.leading = array, tuple(leading)
        self.attrs = array.attrs

    def __setitem__(self, core: tuple[slice, ...], values: Any) -> None:
        self.array[self.leading + tuple(core)] = values


# -- solving --------------------------------------------------------------------------
def _solve_tile(plan: Plan, source: Any, region: tuple[slice, ...], inner: tuple[slice, ...],
                max_iter: int | None, threads: int) -> np.ndarray:
    block = read_region(source, region)
    with fft_workers(threads):
        result = plan.solve(block, region=region, max_iter=max_iter)
    core = result.x[inner]
    return to_host(core).astype(plan.dtype, copy=False)


def calibrate_iterations(plan: Plan, source: Any, layout: Tiling) -> int | None:
    """With ``stop="auto"``: the iteration count of the brightest tile, for every tile.

    Tiles stopping at their own noise level would stop at different iterations
    and show seams; the plan runs the discrepancy rule once, on the tile with
    the most signal, and every tile then runs that many iterations. A rule that is
    the plan's held-out iteration alone (``fista``) needs no such run.
    """
    if not plan.method.iterative or plan.values["stop"] != "auto":
        return None
    if plan.stops_at_held_out:
        logger.info("stop='auto': every tile runs the plan's held-out iteration, %d",
                    plan.held_out_iteration)
        return plan.held_out_iteration  # fista's rule stops there on any block
    best, best_sum = None, -math.inf
    for _, core, region, _inner in layout.tiles():
        total = float(np.sum(read_region(source, core), dtype=np.float64))
        if total > best_sum:
            best, best_sum = region, total
    result = plan.solve(read_region(source, best), region=best)
    logger.info("stop='auto' on the brightest tile stopped at iteration %d: every tile runs it",
                result.n_iter)
    return max(1, int(result.n_iter))


def solve_tiled(plan: Plan, source: Any, layout: Tiling, *, output: Any = None,
                scheduler: Any = None, workers: int | None = None, resume: bool = False,
                progress: bool = False, concurrent: int | None = None,
                within: tuple[int, ...] = (), run_key: str | None = None) -> Any:
    """Solve every tile of ``layout`` with ``plan`` and assemble the result.

    Parameters
    ----------
    plan : Plan
        Made once from the whole volume.
    source : array
        The volume: NumPy, zarr (read region by region) or dask (lazy).
    layout : Tiling
        Cores and halos.
    output : zarr array, optional
        Write the cores into it (chunk-aligned with the cores); returned.
    scheduler : str or distributed.Client, optional
        ``None``: dask's local threads; ``"synchronous"``; an address
        ``"tcp://host:port"`` or a Client: a dask.distributed cluster.
    workers : int, optional
        Start a ``LocalCluster`` of this many single-threaded worker processes.
    resume : bool
        With a zarr ``output``: skip the tiles it records as finished.
    progress : bool
        A progress bar over the tiles (tqdm) on stderr.
    concurrent : int, optional
        Tiles solved at once by the local threaded scheduler (default: the cores,
        at most the tiles); each tile's FFTs get ``cores / concurrent`` threads.
    within : tuple of int
        With ``output``: the leading indices (time, channel) of this volume in it.
    run_key : str, optional
        The fingerprint recorded in ``output`` (default: this plan's, layout's and
        input's); a command that writes several volumes gives one for all.

    Returns
    -------
    array
        A NumPy array (NumPy or zarr input), a lazy dask array (dask input,
        no output), or ``output``.
    """
    import dask

    tiles = list(layout.tiles())
    max_iter = calibrate_iterations(plan, source, layout)
    cores = os.cpu_count() or 1
    parallel = max(1, min(concurrent or cores, len(tiles)))
    threads = max(1, cores // parallel) if scheduler is None and workers is None else 1

    if type(source).__module__.startswith("dask") and output is None:
        return _lazy_result(plan, source, layout, max_iter, threads)

    record = None
    if output is not None:
        key = run_key or fingerprint(plan, layout, _describe_source(source))
        record = _Progress(output, key, resume, ",".join(map(str, within)))
        target = _Within(output, within) if within else output
    else:
        target = np.empty(layout.shape, dtype=plan.dtype)
    remaining = [t for t in tiles if record is None or t[0] not in record.done]

    def task(index, core, region, inner):
        values = _solve_tile(plan, source, region, inner, max_iter, threads)
        target[core] = values
        if record is not None:
            record.finish(index)
        return index

    bar = _progress_bar(progress, len(tiles), len(tiles) - len(remaining))
    try:
        if scheduler is None and workers is None or scheduler == "synchronous":
            delayed = [dask.delayed(task, pure=False)(*t) for t in remaining]
            with _dask_progress(bar):
                dask.compute(*delayed, scheduler="threads" if scheduler is None else "synchronous",
                             num_workers=parallel)
        else:
            _distributed(plan, source, remaining, target, record, max_iter, scheduler, workers,
                         bar)
    finally:
        if bar is not None:
            bar.close()
    return target


def _describe_source(source: Any) -> str:
    store = getattr(source, "store", None)
    path = getattr(store, "path", None) or getattr(store, "root", None)
    return f"{type(source).__name__}{tuple(source.shape)}:{path}"


def _lazy_result(plan: Plan, source: Any, layout: Tiling, max_iter: int | None,
                 threads: int) -> Any:
    """A lazy dask array whose blocks are the solved cores."""
    import dask.array as da

    chunks = tuple(tuple(min(t, n - k * t) for k in range(c))
                   for n, t, c in zip(layout.shape, layout.tile_shape, layout.counts))

    def block(block_info=None):
        location = block_info[None]["array-location"]
        core = tuple(slice(a, b) for a, b in location)
        region, inner = [], []
        for (start, stop), n, h in zip(location, layout.shape, layout.overlap):
            low, high = max(0, start - h), min(n, stop + h)
            region.append(slice(low, high))
            inner.append(slice(start - low, stop - low))
        del core
        return _solve_tile(plan, source, tuple(region), tuple(inner), max_iter, threads)

    return da.map_blocks(block, chunks=chunks, dtype=plan.dtype,
                         meta=np.empty((0,) * len(layout.shape), plan.dtype))


def _progress_bar(enabled: bool, total: int, done: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="tile", desc="tiles", leave=True)


@contextlib.contextmanager
def _dask_progress(bar: Any) -> Iterator[None]:
    if bar is None:
        yield
        return
    from dask.callbacks import Callback

    class Tick(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            bar.update(1)

    with Tick():
        yield


def _distributed(plan: Plan, source: Any, tiles: Sequence, target: Any, record: Any,
                 max_iter: int | None, scheduler: Any, workers: int | None, bar: Any) -> None:
    """The tiles on a dask.distributed cluster; cores come back and are written here."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ValueError('a dask cluster needs dask.distributed: pip install "deconvkit[cluster]"'
                         ) from None
    stack = contextlib.ExitStack()
    with stack:
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler is not None:
            client = stack.enter_context(Client(scheduler))
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=int(workers),
                                                       threads_per_worker=1,
                                                       processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        remote_plan = client.scatter(plan, broadcast=True)
        futures = {client.submit(_solve_tile, remote_plan, source, region, inner, max_iter, 1,
                                 pure=False): (index, core)
                   for index, core, region, inner in tiles}
        for future in as_completed(futures):
            index, core = futures[future]
            target[core] = future.result()
            if record is not None:
                record.finish(index)
            if bar is not None:
                bar.update(1)
