"""Pieces the widgets share: the image and PSF pickers, and the run panel (worker, progress, cancel)."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Callable

import numpy as np
from magicgui import widgets
from qtpy.QtCore import QObject, Signal

from ._engine import Cancelled, InputError, Layout, axes_choices, guess_axes, layout
from ._forms import PSF_MODELS, OptionalValue, ShapeInput, psf_model_form, psf_model_values

__all__ = ["ImageInput", "PSFInput", "RunPanel", "connect_layer_events", "grid", "layer_kwargs",
           "make_model_psf", "model_shape"]

NO_IMAGE = ("no image layer: open a ZYX stack (File > Open) or a sample "
            "(File > Open Sample > deconvkit), then choose it here")


def _image_layers(viewer: Any) -> list[tuple[str, Any]]:
    from napari.layers import Image

    return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, Image)]


def connect_layer_events(viewer: Any, container: widgets.Container) -> None:
    """Refresh the layer combo boxes when layers are added, removed, reordered or renamed."""
    events = viewer.layers.events
    for event in (events.inserted, events.removed, events.reordered):
        event.connect(lambda *_: container.reset_choices())
    events.inserted.connect(
        lambda e: e.value.events.name.connect(lambda *_: container.reset_choices()))
    for layer in viewer.layers:
        layer.events.name.connect(lambda *_: container.reset_choices())


def _is_unset_scale(scale: Any) -> bool:
    return bool(np.allclose(np.asarray(scale, dtype=float), 1.0))


class ImageInput(widgets.Container):
    """The image layer, its axis order and the voxel size read from its ``scale``."""

    def __init__(self, viewer: Any, name: str = "image_input") -> None:
        self.viewer = viewer
        self.image = widgets.ComboBox(name="image", label="image",
                                      choices=lambda _: _image_layers(viewer),
                                      tooltip="the stack to deconvolve (an image layer)")
        # choices from the current layer: a container's reset_choices must not reset them
        self.axes = widgets.ComboBox(
            name="axes", label="axes", choices=self._axes_choices,
            tooltip="axis order of the layer: T (time) and C (channels) are deconvolved "
                    "volume by volume, a PSF per channel")
        self.voxel = widgets.Label(name="voxel", label="voxel (µm)",
                                   tooltip="from the layer's scale (dz, dy, dx): set it in µm "
                                           "(layer.scale) before running")
        super().__init__(name=name, widgets=[self.image, self.axes, self.voxel])
        self.margins = (0, 0, 0, 0)
        self.image.changed.connect(self._update)
        self.axes.changed.connect(self._update_voxel)
        self.image.reset_choices()  # the layers already open
        self._update()

    def _axes_choices(self, *_: Any) -> list[str]:
        combo = getattr(self, "image", None)
        layer = combo.value if combo is not None else None
        return list(axes_choices(layer.ndim)) if layer is not None else ["ZYX"]

    def layer(self) -> Any:
        """The chosen image layer, or :class:`InputError` when there is none."""
        layer = self.image.value
        if layer is None or layer not in self.viewer.layers:
            raise InputError(NO_IMAGE)
        if getattr(layer, "multiscale", False):
            raise InputError(f"{layer.name!r} is multiscale: deconvolve its full-resolution "
                             "level as a plain layer (layer.data[0])")
        if getattr(layer, "rgb", False):
            raise InputError(f"{layer.name!r} is RGB: split its colours into channels first")
        return layer

    def layout(self) -> Layout:
        layer = self.layer()
        return layout(layer.data.shape, self.axes.value or guess_axes(layer.ndim))

    def _update(self, *_: Any) -> None:
        layer = self.image.value
        if layer is None:
            self.voxel.value = "-"
            return
        hints = [layer.metadata.get("axes"), getattr(layer, "axis_labels", None),
                 self.viewer.dims.axis_labels[-layer.ndim:]]
        try:
            guess = guess_axes(layer.ndim, hints)
        except InputError:
            guess = None
        self.axes.reset_choices()
        if guess is not None:
            self.axes.value = guess
        self._update_voxel()

    def _update_voxel(self, *_: Any) -> None:
        layer = self.image.value
        if layer is None or not self.axes.value or len(self.axes.value) != layer.ndim:
            self.voxel.value = "-"
            return
        spacing = layout(layer.data.shape, self.axes.value).spacing(layer.scale)
        text = " x ".join(f"{s:.4g}" for s in spacing)
        self.voxel.value = text + ("  (scale unset!)" if _is_unset_scale(layer.scale) else "")


def model_shape(spatial_shape: tuple[int, ...], spacing: tuple[float, ...],
                na: float, wavelength: float, ni: float) -> tuple[int, ...]:
    """Odd PSF sizes that suit an image: the command line's rule (``deconvkit.cli``)."""
    from deconvkit.psf import suggest_shape as cli_model_shape

    if len(spatial_shape) == 3:
        return tuple(cli_model_shape(tuple(spatial_shape), tuple(spacing), na, wavelength, ni))
    shape3 = cli_model_shape((1, *spatial_shape[-2:]), (1.0, *spacing[-2:]), na, wavelength, ni)
    return tuple(shape3[1:])


def make_model_psf(model: str, params: dict[str, Any], shape: tuple[int, ...],
                   spacing: tuple[float, ...]) -> np.ndarray:
    """``deconvkit.psf.<model>`` sampled like the image; a 2D image gets the in-focus plane."""
    fn = PSF_MODELS[model]
    if len(shape) == 3:
        return fn(tuple(shape), tuple(spacing), **params)
    if len(shape) == 2:
        plane = fn((1, *shape), (float(spacing[0]), *spacing), **params)[0]
        return plane / plane.sum()
    raise InputError(f"a PSF model needs a YX or ZYX image, not {len(shape)} spatial axes")


class PSFInput(widgets.Container):
    """The PSF: a layer (one for all channels, or a channel axis first) or a model's parameters."""

    def __init__(self, viewer: Any, name: str = "psf_input") -> None:
        self.viewer = viewer
        self.source = widgets.ComboBox(
            name="psf_source", label="PSF from", choices=["layer", *PSF_MODELS], value="layer",
            tooltip="a PSF layer (measured or generated), or a theoretical model sampled like "
                    "the image")
        self.psf = widgets.ComboBox(
            name="psf", label="PSF layer", choices=lambda _: _image_layers(viewer),
            tooltip="ZYX (one PSF for all channels) or CZYX (one per channel); its scale, if "
                    "set, must match the image's")
        self.models = {model: psf_model_form(model) for model in PSF_MODELS}
        self.shape = OptionalValue(
            ShapeInput("psf_shape_sizes", (31, 63, 63), odd=True), "psf_shape",
            label="PSF shape", tooltip="unset: 2 nz - 1 planes and a lateral size from the "
                                       "Airy radius and the defocus cone, as the CLI sizes it")
        choice = widgets.Container(name="psf_choice", widgets=[self.source, self.psf])
        sizes = widgets.Container(name="psf_sizes", widgets=[self.shape])
        for box in (choice, sizes):
            box.margins = (0, 0, 0, 0)
        # labels=False: the groups and the model forms lay out their own labels
        super().__init__(name=name, labels=False, widgets=[choice, *self.models.values(), sizes])
        self.margins = (0, 0, 0, 0)
        self.source.changed.connect(self._show)
        self._show()

    def _show(self, *_: Any) -> None:
        chosen = self.source.value
        self.psf.visible = chosen == "layer"
        self.shape.visible = chosen != "layer"
        for model, form in self.models.items():
            form.visible = model == chosen

    def describe(self) -> str:
        if self.source.value == "layer":
            layer = self.psf.value
            return f"layer {layer.name!r}" if layer is not None else "layer"
        params = psf_model_values(self.models[self.source.value])
        text = ", ".join(f"{k}={v}" for k, v in params.items() if v is not None)
        return f"{self.source.value}({text})"

    def factory(self, lay: Layout, spacing: tuple[float, ...], image_layer: Any
                ) -> Callable[[], list[np.ndarray]]:
        """Checks the choice now (main thread) and returns what makes one PSF per channel.

        A model PSF is computed by the returned function, in the worker thread.
        """
        from ._engine import psf_per_channel

        if self.source.value == "layer":
            layer = self.psf.value
            if layer is None or layer not in self.viewer.layers:
                raise InputError("no PSF layer: choose one, or set 'PSF from' to a model "
                                 "(born_wolf, gibson_lanni, ...)")
            if layer is image_layer:
                raise InputError("the PSF layer is the image itself: choose the PSF's layer")
            psfs = psf_per_channel(layer.data, lay, f"the PSF layer {layer.name!r}")
            psf_spacing = tuple(float(s) for s in layer.scale[-len(lay.spatial):])
            if not _is_unset_scale(layer.scale) and not np.allclose(psf_spacing, spacing,
                                                                    rtol=0.01):
                raise InputError(
                    f"the PSF layer's voxel size {psf_spacing} µm differs from the image's "
                    f"{spacing}: resample the PSF, or make it with the image's voxel size")
            return lambda: psfs
        model = self.source.value
        params = psf_model_values(self.models[model])
        shape = self.shape.value
        if shape is None:
            shape = model_shape(lay.spatial_shape, spacing, params["na"],
                                params["wavelength"], params["ni"])
        elif len(lay.spatial) == 2:
            shape = shape[1:]
        if any(n % 2 == 0 for n in shape):
            raise InputError(f"the PSF shape {shape} must have odd sizes (the focus at the "
                             "centre voxel)")
        return lambda: [make_model_psf(model, params, tuple(shape), spacing)] * lay.n_channels


def grid(viewer: Any) -> Any:
    """The viewer's grid settings: ``viewer.canvas.grid`` (napari >= 0.9) or ``viewer.grid``."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def layer_kwargs(source: Any, **extra: Any) -> dict[str, Any]:
    """Keyword arguments of ``viewer.add_image`` that keep the source layer's geometry."""
    kwargs = {"scale": tuple(source.scale), "translate": tuple(source.translate)}
    for attribute in ("units", "axis_labels"):
        if hasattr(source, attribute):
            kwargs[attribute] = tuple(str(v) for v in getattr(source, attribute))
    kwargs.update(extra)
    return kwargs


class _Emitter(QObject):
    """Carries progress from the worker thread to the main thread (a queued Qt signal)."""

    progressed = Signal(int, int)
    noted = Signal(str)


class _SearchNotes(logging.Handler):
    """The weights an automatic search tries (``deconvkit.weight_search``), from one thread
    (the panel's worker), to the panel's status line."""

    def __init__(self, emitter: _Emitter) -> None:
        super().__init__(logging.INFO)
        self.emitter = emitter
        self.thread: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.emitter.noted.emit(record.getMessage())


def _listen(handler: logging.Handler, on: bool = True) -> None:
    """Attach (detach) ``handler`` to deconvkit's weight-search log, which is silent (its
    level unset) while no panel listens."""
    search = logging.getLogger("deconvkit.weight_search")
    if on:
        search.addHandler(handler)
        search.setLevel(logging.INFO)
    else:
        search.removeHandler(handler)
        if not search.handlers:
            search.setLevel(logging.NOTSET)


class RunPanel(widgets.Container):
    """Run and Cancel buttons, a progress bar and a status line; one run at a time.

    ``start(fn, on_result)`` runs ``fn(report, cancel)`` in a
    :func:`napari.qt.threading.create_worker` thread; ``report(done, total)`` may be
    called from it, ``cancel`` is a :class:`threading.Event` the computation
    checks (see :class:`~napari_deconvkit._engine.Progress`). ``on_result``
    runs in the main thread with the function's return value, unless the run
    was cancelled or failed: then only the status (and a napari notification
    for an error) says so. Text ``on_result`` returns follows ``done in ...`` in
    the status line (the weight an ``'auto'`` parameter chose).
    """

    def __init__(self, run_text: str = "Run", cancellable: bool = True,
                 name: str = "run_panel") -> None:
        self.run_button = widgets.PushButton(name="run_button", text=run_text)
        self.cancel_button = widgets.PushButton(name="cancel_button", text="Cancel",
                                                enabled=False, visible=cancellable)
        self.progress = widgets.ProgressBar(name="progress", min=0, max=1, value=0,
                                            label="progress")
        self.status = widgets.Label(name="status", value="", label="status")
        self.status.native.setWordWrap(True)
        buttons = widgets.Container(widgets=[self.run_button, self.cancel_button],
                                    layout="horizontal", labels=False)
        buttons.margins = (0, 0, 0, 0)
        super().__init__(name=name, widgets=[buttons, self.progress, self.status])
        self.margins = (0, 0, 0, 0)
        self.cancel_button.clicked.connect(self.cancel)
        self._emitter = _Emitter()
        self._emitter.progressed.connect(self._on_progress)
        self._emitter.noted.connect(self._on_note)
        self._notes = _SearchNotes(self._emitter)
        self._cancel = threading.Event()
        self._started = 0.0
        self.worker: Any = None
        self.last_error: str = ""

    @property
    def running(self) -> bool:
        return self.worker is not None

    def report(self, done: int, total: int) -> None:
        """Thread-safe progress: queued to the main thread."""
        self._emitter.progressed.emit(int(done), int(total))

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = min(done, self.progress.max)

    def _on_note(self, text: str) -> None:
        if self.running and not self._cancel.is_set():
            self.status.value = f"running: {text}"

    def fail(self, error: BaseException | str) -> None:
        """Show one clear message: in the status line and as a napari notification."""
        from napari.utils.notifications import show_error

        message = str(error).strip() or type(error).__name__
        self.last_error = message
        self.status.value = f"error: {message}"
        show_error(message)

    def start(self, fn: Callable[[Callable, threading.Event], Any],
              on_result: Callable[[Any], None], busy: bool = False) -> Any:
        from napari.qt.threading import create_worker

        if self.running:
            self.fail("a run is in progress: wait for it or cancel it")
            return None
        self._cancel = threading.Event()
        self.last_error = ""
        notes = self._notes

        def in_worker(report: Callable, cancel: threading.Event) -> Any:
            notes.thread = threading.get_ident()  # this run's search notes, not another panel's
            return fn(report, cancel)

        # errors are ours to show (_on_error): napari must not re-raise them in the event loop
        worker = create_worker(in_worker, self.report, self._cancel, _start_thread=False,
                               _ignore_errors=True)

        def returned(value: Any) -> None:
            try:
                note = on_result(value)
            except Exception as error:  # a result the viewer refuses: say so, keep running
                self.fail(error)
                return
            done = f"done in {seconds(time.perf_counter() - self._started)}"
            self.status.value = f"{done}; {note}" if note else done

        worker.returned.connect(returned)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.progress.value = 0
        self.progress.max = 0 if busy else 1  # max 0: a busy indicator
        self.status.value = "running..."
        self._started = time.perf_counter()
        _listen(notes)
        worker.start()
        return worker

    def cancel(self, *_: Any) -> None:
        if self.running:
            self._cancel.set()
            self.status.value = "cancelling..."

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            self.status.value = "cancelled: no layer added"
        else:
            self.fail(error)

    def _on_finished(self) -> None:
        _listen(self._notes, False)
        self.worker = None
        self.run_button.enabled = True
        self.cancel_button.enabled = False
        if self.progress.max == 0:
            self.progress.max = 1


def seconds(value: float) -> str:
    """``2.3 s`` or ``4 min 10 s``."""
    if value < 100:
        return f"{value:.1f} s"
    minutes = math.floor(value / 60)
    return f"{minutes} min {round(value - 60 * minutes)} s"
