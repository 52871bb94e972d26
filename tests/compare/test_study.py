"""Studies end to end: files written, ranking, best-iteration bookkeeping, parallel runs."""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys

import numpy as np
import pytest

from deconvkit import methods, metrics
from deconvkit.compare import (
    Baseline,
    MethodGrid,
    RunRecord,
    Study,
    StudyResult,
    fitted_ssim,
    write_report,
)
from deconvkit.compare._command import add_arguments, run
from deconvkit.compare._study import execute_run

from .conftest import TINY

TWO_METHODS = [MethodGrid("wif", {"nsr": [0.01, 0.1]}), MethodGrid("rl", params={"max_iter": 15})]


@pytest.fixture(scope="module")
def tiny_study_folder(tmp_path_factory, tiny_case):
    folder = tmp_path_factory.mktemp("study") / "out"
    progress = io.StringIO()
    result = Study([tiny_case], TWO_METHODS, name="tiny").run(folder, progress=progress)
    return folder, result, progress.getvalue()


def _summary_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_study_writes_every_file(tiny_study_folder):
    folder, _, _ = tiny_study_folder
    for name in ("results.csv", "history.csv", "summary.md", "study.json", "report.html"):
        assert (folder / name).stat().st_size > 0, name
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures == [f"tiny-{kind}.png" for kind in
                       ("convergence", "profile", "projections", "sections", "spectrum")]
    report = (folder / "report.html").read_text()
    for name in figures:
        assert f"figures/{name}" in report
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_results_csv_has_a_row_per_run_and_the_baseline(tiny_study_folder):
    folder, _, _ = tiny_study_folder
    with open(folder / "results.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["label"] for r in rows] == ["observation", "wif", "wif", "rl"]
    assert [r["parameters"] for r in rows[1:]] == ["nsr=0.01", "nsr=0.1", "max_iter=15"]
    assert sum(r["is_best"] == "True" for r in rows) == 2  # one per method
    rl = rows[3]
    assert 0 <= int(rl["best_iteration"]) <= int(rl["n_iter"]) == 15
    assert float(rl["peak_memory_mib"]) > 0 and float(rl["seconds"]) > 0
    assert "maximum number of iterations" in rl["stop_reason"]
    with open(folder / "history.csv", newline="") as stream:
        history = list(csv.DictReader(stream))
    assert len(history) == 1 + 1 + 16  # two closed forms, RL's iterations 0..15


def test_the_summary_ranks_deconvolution_above_the_raw_observation(tiny_study_folder):
    folder, result, progress = tiny_study_folder
    rows = _summary_rows((folder / "summary.md").read_text())
    names = [row[1] for row in rows]
    assert set(names) == {"wif", "rl", "observation (raw data)"}
    nrmse = [float(row[4]) for row in rows]
    assert nrmse == sorted(nrmse)
    assert names.index("rl") < names.index("observation (raw data)")
    assert nrmse[names.index("rl")] < result.baselines["tiny"].nrmse
    assert progress.count("\n") == 1 + 3  # a header, then one line per run


def test_the_kept_image_is_the_best_iteration(tiny_case):
    record = execute_run(tiny_case, MethodGrid("rl", params={"max_iter": 25}), {}, "nrmse")
    reference = methods.run(tiny_case.image, tiny_case.psf, "rl", max_iter=25,
                            ground_truth=tiny_case.ground_truth, spacing=tiny_case.spacing,
                            background=tiny_case.background)
    assert (record.best_iteration, record.nrmse) == reference.best("nrmse")
    assert metrics.nrmse(record.image, tiny_case.ground_truth) == pytest.approx(record.nrmse,
                                                                               rel=1e-6)
    assert record.ssim == pytest.approx(fitted_ssim(record.image, tiny_case.ground_truth))
    by_psnr = execute_run(tiny_case, MethodGrid("rl", params={"max_iter": 25}), {}, "psnr")
    assert (by_psnr.best_iteration, by_psnr.psnr) == reference.best("psnr")


def test_ssim_as_the_metric_is_tracked_per_iteration(tiny_case):
    record = execute_run(tiny_case, MethodGrid("rl", params={"max_iter": 6}), {}, "ssim")
    values = record.history["ssim"]
    assert len(values) == 7 and record.ssim == max(values)
    assert record.history["iteration"][int(np.argmax(values))] == record.best_iteration


def _record(label: str, lam: float, nrmse: float, psnr: float) -> RunRecord:
    return RunRecord(case="c", label=label, method=label, parameters={"lam": lam},
                     point={"lam": lam}, iterative=True, best_iteration=3, n_iter=5, max_iter=5,
                     nrmse=nrmse, psnr=psnr, ssim=0.5, seconds=1.0, seconds_to_best=0.5,
                     peak_memory_mib=1.0, estimated_memory_mib=1.0, stop_reason="",
                     history={})


def test_best_parameters_on_a_known_grid():
    records = [_record("rltv", lam, nrmse, psnr) for lam, nrmse, psnr in
               [(1e-4, 0.40, 20.0), (1e-3, 0.30, 21.0), (1e-2, 0.35, 25.0)]]
    records += [_record("tm", 0.1, 0.45, 19.0), _record("tm", 1.0, math.nan, math.nan)]
    study = Study([TINY], [MethodGrid("rltv"), MethodGrid("tm")])
    result = StudyResult(study, [], records, {"c": Baseline("c", 0.42, 20.5, 0.3)}, 1.0, 1)
    best = result.best("c")
    assert [(r.label, r.point["lam"]) for r in best] == [("rltv", 1e-3), ("tm", 0.1)]
    ranking = result.ranking("c")
    assert [getattr(r, "label", "observation") for r in ranking] == ["rltv", "observation", "tm"]
    study.metric = "psnr"  # higher is better
    assert [(r.label, r.point["lam"]) for r in result.best("c")] == [("rltv", 1e-2),
                                                                     ("tm", 0.1)]


def test_parallel_runs_equal_serial_runs(tiny_case):
    study = Study([TINY], [MethodGrid("wif", {"nsr": [0.01, 0.1]}),
                           MethodGrid("rltv", {"lam": [0.002, 0.02]}, {"max_iter": 8})])
    serial = study.execute(jobs=1)
    parallel = study.execute(jobs=2)

    def key(r: RunRecord):
        return (r.case, r.label, r.parameter_text, r.best_iteration, r.stop_reason)

    def scores(r: RunRecord):
        return [r.nrmse, r.psnr, r.ssim, *r.history["nrmse"]]

    # the same runs in the same order, with the same scores to the last bits: a worker is a
    # fresh process, and this one has run other tests' FFTs and kernels first, which can move
    # a float64 sum by an ulp (seen: an NRMSE of 0.6022940963471206 against ...209)
    assert [key(r) for r in serial.records] == [key(r) for r in parallel.records]
    for a, b in zip(serial.records, parallel.records):
        np.testing.assert_allclose(scores(a), scores(b), rtol=1e-12)
        assert (a.image is None) == (b.image is None)
        if a.image is not None:
            np.testing.assert_allclose(a.image, b.image, rtol=1e-6, atol=1e-6 * a.image.max())


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_never_overwrites_without_overwrite(tmp_path, capsys):
    output = tmp_path / "deconvkit-study"
    assert run(_args("--quick", "-o", str(output), "--no-figures", "-q")) == 0  # an earlier one
    earlier = (output / "study.json").read_bytes()
    written = (output / "study.json").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="already exists.*--overwrite"):
        run(_args("--quick", "-o", str(output), "--no-figures", "-q"))
    assert (output / "study.json").read_bytes() == earlier
    capsys.readouterr()
    assert run(_args("--quick", "-o", str(output), "--no-figures", "-q", "--overwrite")) == 0
    # the new study, in place (a file written anew, whatever its bytes)
    assert (output / "study.json").stat().st_mtime_ns > written
    assert (output / "results.csv").exists() and (output / "report.html").exists()
    printed = capsys.readouterr().out
    assert "| rank | method |" in printed and f"report: {output.resolve()}" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["deconvkit-study"]


def test_the_command_checks_its_options(tmp_path):
    with pytest.raises(ValueError, match="--jobs"):
        run(_args("--quick", "-j", "0", "-o", str(tmp_path / "a")))
    with pytest.raises(ValueError, match="either --quick or a study file"):
        run(_args("study.toml", "--quick", "-o", str(tmp_path / "b")))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        run(_args(str(tmp_path / "nope.toml"), "-o", str(tmp_path / "c")))
    assert not (tmp_path / "a").exists()


def test_without_matplotlib_the_tables_are_still_written(tmp_path, tiny_case, monkeypatch):
    result = Study([tiny_case], [MethodGrid("wif", {"nsr": [0.05]})]).execute()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    notes = write_report(result, tmp_path / "out")
    assert notes and "pip install 'deconvkit[plot]'" in notes[0]
    assert (tmp_path / "out" / "results.csv").exists()
    assert not (tmp_path / "out" / "figures").exists()
    assert "matplotlib is not installed" in (tmp_path / "out" / "summary.md").read_text()
    assert "matplotlib is not installed" in (tmp_path / "out" / "report.html").read_text()
