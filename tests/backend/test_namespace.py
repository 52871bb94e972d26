"""Namespaces, allocation, transfers and backend resolution; the guarded array's refusals."""

import numpy as np
import pytest

from deconvkit import backend
from deconvkit.backend import GuardedArray, HostArrayError


def test_namespace_and_allocation_follow_the_input():
    host = np.ones(3, np.float32)
    guarded = backend.to_backend(host, "guarded")
    assert backend.namespace(host) is np
    assert backend.backend_of(guarded) == "guarded"
    for make in (backend.zeros, backend.empty, backend.ones):
        assert isinstance(make((2, 3), np.float32, like=guarded), GuardedArray)
        assert type(make((2, 3), np.float32, like=host)) is np.ndarray
    assert isinstance(backend.full((2,), 5.0, like=guarded), GuardedArray)
    assert backend.to_host(guarded).__class__ is np.ndarray


def test_guarded_arrays_refuse_host_arrays():
    guarded = backend.to_backend(np.ones((2, 3)), "guarded")
    with pytest.raises(HostArrayError, match="host NumPy array of shape"):
        guarded + np.ones((2, 3))
    with pytest.raises(HostArrayError):
        np.maximum(guarded, np.zeros(3))
    with pytest.raises(HostArrayError):
        np.concatenate([guarded, np.ones((2, 3))])
    with pytest.raises(HostArrayError):
        guarded[...] = np.ones((2, 3))
    out = backend.zeros((2, 3), like=guarded)
    with pytest.raises(HostArrayError):
        np.add(guarded, 1.0, out=np.empty((2, 3)))
    np.add(guarded, 1.0, out=out)  # scalars and device outputs are fine
    assert isinstance(guarded * 2.0 + np.float32(1), GuardedArray)
    assert isinstance(np.sum(guarded, axis=0), GuardedArray)
    assert float(guarded.sum()) == 6.0


def test_transfers_are_counted():
    with backend.count_transfers() as counted:
        guarded = backend.to_backend(np.ones(4), "guarded")
        backend.to_host(guarded)
        backend.to_host(guarded)
    assert counted == {"to_device": 1, "to_host": 2}


def test_resolve_backend():
    assert backend.resolve_backend(None) == "numpy"
    assert backend.resolve_backend(None, like=np.ones(2)) == "numpy"
    assert backend.resolve_backend(None, like=backend.to_backend(np.ones(2), "guarded")) == "guarded"
    assert backend.resolve_backend("numpy") == "numpy"
    assert backend.resolve_backend("auto") in ("numpy", "cupy")
    with pytest.raises(backend.BackendError, match="numpy, cupy, auto"):
        backend.resolve_backend("torch")


def test_cupy_missing_or_without_device_is_one_clear_line():
    usable, reason = backend.gpu_status()
    if usable:
        pytest.skip("a GPU is present: the refusal cannot happen")
    with pytest.raises(backend.BackendError) as info:
        backend.resolve_backend("cupy")
    message = str(info.value)
    assert "\n" not in message and ("pip install" in message or "CUDA" in message)
