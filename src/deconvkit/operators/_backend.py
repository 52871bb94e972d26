"""Array-module and FFT plumbing shared by the operators.

Every operator takes its array module from its input (NumPy today, CuPy or
another array library later), so the FFT module is chosen per call too.
"""

from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar
from types import ModuleType
from typing import Any, Iterator

import numpy as np
import scipy.fft
from pylops.utils.backend import get_array_module

__all__ = [
    "get_array_module",
    "rfftn",
    "irfftn",
    "rfft_shape",
    "complex_dtype",
    "real_dtype",
    "fft_workers",
]

_WORKERS: ContextVar[int] = ContextVar("deconvkit_fft_workers", default=-1)


@contextlib.contextmanager
def fft_workers(n: int | None) -> Iterator[int]:
    """Run the FFTs inside the ``with`` block on ``n`` threads (all cores by default).

    ``None`` or ``-1``: all cores. ``scipy.fft.set_workers`` cannot do this,
    since an explicit ``workers=`` argument wins over it.

    Examples
    --------
    >>> from deconvkit.operators import fft_workers
    >>> with fft_workers(2):
    ...     pass  # deconvolve here on two threads
    """
    if n is None:
        n = -1
    if isinstance(n, bool) or not isinstance(n, int) or n == 0 or n < -1:
        raise ValueError(f"the number of FFT threads must be a positive integer or -1 (all), got {n!r}")
    n = min(n, os.cpu_count() or n) if n > 0 else n
    token = _WORKERS.set(n)
    try:
        yield n
    finally:
        _WORKERS.reset(token)


def _fft_module(x: Any) -> tuple[ModuleType, dict]:
    """FFT module for ``x``'s array library and the keywords it accepts."""
    if get_array_module(x) is np:
        return scipy.fft, {"workers": _WORKERS.get()}
    import cupyx.scipy.fft  # pragma: no cover - GPU path

    return cupyx.scipy.fft, {}  # pragma: no cover


def rfftn(x: Any, axes: tuple[int, ...]) -> Any:
    """Real-to-complex n-dimensional FFT over ``axes`` (all cores)."""
    module, kwargs = _fft_module(x)
    return module.rfftn(x, axes=axes, **kwargs)


def irfftn(spectrum: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Inverse of :func:`rfftn`; may overwrite ``spectrum``."""
    module, kwargs = _fft_module(spectrum)
    return module.irfftn(spectrum, s=shape, axes=axes, overwrite_x=True, **kwargs)


def rfft_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the half spectrum that ``rfftn`` returns for real ``shape``."""
    return (*shape[:-1], shape[-1] // 2 + 1)


def complex_dtype(dtype: Any) -> np.dtype:
    """complex64 for float32 (and smaller), complex128 otherwise."""
    return np.result_type(np.dtype(dtype), np.complex64)


def real_dtype(dtype: Any) -> np.dtype:
    """The real dtype of the same precision as ``dtype`` (float32 at least)."""
    return np.finfo(complex_dtype(dtype)).dtype
