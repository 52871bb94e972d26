"""FFTs of the backend: thread control, the reusable in-place buffer, pyFFTW."""

import numpy as np
import pytest
import scipy.fft
from hypothesis import given

from deconvkit import backend
from deconvkit.testing import strategies as dks


def test_fft_workers_sets_the_thread_count_inside_the_block_only():
    default = backend.workers()
    with backend.fft_workers(1) as n:
        assert n == 1 and backend.workers() == 1
    assert backend.workers() == default
    with pytest.raises(ValueError, match="positive integer or -1"):
        with backend.fft_workers(0):
            pass


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
@given(shape=dks.shapes(max_side=17))
def test_real_fft_buffer_matches_scipy(shape, dtype, threads):
    """Forward into the buffer, inverse in place, forward again from the aliased real view."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    plan = backend.RealFFT(shape, dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    with backend.fft_workers(threads):
        spectrum = plan.forward(x)
        expected = scipy.fft.rfftn(x)
        np.testing.assert_allclose(spectrum, expected, atol=tol * np.abs(expected).max())
        spectrum *= 2
        back = plan.inverse()
        np.testing.assert_allclose(back, 2 * x, atol=tol * 4 * np.abs(x).max() + tol)
        assert back.shape == shape and back.dtype == dtype
        again = plan.forward(back)  # the real view of the same memory as input
        np.testing.assert_allclose(again, 2 * expected, atol=tol * 4 * np.abs(expected).max())


def test_real_fft_buffer_is_reused():
    plan = backend.RealFFT((6, 8, 9), np.float32)
    first = plan.forward(np.ones((6, 8, 9), np.float32))
    assert plan.forward(np.zeros((6, 8, 9), np.float32)) is first
    assert np.shares_memory(plan.inverse(), first)


def test_fftw_library_is_refused_clearly_without_pyfftw(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyfftw(name, *args, **kwargs):
        if name == "pyfftw":
            raise ImportError("no pyfftw")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyfftw)
    with pytest.raises(ValueError, match=r'pip install "deconvkit\[fftw\]"'):
        with backend.fft_library("fftw"):
            pass


def test_fftw_matches_scipy(tmp_path, monkeypatch):
    pytest.importorskip("pyfftw", reason="pyFFTW is an optional extra (deconvkit[fftw])")
    monkeypatch.setenv("DECONVKIT_CACHE", str(tmp_path))
    x = np.random.default_rng(1).standard_normal((8, 12, 10)).astype(np.float32)
    with backend.fft_library("fftw"):
        spectrum = backend.rfftn(x, (0, 1, 2))
        back = backend.irfftn(spectrum.copy(), x.shape, (0, 1, 2))
    np.testing.assert_allclose(spectrum, scipy.fft.rfftn(x), atol=1e-4)
    np.testing.assert_allclose(back, x, atol=1e-5)
    assert (tmp_path / "fftw-wisdom.pickle").exists()


def test_unknown_fft_library():
    with pytest.raises(ValueError, match="scipy, fftw"):
        with backend.fft_library("mkl"):
            pass


def test_rfft_shape():
    assert backend.rfft_shape((4, 5, 6)) == (4, 5, 4)
    assert backend.rfft_shape((7,)) == (4,)
