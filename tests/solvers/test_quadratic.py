"""Every solver reaches the closed-form minimizer of a small quadratic problem.

Problem: ½‖Hx − y‖² + (λ/2)‖x‖² with a circulant blur H, whose minimizer is
(HᴴH + λI)⁻¹Hᴴy (one FFT division). Tolerance: relative error 1e-5 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit.costs import LeastSquares
from deconvkit.operators import Blur, Crop, Identity
from deconvkit.solvers import (
    ADMM,
    FISTA,
    ChambollePock,
    CondatVu,
    ConjugateGradientSolve,
    GradientDescent,
    ProximalGradient,
    RelativeChange,
    XStep,
    solve_quadratic,
)

from .conftest import Quadratic, gaussian_psf

TOL = 1e-5


def relative_error(x, reference):
    return float(np.linalg.norm(x - reference) / np.linalg.norm(reference))


def test_solve_quadratic_is_the_closed_form(quadratic):
    x = solve_quadratic(quadratic.terms)
    assert x.shape == quadratic.shape
    assert relative_error(x, quadratic.solution) < 1e-10


@pytest.mark.parametrize(
    "make, max_iter",
    [
        (lambda p: GradientDescent(p.terms), 600),
        (lambda p: GradientDescent(p.terms, line_search=True), 600),
        (lambda p: FISTA(p.terms), 300),
        (lambda p: ProximalGradient(p.terms, accelerate=False), 600),
        (lambda p: ADMM(p.terms), 300),
        (lambda p: ADMM(p.terms, x_step=ConjugateGradientSolve(max_iter=20, tol=1e-10)), 300),
        (lambda p: ChambollePock(p.terms), 3000),
        (lambda p: CondatVu(p.terms), 3000),
    ],
    ids=["gd", "gd-armijo", "fista", "ista", "admm-fft", "admm-cg", "chambolle-pock", "condat-vu"],
)
def test_solvers_reach_the_closed_form_minimizer(quadratic, make, max_iter):
    solver = make(quadratic)
    result = solver.run(max_iter=max_iter, stop=RelativeChange(1e-12))
    assert np.all(np.isfinite(result.x))
    assert relative_error(result.x, quadratic.solution) < TOL, result.stop_reason


def test_objective_decreases_to_the_minimum(quadratic_2d):
    p = quadratic_2d
    minimum = sum(t(p.solution) for t in p.terms)
    history = GradientDescent(p.terms).run(max_iter=200).history
    objective = np.array(history["objective"])
    assert np.all(np.diff(objective) <= 1e-12 * objective[0])
    assert objective[-1] == pytest.approx(minimum, rel=1e-8)


def test_admm_splits_crop_of_blur_and_keeps_the_fft_x_step():
    # ½‖S H x − y‖² + (λ/2)‖x‖² on an extended domain: compare with FISTA, which
    # needs no splitting, and with the normal equations solved by CG.
    rng = np.random.default_rng(1)
    big, small = (24, 24), (16, 16)
    H, S = Blur(gaussian_psf(5, 2).astype(np.float64), big), Crop(big, small)
    y = rng.random(small)
    terms = [LeastSquares(y) @ (S @ H), 0.05 * LeastSquares(np.zeros(big))]
    admm = ADMM(terms)
    assert type(admm.x_step).__name__ == "CirculantSolve"
    x_admm = admm.run(max_iter=500, stop=RelativeChange(1e-12)).x
    x_fista = FISTA(terms).run(max_iter=500, stop=RelativeChange(1e-13)).x
    assert relative_error(x_admm, x_fista) < TOL


def test_admm_takes_a_user_x_step(quadratic_2d):
    calls = {"prepare": 0, "solve": 0}

    class Counting(XStep):
        def prepare(self, ops, rhos, shape, dtype):
            super().prepare(ops, rhos, shape, dtype)
            calls["prepare"] += 1

        def solve(self, rhs, x0):
            calls["solve"] += 1
            return ConjugateGradientSolve(max_iter=30, tol=1e-12).__class__.solve(self, rhs, x0)

    step = Counting()
    step.max_iter, step.tol = 30, 1e-12
    x = ADMM(quadratic_2d.terms, x_step=step).run(max_iter=150).x
    assert calls["solve"] == 150 and calls["prepare"] >= 1
    assert relative_error(x, quadratic_2d.solution) < TOL


def test_admm_residual_balancing_changes_rho_and_still_converges(quadratic_2d):
    p = quadratic_2d
    solver = ADMM(p.terms, rho=[1e-3, 1e3], balance=True)
    result = solver.run(max_iter=800, stop=RelativeChange(1e-12))
    rhos = result.history["rho"]
    assert rhos[-1] != rhos[0]  # the rule moved the badly chosen penalties
    assert relative_error(result.x, p.solution) < TOL
    assert {"primal_residual", "dual_residual"} <= set(result.history)


def test_admm_with_a_pylops_identity_never_touches_the_iterate(quadratic_2d):
    # pylops.Identity hands its input back; ADMM updates A x in place, which must not
    # write into x (nor into the caller's start)
    import pylops

    p = quadratic_2d
    terms = [p.terms[0], p.terms[1] @ pylops.Identity(p.shape, dtype=np.float64)]
    x0 = np.ones(p.shape)
    start = x0.copy()
    solver = ADMM(terms, x_step=ConjugateGradientSolve(max_iter=50, tol=1e-12))
    x = solver.run(x0=x0, max_iter=1000, stop=RelativeChange(1e-12)).x
    np.testing.assert_array_equal(x0, start)
    assert relative_error(x, p.solution) < TOL


def test_float32_problems_stay_float32():
    p = Quadratic((16, 16), dtype=np.float32)
    for solver in (GradientDescent(p.terms), FISTA(p.terms), ADMM(p.terms), ChambollePock(p.terms)):
        x = solver.run(max_iter=5).x
        assert x.dtype == np.float32, solver
    assert solve_quadratic(p.terms).dtype == np.float32


def test_solve_quadratic_refuses_non_circulant_and_non_quadratic():
    big, small = (24, 24), (16, 16)
    H, S = Blur(gaussian_psf(5, 2), big), Crop(big, small)
    with pytest.raises(ValueError, match="circulant.*ADMM"):
        solve_quadratic([LeastSquares(np.ones(small, np.float32)) @ (S @ H)])
    weighted = LeastSquares(np.ones(big, np.float32), weights=np.linspace(0.1, 1, 24 * 24).reshape(big))
    with pytest.raises(TypeError, match="weight"):
        solve_quadratic([weighted @ H])
    with pytest.raises(ValueError, match="singular|unique"):
        H0 = Blur(np.array([[0.5, 0.0, -0.5]], np.float32).reshape(1, 3), (8, 8))
        solve_quadratic([LeastSquares(np.ones((8, 8), np.float32)) @ H0])


def test_identity_only_problem_has_the_data_as_solution():
    y = np.arange(12.0).reshape(3, 4)
    x = solve_quadratic([LeastSquares(y) @ Identity((3, 4), dtype=np.float64)])
    np.testing.assert_allclose(x, y, atol=1e-12)
