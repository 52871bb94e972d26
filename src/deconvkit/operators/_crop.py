"""Crop and zero-pad: the camera's field inside the extended object domain."""

from __future__ import annotations

from typing import Any

from ..backend import namespace
from ._base import Operator, _shape_text
from ._checks import check_shape

__all__ = ["Crop", "Pad"]


def _window(big: tuple[int, ...], small: tuple[int, ...], offset: Any) -> tuple[slice, ...]:
    if len(big) != len(small):
        raise ValueError(f"cannot crop {_shape_text(big)} to {_shape_text(small)}: axes differ")
    if offset is None:
        offset = tuple((b - s) // 2 for b, s in zip(big, small))
    offset = tuple(int(o) for o in offset)
    if len(offset) != len(big):
        raise ValueError(f"offset {offset} needs one value per axis ({len(big)})")
    if any(o < 0 or o + s > b for o, s, b in zip(offset, small, big)):
        raise ValueError(
            f"a {_shape_text(small)} window at offset {offset} lies outside the "
            f"{_shape_text(big)} domain: it must fit inside (0 <= offset <= big - small)"
        )
    return tuple(slice(o, o + s) for o, s in zip(offset, small))


class Crop(Operator):
    r"""Crop ``shape_in`` to a window of ``shape_out``: :math:`S x = x[\Omega]`.

    The adjoint (:class:`Pad`) puts the window back into zeros. ``Crop @ Blur``
    is the extended-domain model: the camera sees only part of the blurred object.

    Parameters
    ----------
    shape_in, shape_out : tuple of int
        Domain and window shapes, ``shape_out <= shape_in`` on every axis.
    offset : tuple of int, optional
        Index of the window's first voxel; centred by default,
        ``(shape_in - shape_out) // 2``.
    """

    single_entry_rows = single_entry_cols = True

    def __init__(self, shape_in: tuple[int, ...], shape_out: tuple[int, ...], offset: Any = None):
        shape_in, shape_out = check_shape(shape_in, "shape_in"), check_shape(shape_out, "shape_out")
        self.window = _window(shape_in, shape_out, offset)
        self.offset = tuple(s.start for s in self.window)
        super().__init__(shape_in, shape_out)

    def _forward(self, x):
        return namespace(x).ascontiguousarray(x[self.window])

    def _adjoint_apply(self, y):
        x = namespace(y).zeros(self.dims, dtype=y.dtype)
        x[self.window] = y
        return x

    def _adjoint(self):
        return Pad(self.dimsd, self.dims, self.offset)

    @property
    def semi_orthogonal(self):
        return 1.0  # S Sᴴ = I

    def _compute_lipschitz(self):
        return 1.0

    def abs_operator(self, power=1.0):
        return self  # entries 0 and 1

    def __repr__(self):
        return f"Crop({_shape_text(self.dims)} -> {_shape_text(self.dimsd)})"


class Pad(Operator):
    """Zero-pad ``shape_in`` into ``shape_out``; the adjoint of :class:`Crop`.

    Parameters
    ----------
    shape_in, shape_out : tuple of int
        Array and padded shapes, ``shape_in <= shape_out`` on every axis.
    offset : tuple of int, optional
        Where the array's first voxel lands; centred by default.
    """

    single_entry_rows = single_entry_cols = True

    def __init__(self, shape_in: tuple[int, ...], shape_out: tuple[int, ...], offset: Any = None):
        shape_in, shape_out = check_shape(shape_in, "shape_in"), check_shape(shape_out, "shape_out")
        self.window = _window(shape_out, shape_in, offset)
        self.offset = tuple(s.start for s in self.window)
        super().__init__(shape_in, shape_out)

    def _forward(self, x):
        y = namespace(x).zeros(self.dimsd, dtype=x.dtype)
        y[self.window] = x
        return y

    def _adjoint_apply(self, y):
        return namespace(y).ascontiguousarray(y[self.window])

    def _adjoint(self):
        return Crop(self.dimsd, self.dims, self.offset)

    def _compute_lipschitz(self):
        return 1.0

    def abs_operator(self, power=1.0):
        return self  # entries 0 and 1

    def __repr__(self):
        return f"Pad({_shape_text(self.dims)} -> {_shape_text(self.dimsd)})"
