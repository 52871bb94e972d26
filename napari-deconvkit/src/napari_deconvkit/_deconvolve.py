"""The deconvolution widget: image + PSF, a method of the catalogue and its parameters, run.

The method list and every parameter's widget come from the registry
(:func:`deconvkit.methods.available`), so whatever the command line offers,
the widget offers too. The run goes through :func:`deconvkit.methods.run` in a
worker thread (:mod:`._engine`), volume by volume for time series and
channels; the result is a new layer that keeps the image's ``scale`` and
records what made it in its ``metadata``. A parameter deconvkit may choose
from the data (``lam``, ``nsr``) has an ``auto`` check box; the value chosen
is shown in the status line and kept in the metadata (``auto_weight``).
"""

from __future__ import annotations

from typing import Any

from magicgui import widgets

from deconvkit import methods

from ._common import ImageInput, PSFInput, RunPanel, connect_layer_events, layer_kwargs
from ._engine import InputError, Job, Outcome, execute
from ._forms import OptionalValue, ShapeInput, method_form, values

__all__ = ["DeconvolutionWidget", "RUN_OPTIONS"]

#: Options of the run itself (not of a method), passed only when the user sets them:
#: ``backend`` (``"numpy"``, ``"cupy"``, ``"auto"``) and ``tile_shape`` (Z, Y, X).
RUN_OPTIONS = ("backend", "tile_shape")
DEFAULT = "(default)"


def run_options_form(skip: tuple[str, ...] = ()) -> widgets.Container:
    """``backend`` and ``tile_shape``, unless the registry already describes them (``skip``)."""
    items: list[widgets.Widget] = []
    if "backend" not in skip:
        items.append(widgets.ComboBox(
            name="backend", choices=[DEFAULT, "numpy", "cupy", "auto"], value=DEFAULT,
            tooltip="array backend: numpy (CPU), cupy (GPU) or auto; (default) leaves "
                    "deconvkit's choice"))
    if "tile_shape" not in skip:
        items.append(OptionalValue(
            ShapeInput("tile_sizes", (64, 256, 256), maximum=65536), "tile_shape",
            label="tile shape", tooltip="deconvolve in tiles of this size (Z, Y, X) with a "
                                        "halo; unset: the whole volume at once"))
    form = widgets.Container(name="run_options", widgets=items)
    form.margins = (0, 0, 0, 0)
    return form


def run_option_values(form: widgets.Container) -> dict[str, Any]:
    """Only what the user set: ``backend`` other than the default, ``tile_shape`` if checked."""
    out: dict[str, Any] = {}
    for name, value in values(form).items():
        if value is None or value == DEFAULT:
            continue
        out[name] = tuple(value) if name == "tile_shape" else value
    return out


class DeconvolutionWidget(widgets.Container):
    """Deconvolve an image layer by a PSF layer or model with any method of the catalogue."""

    def __init__(self, napari_viewer: Any) -> None:
        self.viewer = napari_viewer
        self.image_input = ImageInput(napari_viewer)
        self.psf_input = PSFInput(napari_viewer)
        catalogue = methods.available()
        self.method = widgets.ComboBox(name="method", label="method", choices=list(catalogue),
                                       value="rl" if "rl" in catalogue else next(iter(catalogue)))
        self.summary = widgets.Label(name="summary", label=" ")
        self.summary.native.setWordWrap(True)
        method_box = widgets.Container(name="method_box", widgets=[self.method, self.summary])
        method_box.margins = (0, 0, 0, 0)
        self.parameters = widgets.Container(name="parameters", labels=False)
        self.parameters.margins = (0, 0, 0, 0)
        self.run_options = run_options_form()
        self.warm_start = widgets.CheckBox(
            name="warm_start", value=True, text="warm start each time point from the previous",
            tooltip="time series: start each time point's solver from the previous result "
                    "(x0=); fewer iterations reach the same quality")
        self.panel = RunPanel("Deconvolve")
        self._forms: dict[str, widgets.Container] = {}
        # labels=False here: each group lays out its own labels, no nested label column
        super().__init__(labels=False,
                         widgets=[self.image_input, self.psf_input, method_box,
                                  self.parameters, self.run_options, self.warm_start,
                                  self.panel])
        self.method.changed.connect(self._show_method)
        self.panel.run_button.clicked.connect(self.run)
        connect_layer_events(napari_viewer, self)
        self._show_method()

    # -- the method's form ------------------------------------------------------------------

    @property
    def form(self) -> widgets.Container:
        """The parameter form of the chosen method (kept per method while the widget lives)."""
        name = self.method.value
        if name not in self._forms:
            self._forms[name] = method_form(methods.get(name))
        return self._forms[name]

    def _show_method(self, *_: Any) -> None:
        spec = methods.get(self.method.value)
        self.summary.value = spec.summary
        self.method.tooltip = spec.summary
        form = self.form
        while len(self.parameters):
            self.parameters.pop()
        self.parameters.append(form)
        # run options the registry describes are the form's own: no duplicate widgets
        known = {p.name for p in spec.all_parameters}
        for widget in self.run_options:
            widget.visible = widget.name not in known

    def parameter_values(self) -> dict[str, Any]:
        """The method's parameters as the user set them (``spacing`` excluded)."""
        return values(self.form)

    # -- running ------------------------------------------------------------------------------

    def job(self) -> tuple[Job, Any, Any]:
        """Everything the run needs, checked now: ``(job, image layer, PSF maker)``.

        Raises :class:`InputError` (or the registry's ``ValueError``) with a
        one-line message for bad input.
        """
        layer = self.image_input.layer()
        lay = self.image_input.layout()
        spacing = lay.spacing(layer.scale)
        make_psfs = self.psf_input.factory(lay, spacing, layer)
        spec = methods.get(self.method.value)
        params = {**self.parameter_values(), "spacing": spacing}
        spec.validate(params)  # the registry's own message, before any thread starts
        known = {p.name for p in spec.all_parameters}
        params.update({k: v for k, v in run_option_values(self.run_options).items()
                       if k not in known})
        job = Job(data=layer.data, layout=lay, psfs=[], method=spec.name, params=params,
                  warm_start=bool(self.warm_start.value))
        return job, layer, make_psfs

    def run(self, *_: Any) -> Any:
        """Check the input, then deconvolve in a worker thread; returns the worker (or None)."""
        try:
            job, layer, make_psfs = self.job()
        except (InputError, ValueError) as error:
            self.panel.fail(error)
            return None
        psf_text = self.psf_input.describe()

        def compute(report, cancel) -> Outcome:
            job.psfs = make_psfs()
            return execute(job, report, cancel)

        def add(outcome: Outcome) -> str:
            self.viewer.add_image(outcome.data, **layer_kwargs(
                layer, name=f"{layer.name} [{outcome.label()}]",
                metadata=outcome.metadata(source=layer.name, psf=psf_text),
                colormap=layer.colormap.name, blending=layer.blending))
            return outcome.auto_weight()  # for the status line: the weight 'auto' chose

        return self.panel.start(compute, add)
