"""The loop every solver shares: stopping rules, callbacks, history, divergence guard, warm starts."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from deconvkit import metrics
from deconvkit.costs import Cost, LeastSquares
from deconvkit.operators import Blur, Identity
from deconvkit.solvers import (
    ADMM,
    FISTA,
    AllOf,
    AnyOf,
    Callback,
    ChambollePock,
    EveryIteration,
    GradientDescent,
    MaxIter,
    ObjectiveChange,
    ProgressLine,
    ProjectedGradient,
    RelativeChange,
    TimeLimit,
)

from .conftest import gaussian_psf


def gd(p):
    return GradientDescent(p.terms)


# -- stopping rules --------------------------------------------------------------
def test_max_iter_caps_and_says_so(quadratic_2d):
    result = gd(quadratic_2d).run(max_iter=7)
    assert result.n_iter == 7
    assert "maximum number of iterations (7)" in result.stop_reason
    assert not result.converged
    assert result.history["iteration"] == list(range(8))


def test_relative_change_stops_early_and_counts_as_converged(quadratic_2d):
    result = gd(quadratic_2d).run(max_iter=1000, stop=RelativeChange(1e-4))
    assert result.n_iter < 1000
    assert result.history["relative_change"][-1] <= 1e-4
    assert all(c > 1e-4 for c in result.history["relative_change"][1:-1])
    assert "relative change of x" in result.stop_reason and result.converged


def test_objective_change_stops_on_a_flat_objective(quadratic_2d):
    result = gd(quadratic_2d).run(max_iter=1000, stop=ObjectiveChange(1e-6))
    objective = result.history["objective"]
    assert result.n_iter < 1000 and result.converged
    assert abs(objective[-1] - objective[-2]) <= 1e-6 * abs(objective[-2])


def test_time_limit_stops_with_its_reason(quadratic_2d):
    result = gd(quadratic_2d).run(max_iter=10_000, stop=TimeLimit(1e-9))
    assert result.n_iter == 1
    assert "time limit" in result.stop_reason and not result.converged


def test_rules_combine_with_or_and_and(quadratic_2d):
    either = MaxIter(5) | RelativeChange(1e-30)
    assert isinstance(either, AnyOf) and either.max_iter == 5
    result = gd(quadratic_2d).run(stop=either)
    assert result.n_iter == 5 and "maximum" in result.stop_reason
    # both: the relative change is tiny only late, the cap of 3 alone is not enough
    both = MaxIter(3) & RelativeChange(1e-3)
    assert isinstance(both, AllOf)
    result = gd(quadratic_2d).run(max_iter=1000, stop=both)
    changes = result.history["relative_change"]
    assert result.n_iter >= 3 and changes[-1] <= 1e-3 and changes[-2] > 1e-3
    assert " and " in result.stop_reason
    nested = (MaxIter(4) | TimeLimit(100)) | RelativeChange(1e-30)
    assert len(nested.rules) == 3 and gd(quadratic_2d).run(stop=nested).n_iter == 4


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, None])
def test_rules_refuse_bad_parameters(bad):
    with pytest.raises(ValueError):
        MaxIter(bad)
    if bad is not None and not isinstance(bad, bool):
        if bad <= 0:
            with pytest.raises(ValueError):
                RelativeChange(bad)
            with pytest.raises(ValueError):
                TimeLimit(bad)


@pytest.mark.parametrize("max_iter", [0, -1, 1.5, "10"])
def test_non_positive_max_iter_is_a_value_error(quadratic_2d, max_iter):
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        gd(quadratic_2d).run(max_iter=max_iter)


def test_stop_must_be_a_rule(quadratic_2d):
    with pytest.raises(TypeError, match="stopping rule"):
        gd(quadratic_2d).run(stop=1e-4)


# -- callbacks and progress --------------------------------------------------------
class Counting(Callback):
    def __init__(self):
        self.calls = {"begin": 0, "step": 0, "end": 0}
        self.iterations = []

    def begin(self, state):
        assert state.iteration == 0 and state.x is not None
        self.calls["begin"] += 1

    def step(self, state):
        self.calls["step"] += 1
        self.iterations.append(state.iteration)
        assert state.x.shape == (16, 16)

    def end(self, state):
        self.calls["end"] += 1
        self.reason = state.stop_reason


def test_callbacks_are_called_with_the_right_counts(quadratic_2d):
    counter, seen = Counting(), []
    result = gd(quadratic_2d).run(
        max_iter=12, callbacks=[counter, EveryIteration(lambda s: seen.append(s.objective))]
    )
    assert counter.calls == {"begin": 1, "step": 12, "end": 1}
    assert counter.iterations == list(range(1, 13))
    assert counter.reason == result.stop_reason
    assert len(seen) == 12 and seen[-1] == result.history["objective"][-1]


def test_callback_count_when_a_rule_stops_early(quadratic_2d):
    counter = Counting()
    result = gd(quadratic_2d).run(max_iter=1000, stop=RelativeChange(1e-3), callbacks=[counter])
    assert counter.calls == {"begin": 1, "step": result.n_iter, "end": 1}


def test_progress_line_goes_to_stderr(quadratic_2d, capsys):
    gd(quadratic_2d).run(max_iter=20, progress=5)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("GradientDescent:")]
    assert "objective" in lines[0] and "rel.change" in lines[0]
    assert [int(line.split()[1]) for line in lines[1:-1]] == [5, 10, 15, 20]
    assert "stopped after 20 iterations" in lines[-1]
    stream = io.StringIO()
    gd(quadratic_2d).run(max_iter=3, callbacks=[ProgressLine(every=1, stream=stream)])
    assert len(stream.getvalue().splitlines()) == 5  # header, 3 rows, the stop line


# -- history, metrics, record_every ------------------------------------------------
def test_history_keys_and_ground_truth_metrics(quadratic_2d):
    p = quadratic_2d
    result = gd(p).run(max_iter=30, ground_truth=p.truth)
    history = result.history
    assert {"iteration", "objective", "relative_change", "time", "nrmse", "psnr"} <= set(history)
    assert all(len(v) == 31 for v in history.values())
    assert math.isnan(history["relative_change"][0])
    assert np.all(np.diff(history["time"]) >= 0)
    assert history["nrmse"][-1] == pytest.approx(metrics.nrmse(result.x, p.truth), rel=1e-9)
    mse = np.mean((result.x - p.truth) ** 2)
    assert history["psnr"][-1] == pytest.approx(10 * np.log10(np.ptp(p.truth) ** 2 / mse), rel=1e-9)
    assert history["nrmse"][-1] < history["nrmse"][0]


def test_ground_truth_may_be_the_field_inside_an_extended_domain(quadratic_2d):
    p = quadratic_2d
    field = p.truth[2:14, 2:14]
    result = gd(p).run(max_iter=3, ground_truth=field)
    assert result.history["nrmse"][-1] == pytest.approx(metrics.nrmse(result.x[2:14, 2:14], field))
    with pytest.raises(ValueError, match="ground_truth"):
        gd(p).run(max_iter=3, ground_truth=np.ones((20, 20)))


def test_record_every_thins_the_history(quadratic_2d):
    result = gd(quadratic_2d).run(max_iter=23, record_every=5)
    assert result.history["iteration"] == [0, 5, 10, 15, 20, 23]
    full = gd(quadratic_2d).run(max_iter=23)
    np.testing.assert_array_equal(result.x, full.x)


# -- divergence ----------------------------------------------------------------
def test_a_step_far_too_large_is_caught_and_the_last_finite_iterate_returned(quadratic_2d):
    p = quadratic_2d
    solver = GradientDescent(p.terms, step=50.0 / GradientDescent(p.terms).lipschitz)
    result = solver.run(max_iter=500)
    assert "diverg" in result.stop_reason and result.diverged and not result.converged
    assert result.n_iter < 500
    assert np.all(np.isfinite(result.x))
    assert result.history["iteration"][-1] == result.n_iter


class NaNAfter(Cost):
    """A quadratic whose gradient turns NaN after a few calls."""

    smooth = True

    def __init__(self, shape, calls):
        super().__init__(shape)
        self.left = calls

    def _value(self, x):
        return 0.5 * float(np.sum((x - 1.0) ** 2))

    def _grad(self, x):
        self.left -= 1
        g = x - 1.0
        if self.left < 0:
            g[0] = np.nan
        return g

    def _compute_grad_lipschitz(self):
        return 1.0


def test_nan_is_caught_and_reported():
    result = GradientDescent(NaNAfter((4, 4), calls=3), step=0.5).run(max_iter=50)
    assert "NaN" in result.stop_reason and result.diverged
    assert result.n_iter == 3 and np.all(np.isfinite(result.x))


# -- warm start and determinism ------------------------------------------------------
def test_continuing_from_x0_equals_running_longer(quadratic_2d):
    p = quadratic_2d
    first = gd(p).run(max_iter=10)
    second = gd(p).run(x0=first, max_iter=15)
    straight = gd(p).run(max_iter=25)
    np.testing.assert_allclose(second.x, straight.x, rtol=1e-12, atol=1e-14)
    assert first.x is not second.x  # x0 is not modified nor reused


def test_x0_is_not_modified_and_runs_are_deterministic(quadratic_2d):
    p = quadratic_2d
    x0 = np.full(p.shape, 0.3)
    keep = x0.copy()
    for make in (gd, lambda q: FISTA(q.terms), lambda q: ADMM(q.terms), lambda q: ChambollePock(q.terms)):
        a, b = make(p).run(x0=x0, max_iter=7).x, make(p).run(x0=x0, max_iter=7).x
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(x0, keep)


def test_x0_of_the_wrong_shape_is_refused(quadratic_2d):
    with pytest.raises(ValueError, match="x0 has shape"):
        gd(quadratic_2d).run(x0=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        gd(quadratic_2d).run(x0=np.full((16, 16), np.nan))


# -- bad input ---------------------------------------------------------------------
def test_terms_on_different_shapes_are_refused():
    a = LeastSquares(np.ones((8, 8))) @ Blur(gaussian_psf(3, 2), (8, 8))
    b = LeastSquares(np.ones((6, 6)))
    for make in (GradientDescent, FISTA, ADMM, ChambollePock):
        with pytest.raises(ValueError, match="disagree on the shape"):
            make([a, b])


def test_non_costs_are_refused():
    with pytest.raises(TypeError, match="takes costs"):
        ADMM([np.ones(3)])
    with pytest.raises(TypeError, match="ProjectedGradient needs a constraint"):
        ProjectedGradient(LeastSquares(np.ones(4)), LeastSquares(np.ones(4)))


def test_non_smooth_cost_is_refused_by_gradient_descent():
    class Nonsmooth(Cost):
        proximable = True

        def _value(self, x):
            return float(np.abs(x).sum())

        def _prox(self, x, tau):
            return np.sign(x) * np.maximum(np.abs(x) - tau, 0)

    with pytest.raises(TypeError, match="GradientDescent needs a smooth.*ProximalGradient"):
        GradientDescent([LeastSquares(np.ones(4)), Nonsmooth((4,))])
    with pytest.raises(TypeError, match="one nonsmooth term"):
        FISTA(LeastSquares(np.ones(4)), [Nonsmooth((4,)), Nonsmooth((4,))])
    x = FISTA(LeastSquares(np.ones(4) * 3), Nonsmooth((4,))).run(max_iter=50).x
    np.testing.assert_allclose(x, 2.0, atol=1e-6)  # soft threshold of 3 by 1


def test_steps_are_checked():
    data = LeastSquares(np.ones((8, 8)))
    with pytest.raises(ValueError, match="step"):
        GradientDescent(data, step=-1.0)
    op = Identity((8, 8), dtype=np.float64)
    with pytest.raises(ValueError, match="convergence condition"):
        ChambollePock([data @ op, data @ op], tau=1.0, sigma=1.0)


def test_admm_refuses_a_cost_without_prox_and_names_who_can():
    class SmoothOnly(Cost):
        smooth = True

        def _value(self, x):
            return float(np.sum(np.cosh(x)))

        def _grad(self, x):
            return np.sinh(x)

    with pytest.raises(TypeError, match="ADMM needs a proximal map.*CondatVu"):
        ADMM([LeastSquares(np.ones((4, 4))), SmoothOnly((4, 4))])
    with pytest.raises(TypeError, match="ChambollePock needs the proximal map.*CondatVu"):
        ChambollePock([LeastSquares(np.ones((4, 4))), SmoothOnly((4, 4)) @ Identity((4, 4))])
