"""``deconvkit compare``: run a method-comparison study and write its report."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ._builtin import builtin_study, quick_study
from ._report import check_output, study_inputs, summary_markdown, write_report
from ._study import METRICS
from ._toml import load_study

__all__ = ["add_arguments", "run"]

DEFAULT_OUTPUT = "deconvkit-study"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``deconvkit compare``'s arguments to ``parser``."""
    parser.description = (
        "Compare deconvolution methods on cases with a known ground truth: every method "
        "with every grid point on every case, the best iteration read from the history, "
        "a table, figures and report.html. Without a study file, runs the built-in study "
        "(a 48x192x192 simulated widefield stack, five methods, about two minutes).")
    parser.add_argument("study", nargs="?", default=None,
                        help="a study as a TOML file (see docs/compare.md); "
                             "default: the built-in study")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                        help=f"folder to write (default: ./{DEFAULT_OUTPUT}); never replaced "
                             "without --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output folder if it is one deconvkit compare wrote "
                             "(its study.json says so and it holds nothing else) or is empty; "
                             "never the current or home folder, or one holding an input")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="worker processes running cases x methods in parallel (default 1; "
                             "the results are the same)")
    parser.add_argument("--metric", choices=tuple(METRICS), default=None,
                        help="metric choosing the best iteration and parameters "
                             "(default: the study's, nrmse)")
    parser.add_argument("--quick", action="store_true",
                        help="run a tiny built-in study (16x32x32, three methods, seconds)")
    parser.add_argument("--no-figures", action="store_true",
                        help="write the tables only")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Run the study ``args`` describe; print the summary and the report's path.

    Raises ValueError (bad study, bad option) or OSError (files, the output
    folder exists) with a one-line message.
    """
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    if args.quick and args.study is not None:
        raise ValueError("--quick runs the built-in tiny study; give either --quick or a "
                         "study file")
    if args.study is not None:
        study = load_study(args.study)
        inputs = [Path(args.study), *study_inputs(study)]
    else:
        study = quick_study() if args.quick else builtin_study()
        inputs = []
    output = check_output(args.output, args.overwrite, inputs)  # before any work
    if args.metric is not None:
        study.metric = args.metric
        study.__post_init__()
    earlier = output.exists()
    try:
        result = study.execute(jobs=args.jobs, progress=None if args.quiet else sys.stderr)
        notes = write_report(result, output, overwrite=args.overwrite,
                             figures=not args.no_figures)
    except BaseException as exc:  # say what is on disk: nothing new, the earlier folder kept
        if not hasattr(exc, "on_disk"):
            kept = f"; the earlier {output} is unchanged" if earlier else ""
            with contextlib.suppress(AttributeError, TypeError):
                exc.on_disk = f"nothing was written{kept}"  # type: ignore[attr-defined]
        raise
    try:
        print(summary_markdown(result, notes))
        print(f"report: {(output / 'report.html').resolve()}")
    except KeyboardInterrupt as exc:  # after the folder is in place: say so
        exc.on_disk = f"the study was written to {output}"  # type: ignore[attr-defined]
        raise
    return 0
