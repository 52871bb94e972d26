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


@given(shape=dks.shapes(), seed=st.integers(0, 2**16))
def test_split_multiply(shape, seed):
    rng = np.random.default_rng(seed)
    s, b, h = (rng.standard_normal((3,) + shape) + 1j * rng.standard_normal((3,) + shape)
               ).astype(np.complex64)
    out = np.empty_like(s)
    _, _, (fused_s, _, _, fused), (plain_s, _, _, plain) = _both(
        kernels.split_multiply, s, b, h, out)
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused_s, plain_s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, s * b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused_s, s * np.conj(h), rtol=1e-5, atol=1e-6)


@given(shape=dks.shapes(), data=st.data(), strided=st.booleans())
def test_zero_outside(shape, data, strided):
    window = []
    for n in shape:
        start = data.draw(st.integers(0, n - 1))
        window.append(slice(start, data.draw(st.integers(start + 1, n))))
    window = tuple(window)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(shape[:-1] + (shape[-1] + 2 * strided,)).astype(np.float32)
    domain = base[..., :shape[-1]]
    expected = np.zeros(shape, np.float32)
    expected[window] = domain[window]
    _, _, (fused, _), (plain, _) = _both(kernels.zero_outside, domain, window)
    np.testing.assert_array_equal(fused, expected)
    np.testing.assert_array_equal(plain, expected)
    kernels.zero_outside(domain, window)  # in place on a strided view of a buffer
    np.testing.assert_array_equal(domain, expected)
    assert np.all(base[..., shape[-1]:] != 0)  # nothing written beyond the view


@given(shape=dks.shapes(), seed=st.integers(0, 2**16))
def test_copy_where(shape, seed):
    rng = np.random.default_rng(seed)
    out, values = rng.standard_normal((2,) + shape).astype(np.float32)
    mask = rng.random(shape) < 0.4
    _, _, (fused, _, _), (plain, _, _) = _both(kernels.copy_where, out, values, mask)
    np.testing.assert_array_equal(fused, plain)
    np.testing.assert_array_equal(fused, np.where(mask, values, out))


def test_copy_where_on_strided_views():
    """The real views of two FFT buffers, as rl-wb's margin uses them."""
    rng = np.random.default_rng(1)
    out, values = rng.standard_normal((2, 5, 6, 16)).astype(np.float32)[..., :14]
    mask = rng.random((5, 6, 14)) < 0.5
    expected = np.where(mask, values, out)
    kernels.copy_where(out, values, mask)
    np.testing.assert_array_equal(out, expected)


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


def _symmetric_stacks(rng, count):
    """Random 3x3 stacks with the hard cases among them: zero, λI, double eigenvalues."""
    z = rng.standard_normal((6, count)).astype(np.float32)
    z[:, :4] = 0.0                                           # M = 0
    z[:, 4:8] = 0.0
    z[[0, 3, 5], 4:8] = 0.7                                  # M = 0.7 I
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    double = q @ np.diag([2.0, 2.0, -0.5]) @ q.T              # a double eigenvalue
    for c, (i, j) in enumerate([(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]):
        z[c, 8:12] = double[i, j] * (1.0 if i == j else np.sqrt(2.0))
    return z


@given(seed=st.integers(0, 2**16), tau=st.floats(1e-3, 2.0))
def test_schatten3_soft_threshold_and_clip_equal_the_vectorized_closed_form(seed, tau):
    from deconvkit.costs import SchattenNorm

    z = _symmetric_stacks(np.random.default_rng(seed), 300).reshape(6, 3, 10, 10)
    norm = SchattenNorm(p=1)
    fused, plain, _, _ = _both(norm.prox, z, tau)
    np.testing.assert_allclose(fused, plain, rtol=1e-6, atol=1e-6)
    fused, plain, _, _ = _both(norm.prox_conjugate, z, 1.0)
    np.testing.assert_allclose(fused, plain, rtol=1e-6, atol=1e-6)
    # the norm returned with the prox is the prox's Schatten-1 norm, and the fused norm
    # of any stack is the vectorized one
    out, total = kernels.schatten3_map(z, "soft", tau)
    with kernels.use_fused(False):
        assert total == pytest.approx(norm(out), rel=1e-6, abs=1e-9)
        plain = norm(z)
    assert kernels.schatten3_norm(z) == pytest.approx(plain, rel=1e-9)


def test_schatten3_matches_lapack_eigh():
    from deconvkit.costs._schatten import _apply_eigh

    z = _symmetric_stacks(np.random.default_rng(3), 500)
    out, _ = kernels.schatten3_map(z, "soft", 0.4)
    reference = _apply_eigh(z.astype(np.float64), 3,
                            lambda lam: np.sign(lam) * np.maximum(np.abs(lam) - 0.4, 0))
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


def test_schatten3_leaves_other_inputs_to_the_caller():
    z = np.zeros((6, 4), np.float64)
    assert kernels.schatten3_map(z, "soft", 0.1) is None           # float64: eigh
    assert kernels.schatten3_map(np.zeros((3, 4), np.float32), "clip") is None  # 2x2
    with kernels.use_fused(False):
        assert kernels.schatten3_map(z.astype(np.float32), "soft", 0.1) is None


@given(k=st.integers(1, 6), shape=dks.shapes(), seed=st.integers(0, 2**16),
       tau=st.floats(1e-3, 2.0), strided=st.booleans())
def test_group_scale_equals_the_numpy_norms_bit_for_bit(k, shape, seed, tau, strided):
    from deconvkit.costs import Huber, MixedNorm21

    z = np.random.default_rng(seed).normal(size=(k, *shape)).astype(np.float32)
    if strided:
        z = z[..., ::-1]  # a view the kernel copies to contiguous first
    norm, huber = MixedNorm21(), Huber(0.3)
    for function, args in ((norm.prox, (tau,)), (norm.prox_conjugate, (1.0,)),
                           (huber.prox, (tau,)), (huber.grad, ())):
        fused, plain, _, _ = _both(function, z, *args)
        assert fused.dtype == plain.dtype == np.float32
        np.testing.assert_array_equal(fused, plain)
    fused, plain, _, _ = _both(norm, z)
    assert fused == pytest.approx(plain, rel=1e-6)  # float64 sums in another order


def test_group_scale_leaves_other_inputs_to_the_caller():
    assert kernels.group_scale(np.zeros((3, 4)), 0.1, 0.1, "shrink") is None  # float64
    assert kernels.group_norm_sum(np.zeros(4, np.float32)) is None  # not a stack
    with kernels.use_fused(False):
        assert kernels.group_scale(np.zeros((3, 4), np.float32), 0.1, 0.1, "shrink") is None


@given(shape=dks.shapes(), seed=st.integers(0, 2**16), rho=st.floats(1e-3, 1e3))
def test_scaled_difference_equals_numpy_bit_for_bit(shape, seed, rho):
    rng = np.random.default_rng(seed)
    z, u = (rng.normal(size=shape).astype(np.float32) for _ in range(2))
    fused, plain, _, _ = _both(kernels.scaled_difference, z, u, rho)
    np.testing.assert_array_equal(fused, plain)


@given(shape=dks.shapes(), seed=st.integers(0, 2**16), scratch=st.booleans())
def test_admm_residuals_equal_numpy(shape, seed, scratch):
    rng = np.random.default_rng(seed)
    u, z, ax, old = (rng.normal(size=shape).astype(np.float32) for _ in range(4))
    fused, plain, fused_args, plain_args = _both(
        lambda *a: kernels.admm_residuals(*a, scratch=scratch, full=True), u, z, ax, old)
    np.testing.assert_array_equal(fused_args[0], plain_args[0])  # u - z, the same bits
    np.testing.assert_allclose(fused, plain, rtol=1e-5)
    expected = [np.sum(np.float64(a) ** 2) for a in (ax, z, ax - z, old - z, u - z)]
    np.testing.assert_allclose(fused, expected, rtol=1e-5)
    # the fused pass only reads ax and old
    np.testing.assert_array_equal(fused_args[2], ax)
    np.testing.assert_array_equal(fused_args[3], old)
    if not scratch:
        np.testing.assert_array_equal(plain_args[3], old)
    with kernels.use_fused(False):
        partial = kernels.admm_residuals(u.copy(), z, ax.copy(), old.copy())
    assert np.isnan(partial[0]) and np.isnan(partial[4]) and np.isfinite(partial[2])


@given(shape=dks.shapes(min_dims=3, max_dims=3), seed=st.integers(0, 2**16),
       boundary=st.sampled_from(["periodic", "neumann"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_fused_gradient_and_its_adjoint_equal_the_numpy_loops_bit_for_bit(shape, seed, boundary,
                                                                          dtype):
    from deconvkit.operators import Gradient

    rng = np.random.default_rng(seed)
    spacing = tuple(rng.uniform(0.1, 2.0, 3))
    grad = Gradient(shape, spacing, boundary=boundary, dtype=dtype)
    x = rng.normal(size=shape).astype(dtype)
    y = rng.normal(size=(3, *shape)).astype(dtype)
    fused, plain, _, _ = _both(grad.matvec, x.ravel())
    np.testing.assert_array_equal(fused, plain)
    fused, plain, _, _ = _both(grad.rmatvec, y.ravel())
    np.testing.assert_array_equal(fused, plain)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
@pytest.mark.parametrize("shape", [(5, 6, 7), (1, 2, 3), (2, 1, 4), (4, 3, 1)])
def test_the_fused_hessian_equals_the_numpy_one(shape, boundary, dtype):
    """One pass for the six second-order partials and one for their adjoint, the same
    values as the NumPy operator's passes (odd, even, 1- and 2-voxel axes, both
    boundaries)."""
    from deconvkit.operators import Hessian

    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    operator = Hessian(shape, spacing=(0.3, 0.1, 0.17), boundary=boundary, dtype=dtype)
    stack = np.random.default_rng(6).standard_normal((6, *shape)).astype(dtype)
    fused, fused_adjoint = operator @ x, operator.H @ stack
    assert kernels.hessian3(x, operator.spacing, operator.periodic) is not None
    assert kernels.hessian3_adjoint(stack, operator.spacing, operator.periodic) is not None
    with kernels.use_fused(False):
        assert kernels.hessian3(x, operator.spacing, operator.periodic) is None
        plain, plain_adjoint = operator @ x, operator.H @ stack
    np.testing.assert_array_equal(fused, plain)
    np.testing.assert_array_equal(fused_adjoint, plain_adjoint)
