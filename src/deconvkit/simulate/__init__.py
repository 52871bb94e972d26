"""Simulated microscopy data (``deconvkit.simulate``): phantoms and the noisy microscope.

Phantoms
    :func:`beads` (single-voxel point sources), :func:`filaments` (smooth
    random curves, microtubule-like), :func:`shells` (hollow spheres,
    nuclear-envelope-like), :func:`cytoplasm` (smooth positive background),
    :func:`phantom` (one of them, or a mixture). Each takes
    ``(shape, spacing, *, ..., seed)`` with lengths in µm and returns a
    non-negative float32 array, ZYX (or YX), reproducible for a given seed.
Acquisition
    :func:`observe` blurs with the PSF on an extended domain, crops to the
    camera's field (light from outside the field enters it), scales to
    photons and adds background, Poisson and read noise; it returns an
    :class:`Observation` with the data, its noiseless mean, the ground truth
    on the field and the forward operator.

>>> from deconvkit import psf, simulate
>>> from deconvkit.operators import extended_shape
>>> spacing = (0.2, 0.1, 0.1)  # µm
>>> h = psf.gaussian((9, 17, 17), spacing, na=1.2, wavelength=0.52, ni=1.33)
>>> field = (24, 64, 64)
>>> obj = simulate.phantom(extended_shape(field, h.shape), spacing, seed=0)
>>> y, truth = simulate.observe(obj, h, field_shape=field, photons=500, background=20, seed=1)
>>> y.shape, truth.shape, y.dtype
((24, 64, 64), (24, 64, 64), dtype('float32'))

This package is a leaf: it imports numpy, scipy and :mod:`deconvkit.operators`.
"""

from ._common import DEFAULT_SPACING
from ._filaments import filaments, random_curve
from ._observe import BOUNDARIES, Observation, observe
from ._phantoms import KINDS, MIXTURE, beads, cytoplasm, phantom, shells

__all__ = [
    "BOUNDARIES",
    "DEFAULT_SPACING",
    "KINDS",
    "MIXTURE",
    "Observation",
    "beads",
    "cytoplasm",
    "filaments",
    "observe",
    "phantom",
    "random_curve",
    "shells",
]
