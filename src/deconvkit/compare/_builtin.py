"""The built-in studies: ``deconvkit compare`` with no study file, and ``--quick``."""

from __future__ import annotations

from ._cases import SimulatedCase
from ._grid import MethodGrid
from ._study import Study

__all__ = ["builtin_study", "quick_study"]

#: The built-in study's microscope: a 1.3 NA oil objective, green emission.
WIDEFIELD = {"na": 1.3, "wavelength": 0.52, "ni": 1.515}


def builtin_study() -> Study:
    """A 48x192x192 mixed phantom (beads, filaments, shells, cytoplasm), five methods.

    Widefield Born–Wolf PSF (NA 1.3, λ = 0.52 µm, oil), voxels of
    0.2 x 0.1 x 0.1 µm, 200 photons at the brightest voxel over a background
    of 10: a dim, realistic acquisition. About two minutes on two cores.
    """
    case = SimulatedCase("mixed phantom", shape=(48, 192, 192), spacing=(0.2, 0.1, 0.1),
                         phantom="mixed", psf_model="born_wolf", psf_shape=(25, 49, 49),
                         psf_options=WIDEFIELD, photons=200.0, background=10.0, seed=0)
    methods = [
        MethodGrid("wif", {"nsr": [0.01, 0.03, 0.1]}),
        MethodGrid("rl", params={"max_iter": 50}),
        MethodGrid("rl-accelerated", params={"max_iter": 30}),
        MethodGrid("rltv", {"lam": [0.0005, 0.002]}, {"max_iter": 30}),
        MethodGrid("admm-hessian", params={"lam": 0.01, "max_iter": 10}),
    ]
    return Study([case], methods, name="built-in study: mixed phantom, widefield")


def quick_study() -> Study:
    """A 16x32x32 study of three methods, a few seconds: a smoke test."""
    case = SimulatedCase("quick", shape=(16, 32, 32), spacing=(0.2, 0.1, 0.1),
                         phantom="mixed", psf_model="born_wolf", psf_shape=(9, 17, 17),
                         psf_options=WIDEFIELD, photons=500.0, background=10.0, seed=0)
    methods = [
        MethodGrid("wif", {"nsr": [0.01, 0.1]}),
        MethodGrid("rl", params={"max_iter": 20}),
        MethodGrid("rltv", {"lam": [0.002, 0.02]}, {"max_iter": 20}),
    ]
    return Study([case], methods, name="quick study")
