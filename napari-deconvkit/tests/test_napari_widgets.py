"""The widgets in a headless napari: build, run, cancel, channels, bad input.

The first tests dock the widget in a real viewer; the others give the widget
napari's ``ViewerModel`` (all it uses: layers, dims, grid), which is much cheaper.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import deconvkit as dk
from napari_deconvkit import ComparisonWidget, DeconvolutionWidget, PSFWidget
from napari_deconvkit import _engine
from napari_deconvkit._common import NO_IMAGE, grid

SPACING = (0.2, 0.1, 0.1)


def _add(viewer, data, name, scale=SPACING, **kwargs):
    return viewer.add_image(data, name=name, scale=scale, **kwargs)


def _dock(viewer, widget):
    """Dock in a real viewer; with a ViewerModel, the widget stands alone."""
    if hasattr(viewer, "window"):
        viewer.window.add_dock_widget(widget)
    return widget


def _deconvolution(viewer, image=None, psf=None, method="rl", **params):
    widget = _dock(viewer, DeconvolutionWidget(viewer))
    if image is not None:
        widget.image_input.image.value = image
    if psf is not None:
        widget.psf_input.psf.value = psf
    widget.method.value = method
    for name, value in params.items():
        getattr(widget.form, name).value = value
    return widget


def _error_notifications():
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [n for n in notification_manager.records
            if n.severity == NotificationSeverity.ERROR]


def test_the_widget_builds_a_form_for_every_method(viewer):
    widget = _deconvolution(viewer)
    for name, method in dk.methods.available().items():
        widget.method.value = name
        assert widget.summary.value == method.summary
        shown = [w.name for w in widget.parameters[0]]
        assert shown == [p.name for p in method.all_parameters if p.name != "spacing"]


def test_a_run_adds_a_layer_with_scale_name_and_metadata(viewer, wait, tiny_stack, tiny_psf):
    image = _add(viewer, tiny_stack, "stack")
    psf = _add(viewer, tiny_psf, "psf")
    widget = _deconvolution(viewer, image, psf, "rl", max_iter=5, background=5.0)
    assert widget.image_input.voxel.value == "0.2 x 0.1 x 0.1"
    worker = widget.run()
    assert worker is not None
    wait(widget.panel)
    assert widget.panel.status.value.startswith("done"), widget.panel.status.value
    out = viewer.layers[-1]
    assert out.name == "stack [rl, 5 it]"
    np.testing.assert_allclose(out.scale, SPACING)
    meta = out.metadata
    assert meta["method"] == "rl" and meta["n_iter"] == 5
    assert meta["stop_reason"] == "reached the maximum number of iterations (5)"
    assert meta["parameters"]["background"] == 5.0
    assert meta["parameters"]["spacing"] == SPACING
    assert meta["source"] == "stack" and meta["psf"] == "layer 'psf'"
    expected = dk.methods.run(tiny_stack, tiny_psf, "rl", max_iter=5, background=5.0,
                              spacing=SPACING).x
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)
    assert widget.panel.progress.value == widget.panel.progress.max == 5


def test_a_weight_chosen_by_auto_is_reported(model, wait, tiny_stack, tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = _deconvolution(model, image, psf, "trif", background=5.0)
    widget.form.lam.auto.value = True
    assert widget.parameter_values()["lam"] == "auto"
    widget.run()
    wait(widget.panel)
    choice = dk.methods.run(tiny_stack, tiny_psf, "trif", lam="auto", background=5.0,
                            spacing=SPACING).parameters["auto_weight"]
    omega = choice["omega"]  # trif's lam by GCV, its trace weighted by ω
    criterion = "GCV" if omega == 1 else f"weighted GCV, ω = {omega:g}"
    text = f"lam='auto' → {choice['value']:.3g} ({criterion})"
    status = widget.panel.status.value
    assert status.startswith("done in ") and status.endswith(text), status
    meta = model.layers[-1].metadata
    assert meta["auto_weight"].startswith(text)
    assert meta["runs"][0]["auto_weight"] == pytest.approx(choice["value"])


def test_an_automatic_search_says_each_weight_in_the_status_line(model, wait, tiny_stack,
                                                                 tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = _deconvolution(model, image, psf, "rltv", background=5.0, max_iter=5)
    widget.form.lam.auto.value = True
    shown = []  # the status line as each note arrives (after the panel's own slot set it)
    widget.panel._emitter.noted.connect(lambda _: shown.append(widget.panel.status.value))
    widget.run()
    wait(widget.panel)
    notes = [text for text in shown if text.startswith("running: ")]
    assert notes and notes[0].startswith("running: rltv: lam='auto': weight 1 of at most 10, "
                                         "lam=1: PURE "), shown
    assert widget.panel.status.value.startswith("done in ")
    # the panel stops listening when its run ends
    assert logging.getLogger("deconvkit.weight_search").handlers == []


def test_a_model_psf_is_sampled_like_the_image(model, wait, tiny_stack):
    image = _add(model, tiny_stack, "stack")
    widget = _deconvolution(model, image, None, "wif")
    widget.psf_input.source.value = "gaussian"
    widget.psf_input.shape.value = (7, 11, 11)
    widget.run()
    wait(widget.panel)
    out = model.layers[-1]
    assert out.name == "stack [wif]"
    assert out.metadata["psf"].startswith("gaussian(na=1.4, wavelength=0.52, ni=1.515")
    psf = dk.psf.gaussian((7, 11, 11), SPACING, na=1.4, wavelength=0.52, ni=1.515)
    np.testing.assert_allclose(out.data, dk.deconvolve(tiny_stack, psf, "wif", spacing=SPACING),
                               rtol=1e-5, atol=1e-6)


def test_cancel_leaves_no_layer(model, qtbot, wait, tiny_stack, tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = _deconvolution(model, image, psf, "rl", max_iter=100_000)
    widget.run()
    qtbot.waitUntil(lambda: widget.panel.progress.value >= 1, timeout=20_000)
    widget.panel.cancel_button.clicked.emit()  # what a click does
    wait(widget.panel)
    assert [layer.name for layer in model.layers] == ["stack", "psf"]
    assert widget.panel.status.value == "cancelled: no layer added"
    assert widget.panel.progress.value < 100_000
    assert widget.panel.run_button.enabled and not widget.panel.cancel_button.enabled


def test_channels_get_their_own_psf_and_time_points_warm_start(model, wait, tiny_stack,
                                                              tiny_psf):
    wide = dk.psf.gaussian((5, 9, 9), SPACING, na=0.8, wavelength=0.6, ni=1.33)
    data = np.stack([np.stack([tiny_stack, tiny_stack * 2]),
                     np.stack([tiny_stack * 1.1, tiny_stack * 2.2])])  # T, C, Z, Y, X
    image = _add(model, data, "movie", scale=(1.0, 1.0, *SPACING))
    psfs = _add(model, np.stack([tiny_psf, wide]), "psfs", scale=(1.0, *SPACING))
    widget = _deconvolution(model, image, psfs, "rl", max_iter=3)
    assert widget.image_input.axes.value == "TCZYX"
    widget.run()
    wait(widget.panel)
    out = model.layers[-1]
    assert out.data.shape == data.shape and out.name == "movie [rl, 3 it]"
    np.testing.assert_allclose(out.scale, (1.0, 1.0, *SPACING))
    assert out.metadata["axes"] == "TCZYX" and out.metadata["warm_start"]
    assert [(r["t"], r["c"]) for r in out.metadata["runs"]] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    for c, psf in enumerate((tiny_psf, wide)):
        first = dk.methods.run(data[0, c], psf, "rl", max_iter=3, spacing=SPACING).x
        second = dk.methods.run(data[1, c], psf, "rl", max_iter=3, spacing=SPACING, x0=first).x
        np.testing.assert_allclose(out.data[0, c], first, rtol=1e-5)
        np.testing.assert_allclose(out.data[1, c], second, rtol=1e-5)
    assert widget.panel.progress.value == 12


def test_no_image_layer_says_so_once(model):
    widget = _deconvolution(model)
    before = len(_error_notifications())
    assert widget.run() is None
    assert widget.panel.status.value == f"error: {NO_IMAGE}"
    assert len(_error_notifications()) == before + 1
    assert len(model.layers) == 0


def test_a_psf_with_the_wrong_number_of_axes_is_refused(model, tiny_stack, tiny_psf):
    image = _add(model, tiny_stack, "stack")
    flat = _add(model, tiny_psf[2], "flat psf", scale=SPACING[1:])
    widget = _deconvolution(model, image, flat)
    assert widget.run() is None
    assert widget.panel.last_error == (
        "the PSF layer 'flat psf' has 2 axes (9, 9) but the image's spatial axes are ZYX: "
        "give a ZYX PSF (3 axes)")
    assert len(model.layers) == 2


def test_a_psf_sampled_differently_is_refused(model, tiny_stack, tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf", scale=(0.3, 0.1, 0.1))
    widget = _deconvolution(model, image, psf)
    assert widget.run() is None
    assert "voxel size (0.3, 0.1, 0.1) µm differs from the image's" in widget.panel.last_error


def test_an_error_in_the_worker_is_shown_once(model, wait, tiny_stack, tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = _deconvolution(model, image, psf, "rl", background="dark")
    before = len(_error_notifications())
    widget.run()  # 'background' takes any object: the core refuses it in the worker
    wait(widget.panel)
    assert widget.panel.last_error == "background must be a number, an array or 'auto', got 'dark'"
    assert widget.panel.status.value == f"error: {widget.panel.last_error}"
    assert len(_error_notifications()) == before + 1
    assert len(model.layers) == 2


def test_run_options_are_passed_only_when_set(model, wait, monkeypatch, tiny_stack, tiny_psf):
    seen = []
    real = dk.methods.run

    def spy(image, psf, method, **kwargs):
        seen.append({k: kwargs[k] for k in ("backend", "tile_shape") if k in kwargs})
        kwargs.pop("backend", None), kwargs.pop("tile_shape", None)
        return real(image, psf, method, **kwargs)

    monkeypatch.setattr(_engine.methods, "run", spy)
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = _deconvolution(model, image, psf, "rl", max_iter=2)
    widget.run()
    wait(widget.panel)
    widget.run_options.backend.value = "cupy"
    widget.run_options.tile_shape.value = (8, 16, 16)
    widget.run()
    wait(widget.panel)
    assert seen == [{}, {"backend": "cupy", "tile_shape": (8, 16, 16)}]


def test_the_psf_widget_adds_a_layer_with_its_voxel_size(model, wait, tiny_stack):
    _add(model, tiny_stack, "stack", scale=(0.3, 0.08, 0.08))
    widget = PSFWidget(model)
    _dock(model, widget)
    widget.model.value = "gaussian"
    widget.shape.value = (5, 9, 9)
    widget.like.value = model.layers["stack"]
    assert widget.voxel == (0.3, 0.08, 0.08)
    widget.run()
    wait(widget.panel)
    out = model.layers[-1]
    assert out.name == "psf [gaussian, NA 1.4, 0.52 µm]"
    np.testing.assert_allclose(out.scale, (0.3, 0.08, 0.08))
    expected = dk.psf.gaussian((5, 9, 9), (0.3, 0.08, 0.08), na=1.4, wavelength=0.52, ni=1.515)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


@pytest.mark.parametrize("arrangement", ["stack", "grid"])
def test_the_comparison_shows_methods_side_by_side(model, wait, arrangement, tiny_stack,
                                                   tiny_psf):
    image = _add(model, tiny_stack, "stack")
    psf = _add(model, tiny_psf, "psf")
    widget = ComparisonWidget(model)
    _dock(model, widget)
    widget.image_input.image.value = image
    widget.psf_input.psf.value = psf
    widget.methods.value = ["rl", "wif"]
    widget.max_iter.value = 3
    widget.edit.value = "wif"
    widget.parameters[0].nsr.value = 0.2
    widget.layout_choice.value = arrangement
    widget.run()
    wait(widget.panel)
    assert widget.panel.status.value.startswith("done"), widget.panel.status.value
    wif = dk.deconvolve(tiny_stack, tiny_psf, "wif", nsr=0.2, spacing=SPACING)
    if arrangement == "stack":
        out = model.layers[-1]
        assert out.name == "stack [compare: wif, rl]" and out.data.shape == (2, *tiny_stack.shape)
        np.testing.assert_allclose(out.scale, (1.0, *SPACING))
        assert out.metadata["labels"] == ["wif", "rl, 3 it"]  # in the catalogue's order
        np.testing.assert_allclose(out.data[0], wif, rtol=1e-5, atol=1e-6)
    else:
        names = [layer.name for layer in model.layers]
        assert names[-2:] == ["stack [wif]", "stack [rl, 3 it]"] and grid(model).enabled
        np.testing.assert_allclose(model.layers[-2].data, wif, rtol=1e-5, atol=1e-6)


def test_the_comparison_needs_a_method(model, tiny_stack, tiny_psf):
    _add(model, tiny_stack, "stack")
    widget = ComparisonWidget(model)
    widget.methods.value = []
    assert widget.run() is None
    assert widget.panel.last_error == "no method chosen: select at least one in the list"
