"""The PSF generator widget: a theoretical PSF as a new layer, with its voxel size as its scale."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets

from ._common import RunPanel, _image_layers, connect_layer_events, make_model_psf
from ._engine import InputError
from ._forms import PSF_MODELS, ShapeInput, _float_box, psf_model_form, psf_model_values

__all__ = ["PSFWidget"]


class PSFWidget(widgets.Container):
    """Generate ``deconvkit.psf.<model>(shape, spacing, ...)`` as an image layer.

    The voxel size can be copied from a layer's scale (``like``), so the PSF
    is sampled like the stack it will deconvolve.
    """

    def __init__(self, napari_viewer: Any) -> None:
        self.viewer = napari_viewer
        self.model = widgets.ComboBox(name="model", choices=list(PSF_MODELS), value="born_wolf",
                                      tooltip="the PSF model (deconvkit.psf)")
        self.models = {model: psf_model_form(model) for model in PSF_MODELS}
        self.shape = ShapeInput("shape", (31, 63, 63), odd=True, label="shape (Z, Y, X)",
                                tooltip="odd sizes; the centre voxel is the focus")
        self.spacing_boxes = [_float_box(v, 1e-4, 100.0) for v in (0.2, 0.1, 0.1)]
        self.spacing = widgets.Container(name="spacing", label="voxel (µm)", layout="horizontal",
                                         labels=False, widgets=self.spacing_boxes,
                                         tooltip="voxel size (dz, dy, dx) in µm")
        self.spacing.margins = (0, 0, 0, 0)
        self.like = widgets.ComboBox(name="like", label="voxel from",
                                     choices=lambda _: [("-", None), *_image_layers(napari_viewer)],
                                     tooltip="copy the voxel size from this layer's scale")
        self.panel = RunPanel("Generate PSF", cancellable=False)
        top = widgets.Container(name="model_box", widgets=[self.model])
        sampling = widgets.Container(name="sampling", widgets=[self.shape, self.like,
                                                               self.spacing])
        for box in (top, sampling):
            box.margins = (0, 0, 0, 0)
        super().__init__(labels=False,
                         widgets=[top, *self.models.values(), sampling, self.panel])
        self.model.changed.connect(self._show)
        self.like.changed.connect(self._copy_spacing)
        self.panel.run_button.clicked.connect(self.run)
        connect_layer_events(napari_viewer, self)
        self._show()

    def _show(self, *_: Any) -> None:
        for model, form in self.models.items():
            form.visible = model == self.model.value

    def _copy_spacing(self, *_: Any) -> None:
        layer = self.like.value
        if layer is None:
            return
        scale = tuple(float(s) for s in layer.scale[-3:])
        if len(scale) == 3:
            for box, value in zip(self.spacing_boxes, scale):
                box.value = value

    @property
    def voxel(self) -> tuple[float, float, float]:
        return tuple(float(box.value) for box in self.spacing_boxes)

    def run(self, *_: Any) -> Any:
        """Compute the PSF in a worker thread and add it as a layer; returns the worker."""
        model = self.model.value
        params = psf_model_values(self.models[model])
        shape, spacing = self.shape.value, self.voxel
        if any(n % 2 == 0 for n in shape):
            self.panel.fail(InputError(f"the PSF shape {shape} must have odd sizes"))
            return None

        def compute(report, cancel) -> np.ndarray:
            return make_model_psf(model, params, shape, spacing)

        def add(psf: np.ndarray) -> None:
            label = f"NA {params['na']:g}, {params['wavelength']:g} µm"
            self.viewer.add_image(psf, name=f"psf [{model}, {label}]", scale=spacing,
                                  colormap="magma", units=("um",) * 3,
                                  metadata={"psf_model": model, "parameters": params,
                                            "shape": shape, "spacing": spacing})

        return self.panel.start(compute, add, busy=True)
