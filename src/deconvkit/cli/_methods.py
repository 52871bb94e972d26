"""``deconvkit methods [NAME]``: the catalogue, printed from the registry."""

from __future__ import annotations

import argparse
from typing import Any

from .. import methods as catalogue
from ._common import EXIT_USAGE, FORMATTER, CLIError

__all__ = ["add_parser"]

_EPILOG = """\
examples:
  deconvkit methods            # every method, its parameters and defaults
  deconvkit methods rltv       # one method (DeconvolutionLab2's names and aliases work)

Set a parameter with --param NAME=VALUE on `deconvkit deconvolve`; the weight
(lam, nsr or epsilon) also with --lambda.
"""


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``methods`` subcommand."""
    parser = subparsers.add_parser(
        "methods", help="list the deconvolution methods with their parameters and defaults",
        description="The catalogue of methods, with parameters, defaults and ranges.",
        epilog=_EPILOG, formatter_class=FORMATTER, parents=[parent])
    parser.add_argument("name", nargs="?", help="one method")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Print the registry's description of one method or of all."""
    from ._deconvolve import weight_name

    if args.name is not None:
        try:
            spec = catalogue.get(args.name)
        except ValueError as exc:
            raise CLIError(str(exc), EXIT_USAGE) from None
        print(catalogue.describe(spec.name))
        weight = weight_name(spec)
        print(f"    --lambda sets: {weight}" if weight else "    --lambda: none (no weight)")
        kind = "iterative: takes --max-iter, --stop, --clip-negative" if spec.iterative else \
            "closed form: one FFT division, no iterations"
        print(f"    {kind}")
        return 0
    print(catalogue.describe())
    by_weight: dict[str, list[str]] = {}
    for name, spec in catalogue.available().items():
        by_weight.setdefault(weight_name(spec) or "-", []).append(name)
    print("--lambda sets:")
    for weight, names in by_weight.items():
        target = "nothing (refused)" if weight == "-" else weight
        print(f"    {target}: {', '.join(names)}")
    return 0
