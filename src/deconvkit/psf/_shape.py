"""The size of a model PSF that suits an image."""

from __future__ import annotations

import math

__all__ = ["suggest_shape"]


def suggest_shape(image_shape: tuple[int, ...], spacing: tuple[float, float, float],
                  na: float, wavelength: float, ni: float) -> tuple[int, int, int]:
    """Odd PSF sizes (nz, ny, nx) that suit an image of ``image_shape`` (Z, Y, X).

    Axially ``2 nz - 1`` planes, so that every plane of the stack receives
    light from every other one (a single plane for a 2D image). Laterally a
    half-width of the larger of ten Airy radii (``0.61 λ / NA``: the first
    rings) and the radius of the defocused light cone at half the stack depth
    (``Δz tan θ``, ``sin θ = NA / ni``), capped at the image's width (rounded
    up to odd) so that the extended domain at most doubles.

    Examples
    --------
    >>> suggest_shape((32, 256, 256), (0.2, 0.1, 0.1), na=1.4, wavelength=0.52, ni=1.515)
    (63, 151, 151)
    """
    nz, ny, nx = image_shape[-3:]
    dz, dy, dx = spacing
    theta = math.asin(min(na / ni, 0.999)) if ni > 0 else 0.0
    radius = max(10 * 0.61 * wavelength / na, 0.5 * (nz - 1) * dz * math.tan(theta))

    def lateral(n: int, step: float) -> int:
        half = max(3, math.ceil(radius / step))
        return min(2 * half + 1, n if n % 2 else n + 1)

    return (2 * nz - 1, lateral(ny, dy), lateral(nx, dx))
