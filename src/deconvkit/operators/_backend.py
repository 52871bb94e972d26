"""Array-module and FFT plumbing shared by the operators.

Every operator takes its array module from its input (NumPy today, CuPy or
another array library later), so the FFT module is chosen per call too.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

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
]


def _fft_module(x: Any) -> tuple[ModuleType, dict]:
    """FFT module for ``x``'s array library and the keywords it accepts."""
    if get_array_module(x) is np:
        return scipy.fft, {"workers": -1}
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
