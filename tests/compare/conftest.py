"""The tiny simulated case the study tests share."""

from __future__ import annotations

import pytest

from deconvkit.compare import Case, SimulatedCase

TINY = SimulatedCase("tiny", shape=(16, 32, 32), spacing=(0.2, 0.1, 0.1), phantom="mixed",
                     psf_model="born_wolf", psf_shape=(9, 17, 17),
                     psf_options={"na": 1.3, "wavelength": 0.52, "ni": 1.515},
                     photons=500.0, background=10.0, seed=3)


@pytest.fixture(scope="module")
def tiny_case() -> Case:
    return TINY.load()
