"""deconvkit: 3D deconvolution microscopy from composable operators, costs and solvers."""

from importlib.metadata import PackageNotFoundError, version

from . import costs, io, methods, metrics, operators, psf, simulate, solvers
from .blind import blind_deconvolve
from .methods import deconvolve

try:
    __version__ = version("deconvkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "deconvolve",
    "blind_deconvolve",
    "operators",
    "costs",
    "solvers",
    "methods",
    "psf",
    "simulate",
    "metrics",
    "io",
    "__version__",
]
