"""TIFF input and output with voxel size (``deconvkit.io``).

:func:`read` returns a float32 array in ``TCZYX`` order (always ending in ZYX) and an
:class:`ImageMeta` with the voxel size in µm; :func:`iter_volumes` walks its ZYX
volumes channel by channel; :func:`write` saves an ImageJ hyperstack atomically, as
float32 or scaled uint16, so Fiji and napari show the right scale.

>>> image, meta = read("stack.tif")  # doctest: +SKIP
>>> meta.spacing, meta.axes  # doctest: +SKIP
((0.3, 0.1, 0.1), 'ZYX')
>>> write("stack_rl.tif", result, meta)  # doctest: +SKIP

This module is a leaf: it imports only numpy, tifffile and the standard library.
"""

from ._meta import AXES, ImageMeta, ImageReadError, iter_volumes
from ._read import read
from ._write import to_uint16, write

__all__ = ["read", "write", "iter_volumes", "to_uint16", "ImageMeta", "ImageReadError", "AXES"]
