"""Screenshot of the deconvolution widget docked in napari, headless.

    cd napari-deconvkit
    QT_QPA_PLATFORM=xcb xvfb-run -a python scripts/screenshot.py ../docs/images/napari-widget.png

Opens the simulated widefield sample, docks the Deconvolve widget, runs RL
(30 iterations, background 10) and saves the whole window
(``viewer.screenshot(canvas_only=False)``), the result beside the data.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_deconvkit import DeconvolutionWidget
from napari_deconvkit._common import grid


def main(out: str) -> None:
    viewer = napari.Viewer(show=False)
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-deconvkit", "widefield")
    widget = DeconvolutionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="deconvkit: Deconvolve", area="right")
    widget.psf_input.psf.value = viewer.layers["psf (born_wolf, NA 1.2, 0.52 µm)"]
    widget.form.max_iter.value = 30
    widget.form.background.value = 10.0
    widget.run()
    app = QApplication.instance()
    start = time.perf_counter()
    while widget.panel.running and time.perf_counter() - start < 120:
        app.processEvents()
        time.sleep(0.02)
    if widget.panel.status.value.startswith("error"):
        raise SystemExit(widget.panel.status.value)
    viewer.layers["psf (born_wolf, NA 1.2, 0.52 µm)"].visible = False
    grid(viewer).enabled = True
    viewer.scale_bar.visible = True
    viewer.scale_bar.unit = "um"
    viewer.dims.set_point(0, viewer.layers[0].scale[0] * 12)  # the middle plane
    for layer in viewer.layers:
        if layer.visible:
            layer.reset_contrast_limits()
    viewer.reset_view()
    image = viewer.screenshot(canvas_only=False, flash=False)
    from imageio.v3 import imwrite

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    imwrite(out, image)
    print(f"{out}: {image.shape[1]}x{image.shape[0]}")
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "napari-widget.png")
