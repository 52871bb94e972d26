"""``deconvkit compare`` loses nothing: --overwrite replaces only a study folder it wrote,
never the inputs, the current or the home folder; huge grids are refused before they are
expanded; Ctrl-C and SIGTERM end the worker processes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.compare import MethodGrid, SimulatedCase, Study, _report, load_study, write_report
from deconvkit.compare._grid import MAX_RUNS

from ..cli.conftest import sigint_catchable, snapshot

SPACING = (0.2, 0.1, 0.1)
STUDY = """
[study]
name = "files"

[[case]]
name = "beads"
image = "data/image.tif"
psf = "data/psf.tif"
ground_truth = "data/truth.tif"

[methods.wif]
nsr = [0.01, 0.1]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder as a user has it: a study file, its data folder, and a file of theirs."""
    data = tmp_path / "data"
    data.mkdir()
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    truth = dk.simulate.phantom((16, 40, 40), SPACING, kind="beads", seed=1)
    image, field = dk.simulate.observe(truth, psf, field_shape=(12, 32, 32), photons=300,
                                       background=5, seed=2)
    dk.io.write(data / "image.tif", image, spacing=SPACING)
    dk.io.write(data / "psf.tif", psf, spacing=SPACING)
    dk.io.write(data / "truth.tif", field, spacing=SPACING)
    (tmp_path / "study.toml").write_text(STUDY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    return tmp_path


def compare(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    with sigint_catchable():
        return subprocess.run([sys.executable, "-m", "deconvkit", "compare", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=300, check=False)


# -- what --overwrite may replace ---------------------------------------------------------


def test_overwrite_refuses_the_current_folder(project):
    """``-o "$PWD" --overwrite`` deleted the study file, the data and an unrelated file."""
    before = snapshot(project)
    done = compare("study.toml", "-o", str(project), "--overwrite", "--no-figures", "-q",
                   cwd=project)
    assert done.returncode == 1, done.stderr
    assert "it is the current folder" in done.stderr
    assert snapshot(project) == before


def test_overwrite_refuses_the_folder_of_the_inputs(project):
    """``-o data --overwrite`` deleted the case's inputs after the run."""
    before = snapshot(project)
    done = compare("study.toml", "-o", "data", "--overwrite", "--no-figures", "-q",
                   cwd=project)
    assert done.returncode == 1, done.stderr
    assert "refusing to replace data: it holds the input" in done.stderr
    assert snapshot(project) == before


@pytest.fixture
def earlier(project, monkeypatch) -> Path:
    """A study folder deconvkit wrote, in the project."""
    monkeypatch.chdir(project)
    study = load_study(project / "study.toml")
    folder = project / "earlier"
    write_report(study.execute(), folder, figures=False)
    return folder


def test_a_study_folder_deconvkit_wrote_is_replaced(earlier):
    marker = json.loads((earlier / "study.json").read_text(encoding="utf-8"))
    assert marker["written_by"] == "deconvkit compare"
    assert sorted(marker["files"]) == sorted(p.name for p in earlier.iterdir())
    study = load_study(earlier.parent / "study.toml")
    write_report(study.execute(), earlier, overwrite=True, figures=False)
    assert (earlier / "results.csv").exists()
    assert not any(p.name.startswith(".") for p in earlier.parent.iterdir())


def test_a_study_folder_holding_a_file_of_yours_is_refused(earlier):
    (earlier / "my-analysis.ipynb").write_text("{}")
    with pytest.raises(FileExistsError, match=r"holds files deconvkit did not write there "
                                              r"\(my-analysis.ipynb\)"):
        _report.check_output(earlier, True)
    assert (earlier / "my-analysis.ipynb").exists()


@pytest.mark.parametrize("kind", ["unmarked", "link", "home", "above-home", "empty"])
def test_what_overwrite_may_replace(project, earlier, monkeypatch, kind):
    if kind == "unmarked":
        folder = project / "results"
        folder.mkdir()
        (folder / "table.csv").write_text("a,b")
        match = "no study.json written by deconvkit"
    elif kind == "link":
        folder = project / "link"
        folder.symlink_to(earlier)
        match = "is a symbolic link"
    elif kind in ("home", "above-home"):
        home = project / "home" / "me"
        home.mkdir(parents=True)
        monkeypatch.setenv("HOME", str(home))
        folder = home if kind == "home" else home.parent
        match = "it (is|holds) the home folder"
    else:
        folder = project / "empty"
        folder.mkdir()
        assert _report.check_output(folder, True) == folder  # nothing there to lose
        return
    with pytest.raises(FileExistsError, match=match):
        _report.check_output(folder, True)


def test_a_failed_swap_puts_the_earlier_folder_back(earlier, monkeypatch):
    study = load_study(earlier.parent / "study.toml")
    result = study.execute()
    before = snapshot(earlier)
    real = os.replace

    def fail_second(source, target, *args, **kwargs):
        if Path(target) == earlier and ".earlier-old-" not in str(source):
            raise OSError(28, "No space left on device", str(target))
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fail_second)
    with pytest.raises(OSError, match="No space left"):
        write_report(result, earlier, overwrite=True, figures=False)
    assert snapshot(earlier) == before
    assert sorted(p.name for p in earlier.parent.iterdir()) == [
        "data", "earlier", "notes.txt", "study.toml"]


def test_a_folder_that_changed_during_the_study_keeps_the_new_results(earlier, monkeypatch):
    study = load_study(earlier.parent / "study.toml")
    result = study.execute()
    real = _report._html

    def meanwhile(*args, **kwargs):  # the user saves a file there while the study runs
        (earlier / "draft.md").write_text("mine")
        return real(*args, **kwargs)

    monkeypatch.setattr(_report, "_html", meanwhile)
    with pytest.raises(FileExistsError, match=r"the new results are in .*earlier-\d{8}"):
        write_report(result, earlier, overwrite=True, figures=False)
    assert (earlier / "draft.md").read_text() == "mine"
    kept = [p for p in earlier.parent.iterdir() if p.name.startswith("earlier-")]
    assert len(kept) == 1 and (kept[0] / "results.csv").exists()


# -- huge grids are counted, not expanded ----------------------------------------------


def test_a_huge_range_is_refused_with_its_count(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text(STUDY.replace("nsr = [0.01, 0.1]",
                                  "nsr = { start = 1e-4, stop = 1, num = 1e8 }"))
    (tmp_path / "data").mkdir()
    for name in ("image", "psf", "truth"):
        dk.io.write(tmp_path / "data" / f"{name}.tif", np.ones((3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=rf"num = 100,000,000 values .* {MAX_RUNS:,} runs"):
        load_study(path)


def test_a_grid_whose_product_is_too_large_is_refused_before_it_is_combined():
    axis = [float(v) for v in np.linspace(0.01, 1.0, 200)]
    with pytest.raises(ValueError, match=r"200 x 200 points, more than the limit"):
        MethodGrid("tm", {"lam": axis, "gamma": axis})


def test_a_study_with_too_many_runs_is_refused_with_the_count(tmp_path):
    cases = "".join(
        f'\n[[case]]\nname = "c{i}"\nshape = [12, 16, 16]\n'
        f'psf = {{ model = "gaussian", shape = [5, 9, 9], na = 1.2, wavelength = 0.52, '
        f'ni = 1.33 }}\n' for i in range(3))
    path = tmp_path / "many.toml"
    path.write_text(cases + "\n[methods.wif]\nnsr = { start = 1e-4, stop = 1, num = 5000 }\n")
    with pytest.raises(ValueError, match=r"15,000 runs \(3 case\(s\) x 5,000 grid points\)"):
        load_study(path)


# -- signals end the workers ---------------------------------------------------------------


def _workers(parent: int) -> list[int]:
    """The pool's worker processes of ``parent`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in command and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


LONG = """
[[case]]
name = "long"
shape = [12, 24, 24]
psf = { model = "gaussian", shape = [5, 9, 9], na = 1.2, wavelength = 0.52, ni = 1.33 }

[methods.rltv]
max_iter = 1000000
lam = [0.001, 0.01]
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find workers")
@pytest.mark.parametrize(("signum", "code", "words"), [
    (signal.SIGTERM, 143, "terminated by SIGTERM"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_to_the_study_ends_its_workers(tmp_path, signum, code, words):
    (tmp_path / "long.toml").write_text(LONG)
    with sigint_catchable():
        process = subprocess.Popen(
            [sys.executable, "-m", "deconvkit", "compare", "long.toml", "-j", "2", "-o", "out",
             "--no-figures"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
            time.sleep(0.2)
            workers = _workers(process.pid)
        assert len(workers) == 2, process.stderr.read() if process.poll() is not None else ""
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)  # all runs would take hours
        assert process.returncode == code, err
        assert err.strip().splitlines()[-1] == f"deconvkit: error: {words}: nothing was written"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "a worker outlived the study"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["long.toml"]
    finally:
        if process.poll() is None:  # pragma: no cover - cleanup only
            process.kill()
        for pid in workers:  # pragma: no cover - cleanup only, if the test failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_study_run_checks_its_inputs_too(project, monkeypatch):
    monkeypatch.chdir(project)
    study = Study([SimulatedCase("s", shape=(12, 16, 16), psf_shape=(5, 9, 9))],
                  [MethodGrid("wif")])
    with pytest.raises(FileExistsError, match="it is the current folder"):
        study.run(project, overwrite=True, figures=False)
    assert (project / "notes.txt").exists()
