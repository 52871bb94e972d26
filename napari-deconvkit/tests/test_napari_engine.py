"""The computation behind the widgets, without Qt: axes, PSF per channel, warm starts, cancel."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

import deconvkit as dk
from napari_deconvkit._engine import (
    Cancelled,
    InputError,
    Job,
    execute,
    guess_axes,
    layout,
    psf_per_channel,
)

SPACING = (0.2, 0.1, 0.1)


def test_layout_splits_time_channels_and_space():
    lay = layout((3, 2, 8, 24, 24), "TCZYX")
    assert (lay.n_time, lay.n_channels, lay.spatial, lay.spatial_shape) == (3, 2, "ZYX",
                                                                            (8, 24, 24))
    assert lay.index(1, 0) == (1, 0, slice(None), slice(None), slice(None))
    assert lay.spacing((5.0, 1.0, 0.3, 0.1, 0.1)) == (0.3, 0.1, 0.1)
    between = layout((8, 2, 24, 24), "ZCYX")
    assert between.index(0, 1) == (slice(None), 1, slice(None), slice(None))


@pytest.mark.parametrize("shape, axes, words", [
    ((8, 24, 24), "TZYX", "name 4 axes but the layer has 3"),
    ((2, 8, 24, 24), "TTYX", "at most once"),
    ((8, 24, 24, 2), "ZYXC", None),
    ((2, 24, 8, 24), "TYZX", "YX or ZYX, in that order"),
])
def test_layout_refuses_what_does_not_fit(shape, axes, words):
    if words is None:  # a trailing channel axis is fine
        assert layout(shape, axes).n_channels == 2
        return
    with pytest.raises(InputError, match=words):
        layout(shape, axes)


def test_guess_axes_takes_the_first_valid_hint():
    assert guess_axes(4, [None, "CZYX"]) == "CZYX"
    assert guess_axes(4, [("t", "z", "y", "x")]) == "TZYX"
    assert guess_axes(5, ["QQQQQ", ("time", "c", "z", "y", "x")]) == "TCZYX"
    assert guess_axes(4, ["ZYX"]) == "TZYX"  # a hint of the wrong length is ignored
    with pytest.raises(InputError, match="6 axes is not supported"):
        guess_axes(6)


def test_psf_per_channel(tiny_psf):
    lay = layout((2, 8, 24, 24), "CZYX")
    assert all(p is tiny_psf for p in psf_per_channel(tiny_psf, lay))
    two = np.stack([tiny_psf, tiny_psf[::-1]])
    got = psf_per_channel(two, lay)
    assert np.array_equal(got[1], tiny_psf[::-1])
    with pytest.raises(InputError, match=r"has 2 axes .* spatial axes are ZYX: give a ZYX PSF "
                                         r"\(3 axes\), or CZYX with one PSF per channel \(C=2\)"):
        psf_per_channel(tiny_psf[2], lay)
    with pytest.raises(InputError, match="has 4 axes"):
        psf_per_channel(np.stack([tiny_psf] * 3), lay)


def test_time_series_warm_starts_from_the_previous_result(tiny_stack, tiny_psf):
    series = np.stack([tiny_stack, tiny_stack * 1.1])
    params = {"max_iter": 4, "spacing": SPACING, "background": 5.0}
    job = Job(series, layout(series.shape, "TZYX"), [tiny_psf], "rl", params)
    outcome = execute(job)
    first = dk.methods.run(series[0], tiny_psf, "rl", **params).x
    warm = dk.methods.run(series[1], tiny_psf, "rl", x0=first, **params).x
    cold = dk.methods.run(series[1], tiny_psf, "rl", **params).x
    np.testing.assert_allclose(outcome.data[0], first, rtol=1e-6)
    np.testing.assert_allclose(outcome.data[1], warm, rtol=1e-6)
    assert not np.allclose(outcome.data[1], cold, rtol=1e-3)
    assert outcome.data.dtype == np.float32 and outcome.data.shape == series.shape
    meta = outcome.metadata(source="s", psf="p")
    assert meta["warm_start"] and meta["n_iter"] == 4 and len(meta["runs"]) == 2
    assert outcome.label() == "rl, 4 it"


def test_each_channel_gets_its_own_psf(tiny_stack, tiny_psf):
    wide = dk.psf.gaussian((5, 9, 9), SPACING, na=0.8, wavelength=0.6, ni=1.33)
    channels = np.stack([tiny_stack, tiny_stack])
    params = {"max_iter": 3, "spacing": SPACING}
    job = Job(channels, layout(channels.shape, "CZYX"), [tiny_psf, wide], "rl", params)
    outcome = execute(job)
    for c, psf in enumerate((tiny_psf, wide)):
        expected = dk.methods.run(channels[c], psf, "rl", **params).x
        np.testing.assert_allclose(outcome.data[c], expected, rtol=1e-6)
    assert [run["c"] for run in outcome.metadata()["runs"]] == [0, 1]


def test_closed_form_label_and_progress(tiny_stack, tiny_psf):
    seen = []
    job = Job(tiny_stack, layout(tiny_stack.shape, "ZYX"), [tiny_psf], "wif",
              {"spacing": SPACING})
    outcome = execute(job, report=lambda done, total: seen.append((done, total)))
    assert outcome.label() == "wif" and seen == [(1, 1)]
    assert outcome.metadata()["stop_reason"].startswith("closed form")


def test_cancel_raises_inside_the_callback_and_returns_nothing(tiny_stack, tiny_psf):
    cancel = threading.Event()
    seen = []

    def report(done, total):
        seen.append(done)
        if done == 2:
            cancel.set()

    job = Job(tiny_stack, layout(tiny_stack.shape, "ZYX"), [tiny_psf], "rl",
              {"max_iter": 1000, "spacing": SPACING})
    with pytest.raises(Cancelled):
        execute(job, report, cancel)
    assert seen == [1, 2]  # stopped at the iteration after the request, not at 1000


def test_cancel_stops_an_automatic_weight_search(tiny_stack, tiny_psf):
    """The search runs the method up to 20 times before the plan is made: Cancel reaches it."""
    cancel = threading.Event()
    tried = []

    class CancelAtTheFirstWeight(logging.Handler):
        def emit(self, record):
            tried.append(record.getMessage())
            cancel.set()

    search = logging.getLogger("deconvkit.weight_search")
    handler = CancelAtTheFirstWeight()
    search.addHandler(handler)
    search.setLevel(logging.INFO)
    seen = []
    try:
        job = Job(tiny_stack, layout(tiny_stack.shape, "ZYX"), [tiny_psf], "rltv",
                  {"lam": "discrepancy", "max_iter": 20, "background": 5.0,
                   "spacing": SPACING})
        with pytest.raises(Cancelled):
            execute(job, lambda done, total: seen.append(done), cancel)
    finally:
        search.removeHandler(handler)
        search.setLevel(logging.NOTSET)
    assert len(tried) == 1 and "weight 1 of at most" in tried[0]  # not the other weights
    assert seen == []  # the run proper never began
