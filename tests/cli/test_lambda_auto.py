"""``--lambda auto``: the closed forms' weight by GCV, the iterative methods' by PURE (or
the discrepancy principle, by name), written to the sidecar."""

import json
import warnings

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def _stack_files(folder, kind, field):
    """A simulated stack (300 photons, background 10) and its PSF as TIFFs in ``folder``."""
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind=kind, seed=3)
    y, _ = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10, seed=4)
    dk.io.write(folder / "y.tif", y)
    dk.io.write(folder / "psf.tif", psf)
    return folder / "out.tif"


def test_the_command_line_takes_lambda_auto_and_writes_the_choice(tmp_path):
    out = _stack_files(tmp_path, "filaments", (16, 48, 48))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                     "--method", "trif", "--lambda", "auto", "--background", "10",
                     "-o", str(out)])
    assert code == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["parameters"]["auto_weight"]["criterion"] == "GCV"
    assert sidecar["parameters"]["lam"] == sidecar["parameters"]["auto_weight"]["value"]


def test_an_iterative_method_takes_lambda_discrepancy_by_name(tmp_path):
    out = _stack_files(tmp_path, "cytoplasm", (12, 32, 32))
    code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                 "--method", "rltv", "--lambda", "discrepancy", "--iter", "10",
                 "--background", "10", "-o", str(out)])
    assert code == 0
    choice = json.loads(out.with_suffix(".json").read_text())["parameters"]["auto_weight"]
    assert choice["criterion"] == "Poisson discrepancy" and choice["omega"] is None
    assert len(choice["grid"]) == len(choice["scores"]) >= 2


def test_an_iterative_methods_lambda_auto_is_pure(tmp_path, capsys):
    out = _stack_files(tmp_path, "cytoplasm", (12, 32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the risk may have its minimum at an end here
        code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                     "--method", "rltv", "--lambda", "auto", "--iter", "5", "--background",
                     "10", "-o", str(out)])
    assert code == 0
    parameters = json.loads(out.with_suffix(".json").read_text())["parameters"]
    choice = parameters["auto_weight"]
    assert choice["criterion"] == "PURE"
    assert parameters["lam"] == choice["value"]
    # the search says each weight as it goes: the weight, its score, the time so far
    lines = [line for line in capsys.readouterr().err.splitlines() if "of at most" in line]
    assert len(lines) == len(choice["grid"])
    assert lines[0].startswith("deconvkit: note: rltv: lam='auto': weight 1 of at most 10, lam=1:")
    assert f"PURE {choice['scores'][choice['grid'].index(1.0)]:.4g} (" in lines[0]


def test_the_weight_search_is_silent_with_quiet_and_outside_the_command_line(tmp_path, capsys):
    out = _stack_files(tmp_path, "cytoplasm", (12, 32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                     "--method", "rltv", "--lambda", "discrepancy", "--iter", "5",
                     "--background", "10", "-q", "-o", str(out)]) == 0
        assert "of at most" not in capsys.readouterr().err
        (y, _), (psf, _) = dk.io.read(tmp_path / "y.tif"), dk.io.read(tmp_path / "psf.tif")
        dk.methods.plan(y, psf, "rltv", lam="discrepancy", max_iter=5, background=10.0)
    captured = capsys.readouterr()
    assert "of at most" not in captured.err + captured.out


def test_a_word_that_names_no_rule_is_refused_in_one_line(tmp_path, capsys):
    _stack_files(tmp_path, "cytoplasm", (12, 32, 32))
    code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                 "--method", "rltv", "--lambda", "gcv", "-o", str(tmp_path / "o.tif")])
    assert code != 0
    assert "expected a number or 'auto', 'pure', 'discrepancy', got 'gcv'" in \
        capsys.readouterr().err
