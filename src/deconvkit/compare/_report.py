"""The study's folder: results.csv, history.csv, summary.md, study.json, figures, report.html.

The folder is built in a hidden temporary folder beside the target and
renamed into place when complete, so an interrupted study leaves either
nothing or an earlier complete folder (moved aside and removed only after
the new one is in place, with ``overwrite``; the swap is two renames that
SIGINT, SIGTERM and SIGHUP cannot split, and a failed second rename puts the
earlier folder back).

``overwrite`` replaces only a folder that deconvkit wrote, as it wrote it:
its ``study.json`` carries ``"written_by": "deconvkit compare"`` and the list
of the files in the folder, and the folder holds nothing else (an empty
folder may be replaced too). Never, whatever it holds: a symbolic link, the
current folder, the home folder, or a folder that holds an input of the study
(at any depth), or any of their ancestors.
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..io._atomic import deferred_signals, fsync_folder
from ._cases import FileCase, case_summary
from ._figures import (
    MISSING_MATPLOTLIB,
    auto_weighted,
    criterion_text,
    draw_case_figures,
    figures_available,
    weight_caption,
)
from ._study import METRICS, Baseline, StudyResult

__all__ = ["RESULT_COLUMNS", "SIGNATURE", "check_output", "study_inputs", "summary_markdown",
           "write_report"]

#: Columns of results.csv, one row per case x method x grid point.
RESULT_COLUMNS = (
    "case", "method", "label", "parameters", "is_best", "rank", "best_iteration", "n_iter",
    "max_iter", "nrmse", "psnr", "ssim", "seconds", "seconds_to_best", "peak_memory_mib",
    "estimated_memory_mib", "stop_reason",
)

FILES = ("results.csv", "history.csv", "summary.md", "study.json", "report.html")
#: ``written_by`` in study.json: marks a folder deconvkit wrote (and may replace).
SIGNATURE = "deconvkit compare"
_MARKER = "study.json"
_MARKER_LIMIT = 10_000_000  # bytes: a study.json larger than this is not one of ours


def study_inputs(study: Any) -> list[Path]:
    """The files a study reads: each file case's image, PSF and ground truth."""
    found: list[Path] = []
    for case in getattr(study, "cases", ()):
        if isinstance(case, FileCase):
            found += [Path(getattr(case, key)) for key in ("image", "psf", "ground_truth")]
    return found


def check_output(output: str | os.PathLike[str], overwrite: bool,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The output folder, checked before any work.

    Refused: an existing path without ``overwrite``; with it, anything but a
    folder deconvkit wrote (see the module notes) or an empty folder, and
    always a symbolic link, the current folder, the home folder, and a folder
    that holds one of ``inputs`` (or is an ancestor of one of them); a path
    whose parent folder is missing or not a folder.
    """
    path = Path(output).expanduser()
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(
                f"{path} already exists (an earlier study?); choose another folder with -o or "
                "pass --overwrite to replace it")
        _check_replaceable(path, inputs)
    parent = path.absolute().parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} {what}")
    return path


def _protected(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, str]]:
    """Paths an output folder must never be, hold, or be an ancestor of, with their names."""
    found = []
    with contextlib.suppress(OSError):  # a current folder deleted meanwhile
        found.append((Path.cwd().resolve(), "the current folder"))
    with contextlib.suppress(KeyError, RuntimeError, OSError):  # no home (some containers)
        found.append((Path.home().resolve(), "the home folder"))
    for item in inputs:
        with_name = Path(item).expanduser()
        found.append((with_name.resolve(), f"the input {with_name}"))
    return found


def _check_replaceable(path: Path, inputs: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse to replace ``path`` unless it is a folder deconvkit wrote, or empty, and safe."""
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link: --overwrite replaces only a study "
                              "folder deconvkit wrote, never a link; choose another folder "
                              "with -o")
    if not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder; choose another with -o")
    target = path.resolve()
    for protected, name in _protected(inputs):
        if protected == target or target in protected.parents:
            where = "is" if protected == target else "holds"
            raise FileExistsError(f"refusing to replace {path}: it {where} {name}; --overwrite "
                                  "replaces only a study folder deconvkit wrote; choose "
                                  "another folder with -o")
    if not any(path.iterdir()):
        return  # an empty folder: nothing to lose
    extra = _not_written_by_us(path)
    if extra:
        raise FileExistsError(f"refusing to replace {path}: {extra}; --overwrite replaces only "
                              "a study folder as deconvkit wrote it; move your files out of "
                              "it or choose another folder with -o")


def _not_written_by_us(folder: Path) -> str | None:
    """Why ``folder`` is not a study folder as deconvkit wrote it (None if it is one)."""
    marker = folder / _MARKER
    try:
        if not marker.is_file() or marker.is_symlink() or \
                marker.stat().st_size > _MARKER_LIMIT:
            return f"it has no {_MARKER} written by deconvkit, so it is not a study folder"
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its {_MARKER} is not one deconvkit wrote"
    if not isinstance(document, dict):
        return f"its {_MARKER} is not one deconvkit wrote"
    if document.get("written_by") == SIGNATURE and isinstance(document.get("files"), list):
        listed = {str(name) for name in document["files"]}
    elif (isinstance(document.get("versions"), dict) and "deconvkit" in document["versions"]
          and {"cases", "methods", "runs"} <= set(document)):  # written before the signature
        listed = set(FILES) | {f"figures/{p.name}" for p in (folder / "figures").glob("*.png")}
    else:
        return f"its {_MARKER} was not written by deconvkit compare"
    strangers = []
    for root, folders, files in os.walk(folder):
        base = Path(root)
        for name in files + [f for f in folders if (base / f).is_symlink()]:
            relative = (base / name).relative_to(folder).as_posix()
            if relative not in listed or (base / name).is_symlink():
                strangers.append(relative)
    if strangers:
        shown = ", ".join(sorted(strangers)[:3]) + (", ..." if len(strangers) > 3 else "")
        return f"it holds files deconvkit did not write there ({shown})"
    return None


def write_report(result: StudyResult, output: str | os.PathLike[str], *,
                 overwrite: bool = False, figures: bool = True) -> list[str]:
    """Write the study's folder atomically; return the notes (e.g. figures skipped).

    Parameters
    ----------
    result : StudyResult
        From :meth:`Study.execute`.
    output : path
        The folder to create.
    overwrite : bool
        Replace an existing folder.
    figures : bool
        Draw the figures (needs matplotlib; skipped with a note otherwise).
    """
    inputs = study_inputs(result.study)
    target = check_output(output, overwrite, inputs)
    parent = target.absolute().parent
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=parent))
    try:
        notes: list[str] = []
        drawn: dict[str, list[Path]] = {}
        if not figures:
            notes.append("figures skipped (asked for)")
        elif not figures_available():
            notes.append(MISSING_MATPLOTLIB)
        else:
            (building / "figures").mkdir()
            for case in result.cases:
                drawn[case.name] = [p.relative_to(building) for p in
                                    draw_case_figures(result, case, building / "figures")]
        _write_results_csv(result, building / "results.csv")
        _write_history_csv(result, building / "history.csv")
        (building / "summary.md").write_text(summary_markdown(result, notes), encoding="utf-8")
        (building / "report.html").write_text(_html(result, drawn, notes), encoding="utf-8")
        files = sorted(p.relative_to(building).as_posix() for p in building.rglob("*")
                       if p.is_file()) + [_MARKER]
        (building / _MARKER).write_text(json.dumps(_definition(result, sorted(files)), indent=2)
                                        + "\n", encoding="utf-8")
        building.chmod(0o755)
        _publish(building, target, overwrite, inputs)
    except _KeptResults:
        raise
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return notes


class _KeptResults(FileExistsError):
    """The target changed while the study ran: the new results were kept under another name."""


def _publish(building: Path, target: Path, overwrite: bool,
             inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Rename the finished folder into place, moving an earlier one aside first.

    The target is checked again (it may have changed during a long study); if it
    can no longer be replaced, the new results are renamed to a visible folder
    beside it and the error names that folder. The renames run with SIGINT,
    SIGTERM and SIGHUP held back, and a failed second rename puts the earlier
    folder back, so the target is always the earlier folder or the new one.
    """
    with deferred_signals():
        try:
            if os.path.lexists(target):
                if not overwrite:
                    raise FileExistsError(f"{target} appeared while the study ran")
                _check_replaceable(target, inputs)
        except FileExistsError as problem:
            kept = _keep_results(building, target)
            error = _KeptResults(f"{problem}; the new results are in {kept}")
            error.on_disk = f"{target} is unchanged"  # type: ignore[attr-defined]
            raise error from None
        if not os.path.lexists(target):
            os.replace(building, target)
            fsync_folder(target.parent)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=building.parent))
        os.replace(target, old / target.name)
        try:
            os.replace(building, target)
        except BaseException:
            os.replace(old / target.name, target)
            os.rmdir(old)
            raise
        fsync_folder(target.parent)
        shutil.rmtree(old, ignore_errors=True)


def _keep_results(building: Path, target: Path) -> Path:
    """Rename the hidden, finished folder to a visible one beside ``target``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(100):
        kept = target.with_name(f"{target.name}-{stamp}" + (f"-{number}" if number else ""))
        if not os.path.lexists(kept):
            try:
                os.rename(building, kept)
            except OSError:
                continue
            return kept
    return building


def _number(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}g}"


def _ranks(result: StudyResult) -> dict[int, int]:
    """Rank (1 = best) of each method's best run among the methods, per case."""
    ranks: dict[int, int] = {}
    for case in result.cases:
        for rank, record in enumerate(result.best(case.name), start=1):
            ranks[id(record)] = rank
    return ranks


def _write_results_csv(result: StudyResult, path: Path) -> None:
    ranks = _ranks(result)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(RESULT_COLUMNS)
        for case in result.cases:
            b = result.baselines[case.name]
            writer.writerow([case.name, "observation", "observation", "raw data", False, "",
                             "", "", "", repr(b.nrmse), repr(b.psnr), repr(b.ssim),
                             "", "", "", "", ""])
        for r in result.records:
            writer.writerow([
                r.case, r.method, r.label, r.parameter_text, id(r) in ranks,
                ranks.get(id(r), ""), r.best_iteration, r.n_iter, r.max_iter, repr(r.nrmse),
                repr(r.psnr), repr(r.ssim), f"{r.seconds:.4f}", f"{r.seconds_to_best:.4f}",
                f"{r.peak_memory_mib:.2f}", f"{r.estimated_memory_mib:.2f}", r.stop_reason])


def _write_history_csv(result: StudyResult, path: Path) -> None:
    keys = ["iteration", "time", "nrmse", "psnr"] + (["ssim"] if result.study.metric == "ssim"
                                                      else [])
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["case", "label", "parameters", *keys])
        for r in result.records:
            for row in zip(*(r.history[k] for k in keys)):
                writer.writerow([r.case, r.label, r.parameter_text, *map(repr, row)])


def _table_rows(result: StudyResult, case: str) -> list[list[str]]:
    rows = []
    rank = 0
    for row in result.ranking(case):
        if isinstance(row, Baseline):
            rows.append(["", "observation (raw data)", "", "", _number(row.nrmse),
                         _number(row.psnr), _number(row.ssim), "", "", ""])
            continue
        rank += 1
        where = f"{row.best_iteration} / {row.n_iter}" if row.iterative else "closed form"
        rows.append([str(rank), row.label, row.point_text, where, _number(row.nrmse),
                     _number(row.psnr), _number(row.ssim), _number(row.seconds_to_best, 3),
                     _number(row.seconds, 3), f"{row.peak_memory_mib:.0f}"])
    return rows


HEADER = ["rank", "method", "best parameters", "best iteration", "NRMSE", "PSNR (dB)", "SSIM",
          "time to best (s)", "run time (s)", "peak memory (MiB)"]


def summary_markdown(result: StudyResult, notes: list[str] = ()) -> str:
    """The summary: per case, each method's best run and the raw observation, best first."""
    metric = result.study.metric
    order = "lowest" if METRICS[metric] else "highest"
    lines = [f"# {result.study.name}", "",
             (f"Best iteration and parameters of each method by **{metric}** ({order} first). "
              "NRMSE after the affine fit a·x + b; PSNR of the raw estimate; SSIM after the "
              "affine fit. Peak memory: tracemalloc's peak during the run."), ""]
    for case in result.cases:
        lines += [f"## {case.describe()}", "",
                  "| " + " | ".join(HEADER) + " |",
                  "|" + "|".join("---:" if i != 1 and i != 2 else "---"
                                 for i in range(len(HEADER))) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in _table_rows(result, case.name)]
        lines.append("")
        weighted = auto_weighted(result, case.name)
        if weighted:
            lines += ["Automatic weights: " + "; ".join(
                f"{r.label} ({r.point_text}) by {criterion_text(r.auto_weight)}"
                + (", at the end of the search range" if r.auto_weight.get("at_edge") else "")
                for r in weighted) + ".", ""]
    lines.append(f"{len(result.records)} runs in {result.seconds:.1f} s with "
                 f"{result.jobs} process{'es' if result.jobs != 1 else ''}.")
    for note in notes:
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def _definition(result: StudyResult, files: list[str] = ()) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return {
        "written_by": SIGNATURE,
        "files": list(files),
        "name": result.study.name,
        "metric": result.study.metric,
        "record_every": result.study.record_every,
        "cases": [case_summary(c) for c in result.study.cases],
        "methods": [{"label": g.label, "method": g.method,
                     "grid": {k: list(v) for k, v in g.grid.items()},
                     "params": dict(g.params)} for g in result.study.methods],
        "runs": len(result.records),
        "seconds": round(result.seconds, 3),
        "jobs": result.jobs,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     **{n: installed(n) for n in ("deconvkit", "scipy", "pylops",
                                                  "matplotlib")}},
        "platform": platform.platform(),
    }


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;font-size:0.9em;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(2),td:nth-child(3),
th{text-align:left}tr.baseline{background:#f3f3f3;font-style:italic}img{max-width:100%;
margin:0.5em 0}code{background:#f3f3f3;padding:0 3px}.note{color:#a40}"""


def _html(result: StudyResult, drawn: dict[str, list[Path]], notes: list[str]) -> str:
    e = html.escape
    study = result.study
    order = "lowest" if METRICS[study.metric] else "highest"
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
              f"{e(study.name)}</title><style>{CSS}</style></head><body><h1>{e(study.name)}</h1>"),
             (f"<p>{len(result.records)} runs ({len(result.cases)} case(s) × "
             f"{len(study.methods)} methods) in {result.seconds:.1f} s with {result.jobs} "
             f"process(es). Best iteration and parameters by <b>{e(study.metric)}</b> "
             f"({order} first). Files: <a href='results.csv'>results.csv</a> (every run), "
             "<a href='history.csv'>history.csv</a> (every iteration), "
             "<a href='summary.md'>summary.md</a>, <a href='study.json'>study.json</a> "
             "(the definition and versions).</p>"),
             "<h2>Methods</h2><ul>"]
    parts += [f"<li><code>{e(g.describe())}</code></li>" for g in study.methods]
    parts.append("</ul>")
    parts += [f"<p class='note'>{e(n)}</p>" for n in notes]
    captions = {
        "projections": "Maximum-intensity projections (XY, XZ, YZ, true aspect ratio) of the "
                       "ground truth, the observation and each method's best estimate.",
        "sections": "Orthogonal sections through a bead.",
        "convergence": "The metric against iteration and wall time for every run.",
        "spectrum": "Radially averaged power spectra (lateral, axial) and their ratio to the "
                    "truth's; dashed: the OTF support (what the microscope transmits).",
        "profile": "Line profiles through a bead, laterally and axially.",
    }
    for case in result.cases:
        parts.append(f"<h2>{e(case.describe())}</h2><table><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in HEADER) + "</tr>")
        for row in _table_rows(result, case.name):
            cls = " class='baseline'" if row[1].startswith("observation") else ""
            parts.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
        for path in drawn.get(case.name, []):
            kind = path.stem.rsplit("-", 1)[-1]
            caption = (weight_caption(auto_weighted(result, case.name)) if kind == "weights"
                       else captions.get(kind, ""))
            parts.append(f"<p>{e(caption)}</p>"
                         f"<img src='{e(path.as_posix())}' alt='{e(kind)}'>")
    parts.append("<h2>How to read this</h2><p>NRMSE is ‖a·x + b − g‖/‖g‖ after the "
                 "least-squares affine fit (scale and offset are not errors); PSNR is "
                 "10·log10(R²/MSE) of the raw estimate, R the truth's range; SSIM is computed "
                 "after the same affine fit (3D, Gaussian window σ = 1.5 voxels). Peak memory is "
                 "tracemalloc's peak of the arrays allocated during the run; the estimate column "
                 "of results.csv is deconvkit.methods.memory_estimate for comparison.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)

