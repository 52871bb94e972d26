"""OME-Zarr (NGFF 0.4) images, read lazily and written chunk by chunk, with voxel size.

An OME-Zarr image is a zarr group whose attributes hold ``multiscales``: the
axes (``t``, ``c``, ``z``, ``y``, ``x`` with their types and units) and, per
resolution level, a path and a ``scale`` transformation (the voxel size). Level
``0`` is the full resolution, the one deconvkit reads and writes. Written
groups use the zarr v2 format of NGFF 0.4, which napari-ome-zarr, Fiji's
n5-viewer and ome-zarr-py read; groups of NGFF 0.5 (zarr v3, attributes under
``ome``) are read too.

A group deconvkit writes is built under ``NAME.partial`` and renamed to
``NAME`` when every tile is in it: an interrupted run leaves the
``.partial`` group, which ``resume`` finishes, and never a half-written
``NAME``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ._meta import AXES, ImageMeta, check_axes, check_spacing, length_in_um

__all__ = ["is_zarr", "open_zarr", "create_zarr", "publish_zarr", "partial_path",
           "NGFF_VERSION", "WRITER_KEY"]

NGFF_VERSION = "0.4"
#: The attribute that marks a group as written by deconvkit.
WRITER_KEY = "deconvkit"
_AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """True for a path that names a zarr store (``.zarr`` or a folder holding one)."""
    path = Path(path)
    if path.suffix == ".zarr" or path.name.endswith(".ome.zarr"):
        return True
    return path.is_dir() and any((path / name).exists() for name in (".zgroup", ".zarray",
                                                                      "zarr.json"))


def partial_path(path: Path) -> Path:
    """Where a group is built before it is published: ``NAME.partial`` beside ``NAME``."""
    return path.with_name(path.name + ".partial")


def _multiscales(attributes: dict[str, Any]) -> dict[str, Any] | None:
    if "ome" in attributes and "multiscales" in attributes["ome"]:
        return attributes["ome"]["multiscales"][0]
    if "multiscales" in attributes:
        return attributes["multiscales"][0]
    return None


def open_zarr(path: str | os.PathLike[str]) -> tuple[Any, ImageMeta]:
    """Open an OME-Zarr image (or a plain zarr array) lazily: ``(zarr array, meta)``.

    The array is the full-resolution level, its axes a subsequence of TCZYX;
    the voxel size comes from the level's ``scale`` in the axes' units (µm,
    nm, ...). Nothing is read until the array is sliced.

    Raises
    ------
    FileNotFoundError
        No store at ``path``.
    ValueError
        Not a zarr store, or axes deconvkit cannot map to TCZYX.
    """
    import zarr

    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"zarr store not found: {path}; check the path")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises several kinds on a foreign folder
        raise ValueError(f"not a readable zarr store: {path} ({type(exc).__name__}: {exc})") from exc
    attributes = dict(node.attrs)
    spacing, axes = None, None
    if hasattr(node, "shape"):  # a bare array
        array = node
    else:
        scales = _multiscales(attributes)
        if scales is None:
            raise ValueError(f"{path} is a zarr group without OME-Zarr 'multiscales' metadata: "
                             "open the array inside it (e.g. PATH/0)")
        level = scales["datasets"][0]
        array = node[level["path"]]
        names = [a["name"] if isinstance(a, dict) else a for a in scales.get("axes", [])]
        units = [a.get("unit") if isinstance(a, dict) else None for a in scales.get("axes", [])]
        axes = "".join(n.upper() for n in names) or None
        scale = next((t["scale"] for t in level.get("coordinateTransformations", [])
                      if t.get("type") == "scale"), None)
        if scale is not None and axes is not None:
            lengths = {}
            for name, unit, value in zip(names, units, scale):
                factor = length_in_um(unit or "micrometer")
                if name.lower() in "zyx" and factor is not None:
                    lengths[name.lower()] = float(value) * factor
            if all(k in lengths for k in "zyx"):
                spacing = (lengths["z"], lengths["y"], lengths["x"])
            elif "y" in lengths and "x" in lengths and "z" not in names:
                spacing = (1.0, lengths["y"], lengths["x"])
    if axes is None:
        axes = {2: "YX", 3: "ZYX", 4: "CZYX", 5: "TCZYX"}.get(array.ndim)
        if axes is None:
            raise ValueError(f"{path} has {array.ndim} axes and no names; deconvkit reads 2 to 5 "
                             "axes (TCZYX)")
    try:
        axes = check_axes(axes)
    except ValueError:
        raise ValueError(f"{path} has axes {axes!r}, which do not map to TCZYX") from None
    meta = ImageMeta(spacing=spacing, axes=axes, unit="µm" if spacing else "pixel",
                     source_dtype=str(array.dtype), path=path, flavor="ome-zarr")
    return array, meta


def create_zarr(path: str | os.PathLike[str], shape: tuple[int, ...], *, axes: str,
                spacing: tuple[float, float, float] | None, chunks: tuple[int, ...],
                dtype: Any = np.float32, name: str = "", record: dict | None = None,
                resume: bool = False) -> Any:
    """Create (or, with ``resume``, reopen) the ``.partial`` group of an OME-Zarr image.

    Returns the full-resolution zarr array to write tiles into; call
    :func:`publish_zarr` when it is complete.
    """
    import zarr

    path = Path(path).expanduser()
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {path.parent}; create it first "
                                "or choose another output")
    building = partial_path(path)
    axes = check_axes(axes)
    if len(axes) != len(shape):
        raise ValueError(f"axes {axes!r} do not match the shape {tuple(shape)}")
    if building.exists():
        if not resume:
            raise FileExistsError(
                f"an unfinished run left {building}: pass --resume (resume=True) to finish it, "
                "or remove that folder")
        group = zarr.open_group(str(building), mode="r+")
        if WRITER_KEY not in dict(group.attrs):
            raise ValueError(f"{building} was not written by deconvkit: it is left alone; "
                             "choose another output")
        array = group["0"]
        if tuple(array.shape) != tuple(shape):
            raise ValueError(f"{building} holds an image of shape {tuple(array.shape)}, not "
                             f"{tuple(shape)}: it belongs to another run; remove it")
        return array
    try:
        group = zarr.open_group(str(building), mode="w-", zarr_format=2)
        array = group.create_array("0", shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                                   fill_value=0)
    except TypeError:  # zarr 2 (Python 3.10): its own names for the same
        group = zarr.open_group(str(building), mode="w-")
        array = group.create_dataset("0", shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                                     fill_value=0)
    size = dict(zip("ZYX", spacing or (1.0, 1.0, 1.0)))
    scale = [size.get(a, 1.0) for a in axes]
    group.attrs["multiscales"] = [{
        "version": NGFF_VERSION,
        "name": name,
        "axes": [{"name": a.lower(), "type": _AXIS_TYPES[a.lower()],
                  **({"unit": "micrometer"} if a in "ZYX" and spacing else {})} for a in axes],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": scale}]}],
    }]
    group.attrs[WRITER_KEY] = record or {}
    return array


def publish_zarr(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Rename the finished ``.partial`` group to ``path`` (replacing a deconvkit group with
    ``overwrite``; never anything else)."""
    import zarr

    path = Path(path).expanduser()
    building = partial_path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"output already exists: {path}; pass --overwrite to "
                                  "replace it, or choose another name")
        try:
            ours = WRITER_KEY in dict(zarr.open_group(str(path), mode="r").attrs)
        except Exception:  # noqa: BLE001 - not a zarr group at all
            ours = False
        if not ours or not path.is_dir():
            raise ValueError(f"refusing to replace {path}: deconvkit did not write it")
        old = path.with_name(path.name + ".replaced")
        os.replace(path, old)
        os.replace(building, path)
        shutil.rmtree(old)
        return path
    os.replace(building, path)
    return path


def axes_of(ndim: int) -> str:
    """The TCZYX axes of an array of ``ndim`` axes ending in YX (ZYX for 3)."""
    return AXES[-ndim:] if ndim <= 3 else {4: "CZYX", 5: "TCZYX"}[ndim]

