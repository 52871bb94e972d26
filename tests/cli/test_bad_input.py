"""Bad inputs: each fails with a message that names the problem and the fix, or runs with a
note; a failure leaves no output and the inputs untouched."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile

import deconvkit as dk
from deconvkit.cli import main

from .conftest import SPACING, snapshot


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys, work, *args, code=1):
    """Run, expect failure with ``code``; check nothing changed; return stderr."""
    before = snapshot(work)
    got, out, err = cli(capsys, "deconvolve", *args)
    assert got == code, err
    assert err.startswith("deconvkit: error: ") and "Traceback" not in err
    assert out == ""
    assert snapshot(work) == before
    return err


def test_missing_file(capsys, work):
    err = refused(capsys, work, work / "nothere.tif", work / "psf.tif")
    assert "image file not found" in err and "check the path" in err


def test_missing_psf_file(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "nopsf.tif")
    assert f"PSF file not found: {work / 'nopsf.tif'}" in err and "image file" not in err


def test_missing_reference_file_is_named_before_any_work(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "--reference",
                  work / "nogt.tif")
    assert f"reference file not found: {work / 'nogt.tif'}" in err


def test_not_a_tiff(capsys, work):
    (work / "notes.tif").write_text("hello, I am text")
    err = refused(capsys, work, work / "notes.tif", work / "psf.tif")
    assert "not a readable TIFF file" in err and "notes.tif" in err


def test_corrupt_tiff(capsys, work):
    whole = (work / "img.tif").read_bytes()
    (work / "broken.tif").write_bytes(whole[: len(whole) // 2])
    err = refused(capsys, work, work / "broken.tif", work / "psf.tif")
    assert "not a readable TIFF file" in err and "truncated or corrupt" in err


def test_image_with_nan_and_inf(capsys, data, work):
    image = data.image.copy()
    image[0, 0, :2] = [np.nan, np.inf]
    tifffile.imwrite(work / "nan.tif", image.astype(np.float32), imagej=True,
                     metadata={"axes": "ZYX"})
    err = refused(capsys, work, work / "nan.tif", work / "psf.tif", "--spacing", "0.2", "0.1",
                  "0.1")  # the file has no voxel size: no warning before the error
    assert "nan.tif: the image contains 2 NaN or infinite values; replace them first" in err


def test_all_zero_image(capsys, work):
    dk.io.write(work / "zero.tif", np.zeros((8, 32, 32), np.float32), spacing=SPACING)
    err = refused(capsys, work, work / "zero.tif", work / "psf.tif")
    assert "is zero everywhere: there is nothing to deconvolve" in err


def test_zero_channel(capsys, data, work):
    stack = np.stack([data.image, np.zeros_like(data.image)])
    dk.io.write(work / "half.tif", stack, spacing=SPACING, axes="CZYX")
    err = refused(capsys, work, work / "half.tif", work / "psf.tif")
    assert "half.tif (C=1) is zero everywhere" in err


def test_psf_with_negative_values_is_clipped_and_normalized(capsys, data, work):
    psf = data.psf * 7.0
    psf[0, 0, 0] = -0.01
    dk.io.write(work / "neg_psf.tif", psf, spacing=SPACING)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "neg_psf.tif", "--iter",
                       "3")
    assert code == 0, err
    assert "warning: the PSF has 1 negative values" in err and "clipped to 0" in err
    assert (work / "rl_img.tif").exists()


def test_psf_not_normalized_gets_a_note(capsys, data, work):
    dk.io.write(work / "big_sum.tif", data.psf * 50.0, spacing=SPACING)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "big_sum.tif", "--iter",
                       "3")
    assert code == 0, err
    assert "note: the PSF" in err and "sums to 50, not 1: normalized to sum 1" in err


def test_psf_larger_than_the_image_is_kept_whole(capsys, work):
    psf = dk.psf.gaussian((11, 41, 41), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    dk.io.write(work / "huge_psf.tif", psf, spacing=SPACING)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "huge_psf.tif", "--iter",
                       "3")
    assert code == 0, err
    restored, _ = dk.io.read(work / "rl_img.tif")
    assert restored.shape == (8, 32, 32)
    record = json.loads((work / "rl_img.json").read_text(encoding="utf-8"))
    assert record["psf"][0]["shape"] == [11, 41, 41]
    # with a periodic boundary it would be cut: refused, with the fix
    err = refused(capsys, work, work / "img.tif", work / "huge_psf.tif", "--boundary",
                  "periodic", "-o", work / "p.tif")
    assert "larger than the image" in err and "boundary='extended'" in err


def test_even_sized_psf_gets_a_note(capsys, data, work):
    dk.io.write(work / "even_psf.tif", data.psf[:4, :8, :8], spacing=SPACING)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "even_psf.tif", "--iter",
                       "3")
    assert code == 0, err
    assert "has even sizes (4, 8, 8): its centre is taken at voxel (2, 4, 4)" in err


def test_off_centre_psf_is_recentred(capsys, data, work):
    dk.io.write(work / "off_psf.tif", np.roll(data.psf, 2, axis=2), spacing=SPACING)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "off_psf.tif", "--iter",
                       "3")
    assert code == 0, err
    assert "warning: the PSF's peak was at voxel" in err and "recentred" in err


def test_spacing_missing_from_file_and_options(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "nospacing.tif", work / "psf.tif", "--iter",
                       "3")
    assert code == 0, err
    assert "gives no voxel size and --spacing is not set: assuming 1 µm" in err
    record = json.loads((work / "rl_nospacing.json").read_text(encoding="utf-8"))
    assert record["spacing_source"] == "assumed" and record["spacing"] is None
    _, meta = dk.io.read(work / "rl_nospacing.tif")
    assert meta.spacing is None  # no invented calibration in the output


def test_spacing_option_overrides_the_file(capsys, work):
    code, _, err = cli(capsys, "deconvolve", work / "nospacing.tif", work / "psf.tif", "--iter",
                       "2", "--spacing", "0.3", "0.1", "0.1")
    assert code == 0 and "assuming" not in err
    _, meta = dk.io.read(work / "rl_nospacing.tif")
    assert np.allclose(meta.spacing, (0.3, 0.1, 0.1))


def test_negative_data_for_a_poisson_method(capsys, data, work):
    dk.io.write(work / "offset.tif", data.image - 20.0, spacing=SPACING)
    err = refused(capsys, work, work / "offset.tif", work / "psf.tif")
    assert "negative voxels" in err and "--clip-negative" in err
    code, _, err = cli(capsys, "deconvolve", work / "offset.tif", work / "psf.tif",
                       "--clip-negative", "--iter", "3")
    assert code == 0, err


def test_output_exists(capsys, work):
    (work / "out.tif").write_bytes(b"keep me")
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o", work / "out.tif")
    assert "output file already exists" in err and "--overwrite" in err
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "-o",
                       work / "out.tif", "--overwrite", "--iter", "2")
    assert code == 0, err
    assert dk.io.read(work / "out.tif")[0].shape == (8, 32, 32)


def test_default_output_exists(capsys, work):
    assert cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--iter", "2")[0] == 0
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "--iter", "2")
    assert f"output file already exists: {work / 'rl_img.tif'}" in err


def test_sidecar_exists(capsys, work):
    (work / "out.json").write_text("{}")
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o", work / "out.tif")
    assert "sidecar file already exists" in err


def test_output_is_the_input(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o", work / "img.tif",
                  "--overwrite")
    assert "refusing to write over the input file" in err


def test_output_folder_missing(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o",
                  work / "no" / "out.tif")
    assert "output folder does not exist" in err and "mkdir" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root can write to read-only folders, so the refusal cannot happen")
def test_output_folder_not_writable(capsys, work):
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o", locked / "o.tif")
    finally:
        locked.chmod(0o700)
    assert "output folder is not writable" in err


def test_reference_of_another_shape(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "--reference",
                  work / "plane_truth.tif")
    assert "the reference" in err and "they must match" in err


def test_wrong_number_of_psfs_for_the_channels(capsys, work):
    err = refused(capsys, work, work / "two.tif", "--psf", work / "psf.tif", "--psf",
                  work / "psf.tif", "--psf", work / "psf.tif", code=2)
    assert "3 PSF files for 2 channels" in err


def test_multichannel_psf_file(capsys, work):
    err = refused(capsys, work, work / "img.tif", work / "two.tif")
    assert "has axes CZYX" in err and "one ZYX PSF file per channel" in err


def test_unknown_option(capsys, work):
    before = snapshot(work)
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "psf.tif", "--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in err
    assert snapshot(work) == before


def test_a_psf_stored_with_another_voxel_size_warns(capsys, data, work):
    tifffile.imwrite(work / "coarse_psf.tif", data.psf, imagej=True, resolution=(5.0, 5.0),
                     metadata={"spacing": 0.4, "unit": "um", "axes": "ZYX"})
    code, _, err = cli(capsys, "deconvolve", work / "img.tif", work / "coarse_psf.tif",
                       "--iter", "2")
    assert code == 0, err
    assert "has voxel size 0.4, 0.2, 0.2 µm but the image 0.2, 0.1, 0.1 µm" in err


def test_output_folder_not_writable_as_the_system_reports_it(capsys, work, monkeypatch):
    """Runs as root too: the permission check itself is simulated."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    err = refused(capsys, work, work / "img.tif", work / "psf.tif", "-o", work / "o.tif")
    assert f"output folder is not writable: {work}; choose a folder you can write to" in err
