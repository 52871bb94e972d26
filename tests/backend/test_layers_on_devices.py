"""Every layer on a device-like backend: the same numbers as on NumPy, and no host round trip.

``guarded`` arrays (NumPy arrays that refuse to be mixed with host arrays, see
``deconvkit.backend.GuardedArray``) run on every machine; CuPy arrays run where a
GPU is present. Tolerances: float32 round-off, 1e-5 of the result's largest value
for one operator or cost application, 1e-4 for a few solver iterations (the
device path uses the plain kernels, the host the fused ones: their float32
rounding differs).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deconvkit as dk
from deconvkit import backend
from deconvkit.methods import available, get

from ..costs.registry import PROXIMABLE, SMOOTH
from ..costs.registry import REGISTRY as COSTS
from ..operators.registry import REGISTRY as OPERATORS
from .conftest import DEVICE_BACKENDS


def _close(device, host, tolerance):
    device = backend.to_host(device)
    scale = max(float(np.max(np.abs(host))), 1e-30)
    assert float(np.max(np.abs(device - host))) <= tolerance * scale


@pytest.mark.parametrize("where", DEVICE_BACKENDS)
@pytest.mark.parametrize("name", list(OPERATORS))
@settings(max_examples=8)
@given(data=st.data())
def test_operators_agree_with_numpy(where, name, data):
    op = OPERATORS[name](data)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal(op.dims).astype(np.float32)
    y = rng.standard_normal(op.dimsd).astype(np.float32)
    ax, ahy = op @ x, op.H @ y
    dx, dy = backend.to_backend(x, where), backend.to_backend(y, where)
    device_ax, device_ahy = op @ dx, op.H @ dy
    assert backend.backend_of(device_ax) == where and backend.backend_of(device_ahy) == where
    _close(device_ax, ax, 1e-5)
    _close(device_ahy, ahy, 1e-5)
    left = float(np.vdot(backend.to_host(device_ax).astype(np.float64), y))
    right = float(np.vdot(x, backend.to_host(device_ahy).astype(np.float64)))
    scale = np.linalg.norm(ax) * np.linalg.norm(y) + np.linalg.norm(x) * np.linalg.norm(ahy)
    assert abs(left - right) <= 1e-5 * max(scale, 1e-30)  # the adjoint holds on the device


def _on(value, where):
    return backend.to_backend(value, where) if isinstance(value, np.ndarray) else value


def _cost_on(cost, where):
    """The same cost with its data (y, background, weights, bounds) on ``where``."""
    import copy

    moved = copy.copy(cost)
    for attribute in ("y", "background", "weights", "lower", "upper", "_no_counts"):
        if isinstance(getattr(moved, attribute, None), np.ndarray):
            setattr(moved, attribute, _on(getattr(moved, attribute).astype(
                np.float32 if attribute != "_no_counts" else bool), where))
    inner = getattr(moved, "cost", None)
    if inner is not None and hasattr(inner, "_value"):
        moved.cost = _cost_on(inner, where)
    if isinstance(getattr(moved, "terms", None), list):
        moved.terms = [_cost_on(term, where) for term in moved.terms]
    return moved


@pytest.mark.parametrize("where", DEVICE_BACKENDS)
@pytest.mark.parametrize("name", sorted(set(SMOOTH) | set(PROXIMABLE)))
@settings(max_examples=6)
@given(data=st.data())
def test_costs_agree_with_numpy(where, name, data):
    cost, x = COSTS[name](data)
    x = x.astype(np.float32)
    if cost.indicator:
        x = cost.prox(x, 1.0)
    device, dx = _cost_on(cost, where), _on(x, where)
    assert device(dx) == pytest.approx(cost(x), rel=1e-4, abs=1e-4)
    if cost.smooth:
        _close(device.grad(dx), cost.grad(x), 1e-4)
    if cost.proximable and name not in ("tv", "anisotropic tv"):
        _close(device.prox(dx, 0.5), cost.prox(x, 0.5), 1e-4)


def _problem():
    spacing = (0.3, 0.1, 0.1)
    rng = np.random.default_rng(0)
    image = rng.poisson(50.0, (8, 24, 24)).astype(np.float32)
    psf = dk.psf.gaussian((5, 9, 9), spacing, na=1.2, wavelength=0.52, ni=1.33)
    truth = rng.uniform(40, 60, image.shape).astype(np.float32)
    return image, psf, truth, spacing


@pytest.mark.parametrize("where", DEVICE_BACKENDS)
@pytest.mark.parametrize("method", list(available()))
def test_every_method_runs_on_the_device_with_the_numpy_result(where, method):
    image, psf, truth, spacing = _problem()
    spec = get(method)
    options = {"max_iter": 3, "stop": "auto"} if spec.iterative else {}
    host = dk.methods.run(image, psf, method, spacing=spacing, ground_truth=truth,
                          keep="best", **options)
    device = dk.methods.run(backend.to_backend(image, where), psf, method, spacing=spacing,
                            ground_truth=backend.to_backend(truth, where), keep="best", **options)
    assert backend.backend_of(device.x) == where  # device arrays in, device arrays out
    assert backend.backend_of(device.best_x) == where
    _close(device.x, host.x, 1e-4)
    np.testing.assert_allclose(device.history["nrmse"], host.history["nrmse"], rtol=1e-4)


@pytest.mark.parametrize("where", DEVICE_BACKENDS)
@pytest.mark.parametrize("method", [m for m, spec in available().items() if spec.iterative])
def test_no_transfer_per_iteration(where, method):
    """Set-up may move a PSF or a transfer function once; the iterations move nothing."""
    image, psf, truth, spacing = _problem()
    counts = []
    for iterations in (2, 5):
        with backend.count_transfers() as counted:
            dk.methods.run(backend.to_backend(image, where), psf, method, spacing=spacing,
                           max_iter=iterations, ground_truth=backend.to_backend(truth, where))
        counts.append(dict(counted))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("where", DEVICE_BACKENDS)
def test_deconvolve_moves_a_host_image_to_the_device_and_back(where):
    image, psf, _, spacing = _problem()
    if where == "guarded":
        pytest.skip("the guarded stand-in is chosen by its arrays, not by name")
    x = dk.deconvolve(image, psf, "rl", max_iter=3, spacing=spacing, backend=where)
    assert isinstance(x, np.ndarray)
    np.testing.assert_allclose(x, dk.deconvolve(image, psf, "rl", max_iter=3, spacing=spacing),
                               atol=1e-4 * float(x.max()))
