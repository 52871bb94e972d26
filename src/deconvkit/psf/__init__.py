"""Point spread functions: theoretical models and experimental PSFs.

Every model takes the sampling of the data (``shape`` with odd sizes, the
centre voxel being the focus; ``spacing = (dz, dy, dx)`` in µm) and physical
parameters in explicit units (wavelengths and lengths in µm), and returns a
float32 ZYX array normalized to sum 1.

Models
    :func:`gaussian` (Zhang et al. 2007 widths, widefield or confocal),
    :func:`born_wolf` (scalar, aberration-free),
    :func:`gibson_lanni` (scalar, refractive-index mismatch),
    :func:`vectorial` (Richards-Wolf with the Gibson-Lanni aberration),
    :func:`confocal` (excitation x pinhole-filtered emission).
Checks
    :func:`describe` (FWHM, peak, focal-plane energy, OTF support), :func:`plot`.
Experimental
    :func:`from_beads` (detect, register and average beads), :func:`prepare`
    (clean a single measured PSF).

This package is a leaf: it depends on numpy and scipy only (matplotlib for
:func:`plot`, imported when called).
"""

from ._airyscan import airyscan
from ._beads import BeadReport, from_beads
from ._confocal import confocal
from ._describe import PSFDescription, describe, plot
from ._gaussian import gaussian, gaussian_widths
from ._prepare import prepare
from ._scalar import born_wolf, gibson_lanni
from ._vectorial import vectorial

__all__ = [
    "BeadReport",
    "PSFDescription",
    "airyscan",
    "born_wolf",
    "confocal",
    "describe",
    "from_beads",
    "gaussian",
    "gaussian_widths",
    "gibson_lanni",
    "plot",
    "prepare",
    "vectorial",
]
