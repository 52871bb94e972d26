"""The iterative TV prox: bounded error (duality gap), reproducible, safe warm starts.

Reference: the prox problem ½‖z − v‖² + τ TV(z) solved by ADMM (exact FFT
x-step, a different algorithm) to a relative change of 1e-13, in float64.
"""

import numpy as np
import pytest

import deconvkit.costs as dc
import deconvkit.operators as ops
from deconvkit.costs._iterative import DualProx
from deconvkit.solvers import ADMM, RelativeChange

SHAPE = (4, 10, 10)
SPACING = (0.3, 0.1, 0.1)


def _input(seed=0, dtype=np.float64):
    return np.random.default_rng(seed).random(SHAPE).astype(dtype)


def _phi(z, v, tau, tv):
    return 0.5 * float(np.sum((z.astype(np.float64) - v) ** 2)) + tau * tv(z.astype(np.float64))


_REFERENCES = {}


def _reference(v, tau, norm):
    key = (v.tobytes(), tau, type(norm).__name__)
    if key not in _REFERENCES:
        gradient = ops.Gradient(SHAPE, SPACING, dtype="float64")
        terms = [dc.LeastSquares(v), tau * norm @ gradient]
        _REFERENCES[key] = ADMM(terms).run(max_iter=3000, stop=RelativeChange(1e-13)).x
    return _REFERENCES[key]


@pytest.mark.parametrize("norm", [dc.MixedNorm21(), dc.L1()], ids=["isotropic", "anisotropic"])
@pytest.mark.parametrize("tau", [0.05, 4.0])
def test_the_prox_is_within_its_stated_gap_of_the_optimum(norm, tau):
    v = _input()
    tv = norm @ ops.Gradient(SHAPE, SPACING, dtype="float64")
    best = _phi(_reference(v, tau, norm), v, tau, tv)
    z = tv.prox(v, tau)
    gap = tv._special_prox.last_gap
    assert gap <= 1e-5
    excess = (_phi(z, v, tau, tv) - best) / best
    assert -1e-9 <= excess <= gap * 1.001 + 1e-9
    # ½‖z − z*‖² <= G: the distance to the exact prox is bounded by the gap
    exact = _reference(v, tau, norm)
    assert np.linalg.norm(z - exact) <= np.sqrt(2 * gap * _phi(z, v, tau, tv)) + 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_calls_on_the_same_input_agree_bit_for_bit(dtype):
    tv = dc.MixedNorm21() @ ops.Gradient(SHAPE, SPACING, dtype=dtype)
    v = _input(dtype=dtype)
    first = tv.prox(v, 4.0)
    second = tv.prox(v.copy(), 4.0)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == dtype
    # float32 stops at the rounding level of its gap, float64 at the tolerance
    assert tv._special_prox.last_gap <= (1e-3 if dtype == np.float32 else 1e-5)


def test_a_warm_start_from_another_input_keeps_the_bound():
    norm = dc.MixedNorm21()
    tv = norm @ ops.Gradient(SHAPE, SPACING, dtype="float64")
    v, w = _input(0), _input(1)
    tau = 1.0
    tv.prox(w, tau)  # leaves w's dual behind
    warm = tv.prox(v, tau)
    gap = tv._special_prox.last_gap
    exact = _reference(v, tau, norm)
    assert np.linalg.norm(warm - exact) <= np.sqrt(2 * gap * _phi(warm, v, tau, tv)) + 1e-6
    cold = (norm @ ops.Gradient(SHAPE, SPACING, dtype="float64")).prox(v, tau)
    assert np.linalg.norm(warm - cold) / np.linalg.norm(cold) < 1e-2


def test_the_gap_is_a_certificate():
    # G(p) >= Φ(z(p)) − Φ(z*) at any feasible dual point, here a random one
    norm = dc.MixedNorm21()
    gradient = ops.Gradient(SHAPE, SPACING, dtype="float64")
    tv = norm @ gradient
    v, tau = _input(), 0.5
    rng = np.random.default_rng(2)
    dual = norm._prox_conjugate(rng.standard_normal(gradient.dimsd), 1.0)
    prox = DualProx(norm, gradient)
    relative, _, z = prox.relative_gap(v, dual, tau)
    best = _phi(_reference(v, tau, norm), v, tau, tv)
    assert relative * _phi(z, v, tau, tv) >= _phi(z, v, tau, tv) - best - 1e-9


def test_bad_settings_are_refused():
    gradient = ops.Gradient(SHAPE)
    with pytest.raises(ValueError, match="max_iter"):
        DualProx(dc.MixedNorm21(), gradient, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        DualProx(dc.MixedNorm21(), gradient, tol=0.0)
