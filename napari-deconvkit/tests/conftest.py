"""Fixtures: a tiny blurred stack and its PSF, a napari viewer, and a viewer model.

The tests run headless under a virtual X server for napari's OpenGL canvas
(``xvfb-run -a python -m pytest``), with Qt's ``xcb`` platform there: Qt's
``offscreen`` platform on Xvfb failed to make a GL context in 3 of 22 starts
here (vispy's ``glGetString`` returned None), ``xcb`` in none of 24. Without a
display, ``offscreen``: everything but the real-viewer tests runs.
``viewer`` is the real thing (``make_napari_viewer``: window, canvas, docked
widgets), for the tests of what a user sees; ``model`` is napari's
``ViewerModel`` (layers, dims, grid, no canvas), which is all the widgets
use, for the tests of what they compute: a tenth of the cost per test.
"""

from __future__ import annotations

import os
import sys

if "QT_QPA_PLATFORM" not in os.environ:
    os.environ["QT_QPA_PLATFORM"] = "xcb" if os.environ.get("DISPLAY") else "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import deconvkit as dk  # noqa: E402

SPACING = (0.2, 0.1, 0.1)


@pytest.fixture(scope="session")
def tiny_psf() -> np.ndarray:
    return dk.psf.gaussian((5, 9, 9), SPACING, na=1.0, wavelength=0.52, ni=1.33)


@pytest.fixture(scope="session")
def tiny_stack(tiny_psf) -> np.ndarray:
    """An 8 x 24 x 24 blurred, noisy stack of beads (photons, background 5)."""
    obj = dk.simulate.phantom((12, 32, 32), SPACING, kind="beads", seed=3)
    y, _ = dk.simulate.observe(obj, tiny_psf, photons=200.0, background=5.0,
                               field_shape=(8, 24, 24), seed=4)
    return y


@pytest.fixture
def viewer(make_napari_viewer):
    """``make_napari_viewer()``, after checking that an OpenGL context can exist here."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        pytest.fail("napari's canvas needs OpenGL, which needs an X display here: run the "
                    "tests under `xvfb-run -a python -m pytest` (apt-get install xvfb)",
                    pytrace=False)
    return make_napari_viewer()


@pytest.fixture
def model(qapp):
    """A viewer without a window: ``napari.components.ViewerModel``."""
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def wait(qtbot):
    """``wait(panel)``: until the run panel's worker has finished (returned, failed, cancelled)."""

    def wait_done(panel, timeout: int = 30_000) -> None:
        qtbot.waitUntil(lambda: not panel.running, timeout=timeout)

    return wait_done
