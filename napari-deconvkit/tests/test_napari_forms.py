"""The forms are generated from the registry and the PSF models: every parameter, its range, its help."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from magicgui import widgets

import deconvkit as dk
from napari_deconvkit._forms import (
    ADVANCED,
    LARGE_FLOAT,
    PSF_MODELS,
    AutoValue,
    OptionalValue,
    method_form,
    parameter_widget,
    psf_model_form,
    psf_model_values,
    values,
)

CATALOGUE = dk.methods.available()


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_method_gets_a_widget_per_parameter(qapp, name):
    method = CATALOGUE[name]
    form = method_form(method)
    expected = [p for p in method.all_parameters if p.name != "spacing"]
    assert [w.name for w in form] == [p.name for p in expected]
    for p in expected:
        widget = getattr(form, p.name)
        assert widget.tooltip == p.help
        if p.choices is not None:
            assert isinstance(widget, widgets.ComboBox)
            assert tuple(widget.choices) == tuple(p.choices)
        elif p.type in (int, float) and p.default is not None:
            assert isinstance(widget, AutoValue) == p.auto
            box = widget.inner if p.auto else widget
            low, high = p.range or (None, None)
            assert box.min == (low if low is not None else box.min)
            assert box.max == (high if high is not None else box.max)
            if low is None:
                assert box.min < -1e5
            if high is None:
                assert box.max > 1e5
    # untouched, the form gives the registry's defaults, and the registry accepts them
    assert values(form) == {p.name: p.default for p in expected}
    method.validate(values(form))


def test_a_float_box_keeps_a_tenth_of_its_default(qapp):
    rltv = CATALOGUE["rltv"]
    lam = next(p for p in rltv.parameters if p.name == "lam")
    box = parameter_widget(lam).inner  # lam may be 'auto': the number box is inside
    box.value = lam.default / 10
    assert box.value == pytest.approx(lam.default / 10)
    assert (box.min, box.max) == lam.range


def test_an_optional_number_is_none_until_set(qapp):
    rel_tol = next(p for p in dk.methods.ITERATIVE if p.name == "rel_tol")
    widget = parameter_widget(rel_tol)
    assert isinstance(widget, OptionalValue) and widget.value is None
    assert not widget.inner.enabled
    widget.value = 1e-3
    assert widget.value == pytest.approx(1e-3) and widget.inner.enabled
    assert (widget.inner.min, widget.inner.max) == rel_tol.range


def _parameter(method, name):
    return next(p for p in CATALOGUE[method].all_parameters if p.name == name)


@pytest.mark.parametrize(("method", "name"), [("admm-tv", "lam"), ("wif", "nsr")])
def test_a_weight_the_data_may_choose_has_an_auto_box(qapp, method, name):
    p = _parameter(method, name)
    form = method_form(CATALOGUE[method])
    widget = getattr(form, name)
    assert isinstance(widget, AutoValue) and widget.tooltip == p.help
    assert not widget.auto.value and widget.inner.enabled  # unchecked: the registry default
    assert widget.value == pytest.approx(p.default)
    widget.auto.value = True  # what a click does
    assert not widget.inner.enabled
    assert values(form)[name] == "auto"
    CATALOGUE[method].validate(values(form))
    widget.auto.value = False
    assert widget.inner.enabled and values(form)[name] == pytest.approx(p.default)
    widget.value = "auto"
    assert widget.auto.value and widget.value == "auto"
    widget.value = 2 * p.default
    assert not widget.auto.value and widget.value == pytest.approx(2 * p.default)


def test_a_parameter_without_auto_has_no_auto_box(qapp):
    widget = parameter_widget(_parameter("lw", "gamma"))
    assert not isinstance(widget, AutoValue) and not hasattr(widget, "auto")
    assert isinstance(widget, widgets.FloatSpinBox)


def test_a_free_form_parameter_reads_numbers_and_words(qapp):
    background = next(p for p in dk.methods.COMMON if p.name == "background")
    widget = parameter_widget(background)
    assert widget.value == 0.0
    widget.value = "auto"
    assert widget.value == "auto"
    widget.value = 12.5
    assert widget.value == 12.5


@pytest.mark.parametrize("model", list(PSF_MODELS))
def test_psf_model_forms_follow_the_model_signatures(qapp, model):
    fn = PSF_MODELS[model]
    form = psf_model_form(model)
    signature = [n for n in inspect.signature(fn).parameters if n not in ("shape", "spacing")]
    assert [w.name for w in form if w.name != "more_optics"] == (
        [n for n in signature if n not in ADVANCED] + [n for n in signature if n in ADVANCED])
    for widget in form:
        if widget.name != "more_optics":
            assert widget.tooltip, f"{model}.{widget.name} has no help"
    shown = psf_model_values(form)
    assert not set(shown) & set(ADVANCED)
    form.more_optics.value = True if any(n in ADVANCED for n in signature) else False
    every = psf_model_values(form)
    assert set(every) == set(signature)
    psf = fn((5, 9, 9), (0.2, 0.1, 0.1), **every)  # the form's values are valid arguments
    assert psf.shape == (5, 9, 9) and np.isclose(psf.sum(), 1.0, atol=1e-5)


def test_confocal_model_choices_come_from_its_docstring(qapp):
    form = psf_model_form("confocal")
    assert set(form.model.choices) == {"gibson_lanni", "born_wolf", "vectorial"}
    assert form.na.max < LARGE_FLOAT
