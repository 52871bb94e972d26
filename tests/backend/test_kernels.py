"""Every fused kernel equals its plain NumPy reference, on strided views and in place."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconvkit import backend
from deconvkit.backend import kernels
from deconvkit.testing import strategies as dks

pytestmark = pytest.mark.skipif(not kernels.fused_available(),
                                reason="numba is not installed: only the NumPy kernels exist")


def _both(function, *args):
    """Run ``function`` fused and plain on copies of ``args``; return both results and args."""
    fused_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    plain_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    fused = function(*fused_args)
    with kernels.use_fused(False):
        plain = function(*plain_args)
    return fused, plain, fused_args, plain_args


def _positive(shape, rng, dtype=np.float32):
    return rng.uniform(0.1, 3.0, shape).astype(dtype)


@given(shape=dks.shapes(), seed=st.integers(0, 2**16), scalar=st.booleans())
def test_rl_ratio(shape, seed, scalar):
    rng = np.random.default_rng(seed)
    y, m = _positive(shape, rng), rng.standard_normal(shape).astype(np.float32)
    b = 0.5 if scalar else _positive(shape, rng)
    _, _, (_, fused, _), (_, plain, _) = _both(kernels.rl_ratio, y, m, b)
    np.testing.assert_allclose(fused, plain, rtol=1e-6)


def test_rl_ratio_on_a_strided_view():
    rng = np.random.default_rng(0)
    domain = rng.uniform(0.5, 2, (9, 12, 14)).astype(np.float32)
    y = _positive((5, 6, 7), rng)
    expected = y / (domain[2:7, 3:9, 4:11] + 1.0)
    kernels.rl_ratio(y, domain[2:7, 3:9, 4:11], 1.0)
    np.testing.assert_allclose(domain[2:7, 3:9, 4:11], expected, rtol=1e-6)


@given(shape=dks.shapes(), seed=st.integers(0, 2**16))
def test_multiply_conjugate(shape, seed):
    rng = np.random.default_rng(seed)
    s = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    h = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    _, _, (fused, _), (plain, _) = _both(kernels.multiply_conjugate, s, h)
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, s * np.conj(h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("where", ["new", "in place"])
@given(shape=dks.shapes(), seed=st.integers(0, 2**16))
def test_rl_update(where, shape, seed):
    rng = np.random.default_rng(seed)
    x, u, w = _positive(shape, rng), rng.standard_normal(shape).astype(np.float32), \
        _positive(shape, rng)
    expected = x * np.maximum(u, 0) * w
    results = []
    for fused in (True, False):
        xx = x.copy()
        out = xx if where == "in place" else np.empty_like(x)
        with kernels.use_fused(fused):
            sums = kernels.rl_update(xx, u, w, out)
        np.testing.assert_allclose(out, expected, rtol=1e-6)
        results.append(sums)
    change = float(np.sum((expected.astype(np.float64) - x) ** 2))
    norm = float(np.sum(expected.astype(np.float64) ** 2))
    for change_found, norm_found in results:
        assert change_found == pytest.approx(change, rel=1e-5, abs=1e-9)
        assert norm_found == pytest.approx(norm, rel=1e-5)


@given(shape=dks.shapes(), seed=st.integers(0, 2**16), alpha=st.floats(0, 0.99))
def test_extrapolate(shape, seed, alpha):
    rng = np.random.default_rng(seed)
    x, p = _positive(shape, rng), _positive(shape, rng)
    out = np.empty_like(x)
    kernels.extrapolate(x, p, alpha, 0.2, out)
    with kernels.use_fused(False):
        plain = kernels.extrapolate(x, p, alpha, 0.2, np.empty_like(x))
    np.testing.assert_allclose(out, plain, rtol=1e-6)
    np.testing.assert_allclose(out, np.maximum(x + np.float32(alpha) * (x - p), 0.2), rtol=1e-6)


@given(shape=dks.shapes(), seed=st.integers(0, 2**16), scalar=st.booleans())
def test_kl_divergence(shape, seed, scalar):
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, shape).astype(np.float32)  # zeros included
    m = _positive(shape, rng)
    b = 0.3 if scalar else _positive(shape, rng)
    fused = kernels.kl_divergence(y, m, b)
    with kernels.use_fused(False):
        plain = kernels.kl_divergence(y, m, b)
    assert fused == pytest.approx(plain, rel=1e-9, abs=1e-9)


def test_kl_divergence_outside_the_domain_is_infinite():
    y = np.array([1.0, 0.0], np.float32)
    for fused in (True, False):
        with kernels.use_fused(fused):
            assert kernels.kl_divergence(y, np.array([-1.0, 1.0], np.float32), 0.0) == np.inf
            assert kernels.kl_divergence(y, np.array([1.0, -2.0], np.float32), 1.0) == np.inf
            assert kernels.kl_divergence(y, np.array([1.0, 0.0], np.float32), 0.0) == 0.0


def test_kernels_run_on_guarded_arrays():
    rng = np.random.default_rng(0)
    y, m = _positive((4, 5, 6), rng), _positive((4, 5, 6), rng)
    gy, gm = backend.to_backend(y, "guarded"), backend.to_backend(m, "guarded")
    kernels.rl_ratio(gy, gm, 1.0)
    np.testing.assert_allclose(backend.to_host(gm), y / (m + 1), rtol=1e-6)
    assert isinstance(gm, backend.GuardedArray)
