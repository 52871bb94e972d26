"""Sample data (npe2 ``sample_data``): a simulated widefield stack with its PSF, and real data.

Nothing is downloaded: the simulated stack is computed (small, seeded, about
half a second), and the real one, scikit-image's ``cells3d``, is offered only
when it is already in scikit-image's local data cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import deconvkit as dk

__all__ = ["SPACING", "cells3d", "cells3d_path", "widefield"]

#: Voxel size of the simulated stack, µm (dz, dy, dx).
SPACING = (0.2, 0.1, 0.1)
PSF_SHAPE = (21, 41, 41)
FIELD = (24, 64, 64)
OPTICS = {"na": 1.2, "wavelength": 0.52, "ni": 1.33}  # water immersion, GFP emission
BACKGROUND = 10.0

LayerData = tuple[Any, dict[str, Any], str]


def widefield() -> list[LayerData]:
    """A simulated widefield stack (24 x 64 x 64, photons), its Born & Wolf PSF and the truth.

    ``deconvkit.simulate.phantom`` (beads, filaments, shells, cytoplasm; seed 7)
    on a domain larger than the field, blurred by ``deconvkit.psf.born_wolf``
    (NA 1.2, water, 520 nm), 300 photons at the brightest voxel, background 10,
    Poisson noise (seed 8) by ``deconvkit.simulate.observe``. Deconvolve the
    first layer by the second with ``background = 10``.
    """
    psf = dk.psf.born_wolf(PSF_SHAPE, SPACING, **OPTICS)
    domain = tuple(f + p - 1 for f, p in zip(FIELD, PSF_SHAPE))
    obj = dk.simulate.phantom(domain, SPACING, kind="mixed", seed=7)
    observation = dk.simulate.observe(obj, psf, photons=300.0, background=BACKGROUND, seed=8)
    geometry = {"scale": SPACING, "units": ("um",) * 3, "axis_labels": ("z", "y", "x")}
    about = {"axes": "ZYX", "spacing_um": SPACING, "background": BACKGROUND,
             "simulated_by": "deconvkit.simulate.observe", **OPTICS}
    return [
        (observation.data, {"name": "widefield (simulated)", "metadata": about, **geometry},
         "image"),
        (psf, {"name": "psf (born_wolf, NA 1.2, 0.52 µm)", "colormap": "magma",
               "metadata": {"psf_model": "born_wolf", **OPTICS}, **geometry}, "image"),
        (observation.ground_truth, {"name": "ground truth", "visible": False,
                                    "metadata": {"axes": "ZYX"}, **geometry}, "image"),
    ]


def cells3d_path() -> Path | None:
    """Where scikit-image keeps ``cells3d.tif``, if it is on this machine (never downloads)."""
    try:
        import skimage
        import skimage.data
    except ImportError:
        return None
    candidates = [Path(skimage.data.data_dir) / "cells3d.tif"]
    try:
        from skimage.data import _fetchers

        fetcher = getattr(_fetchers, "_image_fetcher", None)
        if fetcher is not None:
            candidates.append(Path(fetcher.abspath) / "data" / "cells3d.tif")
    except ImportError:
        pass
    try:
        import pooch

        candidates.append(Path(pooch.os_cache("scikit-image")) / skimage.__version__ / "data"
                          / "cells3d.tif")
    except ImportError:
        pass
    return next((path for path in candidates if path.is_file()), None)


#: cells3d's voxel size (µm), from scikit-image's documentation.
CELLS3D_SPACING = (0.29, 0.26, 0.26)


def cells3d() -> list[LayerData]:
    """scikit-image's ``cells3d`` (confocal, membranes and nuclei) as one CZYX layer.

    Raises a ``FileNotFoundError`` that says how to get it when it is not cached
    (``python -c "import skimage.data; skimage.data.cells3d()"`` once, online).
    """
    path = cells3d_path()
    if path is None:
        raise FileNotFoundError(
            "cells3d is not on this machine: fetch it once with "
            "python -c \"import skimage.data; skimage.data.cells3d()\" (needs scikit-image, "
            "pooch and a network), then open this sample again")
    import tifffile

    data = np.moveaxis(tifffile.imread(path), 1, 0)  # ZCYX on disk -> CZYX
    return [(data, {"name": "cells3d (membranes, nuclei)", "scale": (1.0, *CELLS3D_SPACING),
                    "units": ("pixel", "um", "um", "um"),
                    "axis_labels": ("c", "z", "y", "x"),
                    "metadata": {"axes": "CZYX", "spacing_um": CELLS3D_SPACING,
                                 "source": str(path)}}, "image")]
