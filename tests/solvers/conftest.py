"""Small deconvolution problems shared by the solver tests (<= 32 voxels per side)."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit.costs import LeastSquares
from deconvkit.operators import Blur, Identity


def gaussian_psf(size: int, ndim: int, sigma: float = 1.0) -> np.ndarray:
    axis = np.arange(size) - size // 2
    grids = np.meshgrid(*([axis] * ndim), indexing="ij")
    psf = np.exp(-sum(g.astype(float) ** 2 for g in grids) / (2 * sigma**2))
    return (psf / psf.sum()).astype(np.float32)


class Quadratic:
    """½‖Hx − y‖² + (lam/2)‖x‖², its terms and its closed-form minimizer."""

    def __init__(self, shape, lam=0.05, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.shape = shape
        self.H = Blur(gaussian_psf(5, len(shape)).astype(dtype), shape)
        self.truth = rng.random(shape).astype(dtype)
        self.y = (self.H @ self.truth + 0.01 * rng.standard_normal(shape)).astype(dtype)
        self.lam = lam
        self.data = LeastSquares(self.y) @ self.H
        self.reg = lam * LeastSquares(np.zeros(shape, dtype))  # (lam/2)‖x‖²
        normal = self.H.H @ self.H + lam * Identity(shape, dtype=dtype)
        self.solution = normal.inv() @ (self.H.H @ self.y)

    @property
    def terms(self):
        return [self.data, self.reg]


@pytest.fixture(params=[(32,), (16, 16), (8, 8, 8)], ids=["1d", "2d", "3d"])
def quadratic(request):
    return Quadratic(request.param)


@pytest.fixture
def quadratic_2d():
    return Quadratic((16, 16))
