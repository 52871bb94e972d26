"""The command line's tiles, OME-Zarr outputs and their resumption, backends, views, blind PSFs.

Every case runs ``python -m deconvkit`` in a subprocess, as a user would.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import deconvkit as dk

from .conftest import run_cli, sigint_catchable


def test_a_tiled_run_gives_the_untiled_image(work):
    whole = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "8", "--background", "5",
                    "-o", "whole.tif", "-q", cwd=work)
    tiled = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "8", "--background", "5",
                    "--tile-shape", "8,16,16", "-o", "tiled.tif", "-q", cwd=work)
    assert whole.returncode == 0 and tiled.returncode == 0, tiled.stderr
    a, _ = dk.io.read(work / "whole.tif")
    b, _ = dk.io.read(work / "tiled.tif")
    assert float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(a**2))) < 0.01
    record = json.loads((work / "tiled.json").read_text())
    assert record["tiles"]["count"] == 4 and record["tiles"]["tile_shape"] == [8, 16, 16]


def test_an_ome_zarr_output_keeps_the_voxel_size_and_is_refused_twice(work):
    done = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "4", "--tile-shape",
                   "8,16,16", "-o", "out.ome.zarr", "-q", cwd=work)
    assert done.returncode == 0, done.stderr
    stored, meta = dk.io.open_zarr(work / "out.ome.zarr")
    assert stored.shape == (8, 32, 32) and meta.spacing == pytest.approx((0.2, 0.1, 0.1))
    assert (work / "out.ome.json").exists() and not (work / "out.ome.zarr.partial").exists()
    again = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "4", "--tile-shape",
                    "8,16,16", "-o", "out.ome.zarr", cwd=work)
    assert again.returncode == 1 and "already exists" in again.stderr
    replaced = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "4", "--tile-shape",
                       "8,16,16", "-o", "out.ome.zarr", "--overwrite", "-q", cwd=work)
    assert replaced.returncode == 0, replaced.stderr


def test_overwrite_never_replaces_a_folder_deconvkit_did_not_write(work):
    (work / "mine.zarr").mkdir()
    (work / "mine.zarr" / "precious.txt").write_text("keep me")
    refused = run_cli("deconvolve", "img.tif", "psf.tif", "--iter", "2", "--tile-shape",
                      "8,16,16", "-o", "mine.zarr", "--overwrite", cwd=work)
    assert refused.returncode == 1 and "deconvkit did not write it" in refused.stderr
    assert (work / "mine.zarr" / "precious.txt").read_text() == "keep me"


def test_an_interrupted_tiled_run_resumes_where_it_stopped(work):
    big = np.tile(dk.io.read(work / "img.tif")[0], (1, 4, 4))  # 8x128x128: 64 tiles of 16x16
    dk.io.write(work / "big.tif", big, spacing=(0.2, 0.1, 0.1))
    command = [sys.executable, "-m", "deconvkit", "deconvolve", "big.tif", "psf.tif", "--iter",
               "200", "--tile-shape", "8,16,16", "-o", "out.ome.zarr", "-q", "--threads", "1"]
    partial = work / "out.ome.zarr.partial"
    with sigint_catchable():
        process = subprocess.Popen(command, cwd=work, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            written = partial / "0"
            if written.is_dir() and len([f for f in written.iterdir()
                                         if not f.name.startswith(".")]) >= 2:
                break  # two tiles' chunks are on disk
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before it could be interrupted on this machine")
    assert process.returncode == 143, stderr
    assert "--resume" in stderr and partial.exists() and not (work / "out.ome.zarr").exists()
    finished = run_cli("deconvolve", "big.tif", "psf.tif", "--iter", "200", "--tile-shape",
                       "8,16,16", "-o", "out.ome.zarr", "-q", "--resume", "--threads", "1",
                       cwd=work, timeout=300)
    assert finished.returncode == 0, finished.stderr
    resumed, _ = dk.io.open_zarr(work / "out.ome.zarr")
    expected = dk.deconvolve(big, dk.io.read(work / "psf.tif")[0], "rl", max_iter=200,
                             tile_shape=(8, 16, 16), spacing=(0.2, 0.1, 0.1))
    np.testing.assert_allclose(np.asarray(resumed), expected, rtol=1e-4,
                               atol=1e-4 * float(expected.max()))
    other = run_cli("deconvolve", "big.tif", "psf.tif", "--iter", "5", "--tile-shape",
                    "8,16,16", "-o", "again.ome.zarr", "--resume", cwd=work)
    assert other.returncode == 2 and "no unfinished run" in other.stderr


def test_the_memory_refusal_proposes_a_tile_shape(work):
    big = np.tile(dk.io.read(work / "img.tif")[0], (1, 4, 4))
    dk.io.write(work / "big.tif", big, spacing=(0.2, 0.1, 0.1))
    refused = run_cli("deconvolve", "big.tif", "psf.tif", "--method", "admm-hessian",
                      "--memory-limit", "0.045", cwd=work)
    assert refused.returncode == 3
    assert "--tile-shape" in refused.stderr and "\n" not in refused.stderr.strip()


@pytest.mark.parametrize("args, message", [
    (["--tile-shape", "0,8,8"], "positive voxel counts"),
    (["--tile-shape", "8,x,8"], "whole numbers of voxels"),
    (["--tile-shape", "8,8"], "needs 3 values"),
    (["--resume"], "finishes an OME-Zarr output"),
])
def test_bad_tile_options_are_one_line(work, args, message):
    done = run_cli("deconvolve", "img.tif", "psf.tif", *args, cwd=work)
    assert done.returncode == 2 and message in done.stderr
    assert not list(work.glob("rl_img*"))


def test_the_cupy_backend_without_a_gpu_is_one_clear_line(work):
    if dk.backend.gpu_status()[0]:
        pytest.skip("a GPU is present: the refusal cannot happen")
    done = run_cli("deconvolve", "img.tif", "psf.tif", "--backend", "cupy", cwd=work)
    assert done.returncode == 2
    assert 'pip install "deconvkit[gpu]"' in done.stderr or "CUDA" in done.stderr
    assert done.stderr.count("\n") == 1 and not list(work.glob("rl_img*"))


def test_views_are_deconvolved_into_one_image(work, data):
    psf = dk.io.read(work / "psf.tif")[0]
    done = run_cli("deconvolve", "--views", "img.tif", "img.tif", "--psfs", "psf.tif",
                   "--iter", "6", "--background", "5", "-o", "joint.tif", "-q", cwd=work)
    assert done.returncode == 0, done.stderr
    joint, meta = dk.io.read(work / "joint.tif")
    expected = dk.methods.run([data.image, data.image], psf, "rl", max_iter=6, background=5.0,
                              spacing=(0.2, 0.1, 0.1)).x
    np.testing.assert_allclose(joint, expected, rtol=1e-4, atol=1e-4 * float(expected.max()))
    assert meta.spacing == pytest.approx((0.2, 0.1, 0.1))


def test_channels_as_views_and_view_errors(work):
    done = run_cli("deconvolve", "two.tif", "--channels-as-views", "--psfs", "psf.tif",
                   "wide_psf.tif", "--iter", "4", "-o", "joint.tif", "-q", cwd=work)
    assert done.returncode == 0, done.stderr
    assert dk.io.read(work / "joint.tif")[0].shape == (8, 32, 32)
    wrong = run_cli("deconvolve", "--views", "img.tif", "img.tif", "--psfs", "psf.tif",
                    "psf.tif", "psf.tif", cwd=work)
    assert wrong.returncode == 2 and "3 PSFs for 2 views" in wrong.stderr
    method = run_cli("deconvolve", "--views", "img.tif", "img.tif", "--psfs", "psf.tif",
                     "--method", "wif", cwd=work)
    assert method.returncode == 2 and "takes one view" in method.stderr


def test_estimate_psf_writes_the_psf_beside_the_image(work):
    done = run_cli("deconvolve", "img.tif", "psf.tif", "--estimate-psf", "blind", "--iter",
                   "10", "--background", "5", "-o", "blind.tif", "-q", cwd=work, timeout=300)
    assert done.returncode == 0, done.stderr
    psf, meta = dk.io.read(work / "blind_psf.tif")
    assert np.all(psf >= 0) and abs(float(psf.sum()) - 1.0) < 1e-3
    record = json.loads((work / "blind.json").read_text())
    assert "psf_estimate" in record["parameters"]
    refused = run_cli("deconvolve", "img.tif", "psf.tif", "--estimate-psf", "zernike", cwd=work)
    assert refused.returncode == 2 and "--psf-model" in refused.stderr
