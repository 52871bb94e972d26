"""Joint Richardson–Lucy over views: its update, its minimizer (KKT, ADMM), ordered subsets, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from deconvkit.costs import LeastSquares, NonNegative, PoissonLikelihood, SmoothedTotalVariation
from deconvkit.operators import Blur, Crop, Diagonal
from deconvkit.solvers import ADMM, MultiViewRichardsonLucy, RichardsonLucy, build_views

from .conftest import gaussian_psf


def anisotropic_psf(widths, centre_weight=2.0):
    """A 3x3x3 PSF with a strong centre: its OTF has no zeros (the views determine x)."""
    z, y, x = np.mgrid[-1:2, -1:2, -1:2]
    h = np.exp(-0.5 * ((z / widths[0]) ** 2 + (y / widths[1]) ** 2 + (x / widths[2]) ** 2))
    h[1, 1, 1] += centre_weight
    return h / h.sum()


@pytest.fixture(scope="module")
def small():
    """Two noisy periodic views of a positive object, weighted 1 and 0.5."""
    rng = np.random.default_rng(1)
    shape = (4, 8, 8)
    truth = rng.uniform(2.0, 20.0, shape)  # the noise makes x >= 0 active at a few voxels
    psfs = [anisotropic_psf((0.5, 0.7, 0.3)), anisotropic_psf((0.3, 0.3, 0.9))]
    views = [rng.poisson(Blur(h, shape) @ truth + 1.0).astype(np.float64) for h in psfs]
    weights = [1.0, 0.5]
    problem = build_views(views, psfs, backgrounds=1.0, boundary="periodic", weights=weights)
    return dict(shape=shape, psfs=psfs, views=views, weights=weights, problem=problem)


def joint_gradient(small, x):
    g = np.zeros(small["shape"])
    for h, y, w in zip(small["psfs"], small["views"], small["weights"]):
        H = Blur(h, small["shape"])
        g += w * (H.H @ (1.0 - y / (H @ x + 1.0)))
    return g


def test_simultaneous_rl_reaches_the_kkt_point_and_admm_the_same_minimizer(small):
    terms = small["problem"].data
    rl = MultiViewRichardsonLucy(terms).run(max_iter=400, record_every=50)
    g = joint_gradient(small, rl.x)
    scale = np.abs(g).max() + 1.0
    # KKT of min Σ w_v KL_v over x >= 0: x >= 0, ∇ >= 0, x ∇ = 0
    assert rl.x.min() >= 0
    assert np.min(g) > -1e-6 * scale
    assert np.max(np.abs(rl.x * g)) < 1e-5 * rl.x.max() * scale
    assert (rl.x < 1e-3).sum() > 0  # the constraint is active: not an interior solution
    admm = ADMM(terms + [NonNegative()]).run(max_iter=300, record_every=50)
    assert np.max(np.abs(admm.x - rl.x)) < 1e-5 * rl.x.max()
    assert (
        abs(admm.history["objective"][-1] - rl.history["objective"][-1])
        < 1e-6 * rl.history["objective"][-1]
    )


def test_joint_objective_decreases_monotonically_and_is_the_weighted_kl_sum(small):
    result = MultiViewRichardsonLucy(small["problem"].data).run(max_iter=30)
    objective = np.array(result.history["objective"])
    assert np.all(np.diff(objective) <= 1e-10 * objective[0])
    x = result.x
    expected = sum(
        w * PoissonLikelihood(y, background=1.0)(Blur(h, small["shape"]) @ x)
        for h, y, w in zip(small["psfs"], small["views"], small["weights"])
    )
    assert objective[-1] == pytest.approx(expected, rel=1e-9)


def test_one_view_is_richardson_lucy_plain_accelerated_and_regularized():
    rng = np.random.default_rng(0)
    shape, field = (12, 20, 20), (8, 14, 14)
    H = Blur(gaussian_psf(5, 3, 1.0).astype(np.float64), shape)
    S = Crop(shape, field)
    y = rng.poisson(S @ H @ (10.0 * rng.random(shape)) + 2.0).astype(np.float64)
    data = PoissonLikelihood(y, background=2.0) @ (S @ H)
    tv = 0.01 * SmoothedTotalVariation(shape)
    for options in ({}, {"acceleration": "biggs-andrews"}, {"regularizer": tv}):
        single = RichardsonLucy(data, **options).run(max_iter=8)
        joint = MultiViewRichardsonLucy([data], **options).run(max_iter=8)
        assert joint.x.dtype == np.float64
        # float64, so that the comparison is not of FFT round-off amplified by RL
        np.testing.assert_allclose(joint.x, single.x, rtol=1e-7, atol=1e-7 * single.x.max())


def test_ordered_subsets_follow_their_formula_view_by_view_with_offsets():
    """Views of different shapes: each sub-iteration uses its own Aᵥᴴ1, and leaves alone
    the voxels its view does not see."""
    rng = np.random.default_rng(2)
    images = [
        rng.poisson(20.0, (6, 10, 12)).astype(np.float64),
        rng.poisson(20.0, (6, 12, 8)).astype(np.float64),
    ]
    psfs = [gaussian_psf(3, 3, 0.8).astype(np.float64), gaussian_psf(5, 3, 1.2).astype(np.float64)]
    views = build_views(images, psfs, offsets=[(0, 0, 0), (0, 4, 6)], backgrounds=[1.0, 2.0])
    assert views.field_shape == (6, 16, 14)
    solver = MultiViewRichardsonLucy(views.data, subsets=2)
    x0 = rng.uniform(1.0, 3.0, views.shape)
    x = solver.run(x0=x0, max_iter=1).x
    expected = x0 * solver.observed
    for term, b in zip(views.data, (1.0, 2.0)):
        A = term.op
        norm = A.H @ np.ones(A.dimsd)
        seen = norm > 1e-3 * norm.max()
        ratio = A.H @ (term.cost.y / (A @ expected + b))
        expected = np.where(seen, expected * ratio / np.where(seen, norm, 1.0), expected)
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-9)
    only_second = (views.data[1].op.H @ np.ones(images[1].shape)) > 0
    only_second &= (views.data[0].op.H @ np.ones(images[0].shape)) == 0
    assert only_second.any()


def test_ordered_subsets_go_faster_per_pass_on_consistent_data():
    rng = np.random.default_rng(3)
    shape = (8, 16, 16)
    truth = rng.uniform(1.0, 10.0, shape)
    psfs = [
        anisotropic_psf(w, 0.5)
        for w in ((1.0, 0.4, 0.4), (0.4, 1.0, 0.4), (0.4, 0.4, 1.0), (0.7, 0.7, 0.7))
    ]
    images = [Blur(h, shape) @ truth + 1.0 for h in psfs]  # noiseless: one exact solution
    views = build_views(images, psfs, backgrounds=1.0, boundary="periodic")
    error = {}
    for subsets in (1, 4):
        x = MultiViewRichardsonLucy(views.data, subsets=subsets).run(max_iter=10).x
        error[subsets] = np.linalg.norm(x - truth) / np.linalg.norm(truth)
    assert error[4] < 0.7 * error[1]


def test_fast_path_equals_the_generic_operator_path():
    rng = np.random.default_rng(4)
    images = [rng.poisson(30.0, (6, 10, 10)).astype(np.float32) for _ in range(3)]
    psfs = [gaussian_psf(3, 3, s) for s in (0.7, 1.0, 1.3)]
    views = build_views(images, psfs, backgrounds=2.0, weights=[1.0, 2.0, 0.5])
    generic = []
    for term in views.data:  # the same operators, made opaque by a diagonal of ones
        scale, inner = (term.scalar, term.cost) if hasattr(term, "scalar") else (1.0, term)
        op = inner.op.a @ (Diagonal(np.ones(views.shape, np.float32)) @ inner.op.b)
        generic.append(scale * (inner.cost @ op))
    for subsets in (1, 3):
        fast = MultiViewRichardsonLucy(views.data, subsets=subsets).run(max_iter=5)
        slow = MultiViewRichardsonLucy(generic, subsets=subsets).run(max_iter=5)
        assert fast.x.dtype == np.float32
        np.testing.assert_allclose(fast.x, slow.x, rtol=1e-4, atol=1e-4 * slow.x.max())
        np.testing.assert_allclose(fast.history["objective"], slow.history["objective"], rtol=1e-5)


def test_accelerated_joint_rl_stays_non_negative_and_goes_further(small):
    plain = MultiViewRichardsonLucy(small["problem"].data).run(max_iter=15)
    for acceleration in ("biggs-andrews", "momentum"):
        fast = MultiViewRichardsonLucy(small["problem"].data, acceleration=acceleration).run(
            max_iter=15
        )
        assert fast.x.min() >= 0 and np.all(np.isfinite(fast.x))
        assert fast.history["objective"][-1] < plain.history["objective"][-1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda y, h: build_views([y, y[:, :-1]], [h, h]), "different shapes .* give offsets="),
        (lambda y, h: build_views([y, y, y], [h, h]), "2 PSFs for 3 views"),
        (
            lambda y, h: build_views([y, y], [h, h], spacings=[(0.2, 0.1, 0.1), (0.2, 0.1, 0.12)]),
            "view 1 has voxel size .* resample",
        ),
        (lambda y, h: build_views([y, np.where(y > 3, np.nan, y)], [h, h]), "view 1 contains NaN"),
        (lambda y, h: build_views([y, -y], [h, h]), "view 1: PoissonLikelihood needs counts"),
        (lambda y, h: build_views([y, y], [h, h], offsets=[(0, 0, 0)]), "1 offsets for 2 views"),
        (lambda y, h: build_views([y, y], [h, -h]), "PSF 1 must be non-negative"),
        (lambda y, h: build_views([y, y], [h, h], weights=[1.0, 0.0]), "weight of view 1"),
    ],
)
def test_bad_views_are_refused_in_one_line(call, message):
    y = np.random.default_rng(0).poisson(5.0, (6, 8, 8)).astype(np.float32)
    h = gaussian_psf(3, 3)
    with pytest.raises(ValueError, match=message) as info:
        call(y, h)
    assert "\n" not in str(info.value)


def test_solver_refuses_terms_that_are_not_views():
    y = np.ones((4, 6, 6), np.float32)
    H = Blur(gaussian_psf(3, 3), y.shape)
    with pytest.raises(TypeError, match="term 1 .* is not a view"):
        MultiViewRichardsonLucy([PoissonLikelihood(y) @ H, LeastSquares(y) @ H])
    with pytest.raises(ValueError, match="subsets must be between 1 and the number of views"):
        MultiViewRichardsonLucy([PoissonLikelihood(y) @ H], subsets=2)
    with pytest.raises(ValueError, match="partition of the views"):
        MultiViewRichardsonLucy([PoissonLikelihood(y) @ H] * 2, subsets=[[0], [0]])


def test_runs_on_a_device_stand_in_without_falling_back_to_the_host():
    """GuardedArray refuses to mix with host arrays: every volume-sized step stays on its backend."""
    from deconvkit.backend import GuardedArray, to_host

    rng = np.random.default_rng(5)
    images = [rng.poisson(5.0, (6, 10, 10)).astype(np.float32) for _ in range(2)]
    psfs = [gaussian_psf(3, 3, 0.8), gaussian_psf(3, 3, 1.1)]
    host = build_views(images, psfs, backgrounds=1.0)
    device = build_views(
        [y.view(GuardedArray) for y in images],
        [h.view(GuardedArray) for h in psfs],
        backgrounds=1.0,
    )
    for options in ({"subsets": 2}, {"acceleration": "biggs-andrews"}):
        on_device = MultiViewRichardsonLucy(device.data, **options).run(max_iter=3)
        assert isinstance(on_device.x, GuardedArray)
        on_host = MultiViewRichardsonLucy(host.data, **options).run(max_iter=3)
        np.testing.assert_allclose(to_host(on_device.x), on_host.x, rtol=1e-4, atol=1e-5)
