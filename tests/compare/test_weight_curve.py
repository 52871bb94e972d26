"""Automatic weights in a study: the criterion's curve drawn per case, the choice in the tables."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from deconvkit import methods
from deconvkit.compare import MethodGrid, Study, load_study
from deconvkit.compare._figures import criterion_text

pytest.importorskip("matplotlib")

RL = MethodGrid("rl", params={"max_iter": 4})


@pytest.fixture(scope="module")
def auto_study(tmp_path_factory, tiny_case):
    folder = tmp_path_factory.mktemp("auto") / "out"
    result = Study([tiny_case], [MethodGrid("trif", params={"lam": "auto"}), RL],
                   name="auto").run(folder)
    return folder, result


def test_the_weight_figure_is_drawn_and_shown_with_its_caption(auto_study):
    folder, result = auto_study
    trif = next(r for r in result.records if r.label == "trif")
    assert (folder / "figures" / "tiny-weights.png").stat().st_size > 0
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "<img src='figures/tiny-weights.png' alt='weights'>" in report
    chosen = f"{trif.auto_weight['value']:.3g}"
    # the caption names the criterion and the chosen value, just before the image
    caption = report.split("<img src='figures/tiny-weights.png'")[0].rsplit("<p>", 1)[1]
    assert "weighted GCV, ω = 2" in caption and f"lam = {chosen}" in caption
    # next to the case's other figures
    assert report.index("figures/tiny-profile.png") < report.index("figures/tiny-weights.png")
    assert "tiny-weights.png" in (folder / "study.json").read_text(encoding="utf-8")


def test_the_record_holds_the_plans_choice_at_the_curves_minimum(auto_study, tiny_case):
    _, result = auto_study
    trif, rl = result.records
    assert rl.auto_weight is None
    choice = trif.auto_weight
    chosen = methods.plan(tiny_case.image, tiny_case.psf, "trif", lam="auto",
                          spacing=tiny_case.spacing, background=tiny_case.background)
    assert choice["parameter"] == "lam" and choice["value"] == chosen.values["lam"]
    assert choice["value"] == chosen.weight_choice.value
    assert choice["grid"] == list(chosen.weight_choice.grid)
    assert choice["scores"] == list(chosen.weight_choice.scores)
    assert choice["criterion"] == "GCV" and choice["omega"] == 2.0 and not choice["at_edge"]
    assert all(type(v) is float for v in choice["grid"] + choice["scores"])
    grid, scores = np.array(choice["grid"]), np.array(choice["scores"])
    assert len(grid) == len(scores) > 10 and np.all(np.diff(grid) > 0)
    best = int(np.nanargmin(scores))
    assert 0 < best < len(grid) - 1  # an interior minimum, refined between its neighbours
    assert grid[best - 1] <= choice["value"] <= grid[best + 1]


def test_the_chosen_weight_is_in_the_tables(auto_study):
    folder, result = auto_study
    trif = next(r for r in result.records if r.label == "trif")
    shown = f"lam=auto → {trif.auto_weight['value']:.3g}"
    assert trif.point_text == shown and trif.parameter_text == shown
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    row = next(line for line in summary.splitlines() if line.startswith("|") and "| trif |"
               in line)
    assert f"| {shown} |" in row
    assert f"trif ({shown}) by weighted GCV, ω = 2" in summary
    assert f"<td>{shown}</td>" in (folder / "report.html").read_text(encoding="utf-8")
    with open(folder / "results.csv", newline="", encoding="utf-8") as stream:
        rows = {r["label"]: r for r in csv.DictReader(stream)}
    assert rows["trif"]["parameters"] == shown and rows["rl"]["parameters"] == "max_iter=4"


def test_a_study_without_automatic_weights_draws_no_weight_figure(tmp_path, tiny_case):
    folder = tmp_path / "out"
    result = Study([tiny_case], [MethodGrid("trif", {"lam": [0.01]}), RL]).run(folder)
    assert all(r.auto_weight is None for r in result.records)
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert len(figures) == 5 and not any("weights" in name for name in figures)
    report = (folder / "report.html").read_text(encoding="utf-8")
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "GCV" not in report and "weights" not in report
    assert "Automatic weights" not in summary and "lam=0.01" in summary


def test_auto_in_a_toml_study_is_a_value_or_a_grid_point(tmp_path):
    case = ("[[case]]\nname = 's'\nshape = [16, 32, 32]\n"
            "psf = { model = 'gaussian', shape = [9, 17, 17], na = 1.2, wavelength = 0.52, "
            "ni = 1.33 }\n")
    path = tmp_path / "study.toml"
    path.write_text(case + "[methods.trif]\nlam = 'auto'\n[methods.rif]\nlam = ['auto', 1e-3]\n"
                    "[methods.wif]\nnsr = 'auto'\n", encoding="utf-8")
    trif, rif, wif = load_study(path).methods
    assert trif.params == {"lam": "auto"} and trif.points() == [{}]
    assert rif.points() == [{"lam": "auto"}, {"lam": 1e-3}]
    assert wif.params == {"nsr": "auto"}
    path.write_text(case + "[methods.rl-wb]\nalpha = 'auto'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[methods.rl-wb\]: rl-wb: alpha must be a number"):
        load_study(path)


def test_the_criterion_is_named_with_its_weight():
    assert criterion_text({"criterion": "GCV", "omega": 2.0}) == "weighted GCV, ω = 2"
    assert criterion_text({"criterion": "GCV", "omega": 1.0}) == "GCV"
    assert criterion_text({"criterion": "GCV"}) == "GCV"  # a record without ω


def test_a_risk_estimate_below_zero_is_drawn_and_named(tmp_path, tiny_case):
    """PURE is unbiased, so its values may fall below 0 near the minimum: the figure still
    draws the curve and the dot, and the tables name the rule asked for."""
    from deconvkit.compare._figures import _weight_curves

    folder = tmp_path / "out"
    grid = MethodGrid("rltv", params={"lam": "pure", "max_iter": 3})
    # 3 iterations on the tiny case: the risk falls all the way to the weakest weight,
    # which the search says in one line (the range's end) and uses
    with pytest.warns(UserWarning, match=r"no minimum in \[1e-05, 1\]; using the weakest"):
        result = Study([tiny_case], [grid], name="pure").run(folder)
    record = result.records[0]
    assert record.auto_weight["criterion"] == "PURE"
    assert record.point_text.startswith(f"lam=pure → {record.auto_weight['value']:.3g}")
    assert (folder / "figures" / "tiny-weights.png").stat().st_size > 0
    signed = {**record.auto_weight, "scores": [s - max(record.auto_weight["scores"]) / 2
                                               for s in record.auto_weight["scores"]]}
    assert min(signed["scores"]) < 0
    from dataclasses import replace

    figure = _weight_curves(tiny_case, [replace(record, auto_weight=signed)], {})
    axes = figure.axes[0]
    assert axes.get_yscale() == "symlog"
    line, dot = axes.lines[0], axes.lines[1]
    assert len(line.get_xdata()) == len(signed["grid"])  # every point, those below 0 too
    chosen = signed["grid"].index(signed["value"])
    assert dot.get_ydata()[0] == signed["scores"][chosen]
