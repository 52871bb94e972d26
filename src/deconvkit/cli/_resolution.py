"""``deconvkit resolution IMAGE [IMAGE2]``: lateral and axial resolution (µm) without a ground truth.

Two images of the same field give the Fourier ring/shell correlation; one image
is measured by decorrelation analysis, a checkerboard split or binomial thinning
(:mod:`deconvkit.metrics`). The figures are printed; ``-o plot.png`` draws the
curves, written atomically and never over an existing file without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from .. import io, metrics
from ._common import EXIT_USAGE, FORMATTER, CLIError, check_output, parse_spacing, place_file

__all__ = ["add_parser", "run_command"]

_EPILOG = """\
examples:
  deconvkit resolution cells.tif                         # decorrelation analysis of one image
  deconvkit resolution take1.tif take2.tif -o frc.png    # FSC of two acquisitions, and its plot
  deconvkit resolution cells.tif --method thinning --gain 2.1 --offset 100
  deconvkit resolution cells.tif --method checkerboard --threshold half-bit
  deconvkit resolution plane.tif --spacing 1 0.065 0.065

Lateral (YX) and axial (Z) figures in µm; axial only for stacks of 8 planes or
more. "or finer (the sampling limit)": the curve never fell below the threshold.
"none": the images share no signal above noise. See docs/resolution.md.
"""

_SINGLE = {"checkerboard", "thinning", "decorrelation"}


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``resolution`` subcommand."""
    parser = subparsers.add_parser(
        "resolution", help="lateral and axial resolution (µm) of an image, without ground truth",
        description="Measure the resolution of an image (FRC/FSC, decorrelation, single-image "
                    "splits), lateral and axial, in µm.",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    parser.add_argument("image", type=Path, help="a TIFF image (ZYX stack or YX plane)")
    parser.add_argument("image2", type=Path, nargs="?",
                        help="a second acquisition of the same field, with independent noise "
                             "(for --method frc)")
    parser.add_argument("-m", "--method", choices=metrics.METHODS,
                        help="frc (two images), decorrelation, checkerboard or thinning (one "
                             "image); default frc with two images, decorrelation with one")
    parser.add_argument("--threshold", choices=metrics.THRESHOLDS, default=None,
                        help="FRC threshold: 1/7 (default) or half-bit")
    parser.add_argument("--direction", choices=(*metrics.DIRECTIONS, "both"),
                        help="measure only this direction (default: lateral, and axial when "
                             "the stack has at least 8 planes)")
    parser.add_argument("--spacing", type=float, nargs=3, metavar=("DZ", "DY", "DX"),
                        help="voxel size in µm, overriding the file's")
    thinning = parser.add_argument_group("thinning (photon counts = (image - offset) / gain)")
    thinning.add_argument("--gain", type=float, help="camera gain, ADU per photon (default 1)")
    thinning.add_argument("--offset", type=float, help="camera offset, ADU (default 0)")
    thinning.add_argument("--seed", type=int, help="seed of the random split (default 0)")
    parser.add_argument("-o", "--output", type=Path,
                        help="write the curves to this figure (.png, .pdf, .svg, ...)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    parser.set_defaults(handler=run_command)


def _options(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    method = args.method or ("frc" if args.image2 is not None else "decorrelation")
    if method == "frc" and args.image2 is None:
        raise CLIError("--method frc needs two images of the same field (IMAGE IMAGE2) with "
                       "independent noise; for one image use --method decorrelation, "
                       "checkerboard or thinning", EXIT_USAGE)
    if method in _SINGLE and args.image2 is not None:
        raise CLIError(f"--method {method} measures one image; drop IMAGE2, or use --method frc "
                       f"to correlate the two", EXIT_USAGE)
    options: dict[str, Any] = {}
    if args.threshold is not None:
        if method == "decorrelation":
            raise CLIError("--threshold applies to frc, checkerboard and thinning, not to "
                           "decorrelation", EXIT_USAGE)
        options["threshold"] = args.threshold
    given = [f"--{name}" for name in ("gain", "offset", "seed") if getattr(args, name) is not None]
    if given and method != "thinning":
        raise CLIError(f"{' '.join(given)}: only --method thinning takes --gain, --offset and "
                       f"--seed", EXIT_USAGE)
    if method == "thinning":
        options.update(gain=1.0 if args.gain is None else args.gain,
                       offset=0.0 if args.offset is None else args.offset,
                       seed=0 if args.seed is None else args.seed)
    if args.direction is not None:
        options["directions"] = metrics.DIRECTIONS if args.direction == "both" else args.direction
    return method, options


def _figure_format(path: Path) -> str:
    """The matplotlib format of ``path``'s suffix, or a clear error."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise CLIError("writing the plot (-o) needs matplotlib; install it with: pip install "
                       "deconvkit[plot]") from None
    kind = path.suffix.lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if kind not in supported:
        raise CLIError(f"cannot draw a figure as {path.name!r}: give -o a name ending in "
                       f"{', '.join('.' + k for k in sorted(supported))}", EXIT_USAGE)
    return kind


def _write_figure(results: list[tuple[str, metrics.Resolution]], path: Path, kind: str,
                  overwrite: bool) -> None:
    """Draw one row of panels per volume into a temporary file, then move it into place."""
    from matplotlib.figure import Figure

    columns = max(len(result.curves) for _, result in results)
    figure = Figure(figsize=(4.5 * columns, 3.6 * len(results)), layout="constrained")
    grid = figure.subplots(len(results), columns, squeeze=False)
    for row, (label, result) in zip(grid, results):
        result.plot(row[: len(result.curves)])
        for ax in row[len(result.curves):]:
            ax.set_visible(False)
        if label:
            row[0].set_title(f"{label}  {row[0].get_title()}", fontsize="medium")
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as handle:
        temporary = Path(handle.name)
    try:
        figure.savefig(temporary, format=kind)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        place_file(temporary, path, overwrite)
    finally:
        temporary.unlink(missing_ok=True)


def run_command(args: argparse.Namespace) -> int:
    """Measure, print the figures, and draw them with ``-o``."""
    method, options = _options(args)
    inputs = [p for p in (args.image, args.image2) if p is not None]
    output = kind = None
    if args.output is not None:
        output = args.output.expanduser()
        kind = _figure_format(output)
        check_output(output, args.overwrite, inputs, "plot file")
    image, meta = io.read(args.image)
    second = None
    if args.image2 is not None:
        second, meta2 = io.read(args.image2)
        if second.shape != image.shape or meta2.axes != meta.axes:
            raise CLIError(f"the images differ in shape: {args.image} is {image.shape} "
                           f"({meta.axes}) and {args.image2} is {second.shape} ({meta2.axes}); "
                           f"give two acquisitions of the same field")
    spacing = parse_spacing(args.spacing) or meta.spacing
    if spacing is None:
        args.messages.warn(f"{args.image} gives no voxel size and --spacing is missing: "
                           f"assuming 1 µm, so the figures below are in voxels")
        spacing = (1.0, 1.0, 1.0)
    results = []
    pairs = io.iter_volumes(image, meta)
    others = io.iter_volumes(second, meta) if second is not None else None
    for index, volume in pairs:
        other = next(others)[1] if others is not None else None
        label = ", ".join(f"{k}={v}" for k, v in index.items())
        result = metrics.estimate_resolution(volume, other, spacing=spacing, method=method,
                                             **options)
        names = " and ".join(str(p) for p in inputs)
        print(f"{names}{f' ({label})' if label else ''}: {result}")
        results.append((label, result))
    if output is not None:
        _write_figure(results, output, kind, args.overwrite)
        args.messages.note(f"wrote {output}")
    return 0
