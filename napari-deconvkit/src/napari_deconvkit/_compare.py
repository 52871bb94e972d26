"""The comparison widget: several methods on one image, the results side by side.

Every chosen method runs on the same image and PSF (one progress bar, one
Cancel), each with its own parameters (edited one method at a time; the
registry's defaults otherwise), the common ones (boundary, background) and
the iteration count shared. The results come
back as one layer with a method axis first (``stack``; the slider walks through
the methods) or as one layer per method in napari's grid view (``grid``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets

from deconvkit import methods

from ._common import ImageInput, PSFInput, RunPanel, connect_layer_events, grid, layer_kwargs
from ._engine import InputError, Job, Outcome, Progress, execute
from ._forms import FILLED_BY_WIDGET, method_form, parameter_widget, values

__all__ = ["ComparisonWidget"]

#: Methods chosen when the widget opens: a classic, a regularized and a closed form.
DEFAULT_METHODS = ("rl", "rltv", "wif")


class ComparisonWidget(widgets.Container):
    """Run several methods of the catalogue on one image and show the results side by side."""

    def __init__(self, napari_viewer: Any) -> None:
        self.viewer = napari_viewer
        self.image_input = ImageInput(napari_viewer)
        self.psf_input = PSFInput(napari_viewer)
        catalogue = list(methods.available())
        self.methods = widgets.Select(
            name="methods", label="methods", choices=catalogue,
            value=[m for m in DEFAULT_METHODS if m in catalogue] or catalogue[:2],
            tooltip="the methods to compare (Ctrl/Shift-click to choose several)")
        self.max_iter = widgets.SpinBox(name="max_iter", label="max_iter", value=50, min=1,
                                        max=100_000,
                                        tooltip="iterations of every iterative method")
        self.common = widgets.Container(
            name="common", widgets=[parameter_widget(p) for p in methods.COMMON
                                              if p.name not in FILLED_BY_WIDGET])
        self.common.margins = (0, 0, 0, 0)
        self.edit = widgets.ComboBox(name="edit", label="parameters of",
                                     choices=lambda _: list(self.methods.value),
                                     tooltip="edit one method's own parameters (the registry's "
                                             "defaults otherwise)")
        self.parameters = widgets.Container(name="parameters", labels=False)
        self.parameters.margins = (0, 0, 0, 0)
        self.layout_choice = widgets.ComboBox(
            name="arrangement", label="show as", choices=["stack", "grid"], value="stack",
            tooltip="stack: one layer with a method axis first; grid: one layer per method in "
                    "napari's grid view")
        self.panel = RunPanel("Compare")
        self._forms: dict[str, widgets.Container] = {}
        choice = widgets.Container(name="choice", widgets=[self.methods, self.max_iter])
        edit = widgets.Container(name="edit_box", widgets=[self.edit])
        show = widgets.Container(name="show_box", widgets=[self.layout_choice])
        for box in (choice, edit, show):
            box.margins = (0, 0, 0, 0)
        super().__init__(labels=False,
                         widgets=[self.image_input, self.psf_input, choice, self.common, edit,
                                  self.parameters, show, self.panel])
        self.methods.changed.connect(lambda *_: self.edit.reset_choices())
        self.edit.changed.connect(self._show_form)
        self.panel.run_button.clicked.connect(self.run)
        connect_layer_events(napari_viewer, self)
        self.edit.reset_choices()
        self._show_form()

    def form(self, name: str) -> widgets.Container:
        if name not in self._forms:
            self._forms[name] = method_form(methods.get(name), own_only=True)
        return self._forms[name]

    def _show_form(self, *_: Any) -> None:
        while len(self.parameters):
            self.parameters.pop()
        if self.edit.value:
            self.parameters.append(self.form(self.edit.value))

    def jobs(self) -> tuple[list[Job], Any, Any]:
        """One job per chosen method, checked now: ``(jobs, image layer, PSF maker)``."""
        chosen = list(self.methods.value)
        if not chosen:
            raise InputError("no method chosen: select at least one in the list")
        layer = self.image_input.layer()
        lay = self.image_input.layout()
        spacing = lay.spacing(layer.scale)
        make_psfs = self.psf_input.factory(lay, spacing, layer)
        jobs = []
        for name in chosen:
            spec = methods.get(name)
            params = {**values(self.common), **values(self.form(name)), "spacing": spacing}
            if spec.iterative:
                params["max_iter"] = int(self.max_iter.value)
            spec.validate(params)
            jobs.append(Job(data=layer.data, layout=lay, psfs=[], method=spec.name,
                            params=params))
        return jobs, layer, make_psfs

    def run(self, *_: Any) -> Any:
        """Run every chosen method in one worker thread; returns the worker (or None)."""
        try:
            jobs, layer, make_psfs = self.jobs()
        except (InputError, ValueError) as error:
            self.panel.fail(error)
            return None
        psf_text = self.psf_input.describe()
        arrangement = self.layout_choice.value

        def compute(report, cancel) -> list[Outcome]:
            psfs = make_psfs()
            progress = Progress(sum(job.total_steps for job in jobs), report, cancel)
            outcomes = []
            for job in jobs:
                job.psfs = psfs
                outcomes.append(execute(job, progress=progress))
            return outcomes

        def add(outcomes: list[Outcome]) -> str:
            labels = [outcome.label() for outcome in outcomes]
            metas = [outcome.metadata(source=layer.name, psf=psf_text) for outcome in outcomes]
            # for the status line: the weight each 'auto' parameter chose
            chosen = "; ".join(f"{meta['method']} {meta['auto_weight']}" for meta in metas
                               if "auto_weight" in meta)
            if arrangement == "grid":
                for outcome, label, meta in zip(outcomes, labels, metas):
                    self.viewer.add_image(outcome.data, **layer_kwargs(
                        layer, name=f"{layer.name} [{label}]", metadata=meta))
                grid(self.viewer).enabled = True
                return chosen
            stack = np.stack([outcome.data for outcome in outcomes])
            kwargs = layer_kwargs(layer)
            kwargs["scale"] = (1.0, *kwargs["scale"])
            kwargs["translate"] = (0.0, *kwargs["translate"])
            if "units" in kwargs:
                kwargs["units"] = ("pixel", *kwargs["units"])
            if "axis_labels" in kwargs:
                kwargs["axis_labels"] = ("method", *kwargs["axis_labels"])
            names = [meta["method"] for meta in metas]
            self.viewer.add_image(stack, name=f"{layer.name} [compare: {', '.join(names)}]",
                                  metadata={"methods": names, "labels": labels,
                                            "results": metas, "axis 0": "method"}, **kwargs)
            return chosen

        return self.panel.start(compute, add)
