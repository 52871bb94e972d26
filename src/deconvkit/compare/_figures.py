"""The study's figures, with matplotlib (an optional dependency: ``deconvkit[plot]``).

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas, never through pyplot, so no window opens and no global state changes.
Every estimate is shown on the ground truth's scale, :math:`a x + b` with the
affine fit that NRMSE uses, so one colour range serves every panel of a row.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ._analysis import find_bead, orthogonal_views, otf_support, radial_spectra
from ._cases import Case, slug
from ._grid import format_parameters
from ._study import RunRecord, StudyResult, fitted

__all__ = ["MISSING_MATPLOTLIB", "auto_weighted", "criterion_text", "draw_case_figures",
           "figures_available", "weight_caption"]

#: What a study says when it cannot draw.
MISSING_MATPLOTLIB = ("figures skipped: matplotlib is not installed; install it with "
                      "pip install 'deconvkit[plot]' (or pip install matplotlib) and rerun")

DPI = 90
TRUTH_COLOR, OBSERVATION_COLOR = "black", "0.55"


def figures_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        return False
    return True


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _colors(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    return {label: palette[i % len(palette)] for i, label in enumerate(labels)}


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def auto_weighted(result: StudyResult, case: str) -> list[RunRecord]:
    """The runs of ``case`` whose weight was chosen automatically (``lam="auto"``), in order."""
    return [r for r in result.records if r.case == case and r.auto_weight is not None]


def criterion_text(choice: dict[str, Any]) -> str:
    """``weighted GCV, ω = 2`` (``GCV`` for ω = 1): the criterion a weight was chosen by."""
    criterion, omega = str(choice.get("criterion", "criterion")), choice.get("omega")
    if omega is None or criterion != "GCV":
        return criterion
    return "GCV" if omega == 1 else f"weighted GCV, ω = {omega:g}"


def weight_caption(records: list[RunRecord]) -> str:
    """One sentence on the runs' automatic weights: the criterion and the chosen values."""
    chosen = []
    for record in records:
        choice = record.auto_weight or {}
        edge = ", at the end of the search range" if choice.get("at_edge") else ""
        chosen.append(f"{record.label}: {choice['parameter']} = {choice['value']:.3g} "
                      f"({criterion_text(choice)}{edge})")
    return ("The criterion against the weight λ (log axis) that chose it, one line per run "
            "with an automatic weight; the dot is the chosen value. Chosen: "
            + "; ".join(chosen) + ".")


def draw_case_figures(result: StudyResult, case: Case, folder: Path) -> list[Path]:
    """Draw the figures of one case into ``folder``; return their paths.

    Five always; a sixth, the weight-choice curves, when a run of the case had its
    weight chosen automatically.
    """
    best = result.best(case.name)
    colors = _colors([grid.label for grid in result.study.methods])
    name = slug(case.name)
    shown = [r for r in best if r.image is not None]
    columns = [("ground truth", case.ground_truth),
               ("observation", fitted(case.image, case.ground_truth))]
    columns += [(r.label, fitted(r.image, case.ground_truth)) for r in shown]
    margin = tuple(max(2, min(n // 4, p // 2)) for n, p in zip(case.image.shape, case.psf.shape))
    bead = find_bead(case.ground_truth, margin)
    paths = [
        _save(_views(columns, case, None), folder / f"{name}-projections.png"),
        _save(_views(columns, case, bead), folder / f"{name}-sections.png"),
        _save(_convergence(result, case, best, colors), folder / f"{name}-convergence.png"),
        _save(_spectra(case, columns, colors), folder / f"{name}-spectrum.png"),
        _save(_profiles(case, columns, colors, bead), folder / f"{name}-profile.png"),
    ]
    weighted = auto_weighted(result, case.name)
    if weighted:
        paths.append(_save(_weight_curves(case, weighted, colors), folder / f"{name}-weights.png"))
    return paths


def _views(columns: list[tuple[str, np.ndarray]], case: Case,
           at: tuple[int, int, int] | None):
    """Rows XY, XZ, YZ; a column per image; true aspect ratio from the spacing."""
    nz, ny, nx = case.image.shape
    dz, dy, dx = case.spacing
    extent_z, extent_y, extent_x = nz * dz, ny * dy, nx * dx
    width = 1.45
    heights = [extent_y / extent_x, extent_z / extent_x, extent_z / extent_y]
    figure = _new_figure(width * len(columns), width * sum(heights) + 0.7)
    grid = figure.add_gridspec(3, len(columns), height_ratios=heights, hspace=0.08, wspace=0.04)
    truth_views = orthogonal_views(case.ground_truth, at)
    extents = [(0, extent_x, extent_y, 0), (0, extent_x, extent_z, 0), (0, extent_y, extent_z, 0)]
    names = ["XY", "XZ", "YZ"]
    for j, (title, volume) in enumerate(columns):
        for i, view in enumerate(orthogonal_views(volume, at)):
            axes = figure.add_subplot(grid[i, j])
            high = float(np.percentile(truth_views[i], 99.5)) or float(truth_views[i].max())
            axes.imshow(view, cmap="magma", vmin=0.0, vmax=high, extent=extents[i],
                        aspect="equal", interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if i == 0:
                axes.set_title(title, fontsize=8)
            if j == 0:
                axes.set_ylabel(names[i], fontsize=8)
    if at is None:
        what = "maximum-intensity projections"
    else:
        what = f"sections through the bead at voxel (z, y, x) = {at}"
    figure.suptitle(f"{case.name}: {what} (each estimate as a x + b fitted to the truth; "
                    f"µm scale, {dz:g} x {dy:g} x {dx:g} µm voxels)", fontsize=9)
    return figure


def _convergence(result: StudyResult, case: Case, best: list[RunRecord],
                 colors: dict[str, Any]):
    """The study's metric against iteration and against wall time, every run."""
    metric = result.study.metric
    baseline = result.baselines[case.name].value(metric)
    figure = _new_figure(10.5, 3.8)
    by_iteration, by_time = figure.subplots(1, 2)
    chosen = {id(r) for r in best}
    for record in (r for r in result.records if r.case == case.name):
        color = colors[record.label]
        is_best = id(record) in chosen
        label = f"{record.label} ({record.point_text})" if is_best else None
        values = np.asarray(record.history[metric], dtype=float)
        times = np.asarray(record.history["time"], dtype=float)
        style = {"color": color, "lw": 1.6 if is_best else 0.8, "alpha": 1.0 if is_best else 0.4}
        if record.iterative:
            by_iteration.plot(record.history["iteration"], values, label=label, **style)
            by_time.plot(np.maximum(times, 1e-3), values, **style)
            if is_best:
                row = record.history["iteration"].index(record.best_iteration)
                by_iteration.plot(record.best_iteration, values[row], "o", color=color, ms=4)
                by_time.plot(max(times[row], 1e-3), values[row], "o", color=color, ms=4)
        else:
            by_iteration.axhline(values[-1], ls=":", label=f"{label} [closed form]"
                                 if label else None, **style)
            by_time.plot(max(record.seconds, 1e-3), values[-1], "s", color=color,
                         alpha=style["alpha"], ms=5)
    for axes in (by_iteration, by_time):
        axes.axhline(baseline, color=OBSERVATION_COLOR, ls="--", lw=1)
        axes.set_ylabel(metric.upper() + (" (lower is better)" if metric == "nrmse"
                                          else " (higher is better)"))
        axes.grid(alpha=0.3)
    by_iteration.plot([], [], color=OBSERVATION_COLOR, ls="--", label="observation")
    by_iteration.set_xlabel("iteration")
    by_time.set_xlabel("wall time (s)")
    by_time.set_xscale("log")
    by_iteration.legend(fontsize=7, loc="best")
    figure.suptitle(f"{case.name}: {metric} per iteration (thin lines: the other grid points; "
                    "dots: the best iteration)", fontsize=9)
    figure.tight_layout()
    return figure


def _weight_curves(case: Case, records: list[RunRecord], colors: dict[str, Any]):
    """Each automatic weight's criterion against λ (log-log), the chosen λ as a dot.

    A risk estimate (PURE) is unbiased, so it can fall below 0 near its minimum: then the
    criterion's axis is symmetric-logarithmic (linear about 0) and its points are all drawn.
    """
    figure = _new_figure(6.4, 3.8)
    axes = figure.subplots()
    labels = [r.label for r in records]
    styles = ("-", "--", "-.", ":")
    drawn: list[np.ndarray] = []
    for index, record in enumerate(records):
        choice = record.auto_weight or {}
        grid = np.asarray(choice.get("grid", ()), dtype=float)
        scores = np.asarray(choice.get("scores", ()), dtype=float)
        signed = choice.get("criterion") == "PURE"
        # ∞ beyond a criterion's pole; a signed risk is drawn below 0 too
        shown = np.isfinite(scores) & (grid > 0) & ((scores > 0) | signed)
        drawn.append(scores[shown])
        others = {k: v for k, v in record.point.items() if k != choice["parameter"]}
        name = record.label if labels.count(record.label) == 1 else (
            f"{record.label} ({format_parameters(others)})")
        color = colors.get(record.label, "C0")
        axes.plot(grid[shown], scores[shown], color=color, lw=1.4,
                  ls=styles[index % len(styles)],
                  label=f"{name}: {choice['parameter']} = {choice['value']:.3g} "
                        f"({criterion_text(choice)})")
        on_grid = np.flatnonzero(shown & np.isclose(grid, choice["value"], rtol=1e-9, atol=0))
        if on_grid.size:  # the dot on the drawn line
            axes.plot(choice["value"], scores[on_grid[0]], "o", color=color, ms=6,
                      mec="black", mew=0.6)
        elif shown.sum() >= 2 and not signed:  # linear in log-log between points
            at = 10.0 ** np.interp(math.log10(choice["value"]), np.log10(grid[shown]),
                                   np.log10(scores[shown]))
            axes.plot(choice["value"], at, "o", color=color, ms=6, mec="black", mew=0.6)
        axes.axvline(choice["value"], color=color, lw=0.7, ls=":")
    axes.set_xscale("log")
    values = np.concatenate(drawn) if drawn else np.empty(0)
    if values.size and values.min() <= 0:
        small = np.abs(values[values != 0])
        axes.set_yscale("symlog", linthresh=float(small.min()) if small.size else 1.0)
    else:
        axes.set_yscale("log")
    axes.set_xlabel("weight λ (lam, or nsr for wif)")
    axes.set_ylabel("criterion (lower is better)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7, loc="best")
    figure.suptitle(f"{case.name}: the automatic weights' criterion against λ "
                    "(dots: the chosen λ)", fontsize=9)
    figure.tight_layout()
    return figure


def _spectra(case: Case, columns: list[tuple[str, np.ndarray]], colors: dict[str, Any]):
    """Lateral and axial power spectra, and their ratio to the truth's, with the OTF support."""
    lateral_cut, axial_cut = otf_support(case.psf, case.spacing, case.image.shape)
    spectra = [(title, radial_spectra(volume, case.spacing)) for title, volume in columns]
    truth = spectra[0][1]
    figure = _new_figure(10.5, 6.2)
    axes = figure.subplots(2, 2, sharex="col")
    for title, spectrum in spectra:
        color = (TRUTH_COLOR if title == "ground truth" else
                 OBSERVATION_COLOR if title == "observation" else colors[title])
        for col, (k, power, reference) in enumerate(
                [(spectrum.lateral_frequency, spectrum.lateral, truth.lateral),
                 (spectrum.axial_frequency, spectrum.axial, truth.axial)]):
            axes[0, col].semilogy(k[1:], power[1:], color=color, lw=1.2, label=title)
            ratio = power[1:] / np.maximum(reference[1:], 1e-30)
            axes[1, col].semilogy(k[1:], ratio, color=color, lw=1.2)
    for col, (cut, what) in enumerate([(lateral_cut, "lateral"), (axial_cut, "axial")]):
        for row in range(2):
            axes[row, col].axvline(cut, color="tab:green", ls="--", lw=1)
            axes[row, col].grid(alpha=0.3, which="both")
        axes[0, col].set_title(f"{what} (OTF support up to {cut:.2f} cycles/µm, dashed)",
                               fontsize=9)
        axes[1, col].axhline(1.0, color=TRUTH_COLOR, lw=0.8)
        axes[1, col].set_xlabel(f"{what} frequency (cycles/µm)")
    axes[0, 0].set_ylabel("mean power |F(v)|²")
    axes[1, 0].set_ylabel("power / truth's power")
    axes[1, 0].set_ylim(1e-4, 1e2)
    axes[1, 1].set_ylim(1e-4, 1e2)
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(f"{case.name}: radially averaged spectra (1 on the lower plots: the "
                    "frequency is restored at the truth's strength)", fontsize=9)
    figure.tight_layout()
    return figure


def _profiles(case: Case, columns: list[tuple[str, np.ndarray]], colors: dict[str, Any],
              bead: tuple[int, int, int]):
    """Line profiles through a bead along X and along Z."""
    z, y, x = bead
    dz, _, dx = case.spacing
    half_x = max(3, math.ceil(1.0 / dx))
    half_z = max(3, math.ceil(2.0 / dz))
    xs = np.arange(max(x - half_x, 0), min(x + half_x + 1, case.image.shape[2]))
    zs = np.arange(max(z - half_z, 0), min(z + half_z + 1, case.image.shape[0]))
    figure = _new_figure(10.5, 3.6)
    lateral, axial = figure.subplots(1, 2)
    for title, volume in columns:
        color = (TRUTH_COLOR if title == "ground truth" else
                 OBSERVATION_COLOR if title == "observation" else colors[title])
        style = {"color": color, "label": title, "lw": 1.3}
        if title == "ground truth":
            lateral.step((xs - x) * dx, volume[z, y, xs], where="mid", **style)
            axial.step((zs - z) * dz, volume[zs, y, x], where="mid", **style)
        else:
            lateral.plot((xs - x) * dx, volume[z, y, xs], **style)
            axial.plot((zs - z) * dz, volume[zs, y, x], **style)
    lateral.set_xlabel("x from the bead (µm)")
    axial.set_xlabel("z from the bead (µm)")
    lateral.set_ylabel("intensity (truth's scale)")
    for axes in (lateral, axial):
        axes.grid(alpha=0.3)
    lateral.legend(fontsize=7)
    figure.suptitle(f"{case.name}: profiles through the bead at voxel (z, y, x) = {bead}",
                    fontsize=9)
    figure.tight_layout()
    return figure
