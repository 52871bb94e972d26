"""``deconvkit compare ...``: wired to :mod:`deconvkit.compare._command`, imported when used."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import FORMATTER, CLIError

__all__ = ["add_parser"]

_MODULE = "deconvkit.compare._command"


def add_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``compare`` as a stub: its options come from the compare module at run time.

    The stub takes no options of its own (not even ``--help``), so every
    argument after ``compare`` reaches the compare module's parser, and
    ``deconvkit --help`` works even where that module is missing.
    """
    parser = subparsers.add_parser(
        "compare", add_help=False, help="compare methods on one data set (see deconvkit "
        "compare --help)", description="Compare deconvolution methods.")
    parser.set_defaults(handler=run_command, takes_extra=True)


def run_command(args: argparse.Namespace) -> int:
    """Import the compare module, parse the remaining arguments with its options, run it."""
    try:
        from ..compare import _command
    except ImportError as exc:
        if exc.name not in ("deconvkit.compare", _MODULE):
            raise  # a bug inside the module, not a missing one
        raise CLIError(f"the compare command is not available in this installation "
                       f"({_MODULE} is missing)") from None
    parser = argparse.ArgumentParser(
        prog="deconvkit compare", formatter_class=FORMATTER,
        description="Compare deconvolution methods on one data set.")
    _command.add_arguments(parser)
    options = parser.parse_args(args.extra)
    for name in ("debug", "quiet", "messages", "argv"):
        if not hasattr(options, name):
            setattr(options, name, getattr(args, name))
    return int(_command.run(options) or 0)
