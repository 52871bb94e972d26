"""``deconvkit deconvolve IMAGE [PSF]``: one method of the catalogue on a TIFF stack.

The run is checked before it starts (method, parameters, PSF, output path,
memory), each channel and time point is deconvolved as its own ZYX volume,
and the result is written only at the end, atomically, with a sidecar JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, metrics
from .. import methods as catalogue
from ..backend import BackendError, available_memory
from ..solvers import ProgressLine
from ._common import (
    EXIT_MEMORY,
    EXIT_USAGE,
    FORMATTER,
    CLIError,
    check_inputs,
    format_bytes,
    parse_spacing,
    peak_memory,
    resolve_spacing,
    safe_name,
    versions,
)
from ._output import OutputFiles, ZarrOutput
from ._psf import MODELS, add_model_options, build_model, model_options, model_shape

__all__ = ["WEIGHTS", "add_parser", "default_output", "parse_param", "weight_name"]

#: What ``--lambda`` sets: the first of these a method has.
WEIGHTS = ("lam", "nsr", "epsilon")

_EPILOG = """\
examples:
  deconvkit deconvolve cells.tif psf.tif                      # rl, 50 iterations -> rl_cells.tif
  deconvkit deconvolve cells.tif psf.tif --method rltv --lambda 0.002 --iter 50
  deconvkit deconvolve cells.tif --psf-model gibson_lanni --na 1.4 --wavelength 0.52 \\
      --ni 1.515 --ns 1.33 --depth 5 --background auto -o out/cells_rl.tif
  deconvkit deconvolve two_channels.tif --psf green.tif --psf red.tif --method rla
  deconvkit deconvolve two_channels.tif --psf-model born_wolf --na 1.4 --ni 1.515 \\
      --wavelength 0.52 0.61                                   # one wavelength per channel
  deconvkit deconvolve cells.tif psf.tif --method wif --lambda 0.01 --dtype uint16
  deconvkit deconvolve sim.tif psf.tif --reference truth.tif --iter 200   # prints NRMSE

output: METHOD_IMAGE.tif beside the input unless -o is given (.tif or .tiff; a
name ending in .ome.tif writes OME-TIFF), and METHOD_IMAGE.json beside it:
parameters, versions, voxel size, timings, stop reason, iterations, peak memory.
Both appear together at the end, or neither. --overwrite replaces regular files
only, never an input, a link, a folder or a device.
--lambda sets the method's weight: lam, nsr (wif) or epsilon (nif); see
`deconvkit methods` for every method's parameters and defaults.
exit codes: 0 done, 1 error, 2 bad options, 3 not enough memory, 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM): no partial output, one line says what is on disk.
"""


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``deconvolve`` subcommand."""
    boundary = next(p for p in catalogue.COMMON if p.name == "boundary")
    stop = next(p for p in catalogue.ITERATIVE if p.name == "stop")
    parser = subparsers.add_parser(
        "deconvolve", aliases=["deconv"], help="deconvolve a TIFF stack with a method of the "
        "catalogue", description="Deconvolve IMAGE (ZYX, or with channels / time points: "
        "each volume on its own) by a PSF file or a PSF model.",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    parser.add_argument("image", type=Path, nargs="?",
                        help="the image: a TIFF (ImageJ, OME or plain) or an OME-Zarr store")
    parser.add_argument("psf_file", type=Path, nargs="?", metavar="PSF",
                        help="the PSF as a TIFF (same as --psf)")
    source = parser.add_argument_group("PSF")
    source.add_argument("--psf", type=Path, action="append", default=[], metavar="PSF.tif",
                        help="PSF file; repeat it once per channel for multichannel images")
    source.add_argument("--psfs", type=Path, nargs="+", default=[], metavar="PSF.tif",
                        help="with --views: one PSF per view (or one for all)")
    source.add_argument("--psf-model", type=str.lower, choices=[*MODELS,
                        *(m.replace("_", "-") for m in MODELS if "_" in m)], metavar="MODEL",
                        help=f"compute a theoretical PSF sized for the image instead: "
                             f"{', '.join(MODELS)}")
    source.add_argument("--psf-shape", type=int, nargs=3, metavar=("NZ", "NY", "NX"),
                        help="odd sizes of the model PSF (default: 2 NZ - 1 planes; laterally "
                             "ten Airy radii or the defocus cone, capped at the image width)")
    add_model_options(parser, per_channel=True)

    method = parser.add_argument_group("method")
    method.add_argument("-m", "--method", default="rl",
                        help="a method of `deconvkit methods` (default rl); DeconvolutionLab2's "
                             "short names and aliases work")
    method.add_argument("--max-iter", "--iter", dest="max_iter", type=int,
                        help=f"iterations (iterative methods; default: the method's own, "
                             f"{_iteration_defaults()}; `deconvkit methods NAME` shows it)")
    method.add_argument("--stop", choices=stop.choices,
                        help="max_iter: run them all (default); auto: stop at the noise level, "
                             "or where the residual stops falling above it (fista: where a "
                             "held-out half of the data fits best)")
    method.add_argument("--rel-tol", type=float,
                        help="stop when the relative change of x falls below this")
    method.add_argument("--lambda", dest="weight", type=_weight,
                        help="the method's regularization weight: lam, nsr (wif) or epsilon "
                             "(nif); 'auto' chooses it: by generalized cross-validation for wif, "
                             "trif, rif, by the projected Poisson risk estimate (PURE) for the "
                             "iterative methods ('discrepancy': by the discrepancy principle, "
                             "faster)")
    method.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="any parameter of the method (repeatable), e.g. --param "
                             "acceleration=biggs-andrews")
    method.add_argument("--boundary", choices=boundary.choices,
                        help="extended (default): image + PSF margin; periodic: no margin "
                             "(least memory); reflect: mirror-padded")
    method.add_argument("--background", type=_background,
                        help="background to subtract in the model: a number, or auto (the "
                             "camera offset, estimated as the 1st percentile); default 0")
    method.add_argument("--estimate-psf", choices=("zernike", "blind"),
                        help="estimate the PSF with the object: zernike (semi-blind: the PSF "
                             "model's pupil with Zernike aberrations fitted) or blind (blind "
                             "RL); writes NAME_psf.tif and the coefficients in the sidecar")
    method.add_argument("--clip-negative", action="store_true",
                        help="Poisson methods: clip negative data to 0 instead of refusing it")

    views = parser.add_argument_group("several views of one object (rl, rl-accelerated, "
                                      "admm-tv, admm-hessian)")
    views.add_argument("--views", type=Path, nargs="+", metavar="VIEW.tif",
                       help="registered views of one object, one voxel size: deconvolved "
                            "jointly into one image (give their PSFs with --psfs)")
    views.add_argument("--channels-as-views", action="store_true",
                       help="read IMAGE's channels as views of one object (one PSF per "
                            "channel, or one for all), e.g. an Airyscan detector's elements")
    views.add_argument("--subsets", type=int, default=1, metavar="N",
                       help="RL over views: 1 simultaneous (default), N ordered subsets")
    data = parser.add_argument_group("data and output")
    data.add_argument("--spacing", type=float, nargs=3, metavar=("DZ", "DY", "DX"),
                      help="voxel size in µm (default: from the file; 1 if it has none)")
    data.add_argument("--z-step", type=float, metavar="DZ",
                      help="the z step in µm, keeping the file's pixel size (for a file "
                           "whose z step is missing or invalid)")
    data.add_argument("--reference", type=Path, metavar="GT.tif",
                      help="ground truth of the image's shape: print NRMSE and PSNR (both "
                           "after the affine fit a·x + b) and record them per iteration")
    data.add_argument("-o", "--output", type=Path,
                      help="output TIFF, .tif or .tiff (.ome.tif: OME-TIFF); default "
                           "METHOD_IMAGE.tif beside the input")
    data.add_argument("--overwrite", action="store_true",
                      help="replace an existing output and sidecar: regular files only, "
                           "never an input")
    data.add_argument("--dtype", choices=("float32", "uint16"), default="float32",
                      help="output pixels: float32 (default) or uint16 scaled to 0..65535 "
                           "(the scale is stored as ImageJ's calibration)")
    run = parser.add_argument_group("resources")
    run.add_argument("--backend", choices=("numpy", "cupy", "auto"), default="numpy",
                     help="where to compute: numpy (the CPU, default), cupy (a CUDA GPU: pip "
                          "install \"deconvkit[gpu]\"), auto (the GPU when one is usable)")
    run.add_argument("--fft", choices=("scipy", "fftw"), default="scipy",
                     help="the CPU FFT library: scipy (default) or fftw (pyFFTW, planned once "
                          "per shape and machine: pip install \"deconvkit[fftw]\")")
    run.add_argument("--threads", type=int, help="FFT worker threads (default: all cores)")
    run.add_argument("--memory-limit", type=float, metavar="GB",
                     help="refuse to start if the estimate exceeds this many GB (default: the "
                          "memory available now)")
    run.add_argument("--progress", type=int, default=10, metavar="N",
                     help="print a progress line every N iterations (default 10; 0: none)")
    tiles = parser.add_argument_group("tiles (volumes larger than memory)")
    tiles.add_argument("--tile-shape", type=_tile_shape, metavar="Z,Y,X",
                       help="solve tiles of this core shape with a halo (or 'auto': the largest "
                            "that fits the memory); the plan is made once from the whole volume")
    tiles.add_argument("--overlap", type=_tile_shape, metavar="H or Z,Y,X",
                       help="the halo per side, voxels (default: from the PSF's support)")
    tiles.add_argument("--workers", type=int, metavar="N",
                       help="run the tiles on a local dask cluster of N worker processes")
    tiles.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the tiles on this dask.distributed scheduler")
    tiles.add_argument("--resume", action="store_true",
                       help="finish an interrupted tiled run into an OME-Zarr output "
                            "(its NAME.partial folder), reusing the tiles it completed")
    parser.set_defaults(handler=run_command)


def _tile_shape(text: str) -> tuple[int, ...] | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers of voxels Z,Y,X (e.g. 64,512,512) or auto, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive voxel counts, got {text!r}")
    return values


def _iteration_defaults() -> str:
    """``rl 50, rltv 50, lw 30, ...``: each iterative method's default ``max_iter``."""
    found = [f"{name} {spec.defaults()['max_iter']}" for name, spec in
             catalogue.available().items() if spec.iterative and "max_iter" in spec.defaults()]
    return ", ".join(found) if found else "see `deconvkit methods`"


def _background(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"the background must be finite, got {text!r}")
    return value


# -- parameters ---------------------------------------------------------------------------


WEIGHT_RULES = catalogue.WEIGHT_RULES


def _weight(text: str) -> float | str:
    """``--lambda``: a number, ``auto``, or a rule by name (``pure``, ``discrepancy``)."""
    word = text.strip().lower()
    if word in ("auto", *WEIGHT_RULES):
        return word  # the method's parameter says whether it takes that rule
    try:
        return float(text)
    except ValueError:
        words = ", ".join(repr(w) for w in ("auto", *WEIGHT_RULES))
        raise argparse.ArgumentTypeError(f"expected a number or {words}, got {text!r}") from None


def weight_name(spec: catalogue.Method) -> str | None:
    """The parameter ``--lambda`` sets for a method (``lam``, ``nsr``, ``epsilon``), if any."""
    names = {p.name for p in spec.parameters}
    return next((w for w in WEIGHTS if w in names), None)


def parse_param(spec: catalogue.Method, text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` converted to the parameter's type (as the registry describes it)."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip().replace("-", "_"), raw.strip()
    if not sep or not name:
        raise CLIError(f"--param needs NAME=VALUE, e.g. --param lam=0.01; got {text!r}",
                       EXIT_USAGE)
    known = {p.name: p for p in spec.all_parameters}
    if name not in known:
        raise CLIError(f"{spec.name} has no parameter {name!r}; its parameters are: "
                       f"{', '.join(known)} (see `deconvkit methods {spec.name}`)", EXIT_USAGE)
    if name in ("spacing", "background"):
        raise CLIError(f"use --{name} rather than --param {name}=...", EXIT_USAGE)
    parameter = known[name]
    try:
        if parameter.choices is not None or parameter.type is str:
            value: Any = raw
        elif parameter.type is bool:
            words = {"true": True, "yes": True, "on": True, "1": True,
                     "false": False, "no": False, "off": False, "0": False}
            value = words[raw.lower()]
        elif parameter.type is int:
            value = float(raw)
            value = int(value) if value.is_integer() else value
        elif parameter.type is float:
            word = raw.lower()
            value = word if parameter.auto and word in ("auto", *parameter.rules) else float(raw)
        else:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    except (ValueError, KeyError):
        kind = {bool: "true or false", int: "a whole number"}.get(parameter.type, "a number")
        raise CLIError(f"--param {name}={raw}: {name} must be {kind} ({parameter.describe()})",
                       EXIT_USAGE) from None
    return name, value


def method_parameters(spec: catalogue.Method, args: argparse.Namespace) -> dict[str, Any]:
    """The method's parameters from the options, checked by the registry (exit 2 if wrong)."""
    params: dict[str, Any] = {}
    for text in args.param:
        name, value = parse_param(spec, text)
        if name in params:
            raise CLIError(f"--param {name} is given twice", EXIT_USAGE)
        params[name] = value

    def put(name: str, value: Any, option: str) -> None:
        if value is None:
            return
        if name in params:
            raise CLIError(f"{name} is given twice: by {option} and by --param {name}=...",
                           EXIT_USAGE)
        params[name] = value

    if args.weight is not None:
        weight = weight_name(spec)
        if weight is None:
            takers = [n for n, m in catalogue.available().items() if weight_name(m)]
            raise CLIError(f"--lambda: {spec.name} has no regularization weight (its parameters: "
                           f"{', '.join(p.name for p in spec.parameters) or 'none'}); methods "
                           f"with one: {', '.join(takers)}", EXIT_USAGE)
        put(weight, args.weight, "--lambda")
    put("boundary", args.boundary, "--boundary")
    put("background", args.background, "--background")
    iterative = {"max_iter": (args.max_iter, "--max-iter"), "stop": (args.stop, "--stop"),
                 "clip_negative": (args.clip_negative or None, "--clip-negative")}
    for name, (value, option) in iterative.items():
        if value is not None and not spec.iterative:
            args.messages.note(f"{spec.name} is a closed-form filter: {option} is ignored")
            continue
        put(name, value, option)
    if args.rel_tol is not None:
        if not spec.iterative:
            args.messages.note(f"{spec.name} is a closed-form filter: --rel-tol is ignored")
        else:
            put("rel_tol", args.rel_tol, "--rel-tol")
    try:
        spec.validate(params)
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    return params


# -- inputs -------------------------------------------------------------------------------


def default_output(image: Path, method: str) -> Path:
    """``METHOD_IMAGE.tif`` beside the input (``.ome.tif`` and ``.tiff`` become ``.tif``)."""
    stem = image.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    else:
        stem = image.stem
    return image.with_name(f"{safe_name(method)}_{stem}.tif")


def _read_psfs(args: argparse.Namespace, files: list[Path], spacing: tuple | None) -> list:
    psfs = []
    for path in files:
        array, meta = io.read(path)
        if meta.axes != "ZYX":
            raise CLIError(f"the PSF {path} has axes {meta.axes} {array.shape}: give one ZYX "
                           f"PSF file per channel (repeat --psf)")
        if spacing is not None and meta.spacing is not None and not np.allclose(
                meta.spacing, spacing, rtol=0.01):
            args.messages.warn(
                f"the PSF {path} has voxel size {_spacing_text(meta.spacing)} but the image "
                f"{_spacing_text(spacing)}: the PSF is used voxel for voxel; resample it or "
                f"compute one with --psf-model")
        psfs.append(array)
    return psfs


def _spacing_text(spacing: Any) -> str:
    return ", ".join(f"{v:g}" for v in spacing) + " µm"


def _prepare_psf(args: argparse.Namespace, psf: np.ndarray, label: str, planar: bool) -> np.ndarray:
    """Bring a PSF to the image's dimensionality and conventions, with a note for each change."""
    messages = args.messages
    if planar:
        if psf.shape[0] > 1:
            plane = int(np.unravel_index(int(np.argmax(psf)), psf.shape)[0])
            messages.note(f"the image is a single plane but {label} has {psf.shape[0]} planes: "
                          f"using its in-focus plane (z = {plane}, the plane of its peak)")
            psf = psf[plane]
        else:
            psf = psf[0]
    if any(n % 2 == 0 for n in psf.shape):
        messages.note(f"{label} has even sizes {psf.shape}: its centre is taken at voxel "
                      f"{tuple(n // 2 for n in psf.shape)} (n // 2)")
    total = float(psf.sum(dtype=np.float64))
    prepared = catalogue.check_psf(psf, psf.ndim)  # warns on clipping and recentring
    if total > 0 and abs(total - 1) > 1e-3 and not np.any(psf < 0):
        messages.note(f"{label} sums to {total:.6g}, not 1: normalized to sum 1")
    return prepared


def _memory_check(args: argparse.Namespace, plan: Any, layout: Any,
                  extra: int) -> dict[str, Any]:
    """Refuse a run whose estimate exceeds the memory available (or ``--memory-limit``),
    proposing a ``--tile-shape`` that fits."""
    spec = plan.method
    if layout is None:
        need = plan.memory() + extra
    else:
        parallel = 1 if (args.workers or args.scheduler) else max(1, min(os.cpu_count() or 1,
                                                                          len(layout)))
        need = parallel * plan.memory(layout.largest_region()) + extra
    if args.memory_limit is not None:
        if args.memory_limit <= 0:
            raise CLIError("--memory-limit must be a positive number of GB", EXIT_USAGE)
        limit, source = int(args.memory_limit * 1e9), "--memory-limit"
    else:
        limit, source = available_memory(), "available"
    record = {"estimate_bytes": need, "limit_bytes": limit, "limit_source": source}
    if limit is None:
        args.messages.note("the available memory is unknown on this system: no memory check "
                           f"(the run needs about {format_bytes(need)})")
        return record
    if need > limit:
        volume_shape, psf_shape = plan.image_shape, plan.psf.shape
        hints = []
        if layout is None:
            with contextlib.suppress(ValueError):
                fits = catalogue.tiling(plan, "auto", None, memory=max(limit - extra, 1))
                hints.append(f"--tile-shape {','.join(map(str, fits.tile_shape))} (tiles with "
                             f"a halo of {','.join(map(str, fits.overlap))}: about "
                             f"{format_bytes(plan.memory(fits.largest_region()) + extra)} each)")
        if plan.boundary != "periodic":
            periodic = catalogue.memory_estimate(volume_shape, psf_shape, spec.name, "periodic")
            hints.append(f"--boundary periodic (no padded margin: about "
                         f"{format_bytes(periodic + extra)})")
        hints.append(f"a smaller PSF (now {'x'.join(map(str, psf_shape))}; crop it, or "
                     f"--psf-shape for a model)")
        raise CLIError(
            f"not enough memory: {spec.name} on a {'x'.join(map(str, volume_shape))} volume "
            f"with a {'x'.join(map(str, psf_shape))} PSF ({plan.boundary} boundary) needs about "
            f"{format_bytes(need)}, but {format_bytes(limit)} is {source}; try "
            + "; ".join(hints), EXIT_MEMORY)
    return record


# -- the command --------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Check everything, deconvolve volume by volume, write the output and the sidecar."""
    started = time.perf_counter()
    args.runtime_rss = peak_memory()  # the interpreter and its imports, before any array
    messages = args.messages
    try:
        spec = catalogue.get(args.method)
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    params = method_parameters(spec, args)
    if args.views or args.channels_as_views:
        return _run_views(args, spec, params, started)
    if args.image is None:
        raise CLIError("no image: give IMAGE (deconvkit deconvolve IMAGE PSF), or --views "
                       "V1.tif V2.tif ... --psfs P1.tif P2.tif ...", EXIT_USAGE)
    files = ([args.psf_file] if args.psf_file else []) + list(args.psf)
    model = args.psf_model.replace("-", "_") if args.psf_model else None
    if model and files:
        raise CLIError("give a PSF file or --psf-model, not both", EXIT_USAGE)
    if not model and not files:
        raise CLIError("no PSF: give a PSF file (deconvkit deconvolve IMAGE PSF) or a model "
                       "(--psf-model gibson_lanni --na 1.4 --wavelength 0.52 --ni 1.515)",
                       EXIT_USAGE)
    if args.psf_shape and not model:
        raise CLIError("--psf-shape sizes a --psf-model PSF; crop a PSF file yourself",
                       EXIT_USAGE)
    if args.threads is not None and args.threads < 1:
        raise CLIError("--threads must be a positive number", EXIT_USAGE)
    spacing_option = parse_spacing(args.spacing)

    output = (args.output or default_output(args.image, spec.name)).expanduser()
    inputs = [args.image, *files] + ([args.reference] if args.reference else [])
    check_inputs({"image": args.image, "PSF": files, "reference": args.reference})
    to_zarr = io.is_zarr(output)
    if to_zarr:
        outputs: Any = ZarrOutput(output, overwrite=args.overwrite, inputs=inputs,
                                  resume=args.resume)
    else:
        if args.resume:
            raise CLIError("--resume finishes an OME-Zarr output (-o NAME.ome.zarr); a TIFF "
                           "output is written whole at the end", EXIT_USAGE)
        extra = [_psf_output(output)] if args.estimate_psf else []
        outputs = OutputFiles(output, overwrite=args.overwrite, inputs=inputs, extra=extra)
    sidecar = outputs.sidecar
    tiled = bool(args.tile_shape is not None or args.workers or args.scheduler or to_zarr
                 or io.is_zarr(args.image))
    if args.estimate_psf:
        if tiled:
            raise CLIError("--estimate-psf needs the whole volume: it cannot run with tiles "
                           "or an OME-Zarr output", EXIT_USAGE)
        if spec.name not in ("rl", "rl-accelerated"):
            raise CLIError(f"--estimate-psf alternates Richardson-Lucy object updates with PSF "
                           f"updates: use --method rl or rl-accelerated, not {spec.name}",
                           EXIT_USAGE)
        if args.estimate_psf == "zernike" and not model:
            raise CLIError("--estimate-psf zernike fits a PSF model's pupil: give --psf-model "
                           "(gibson_lanni or vectorial) with its optics", EXIT_USAGE)
    if args.workers is not None and args.workers < 1:
        raise CLIError("--workers must be a positive number", EXIT_USAGE)
    if args.fft == "fftw":
        from ..backend._fftw import require

        try:
            require()
        except ValueError as exc:
            raise CLIError(str(exc), EXIT_USAGE) from None

    # -- read the inputs (an OME-Zarr lazily: tiles are read as they are solved)
    image, meta = io.read_lazy(args.image)
    lazy = not isinstance(image, np.ndarray)
    if lazy:
        import dask.array as da

        image = da.from_array(image, chunks=image.chunks)
    volumes = list(io.iter_volumes(image, meta))
    if not lazy:
        for index, volume in volumes:
            if not np.any(volume):
                where = f" ({_label(index)})" if index else ""
                raise CLIError(f"{args.image}{where} is zero everywhere: there is nothing to "
                               f"deconvolve; check the file and its channels")
    spacing, spacing_source, spacing_known = resolve_spacing(
        meta, spacing_option, args.z_step, messages, args.image)
    outputs.check_space(OutputFiles.image_bytes(image.shape, args.dtype))
    truth = None
    if args.reference is not None:
        truth, _ = io.read(args.reference)
        if truth.shape != image.shape:
            raise CLIError(f"the reference {args.reference} has shape {truth.shape} but the "
                           f"image {image.shape}: they must match")
    channels = image.shape[meta.axes.index("C")] if "C" in meta.axes else 1
    planar = image.shape[-3] == 1

    # -- the PSFs, one per channel
    psf_start = time.perf_counter()
    if model:
        count = max(len(args.wavelength or [None]), len(args.excitation_wavelength or [None]))
        if count not in (1, channels):
            raise CLIError(f"--wavelength has {count} values but the image has {channels} "
                           f"channel(s): give one per channel, or one for all", EXIT_USAGE)
        psfs, psf_records = [], []
        for channel in range(count):
            options = model_options(args, model, channel)
            shape = tuple(args.psf_shape) if args.psf_shape else model_shape(
                image.shape[-3:], spacing, options["na"], options["wavelength"], options["ni"])
            if any(n < 1 or n % 2 == 0 for n in shape):
                raise CLIError(f"--psf-shape needs odd positive sizes, got {shape}", EXIT_USAGE)
            psfs.append(build_model(model, shape, spacing, options))
            psf_records.append({"model": model, "parameters": options, "shape": shape})
    else:
        if len(files) not in (1, channels):
            raise CLIError(f"{len(files)} PSF files for {channels} channels: give one PSF per "
                           f"channel (repeat --psf), or one for all", EXIT_USAGE)
        psfs = _read_psfs(args, files, spacing if spacing_source != "assumed" else None)
        psf_records = [{"path": str(p), "shape": a.shape} for p, a in zip(files, psfs)]
        psfs = [_clean_measured(args, p, f"the PSF {path}", record)
                for p, path, record in zip(psfs, files, psf_records)]
    psf_seconds = time.perf_counter() - psf_start
    labels = [f"the PSF {files[i]}" if files else f"the {model} PSF" for i in range(len(psfs))]
    psfs = [_prepare_psf(args, p, label, planar) for p, label in zip(psfs, labels)]
    run_spacing = spacing[1:] if planar else spacing

    # -- one plan per volume (the whole volume's decisions), checked before any work
    def plan_of(index: dict[str, int], volume: Any) -> Any:
        psf = psfs[index.get("C", 0) if len(psfs) > 1 else 0]
        data = volume[0] if planar else volume
        try:
            return catalogue.plan(data, psf, spec.name, backend=args.backend,
                                  spacing=run_spacing, **params), data
        except BackendError as exc:
            raise CLIError(str(exc), EXIT_USAGE) from None
        except ValueError as exc:  # the plan's one check of the data: say which file
            where = f" ({_label(index)})" if index else ""
            hint = (" (e.g. Fiji: Process > Math > Remove NaNs)" if "NaN" in str(exc) else "")
            raise CLIError(f"{args.image}{where}: {exc}{hint}") from None

    first_plan, first_data = plan_of(*volumes[0])
    for note in first_plan.notes:
        messages.note(note)
    extra = (0 if to_zarr else image.size * 4 * 2) + (truth.nbytes if truth is not None else 0)
    layout = None
    if tiled:
        layout = _tiling(args, first_plan, extra)
        messages.note(f"{len(layout)} tiles of {'x'.join(map(str, layout.tile_shape))} with a "
                      f"halo of {'x'.join(map(str, layout.overlap))} voxels")
    memory = _memory_check(args, first_plan, layout, extra)

    # -- deconvolve, volume by volume
    out = None if to_zarr else np.empty(image.shape, np.float32)
    target = outputs.create(image.shape, meta.axes, None if spacing_source == "assumed" else
                            spacing, layout.tile_shape if layout else image.shape[-3:],
                            name=args.image.name) if to_zarr else None
    run_key = _run_key(args, spec, params, psfs, layout, image.shape) if to_zarr else None
    records: list[dict[str, Any]] = []
    estimated: list[np.ndarray] = []
    parameters: dict[str, Any] = first_plan.record
    workers = _fft_workers(args.threads)
    with workers, (_fft_library(args.fft)):
        for number, (index, volume) in enumerate(volumes):
            if len(volumes) > 1:
                messages.note(f"volume {number + 1} of {len(volumes)} ({_label(index)})")
            chosen, data = (first_plan, first_data) if number == 0 else plan_of(index, volume)
            reference = None
            if truth is not None:
                reference = truth[tuple(index.values())]
                reference = reference[0] if planar else reference
            tick = time.perf_counter()
            if args.estimate_psf:
                result = _estimate_psf(args, model, chosen, data)
                values = result.x
                estimated.append(result.psf)
            elif layout is None:
                callbacks = []
                if args.progress > 0 and not args.quiet and spec.iterative:
                    callbacks.append(ProgressLine(every=args.progress))
                result = chosen.solve(ground_truth=reference, callbacks=callbacks)
                values = result.x
            else:
                leading = tuple(index.values())
                values = catalogue.solve_tiled(
                    chosen, data, layout, output=target, scheduler=args.scheduler,
                    workers=args.workers, resume=args.resume,
                    progress=not args.quiet, within=leading, run_key=run_key)
                result = _TiledResult(chosen, layout)
            seconds = time.perf_counter() - tick
            if out is not None:
                out[tuple(index.values())] = values
            parameters = result.parameters
            records.append(_volume_record(index, result, seconds, data, reference,
                                          None if out is None else out[tuple(index.values())]))

    # -- write the image and its sidecar together
    write_start = time.perf_counter()
    axes, array = meta.axes, out
    if planar and out is not None:
        axes, array = meta.axes.replace("Z", ""), out.reshape(
            tuple(n for a, n in zip(meta.axes, out.shape) if a != "Z"))
    shape_out = tuple(image.shape) if array is None else array.shape
    record = {
        "command": "deconvkit " + " ".join(args.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "method": spec.name,
        "parameters": {k: v for k, v in parameters.items() if k != "spacing"},
        "input": {"path": str(args.image), "shape": image.shape, "axes": meta.axes,
                  "dtype": meta.source_dtype, "flavor": meta.flavor},
        "psf": psf_records,
        "spacing": spacing_known,
        "spacing_used": spacing,
        "spacing_source": spacing_source,
        "unit": "µm",
        "output": {"path": str(output), "shape": shape_out, "axes": axes,
                   "dtype": "float32" if to_zarr else args.dtype},
        "volumes": records,
        "n_iter": max(r["n_iter"] for r in records),
        "stop_reason": records[0]["stop_reason"] if len(records) == 1 else
        [r["stop_reason"] for r in records],
        "threads": args.threads,
        "backend": first_plan.backend,
        "versions": versions(),
    }
    if layout is not None:
        record["tiles"] = {"tile_shape": layout.tile_shape, "overlap": layout.overlap,
                           "count": len(layout), "workers": args.workers,
                           "scheduler": args.scheduler}
    timings = {"psf": psf_seconds, "deconvolution": sum(r["seconds"] for r in records)}
    with outputs:  # the image and its sidecar appear together, or neither (the earlier kept)
        if not to_zarr:
            outputs.write_image(array, meta, spacing=None if spacing_source == "assumed"
                                else spacing, axes=axes, dtype=args.dtype)
        if estimated:  # one PSF per channel (the first time point's), as the channels' PSFs
            outputs.write_extra(outputs.extra[0], np.stack(estimated) if len(estimated) > 1
                                else estimated[0], spacing=None if spacing_source == "assumed"
                                else spacing, axes="CZYX" if len(estimated) > 1 else "ZYX")
        timings["write"] = time.perf_counter() - write_start
        timings["total"] = time.perf_counter() - started
        record["timings"] = timings
        record["memory"] = {**memory, "peak_rss_bytes": peak_memory(),
                            "runtime_rss_bytes": args.runtime_rss}
        outputs.publish(record)
    if not args.quiet:
        _summary(spec, parameters, record, output, sidecar)
    return 0


def _run_views(args: argparse.Namespace, spec: Any, params: dict, started: float) -> int:
    """Several views (files, or an image's channels) of one object into one image."""
    messages = args.messages
    if spec.name not in catalogue.VIEW_METHODS:
        raise CLIError(f"{spec.name} takes one view; for several views use --method one of "
                       f"{', '.join(catalogue.VIEW_METHODS)}", EXIT_USAGE)
    if args.views and args.channels_as_views:
        raise CLIError("give --views files or --channels-as-views with one IMAGE, not both",
                       EXIT_USAGE)
    if any(v is not None for v in (args.tile_shape, args.workers, args.scheduler)) or \
            args.estimate_psf:
        raise CLIError("several views are solved whole: --tile-shape, --workers, --scheduler "
                       "and --estimate-psf apply to one view", EXIT_USAGE)
    if args.subsets < 1:
        raise CLIError("--subsets must be a positive number", EXIT_USAGE)
    files = list(args.views or [args.image])
    if args.views and args.image is not None:
        files = [args.image, *files]  # IMAGE given too: it is the first view
    psf_files = list(args.psfs) + ([args.psf_file] if args.psf_file else []) + list(args.psf)
    if args.psf_model:
        raise CLIError("several views need measured PSFs, one per view (--psfs P1.tif ...)",
                       EXIT_USAGE)
    if not psf_files:
        raise CLIError("no PSFs: give one per view with --psfs P1.tif P2.tif ... (or one for "
                       "all)", EXIT_USAGE)
    output = (args.output or default_output(files[0], spec.name)).expanduser()
    check_inputs({"view": files, "PSF": psf_files, "reference": args.reference})
    outputs = OutputFiles(output, overwrite=args.overwrite,
                          inputs=[*files, *psf_files, args.reference])
    images, metas = [], []
    for path in files:
        image, meta = io.read(path)
        images.append(image)
        metas.append(meta)
    spacing_option = parse_spacing(args.spacing)
    spacing, spacing_source, spacing_known = resolve_spacing(
        metas[0], spacing_option, args.z_step, messages, files[0])
    if args.channels_as_views:
        meta = metas[0]
        if "C" not in meta.axes or "T" in meta.axes:
            raise CLIError(f"--channels-as-views needs a CZYX image; {files[0]} has axes "
                           f"{meta.axes}", EXIT_USAGE)
        views = [images[0][c] for c in range(images[0].shape[0])]
        axes = "ZYX"
    else:
        for path, image, meta in zip(files, images, metas):
            if meta.axes != "ZYX":
                raise CLIError(f"the view {path} has axes {meta.axes}: each view is one ZYX "
                               f"volume (or use --channels-as-views)", EXIT_USAGE)
            if spacing_option is None and meta.spacing is not None and not np.allclose(
                    meta.spacing, spacing, rtol=0.01):
                raise CLIError(f"the view {path} has voxel size {_spacing_text(meta.spacing)} but "
                               f"{files[0]} {_spacing_text(spacing)}: views must share one voxel "
                               f"size (resample them first)")
        views, axes = images, "ZYX"
    psfs = _read_psfs(args, psf_files, spacing if spacing_source != "assumed" else None)
    if len(psfs) not in (1, len(views)):
        raise CLIError(f"{len(psfs)} PSFs for {len(views)} views: give one PSF per view, or "
                       f"one for all", EXIT_USAGE)
    psfs = [_prepare_psf(args, p, f"the PSF {f}", False) for p, f in zip(psfs, psf_files)]
    truth = None
    if args.reference is not None:
        truth, _ = io.read(args.reference)
    tick = time.perf_counter()
    with _fft_workers(args.threads):
        try:
            result = catalogue.run(views, psfs if len(psfs) > 1 else psfs[0], spec.name,
                                   spacing=spacing, subsets=args.subsets, ground_truth=truth,
                                   **params)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    seconds = time.perf_counter() - tick
    record = {
        "command": "deconvkit " + " ".join(args.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "method": spec.name, "parameters": result.parameters,
        "views": [str(p) for p in files] if not args.channels_as_views else
        {"path": str(files[0]), "channels": len(views)},
        "psf": [{"path": str(p)} for p in psf_files], "spacing": spacing_known,
        "spacing_used": spacing, "spacing_source": spacing_source, "unit": "µm",
        "output": {"path": str(output), "shape": result.x.shape, "axes": axes,
                   "dtype": args.dtype},
        "n_iter": result.n_iter, "stop_reason": str(result.stop_reason),
        "timings": {"deconvolution": seconds}, "versions": versions(),
    }
    with outputs:
        outputs.write_image(result.x, None, spacing=None if spacing_source == "assumed"
                            else spacing, axes=axes, dtype=args.dtype)
        record["timings"]["total"] = time.perf_counter() - started
        record["memory"] = {"peak_rss_bytes": peak_memory(),
                            "runtime_rss_bytes": args.runtime_rss}
        outputs.publish(record)
    if not args.quiet:
        print(f"{len(views)} views, {spec.name}: {result.n_iter} iterations "
              f"({result.stop_reason}); {seconds:.2f} s\noutput  {output}, {outputs.sidecar}")
    return 0


def _psf_output(output: Path) -> Path:
    """``NAME_psf.tif`` beside ``NAME.tif`` (the estimated PSF)."""
    name = output.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return output.with_name(name[: -len(suffix)] + "_psf" + name[-len(suffix):])
    return output.with_name(name + "_psf.tif")


class _BlindResult:
    """A blind run's record in the shape of a solver's Result."""

    def __init__(self, plan: Any, found: Any) -> None:
        info = dict(found.info)
        self.x, self.psf = found.x, found.psf
        self.n_iter = int(info.get("n_iter", plan.max_iter or 0))
        self.stop_reason = str(info.get("stop_reason", "PSF estimated"))
        self.converged, self.diverged = False, bool(info.get("diverged", False))
        self.solver = f"blind ({plan.method.name})"
        self.history = {}
        self.parameters = {**plan.record, "psf_estimate": {
            "coefficients_rad": {str(j): float(v) for j, v in found.coefficients.items()},
            **{k: info[k] for k in ("coefficient_std", "identifiable", "messages",
                                     "axial_offset") if k in info}}}


def _estimate_psf(args: argparse.Namespace, model: str | None, plan: Any, data: Any) -> Any:
    """Object and PSF together (:func:`deconvkit.blind_deconvolve`) with the plan's decisions."""
    from ..blind import blind_deconvolve

    psf_model = None
    if model:
        options = model_options(args, model, 0)
        psf_model = {key: options[key] for key in ("na", "wavelength", "ni", "ns", "depth")
                     if options.get(key) is not None}
        psf_model["model"] = "vectorial" if model == "vectorial" else "scalar"
    found = blind_deconvolve(
        data, psf0=plan.psf, psf_model=psf_model, estimate=args.estimate_psf,
        method=plan.method.name, max_iter=plan.max_iter, spacing=plan.spacing,
        background=float(plan.background) if np.ndim(plan.background) == 0 else 0.0)
    for text in found.info.get("messages", []) or []:
        args.messages.note(f"PSF estimate: {text}")
    return _BlindResult(plan, found)


class _TiledResult:
    """What a tiled volume's record needs (the tiles share the plan's decisions)."""

    def __init__(self, plan: Any, layout: Any) -> None:
        self.parameters = plan.record
        self.n_iter = plan.max_iter or 0
        self.stop_reason = (f"{len(layout)} tiles, each {self.n_iter} iterations"
                            if plan.method.iterative else "closed form, tile by tile")
        self.converged, self.diverged, self.solver = False, False, plan.method.solver
        self.history: dict[str, list] = {}
        self.x = None


def _tiling(args: argparse.Namespace, plan: Any, extra: int) -> Any:
    """The tiles of a run, checked (one clear line for a bad shape or overlap)."""
    limit = int(args.memory_limit * 1e9) if args.memory_limit else available_memory()
    budget = None if limit is None else max(limit - extra, 1)
    overlap = None if args.overlap in (None, "auto") else args.overlap
    try:
        return catalogue.tiling(plan, args.tile_shape or "auto", overlap, memory=budget)
    except ValueError as exc:
        raise CLIError(f"--tile-shape/--overlap: {exc}", EXIT_USAGE) from None


def _run_key(args: argparse.Namespace, spec: Any, params: dict, psfs: list, layout: Any,
             shape: tuple) -> str:
    """One fingerprint of everything the output's tiles depend on, for --resume."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps({"method": spec.name, "params": repr(sorted(
        params.items())), "layout": repr(layout and (layout.tile_shape, layout.overlap)),
        "shape": list(shape), "input": str(args.image.resolve()),
        "backend": args.backend}, sort_keys=True).encode())
    for psf in psfs:
        digest.update(np.ascontiguousarray(psf).tobytes())
    return digest.hexdigest()


def _fft_library(name: str) -> Any:
    from ..backend import fft_library

    return fft_library(name)


def _clean_measured(args: argparse.Namespace, psf: np.ndarray, label: str,
                    record: dict) -> np.ndarray:
    """A raw measured PSF with a camera offset is cleaned as :func:`deconvkit.psf.prepare` does.

    A PSF whose border (the median of its faces) is above 1 % of its peak still
    carries its camera offset and background, which would otherwise count as PSF
    (for a real bead stack, most of the file's sum): they are subtracted, the
    peak recentred with sub-voxel accuracy, the edges tapered, with a note.
    """
    from ..psf import prepare
    from ..psf._prepare import shell_median

    if psf.ndim != 3 or min(psf.shape) < 3:
        return psf
    border, peak = shell_median(psf.astype(np.float64)), float(psf.max())
    if not (peak > 0 and border > 0.01 * peak):
        return psf
    cleaned = prepare(psf)
    args.messages.note(
        f"{label} looks raw (its border is {border / peak:.1%} of its peak: a camera offset "
        f"and background): cleaned as deconvkit.psf.prepare does (background subtracted, "
        f"peak recentred, edges tapered, shape {'x'.join(map(str, cleaned.shape))}); give a "
        f"prepared PSF (deconvkit psf --prepare) to skip this")
    record["cleaned"] = {"border_fraction": border / peak, "shape": cleaned.shape}
    return cleaned


def _label(index: dict[str, int]) -> str:
    return ", ".join(f"{axis}={value}" for axis, value in index.items())


def _volume_record(index: dict, result: Any, seconds: float, data: np.ndarray,
                   reference: np.ndarray | None, estimate: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index, "n_iter": result.n_iter, "stop_reason": str(result.stop_reason),
        "converged": result.converged, "diverged": result.diverged, "solver": result.solver,
        "seconds": seconds, "background": result.parameters.get("background"),
    }
    if reference is not None:
        entry["metrics_fit"] = "affine"  # every NRMSE and PSNR here is of a·x + b
        entry["nrmse_input"], entry["psnr_input"] = _fitted_metrics(data, reference)
        entry["nrmse"], entry["psnr"] = _fitted_metrics(
            result.x if estimate is None else estimate, reference)
        history = _history(result, reference)
        if history:
            entry["history"] = history
            finite = [(v, i) for i, v in zip(history["iteration"], history["nrmse"])
                      if v is not None]
            if finite:
                entry["best_nrmse"], entry["best_iteration"] = min(finite)
    return entry


def _fitted_metrics(estimate: Any, reference: np.ndarray) -> tuple[float, float]:
    r"""NRMSE and PSNR of the affinely fitted estimate :math:`a x + b` against :math:`g`.

    .. math:: \mathrm{NRMSE} = \frac{\lVert a x + b - g\rVert}{\lVert g\rVert}, \qquad
              \mathrm{PSNR} = 10 \log_{10} \frac{R^2}{\mathrm{MSE}(a x + b, g)}
              = 20 \log_{10} \frac{R \sqrt{N}}{\mathrm{NRMSE}\,\lVert g\rVert}

    with :math:`R = \max g - \min g`: both on one footing, so they never disagree on
    which estimate is better. NaN where undefined (a constant or zero reference).
    """
    error = _safe(metrics.nrmse, estimate, reference)
    return error, _psnr_from_nrmse(error, reference)


def _psnr_from_nrmse(error: float, reference: np.ndarray) -> float:
    """PSNR of the fitted estimate from its NRMSE (see :func:`_fitted_metrics`)."""
    g = np.asarray(reference, dtype=np.float64)
    span, norm = float(g.max() - g.min()), float(np.linalg.norm(g.ravel()))
    if not (math.isfinite(error) and span > 0 and norm > 0):
        return math.nan
    if error == 0:
        return math.inf
    return 20.0 * math.log10(span * math.sqrt(g.size) / (error * norm))


def _history(result: Any, reference: np.ndarray) -> dict[str, list]:
    """Per iteration, from the solver's history: iteration, NRMSE and PSNR of the fitted
    estimate (the history's ``nrmse`` is after the affine fit; its raw ``psnr`` is kept as
    ``psnr_raw``)."""
    history = getattr(result, "history", None) or {}
    if "nrmse" not in history or "iteration" not in history:
        return {}
    nrmse = [float(v) for v in history["nrmse"]]
    record = {"iteration": [int(i) for i in history["iteration"]], "nrmse": nrmse,
              "psnr": [_psnr_from_nrmse(v, reference) for v in nrmse]}
    if "psnr" in history:
        record["psnr_raw"] = [float(v) for v in history["psnr"]]
    return record


def _safe(metric: Any, estimate: Any, reference: Any) -> float:
    try:
        return float(metric(estimate, reference))
    except ValueError:
        return math.nan


def _fft_workers(threads: int | None) -> Any:
    """The FFTs on ``threads`` threads inside the ``with`` block (all cores for None)."""
    from ..operators import fft_workers

    return fft_workers(threads)


def _summary(spec: catalogue.Method, parameters: dict, record: dict, output: Path,
             sidecar: Path) -> None:
    own = [p.name for p in spec.parameters]
    shown = own + (["max_iter", "stop"] if spec.iterative else []) + ["boundary_used",
                                                                      "background"]
    values = ", ".join(f"{name.replace('_used', '')}={_short(parameters[name])}"
                       for name in shown if name in parameters)
    rows = [("method", f"{spec.name} ({values})")]
    image = record["input"]
    shape = "x".join(map(str, image["shape"]))
    voxel = _spacing_text(record["spacing_used"])
    rows.append(("input", (f"{image['path']} {shape} {image['axes']}, voxel {voxel} "
                          f"({record['spacing_source']})")))
    for volume in record["volumes"]:
        label = f"iterations {_label(volume['index'])}" if volume["index"] else "iterations"
        rows.append((label, f"{volume['n_iter']}: {volume['stop_reason']}"))
        if "nrmse" in volume:
            best = ""
            if "best_nrmse" in volume:
                best = f", best {volume['best_nrmse']:.4g} at iteration {volume['best_iteration']}"
            text = (f"NRMSE {volume['nrmse_input']:.4g} (input) -> {volume['nrmse']:.4g}{best}; "
                    f"PSNR {volume['psnr_input']:.2f} -> {volume['psnr']:.2f} dB (both of "
                    f"a·x + b, the affine fit)")
            rows.append(("  reference", text))
    timings, memory = record["timings"], record["memory"]
    total, work = timings["total"], timings["deconvolution"]
    rows.append(("time", f"{total:.2f} s (deconvolution {work:.2f} s)"))
    peak, estimate = format_bytes(memory["peak_rss_bytes"]), format_bytes(memory["estimate_bytes"])
    runtime = memory.get("runtime_rss_bytes")
    of_it = f"Python and its libraries {format_bytes(runtime)} of it; " if runtime else ""
    rows.append(("memory", f"peak {peak} ({of_it}the arrays' estimate {estimate})"))
    rows.append(("output", f"{output} ({record['output']['dtype']}), {sidecar}"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}", file=sys.stdout)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
