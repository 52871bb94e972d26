"""Primal–dual steps that count the terms' weights, and diagonal preconditioning.

Known minimizers: a Laplacian-Tikhonov problem solved in closed form by
solve_quadratic (anisotropic 3D voxels, the catalogue's weight λ/‖Δ‖²), and a
non-negative weighted-ℓ1 denoising, x = max(y − c|w|, 0).
"""

import warnings

import numpy as np
import pylops
import pytest

from deconvkit import costs
from deconvkit.costs import LeastSquares, NonNegative, SquaredL2
from deconvkit.operators import Blur, Diagonal, Laplacian
from deconvkit.solvers import ChambollePock, CondatVu, solve_quadratic

from .conftest import gaussian_psf


def relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def laplacian_problem():
    shape = (6, 12, 12)
    rng = np.random.default_rng(0)
    H = Blur(gaussian_psf(5, 3).astype(np.float64), shape)
    y = H @ rng.random(shape) + 0.01 * rng.standard_normal(shape)
    L = Laplacian(shape, spacing=(0.2, 0.1, 0.1), dtype="float64")
    c = 0.05 / L.lipschitz**2  # 6e-8: the weight the catalogue gives λ = 0.05
    weighted = [LeastSquares(y) @ H, c * SquaredL2() @ L]
    in_operator = [LeastSquares(y) @ H, SquaredL2() @ (np.sqrt(c) * L)]
    solution = solve_quadratic(weighted)
    return dict(weighted=weighted, in_operator=in_operator, solution=solution)


def gap(terms, x, solution):
    best = sum(float(t(solution)) for t in terms)
    return (sum(float(t(x)) for t in terms) - best) / best


@pytest.mark.parametrize("precondition", [False, True], ids=["scalar", "diagonal"])
@pytest.mark.parametrize("solver", [ChambollePock, CondatVu])
def test_a_weighted_laplacian_term_converges_to_the_closed_form(laplacian_problem, solver, precondition):
    p = laplacian_problem
    x = solver(p["weighted"], precondition=precondition).run(max_iter=3000).x
    # unweighted steps: objective gap 45 and error 0.25 after 3000 ChambollePock iterations
    assert gap(p["weighted"], x, p["solution"]) < 2e-5
    assert relative(x, p["solution"]) < 3e-3


def test_the_weight_inside_or_outside_the_operator_gives_the_same_iterates(laplacian_problem):
    p = laplacian_problem
    a = ChambollePock(p["weighted"]).run(max_iter=50).x
    b = ChambollePock(p["in_operator"]).run(max_iter=50).x
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.abs(b).max())


def _denoising(shape=(10, 12)):
    rng = np.random.default_rng(1)
    y = rng.standard_normal(shape)
    w = rng.uniform(0.05, 3.0, shape)  # a diagonal operator: steps differ per voxel
    c = 0.3
    terms = [LeastSquares(y), c * costs.L1() @ Diagonal(w), NonNegative()]
    return terms, np.maximum(y - c * w, 0.0)


@pytest.mark.parametrize("precondition", [False, True], ids=["scalar", "diagonal"])
@pytest.mark.parametrize("solver", [ChambollePock, CondatVu])
def test_weighted_l1_through_a_diagonal_reaches_its_soft_threshold(solver, precondition):
    terms, solution = _denoising()
    made = solver(terms, precondition=precondition)
    if precondition:
        assert made.preconditioned and not isinstance(made.tau, float)  # one step per voxel
    x = made.run(max_iter=800).x
    assert x.min() >= 0
    np.testing.assert_allclose(x, solution, atol=1e-6)


def test_an_operator_without_abs_falls_back_on_scalar_steps_with_a_warning():
    rng = np.random.default_rng(1)
    y, w = rng.standard_normal(120), rng.uniform(0.05, 3.0, 120)
    plain = pylops.Diagonal(w)  # a pylops operator: no abs_operator
    terms = [LeastSquares(y), 0.3 * costs.L1() @ plain, NonNegative()]
    with pytest.warns(RuntimeWarning, match="no \\|K\\| row and column sums.*scalar steps"):
        solver = ChambollePock(terms, precondition=True)
    assert not solver.preconditioned and isinstance(solver.tau, float)
    x = solver.run(max_iter=800).x
    np.testing.assert_allclose(x, np.maximum(y - 0.3 * w, 0.0), atol=1e-5)


def test_bad_step_options_are_refused():
    terms, _ = _denoising()
    with pytest.raises(ValueError, match="either tau/sigma or precondition=True"):
        ChambollePock(terms, tau=0.1, precondition=True)
    with pytest.raises(ValueError, match="alpha must be in \\[0, 2\\]"):
        ChambollePock(terms, precondition=True, alpha=3.0)


@pytest.mark.parametrize("alpha", [0.5, 1.5])
def test_other_alphas_converge_too(alpha):
    terms, solution = _denoising()
    x = ChambollePock(terms, precondition=True, alpha=alpha).run(max_iter=1500).x
    np.testing.assert_allclose(x, solution, atol=1e-5)


@pytest.mark.parametrize("precondition", [False, True], ids=["scalar", "diagonal"])
def test_the_steps_stay_on_the_data_backend(precondition):
    # GuardedArray stands for a device array: any host NumPy array mixed in raises
    from deconvkit import backend

    rng = np.random.default_rng(1)
    y, w = rng.standard_normal((10, 12)), rng.uniform(0.05, 3.0, (10, 12))
    gy, gw = backend.to_backend(y, "guarded"), backend.to_backend(w, "guarded")
    terms = [LeastSquares(gy), 0.3 * costs.L1() @ Diagonal(gw), NonNegative()]
    solver = ChambollePock(terms, precondition=precondition)
    x = solver.run(x0=backend.zeros((10, 12), np.float64, like=gy), max_iter=800).x
    assert isinstance(x, backend.GuardedArray)
    np.testing.assert_allclose(backend.to_host(x), np.maximum(y - 0.3 * w, 0.0), atol=1e-6)
