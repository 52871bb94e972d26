"""``deconvkit psf MODEL ...`` (a theoretical PSF to a TIFF) and ``deconvkit psf describe FILE``.

The model options (``--na``, ``--wavelength``, ``--ni``, ...) and the sizing
rule for a PSF that fits an image are shared with ``deconvkit deconvolve
--psf-model``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .. import psf as psf_models
from ..psf import suggest_shape
from ._common import (
    EXIT_USAGE,
    FORMATTER,
    CLIError,
    check_output,
    parse_spacing,
    place_file,
    versions,
    write_sidecar_atomically,
)

__all__ = [
    "MODELS",
    "add_model_options",
    "add_parser",
    "build_model",
    "model_options",
    "model_shape",
]

#: Model name -> (function, the command-line options it takes beyond --na, --wavelength, --ni).
MODELS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...]]] = {
    "gaussian": (psf_models.gaussian, ()),
    "born_wolf": (psf_models.born_wolf, ()),
    "gibson_lanni": (psf_models.gibson_lanni, ("ns", "depth")),
    "vectorial": (psf_models.vectorial, ("ns", "depth")),
    "confocal": (psf_models.confocal, ("ns", "depth", "excitation_wavelength", "pinhole")),
}
_OPTIONAL = ("ns", "depth", "excitation_wavelength", "pinhole")


def _model_name(text: str) -> str:
    name = text.lower().replace("-", "_")
    if name not in MODELS:
        raise argparse.ArgumentTypeError(
            f"unknown PSF model {text!r}; choose one of {', '.join(MODELS)}")
    return name


def add_model_options(parser: argparse.ArgumentParser, per_channel: bool) -> None:
    """The physical options of the PSF models (µm for lengths)."""
    many = "+" if per_channel else None
    each = " (one per channel, or one for all)" if per_channel else ""
    group = parser.add_argument_group("PSF model (lengths in µm)")
    group.add_argument("--na", type=float, help="numerical aperture of the objective, e.g. 1.4")
    group.add_argument("--wavelength", type=float, nargs=many, metavar="UM",
                       help=f"emission wavelength in vacuum, µm, e.g. 0.52{each}")
    group.add_argument("--ni", type=float,
                       help="refractive index of the immersion medium, e.g. 1.515 (oil)")
    group.add_argument("--ns", type=float,
                       help="refractive index of the sample (gibson_lanni, vectorial, confocal; "
                            "default: --ni, no mismatch)")
    group.add_argument("--depth", type=float,
                       help="depth of the focal plane below the coverslip, µm (gibson_lanni, "
                            "vectorial, confocal; default 0)")
    group.add_argument("--excitation-wavelength", type=float, nargs=many, metavar="UM",
                       help=f"confocal: excitation wavelength, µm (default: the emission "
                            f"wavelength){each}")
    group.add_argument("--pinhole", type=float,
                       help="confocal: pinhole diameter in Airy units (default 1)")


def model_options(args: argparse.Namespace, model: str, channel: int = 0) -> dict[str, Any]:
    """The keyword arguments of ``model`` from the options, for one channel; refuse the rest."""
    missing = [f"--{name}" for name in ("na", "wavelength", "ni") if getattr(args, name) is None]
    if missing:
        raise CLIError(f"the {model} PSF model needs {', '.join(missing)} (e.g. --na 1.4 "
                       f"--wavelength 0.52 --ni 1.515)", EXIT_USAGE)
    takes = MODELS[model][1]
    refused = [f"--{n.replace('_', '-')}" for n in _OPTIONAL
               if getattr(args, n) is not None and n not in takes]
    if refused:
        raise CLIError(f"the {model} PSF model takes no {', '.join(refused)}; models that do: "
                       f"{', '.join(m for m, (_, t) in MODELS.items() if t)}", EXIT_USAGE)

    def pick(value: Any) -> Any:
        if isinstance(value, list):
            return value[channel] if len(value) > 1 else value[0]
        return value

    options = {"na": args.na, "wavelength": pick(args.wavelength), "ni": args.ni}
    for name in takes:
        value = pick(getattr(args, name))
        if value is not None:
            options[name] = value
    return options


def build_model(model: str, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                options: dict[str, Any]) -> np.ndarray:
    """The model PSF (float32, ZYX, sum 1)."""
    function = MODELS[model][0]
    return function(shape, spacing, **options)


def model_shape(image_shape: tuple[int, ...], spacing: tuple[float, float, float],
                na: float, wavelength: float, ni: float) -> tuple[int, int, int]:
    """:func:`deconvkit.psf.suggest_shape` (kept under its command-line name)."""
    return suggest_shape(image_shape, spacing, na, wavelength, ni)


# -- the subcommand -----------------------------------------------------------------------

_EPILOG = """\
examples:
  deconvkit psf gibson_lanni --na 1.4 --wavelength 0.52 --ni 1.515 --ns 1.33 --depth 5 \\
      --shape 63 127 127 --spacing 0.2 0.065 0.065 -o psf.tif
  deconvkit psf gaussian --na 1.2 --wavelength 0.6 --ni 1.33 --shape 21 31 31 \\
      --spacing 0.2 0.1 0.1 -o gauss.tif
  deconvkit psf describe psf.tif
  deconvkit psf describe bead.tif --spacing 0.2 0.1 0.1

The file is an ImageJ float32 stack with its voxel size, normalized to sum 1,
with a sidecar PSF.json holding the model and its parameters.
"""


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``psf`` and its own subcommands (one per model, and ``describe``)."""
    parser = subparsers.add_parser(
        "psf", help="compute a theoretical PSF, or describe a PSF file",
        description="Compute a theoretical PSF to a TIFF file, or measure one (describe).",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    models = parser.add_subparsers(dest="psf_command", metavar="MODEL|describe")
    models.required = True
    for name, (function, _) in MODELS.items():
        summary = (function.__doc__ or "").strip().splitlines()[0]
        sub = models.add_parser(
            name, aliases=[name.replace("_", "-")] if "_" in name else [],
            help=summary, description=f"{name}: {summary}", epilog=_EPILOG,
            formatter_class=FORMATTER, parents=[parent])
        add_model_options(sub, per_channel=False)
        sub.add_argument("--shape", type=int, nargs=3, required=True, metavar=("NZ", "NY", "NX"),
                         help="odd sizes of the PSF, e.g. 63 127 127")
        sub.add_argument("--spacing", type=float, nargs=3, required=True,
                         metavar=("DZ", "DY", "DX"), help="voxel size in µm, e.g. 0.2 0.1 0.1")
        sub.add_argument("-o", "--output", type=Path,
                         help=f"output TIFF (default psf_{name}.tif in the current folder)")
        sub.add_argument("--overwrite", action="store_true", help="replace an existing output")
        sub.set_defaults(handler=_run_model, psf_model=name)
    describe = models.add_parser(
        "describe", help="widths, peak position, focal-plane energy and OTF support of a PSF",
        description="Measure a PSF: FWHM (µm), peak position, focal-plane energy, OTF support.",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    describe.add_argument("file", type=Path, help="the PSF as a TIFF stack")
    describe.add_argument("--spacing", type=float, nargs=3, metavar=("DZ", "DY", "DX"),
                          help="voxel size in µm (default: from the file)")
    describe.set_defaults(handler=_run_describe)


def _run_model(args: argparse.Namespace) -> int:
    model = args.psf_model
    spacing = parse_spacing(args.spacing)
    shape = tuple(args.shape)
    if any(n < 1 or n % 2 == 0 for n in shape):
        raise CLIError(f"--shape needs odd positive sizes (the centre voxel is the focus); got "
                       f"{' '.join(map(str, shape))}", EXIT_USAGE)
    options = model_options(args, model)
    output = (args.output or Path(f"psf_{model}.tif")).expanduser()
    sidecar = output.with_suffix(".json")
    check_output(output, args.overwrite, [])
    check_output(sidecar, args.overwrite, [], "sidecar file")
    start = time.perf_counter()
    psf = build_model(model, shape, spacing, options)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    record = {"model": model, "parameters": options, "shape": shape, "spacing": spacing,
              "unit": "µm", "seconds": seconds, "versions": versions()}
    temporary = write_sidecar_atomically(sidecar, record, args.overwrite)
    try:
        io.write(output, psf, spacing=spacing, axes="ZYX", overwrite=args.overwrite)
        place_file(temporary, sidecar, args.overwrite)
    finally:
        temporary.unlink(missing_ok=True)
    if not args.quiet:
        print(psf_models.describe(psf, spacing))
        print(f"wrote {output} ({' x '.join(map(str, shape))}, float32, {seconds:.2f} s) "
              f"and {sidecar}")
    return 0


def _run_describe(args: argparse.Namespace) -> int:
    array, meta = io.read(args.file)
    spacing = parse_spacing(args.spacing) or meta.spacing
    if spacing is None:
        args.messages.warn(f"{args.file} gives no voxel size and --spacing is missing: assuming "
                           f"1 µm, so the widths below are in voxels")
        spacing = (1.0, 1.0, 1.0)
    for index, volume in io.iter_volumes(array, meta):
        if index:
            print(", ".join(f"{k}={v}" for k, v in index.items()))
        print(psf_models.describe(volume, spacing))
    return 0
