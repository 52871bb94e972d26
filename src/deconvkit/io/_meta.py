"""Image metadata, axis conventions and length units shared by the reader and the writer."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AXES",
    "ImageMeta",
    "ImageReadError",
    "check_axes",
    "check_spacing",
    "iter_volumes",
    "length_in_um",
]

#: The order every array of deconvkit.io follows: time, channel, then the ZYX volume.
AXES = "TCZYX"

#: Micrometres per unit, keyed by lower-case unit names found in ImageJ and OME files.
_UM_PER_UNIT = {
    **dict.fromkeys(["µm", "μm", "um", "micron", "microns", "micrometer", "micrometre"], 1.0),
    **dict.fromkeys(["nm", "nanometer", "nanometre", "nanometers", "nanometres"], 1e-3),
    **dict.fromkeys(["mm", "millimeter", "millimetre"], 1e3),
    **dict.fromkeys(["cm", "centimeter", "centimetre"], 1e4),
    **dict.fromkeys(["m", "meter", "metre"], 1e6),
    **dict.fromkeys(["å", "angstrom", "ångström"], 1e-4),
    **dict.fromkeys(["pm", "picometer", "picometre"], 1e-6),
}

#: Unit names that mean "not calibrated" (ImageJ writes "pixel" for these).
_UNCALIBRATED = {"", "pixel", "pixels", "px"}


class ImageReadError(ValueError):
    """A file that exists but cannot be read as a TIFF image (not a TIFF, corrupt, truncated)."""


@dataclass(frozen=True)
class ImageMeta:
    """What :func:`deconvkit.io.read` learned about an image, and what :func:`write` keeps.

    Parameters
    ----------
    spacing : tuple of 3 floats or None
        Voxel size ``(dz, dy, dx)`` in µm, or None when the file does not give it.
    axes : str
        Names of the array's axes, a subsequence of ``"TCZYX"`` in that order that
        holds at least ``"YX"``; :func:`read` always returns ``"ZYX"``, ``"CZYX"``,
        ``"TZYX"`` or ``"TCZYX"``.
    unit : str
        Unit of ``spacing``: ``"µm"`` when the spacing is known, ``"pixel"`` otherwise.
    source_dtype : str
        Pixel type in the file (``"uint16"``, ``"float32"``, ...); arrays are float32.
    path : pathlib.Path or None
        The file the image was read from.
    source_unit : str or None
        The length unit as the file wrote it (``"micron"``, ``"nm"``, ...), before conversion.
    calibration : tuple of 2 floats or None
        ``(offset, step)`` of an ImageJ linear calibration that was applied on reading:
        ``value = offset + step * stored``. :func:`write` records one for ``dtype="uint16"``.
    flavor : str
        ``"imagej"``, ``"ome"`` or ``"tiff"`` (no ImageJ or OME metadata).
    file_spacing : tuple of 3 (float or None), optional
        ``(dz, dy, dx)`` in µm as far as the file gives them, each None where the
        file's value is missing or invalid: a file with a valid pixel size but a
        bad z step keeps its pixel size here while ``spacing`` is None. Defaults
        to ``spacing``.
    spacing_note : str or None
        What is missing or invalid in the file's voxel size, e.g. ``"the z step:
        spacing = -1 in the ImageJ description is not a positive length"``; None
        when the file gives all of it (or says it is not calibrated).
    """

    spacing: tuple[float, float, float] | None = None
    axes: str = "ZYX"
    unit: str = "µm"
    source_dtype: str = "float32"
    path: Path | None = None
    source_unit: str | None = None
    calibration: tuple[float, float] | None = None
    flavor: str = "tiff"
    file_spacing: tuple[float | None, float | None, float | None] | None = None
    spacing_note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", check_axes(self.axes))
        if self.spacing is not None:
            object.__setattr__(self, "spacing", check_spacing(self.spacing))
        if self.file_spacing is None:
            object.__setattr__(self, "file_spacing", self.spacing)
        elif len(self.file_spacing) != 3:
            raise ValueError(f"file_spacing must be (dz, dy, dx), got {self.file_spacing!r}")
        else:
            object.__setattr__(self, "file_spacing", tuple(
                None if v is None else float(v) for v in self.file_spacing))
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))

    @property
    def scale(self) -> tuple[float, ...] | None:
        """Voxel size per array axis (1 for T and C), e.g. napari's ``scale=``; None if unknown."""
        if self.spacing is None:
            return None
        size = dict(zip("ZYX", self.spacing))
        return tuple(size.get(axis, 1.0) for axis in self.axes)


def check_axes(axes: Any) -> str:
    """Return ``axes`` upper-cased if it is a subsequence of ``"TCZYX"`` holding ``"YX"``.

    Raises
    ------
    ValueError
        Unknown letters, repeated letters, another order, or no Y and X axes.
    """
    text = str(axes).upper()
    letters = iter(AXES)
    in_order = all(letter in letters for letter in text)  # consumes: checks order too
    if not in_order or not text.endswith("YX"):
        raise ValueError(
            f"axes {axes!r} are not supported: use letters from 'TCZYX' in that order, "
            f"ending with 'YX', such as 'ZYX', 'CZYX' or 'TCZYX'"
        )
    return text


def check_spacing(spacing: Any) -> tuple[float, float, float]:
    """Return ``spacing`` as three positive finite floats ``(dz, dy, dx)`` in µm."""
    try:
        values = tuple(float(v) for v in spacing)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"spacing must be three positive numbers (dz, dy, dx) in µm, such as "
            f"(0.3, 0.1, 0.1); got {spacing!r}"
        )
    return values  # type: ignore[return-value]


def length_in_um(unit: str | None) -> float | None:
    """Micrometres per ``unit``, or None when the unit is missing, "pixel" or unknown.

    Accepts ImageJ's spellings ("micron", "um", "µm", the escaped ``\\u00B5m``) and
    OME's (``"µm"``, ``"nm"``, ``"Å"``, ...).
    """
    if unit is None:
        return None
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), str(unit))
    return _UM_PER_UNIT.get(text.strip().lower())


def is_uncalibrated(unit: str | None) -> bool:
    """True when ``unit`` says the image has no physical calibration."""
    return unit is None or str(unit).strip().lower() in _UNCALIBRATED


def iter_volumes(
    array: np.ndarray, meta: ImageMeta | str
) -> Iterator[tuple[dict[str, int], np.ndarray]]:
    """Yield each ZYX volume of a ``(T, C, Z, Y, X)``-style array with its T/C indices.

    Parameters
    ----------
    array : numpy.ndarray
        An array whose axes ``meta.axes`` end with ``"ZYX"``, as :func:`read` returns.
    meta : ImageMeta or str
        The image metadata, or the axes string itself.

    Yields
    ------
    index : dict of str to int
        The position on the leading axes, e.g. ``{"T": 0, "C": 1}``; empty for ZYX.
        Its values, in order, index the array: ``array[tuple(index.values())]``.
    volume : numpy.ndarray
        The ``(Z, Y, X)`` volume, a view of ``array`` (writing to it writes ``array``).

    Raises
    ------
    ValueError
        When the axes do not end with ZYX or do not match ``array.ndim``.

    Examples
    --------
    >>> out = np.empty_like(image)  # doctest: +SKIP
    >>> for index, volume in iter_volumes(image, meta):  # doctest: +SKIP
    ...     out[tuple(index.values())] = deconvolve(volume, psf)
    """
    axes = check_axes(meta if isinstance(meta, str) else meta.axes)
    if not axes.endswith("ZYX"):
        raise ValueError(f"axes {axes!r} hold no ZYX volume; read() returns axes ending in 'ZYX'")
    if np.ndim(array) != len(axes):
        raise ValueError(
            f"array has {np.ndim(array)} axes {np.shape(array)} but axes {axes!r} name "
            f"{len(axes)}: pass the metadata that came with this array"
        )
    leading = axes[:-3]
    for index in np.ndindex(*np.shape(array)[: len(leading)]):
        yield dict(zip(leading, index)), array[index]
