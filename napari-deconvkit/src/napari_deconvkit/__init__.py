"""napari widgets for deconvkit: deconvolve a layer, generate a PSF, compare methods.

The widgets are built from deconvkit's own descriptions (the method registry,
the PSF models' signatures), so they offer exactly what the library and its
command line offer. The computation (:mod:`napari_deconvkit._engine`) imports
neither Qt nor napari, and this package imports Qt only when a widget is asked
for (napari loads the manifest's commands lazily too).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("napari-deconvkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_LAZY = {
    "DeconvolutionWidget": "._deconvolve",
    "PSFWidget": "._psf_widget",
    "ComparisonWidget": "._compare",
    "widefield": "._sample_data",
    "cells3d": "._sample_data",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'napari_deconvkit' has no attribute {name!r}")
