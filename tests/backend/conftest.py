"""The backends every backend test runs on: NumPy's stand-in for a device always, CuPy with a GPU."""

import pytest

from deconvkit import backend

DEVICE_BACKENDS = [
    "guarded",
    pytest.param("cupy", marks=pytest.mark.skipif(not backend.gpu_status()[0],
                                                  reason="no GPU: " + backend.gpu_status()[1])),
]
