"""pyFFTW as the host FFT library, with its plans kept on disk as wisdom.

FFTW measures several algorithms for each shape before it transforms
(``FFTW_MEASURE``); on a 128x384x384 grid that takes seconds. The plans found
(FFTW's *wisdom*) are exported to ``$DECONVKIT_CACHE/fftw-wisdom.pickle``
(default ``~/.cache/deconvkit``) after every new plan and imported on first
use, so each shape is planned once per machine. Optional: ``pip install
"deconvkit[fftw]"``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["require", "rfftn", "irfftn", "wisdom_path"]

_LOCK = threading.Lock()
_PLANS: dict[tuple, Any] = {}
_LOADED = False


def require() -> Any:
    """Import pyFFTW, or raise one clear line saying how to install it."""
    try:
        import pyfftw
    except ImportError:
        raise ValueError('the fftw FFT library needs pyFFTW: pip install "deconvkit[fftw]" '
                         "(or choose --fft scipy)") from None
    return pyfftw


def wisdom_path() -> Path:
    """Where the wisdom is kept (``$DECONVKIT_CACHE`` or ``~/.cache/deconvkit``)."""
    root = os.environ.get("DECONVKIT_CACHE") or Path.home() / ".cache" / "deconvkit"
    return Path(root) / "fftw-wisdom.pickle"


def _load_wisdom(pyfftw: Any) -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    try:
        with open(wisdom_path(), "rb") as handle:
            pyfftw.import_wisdom(pickle.load(handle))
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        pass  # no wisdom yet, or an unreadable file: plan afresh


def _save_wisdom(pyfftw: Any) -> None:
    path = wisdom_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False) as handle:
            pickle.dump(pyfftw.export_wisdom(), handle)
        os.replace(handle.name, path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only home: plans are then measured once per process


def _plan(kind: str, shape: tuple[int, ...], dtype: Any, axes: tuple[int, ...], threads: int,
          out_shape: tuple[int, ...] | None = None) -> Any:
    pyfftw = require()
    key = (kind, shape, str(dtype), axes, threads, out_shape)
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            _load_wisdom(pyfftw)
            array = pyfftw.empty_aligned(shape, dtype=dtype)
            if kind == "r2c":
                plan = pyfftw.builders.rfftn(array, axes=axes, threads=threads,
                                             planner_effort="FFTW_MEASURE", auto_align_input=True)
            else:
                plan = pyfftw.builders.irfftn(array, s=out_shape, axes=axes, threads=threads,
                                              planner_effort="FFTW_MEASURE",
                                              auto_align_input=True)
            _PLANS[key] = plan
            _save_wisdom(pyfftw)
    return plan


def rfftn(x: Any, axes: tuple[int, ...], threads: int) -> Any:
    plan = _plan("r2c", tuple(x.shape), x.dtype, tuple(axes), threads)
    return plan(x).copy()


def irfftn(spectrum: Any, shape: tuple[int, ...], axes: tuple[int, ...], threads: int) -> Any:
    plan = _plan("c2r", tuple(spectrum.shape), spectrum.dtype, tuple(axes), threads, tuple(shape))
    return plan(spectrum).copy()
