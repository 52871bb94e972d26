"""``deconvkit resolution``, run as a user would: a subprocess on TIFF files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tifffile

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.operators import extended_shape

from .conftest import run_cli, snapshot

SPACING = (0.2, 0.08, 0.08)
FIELD = (8, 64, 64)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two acquisitions of filaments, a camera-scaled copy, a plane and some bad files."""
    root = tmp_path_factory.mktemp("resolution")
    psf = dk.psf.born_wolf((9, 31, 31), SPACING, na=1.4, wavelength=0.52, ni=1.515)
    obj = dk.simulate.phantom(extended_shape(FIELD, psf.shape), SPACING, kind="filaments", seed=1)
    first, second = (dk.simulate.observe(obj, psf, field_shape=FIELD, photons=500, background=5,
                                         seed=seed).data for seed in (2, 3))
    dk.io.write(root / "take1.tif", first, spacing=SPACING)
    dk.io.write(root / "take2.tif", second, spacing=SPACING)
    dk.io.write(root / "camera.tif", 100 + 2 * first, spacing=SPACING)
    dk.io.write(root / "plane.tif", first[4:5], spacing=SPACING)
    dk.io.write(root / "flat.tif", np.full(FIELD, 7.0, np.float32), spacing=SPACING)
    holes = first.copy()
    holes[0, :3, :3] = np.nan
    tifffile.imwrite(root / "holes.tif", holes.astype(np.float32), imagej=True,
                     resolution=(1 / SPACING[2], 1 / SPACING[1]),
                     metadata={"axes": "ZYX", "spacing": SPACING[0], "unit": "um"})
    dk.io.write(root / "two.tif", np.stack([first, second]), spacing=SPACING, axes="CZYX")
    return root


def figures(stdout: str) -> dict[str, float]:
    """``{"lateral": µm, "axial": µm}`` from the printed summary."""
    found = {}
    for direction in ("lateral", "axial"):
        match = re.search(rf"^  {direction} \([YXZ]+\)\s+([0-9.]+) µm", stdout, re.MULTILINE)
        if match:
            found[direction] = float(match.group(1))
    return found


def test_one_image_by_decorrelation(folder):
    done = run_cli("resolution", folder / "take1.tif")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "resolution by decorrelation, voxel 0.2 x 0.08 x 0.08 µm" in done.stdout
    found = figures(done.stdout)
    assert set(found) == {"lateral", "axial"}
    assert 0.15 < found["lateral"] < 0.3 and found["axial"] >= 0.4  # FWHM 0.198 µm; 2 dz


def test_two_images_and_the_plot_never_overwritten(folder, tmp_path):
    plot = tmp_path / "frc.png"
    args = ("resolution", folder / "take1.tif", folder / "take2.tif", "-o", plot)
    done = run_cli(*args, "--threshold", "half-bit")
    assert done.returncode == 0, done.stderr
    assert "resolution by frc (threshold half-bit)" in done.stdout
    assert f"wrote {plot}" in done.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["frc.png"]  # no temporary left
    before = snapshot(tmp_path)
    again = run_cli(*args)
    assert again.returncode == 1
    assert again.stderr.startswith("deconvkit: error: plot file already exists") \
        and "--overwrite" in again.stderr and again.stdout == ""
    assert snapshot(tmp_path) == before
    replaced = run_cli(*args, "--overwrite", "--quiet")
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stderr == "" and figures(replaced.stdout)
    assert [p.name for p in tmp_path.iterdir()] == ["frc.png"]


def test_spacing_option_overrides_the_file(folder):
    pair = (folder / "take1.tif", folder / "take2.tif")
    plain = figures(run_cli("resolution", *pair).stdout)
    coarse = figures(run_cli("resolution", *pair, "--spacing", "0.4", "0.16", "0.16").stdout)
    assert plain and coarse["lateral"] == pytest.approx(2 * plain["lateral"], abs=0.0015)
    assert coarse["axial"] == pytest.approx(2 * plain["axial"], abs=0.0015)


def test_thinning_reads_photons_through_gain_and_offset(folder):
    plain = run_cli("resolution", folder / "take1.tif", "--method", "thinning", "--seed", "3")
    camera = run_cli("resolution", folder / "camera.tif", "--method", "thinning", "--seed", "3",
                     "--gain", "2", "--offset", "100")
    assert plain.returncode == camera.returncode == 0, camera.stderr
    assert figures(plain.stdout) == figures(camera.stdout) != {}


def test_checkerboard_on_a_plane_and_each_channel(folder):
    done = run_cli("resolution", folder / "plane.tif", "--method", "checkerboard")
    assert done.returncode == 0, done.stderr
    assert "pixel 0.08 x 0.08 µm" in done.stdout and set(figures(done.stdout)) == {"lateral"}
    assert "a single plane: the axial resolution is not measured" in done.stdout
    channels = run_cli("resolution", folder / "two.tif", "--direction", "lateral")
    assert channels.returncode == 0, channels.stderr
    assert "two.tif (C=0): resolution by decorrelation" in channels.stdout
    assert "two.tif (C=1): resolution by decorrelation" in channels.stdout


BAD = [
    (("plane.tif", "--direction", "axial"), 1,
     "the image is 1 voxel thick along Z: its axial resolution cannot be measured"),
    (("take1.tif", "plane.tif"), 1, "the images differ in shape"),
    (("flat.tif",), 1, "the image is constant (every voxel is 7)"),
    (("holes.tif", "--method", "checkerboard"), 1, "the image contains 9 NaN values"),
    (("take1.tif", "--method", "frc"), 2, "--method frc needs two images"),
    (("take1.tif", "--gain", "2"), 2, "--gain: only --method thinning takes --gain"),
    (("take1.tif", "-o", "curves.xyz"), 2, "cannot draw a figure as 'curves.xyz'"),
    (("take1.tif", "-o", "take1.tif", "--overwrite"), 1, "refusing to write over the input"),
]


def refused(folder, args, code, message, run):
    before = snapshot(folder)
    returncode, stdout, stderr = run(*args)
    assert returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deconvkit: error: "), stderr
    assert message in lines[0] and stdout == ""
    assert snapshot(folder) == before


def test_bad_input_through_the_command(folder):
    """Two of the refusals below, as a user meets them (exit codes 1 and 2)."""
    def run(*args):
        done = run_cli("resolution", *args, cwd=folder)
        return done.returncode, done.stdout, done.stderr

    for args, code, message in (BAD[0], BAD[4]):
        refused(folder, args, code, message, run)


@pytest.mark.parametrize(("args", "code", "message"), BAD)
def test_bad_input_is_one_line_and_writes_nothing(folder, capsys, monkeypatch, args, code,
                                                 message):
    monkeypatch.chdir(folder)

    def run(*args):
        returncode = main(["resolution", *args])
        captured = capsys.readouterr()
        return returncode, captured.out, captured.err

    refused(folder, args, code, message, run)
