"""Point spread functions: theoretical models and experimental PSFs.

Every model takes the sampling of the data (``shape`` with odd sizes;
``spacing = (dz, dy, dx)`` in µm, ``dz`` the stage step) and physical
parameters in explicit units (wavelengths and lengths in µm), and returns a
float32 ZYX array normalized to sum 1. The centre voxel is the origin: by
default (``axial_origin="focus"``) the plane where the source is in focus, so a
source behind an index mismatch has its peak there and deconvolution does not
move it; ``"nominal"`` (the stage position) and ``"paraxial"`` are the others.

Models
    :func:`gaussian` (Zhang et al. 2007 widths, widefield or confocal),
    :func:`born_wolf` (scalar, aberration-free),
    :func:`gibson_lanni` (scalar, refractive-index mismatch),
    :func:`vectorial` (Richards-Wolf with the Gibson-Lanni aberration),
    :func:`confocal` (excitation x pinhole-filtered emission),
    :func:`zernike` (a 2D pupil aberrated by Zernike modes in Noll order,
    scalar or vectorial, on top of the index mismatch; :func:`zernike_polynomial`,
    :func:`noll_to_nm`, :data:`NOLL_NAMES`).
Focus
    :func:`focal_shift` (where a source behind an index mismatch is in focus:
    intensity maximum, paraxial, least-squares or marginal-ray formula).
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
from ._focus import focal_shift
from ._gaussian import gaussian, gaussian_widths
from ._prepare import prepare
from ._shape import suggest_shape
from ._scalar import born_wolf, gibson_lanni
from ._vectorial import vectorial
from ._zernike import NOLL_NAMES, noll_to_nm, zernike, zernike_polynomial

__all__ = [
    "NOLL_NAMES",
    "BeadReport",
    "PSFDescription",
    "airyscan",
    "born_wolf",
    "confocal",
    "describe",
    "focal_shift",
    "from_beads",
    "gaussian",
    "gaussian_widths",
    "gibson_lanni",
    "noll_to_nm",
    "plot",
    "prepare",
    "suggest_shape",
    "vectorial",
    "zernike",
    "zernike_polynomial",
]
