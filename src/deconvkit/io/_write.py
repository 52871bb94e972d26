"""Writing ImageJ hyperstacks atomically, with voxel size, axes and an optional uint16 scaling."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ._meta import ImageMeta, check_axes, check_spacing

__all__ = ["write", "to_uint16"]

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
    """Write an array as an ImageJ TIFF that Fiji and napari open at the right scale.

    Parameters
    ----------
    path : str or path-like
        The output file; its folder must exist. Never the file ``meta`` was read from.
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
        :func:`to_uint16`. The offset and step are stored as ImageJ's calibration
        (``cf=0``, ``c0=offset``, ``c1=step`` in the description), so Fiji shows and
        :func:`read` returns the original values, to within ``step / 2``.
    overwrite : bool
        Replace an existing file (the ``--overwrite`` of the command line).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    FileNotFoundError, NotADirectoryError, PermissionError
        The output folder is missing, not a folder, or not writable.
    ValueError
        NaN/Inf values, complex values, an ``axes`` that does not match ``array.ndim``,
        a bad ``spacing`` or ``dtype``, or ``path`` is the file ``meta`` was read from.

    Notes
    -----
    The file is an ImageJ hyperstack: ``resolution = (1/dx, 1/dy)`` (pixels per µm) and
    ``metadata = {"spacing": dz, "unit": "um", "axes": ...}``, with the array's TCZYX axes
    reordered to ImageJ's TZCYX. It is written to a temporary file in the output folder,
    then renamed over ``path``: a failure leaves no partial output and no temporary file.
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

    extra: dict[str, Any] = {}
    if dtype == "uint16":
        data, offset, step = to_uint16(array)
        extra = {"cf": 0, "c0": offset, "c1": step, "vunit": "a.u."}
    else:
        with np.errstate(over="ignore"):
            data = array.astype(np.float32, copy=False)
        if data is not array and not np.all(np.isfinite(data)):
            raise ValueError("array values exceed the float32 range; rescale them before writing")
    order = sorted(range(len(axes)), key=lambda i: "TZCYX".index(axes[i]))  # ImageJ's order
    data = np.ascontiguousarray(data.transpose(order))
    kwargs: dict[str, Any] = {"imagej": True, "photometric": "minisblack"}
    metadata: dict[str, Any] = {"axes": "".join(axes[i] for i in order), **extra}
    if spacing is not None:
        dz, dy, dx = spacing
        kwargs["resolution"] = (1.0 / dx, 1.0 / dy)  # pixels per µm: the inverse size
        metadata.update(spacing=dz, unit="um")
    _write_atomically(path, data, overwrite, metadata=metadata, **kwargs)
    return path


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
    """Refuse a missing or read-only folder, an existing file, and the input file."""
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
    if path.is_dir():
        raise IsADirectoryError(
            f"output path is a folder: {path}; give a file name such as out.tif"
        )
    if meta is not None and meta.path is not None and path.exists():
        if path.resolve() == meta.path.resolve():
            raise ValueError(
                f"refusing to write over the input image {path}: choose another output name"
            )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"output file already exists: {path}; pass overwrite=True (--overwrite on the "
            f"command line) to replace it, or choose another name"
        )


def _write_atomically(path: Path, data: np.ndarray, overwrite: bool, **kwargs: Any) -> None:
    """tifffile.imwrite to a temporary file in the output folder, then rename it to ``path``."""
    folder = path.parent
    try:
        handle = tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{path.name}.", suffix=".tif", delete=False
        )
    except PermissionError as exc:
        raise PermissionError(
            f"output folder is not writable: {folder}; choose a folder you can write to"
        ) from exc
    temporary = Path(handle.name)
    try:
        handle.close()
        tifffile.imwrite(temporary, data, **kwargs)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        if overwrite:
            os.replace(temporary, path)
        else:
            _move_no_clobber(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _move_no_clobber(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``, failing if ``target`` appeared in the meantime."""
    try:
        os.link(source, target)  # atomic, and refuses an existing target
    except FileExistsError:
        raise FileExistsError(
            f"output file already exists: {target}; pass overwrite=True (--overwrite on the "
            f"command line) to replace it, or choose another name"
        ) from None
    except OSError:  # no hard links on this file system: check, then rename
        if target.exists():
            raise FileExistsError(
                f"output file already exists: {target}; pass overwrite=True (--overwrite) "
                f"to replace it, or choose another name"
            ) from None
        os.replace(source, target)
    else:
        os.unlink(source)


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
