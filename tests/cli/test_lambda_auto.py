"""``--lambda auto``: the closed forms' weight by GCV, the iterative methods' by the
discrepancy principle, written to the sidecar."""

import json
import warnings

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)


def test_the_command_line_takes_lambda_auto_and_writes_the_choice(tmp_path):
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape((16, 48, 48), psf.shape), SPACING,
                              kind="filaments", seed=3)
    y, _ = dk.simulate.observe(obj, psf, field_shape=(16, 48, 48), photons=300,
                               background=10, seed=4)
    dk.io.write(tmp_path / "y.tif", y)
    dk.io.write(tmp_path / "psf.tif", psf)
    out = tmp_path / "out.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                     "--method", "trif", "--lambda", "auto", "--background", "10",
                     "-o", str(out)])
    assert code == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["parameters"]["auto_weight"]["criterion"] == "GCV"
    assert sidecar["parameters"]["lam"] == sidecar["parameters"]["auto_weight"]["value"]


def test_an_iterative_method_takes_lambda_auto_with_its_criterion(tmp_path):
    psf = dk.psf.gaussian((9, 17, 17), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    obj = dk.simulate.phantom(extended_shape((12, 32, 32), psf.shape), SPACING,
                              kind="cytoplasm", seed=3)
    y, _ = dk.simulate.observe(obj, psf, field_shape=(12, 32, 32), photons=300,
                               background=10, seed=4)
    dk.io.write(tmp_path / "y.tif", y)
    dk.io.write(tmp_path / "psf.tif", psf)
    out = tmp_path / "out.tif"
    code = main(["deconvolve", str(tmp_path / "y.tif"), str(tmp_path / "psf.tif"),
                 "--method", "rltv", "--lambda", "auto", "--iter", "10", "--background", "10",
                 "-o", str(out)])
    assert code == 0
    choice = json.loads(out.with_suffix(".json").read_text())["parameters"]["auto_weight"]
    assert choice["criterion"] == "Poisson discrepancy" and choice["omega"] is None
    assert len(choice["grid"]) == len(choice["scores"]) >= 2
