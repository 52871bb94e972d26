"""``deconvkit methods``, ``info``, ``psf`` and the ``compare`` wiring, in process."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.cli._common import format_bytes


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_methods_lists_the_registry(capsys):
    code, out, _ = cli(capsys, "methods")
    assert code == 0
    for name, spec in dk.methods.available().items():
        assert f"{name}: {spec.summary}" in out
        for parameter in spec.all_parameters:
            assert parameter.describe() in out
    assert "lam: trif, rif" in out and "nothing (refused): lw, lw+, rl" in out


def test_methods_one_by_alias(capsys):
    code, out, _ = cli(capsys, "methods", "nnls")
    assert code == 0
    assert out.startswith("lw+: ") and "aliases: nnls, lwp" in out and "--lambda: none" in out
    code, _, err = cli(capsys, "methods", "nope")
    assert code == 2 and "unknown method 'nope'; available methods:" in err


def test_every_command_has_help_with_examples(capsys):
    for command in (["deconvolve"], ["psf"], ["psf", "gibson-lanni"], ["psf", "describe"],
                    ["methods"], ["info"]):
        code, out, _ = cli(capsys, *command, "--help")
        assert code == 0 and "examples:" in out, command


def test_no_command_prints_the_usage(capsys):
    code, _, err = cli(capsys)
    assert code == 2 and "usage: deconvkit" in err


def test_info(capsys, work):
    code, out, _ = cli(capsys, "info", work / "two.tif", "--psf", work / "psf.tif")
    assert code == 0
    assert "(2, 8, 32, 32), axes CZYX" in out and "float32 in the file" in out
    assert "0.2, 0.1, 0.1 µm (file)" in out
    assert "intensity C=0" in out and "intensity C=1" in out and "5x9x9" in out
    extra = 2 * 4 * 2 * 8 * 32 * 32
    for name in dk.methods.available():
        assert f"  {name:<16}" in out
    rl = dk.methods.memory_estimate((8, 32, 32), (5, 9, 9), "rl", "extended") + extra
    assert f"  {'rl':<16} {format_bytes(rl):>10}" in out
    assert "available now:" in out


def test_info_one_method_without_spacing(capsys, work):
    code, out, _ = cli(capsys, "info", work / "nospacing.tif", "-m", "wif", "--boundary",
                       "periodic")
    assert code == 0
    assert "unknown (not in the file" in out and "model-sized" in out
    assert "  wif " in out and "  rl " not in out


def test_info_bad_file(capsys, work):
    (work / "text.tif").write_text("not an image")
    code, _, err = cli(capsys, "info", work / "text.tif")
    assert code == 1 and "not a readable TIFF file" in err


def test_psf_describe(capsys, work):
    code, out, _ = cli(capsys, "psf", "describe", work / "psf.tif")
    assert code == 0 and "FWHM lateral" in out and "0.2, 0.1, 0.1 µm" in out


def test_psf_model_refuses_even_shapes_and_existing_output(capsys, tmp_path):
    base = ["psf", "gaussian", "--na", "1.2", "--wavelength", "0.52", "--ni", "1.33",
            "--spacing", "0.2", "0.1", "0.1"]
    code, _, err = cli(capsys, *base, "--shape", "4", "9", "9", "-o", tmp_path / "p.tif")
    assert code == 2 and "--shape needs odd positive sizes" in err
    assert cli(capsys, *base, "--shape", "5", "9", "9", "-o", tmp_path / "p.tif")[0] == 0
    code, _, err = cli(capsys, *base, "--shape", "5", "9", "9", "-o", tmp_path / "p.tif")
    assert code == 1 and "already exists" in err
    psf, _meta = dk.io.read(tmp_path / "p.tif")
    assert np.allclose(psf, dk.psf.gaussian((5, 9, 9), (0.2, 0.1, 0.1), na=1.2,
                                            wavelength=0.52, ni=1.33), atol=1e-7)


def test_psf_model_needs_its_optics(capsys, tmp_path):
    code, _, err = cli(capsys, "psf", "born_wolf", "--na", "1.2", "--shape", "5", "9", "9",
                       "--spacing", "0.2", "0.1", "0.1", "-o", tmp_path / "p.tif")
    assert code == 2 and "needs --wavelength, --ni" in err


@pytest.fixture
def fake_compare(monkeypatch):
    """A stand-in for deconvkit.compare._command, which a sibling writes."""
    calls = []
    command = types.ModuleType("deconvkit.compare._command")

    def add_arguments(parser):
        parser.add_argument("config")
        parser.add_argument("--methods", nargs="+")

    def run(args):
        calls.append(args)
        return 0

    command.add_arguments, command.run = add_arguments, run
    package = types.ModuleType("deconvkit.compare")
    package._command = command
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "deconvkit.compare", package)
    monkeypatch.setitem(sys.modules, "deconvkit.compare._command", command)
    return calls


def test_compare_passes_its_arguments_through(capsys, fake_compare):
    code, _, _ = cli(capsys, "compare", "study.toml", "--methods", "rl", "wif")
    assert code == 0
    assert fake_compare[0].config == "study.toml" and fake_compare[0].methods == ["rl", "wif"]
    code, out, _ = cli(capsys, "compare", "--help")
    assert code == 0 and "usage: deconvkit compare" in out and "--methods" in out
    code, _, err = cli(capsys, "compare")
    assert code == 2 and "required: config" in err


def test_compare_missing_module(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "deconvkit.compare._command", None)  # import fails
    package = types.ModuleType("deconvkit.compare")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "deconvkit.compare", package)
    code, _, err = cli(capsys, "compare", "x")
    assert code == 1 and "the compare command is not available" in err
    assert cli(capsys, "--help")[0] == 0
