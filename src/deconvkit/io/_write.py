"""Writing ImageJ hyperstacks or OME-TIFF atomically, with voxel size, axes and an optional
uint16 scaling."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ._atomic import (
    check_replaceable,
    create_temporary,
    file_kind,
    fsync_file,
    move_into_place,
)
from ._meta import ImageMeta, check_axes, check_spacing

__all__ = ["OME_SUFFIXES", "is_ome_name", "to_uint16", "write", "write_temporary"]

#: File names written as OME-TIFF (case-insensitive); every other name is an ImageJ TIFF.
OME_SUFFIXES = (".ome.tif", ".ome.tiff")
#: The OME MapAnnotation namespace holding the uint16 calibration (offset, step).
CALIBRATION_NAMESPACE = "deconvkit/calibration"

_DEFAULT_AXES = {2: "YX", 3: "ZYX", 4: "CZYX", 5: "TCZYX"}
_UINT16_MAX = 65535


def write(
    path: str | os.PathLike[str],
    array: Any,
    meta: ImageMeta | None = None,
    *,
    spacing: tuple[float, float, float] | None = None,
    axes: str | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
) -> Path:
    """Write an array as a TIFF that Fiji and napari open at the right scale.

    Parameters
    ----------
    path : str or path-like
        The output file; its folder must exist. Never the file ``meta`` was read from.
        A name ending in ``.ome.tif`` or ``.ome.tiff`` is written as OME-TIFF, any
        other as an ImageJ hyperstack.
    array : array-like
        Real values, without NaN or Inf, in ``axes`` order (a subsequence of TCZYX).
    meta : ImageMeta, optional
        Metadata from :func:`read`: gives ``axes`` and ``spacing`` unless overridden.
    spacing : tuple of 3 floats, optional
        Voxel size ``(dz, dy, dx)`` in µm; overrides ``meta.spacing``. Without either,
        the file carries no physical scale.
    axes : str, optional
        Overrides ``meta.axes``. Default ``"YX"``, ``"ZYX"``, ``"CZYX"`` or ``"TCZYX"``
        by the number of dimensions.
    dtype : {"float32", "uint16"}
        float32 keeps the values. uint16 maps them linearly onto [0, 65535]: see
        :func:`to_uint16`. The offset and step are stored (ImageJ: as its calibration,
        ``cf=0``, ``c0=offset``, ``c1=step`` in the description; OME: as a
        MapAnnotation in the ``deconvkit/calibration`` namespace), so Fiji (ImageJ
        files) and :func:`read` (both) return the original values, to within ``step / 2``.
    overwrite : bool
        Replace an existing regular file (the ``--overwrite`` of the command line).
        A folder, a symbolic link, a device node, a pipe or a socket is never replaced.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False, or ``path`` is not a regular file
        (a symbolic link, a device, a pipe, a socket).
    FileNotFoundError, NotADirectoryError, PermissionError
        The output folder is missing, not a folder, or not writable.
    IsADirectoryError
        ``path`` is a folder.
    ValueError
        NaN/Inf values, complex values, an ``axes`` that does not match ``array.ndim``,
        a bad ``spacing`` or ``dtype``, or ``path`` is the file ``meta`` was read from.

    Notes
    -----
    An ImageJ hyperstack has ``resolution = (1/dx, 1/dy)`` (pixels per µm) and
    ``metadata = {"spacing": dz, "unit": "um", "axes": ...}``, with the array's TCZYX
    axes reordered to ImageJ's TZCYX. An OME-TIFF has ``PhysicalSizeX/Y/Z`` in µm and
    the axes in TCZYX order. The file is written to a hidden temporary file in the
    output folder (:func:`write_temporary`), flushed to the disk, then renamed over
    ``path``: a failure leaves no partial output and no temporary file.
    """
    path = Path(path).expanduser()
    temporary = write_temporary(path, array, meta, spacing=spacing, axes=axes, dtype=dtype,
                                overwrite=overwrite)
    try:
        move_into_place(temporary, path, overwrite)
    except FileExistsError as exc:
        if exc.strerror and "regular file" in exc.strerror:
            raise
        raise FileExistsError(
            f"output file already exists: {path}; pass overwrite=True (--overwrite on the "
            f"command line) to replace it, or choose another name"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return path


def write_temporary(
    path: str | os.PathLike[str],
    array: Any,
    meta: ImageMeta | None = None,
    *,
    spacing: tuple[float, float, float] | None = None,
    axes: str | None = None,
    dtype: str = "float32",
    overwrite: bool = False,
) -> Path:
    """Write the file :func:`write` would write at ``path`` to a hidden temporary beside it.

    For callers that publish several files together (an image and its sidecar):
    the temporary is complete and flushed to the disk (fsync) when this returns,
    and the caller renames it over ``path`` (:func:`os.replace`, in the same
    folder, so the rename is atomic) or removes it. On any failure, the
    temporary is removed before the exception propagates.

    Parameters are those of :func:`write`; ``path`` is checked as :func:`write`
    checks it (``overwrite`` included), but nothing is written there.

    Returns
    -------
    pathlib.Path
        The temporary file, ``.NAME.XXXXXXXX.tmp`` in ``path``'s folder.
    """
    path = Path(path).expanduser()
    if dtype not in ("float32", "uint16"):  # also refuses np.float64 etc. by equality
        raise ValueError(f"dtype must be 'float32' or 'uint16', got {dtype!r}")
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"cannot write {array.dtype} values: give a real-valued array (take .real or abs())"
        )
    axes = check_axes(axes or (meta.axes if meta is not None else _default_axes(array.ndim)))
    if array.ndim != len(axes):
        raise ValueError(
            f"array has {array.ndim} dimensions {array.shape} but axes {axes!r} name "
            f"{len(axes)}: pass axes= matching the array (e.g. 'ZYX' for a 3D stack)"
        )
    if spacing is None and meta is not None:
        spacing = meta.spacing
    spacing = check_spacing(spacing) if spacing is not None else None
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(
            f"array has {bad} NaN or infinite values; replace them before writing "
            f"(e.g. np.nan_to_num), they cannot be shown or scaled"
        )
    _check_output(path, meta, overwrite)

    calibration = None
    if dtype == "uint16":
        data, offset, step = to_uint16(array)
        calibration = (offset, step)
    else:
        with np.errstate(over="ignore"):
            data = array.astype(np.float32, copy=False)
        if data is not array and not np.all(np.isfinite(data)):
            raise ValueError("array values exceed the float32 range; rescale them before writing")
    if is_ome_name(path):
        data, kwargs = _ome_layout(data, axes, spacing, calibration)
    else:
        data, kwargs = _imagej_layout(data, axes, spacing, calibration)
    folder = path.parent
    try:
        temporary = create_temporary(path)
    except PermissionError as exc:
        raise PermissionError(
            f"output folder is not writable: {folder}; choose a folder you can write to"
        ) from exc
    try:
        tifffile.imwrite(temporary, data, **kwargs)
        fsync_file(temporary)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


def is_ome_name(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`write` writes ``path`` as OME-TIFF (its name ends in .ome.tif(f))."""
    return Path(path).name.lower().endswith(OME_SUFFIXES)


def _imagej_layout(data: np.ndarray, axes: str, spacing: tuple | None,
                   calibration: tuple[float, float] | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The array in ImageJ's TZCYX order and tifffile's keywords for an ImageJ hyperstack."""
    order = sorted(range(len(axes)), key=lambda i: "TZCYX".index(axes[i]))  # ImageJ's order
    data = np.ascontiguousarray(data.transpose(order))
    kwargs: dict[str, Any] = {"imagej": True, "photometric": "minisblack"}
    metadata: dict[str, Any] = {"axes": "".join(axes[i] for i in order)}
    if calibration is not None:
        offset, step = calibration
        metadata.update(cf=0, c0=offset, c1=step, vunit="a.u.")
    if spacing is not None:
        dz, dy, dx = spacing
        kwargs["resolution"] = (1.0 / dx, 1.0 / dy)  # pixels per µm: the inverse size
        metadata.update(spacing=dz, unit="um")
    kwargs["metadata"] = metadata
    return data, kwargs


def _ome_layout(data: np.ndarray, axes: str, spacing: tuple | None,
                calibration: tuple[float, float] | None) -> tuple[np.ndarray, dict[str, Any]]:
    """tifffile's keywords for an OME-TIFF: axes in TCZYX order, PhysicalSize* in µm."""
    metadata: dict[str, Any] = {"axes": axes}
    if spacing is not None:
        for axis, size in zip("ZYX", spacing):
            if axis in axes:
                metadata[f"PhysicalSize{axis}"] = float(size)
                metadata[f"PhysicalSize{axis}Unit"] = "µm"
    if calibration is not None:
        offset, step = calibration
        metadata["MapAnnotation"] = {
            "Namespace": CALIBRATION_NAMESPACE,
            "Value": {"offset": repr(float(offset)), "step": repr(float(step))},
        }
    kwargs = {"ome": True, "imagej": False, "photometric": "minisblack", "metadata": metadata}
    return np.ascontiguousarray(data), kwargs


def to_uint16(array: Any) -> tuple[np.ndarray, float, float]:
    """Scale values linearly onto [0, 65535], the uint16 mapping of :func:`write`.

    Parameters
    ----------
    array : array-like
        Finite real values.

    Returns
    -------
    stored : numpy.ndarray
        uint16, ``round((array - offset) / step)``.
    offset : float
        ``min(0, array.min())``: 0 for non-negative arrays, so [0, max] maps onto
        [0, 65535]; negative values (e.g. ringing) are kept rather than clipped.
    step : float
        ``(array.max() - offset) / 65535``, or 1 for an all-zero array.
        ``offset + step * stored`` recovers ``array`` to within ``step / 2``.
    """
    values = np.asarray(array)
    if values.dtype != np.float64:
        values = values.astype(np.float32, copy=False)  # keep memory at 4 bytes a voxel
    if values.size == 0:
        return np.zeros(values.shape, np.uint16), 0.0, 1.0
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot scale NaN or infinite values to uint16; replace them first")
    offset = min(0.0, float(values.min()))
    top = float(values.max())
    step = (top - offset) / _UINT16_MAX if top > offset else 1.0
    real = values.dtype.type
    scaled = (values - real(offset)) * real(1.0 / step)
    stored = np.clip(np.rint(scaled), 0, _UINT16_MAX).astype(np.uint16)
    return stored, offset, step


def _default_axes(ndim: int) -> str:
    if ndim not in _DEFAULT_AXES:
        raise ValueError(
            f"cannot write a {ndim}-dimensional array: give 2 to 5 dimensions in TCZYX order "
            f"(YX, ZYX, CZYX, TCZYX), or pass axes= to name them"
        )
    return _DEFAULT_AXES[ndim]


def _check_output(path: Path, meta: ImageMeta | None, overwrite: bool) -> None:
    """Refuse a missing or read-only folder, an existing file, anything but a regular
    file, and the input file."""
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(
            f"output folder does not exist: {folder}; create it first or choose another output"
        )
    if not folder.is_dir():
        raise NotADirectoryError(f"output folder is not a folder: {folder}; fix the output path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"output folder is not writable: {folder}; choose a folder you can write to"
        )
    try:
        exists = check_replaceable(path)
    except IsADirectoryError:
        raise IsADirectoryError(
            f"output path is a folder: {path}; give a file name such as out.tif"
        ) from None
    except FileExistsError as exc:
        raise FileExistsError(
            f"output path {path} is {_kind(path)}, not a regular file: write() replaces "
            f"regular files only (overwrite=True included); choose another name"
        ) from exc
    if exists and meta is not None and meta.path is not None:
        with contextlib.suppress(OSError):
            if os.path.samefile(path, meta.path):
                raise ValueError(
                    f"refusing to write over the input image {path}: choose another output name"
                )
    if exists and not overwrite:
        raise FileExistsError(
            f"output file already exists: {path}; pass overwrite=True (--overwrite on the "
            f"command line) to replace it, or choose another name"
        )


def _kind(path: Path) -> str:
    try:
        kind = file_kind(os.lstat(path).st_mode)
    except OSError:
        return "not a regular file"
    if kind == "a symbolic link":
        target = os.readlink(path)
        return f"a symbolic link to {target}" + ("" if path.exists() else " (missing)")
    return kind

