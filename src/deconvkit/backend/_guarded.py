"""A stand-in for device arrays on the CPU: NumPy arrays that refuse host arrays.

A CuPy array cannot be combined with a NumPy array (``cupy_x * numpy_y`` is a
``TypeError``) and ``numpy.asarray(cupy_x)`` refuses to copy implicitly. Code
that allocates with ``numpy.zeros`` or builds a transfer function with NumPy
next to a device array therefore breaks on a GPU, and a CPU-only test suite
never sees it. :class:`GuardedArray` behaves the same way on the CPU: it is an
``ndarray`` subclass whose ufuncs and NumPy functions raise
:class:`HostArrayError` when a plain NumPy array (anything with at least one
axis; scalars are fine) is mixed in. Allocations go through :data:`GUARDED`,
the array module :func:`deconvkit.backend.namespace` returns for guarded
arrays, and explicit transfers (:func:`~deconvkit.backend.to_backend`,
:func:`~deconvkit.backend.to_host`) are counted in :data:`TRANSFERS`.

Run any deconvkit computation on guarded arrays and it must return guarded
arrays without raising: that is the test that nothing below the plan falls
back to the host.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["GuardedArray", "HostArrayError", "GUARDED", "TRANSFERS", "count_transfer",
           "count_transfers"]

#: Explicit transfers of guarded arrays, by direction.
TRANSFERS = {"to_device": 0, "to_host": 0}


def count_transfer(direction: str) -> None:
    TRANSFERS[direction] += 1


@contextlib.contextmanager
def count_transfers() -> Iterator[dict[str, int]]:
    """Count the explicit transfers made inside the ``with`` block."""
    before = dict(TRANSFERS)
    counted = {key: 0 for key in TRANSFERS}
    try:
        yield counted
    finally:
        for key in TRANSFERS:
            counted[key] = TRANSFERS[key] - before[key]


class HostArrayError(TypeError):
    """A host (NumPy) array was mixed with a device-like array."""


def _is_host_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and not isinstance(value, GuardedArray) and value.ndim > 0


def _check(values: Any, what: str) -> None:
    for value in values:
        if isinstance(value, (list, tuple)):
            _check(value, what)
        elif _is_host_array(value):
            raise HostArrayError(
                f"{what} mixes a host NumPy array of shape {value.shape} with a device array: "
                "allocate with deconvkit.backend (zeros/empty/full like=...) or move it with "
                "deconvkit.backend.to_backend"
            )


def _plain(value: Any) -> Any:
    if isinstance(value, GuardedArray):
        return value.view(np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _wrap(value: Any) -> Any:
    if isinstance(value, np.ndarray) and not isinstance(value, GuardedArray):
        return value.view(GuardedArray)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class GuardedArray(np.ndarray):
    """An ndarray that stands for a device array: mixing it with host arrays raises.

    Create one with ``deconvkit.backend.to_backend(array, "guarded")``.
    """

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out", ())
        _check(inputs, f"numpy.{ufunc.__name__}")
        _check(out, f"numpy.{ufunc.__name__}(out=...)")
        if "where" in kwargs:
            _check([kwargs["where"]], f"numpy.{ufunc.__name__}(where=...)")
            kwargs["where"] = _plain(kwargs["where"])
        if out:
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        _check(args, f"numpy.{func.__name__}")
        _check(list(kwargs.values()), f"numpy.{func.__name__}")
        out = kwargs.get("out")
        result = func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        if out is not None:
            return out
        return _wrap(result)

    def __setitem__(self, key: Any, value: Any) -> None:
        _check([value], "assignment into a device array")
        if _is_host_array(key) and key.dtype != bool and key.dtype.kind not in "iu":
            raise HostArrayError("indexing a device array with a host array")
        super().__setitem__(key, _plain(value))

    def __array_finalize__(self, obj: Any) -> None:  # views and slices stay guarded
        pass


class _GuardedNamespace:
    """The array module of guarded arrays: NumPy, with creation functions returning them."""

    __name__ = "deconvkit.backend.guarded"

    _CREATE = ("empty", "zeros", "ones", "full", "arange", "linspace", "eye", "indices",
               "asarray", "array", "ascontiguousarray", "frombuffer", "fromfunction",
               "meshgrid", "geomspace", "logspace")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(np, name)
        if name in self._CREATE:
            def create(*args: Any, **kwargs: Any) -> Any:
                if name in ("asarray", "array", "ascontiguousarray") and args and \
                        _is_host_array(args[0]):
                    count_transfer("to_device")
                return _wrap(attribute(*_plain(args), **kwargs))

            create.__name__ = name
            return create
        return attribute

    def __repr__(self) -> str:
        return "<the guarded array namespace (NumPy standing for a device)>"


#: The array module :func:`deconvkit.backend.namespace` returns for guarded arrays.
GUARDED = _GuardedNamespace()
