"""Reading ImageJ, OME and plain TIFF files as float32 arrays in TCZYX order, with voxel size."""

from __future__ import annotations

import logging
import os
import threading
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ._meta import AXES, ImageMeta, ImageReadError, is_uncalibrated, length_in_um

__all__ = ["read"]

_TIFF_CENTIMETER = 3  # ResolutionUnit tag value
# tifffile logs these (or anything at ERROR level) when it patches over a damaged file.
_DAMAGE_WORDS = ("corrupt", "zeroed", "read_bytes", "invalid page offset")


def read(path: str | os.PathLike[str]) -> tuple[np.ndarray, ImageMeta]:
    """Read a TIFF image as a float32 array in ``TCZYX`` order, with its voxel size in µm.

    Parameters
    ----------
    path : str or path-like
        An ImageJ TIFF (hyperstacks included), an OME-TIFF, or a plain TIFF.
        Only the first image series of a file is read (its full-resolution level).

    Returns
    -------
    array : numpy.ndarray
        float32, C-contiguous. Its axes are ``meta.axes``: always ``Z, Y, X``, preceded
        by ``C`` and/or ``T`` when the file has more than one channel / time point,
        e.g. ``(C, Z, Y, X)`` with axes ``"CZYX"``. A 2D image is read as
        ``(1, Y, X)`` with axes ``"ZYX"``; a single channel or time point is dropped.
        Integer and float64 pixels are converted to float32; an ImageJ linear
        calibration (``cf=0``, ``c0``, ``c1``, as written by :func:`write` with
        ``dtype="uint16"`` and by ImageJ for signed 16-bit) is applied.
    meta : ImageMeta
        Voxel size ``spacing = (dz, dy, dx)`` in µm (or None), ``axes``, the file's
        pixel type and unit, the path.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError
        ``path`` is a folder.
    ImageReadError
        (a ValueError) The file is not a TIFF, is truncated or corrupt, or has axes
        deconvkit cannot map to TCZYX.

    Notes
    -----
    Voxel size, in the order tried:

    * ImageJ: ``dx, dy`` from the XResolution/YResolution tags, which hold *pixels per
      unit* (``1/dx``), ``dz`` from the ``spacing`` entry of the description, in the
      description's ``unit`` (``micron``, ``um``, ``µm``, ``\\u00B5m``, ``nm``, ...;
      ``yunit``/``zunit`` when given). ImageJ omits ``spacing`` when it equals 1, so a
      calibrated stack without it has ``dz = 1`` unit. No unit, or ``pixel``: None.
    * OME-TIFF: ``PhysicalSizeX/Y/Z`` with their ``PhysicalSize*Unit`` (default µm).
    * plain TIFF: the resolution tags when the ResolutionUnit is centimetre.

    A missing ``dy`` is taken equal to ``dx``. A missing ``dz`` is 1 µm for a single
    plane (it plays no role there); for a stack the spacing is None, with a warning
    that names the missing or invalid value, and the valid values are kept in
    ``meta.file_spacing`` (so only the z step has to be supplied). Every length is
    converted to µm. An OME-TIFF written by :func:`write` with ``dtype="uint16"``
    carries its scaling in a ``deconvkit/calibration`` MapAnnotation, applied here.
    """
    path = _existing_file(path)
    with _damage_log() as damage, _as_read_error(path):
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0] if tif.series else None
            if series is None:
                raise ImageReadError(f"not a readable TIFF file: {path} holds no image")
            flavor = "ome" if tif.is_ome else "imagej" if tif.is_imagej else "tiff"
            if flavor != "tiff" and series.kind in ("generic", "uniform"):
                damage.append(f"its {flavor} metadata does not match the pages in it")
            _raise_if_damaged(path, damage)
            data = series.asarray()
            _raise_if_damaged(path, damage)
            source_dtype = np.dtype(series.dtype).name
            ij = (tif.imagej_metadata or {}) if tif.is_imagej else {}
            lengths, problems, unit = _spacing_of(tif, flavor, ij)
            ome_calibration = _ome_calibration(tif.ome_metadata) if flavor == "ome" else None
            axes = series.axes
    if np.dtype(data.dtype).kind not in "biuf":
        raise ImageReadError(
            f"not a readable TIFF file: {path} has {source_dtype} pixels; deconvkit reads "
            f"integer and real images only (convert it to 16-bit or 32-bit first)"
        )
    data, axes = _to_tczyx(data, axes, path)
    array = np.ascontiguousarray(data, dtype=np.float32)
    calibration = _calibration(ij) if flavor != "ome" else ome_calibration
    if calibration is not None:
        offset, step = calibration
        array *= np.float32(step)
        array += np.float32(offset)
    spacing, known, note = _complete_spacing(lengths, problems, array.shape[axes.index("Z")],
                                             path)
    meta = ImageMeta(
        spacing=spacing,
        axes=axes,
        unit="µm" if spacing is not None else "pixel",
        source_dtype=source_dtype,
        path=path,
        source_unit=unit,
        calibration=calibration,
        flavor=flavor,
        file_spacing=known,
        spacing_note=note,
    )
    return array, meta


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"image file not found: {path} (looked in {path.absolute().parent}); check the path"
        )
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an image file: give the path of a .tif")
    return path


@contextmanager
def _as_read_error(path: Path) -> Iterator[None]:
    """Turn whatever tifffile raises on a damaged file into an ImageReadError naming it."""
    try:
        yield
    except (ImageReadError, MemoryError, OSError):
        raise
    except Exception as exc:  # tifffile raises struct.error, IndexError, ValueError, ...
        raise ImageReadError(
            f"not a readable TIFF file: {path} ({type(exc).__name__}: {exc}); the file is "
            f"not a TIFF, or is truncated or corrupt: check it opens in Fiji, or export it again"
        ) from exc


@contextmanager
def _damage_log() -> Iterator[list[str]]:
    """Collect what tifffile logs, in this thread, about damage it works around."""
    found: list[str] = []
    thread = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            damaged = record.levelno >= logging.ERROR or any(
                word in message.lower() for word in _DAMAGE_WORDS
            )
            if record.thread == thread and damaged:
                found.append(message)

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def _raise_if_damaged(path: Path, damage: list[str]) -> None:
    if damage:
        raise ImageReadError(
            f"not a readable TIFF file: {path} is truncated or corrupt ({damage[0]}); "
            f"check it opens in Fiji, or copy or export it again"
        )


def _to_tczyx(data: np.ndarray, axes: str, path: Path) -> tuple[np.ndarray, str]:
    """Drop single-sized extra axes, name samples/pages, transpose to a TCZYX subsequence."""
    axes = axes.upper()
    keep = [i for i, a in enumerate(axes) if a in "ZYX" or data.shape[i] > 1]
    data = data.reshape([data.shape[i] for i in keep])
    names = [axes[i] for i in keep]
    if "S" in names and "C" not in names:  # RGB or other samples: channels
        names[names.index("S")] = "C"
    generic = [i for i, a in enumerate(names) if a in "IQ"]  # pages of unknown meaning
    if len(generic) == 1 and "Z" not in names:
        names[generic[0]] = "Z"
    unknown = "".join(a for a in names if a not in AXES)
    if unknown or len(set(names)) != len(names) or not {"Y", "X"} <= set(names):
        reason = f"unknown {unknown!r}" if unknown else "no YX plane, or two axes of one kind"
        raise ImageReadError(
            f"not a readable TIFF file for deconvkit: {path} has axes {axes!r} of shape "
            f"{tuple(data.shape)}, which do not map to TCZYX ({reason}); save it as a "
            f"hyperstack with Z, C and T axes (Fiji: Image > Hyperstacks)"
        )
    if "Z" not in names:
        data, names = data[np.newaxis], ["Z", *names]
    order = sorted(range(len(names)), key=lambda i: AXES.index(names[i]))
    data = data.transpose(order)
    names = [names[i] for i in order]
    if "T" in names and data.shape[names.index("Z")] == 1:
        warnings.warn(
            f"{path} has {data.shape[0]} time points of single planes and no z slices; if "
            f"the frames are a z-stack, relabel them (Fiji: Image > Properties) and save again",
            UserWarning,
            stacklevel=3,
        )
    return data, "".join(names)


Lengths = list  # (dz, dy, dx): float in µm or None
Problems = list  # (dz, dy, dx): why a value is missing or invalid, or None


def _spacing_of(tif: Any, flavor: str,
                ij: dict[str, Any]) -> tuple[Lengths, Problems, str | None]:
    """Voxel size (dz, dy, dx) in µm as far as the file gives it, why each missing value
    is missing, and the file's unit."""
    if flavor == "ome":
        return _ome_spacing(tif.ome_metadata)
    page = tif.pages.first
    tags = {axis: page.tags.valueof(f"{axis}Resolution") for axis in "YX"}
    dy, dx = (_inverse(tags[axis]) for axis in "YX")
    if flavor == "imagej":
        unit = ij.get("unit")
        if is_uncalibrated(unit):
            reason = f"not calibrated (unit {unit!r})" if unit else "not calibrated (no unit)"
            return [None, None, None], [reason] * 3, unit
        dz = ij.get("spacing", 1.0)  # ImageJ writes spacing only when it is not 1
        units = (ij.get("zunit", unit), ij.get("yunit", unit), unit)
        lengths = [_to_um(v, u) for v, u in zip((dz, dy, dx), units)]
        raw = {0: ("spacing", dz), 1: ("YResolution", tags["Y"]), 2: ("XResolution", tags["X"])}
        problems = []
        for i, length in enumerate(lengths):
            name, value = raw[i]
            if length is not None:
                problems.append(None)
            elif length_in_um(units[i]) is None:
                problems.append(f"the unit {units[i]!r} is not a length unit")
            elif i == 0:
                problems.append(f"spacing = {value!r} in the ImageJ description is not a "
                                f"positive length")
            else:
                problems.append(f"the {name} tag {value!r} is not a positive resolution")
        return lengths, problems, unit
    if page.tags.valueof("ResolutionUnit") == _TIFF_CENTIMETER:
        lengths = [None, _to_um(dy, "cm"), _to_um(dx, "cm")]
        problems = ["a plain TIFF has no z step"] + [
            None if v is not None else f"the {a}Resolution tag {tags[a]!r} is not a positive "
            f"resolution" for v, a in zip(lengths[1:], "YX")]
        return lengths, problems, "cm"
    return [None, None, None], ["not calibrated (a plain TIFF without a length unit)"] * 3, None


def _inverse(rational: Any) -> float | None:
    """Length per pixel from a resolution tag holding pixels per unit, ``(num, den)``."""
    try:
        num, den = rational
        return float(den) / float(num) if num and den else None
    except (TypeError, ValueError):
        return None


def _to_um(value: Any, unit: Any) -> float | None:
    factor = length_in_um(unit)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if factor is None or not np.isfinite(value) or value <= 0:
        return None
    return value * factor


def _ome_pixels(xml: str | None) -> tuple[Any, Any]:
    """The OME document's root and its first Pixels element (None, None if unreadable)."""
    try:
        root = ElementTree.fromstring(xml or "")
    except ElementTree.ParseError:
        return None, None
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    return root, pixels


def _ome_spacing(xml: str | None) -> tuple[Lengths, Problems, str | None]:
    _, pixels = _ome_pixels(xml)
    if pixels is None:
        return [None, None, None], ["no OME Pixels element"] * 3, None
    lengths, problems = [], []
    units = [pixels.get(f"PhysicalSize{a}Unit", "µm") for a in "ZYX"]
    for axis, unit in zip("ZYX", units):
        raw = pixels.get(f"PhysicalSize{axis}")
        length = _to_um(raw, unit)
        lengths.append(length)
        if length is not None:
            problems.append(None)
        elif raw is None:
            problems.append(f"no PhysicalSize{axis} in the OME metadata")
        elif length_in_um(unit) is None:
            problems.append(f"PhysicalSize{axis}Unit = {unit!r} is not a length unit")
        else:
            problems.append(f"PhysicalSize{axis} = {raw!r} is not a positive length")
    return lengths, problems, units[-1]


def _ome_calibration(xml: str | None) -> tuple[float, float] | None:
    """The (offset, step) of a ``deconvkit/calibration`` MapAnnotation, if the file has one."""
    from ._write import CALIBRATION_NAMESPACE

    root, _ = _ome_pixels(xml)
    if root is None:
        return None
    for element in root.iter():
        if (element.tag.rsplit("}", 1)[-1] == "MapAnnotation"
                and element.get("Namespace") == CALIBRATION_NAMESPACE):
            values = {m.get("K"): m.text for m in element.iter()
                      if m.tag.rsplit("}", 1)[-1] == "M"}
            try:
                offset, step = float(values["offset"]), float(values["step"])
            except (KeyError, TypeError, ValueError):
                return None
            if np.isfinite(offset) and np.isfinite(step) and step != 0:
                return offset, step
    return None


_NAMES = ("the z step", "the pixel height (dy)", "the pixel width (dx)")


def _complete_spacing(
    lengths: Lengths, problems: Problems, depth: int, path: Path
) -> tuple[tuple[float, float, float] | None, tuple | None, str | None]:
    """(spacing or None, the valid values one by one, what is missing or invalid)."""
    dz, dy, dx = lengths
    dx = dx if dx is not None else dy
    dy = dy if dy is not None else dx
    if dz is None and depth == 1 and dx is not None:
        dz = 1.0  # a single plane: the z step plays no role
    known = (dz, dy, dx)
    if dx is None:  # no pixel size
        calibrated = not all(p and p.startswith("not calibrated") for p in problems)
        note = None
        if calibrated:
            note = "; ".join(f"{_NAMES[i]}: {p}" for i, p in enumerate(problems) if p
                             and lengths[i] is None and i > 0)
        return None, (known if any(v is not None for v in known) else None), note or None
    if dz is None:
        note = f"the z step: {problems[0]}"
        warnings.warn(
            f"{path} gives the pixel size ({dy:g} x {dx:g} µm) but not the z step "
            f"({problems[0]}); spacing is None and the pixel size is kept in "
            f"meta.file_spacing: give the z step yourself (--z-step DZ on the command line)",
            UserWarning,
            stacklevel=3,
        )
        return None, known, note
    return (float(dz), float(dy), float(dx)), known, None


def _calibration(ij: dict[str, Any]) -> tuple[float, float] | None:
    """ImageJ's straight-line calibration ``value = c0 + c1 * stored`` (``cf=0``), if any."""
    if ij.get("cf") != 0 or "c0" not in ij or "c1" not in ij:
        return None
    try:
        offset, step = float(ij["c0"]), float(ij["c1"])
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(offset) and np.isfinite(step)) or step == 0:
        return None
    return offset, step
