"""TV and Hessian–Schatten problems: the splitting solvers agree with each other and with pyproximal.

Tolerances (float64): solutions agree to 1e-3 in relative norm and objectives
to 1e-5 relative with the reference (ADMM run to a relative change of 1e-12);
FISTA-TV, whose prox is itself iterative, to 2e-3 / 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit import costs
from deconvkit.costs import LeastSquares
from deconvkit.operators import Blur, Crop, Gradient, Hessian
from deconvkit.solvers import (
    ADMM,
    FISTA,
    ChambollePock,
    CondatVu,
    ConjugateGradientSolve,
    RelativeChange,
)

from .conftest import gaussian_psf

def relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def objective(terms, x):
    return sum(float(t(x)) for t in terms if not getattr(t, "indicator", False))


@pytest.fixture(scope="module")
def tv_problem():
    shape = (24, 24)
    rng = np.random.default_rng(3)
    truth = np.zeros(shape)
    truth[4:12, 5:15] = 1.0
    truth[14:20, 8:20] = 0.5
    H = Blur(gaussian_psf(5, 2, 1.0).astype(np.float64), shape)
    y = H @ truth + 0.02 * rng.standard_normal(shape)
    G = Gradient(shape, dtype="float64")
    lam = 0.02
    data, tv = LeastSquares(y) @ H, lam * costs.MixedNorm21() @ G
    reference = ADMM([data, tv]).run(max_iter=3000, stop=RelativeChange(1e-12)).x
    return dict(shape=shape, H=H, G=G, y=y, lam=lam, data=data, tv=tv, reference=reference)


@pytest.mark.parametrize(
    "make, max_iter",
    [
        (lambda p: ADMM([p["data"], p["tv"]], x_step=ConjugateGradientSolve(30, 1e-10)), 1500),
        (lambda p: ChambollePock([p["data"], p["tv"]]), 6000),
        (lambda p: CondatVu([p["data"], p["tv"]]), 6000),
    ],
    ids=["admm-cg", "chambolle-pock", "condat-vu"],
)
def test_tv_solvers_agree(tv_problem, make, max_iter):
    p = tv_problem
    x = make(p).run(max_iter=max_iter, stop=RelativeChange(1e-12)).x
    terms = [p["data"], p["tv"]]
    assert relative(x, p["reference"]) < 1e-3
    assert objective(terms, x) == pytest.approx(objective(terms, p["reference"]), rel=1e-5)


def test_fista_with_the_tv_prox_agrees(tv_problem):
    p = tv_problem
    tv = p["lam"] * costs.TotalVariation(p["shape"])
    x = FISTA(p["data"], tv).run(max_iter=1500, stop=RelativeChange(1e-10)).x
    terms = [p["data"], p["tv"]]
    assert relative(x, p["reference"]) < 2e-3
    assert objective(terms, x) == pytest.approx(objective(terms, p["reference"]), rel=1e-4)


def test_tv_agrees_with_pyproximal_primal_dual(tv_problem):
    pyproximal = pytest.importorskip("pyproximal")
    from pyproximal.optimization.primaldual import PrimalDual

    p = tv_problem
    n = int(np.prod(p["shape"]))
    proxf = pyproximal.L2(Op=p["H"], b=p["y"].ravel(), niter=30)
    proxg = pyproximal.L21(ndim=2, sigma=p["lam"])
    step = 0.95 / p["G"].lipschitz
    x = PrimalDual(proxf, proxg, p["G"], x0=np.zeros(n), tau=step, mu=step, niter=3000)
    x = x.reshape(p["shape"])
    terms = [p["data"], p["tv"]]
    assert relative(x, p["reference"]) < 1e-3
    assert objective(terms, x) == pytest.approx(objective(terms, p["reference"]), rel=1e-5)


def test_constrained_tv_on_the_extended_domain():
    # ½‖S H x − y‖² + λ TV(x) + ι(x ≥ 0): ADMM (crop split off, FFT x-step),
    # ChambollePock and CondatVu agree.
    big, small = (28, 28), (20, 20)
    rng = np.random.default_rng(4)
    H, S = Blur(gaussian_psf(7, 2, 1.2).astype(np.float64), big), Crop(big, small)
    truth = np.zeros(big)
    truth[6:14, 6:20] = 1.0
    y = S @ (H @ truth) + 0.02 * rng.standard_normal(small)
    G = Gradient(big, dtype="float64")
    terms = [LeastSquares(y) @ (S @ H), 0.01 * costs.MixedNorm21() @ G, costs.NonNegative()]
    admm = ADMM(terms)
    assert type(admm.x_step).__name__ == "CirculantSolve"
    reference = admm.run(max_iter=4000, stop=RelativeChange(1e-12)).x
    for solver in (ChambollePock(terms), CondatVu(terms)):
        x = solver.run(max_iter=8000, stop=RelativeChange(1e-12)).x
        assert x.min() >= 0
        assert relative(x, np.maximum(reference, 0)) < 2e-3, solver
        assert objective(terms, x) == pytest.approx(objective(terms, reference), rel=1e-4)


def test_hessian_schatten_solvers_agree():
    shape = (20, 20)
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:20, :20]
    truth = np.exp(-((yy - 8) ** 2 + (xx - 11) ** 2) / 20.0) + 0.3 * (yy > 12)
    H = Blur(gaussian_psf(5, 2, 1.0).astype(np.float64), shape)
    y = H @ truth + 0.02 * rng.standard_normal(shape)
    hs = 0.01 * costs.SchattenNorm(1) @ Hessian(shape, dtype="float64")
    terms = [LeastSquares(y) @ H, hs]
    reference = ADMM(terms).run(max_iter=4000, stop=RelativeChange(1e-12)).x
    for solver in (ChambollePock(terms), CondatVu(terms)):
        x = solver.run(max_iter=8000, stop=RelativeChange(1e-12)).x
        assert relative(x, reference) < 2e-3, solver
        assert objective(terms, x) == pytest.approx(objective(terms, reference), rel=1e-4)
    # the packaged regularizer is the same cost
    packaged = 0.01 * costs.HessianSchatten(shape, p=1)
    assert float(packaged(reference)) == pytest.approx(float(hs(reference)), rel=1e-6)
