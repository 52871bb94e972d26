"""Small simulated data sets written as TIFF files, and helpers to run the command."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile

import deconvkit as dk
from deconvkit.operators import extended_shape

SPACING = (0.2, 0.1, 0.1)
FIELD = (8, 32, 32)


@dataclass
class Data:
    """A folder of input files and the arrays behind them."""

    folder: Path
    image: np.ndarray  # ZYX observation
    truth: np.ndarray  # ZYX ground truth on the field
    psf: np.ndarray  # 5x9x9 Gaussian
    wide_psf: np.ndarray  # 5x9x9, wider (second channel)
    image2: np.ndarray  # second channel observation
    truth2: np.ndarray
    plane: np.ndarray  # 2D observation
    plane_truth: np.ndarray


def _observe(psf: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    obj = dk.simulate.phantom(extended_shape(FIELD, psf.shape), SPACING, kind="beads", seed=seed)
    return dk.simulate.observe(obj, psf, field_shape=FIELD, photons=300, background=5,
                               seed=seed + 1)


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    folder = tmp_path_factory.mktemp("cli-data")
    psf = dk.psf.gaussian((5, 9, 9), SPACING, na=1.2, wavelength=0.52, ni=1.33)
    wide = dk.psf.gaussian((5, 9, 9), SPACING, na=0.9, wavelength=0.61, ni=1.33)
    image, truth = _observe(psf, 0)
    image2, truth2 = _observe(wide, 10)
    psf2d = psf[2] / psf[2].sum()
    obj2d = dk.simulate.beads((40, 40), SPACING[1:], n=15, seed=3)
    plane, plane_truth = dk.simulate.observe(obj2d, psf2d, field_shape=(32, 32), photons=300,
                                             background=5, seed=4)
    dk.io.write(folder / "img.tif", image, spacing=SPACING)
    dk.io.write(folder / "truth.tif", truth, spacing=SPACING)
    dk.io.write(folder / "psf.tif", psf, spacing=SPACING)
    dk.io.write(folder / "wide_psf.tif", wide, spacing=SPACING)
    dk.io.write(folder / "img_u16.tif", image, spacing=SPACING, dtype="uint16")
    tifffile.imwrite(
        folder / "img.ome.tif", np.round(image).astype(np.uint16), ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeZ": 0.2, "PhysicalSizeY": 0.1,
                  "PhysicalSizeX": 0.1})
    dk.io.write(folder / "two.tif", np.stack([image, image2]), spacing=SPACING, axes="CZYX")
    dk.io.write(folder / "two_truth.tif", np.stack([truth, truth2]), spacing=SPACING,
                axes="CZYX")
    tifffile.imwrite(folder / "plane.tif", plane.astype(np.float32), imagej=True,
                     resolution=(10.0, 10.0), metadata={"unit": "um"})
    dk.io.write(folder / "plane_truth.tif", plane_truth[np.newaxis], spacing=SPACING)
    tifffile.imwrite(folder / "nospacing.tif", image.astype(np.float32))
    return Data(folder, image, truth, psf, wide, image2, truth2, plane, plane_truth)


@pytest.fixture
def work(data: Data, tmp_path: Path) -> Path:
    """A private copy of the data folder for one test."""
    target = tmp_path / "work"
    shutil.copytree(data.folder, target)
    return target


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Name -> (size, mtime_ns, sha256) of every file under ``folder`` (hidden ones too)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns, digest)
    return found


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m deconvkit ARGS`` in a subprocess."""
    with sigint_catchable():
        return subprocess.run([sys.executable, "-m", "deconvkit", *map(str, args)], check=False,
                              cwd=cwd, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def sigint_catchable() -> Iterator[None]:
    """Children started inside get SIGINT at its default, so Python turns it into
    KeyboardInterrupt: a test runner may ignore SIGINT, and an ignored signal is
    inherited across exec, while a handler is reset to the default."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
