"""``python -m deconvkit`` in a subprocess, on small simulated stacks written as TIFF files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import deconvkit as dk

from .conftest import SPACING, run_cli, sigint_catchable, snapshot


def _nrmse(x: np.ndarray, truth: np.ndarray) -> float:
    return dk.metrics.nrmse(x, truth)


def test_imagej_float32_with_the_default_output_name(data, work):
    before = snapshot(work)
    done = run_cli("deconvolve", work / "img.tif", work / "psf.tif", "--iter", "20",
                   "--reference", work / "truth.tif", "--progress", "5")
    assert done.returncode == 0, done.stderr
    output, sidecar = work / "rl_img.tif", work / "rl_img.json"
    restored, meta = dk.io.read(output)
    assert restored.shape == data.image.shape and meta.axes == "ZYX"
    assert meta.source_dtype == "float32"
    assert np.allclose(meta.spacing, SPACING)
    assert _nrmse(restored, data.truth) < 0.8 * _nrmse(data.image, data.truth)
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    assert record["method"] == "rl" and record["n_iter"] == 20
    assert record["parameters"]["max_iter"] == 20
    assert "maximum number of iterations" in record["stop_reason"]
    assert set(record["versions"]) >= {"deconvkit", "numpy", "scipy"}
    assert record["spacing"] == list(SPACING) and record["spacing_source"] == "file"
    assert record["memory"]["peak_rss_bytes"] > 0 and record["memory"]["estimate_bytes"] > 0
    # the interpreter's share, taken before the image was read, is part of the peak
    assert 0 < record["memory"]["runtime_rss_bytes"] <= record["memory"]["peak_rss_bytes"]
    assert record["timings"]["deconvolution"] > 0
    assert record["volumes"][0]["nrmse"] < record["volumes"][0]["nrmse_input"]
    # progress on stderr (iteration, objective, time), summary on stdout
    assert "RichardsonLucy:     20" in done.stderr
    assert "rl_img.tif" in done.stdout and "NRMSE" in done.stdout
    assert "Python and its libraries" in done.stdout and "the arrays' estimate" in done.stdout
    # the inputs are untouched and only the two outputs were added
    after = snapshot(work)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {"rl_img.tif", "rl_img.json"}


def test_ome_uint16_in_uint16_out_with_auto_background(data, work):
    output = work / "out" / "restored.tif"
    output.parent.mkdir()
    done = run_cli("deconvolve", work / "img.ome.tif", "--psf", work / "psf.tif", "-m", "rla",
                   "--iter", "10", "--background", "auto", "--dtype", "uint16", "-o", output)
    assert done.returncode == 0, done.stderr
    restored, meta = dk.io.read(output)
    assert meta.source_dtype == "uint16" and restored.shape == data.image.shape
    assert np.allclose(meta.spacing, SPACING)  # from the OME metadata
    assert _nrmse(restored, data.truth) < _nrmse(data.image, data.truth)
    record = json.loads((work / "out" / "restored.json").read_text(encoding="utf-8"))
    assert record["input"]["flavor"] == "ome" and record["output"]["dtype"] == "uint16"
    assert record["parameters"]["background"] > 0  # estimated camera offset


def test_channels_each_with_its_own_psf(data, work):
    done = run_cli("deconvolve", work / "two.tif", "--psf", work / "psf.tif", "--psf",
                   work / "wide_psf.tif", "--iter", "15", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # --quiet
    restored, meta = dk.io.read(work / "rl_two.tif")
    assert meta.axes == "CZYX" and restored.shape == (2, *data.image.shape)
    for channel, (image, truth) in enumerate([(data.image, data.truth),
                                              (data.image2, data.truth2)]):
        assert _nrmse(restored[channel], truth) < _nrmse(image, truth)
    record = json.loads((work / "rl_two.json").read_text(encoding="utf-8"))
    assert [v["index"] for v in record["volumes"]] == [{"C": 0}, {"C": 1}]
    assert [p["path"].endswith(name) for p, name in
            zip(record["psf"], ["psf.tif", "wide_psf.tif"])] == [True, True]


def test_ctrl_c_leaves_no_output(work):
    before = snapshot(work)
    with sigint_catchable():
        process = subprocess.Popen(
            [sys.executable, "-m", "deconvkit", "deconvolve", str(work / "img.tif"),
             str(work / "psf.tif"), "--iter", "1000000", "--progress", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:  # wait until the iterations run
            line = process.stderr.readline()
            lines.append(line)
            if line.startswith("RichardsonLucy:") and "iter" not in line:
                break
        else:  # pragma: no cover - diagnostic
            pytest.fail("no progress line: " + "".join(lines))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # pragma: no cover - cleanup only
            process.kill()
    assert process.returncode == 130
    assert "interrupted: nothing was written" in err
    assert "Traceback" not in err
    assert snapshot(work) == before  # no output, no temporary file


def test_an_error_is_one_line_without_a_traceback(work):
    missing = work / "missing.tif"
    done = run_cli("deconvolve", missing, work / "psf.tif")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"deconvkit: error: image file not found: {missing} (looked in {work}); check the path"]


def test_help_lists_every_command_with_examples():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("deconvolve", "psf", "methods", "info", "compare"):
        assert command in done.stdout
    assert "examples:" in done.stdout


def test_psf_model_to_file_then_describe(tmp_path):
    output = tmp_path / "gl.tif"
    done = run_cli("psf", "gibson_lanni", "--na", "1.3", "--wavelength", "0.52", "--ni",
                   "1.515", "--ns", "1.33", "--depth", "3", "--shape", "15", "33", "33",
                   "--spacing", "0.2", "0.1", "0.1", "-o", output)
    assert done.returncode == 0, done.stderr
    psf, meta = dk.io.read(output)
    assert psf.shape == (15, 33, 33) and np.isclose(psf.sum(), 1, atol=1e-4)
    assert np.allclose(meta.spacing, (0.2, 0.1, 0.1))
    record = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["model"] == "gibson_lanni" and record["parameters"]["depth"] == 3.0
    assert "FWHM lateral" in done.stdout
