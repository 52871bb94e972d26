"""Convolution with a point-spread function, and the sizes that make its FFTs fast."""

from __future__ import annotations

import itertools
from typing import Any

import scipy.fft

from ..backend import namespace, real_dtype, rfftn
from ._base import _shape_text
from ._checks import check_finite, check_shape
from ._circulant import Circulant

__all__ = ["Blur", "fast_shape", "extended_shape", "kernel_at_origin"]


def kernel_at_origin(psf: Any, shape: tuple[int, ...], dtype: Any = None) -> Any:
    """``psf`` zero-padded to ``shape`` with its centre voxel (``n // 2``) moved to index 0.

    The same array as ``roll(pad(psf), -(p // 2))``, built by copying the PSF's
    ``2^d`` corner blocks where the roll would take them: one write of the domain
    (its zeros) instead of two, and no second domain-sized array.
    """
    xp = namespace(psf)
    kernel = xp.zeros(shape, dtype=dtype or psf.dtype)
    parts = []
    for p, n in zip(psf.shape, shape):
        c = p // 2
        pieces = [(slice(c, p), slice(0, p - c))]  # the centre and after: to the start
        if c:
            pieces.append((slice(0, c), slice(n - c, n)))  # before the centre: to the end
        parts.append(pieces)
    for combination in itertools.product(*parts):
        source = tuple(piece[0] for piece in combination)
        target = tuple(piece[1] for piece in combination)
        kernel[target] = psf[source]
    return kernel


def fast_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The smallest shape >= ``shape`` whose sizes have only small prime factors.

    A size with a large prime factor (254 = 2·127) makes each FFT about twice
    as slow as the next 5-smooth size (256).
    """
    return tuple(scipy.fft.next_fast_len(int(n), real=True) for n in shape)


def extended_shape(image_shape: tuple[int, ...], psf_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the extended object domain for an image and a PSF.

    ``image + psf − 1`` per axis (every object voxel whose light reaches the
    field), rounded up to fast FFT sizes.
    """
    return fast_shape(tuple(m + p - 1 for m, p in zip(image_shape, psf_shape)))


class Blur(Circulant):
    r"""Circular convolution with a PSF, by real FFTs.

    .. math:: H x = \mathcal{F}^{-1}\big(\hat h \cdot \mathcal{F} x\big), \qquad
              H^H y = \mathcal{F}^{-1}\big(\overline{\hat h} \cdot \mathcal{F} y\big)

    where :math:`\hat h` (the OTF, :attr:`otf`) is the real FFT of the PSF
    zero-padded to ``shape`` with its origin, the centre voxel (index ``n // 2``
    on each axis, for odd and even sizes alike), moved to index 0. The OTF is
    computed once, at the PSF's precision; inputs keep their dtype.

    Parameters
    ----------
    psf : array
        Point-spread function, at most ``shape`` on every axis and with as many
        axes. Not normalized here (see ``deconvkit.deconvolve``).
    shape : tuple of int
        Shape of the arrays the operator acts on (the extended domain).

    Notes
    -----
    ``lipschitz`` is ``max |otf|`` (1 for a non-negative PSF of sum 1).
    """

    def __init__(self, psf: Any, shape: tuple[int, ...]) -> None:
        shape = check_shape(shape)
        xp = namespace(psf)
        psf = xp.asarray(psf)
        if psf.ndim != len(shape):
            raise ValueError(
                f"the PSF has {psf.ndim} axes but the arrays have {len(shape)} "
                f"(shape {shape}): give a PSF with one axis per image axis"
            )
        if any(p > n for p, n in zip(psf.shape, shape)):
            raise ValueError(
                f"the PSF ({_shape_text(psf.shape)}) is larger than the arrays it blurs "
                f"({_shape_text(shape)}): blur on an extended domain "
                "(deconvkit.operators.extended_shape) or crop the PSF"
            )
        check_finite(psf, "the PSF")
        dtype = real_dtype(psf.dtype)
        otf = rfftn(kernel_at_origin(psf, shape, dtype), tuple(range(len(shape))))
        super().__init__(otf, shape, name="Blur")
        self.psf = psf

    def abs_operator(self, power: float = 1.0):
        """``|H|^p``: the blur itself for a non-negative PSF and ``p = 1``, else ``Blur(|psf|^p)``."""
        xp = namespace(self.psf)
        if power == 1.0 and bool(xp.all(self.psf >= 0)):
            return self
        return Blur(xp.abs(self.psf) ** power, self.dims)

    @property
    def otf(self) -> Any:
        """The optical transfer function on the half spectrum (``rfftn`` grid)."""
        return self.transfer_function

    def __repr__(self) -> str:
        return f"Blur({_shape_text(self.dims)})"
