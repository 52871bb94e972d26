"""What ``deconvkit deconvolve`` may write and what is on disk after any failure or signal.

Every output path is checked before the computation (``--progress 1`` would print an
iteration line otherwise); ``--overwrite`` replaces regular files only; the image and
its sidecar appear together or not at all; SIGTERM is handled like Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

import deconvkit as dk
from deconvkit.cli import main
from deconvkit.cli._common import CLIError, check_output
from deconvkit.cli._output import OutputFiles

from .conftest import SPACING, run_cli, sigint_catchable, snapshot


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys, work, *args, code=1):
    """Run in process, expect ``code`` before any iteration, and nothing changed."""
    before = snapshot(work)
    got, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif",
                      "--progress", "1", *args)
    assert got == code, err
    assert "RichardsonLucy" not in err, "the refusal came after the computation"
    assert err.startswith("deconvkit: error: ") and err.count("\n") == 1
    assert snapshot(work) == before
    return err


def earlier_pair(work: Path) -> dict:
    """An earlier result out.tif + out.json, and the snapshot of the folder with them."""
    dk.io.write(work / "out.tif", np.ones((8, 32, 32), np.float32), spacing=SPACING)
    (work / "out.json").write_text('{"earlier": true}\n', encoding="utf-8")
    return snapshot(work)


# -- every output path is checked before the computation ----------------------------------


def test_an_output_named_like_its_sidecar_is_refused_before_any_work(work):
    """``-o X.json --overwrite`` once replaced the image by its own JSON."""
    before = snapshot(work)
    done = run_cli("deconvolve", work / "img.tif", work / "psf.tif", "-o", work / "x.json",
                   "--overwrite", "--iter", "3", "--progress", "1")
    assert done.returncode == 2, done.stderr
    assert "not a TIFF file name" in done.stderr and ".tif" in done.stderr
    assert "RichardsonLucy" not in done.stderr
    assert snapshot(work) == before and not (work / "x.json").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_overwrite_never_replaces_a_special_file(work):
    """As root, ``-o /dev/null --overwrite`` replaced the device; a pipe stands in for it."""
    pipe = work / "out.tif"
    os.mkfifo(pipe)
    done = run_cli("deconvolve", work / "img.tif", work / "psf.tif", "-o", pipe,
                   "--overwrite", "--iter", "3", "--progress", "1")
    assert done.returncode == 1, done.stderr
    assert "named pipe (FIFO), not a regular file" in done.stderr
    assert "--overwrite replaces regular files only" in done.stderr
    assert "RichardsonLucy" not in done.stderr
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert not any(p.name.startswith(".") for p in work.iterdir())


@pytest.mark.parametrize("dangling", [True, False])
def test_a_symbolic_link_is_never_written_through(capsys, work, dangling):
    link = work / "out.tif"
    link.symlink_to(work / ("gone.tif" if dangling else "truth.tif"))
    err = refused(capsys, work, "-o", link, "--overwrite")
    assert "is a symbolic link to" in err and ("a missing file" in err) == dangling
    assert link.is_symlink()


def test_a_parent_that_is_a_file(capsys, work):
    (work / "notes.txt").write_text("mine")
    err = refused(capsys, work, "-o", work / "notes.txt" / "sub" / "out.tif")
    assert f"{work / 'notes.txt'} is a file, not a folder" in err


def test_a_sidecar_name_longer_than_the_file_system_allows(capsys, work):
    name = "a" * 251 + ".tif"  # 255 bytes: the image fits, its .json sidecar does not
    err = refused(capsys, work, "-o", work / name)
    assert "sidecar file name is too long" in err and "256 bytes" in err


def test_a_hard_link_to_an_input_is_an_input(capsys, work):
    os.link(work / "img.tif", work / "alias.tif")
    err = refused(capsys, work, "-o", work / "alias.tif", "--overwrite")
    assert "refusing to write over the input file" in err


def test_not_enough_disk_space_is_refused_before_the_work(capsys, work, monkeypatch):
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: real(path)._replace(free=1000))
    err = refused(capsys, work)
    assert "not enough disk space for the output" in err and "1 kB free" in err


def test_a_file_of_another_user_in_a_sticky_folder(tmp_path, monkeypatch):
    """The final rename would fail there (after the work): refuse it first."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    theirs = folder / "out.tif"
    theirs.write_bytes(b"theirs")
    me = os.stat(theirs).st_uid + 1  # neither the file's owner nor the folder's
    monkeypatch.setattr(os, "geteuid", lambda: me)
    with pytest.raises(CLIError, match="belongs to another user.*sticky folder"):
        check_output(theirs, True, [])


# -- the pair is published together; a failure says what is on disk ----------------------

_INJECT = """
import errno, os, sys
real = os.replace
ending, kind = sys.argv[1], sys.argv[2]
def replace(source, target, *args, **kwargs):
    if str(target).endswith(ending) and not str(source).endswith(".old"):
        if kind == "full":
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        raise KeyboardInterrupt  # Ctrl-C between the two renames
    return real(source, target, *args, **kwargs)
os.replace = replace
from deconvkit.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize(("ending", "kind", "code"), [
    ("out.json", "full", 1),   # the sidecar's rename fails after the image's (as it was)
    ("out.tif", "full", 1),    # the image's rename fails after the sidecar's (as it is)
    ("out.json", "interrupt", 130),
])
def test_a_failed_publish_keeps_the_earlier_pair(work, ending, kind, code):
    before = earlier_pair(work)
    with sigint_catchable():
        done = subprocess.run(
            [sys.executable, "-c", _INJECT, ending, kind, "deconvolve", str(work / "img.tif"),
             str(work / "psf.tif"), "-o", str(work / "out.tif"), "--overwrite", "--iter", "2",
             "-q"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.endswith(f"nothing was written; the earlier {work / 'out.tif'} and "
                         f"{work / 'out.json'} are unchanged"), line
    assert "Traceback" not in done.stderr
    assert snapshot(work) == before  # both earlier files, byte for byte; no temporary left


def test_sigterm_is_handled_like_ctrl_c(work):
    before = earlier_pair(work)
    process = subprocess.Popen(
        [sys.executable, "-m", "deconvkit", "deconvolve", str(work / "img.tif"),
         str(work / "psf.tif"), "-o", str(work / "out.tif"), "--overwrite", "--iter",
         "1000000", "--progress", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the iterations run
            line = process.stderr.readline()
            if line.startswith("RichardsonLucy:") and "iter" not in line:
                break
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # pragma: no cover - cleanup only
            process.kill()
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        f"deconvkit: error: terminated by SIGTERM: nothing was written; the earlier "
        f"{work / 'out.tif'} and {work / 'out.json'} are unchanged")
    assert snapshot(work) == before


def test_output_files_roll_back_when_the_last_rename_fails(tmp_path, monkeypatch):
    image = tmp_path / "out.tif"
    image.write_bytes(b"earlier image")
    (tmp_path / "out.json").write_text("{}")
    outputs = OutputFiles(image, overwrite=True)
    outputs.write_image(np.ones((2, 4, 4), np.float32), axes="ZYX")
    real = os.replace

    def fail_on_image(source, target, *args, **kwargs):
        if Path(target) == image and not str(source).endswith(".old"):
            raise OSError(5, "Input/output error", str(target))
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fail_on_image)
    with pytest.raises(CLIError, match="Input/output error"), outputs:
        outputs.publish({"new": True})
    assert image.read_bytes() == b"earlier image"
    assert (tmp_path / "out.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.tif"]
    assert outputs.describe().startswith("nothing was written; the earlier")


def test_output_files_publish_both_and_say_so(tmp_path):
    outputs = OutputFiles(tmp_path / "r.ome.tif", inputs=[tmp_path / "missing-input.tif"])
    assert outputs.sidecar == tmp_path / "r.ome.json" and outputs.describe() == \
        "nothing was written"
    with outputs:
        outputs.write_image(np.ones((2, 4, 4), np.float32), spacing=SPACING, axes="ZYX")
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
        outputs.publish({"method": "rl"})
    assert outputs.published
    assert outputs.describe() == f"{tmp_path / 'r.ome.tif'} and {tmp_path / 'r.ome.json'} " \
        "were written"
    assert json.loads((tmp_path / "r.ome.json").read_text()) == {"method": "rl"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.ome.json", "r.ome.tif"]


# -- OME output, the z step, the help, the reference metrics ---------------------------


def test_an_ome_output_is_an_ome_tiff_with_its_voxel_size(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--iter", "2",
                       "-o", work / "out.ome.tif", "-q")
    assert code == 0, err
    with tifffile.TiffFile(work / "out.ome.tif") as tif:
        assert tif.is_ome and not tif.is_imagej
    restored, meta = dk.io.read(work / "out.ome.tif")
    assert meta.flavor == "ome" and restored.shape == (8, 32, 32)
    assert meta.spacing == pytest.approx(SPACING)


def _bad_z_step(work: Path) -> Path:
    image, _ = dk.io.read(work / "img.tif")
    path = work / "bad_dz.tif"
    tifffile.imwrite(path, image, imagej=True, resolution=(10.0, 10.0),
                     metadata={"axes": "ZYX", "unit": "um", "spacing": -1.0})
    return path


def test_an_invalid_z_step_keeps_the_pixel_size_and_names_the_value(capsys, work):
    path = _bad_z_step(work)
    code, _, err = cli(capsys, "deconvolve", path, work / "psf.tif", "--iter", "2", "-q")
    assert code == 0, err
    assert "spacing = -1.0 in the ImageJ description" in err and "--z-step" in err
    record = json.loads((work / "rl_bad_dz.json").read_text(encoding="utf-8"))
    assert record["spacing"] == [None, pytest.approx(0.1), pytest.approx(0.1)]
    assert record["spacing_used"] == [1.0, pytest.approx(0.1), pytest.approx(0.1)]
    assert record["spacing_source"] == "file, dz assumed"


def test_z_step_supplies_only_the_missing_value(capsys, work):
    path = _bad_z_step(work)
    code, _, err = cli(capsys, "deconvolve", path, work / "psf.tif", "--iter", "2", "-q",
                       "--z-step", "0.2")
    assert code == 0, err
    assert "assuming" not in err
    record = json.loads((work / "rl_bad_dz.json").read_text(encoding="utf-8"))
    assert record["spacing_used"] == pytest.approx(list(SPACING))
    assert record["spacing_source"] == "file, dz from --z-step"
    assert dk.io.read(work / "rl_bad_dz.tif")[1].spacing == pytest.approx(SPACING)
    code, _, err = cli(capsys, "deconvolve", path, work / "psf.tif", "--z-step", "0.2",
                       "--spacing", "0.2", "0.1", "0.1", "-o", work / "o2.tif")
    assert code == 2 and "not both" in err


def test_max_iter_help_gives_each_method_its_own_default(capsys):
    assert main(["deconvolve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    rl = dk.methods.get("rl").defaults()["max_iter"]
    assert "default 100" not in text
    assert "default: the method's own" in text and f"rl {rl}," in text


def test_reference_metrics_share_one_footing_and_are_recorded_per_iteration(capsys, data,
                                                                             work):
    code, out, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--iter",
                         "6", "--reference", work / "truth.tif")
    assert code == 0, err
    assert "both of a·x + b, the affine fit" in out
    volume = json.loads((work / "rl_img.json").read_text(encoding="utf-8"))["volumes"][0]
    assert volume["metrics_fit"] == "affine"
    history = volume["history"]
    assert history["iteration"] == list(range(7))
    assert len(history["nrmse"]) == len(history["psnr"]) == len(history["psnr_raw"]) == 7
    restored, _ = dk.io.read(work / "rl_img.tif")
    x = restored.astype(np.float64)
    a, b = dk.metrics.affine_fit(x, data.truth.astype(np.float64))
    assert volume["nrmse"] == pytest.approx(dk.metrics.nrmse(x, data.truth), rel=1e-5)
    assert volume["psnr"] == pytest.approx(dk.metrics.psnr(a * x + b, data.truth), rel=1e-5)
    assert volume["psnr_input"] == pytest.approx(dk.metrics.psnr(
        np.polyval(dk.metrics.affine_fit(data.image.astype(np.float64),
                                         data.truth.astype(np.float64)), data.image),
        data.truth), rel=1e-5)
    # one footing: the better NRMSE is always the better PSNR
    order = np.argsort(history["nrmse"])
    assert np.all(np.diff(np.asarray(history["psnr"])[order]) <= 1e-9)
    assert volume["nrmse"] == pytest.approx(history["nrmse"][-1], rel=1e-4)
