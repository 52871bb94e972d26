"""Sample data through the plugin's manifest, and the guarded real-data sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_deconvkit import _sample_data


def test_the_manifest_is_valid():
    import npe2

    manifest = npe2.PluginManifest.from_file(
        Path(_sample_data.__file__).with_name("napari.yaml"))
    manifest.validate_imports()  # every command's python_name imports
    keys = {sample.key for sample in manifest.contributions.sample_data}
    assert keys == {"widefield", "cells3d"}


def test_the_simulated_sample_opens_with_its_psf(viewer):
    layers = viewer.open_sample("napari-deconvkit", "widefield")
    assert [layer.name for layer in layers] == [
        "widefield (simulated)", "psf (born_wolf, NA 1.2, 0.52 µm)", "ground truth"]
    data, psf, truth = (layer.data for layer in layers)
    assert data.shape == truth.shape == _sample_data.FIELD and psf.shape == _sample_data.PSF_SHAPE
    for layer in layers:
        np.testing.assert_allclose(layer.scale, _sample_data.SPACING)
    assert np.isclose(psf.sum(), 1.0, atol=1e-5)
    assert data.min() >= 0 and data.mean() > _sample_data.BACKGROUND  # photon counts, lit
    again = _sample_data.widefield()
    assert np.array_equal(again[0][0], data)  # seeded: the same stack every time


def test_cells3d_says_how_to_get_it_when_absent(monkeypatch):
    monkeypatch.setattr(_sample_data, "cells3d_path", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"skimage\.data\.cells3d\(\)"):
        _sample_data.cells3d()


def test_cells3d_loads_from_the_cache_as_czyx(monkeypatch, tmp_path):
    import tifffile

    zcyx = np.arange(3 * 2 * 4 * 5, dtype=np.uint16).reshape(3, 2, 4, 5)
    path = tmp_path / "cells3d.tif"
    tifffile.imwrite(path, zcyx)
    monkeypatch.setattr(_sample_data, "cells3d_path", lambda: path)
    (data, kwargs, kind), = _sample_data.cells3d()
    assert kind == "image" and data.shape == (2, 3, 4, 5)
    assert np.array_equal(data[1], zcyx[:, 1])
    assert kwargs["metadata"]["axes"] == "CZYX" and kwargs["scale"][1:] == (0.29, 0.26, 0.26)
