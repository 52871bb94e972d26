"""Semi-blind and blind deconvolution: estimate the PSF with the object (``deconvkit.blind``).

:func:`blind_deconvolve` alternates Richardson–Lucy on the object with PSF
updates that lower the same Poisson likelihood:

* ``estimate="zernike"`` (semi-blind, default): the PSF is the pupil model of
  :func:`deconvkit.psf.zernike` (known NA, wavelength, indices and depth;
  unknown Zernike coefficients), updated by L-BFGS-B with the exact adjoint
  gradient of the likelihood in the coefficients;
* ``estimate="blind"``: blind Richardson–Lucy (Fish et al. 1995) with the PSF
  non-negative, of sum 1, band-limited by the NA and inside a support.

It returns a :class:`BlindResult` (``x``, ``psf``, ``coefficients``,
``history``, ``info``). See ``docs/blind.md``. This package is a methods-layer
client: it uses operators, costs, solvers and psf, not ``deconvkit.methods``.
"""

from ._api import ESTIMATES, blind_deconvolve
from ._common import BlindResult
from ._zernike import DEFAULT_MODES

__all__ = ["DEFAULT_MODES", "ESTIMATES", "BlindResult", "blind_deconvolve"]
