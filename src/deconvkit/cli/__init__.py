"""The ``deconvkit`` command: ``deconvolve``, ``psf``, ``methods``, ``info``, ``compare``.

``main(argv)`` parses the arguments, runs the subcommand and returns the exit
status: 0 on success, 1 on an error (bad input, failed read or write), 2 on
bad options (argparse's code, an unknown method or parameter), 3 when the
memory check refuses a run, 130 on Ctrl-C, 143 on SIGTERM (129 on SIGHUP):
the signals are handled alike, the run stops, its temporaries are removed and
one line says what is on disk. Every expected error is one line on stderr
(``deconvkit: error: ...``), ending with what is on disk when the command had
begun writing its outputs; ``--debug`` adds the traceback.
Warnings from the library are shown as ``deconvkit: warning: ...`` lines.
See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from . import _output
from ._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    FORMATTER,
    CLIError,
    Messages,
    common_parent,
)

__all__ = ["build_parser", "main"]

_EPILOG = """\
examples:
  deconvkit deconvolve cells.tif psf.tif --method rl --iter 100
  deconvkit deconvolve cells.tif --psf-model gibson_lanni --na 1.4 --wavelength 0.52 \\
      --ni 1.515 --ns 1.33 --depth 5
  deconvkit psf born_wolf --na 1.4 --wavelength 0.52 --ni 1.515 --shape 31 65 65 \\
      --spacing 0.2 0.1 0.1 -o psf.tif
  deconvkit methods rltv
  deconvkit info cells.tif

`deconvkit COMMAND --help` shows each command's options and examples.
exit codes: 0 done, 1 error, 2 bad options, 3 not enough memory, 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM; 129 SIGHUP).
"""


def _version() -> str:
    import numpy
    import scipy

    from .. import __version__

    return f"deconvkit {__version__} (numpy {numpy.__version__}, scipy {scipy.__version__})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deconvkit`` command, with every subcommand."""
    from . import _compare, _deconvolve, _info, _methods, _psf, _resolution

    parser = argparse.ArgumentParser(
        prog="deconvkit", description="3D deconvolution microscopy from the command line.",
        epilog=_EPILOG, formatter_class=FORMATTER)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show full tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_parent()
    _deconvolve.add_parser(subparsers, parent)
    _psf.add_parser(subparsers, parent)
    _methods.add_parser(subparsers, parent)
    _info.add_parser(subparsers, parent)
    _compare.add_parser(subparsers, parent)
    _resolution.add_parser(subparsers, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deconvkit`` command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 1 error; 2 bad options; 3 not enough memory; 130 interrupted
        (SIGINT); 143 terminated (SIGTERM); 129 hung up (SIGHUP).
    """
    _output.forget()
    with _output.signals_as_interrupts():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if extra and not getattr(args, "takes_extra", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, and argparse's usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, False)
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    args.extra, args.argv = extra, argv
    args.messages = Messages(args.quiet)
    debug = args.debug
    try:
        with warnings.catch_warnings(), args.messages.weight_search():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.handler(args))
    except SystemExit as exc:  # a subcommand's own parser (compare)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, debug)
    except CLIError as exc:
        _error(_with_disk(str(exc), exc), debug)
        return exc.code
    except (ValueError, OSError, MemoryError) as exc:  # io.ImageReadError is a ValueError
        _error(_with_disk(_describe(exc), exc), debug)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, the traceback with --debug
        _error(_with_disk(f"unexpected {type(exc).__name__}: {exc} (a bug in deconvkit? rerun "
                          f"with --debug and report the traceback)", exc), debug)
        return EXIT_ERROR


def _interrupted(exc: KeyboardInterrupt, debug: bool) -> int:
    """One line for Ctrl-C, SIGTERM or SIGHUP: what stopped the run and what is on disk."""
    if isinstance(exc, _output.Terminated):
        what, code = f"terminated by {exc.name}", exc.exit_code
    else:
        what, code = "interrupted", EXIT_INTERRUPTED
    where = getattr(exc, "on_disk", None) or _output.on_disk()
    with contextlib.suppress(KeyboardInterrupt):
        _error(f"{what}: {where}", debug)
    return code


def _with_disk(text: str, exc: BaseException) -> str:
    """The error, then what is on disk if the command had begun writing its outputs."""
    where = getattr(exc, "on_disk", None) or (_output.on_disk() if _output.started() else None)
    return f"{text.rstrip('.; ')}; {where}" if where else text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return ("out of memory during the run; try --boundary periodic, a smaller PSF or a "
                "smaller image")
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in str(exc.args):
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc)


def _error(text: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"deconvkit: error: {' '.join(text.split())}", file=sys.stderr, flush=True)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    print(f"deconvkit: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
