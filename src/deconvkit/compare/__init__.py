"""Method-comparison studies (``deconvkit.compare``).

A :class:`Study` runs every method of a list (each a :class:`MethodGrid`:
a method of the catalogue and a grid of parameter values) on every case (a
:class:`SimulatedCase`, a :class:`FileCase` or a :class:`Case` of arrays,
each with its ground truth). Iterative methods run once to ``max_iter`` and
their metric is read at every iteration from the solver's history, so the
best iteration is known without rerunning; a callback keeps the best image.
The best parameters of each method are chosen by NRMSE (default), PSNR or
SSIM.

>>> from deconvkit.compare import builtin_study
>>> study = builtin_study()
>>> result = study.run("deconvkit-study", jobs=2)  # doctest: +SKIP

The folder holds ``results.csv`` (one row per run), ``history.csv`` (one
row per iteration), ``summary.md``, ``study.json``, ``figures/`` and
``report.html``. From the command line: ``deconvkit compare [study.toml]``
(or ``python -m deconvkit.compare``). Studies in TOML: :func:`load_study`.
See ``docs/compare.md``.

This is a top layer: it imports :mod:`deconvkit.methods`, ``simulate``,
``psf``, ``metrics`` and ``io``; matplotlib only when drawing.
"""

from ._analysis import RadialSpectrum, find_bead, otf_support, radial_spectra
from ._builtin import builtin_study, quick_study
from ._cases import Case, FileCase, SimulatedCase
from ._figures import figures_available
from ._grid import MethodGrid, format_parameters, log_range
from ._report import check_output, summary_markdown, write_report
from ._study import METRICS, Baseline, RunRecord, Study, StudyResult, fitted, fitted_ssim
from ._toml import load_study, study_from_dict

__all__ = [
    "METRICS",
    "Baseline",
    "Case",
    "FileCase",
    "MethodGrid",
    "RadialSpectrum",
    "RunRecord",
    "SimulatedCase",
    "Study",
    "StudyResult",
    "builtin_study",
    "check_output",
    "figures_available",
    "find_bead",
    "fitted",
    "fitted_ssim",
    "format_parameters",
    "load_study",
    "log_range",
    "otf_support",
    "quick_study",
    "radial_spectra",
    "study_from_dict",
    "summary_markdown",
    "write_report",
]
