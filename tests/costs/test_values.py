"""Values, gradients and proxes against hand-computed cases and independent oracles."""

import math

import numpy as np
import pyproximal
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import deconvkit.costs as dc
import deconvkit.operators as ops
from deconvkit.costs._schatten import project_l1_ball, spectral_map
from deconvkit.testing import strategies as dks


# -- closed forms -----------------------------------------------------------------
def test_small_values():
    x = np.array([1.0, -2.0, 3.0])
    assert dc.L1()(x) == 6.0
    assert dc.SquaredL2()(x) == 7.0
    stack = np.array([[3.0, 0.0, 1.0], [4.0, -1.0, 0.0]])  # norms 5, 1, 1
    assert dc.MixedNorm21()(stack) == pytest.approx(7.0)
    assert dc.Huber(2.0)(stack) == pytest.approx((5.0 - 1.0) + 2 * (1.0 / 4.0))
    assert dc.SmoothedMixedNorm21(0.75)(stack) == pytest.approx(math.sqrt(25.5625) + 2 * 1.25)
    assert dc.NonNegative()(np.abs(x)) == 0.0 and dc.NonNegative()(x) == math.inf
    assert dc.Box(-2.0, 3.0)(x) == 0.0 and dc.Box(-1.0, 3.0)(x) == math.inf


def test_schatten_values_of_a_diagonal_matrix():
    # diag(3, -4, 1) in the Hessian stack order 00, 01, 02, 11, 12, 22
    stack = np.array([3.0, 0.0, 0.0, -4.0, 0.0, 1.0])[:, None]
    assert dc.SchattenNorm(1)(stack) == pytest.approx(8.0)
    assert dc.SchattenNorm(2)(stack) == pytest.approx(math.sqrt(26.0))
    assert dc.SchattenNorm("inf")(stack) == pytest.approx(4.0)
    # [[0, 1], [1, 0]] has eigenvalues ±1: the off-diagonal is stored as sqrt(2)
    offdiagonal = np.array([0.0, math.sqrt(2.0), 0.0])[:, None]
    assert dc.SchattenNorm(1)(offdiagonal) == pytest.approx(2.0)
    assert dc.SchattenNorm(np.inf)(offdiagonal.astype(np.float32)) == pytest.approx(1.0)


def test_total_variation_of_a_step():
    x = np.zeros((4, 6))
    x[:, 3:] = 2.0  # a vertical edge: two jumps of 2 per row (periodic), spacing 0.5
    tv = dc.TotalVariation(x.shape, spacing=(1.0, 0.5))
    assert tv(x) == pytest.approx(4 * 2 * 2.0 / 0.5)
    assert dc.TotalVariation(x.shape, spacing=(1.0, 0.5), isotropic=False)(x) == pytest.approx(tv(x))


@given(data=st.data())
def test_schatten2_is_the_stack_norm(data):
    shape = data.draw(dks.shapes())
    stack = data.draw(dks.arrays((6, *shape)))
    expected = np.sqrt((stack**2).sum(axis=0)).sum()
    assert dc.SchattenNorm(2)(stack) == pytest.approx(expected)
    # and through eigenvalues (p = 2 computes it from the stack directly)
    lam = np.linalg.eigvalsh(_matrices(stack.reshape(6, -1)))
    assert np.sqrt((lam**2).sum(axis=1)).sum() == pytest.approx(expected)


def test_huber_and_smoothed_norm_gradients_bounded():
    z = np.random.default_rng(1).standard_normal((3, 50)) * 10
    assert np.sqrt((dc.Huber(0.5).grad(z) ** 2).sum(axis=0)).max() <= 1 + 1e-12
    assert np.sqrt((dc.SmoothedMixedNorm21(0.5).grad(z) ** 2).sum(axis=0)).max() < 1


# -- PoissonLikelihood ----------------------------------------------------------------
def test_poisson_values():
    f = dc.PoissonLikelihood(np.array([2.0, 0.0, 3.0]), background=1.0)
    u = np.array([0.0, 0.5, 2.0])  # u + b = 1, 1.5, 3
    expected = (1 - 2 - 2 * math.log(1 / 2)) + 1.5 + 0.0
    assert f(u) == pytest.approx(expected)
    assert f(np.array([1.0, -1.0, 2.0])) == pytest.approx(0.0)  # model = data, and 0 log 0 = 0
    np.testing.assert_allclose(f.grad(u), [1 - 2 / 1, 1.0, 1 - 3 / 3])


def test_poisson_infinite_outside_its_domain():
    f = dc.PoissonLikelihood(np.array([2.0, 0.0]), background=np.array([0.5, 0.5]))
    assert f(np.array([-0.5, 0.0])) == math.inf  # u + b = 0 where y > 0
    assert f(np.array([-1.0, 0.0])) == math.inf  # u + b < 0 where y > 0
    assert f(np.array([1.0, -0.6])) == math.inf  # u + b < 0 where y = 0
    assert f(np.array([1.0, -0.5])) == pytest.approx(1.5 - 2 - 2 * math.log(1.5 / 2))  # u + b = 0, y = 0
    assert f.grad(np.array([1.0, -0.5]))[1] == 1.0  # no 0/0 at y = 0


def test_poisson_at_zero_counts():
    f = dc.PoissonLikelihood(np.zeros(4), background=0.25)
    u = np.array([0.0, 1.0, 2.0, 3.0])
    assert f(u) == pytest.approx(np.sum(u + 0.25))
    np.testing.assert_array_equal(f.grad(u), np.ones(4))
    np.testing.assert_allclose(f.prox(u, 0.5), np.maximum(u + 0.25 - 0.5, 0) - 0.25)


def test_poisson_flags():
    f = dc.PoissonLikelihood(np.ones((2, 3)))
    assert f.smooth and f.proximable and f.grad_lipschitz is None
    assert (f @ ops.Blur(np.ones((1, 1)), (2, 3))).grad_lipschitz is None
    assert repr(f) == "PoissonLikelihood(2x3, background=0)"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_poisson_prox_against_scalar_minimization(dtype, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    y = rng.poisson(rng.uniform(0, 20, 8)).astype(np.float64)
    y[:2] = 0.0
    b = rng.uniform(0, 3, 8) if data.draw(st.booleans()) else float(rng.uniform(0, 3))
    v = rng.normal(0, 10, 8)
    tau = data.draw(st.floats(0.01, 10.0))
    prox = dc.PoissonLikelihood(y.astype(dtype), background=b).prox(v.astype(dtype), tau)
    assert prox.dtype == dtype
    for n in range(8):
        bn = b[n] if isinstance(b, np.ndarray) else b

        def objective(u, n=n, bn=bn):
            q = u + bn
            if q < 0 or (q == 0 and y[n] > 0):
                return np.inf
            term = q - y[n] * math.log(q) if y[n] > 0 else q
            return 0.5 * (u - v[n]) ** 2 + tau * term

        best = minimize_scalar(
            objective, bounds=(-bn, max(v[n], 0) + 10 * y[n] + 10), method="bounded",
            options={"xatol": 1e-12},
        )
        atol = 1e-6 * (1 + abs(best.x)) if dtype == np.float64 else 1e-4 * (1 + abs(best.x))
        assert abs(prox[n] - best.x) <= atol or objective(prox[n]) <= best.fun + 1e-12
        assert prox[n] + dtype(bn) >= 0  # in the domain, in the data's precision


def test_poisson_prox_stable_far_below_zero():
    """a = v + b - tau << 0: the stable branch keeps u + b = 2 tau y / (sqrt(a² + 4 tau y) - a) > 0."""
    f = dc.PoissonLikelihood(np.array([1e-3, 5.0], dtype=np.float32), background=0.0)
    p = f.prox(np.array([-1e4, -1e4], dtype=np.float32), 1.0)
    assert np.all(p > 0) and p.dtype == np.float32
    np.testing.assert_allclose(p, [1e-3 / 1e4, 5.0 / 1e4], rtol=1e-3)


# -- Schatten proxes against numpy's SVD --------------------------------------------
def _matrices(stack2d):
    k, m = stack2d.shape
    n = round((math.sqrt(8 * k + 1) - 1) / 2)
    out = np.empty((m, n, n))
    c = 0
    for i in range(n):
        for j in range(i, n):
            out[:, i, j] = out[:, j, i] = stack2d[c] / (1 if i == j else math.sqrt(2))
            c += 1
    return out


def _stack(matrices):
    n = matrices.shape[-1]
    return np.stack(
        [matrices[:, i, j] * (1 if i == j else math.sqrt(2)) for i in range(n) for j in range(i, n)]
    )


def _svd_prox(matrices, singular_map):
    u, s, vt = np.linalg.svd(matrices)
    return (u * singular_map(s)[:, None, :]) @ vt


def _awkward_matrices(n, rng):
    """Random symmetric matrices plus zero, identity, repeated and rank-one ones."""
    a = rng.standard_normal((40, n, n))
    a = a + np.swapaxes(a, 1, 2)
    v = rng.standard_normal((n, 1))
    special = [np.zeros((n, n)), 2 * np.eye(n), v @ v.T, -v @ v.T + 0.3 * np.eye(n)]
    if n == 3:
        q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        special += [q @ np.diag([1.0, 1.0, -2.0]) @ q.T, q @ np.diag([0.5, 0.5 + 1e-9, 0.5]) @ q.T]
    return np.concatenate([a, np.stack(special)])


@pytest.mark.parametrize(
    "n, closed_form",
    [(1, True), (2, True), (3, True), (1, False), (2, False), (3, False), (4, False)],
    ids=lambda v: str(v),
)
def test_schatten1_prox_equals_svd_soft_threshold(n, closed_form):
    matrices = _awkward_matrices(n, np.random.default_rng(n))
    stack = _stack(matrices)
    tau = 0.8
    expected = _svd_prox(matrices, lambda s: np.maximum(s - tau, 0))
    got = spectral_map(stack, lambda lam: np.sign(lam) * np.maximum(np.abs(lam) - tau, 0), closed_form)
    atol = 1e-6 if closed_form else 1e-10  # closed-form eigenvalues: ~1e-8 relative near double ones
    np.testing.assert_allclose(_matrices(got), expected, atol=atol)
    if not closed_form:
        np.testing.assert_allclose(dc.SchattenNorm(1).prox(stack, tau), got, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_schatten_inf_prox_equals_svd_prox(n):
    matrices = _awkward_matrices(n, np.random.default_rng(10 + n))
    tau = 0.9
    expected = _svd_prox(matrices, lambda s: s - project_l1_ball(s, tau))
    stack = _stack(matrices)
    np.testing.assert_allclose(_matrices(dc.SchattenNorm(np.inf).prox(stack, tau)), expected, atol=1e-10)
    got32 = dc.SchattenNorm(np.inf).prox(stack.astype(np.float32), tau)  # closed form
    assert got32.dtype == np.float32
    np.testing.assert_allclose(_matrices(got32.astype(np.float64)), expected, atol=2e-5 * np.abs(stack).max())


@pytest.mark.parametrize("p", [1, 2, np.inf])
def test_schatten_float32_closed_form_matches_float64_eigh(p):
    stack = np.random.default_rng(3).standard_normal((6, 5, 6, 7)) * 3
    stack[:, 0] = 0.0  # flat region: zero matrices
    cost = dc.SchattenNorm(p)
    precise, single = cost.prox(stack, 0.7), cost.prox(stack.astype(np.float32), 0.7)
    np.testing.assert_allclose(single, precise, atol=1e-5 * np.abs(stack).max())
    assert cost(stack.astype(np.float32)) == pytest.approx(cost(stack), rel=1e-6)
    conjugate = cost.prox_conjugate(stack.astype(np.float32), 2.0)
    np.testing.assert_allclose(conjugate, cost.prox_conjugate(stack, 2.0), atol=1e-5)



@pytest.mark.parametrize("p", [1, np.inf])
def test_schatten_value_of_its_own_prox_is_remembered_but_never_stale(p):
    stack = np.random.default_rng(6).standard_normal((6, 4, 5, 3))
    cost, fresh = dc.SchattenNorm(p), dc.SchattenNorm(p)
    out = cost.prox(stack, 0.4)
    assert cost(out) == pytest.approx(fresh(out), rel=1e-12)  # from the prox's eigenvalues
    out *= 3.0  # changed in place: the remembered value no longer applies
    assert cost(out) == pytest.approx(fresh(out), rel=1e-12)
    assert cost(stack) == pytest.approx(fresh(stack), rel=1e-12)

def test_schatten2_prox_is_the_frobenius_prox():
    stack = np.random.default_rng(4).standard_normal((6, 30))
    tau = 1.3
    norms = np.sqrt((stack**2).sum(axis=0))
    expected = stack * np.maximum(1 - tau / norms, 0)
    np.testing.assert_allclose(dc.SchattenNorm(2).prox(stack, tau), expected, atol=1e-12)
    np.testing.assert_allclose(dc.MixedNorm21().prox(stack, tau), expected, atol=1e-12)


@pytest.mark.parametrize("p, dual", [(1, np.inf), (2, 2), (np.inf, 1)])
def test_schatten_prox_conjugate_lands_in_the_dual_ball(p, dual):
    stack = np.random.default_rng(5).standard_normal((6, 40)) * 4
    projected = dc.SchattenNorm(p).prox_conjugate(stack, 0.3)
    lam = np.linalg.eigvalsh(_matrices(projected))
    assert np.linalg.norm(lam, ord=dual, axis=1).max() <= 1 + 1e-10


def test_project_l1_ball():
    values = np.array([[3.0, -1.0, 0.5], [0.2, 0.1, -0.3], [0.0, 0.0, 0.0]])
    projected = project_l1_ball(values, 1.0)
    np.testing.assert_allclose(projected[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(projected[1:], values[1:])  # inside the ball


# -- pyproximal as an independent oracle -----------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixed_norm21_equals_pyproximal_l21(dtype):
    z = np.random.default_rng(6).standard_normal((3, 4, 5, 6)).astype(dtype)
    oracle = pyproximal.L21(ndim=3)
    ours = dc.MixedNorm21()
    prox = ours.prox(z, 0.8)
    assert prox.dtype == dtype
    np.testing.assert_allclose(prox.ravel(), oracle.prox(z.ravel(), 0.8), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours.prox_conjugate(z, 0.8).ravel(), oracle.proxdual(z.ravel(), 0.8), rtol=1e-5, atol=1e-6
    )
    assert ours(z) == pytest.approx(oracle(z.ravel()), rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_equals_pyproximal(dtype):
    x = np.random.default_rng(7).standard_normal((4, 5, 6)).astype(dtype)
    prox = dc.L1().prox(x, 0.4)
    assert prox.dtype == dtype
    np.testing.assert_array_equal(prox.ravel(), pyproximal.L1().prox(x.ravel(), 0.4))
    np.testing.assert_allclose(dc.L1().prox_conjugate(x, 2.0).ravel(), pyproximal.L1().proxdual(x.ravel(), 2.0))


def test_box_equals_pyproximal():
    rng = np.random.default_rng(8)
    x, lower = rng.standard_normal((2, 3, 4, 5))
    upper = lower + 0.5
    np.testing.assert_array_equal(dc.Box(lower, upper).prox(x, 1.0), pyproximal.Box(lower, upper).prox(x, 1.0))
    np.testing.assert_array_equal(dc.NonNegative().prox(x, 1.0), pyproximal.Box(0.0, np.inf).prox(x, 1.0))


# -- composition, lipschitz constants, repr -----------------------------------------------
def test_tikhonov_prox_through_circulant_equals_dense_solve():
    shape = (9,)
    laplacian = ops.Laplacian(shape, spacing=0.5, dtype="float64")
    dense = np.stack([laplacian @ e for e in np.eye(9)], axis=1)
    v = np.random.default_rng(9).standard_normal(shape)
    tau = 0.3
    expected = np.linalg.solve(np.eye(9) + tau * dense.T @ dense, v)
    cost = dc.Tikhonov(laplacian)
    assert cost.proximable
    np.testing.assert_allclose(cost.prox(v, tau), expected, atol=1e-10)
    assert not dc.Tikhonov(ops.Laplacian(shape, boundary="neumann")).proximable


def test_lipschitz_constants():
    shape = (6, 8, 10)
    gradient = ops.Gradient(shape, (0.3, 0.1, 0.1))
    smoothed = dc.SmoothedTotalVariation(shape, (0.3, 0.1, 0.1), epsilon=0.2)
    assert smoothed.grad_lipschitz == pytest.approx(gradient.lipschitz**2 / 0.2)
    assert dc.Huber(0.25).grad_lipschitz == 4.0
    assert dc.SquaredL2().grad_lipschitz == 1.0
    tv = dc.TotalVariation(shape)
    assert tv.grad_lipschitz is None and not tv.smooth and tv.proximable  # by inner iterations
    assert not (dc.MixedNorm21() @ ops.Hessian(shape)).proximable
    with pytest.raises(TypeError, match="not differentiable"):
        tv.grad(np.zeros(shape))


def test_repr_shows_the_expression():
    tv = 0.01 * dc.MixedNorm21() @ ops.Gradient((64, 256, 256))
    assert repr(tv) == "0.01 * MixedNorm21() @ Gradient(64x256x256)"
    assert repr(dc.HessianSchatten((4, 5, 6))) == "SchattenNorm(p=1) @ Hessian(4x5x6)"
    assert repr(dc.TotalVariation((4, 5), isotropic=False)) == "L1() @ Gradient(4x5)"
    assert repr(dc.Box(0, 1)) == "Box(0, 1)" and repr(dc.NonNegative()) == "NonNegative()"


def test_sum_of_costs_value_and_gradient():
    shape = (5, 6)
    x = np.random.default_rng(11).standard_normal(shape)
    data, reg = dc.LeastSquares(np.ones(shape)), 0.5 * dc.SmoothedTotalVariation(shape)
    total = data + reg
    assert total(x) == pytest.approx(data(x) + reg(x))
    np.testing.assert_allclose(total.grad(x), data.grad(x) + reg.grad(x))
    assert total.grad_lipschitz == pytest.approx(1.0 + reg.grad_lipschitz)
