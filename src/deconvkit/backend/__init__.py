"""The array backend under every layer (``deconvkit.backend``).

One place answers, for NumPy arrays on the host and CuPy arrays on a GPU alike:

* which array module holds an array (:func:`namespace`, :func:`backend_of`), and
  which backend a run uses (:func:`resolve_backend`: ``"numpy"``, ``"cupy"``,
  ``"auto"``), with one clear line when CuPy or a device is missing;
* allocation on an array's backend (:func:`zeros`, :func:`empty`, :func:`full`,
  :func:`ones`, ``like=``) and explicit transfers (:func:`to_backend`,
  :func:`to_host`, :func:`asarray`), :func:`synchronize`;
* real FFTs (:func:`rfftn`, :func:`irfftn`; :class:`RealFFT` with one reused
  half-spectrum buffer), on ``fft_workers`` threads, with scipy or pyFFTW
  (:func:`fft_library`) on the host and cuFFT on the device;
* fused kernels of the hot loops (:mod:`deconvkit.backend.kernels`): numba on
  the host, CUDA kernels on the device, plain NumPy as the reference.

:class:`GuardedArray` stands for a device array on a CPU: it refuses to be
mixed with host arrays, so the test suite proves that no computation below
the plan falls back to NumPy.
"""

from . import _kernels as kernels
from ._fft import (
    FFT_LIBRARIES,
    RealFFT,
    complex_dtype,
    fft_library,
    fft_workers,
    irfftn,
    real_dtype,
    rfft_shape,
    rfftn,
    workers,
)
from ._guarded import GuardedArray, HostArrayError, count_transfers
from ._resources import available_memory
from ._namespace import (
    BACKENDS,
    BackendError,
    asarray,
    backend_of,
    empty,
    full,
    gpu_status,
    is_host,
    namespace,
    ones,
    resolve_backend,
    synchronize,
    to_backend,
    to_host,
    zeros,
)

__all__ = [
    "BACKENDS",
    "FFT_LIBRARIES",
    "BackendError",
    "GuardedArray",
    "HostArrayError",
    "RealFFT",
    "asarray",
    "available_memory",
    "backend_of",
    "complex_dtype",
    "count_transfers",
    "empty",
    "fft_library",
    "fft_workers",
    "full",
    "gpu_status",
    "irfftn",
    "is_host",
    "kernels",
    "namespace",
    "ones",
    "real_dtype",
    "resolve_backend",
    "rfft_shape",
    "rfftn",
    "synchronize",
    "to_backend",
    "to_host",
    "workers",
    "zeros",
]
