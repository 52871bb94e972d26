"""magicgui forms generated from deconvkit's descriptions, so the plugin and the CLI cannot drift.

* a method's parameters come from the registry
  (:func:`deconvkit.methods.available`, :class:`~deconvkit.methods.Parameter`):
  a spin box with the parameter's range for a number (with a check box when it
  may be None, and an ``auto`` check box when deconvkit may choose it from the
  data: :class:`AutoValue`), a combo box for choices, a check box for a flag, a
  text field for a string or anything else (read as a Python literal: ``0.0``,
  ``auto``, ``(1, 2)``); the help is the tooltip;
* a PSF model's parameters come from the model function's signature and
  numpydoc docstring (:mod:`deconvkit.psf`), with the ranges below.

Every form is a :class:`magicgui.widgets.Container` whose widgets are named
after the parameters; :func:`values` reads them back as keyword arguments.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from typing import Any, Callable

import docstring_parser
from magicgui import widgets

from deconvkit import psf as psf_models
from deconvkit.methods import Method, Parameter

__all__ = [
    "AutoValue",
    "OptionalValue",
    "PSF_MODELS",
    "ShapeInput",
    "method_form",
    "parameter_widget",
    "psf_model_form",
    "psf_model_values",
    "values",
]

#: Spin boxes need finite bounds: an open end of a range becomes this.
LARGE_INT = 1_000_000
LARGE_FLOAT = 1e9

#: Registry parameters the deconvolution widget fills itself (from the layer's scale).
FILLED_BY_WIDGET = ("spacing",)


class OptionalValue(widgets.Container):
    """A value that may be left unset (``None``): a check box enabling an inner widget."""

    def __init__(self, inner: widgets.ValueWidget, name: str, enabled: bool = False,
                 tooltip: str | None = None, label: str | None = None) -> None:
        self.set = widgets.CheckBox(value=enabled, text="", tooltip="unset: None (the default)")
        self.inner = inner
        inner.enabled = enabled
        self.set.changed.connect(lambda on: setattr(self.inner, "enabled", bool(on)))
        super().__init__(widgets=[self.set, inner], layout="horizontal", labels=False,
                         name=name, label=label or name, tooltip=tooltip)
        self.margins = (0, 0, 0, 0)

    @property
    def value(self) -> Any:
        return self.inner.value if self.set.value else None

    @value.setter
    def value(self, value: Any) -> None:
        self.set.value = value is not None
        if value is not None:
            self.inner.value = value


class AutoValue(widgets.Container):
    """A number deconvkit may choose from the data: an ``auto`` check box disabling the number box.

    Checked, ``value`` is the string ``"auto"`` (a registry parameter with
    ``auto=True``); unchecked, the number box's value.
    """

    def __init__(self, inner: widgets.ValueWidget, name: str, tooltip: str | None = None,
                 label: str | None = None) -> None:
        self.auto = widgets.CheckBox(value=False, text="auto",
                                     tooltip=f"{name}='auto': chosen from the data (the value "
                                             "is reported after the run)")
        self.inner = inner
        self.auto.changed.connect(lambda on: setattr(self.inner, "enabled", not on))
        super().__init__(widgets=[inner, self.auto], layout="horizontal", labels=False,
                         name=name, label=label or name, tooltip=tooltip)
        self.margins = (0, 0, 0, 0)

    @property
    def value(self) -> Any:
        return "auto" if self.auto.value else self.inner.value

    @value.setter
    def value(self, value: Any) -> None:
        chosen = isinstance(value, str) and value.lower() == "auto"
        self.auto.value = chosen
        if not chosen:
            self.inner.value = value


class ShapeInput(widgets.Container):
    """Integer sizes, one spin box per axis (``value`` is a tuple)."""

    def __init__(self, name: str, value: tuple[int, ...], minimum: int = 1,
                 maximum: int = 4096, label: str | None = None, tooltip: str | None = None,
                 odd: bool = False) -> None:
        step = 2 if odd else 1
        self.boxes = [widgets.SpinBox(value=int(v), min=minimum, max=maximum, step=step)
                      for v in value]
        super().__init__(widgets=self.boxes, layout="horizontal", labels=False, name=name,
                         label=label or name, tooltip=tooltip)
        self.margins = (0, 0, 0, 0)

    @property
    def value(self) -> tuple[int, ...]:
        return tuple(int(box.value) for box in self.boxes)

    @value.setter
    def value(self, value: tuple[int, ...]) -> None:
        for box, v in zip(self.boxes, value):
            box.value = int(v)


def _decimals(value: float, most: int = 10) -> int:
    """The fewest decimals that write ``value`` exactly (at most ``most``)."""
    for digits in range(most + 1):
        if round(value, digits) == value:
            return digits
    return most


def _float_box(default: float, low: float | None, high: float | None) -> widgets.FloatSpinBox:
    """A float spin box whose step and decimals suit the default's magnitude and the bounds."""
    low = -LARGE_FLOAT if low is None else float(low)
    high = LARGE_FLOAT if high is None else float(high)
    magnitude = abs(default) if default else max(abs(low), abs(high), 1.0)
    magnitude = min(magnitude, 1.0) if default == 0 else magnitude
    step = 10.0 ** (math.floor(math.log10(magnitude)) - 1)
    # Enough decimals to type a tenth of the step (lam=0.0005 with a default 0.002) and to
    # hold the bounds exactly (gamma >= 1e-6): Qt rounds min, max and value to them.
    decimals = max(3, _decimals(step) + 1, _decimals(low), _decimals(high), _decimals(default))
    box = widgets.FloatSpinBox(value=default, min=low, max=high, step=step)
    box.native.setDecimals(decimals)
    box.min, box.max, box.value = low, high, default
    return box


def _parse_text(text: str) -> Any:
    """A text field's value: empty is None, a Python literal its value, else the text."""
    text = text.strip()
    if not text or text == "None":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class LiteralInput(widgets.LineEdit):
    """A text field for a parameter of no fixed type: ``0.0``, ``auto``, ``(1, 2)``."""

    @property
    def value(self) -> Any:  # type: ignore[override]
        return _parse_text(super().value)

    @value.setter
    def value(self, value: Any) -> None:
        widgets.LineEdit.value.fset(self, "" if value is None else str(value))


def parameter_widget(p: Parameter) -> widgets.Widget:
    """The widget of one registry parameter, named ``p.name``, tooltip ``p.help``."""
    tooltip = p.help
    if p.choices is not None:
        return widgets.ComboBox(name=p.name, choices=list(p.choices), value=p.default,
                                tooltip=tooltip)
    if p.type is bool:
        return widgets.CheckBox(name=p.name, value=bool(p.default), tooltip=tooltip)
    low, high = p.range or (None, None)
    if p.type is int:
        default = p.default if p.default is not None else (low or 0)
        box = widgets.SpinBox(value=int(default), min=int(-LARGE_INT if low is None else low),
                              max=int(LARGE_INT if high is None else high))
    elif p.type is float:
        guess = p.default
        if guess is None:  # an optional number: start the box from a value inside the range
            guess = 1e-4 if (low or 0.0) <= 1e-4 <= (high if high is not None else 1.0) else low
        box = _float_box(float(guess), low, high)
    elif p.type is str:
        return widgets.LineEdit(name=p.name, value=p.default or "", tooltip=tooltip)
    else:  # any object (background: a number or 'auto'): read as a Python literal
        return LiteralInput(name=p.name, value="" if p.default is None else str(p.default),
                            tooltip=tooltip)
    if p.auto:
        box = AutoValue(box, p.name, tooltip=tooltip)
    if p.default is None:
        return OptionalValue(box, p.name, tooltip=tooltip)
    box.name, box.tooltip = p.name, tooltip
    return box


def method_form(method: Method, skip: tuple[str, ...] = FILLED_BY_WIDGET,
                own_only: bool = False) -> widgets.Container:
    """A form with every parameter of ``method`` (its own, then the common ones).

    ``skip`` names parameters the caller fills itself; ``own_only`` leaves out
    the common parameters (a comparison sets those once for all methods).
    """
    params = method.parameters if own_only else method.all_parameters
    form = widgets.Container(name=method.name, tooltip=method.summary,
                             widgets=[parameter_widget(p) for p in params if p.name not in skip])
    form.margins = (0, 0, 0, 0)
    return form


def values(form: widgets.Container) -> dict[str, Any]:
    """The form's values by parameter name."""
    return {w.name: w.value for w in form if w.name and hasattr(w, "value")}


# -- PSF models ---------------------------------------------------------------------------

#: The models offered, by name: each takes ``(shape, spacing, ...)`` and returns a ZYX PSF.
PSF_MODELS: dict[str, Callable[..., Any]] = {
    "gaussian": psf_models.gaussian,
    "born_wolf": psf_models.born_wolf,
    "gibson_lanni": psf_models.gibson_lanni,
    "vectorial": psf_models.vectorial,
    "confocal": psf_models.confocal,
}

#: Physical ranges and starting values (the models' docstrings give the meaning, µm for lengths).
_INDEX = (1.0, 2.0)
_RANGES: dict[str, tuple[float, float]] = {
    "na": (0.05, 1.7), "wavelength": (0.2, 2.5), "excitation_wavelength": (0.2, 2.5),
    "ni": _INDEX, "ns": _INDEX, "ng": _INDEX, "ni0": _INDEX, "ng0": _INDEX,
    "depth": (0.0, 1000.0), "tg": (0.0, 1000.0), "tg0": (0.0, 1000.0), "ti0": (0.0, 5000.0),
    "pinhole": (0.0, 20.0), "oversample": (1, 9),
}
_STARTS: dict[str, float] = {"na": 1.4, "wavelength": 0.52, "ni": 1.515, "ns": 1.33,
                             "excitation_wavelength": 0.488, "ni0": 1.515}
#: Shown only with "more optics" checked: the coverslip, the design values, sampling.
ADVANCED = ("ng", "tg", "ni0", "ng0", "tg0", "ti0", "oversample", "paraxial")


def _docs() -> dict[str, tuple[str, str]]:
    """Parameter name -> (help, numpydoc type) over all models; own text preferred to 'as in'."""
    found: dict[str, tuple[str, str]] = {}
    for fn in PSF_MODELS.values():
        for param in docstring_parser.parse(fn.__doc__ or "").params:
            text = " ".join((param.description or "").split())
            for name in (n.strip() for n in param.arg_name.split(",")):
                if name not in found or "as in" in found[name][0]:
                    found[name] = (text, param.type_name or "")
    return found


def _model_widget(name: str, default: Any, annotation: Any, help_text: str,
                  type_name: str) -> widgets.Widget:
    choices = re.findall(r'"([^"]+)"', type_name) if type_name.startswith("{") else []
    if choices:
        return widgets.ComboBox(name=name, choices=choices, value=default, tooltip=help_text)
    if isinstance(default, bool) or annotation in (bool, "bool"):
        return widgets.CheckBox(name=name, value=bool(default), tooltip=help_text)
    low, high = _RANGES.get(name, (0.0, LARGE_FLOAT))
    start = _STARTS.get(name, 1.0) if default is None else default
    if isinstance(start, int) and "float" not in str(annotation):
        box = widgets.SpinBox(value=int(start), min=int(low), max=int(high), tooltip=help_text)
    else:
        box = _float_box(float(start), low, high)
        box.tooltip = help_text
    if default is None:
        return OptionalValue(box, name, tooltip=help_text)
    box.name = name
    return box


def psf_model_form(model: str) -> widgets.Container:
    """A form with the physical parameters of ``deconvkit.psf.<model>`` (not shape, spacing).

    The advanced ones (:data:`ADVANCED`) are hidden until ``more optics`` is checked;
    hidden, they keep their defaults.
    """
    fn = PSF_MODELS[model]
    docs = _docs()
    items: list[widgets.Widget] = []
    advanced: list[widgets.Widget] = []
    for name, param in inspect.signature(fn).parameters.items():
        if name in ("shape", "spacing"):
            continue
        text, type_name = docs.get(name, ("", ""))
        default = param.default
        if default is inspect.Parameter.empty:  # na, wavelength, ni: a typical objective
            default = _STARTS.get(name, 1.0)
        widget = _model_widget(name, default, param.annotation, text, type_name)
        widget._advanced = name in ADVANCED
        (advanced if widget._advanced else items).append(widget)
    more = widgets.CheckBox(name="more_optics", text="more optics", value=False,
                            tooltip="show the coverslip, design and sampling parameters")
    more._advanced = False
    for widget in advanced:
        widget.visible = False
    more.changed.connect(lambda on: [setattr(w, "visible", bool(on)) for w in advanced])
    form = widgets.Container(name=model, widgets=[*items, *([more] if advanced else []),
                                                  *advanced],
                             tooltip=(fn.__doc__ or "").strip().splitlines()[0])
    form.margins = (0, 0, 0, 0)
    return form


def psf_model_values(form: widgets.Container) -> dict[str, Any]:
    """The model's keyword arguments from :func:`psf_model_form` (advanced ones only if shown)."""
    more = next((w for w in form if w.name == "more_optics"), None)
    show_advanced = bool(more.value) if more is not None else False
    out = {}
    for widget in form:
        if widget.name == "more_optics":
            continue
        if getattr(widget, "_advanced", False) and not show_advanced:
            continue
        out[widget.name] = widget.value
    return out
