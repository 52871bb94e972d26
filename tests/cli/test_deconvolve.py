"""``deconvkit deconvolve`` in process: options, PSF models, channels, 2D, memory, threads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.cli._common import available_memory, json_safe
from deconvkit.cli._deconvolve import default_output, weight_name
from deconvkit.cli._psf import model_shape

from .conftest import SPACING, snapshot


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_and_debug_traceback(capsys, work):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.startswith(f"deconvkit {dk.__version__} (numpy")
    code, _, err = cli(capsys, "--debug", "deconvolve", work / "missing.tif", work / "psf.tif")
    assert code == 1
    assert "Traceback" in err and err.rstrip().endswith("check the path")


def test_2d_image_with_a_3d_psf_uses_its_in_focus_plane(capsys, data, work):
    code, _out, err = cli(capsys, "deconvolve", work / "plane.tif", work / "psf.tif", "--iter",
                         "20")
    assert code == 0, err
    assert "the image is a single plane but the PSF" in err and "in-focus plane (z = 2" in err
    restored, meta = dk.io.read(work / "rl_plane.tif")
    assert restored.shape == (1, 32, 32) and meta.axes == "ZYX"
    assert np.allclose(meta.spacing[1:], (0.1, 0.1))
    assert dk.metrics.nrmse(restored[0], data.plane_truth) < dk.metrics.nrmse(
        data.plane, data.plane_truth)


def test_psf_model_sized_for_the_image(capsys, data, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", "--psf-model", "gaussian", "--na",
                       "1.2", "--wavelength", "0.52", "--ni", "1.33", "--iter", "20")
    assert code == 0, err
    restored, _ = dk.io.read(work / "rl_img.tif")
    assert dk.metrics.nrmse(restored, data.truth) < dk.metrics.nrmse(data.image, data.truth)
    record = json.loads((work / "rl_img.json").read_text(encoding="utf-8"))
    shape = record["psf"][0]["shape"]
    assert shape[0] == 2 * 8 - 1 and all(n % 2 for n in shape) and shape[1] <= 33
    assert record["psf"][0]["parameters"] == {"na": 1.2, "wavelength": 0.52, "ni": 1.33}


def test_psf_model_one_wavelength_per_channel(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "two.tif", "--psf-model", "born-wolf",
                       "--na", "1.2", "--ni", "1.33", "--wavelength", "0.52", "0.61",
                       "--psf-shape", "9", "17", "17", "--iter", "3")
    assert code == 0, err
    record = json.loads((work / "rl_two.json").read_text(encoding="utf-8"))
    assert [p["parameters"]["wavelength"] for p in record["psf"]] == [0.52, 0.61]
    assert [p["shape"] for p in record["psf"]] == [[9, 17, 17]] * 2
    restored, meta = dk.io.read(work / "rl_two.tif")
    assert meta.axes == "CZYX" and restored.shape == (2, 8, 32, 32)


def test_psf_model_option_it_does_not_take(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", "--psf-model", "gaussian",
                       "--na", "1.2", "--wavelength", "0.52", "--ni", "1.33", "--ns", "1.3")
    assert code == 2 and "the gaussian PSF model takes no --ns" in err


def test_closed_form_with_lambda_and_uint16(capsys, data, work):
    code, out, err = cli(capsys, "deconvolve", work / "img_u16.tif", work / "psf.tif", "-m",
                         "wif", "--lambda", "0.02", "--iter", "5", "--dtype", "uint16")
    assert code == 0, err
    assert "wif is a closed-form filter: --max-iter is ignored" in err
    record = json.loads((work / "wif_img_u16.json").read_text(encoding="utf-8"))
    assert record["parameters"]["nsr"] == 0.02 and record["n_iter"] == 0
    restored, meta = dk.io.read(work / "wif_img_u16.tif")
    assert meta.source_dtype == "uint16" and restored.shape == data.image.shape
    assert "nsr=0.02" in out


def test_lambda_refused_by_a_method_without_a_weight(capsys, work):
    before = snapshot(work)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--lambda",
                       "0.1")
    assert code == 2
    assert "--lambda: rl has no regularization weight" in err and "rltv" in err
    assert snapshot(work) == before


def test_param_is_typed_by_the_registry(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "-m", "rla",
                       "--param", "acceleration=biggs-andrews", "--param", "max_iter=4")
    assert code == 0, err
    record = json.loads((work / "rl-accelerated_img.json").read_text(encoding="utf-8"))
    assert record["method"] == "rl-accelerated"
    assert record["parameters"]["acceleration"] == "biggs-andrews"
    assert record["n_iter"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "nope=1"], "rl has no parameter 'nope'; its parameters are: boundary"),
        (["--param", "max_iter=many"], "--param max_iter=many: max_iter must be a whole number"),
        (["--param", "max_iter=0"], "rl: max_iter must lie in [1, inf), got 0"),
        (["--param", "max_iter=3", "--iter", "4"], "max_iter is given twice"),
        (["--param", "lam"], "--param needs NAME=VALUE"),
        (["-m", "richardson"], "unknown method 'richardson'; available methods: nif, wif"),
        (["-m", "rltv", "--lambda", "2"], "rltv: lam must lie in [0, 1], got 2"),
        (["--spacing", "0.2", "0", "0.1"], "--spacing needs three positive numbers"),
        (["--threads", "0"], "--threads must be a positive number"),
        (["--psf-model", "gaussian"], "give a PSF file or --psf-model, not both"),
    ],
)
def test_bad_options_exit_2_with_the_fix(capsys, work, args, message):
    before = snapshot(work)
    code, out, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", *args)
    assert code == 2
    assert message in err
    assert err.startswith("deconvkit: error: ") and err.count("\n") == 1 and out == ""
    assert snapshot(work) == before


def test_no_psf_at_all(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif")
    assert code == 2 and "no PSF: give a PSF file" in err


def test_rel_tol(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--rel-tol",
                       "0.05", "--iter", "500")
    assert code == 0, err
    assert json.loads((work / "rl_img.json").read_text(encoding="utf-8"))["n_iter"] < 500


def test_a_raw_bead_psf_is_cleaned_with_a_note(capsys, work, tmp_path):
    """A measured PSF with its camera offset: subtracted, recentred, and said so."""
    psf = dk.io.read(work / "psf.tif")[0]
    raw = 100.0 + 5000.0 * psf / psf.max()  # the offset is most of the file's sum
    dk.io.write(tmp_path / "raw_psf.tif", raw.astype(np.float32))
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", tmp_path / "raw_psf.tif",
                       "--iter", "3", "-o", tmp_path / "out.tif")
    assert code == 0, err
    assert "looks raw" in err and "cleaned as deconvkit.psf.prepare does" in err
    sidecar = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert sidecar["psf"][0]["cleaned"]["border_fraction"] > 0.01  # one PSF per channel


def test_threads(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--threads",
                       "1", "--iter", "3")
    assert code == 0, err
    record = json.loads((work / "rl_img.json").read_text(encoding="utf-8"))
    assert record["threads"] == 1
    assert "warning" not in err


def test_memory_limit_refuses_with_the_figure_and_a_fix(capsys, work):
    before = snapshot(work)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif",
                       "--memory-limit", "0.0001")
    assert code == 3
    need = dk.methods.memory_estimate((8, 32, 32), (5, 9, 9), "rl", "extended")
    assert "not enough memory: rl on a 8x32x32 volume with a 5x9x9 PSF" in err
    assert "100 kB is --memory-limit" in err and "--boundary periodic" in err
    assert need > 0
    assert snapshot(work) == before


def test_memory_check_passes_within_the_limit(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif",
                       "--memory-limit", "4", "--iter", "2")
    assert code == 0, err
    record = json.loads((work / "rl_img.json").read_text(encoding="utf-8"))
    assert record["memory"]["limit_bytes"] == 4_000_000_000
    assert record["memory"]["estimate_bytes"] >= dk.methods.memory_estimate(
        (8, 32, 32), (5, 9, 9), "rl", "extended")


def test_keyboard_interrupt_in_process_writes_nothing(capsys, work, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dk.methods.Plan, "solve", interrupted)
    before = snapshot(work)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif")
    assert code == 130 and "interrupted: nothing was written" in err
    assert snapshot(work) == before


def test_helpers():
    assert default_output(Path("a/b.ome.tif"), "lw+").as_posix() == "a/lwp_b.tif"
    assert default_output(Path("cells.TIFF"), "rl").as_posix() == "rl_cells.tif"
    assert weight_name(dk.methods.get("wif")) == "nsr"
    assert weight_name(dk.methods.get("nif")) == "epsilon"
    assert weight_name(dk.methods.get("rl")) is None
    assert json_safe({"a": (np.float32(1.5), float("nan")), "b": np.int64(3)}) == {
        "a": [1.5, None], "b": 3}
    assert model_shape((8, 32, 32), SPACING, 1.2, 0.52, 1.33) == (15, 33, 33)
    assert model_shape((1, 256, 256), SPACING, 1.4, 0.52, 1.515) == (1, 47, 47)
    memory = available_memory()
    assert memory is None or memory > 0
