"""TIFF input and output with voxel size (``deconvkit.io``).

:func:`read` returns a float32 array in ``TCZYX`` order (always ending in ZYX) and an
:class:`ImageMeta` with the voxel size in µm; :func:`iter_volumes` walks its ZYX
volumes channel by channel; :func:`write` saves an ImageJ hyperstack (or an OME-TIFF,
for a name ending in ``.ome.tif``) atomically, as float32 or scaled uint16, so Fiji and
napari show the right scale; :func:`write_temporary` writes the same file to a hidden
temporary beside the target, for callers that publish several files together.

>>> image, meta = read("stack.tif")  # doctest: +SKIP
>>> meta.spacing, meta.axes  # doctest: +SKIP
((0.3, 0.1, 0.1), 'ZYX')
>>> write("stack_rl.tif", result, meta)  # doctest: +SKIP

OME-Zarr (NGFF 0.4) stores are read lazily (:func:`open_zarr`, :func:`read_lazy`) and
written chunk by chunk under ``NAME.partial`` (:func:`create_zarr`), then published
(:func:`publish_zarr`).

This module is a leaf: it imports only numpy, tifffile, zarr and the standard library.
"""

from ._meta import AXES, ImageMeta, ImageReadError, iter_volumes
from ._read import read
from ._write import OME_SUFFIXES, is_ome_name, to_uint16, write, write_temporary
from ._zarr import create_zarr, is_zarr, open_zarr, partial_path, publish_zarr


def read_lazy(path):
    """``(array, meta)`` without reading the pixels where the format allows it.

    An OME-Zarr (or zarr) store gives a lazy zarr array (:func:`open_zarr`); a
    TIFF is read into memory (:func:`read`), since its pixels may be compressed
    or in ImageJ's order.
    """
    return open_zarr(path) if is_zarr(path) else read(path)


__all__ = ["read", "read_lazy", "write", "write_temporary", "is_ome_name", "iter_volumes",
           "to_uint16", "ImageMeta", "ImageReadError", "AXES", "OME_SUFFIXES", "create_zarr",
           "is_zarr", "open_zarr", "partial_path", "publish_zarr"]
