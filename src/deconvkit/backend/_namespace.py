"""Which array library holds an array, allocation like it, and moving arrays between them.

Three kinds of arrays run through deconvkit:

* ``numpy``: NumPy arrays on the host (the default);
* ``cupy``: CuPy arrays on a CUDA device (``pip install "deconvkit[gpu]"``);
* ``guarded``: :class:`~deconvkit.backend.GuardedArray`, NumPy arrays that
  behave like device arrays (they refuse to be mixed with host arrays), so the
  test suite can prove on a CPU that no host round trip hides below the plan.

Code below the plan never calls ``np.zeros`` or ``np.asarray`` on volume-sized
data: it asks :func:`namespace` for the array module of its inputs, and
allocates with :func:`zeros`/:func:`empty`/:func:`full` ``like=`` an input.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from ._guarded import GUARDED, GuardedArray, count_transfer

__all__ = [
    "BACKENDS",
    "BackendError",
    "namespace",
    "backend_of",
    "resolve_backend",
    "gpu_status",
    "to_backend",
    "to_host",
    "asarray",
    "empty",
    "zeros",
    "ones",
    "full",
    "synchronize",
    "is_host",
]

#: The backends a user can ask for (``"auto"`` picks CuPy when a GPU is usable).
BACKENDS = ("numpy", "cupy")

_CUPY_HINT = ('install it with pip install "deconvkit[gpu]" (CuPy for CUDA 12; see '
              "https://docs.cupy.dev/en/stable/install.html for other CUDA versions)")


class BackendError(ValueError):
    """A backend was asked for that cannot run here; the message says how to get it."""


@functools.lru_cache(maxsize=1)
def _cupy() -> ModuleType | None:
    try:
        import cupy
    except Exception:  # noqa: BLE001 - missing, or a broken CUDA install: both mean "no GPU"
        return None
    return cupy


def _is_cupy(x: Any) -> bool:
    cupy = _cupy() if type(x).__module__.startswith("cupy") else None
    return cupy is not None and isinstance(x, cupy.ndarray)


def backend_of(x: Any) -> str:
    """``"cupy"``, ``"guarded"`` or ``"numpy"``: the backend an array lives on."""
    if isinstance(x, GuardedArray):
        return "guarded"
    if _is_cupy(x):
        return "cupy"
    return "numpy"


def namespace(*arrays: Any) -> Any:
    """The array module of ``arrays``: ``cupy``, the guarded namespace, or ``numpy``.

    The first array that lives on a device decides; Python scalars and None are
    ignored. Use it as ``xp = namespace(x)`` and call ``xp.maximum``, ``xp.sum``, ...
    """
    for array in arrays:
        kind = backend_of(array)
        if kind == "cupy":
            return _cupy()
        if kind == "guarded":
            return GUARDED
    return np


def is_host(x: Any) -> bool:
    """True for NumPy arrays and anything that is not a device array."""
    return backend_of(x) == "numpy"


@functools.lru_cache(maxsize=1)
def gpu_status() -> tuple[bool, str]:
    """``(usable, reason)``: whether CuPy imports and sees a CUDA device, and why not."""
    cupy = _cupy()
    if cupy is None:
        return False, f"CuPy is not installed: {_CUPY_HINT}"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - the driver's own error, in one line
        return False, (f"CuPy is installed but no CUDA device is usable ({type(exc).__name__}: "
                       f"{' '.join(str(exc).split())}); check the NVIDIA driver, or use "
                       "--backend numpy")
    if count < 1:
        return False, "CuPy is installed but sees no CUDA device; use --backend numpy"
    return True, f"CUDA device 0 of {count}"


def resolve_backend(name: str | None = None, like: Any = None) -> str:
    """The backend a run uses: ``name`` checked, or the one ``like`` lives on.

    Parameters
    ----------
    name : {"numpy", "cupy", "auto"} or None
        ``None`` follows ``like`` (CuPy arrays in, CuPy arrays out); ``"auto"``
        takes CuPy when a GPU is usable, NumPy otherwise.
    like : array, optional
        The input whose backend ``None`` follows.

    Raises
    ------
    BackendError
        ``"cupy"`` where CuPy is missing or sees no device (one line saying how
        to install it), or an unknown name.
    """
    if name is None:
        return backend_of(like) if like is not None else "numpy"
    if not isinstance(name, str) or name not in (*BACKENDS, "auto"):
        raise BackendError(f"backend must be one of numpy, cupy, auto; got {name!r}")
    if name == "auto":
        if backend_of(like) == "guarded":
            return "guarded"
        return "cupy" if gpu_status()[0] else "numpy"
    if name == "cupy":
        usable, reason = gpu_status()
        if not usable:
            raise BackendError(f"the cupy backend cannot run here: {reason}")
    return name


def to_backend(x: Any, backend: str) -> Any:
    """``x`` on ``backend`` (a transfer when it lives elsewhere; ``x`` itself otherwise)."""
    current = backend_of(x)
    if current == backend:
        return x
    host = to_host(x)
    if backend == "numpy":
        return host
    if backend == "guarded":
        count_transfer("to_device")
        return np.array(host, copy=True).view(GuardedArray)  # a transfer copies, as to a GPU
    if backend == "cupy":
        return _cupy().asarray(host)
    raise BackendError(f"unknown backend {backend!r}")


def to_host(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (a device-to-host copy for device arrays)."""
    kind = backend_of(x)
    if kind == "cupy":
        return _cupy().asnumpy(x)
    if kind == "guarded":
        count_transfer("to_host")
        return np.array(x.view(np.ndarray), copy=True)
    return np.asarray(x)


def asarray(x: Any, dtype: Any = None, like: Any = None) -> Any:
    """``x`` as an array of ``like``'s backend (a transfer if needed) and ``dtype``."""
    target = backend_of(like) if like is not None else backend_of(x)
    out = to_backend(x, target) if backend_of(x) != target else x
    xp = namespace(out) if backend_of(out) != "numpy" else np
    return xp.asarray(out, dtype=dtype)


def _module(like: Any, backend: str | None) -> Any:
    if backend is not None:
        if backend == "cupy":
            return _cupy()
        return GUARDED if backend == "guarded" else np
    return namespace(like)


def empty(shape: Any, dtype: Any = np.float32, like: Any = None, backend: str | None = None) -> Any:
    """An uninitialized array on ``like``'s backend (or ``backend``)."""
    return _module(like, backend).empty(shape, dtype=dtype)


def zeros(shape: Any, dtype: Any = np.float32, like: Any = None, backend: str | None = None) -> Any:
    """Zeros on ``like``'s backend (or ``backend``)."""
    return _module(like, backend).zeros(shape, dtype=dtype)


def ones(shape: Any, dtype: Any = np.float32, like: Any = None, backend: str | None = None) -> Any:
    """Ones on ``like``'s backend (or ``backend``)."""
    return _module(like, backend).ones(shape, dtype=dtype)


def full(shape: Any, value: float, dtype: Any = np.float32, like: Any = None,
         backend: str | None = None) -> Any:
    """An array filled with ``value`` on ``like``'s backend (or ``backend``)."""
    return _module(like, backend).full(shape, value, dtype=dtype)


def synchronize(like: Any = None) -> None:
    """Wait until the device has finished the work queued so far (no-op on the host)."""
    if like is None or backend_of(like) == "cupy":
        cupy = _cupy()
        if cupy is not None and (like is not None or gpu_status()[0]):
            cupy.cuda.get_current_stream().synchronize()
