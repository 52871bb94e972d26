"""ADMM's shared-spectrum x-update: the same iterates as the generic one, in two FFT pairs."""

from __future__ import annotations

import numpy as np
import pytest

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape
from deconvkit.solvers import ADMM

SPACING = (0.2, 0.1, 0.1)


@pytest.fixture(scope="module")
def case():
    psf = dk.psf.gaussian((7, 11, 11), SPACING, 1.3, 0.52, 1.515)
    field = (10, 24, 24)
    obj = dk.simulate.phantom(extended_shape(field, psf.shape), SPACING, kind="filaments", seed=0)
    y, _ = dk.simulate.observe(obj, psf, field_shape=field, photons=300, background=10, seed=1)
    return y, psf


@pytest.mark.parametrize("method", ["admm-tv", "admm-hessian"])
def test_the_shared_spectrum_gives_the_generic_iterates(case, method, monkeypatch):
    y, psf = case
    fast = dk.methods.run(y, psf, method, max_iter=12, background=10, spacing=SPACING)
    monkeypatch.setattr(ADMM, "_spectral_terms", lambda self: [])
    generic = dk.methods.run(y, psf, method, max_iter=12, background=10, spacing=SPACING)
    scale = float(np.max(np.abs(generic.x)))
    # float32 round-off only: the two paths round the same sums in another order
    np.testing.assert_allclose(fast.x, generic.x, rtol=0, atol=2e-4 * scale)
    np.testing.assert_allclose(fast.history["objective"], generic.history["objective"], rtol=1e-4)


def test_an_iteration_takes_two_fft_pairs(case, monkeypatch):
    y, psf = case
    counts = {"rfftn": 0, "irfftn": 0}
    from deconvkit.solvers import _admm

    def counting(name, function):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(_admm, "rfftn", counting("rfftn", backend.rfftn))
    monkeypatch.setattr(_admm, "irfftn", counting("irfftn", backend.irfftn))
    dk.methods.run(y, psf, "admm-tv", max_iter=5, background=10, spacing=SPACING)
    # five iterations, each: the data term's and the rest's right-hand side spectra, then
    # x and A x back (the finite differences and the constraint stay in space)
    assert counts == {"rfftn": 10, "irfftn": 10}
