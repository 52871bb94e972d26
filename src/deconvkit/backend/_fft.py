"""Real FFTs on every backend, with thread control and reusable buffers.

* NumPy arrays: :mod:`scipy.fft` (pocketfft) on ``workers`` threads
  (:func:`fft_workers`), or pyFFTW when it is installed and chosen
  (:func:`fft_library`).
* CuPy arrays: :mod:`cupyx.scipy.fft` (cuFFT), whose plans CuPy caches per shape.
* Guarded arrays (the test stand-in for a device): scipy on the host memory,
  results guarded again.

:class:`RealFFT` is what an iteration loop uses: one half-spectrum buffer
allocated once, the forward transform written into it and the inverse written
back over it (the real result is a strided view of the same memory, the layout
FFTW calls in-place), so an FFT pair allocates nothing and touches no fresh
pages. On a 128x384x384 float32 grid on two cores it runs a pair in about half
the time of ``scipy.fft.rfftn`` + ``irfftn`` (which allocate their outputs).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import scipy.fft

from ._guarded import GuardedArray
from ._namespace import _cupy, backend_of

try:  # the engine of scipy.fft, whose functions take an output array
    from scipy.fft._pocketfft import pypocketfft as _pocketfft
except ImportError:  # pragma: no cover - a scipy that moved it: the public API still works
    _pocketfft = None

__all__ = [
    "FFT_LIBRARIES",
    "RealFFT",
    "complex_dtype",
    "fft_library",
    "fft_workers",
    "irfftn",
    "real_dtype",
    "rfft_shape",
    "rfftn",
    "workers",
]

#: FFT libraries for host arrays.
FFT_LIBRARIES = ("scipy", "fftw")

_WORKERS: ContextVar[int] = ContextVar("deconvkit_fft_workers", default=-1)
_LIBRARY: ContextVar[str] = ContextVar("deconvkit_fft_library", default="scipy")


@contextlib.contextmanager
def fft_workers(n: int | None) -> Iterator[int]:
    """Run the host FFTs inside the ``with`` block on ``n`` threads (all cores by default).

    ``None`` or ``-1``: all cores. ``scipy.fft.set_workers`` cannot do this,
    since an explicit ``workers=`` argument wins over it.

    Examples
    --------
    >>> from deconvkit.backend import fft_workers
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


def workers() -> int:
    """The number of threads host FFTs and fused kernels use now (``-1`` resolved)."""
    n = _WORKERS.get()
    return (os.cpu_count() or 1) if n == -1 else n


@contextlib.contextmanager
def fft_library(name: str) -> Iterator[str]:
    """Use ``"scipy"`` (default) or ``"fftw"`` (pyFFTW) for host FFTs inside the block.

    pyFFTW plans are measured once per shape and kept as wisdom on disk (see
    :mod:`deconvkit.backend._fftw`), so the planning is paid once per machine.
    """
    if name not in FFT_LIBRARIES:
        raise ValueError(f"the FFT library must be one of {', '.join(FFT_LIBRARIES)}, got {name!r}")
    if name == "fftw":
        from ._fftw import require

        require()
    token = _LIBRARY.set(name)
    try:
        yield name
    finally:
        _LIBRARY.reset(token)


def rfft_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the half spectrum that ``rfftn`` returns for real ``shape``."""
    return (*shape[:-1], shape[-1] // 2 + 1)


def complex_dtype(dtype: Any) -> np.dtype:
    """complex64 for float32 (and smaller), complex128 otherwise."""
    return np.result_type(np.dtype(dtype), np.complex64)


def real_dtype(dtype: Any) -> np.dtype:
    """The real dtype of the same precision as ``dtype`` (float32 at least)."""
    return np.finfo(complex_dtype(dtype)).dtype


def rfftn(x: Any, axes: tuple[int, ...]) -> Any:
    """Real-to-complex n-dimensional FFT over ``axes``, on ``x``'s backend (a new array)."""
    kind = backend_of(x)
    if kind == "cupy":
        import cupyx.scipy.fft

        return cupyx.scipy.fft.rfftn(x, axes=axes)
    if kind == "guarded":
        return scipy.fft.rfftn(x.view(np.ndarray), axes=axes, workers=workers()).view(GuardedArray)
    if _LIBRARY.get() == "fftw":
        from ._fftw import rfftn as fftw_rfftn

        return fftw_rfftn(x, axes, workers())
    return scipy.fft.rfftn(x, axes=axes, workers=_WORKERS.get())


def irfftn(spectrum: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """Inverse of :func:`rfftn` (a new real array); may overwrite ``spectrum``."""
    kind = backend_of(spectrum)
    if kind == "cupy":
        import cupyx.scipy.fft

        return cupyx.scipy.fft.irfftn(spectrum, s=shape, axes=axes, overwrite_x=True)
    if kind == "guarded":
        return scipy.fft.irfftn(spectrum.view(np.ndarray), s=shape, axes=axes,
                                workers=workers()).view(GuardedArray)
    if _LIBRARY.get() == "fftw":
        from ._fftw import irfftn as fftw_irfftn

        return fftw_irfftn(spectrum, shape, axes, workers())
    return scipy.fft.irfftn(spectrum, s=shape, axes=axes, overwrite_x=True,
                            workers=_WORKERS.get())


class RealFFT:
    r"""Forward and inverse real FFTs over all axes of ``shape``, in one reused buffer.

    ``forward(x)`` writes :math:`\mathcal{F}x` into :attr:`spectrum` (a
    complex half spectrum of ``rfft_shape(shape)``) and returns it;
    ``inverse()`` transforms :attr:`spectrum` back in place and returns the
    real result, a view of the same memory (valid until the next call).
    ``forward`` accepts that view as its input, so a loop
    ``forward → multiply → inverse → elementwise → forward → ...`` runs in one
    buffer. On CuPy and guarded arrays the same calls run the library's
    transforms (cuFFT keeps its own plans and CuPy's memory pool its buffers).

    Parameters
    ----------
    shape : tuple of int
        The real arrays' shape (every axis is transformed).
    dtype : dtype
        float32 (complex64 spectrum) or float64.
    like : array, optional
        An array of the backend to allocate on (NumPy by default).
    """

    def __init__(self, shape: tuple[int, ...], dtype: Any = np.float32, like: Any = None) -> None:
        from ._namespace import empty

        self.shape = tuple(int(n) for n in shape)
        self.axes = tuple(range(len(self.shape)))
        self.dtype = real_dtype(dtype)
        self.backend = backend_of(like) if like is not None else "numpy"
        self._in_place = (self.backend == "numpy" and _pocketfft is not None
                          and _LIBRARY.get() == "scipy")
        self.spectrum = empty(rfft_shape(self.shape), complex_dtype(self.dtype), like=like)
        self._real = None
        if self._in_place:
            self._real = self.spectrum.view(self.dtype)[..., : self.shape[-1]]

    @property
    def real(self) -> Any:
        """The real view of the buffer (what :meth:`inverse` returns), or None off the host."""
        return self._real

    def forward(self, x: Any) -> Any:
        """:math:`\\mathcal{F}x` in :attr:`spectrum`; ``x`` may be :attr:`real`."""
        if not self._in_place:
            self.spectrum = rfftn(x, self.axes)
            return self.spectrum
        threads = workers()
        last = (len(self.shape) - 1,)
        _pocketfft.r2c(x, last, True, 0, self.spectrum, threads)
        if len(self.shape) > 1:
            _pocketfft.c2c(self.spectrum, self.axes[:-1], True, 0, self.spectrum, threads)
        return self.spectrum

    def inverse(self, spectrum: Any = None) -> Any:
        """:math:`\\mathcal{F}^{-1}` of :attr:`spectrum` (or of ``spectrum``), real, in place."""
        if spectrum is not None and spectrum is not self.spectrum:
            if not self._in_place:
                return irfftn(spectrum, self.shape, self.axes)
            self.spectrum[...] = spectrum
        if not self._in_place:
            return irfftn(self.spectrum, self.shape, self.axes)
        threads = workers()
        if len(self.shape) > 1:
            _pocketfft.c2c(self.spectrum, self.axes[:-1], False, 2, self.spectrum, threads)
        # each line is read into pocketfft's scratch before its result is written, so the
        # real output may overlay the complex input (FFTW's in-place layout)
        _pocketfft.c2r(self.spectrum, (len(self.shape) - 1,), self.shape[-1], False, 2,
                       self._real, threads)
        return self._real
