"""``deconvkit info IMAGE``: what a file holds, and the memory deconvolving it needs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .. import methods as catalogue
from ._common import EXIT_USAGE, FORMATTER, CLIError, available_memory, format_bytes, parse_spacing
from ._psf import model_shape

__all__ = ["add_parser"]

_EPILOG = """\
examples:
  deconvkit info cells.tif                     # memory for every method, model-sized PSF
  deconvkit info cells.tif --psf psf.tif --method rl
  deconvkit info cells.tif --psf-shape 31 65 65 --boundary periodic

Without --psf or --psf-shape the PSF is assumed sized as `deconvolve
--psf-model` would size it for NA 1.4, 0.52 µm, oil (ni 1.515).
"""


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``info`` subcommand."""
    boundary = next(p for p in catalogue.COMMON if p.name == "boundary")
    parser = subparsers.add_parser(
        "info", help="shape, axes, voxel size, intensities and memory needs of an image",
        description="Describe an image and estimate the memory deconvolving it needs.",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    parser.add_argument("image", type=Path, help="a TIFF image")
    psf = parser.add_mutually_exclusive_group()
    psf.add_argument("--psf", type=Path, help="the PSF file (its size sets the estimate)")
    psf.add_argument("--psf-shape", type=int, nargs=3, metavar=("NZ", "NY", "NX"),
                     help="the PSF's size for the estimate")
    parser.add_argument("-m", "--method", help="estimate for this method only")
    parser.add_argument("--boundary", choices=boundary.choices, default=boundary.default,
                        help=f"boundary model of the estimate (default {boundary.default})")
    parser.add_argument("--spacing", type=float, nargs=3, metavar=("DZ", "DY", "DX"),
                        help="voxel size in µm, overriding the file's")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Print the description and the memory table."""
    specs = list(catalogue.available().values())
    if args.method is not None:
        try:
            specs = [catalogue.get(args.method)]
        except ValueError as exc:
            raise CLIError(str(exc), EXIT_USAGE) from None
    image, meta = io.read(args.image)
    spacing = parse_spacing(args.spacing)
    source = "option" if spacing else "file"
    if spacing is None:
        spacing = meta.spacing
    if spacing is None:
        source = "not in the file: deconvolve assumes 1 µm unless --spacing is given"
    rows = [
        ("file", f"{args.image} ({meta.flavor} TIFF)"),
        ("shape", f"{image.shape}, axes {meta.axes}"),
        ("dtype", f"{meta.source_dtype} in the file (read as float32)"),
        ("voxel size", (", ".join(f"{v:g}" for v in spacing) + f" µm ({source})")
         if spacing is not None else f"unknown ({source})"),
    ]
    for index, volume in io.iter_volumes(image, meta):
        label = "intensity" + (" " + ", ".join(f"{k}={v}" for k, v in index.items())
                               if index else "")
        finite = volume[np.isfinite(volume)]
        bad = volume.size - finite.size
        if finite.size == 0:
            rows.append((label, "no finite values"))
            continue
        text = (f"min {finite.min():.6g}, max {finite.max():.6g}, mean {finite.mean():.6g}, "
                f"background (1st percentile) {np.percentile(finite, 1):.6g}")
        if bad:
            text += f"; {bad} NaN/Inf values (deconvolve refuses them)"
        if not np.any(finite):
            text += "; zero everywhere"
        rows.append((label, text))

    planar = image.shape[-3] == 1
    if args.psf is not None:
        psf, _ = io.read(args.psf)
        psf_shape, psf_source = tuple(psf.shape[-3:]), f"{args.psf}"
    elif args.psf_shape is not None:
        psf_shape, psf_source = tuple(args.psf_shape), "--psf-shape"
    else:
        psf_shape = model_shape(image.shape[-3:], spacing or (1.0, 1.0, 1.0), 1.4, 0.52, 1.515)
        psf_source = "model-sized for NA 1.4, 0.52 µm"
    volume_shape = image.shape[-3:]
    if planar:
        volume_shape, psf_shape = volume_shape[1:], psf_shape[1:]
    volumes = int(np.prod(image.shape[:-3], dtype=np.int64)) if image.ndim > 3 else 1
    rows.append(("PSF for the estimate", f"{'x'.join(map(str, psf_shape))} ({psf_source})"))
    rows.append(("volumes", f"{volumes} (deconvolved one at a time)"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")

    extra = 2 * image.nbytes
    print(f"\nmemory to deconvolve ({args.boundary} boundary; input and output stacks "
          f"included, {format_bytes(extra)}):")
    for spec in specs:
        boundary = args.boundary
        if not spec.iterative and boundary == "extended":
            boundary = "reflect"
        need = catalogue.memory_estimate(volume_shape, psf_shape, spec.name, boundary) + extra
        print(f"  {spec.name:<16} {format_bytes(need):>10}")
    print(f"available now: {format_bytes(available_memory())}")
    return 0
