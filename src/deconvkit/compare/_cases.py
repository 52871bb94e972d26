r"""Cases of a study: a measured (or simulated) image with the answer known.

A :class:`Case` holds arrays: the image, its PSF, the ground truth on the
image's field, the voxel size and the background. :class:`SimulatedCase`
(a phantom imaged through :func:`deconvkit.simulate.observe`) and
:class:`FileCase` (three TIFF files) describe a case in a few numbers or
paths and build the :class:`Case` on :meth:`load`, so a worker process
receives the description, not the arrays.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, psf, simulate
from ..operators import extended_shape

__all__ = ["PSF_MODELS", "Case", "CaseLike", "FileCase", "SimulatedCase", "slug"]

#: PSF models a :class:`SimulatedCase` can use, by name.
PSF_MODELS = {
    "gaussian": psf.gaussian,
    "born_wolf": psf.born_wolf,
    "gibson_lanni": psf.gibson_lanni,
    "vectorial": psf.vectorial,
    "confocal": psf.confocal,
}


def slug(name: str) -> str:
    """``name`` made safe for a file name: runs of other characters become ``-``."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-.") or "case"


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a case needs a non-empty name, got {name!r}")
    return name


def _check_spacing(spacing: Any, what: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: spacing must be three numbers (dz, dy, dx) in µm, "
                         f"got {spacing!r}") from None
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"{what}: spacing must be three positive numbers (dz, dy, dx) in µm, "
                         f"got {spacing!r}")
    return values


def _check_shape(shape: Any, what: str, name: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {name} must be three whole numbers (nz, ny, nx), "
                         f"got {shape!r}") from None
    if len(values) != 3 or any(n < 1 for n in values) or list(values) != list(shape):
        raise ValueError(f"{what}: {name} must be three positive whole numbers (nz, ny, nx), "
                         f"got {shape!r}")
    return values


@dataclass(frozen=True, eq=False)
class Case:
    """A deconvolution problem whose answer is known.

    Attributes
    ----------
    name : str
        Shown in tables and used (made file-safe) in figure names.
    image : numpy.ndarray
        The measured stack, ZYX, float32.
    psf : numpy.ndarray
        Its PSF, ZYX, any size (the methods normalize and centre it).
    ground_truth : numpy.ndarray
        The object on the image's field, same shape as ``image``.
    spacing : tuple of float
        Voxel size (dz, dy, dx), µm.
    background : float
        Background of the image, in its units (passed to every method).
    description : str
        One line on how the case was made.
    """

    name: str
    image: np.ndarray
    psf: np.ndarray
    ground_truth: np.ndarray
    spacing: tuple[float, float, float]
    background: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        name = _check_name(self.name)
        image = np.asarray(self.image, dtype=np.float32)
        truth = np.asarray(self.ground_truth, dtype=np.float32)
        kernel = np.asarray(self.psf, dtype=np.float32)
        for what, array in (("image", image), ("ground truth", truth), ("PSF", kernel)):
            if array.ndim != 3:
                raise ValueError(f"case {name!r}: the {what} must be a 3D ZYX array, "
                                 f"got shape {array.shape}")
        if truth.shape != image.shape:
            raise ValueError(f"case {name!r}: the ground truth has shape {truth.shape} but the "
                             f"image {image.shape}; they must match")
        if not float(np.ptp(truth)) > 0:
            raise ValueError(f"case {name!r}: the ground truth is constant, so no metric of it "
                             "is defined")
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "ground_truth", truth)
        object.__setattr__(self, "psf", kernel)
        object.__setattr__(self, "spacing", _check_spacing(self.spacing, f"case {name!r}"))
        object.__setattr__(self, "background", float(self.background))

    def load(self) -> Case:
        """The case itself (it already holds its arrays)."""
        return self

    def describe(self) -> str:
        """One line: name, shape, voxel size and how it was made."""
        shape = "x".join(map(str, self.image.shape))
        spacing = ", ".join(f"{s:g}" for s in self.spacing)
        text = f"{self.name}: {shape} voxels of ({spacing}) µm, PSF {'x'.join(map(str, self.psf.shape))}"
        return f"{text}; {self.description}" if self.description else text


@dataclass(frozen=True)
class SimulatedCase:
    r"""A phantom imaged through a simulated widefield microscope.

    The object :func:`deconvkit.simulate.phantom` lives on the extended
    domain (field + PSF − 1, fast FFT sizes); :func:`deconvkit.simulate.observe`
    blurs it, crops the camera's ``shape`` and adds background, Poisson and
    read noise:

    .. math:: y = \mathrm{Poisson}(S H k x + b) + \mathcal{N}(0, \sigma_r^2)

    Parameters
    ----------
    name : str
        The case's name.
    shape : tuple of int
        The camera's field (nz, ny, nx).
    spacing : tuple of float
        Voxel size (dz, dy, dx), µm.
    phantom : str
        A kind of :func:`deconvkit.simulate.phantom` (``"mixed"``: beads,
        filaments, shells and cytoplasm).
    psf_model : str
        A key of :data:`PSF_MODELS`.
    psf_shape : tuple of int
        Odd sizes of the PSF.
    psf_options : mapping
        Keyword arguments of the PSF model after ``shape`` and ``spacing``
        (``na``, ``wavelength``, ``ni``, ...).
    photons, background, read_noise : float
        Peak expected counts, background (photons/voxel) and read noise σ.
    seed : int
        Seed of the phantom; the noise uses ``seed + 1``.
    """

    name: str
    shape: tuple[int, int, int] = (48, 192, 192)
    spacing: tuple[float, float, float] = (0.2, 0.1, 0.1)
    phantom: str = "mixed"
    psf_model: str = "born_wolf"
    psf_shape: tuple[int, int, int] = (25, 49, 49)
    psf_options: Mapping[str, Any] = field(
        default_factory=lambda: {"na": 1.3, "wavelength": 0.52, "ni": 1.515})
    photons: float = 200.0
    background: float = 10.0
    read_noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        what = f"case {_check_name(self.name)!r}"
        object.__setattr__(self, "shape", _check_shape(self.shape, what, "shape"))
        object.__setattr__(self, "psf_shape", _check_shape(self.psf_shape, what, "psf shape"))
        object.__setattr__(self, "spacing", _check_spacing(self.spacing, what))
        if self.phantom not in simulate.KINDS:
            raise ValueError(f"{what}: phantom must be one of {', '.join(simulate.KINDS)}, "
                             f"got {self.phantom!r}")
        if self.psf_model not in PSF_MODELS:
            raise ValueError(f"{what}: unknown PSF model {self.psf_model!r}; available: "
                             f"{', '.join(PSF_MODELS)}")
        accepted = list(inspect.signature(PSF_MODELS[self.psf_model]).parameters)[2:]
        unknown = sorted(set(self.psf_options) - set(accepted))
        if unknown:
            raise ValueError(f"{what}: the {self.psf_model} PSF has no option "
                             f"{', '.join(map(repr, unknown))}; its options are: "
                             f"{', '.join(accepted)}")
        object.__setattr__(self, "psf_options", dict(self.psf_options))
        for number in ("photons", "background", "read_noise"):
            value = getattr(self, number)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{what}: {number} must be a non-negative number, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"{what}: seed must be a whole number, got {self.seed!r}")  # noqa: TRY004 - user input, one-line message

    def load(self) -> Case:
        """Compute the PSF, the phantom and the noisy observation."""
        kernel = PSF_MODELS[self.psf_model](self.psf_shape, self.spacing, **self.psf_options)
        domain = extended_shape(self.shape, kernel.shape)
        obj = simulate.phantom(domain, self.spacing, kind=self.phantom, seed=self.seed)
        observation = simulate.observe(
            obj, kernel, photons=self.photons, background=self.background,
            read_noise=self.read_noise, field_shape=self.shape, seed=self.seed + 1)
        options = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in self.psf_options.items())
        description = (f"simulated {self.phantom} phantom, {self.psf_model} PSF ({options}), "
                       f"{self.photons:g} photons at the peak, background {self.background:g}, "
                       f"read noise {self.read_noise:g}, seed {self.seed}")
        return Case(self.name, observation.data, kernel, observation.ground_truth,
                    self.spacing, self.background, description)


@dataclass(frozen=True)
class FileCase:
    """A case from three TIFF files: image, PSF and ground truth (ZYX, one channel).

    Parameters
    ----------
    name : str
        The case's name.
    image, psf, ground_truth : path
        The files (see :func:`deconvkit.io.read`).
    spacing : tuple of float, optional
        Voxel size (dz, dy, dx) in µm; by default the image's metadata.
    background : float
        Background of the image.
    """

    name: str
    image: Path
    psf: Path
    ground_truth: Path
    spacing: tuple[float, float, float] | None = None
    background: float = 0.0

    def __post_init__(self) -> None:
        what = f"case {_check_name(self.name)!r}"
        for key in ("image", "psf", "ground_truth"):
            object.__setattr__(self, key, Path(getattr(self, key)))
        if self.spacing is not None:
            object.__setattr__(self, "spacing", _check_spacing(self.spacing, what))
        if isinstance(self.background, bool) or not isinstance(self.background, (int, float)):
            raise ValueError(  # noqa: TRY004 - user input, one-line message
                f"{what}: background must be a number, got {self.background!r}")

    def _read(self, key: str) -> tuple[np.ndarray, Any]:
        path = getattr(self, key)
        array, meta = io.read(path)
        if array.ndim != 3:
            raise ValueError(f"case {self.name!r}: {path} has axes {meta.axes}; a study needs "
                             "one ZYX volume per file (split channels and time points first)")
        return array, meta

    def load(self) -> Case:
        """Read the three files."""
        image, meta = self._read("image")
        kernel, _ = self._read("psf")
        truth, _ = self._read("ground_truth")
        spacing = self.spacing or meta.spacing
        if spacing is None:
            raise ValueError(f"case {self.name!r}: {self.image} has no voxel size; give "
                             "spacing = [dz, dy, dx] in µm")
        return Case(self.name, image, kernel, truth, spacing, self.background,
                    f"files {self.image.name}, {self.psf.name}, {self.ground_truth.name}")


#: Anything a study accepts as a case.
CaseLike = Case | SimulatedCase | FileCase


def case_summary(case: CaseLike) -> dict[str, Any]:
    """The case's description as plain values (for ``study.json``)."""
    if isinstance(case, Case):
        return {"name": case.name, "type": "arrays", "shape": list(case.image.shape),
                "spacing": list(case.spacing), "background": case.background,
                "description": case.description}
    values: dict[str, Any] = {"type": "simulated" if isinstance(case, SimulatedCase) else "files"}
    for key, value in vars(case).items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        values[key] = value
    return values
