"""Studies from TOML files: what is accepted, and the messages for what is not."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import io
from deconvkit.compare import FileCase, MethodGrid, SimulatedCase, load_study

VALID = """
[study]
name = "two cases"
metric = "psnr"

[[case]]
name = "simulated"
shape = [16, 32, 32]
spacing = [0.2, 0.1, 0.1]
phantom = "beads"
photons = 300
background = 5
seed = 4
psf = { model = "gaussian", shape = [9, 17, 17], na = 1.2, wavelength = 0.52, ni = 1.33 }

[[case]]
name = "files"
image = "data/image.tif"
psf = "data/psf.tif"
ground_truth = "data/truth.tif"
background = 2.5

[methods.rl]
max_iter = 40

[methods.rltv]
max_iter = 30
lam = [1e-4, 1e-3, 1e-2]

[methods.trif]
lam = { start = 1e-4, stop = 1e-1, num = 4 }

[methods.admm-tv-gaussian]
method = "admm-tv"
data = "gaussian"
lam = [0.01, 0.1]
"""

METHODS = """
[methods.rl]
max_iter = 40
"""
CASE = """
[[case]]
name = "simulated"
shape = [16, 32, 32]
psf = { model = "gaussian", shape = [9, 17, 17], na = 1.2, wavelength = 0.52, ni = 1.33 }
"""


def _write(tmp_path, text: str):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_a_valid_study_loads_with_its_grids_and_cases(tmp_path):
    (tmp_path / "data").mkdir()
    rng = np.random.default_rng(0)
    for name in ("image", "psf", "truth"):
        io.write(tmp_path / "data" / f"{name}.tif", rng.random((12, 16, 16)).astype(np.float32),
                 spacing=(0.3, 0.1, 0.1))
    study = load_study(_write(tmp_path, VALID))
    assert study.name == "two cases" and study.metric == "psnr"
    simulated, files = study.cases
    assert isinstance(simulated, SimulatedCase) and isinstance(files, FileCase)
    assert simulated.psf_model == "gaussian" and simulated.psf_shape == (9, 17, 17)
    assert simulated.psf_options == {"na": 1.2, "wavelength": 0.52, "ni": 1.33}
    assert files.image == tmp_path / "data" / "image.tif"  # relative to the TOML file
    loaded = files.load()
    assert loaded.spacing == pytest.approx((0.3, 0.1, 0.1)) and loaded.background == 2.5
    assert [g.label for g in study.methods] == ["rl", "rltv", "trif", "admm-tv-gaussian"]
    rl, rltv, trif, admm = study.methods
    assert rl == MethodGrid("rl", params={"max_iter": 40}) and rl.points() == [{}]
    assert rltv.points() == [{"lam": 1e-4}, {"lam": 1e-3}, {"lam": 1e-2}]
    assert trif.grid == {"lam": (1e-4, 1e-3, 1e-2, 1e-1)}
    assert admm.method == "admm-tv" and admm.params == {"data": "gaussian"}
    assert len(study.runs()) == 2 * (1 + 3 + 4 + 2)


@pytest.mark.parametrize("text, message", [
    (CASE + "[methods.richardson]\n", r"unknown method 'richardson'; available methods: nif"),
    (CASE + "[methods.rl]\nlamda = 0.1\n", r"\[methods.rl\]: rl has no parameter 'lamda'"),
    (CASE + "[methods.rltv]\nlam = [0.01, 5.0]\n", r"rltv: lam must lie in \[0, 1\]"),
    (CASE + "[methods.rl]\nmax_iter = [10, 100]\n", r"max_iter is not a grid axis"),
    (CASE + "[methods.rl]\nspacing = [1, 1, 1]\n", r"spacing comes from each case"),
    (CASE + METHODS + "[output]\nfolder = 'x'\n", r"top level: unknown key 'output'"),
    (CASE + METHODS + "[study]\nmetrik = 'ssim'\n", r"\[study\]: unknown key 'metrik'"),
    (CASE + METHODS + "[study]\nmetric = 'mse'\n", r"metric must be one of nrmse, psnr, ssim"),
    (METHODS, r"no case; add at least one \[\[case\]\] table"),
    (CASE, r"no method; add at least one \[methods.NAME\] table"),
    (CASE.replace('name = "simulated"', 'name = "s"\nphotns = 10') + METHODS,
     r"case 1 \('s'\) \(simulated.*unknown key 'photns'"),
    (CASE.replace("na = 1.2", "numerical_aperture = 1.2") + METHODS,
     r"the gaussian PSF has no option 'numerical_aperture'"),
    (CASE.replace("[16, 32, 32]", "[16, 32]") + METHODS, r"shape must be three"),
    (CASE + "[methods.trif]\nlam = { start = 1e-4, stop = 1e-1 }\n", r"missing num"),
    (CASE + METHODS + "[[case]]\nname = 'simulated'\n", r"two cases are called"),
    (CASE + "[methods.rl\n", r"not valid TOML"),
])
def test_invalid_studies_are_refused_with_a_clear_message(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        load_study(path)
    assert str(path) in str(error.value)  # the message names the file


def test_missing_files_are_named(tmp_path):
    text = ("[[case]]\nname = 'f'\nimage = 'a.tif'\npsf = 'b.tif'\nground_truth = 'c.tif'\n"
            + METHODS)
    with pytest.raises(FileNotFoundError, match=r"image file .*a.tif not found"):
        load_study(_write(tmp_path, text))
    with pytest.raises(FileNotFoundError, match="study file .* not found"):
        load_study(tmp_path / "absent.toml")
    text = "[[case]]\nname = 'f'\nimage = 'a.tif'\n" + METHODS
    with pytest.raises(ValueError, match="needs image, psf and ground_truth"):
        load_study(_write(tmp_path, text))
