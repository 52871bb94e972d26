"""``abs_operator``: entrywise bounds |A_ij|^p <= M_ij, exact where claimed, with exact adjoints.

Every case is checked against the dense matrix of the operator on small shapes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deconvkit.operators as ops
from deconvkit.operators._absolute import AbsoluteDifferences
from deconvkit.testing import check_adjoint
from deconvkit.testing import strategies as dks


def dense(op):
    """The matrix of ``op`` (rows: flattened outputs), by applying it to unit vectors."""
    n = int(np.prod(op.dims))
    columns = []
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        columns.append(np.asarray(op @ e.reshape(op.dims), dtype=np.float64).ravel())
    return np.stack(columns, axis=1)


def _shape(data, max_side=5):
    return data.draw(dks.shapes(max_side=max_side), label="shape")


def _spacing(data, shape):
    return data.draw(dks.spacings(len(shape), 0.1, 3.0), label="spacing")


def _boundary(data):
    return data.draw(st.sampled_from(["periodic", "neumann"]), label="boundary")


def _psf(data, shape, signed=False):
    psf = data.draw(dks.psfs(shape), label="psf")
    return psf - 0.5 * psf.mean() if signed else psf


# (factory, exact?) — exact cases must equal |A|^p, the others bound it
EXACT = {
    "identity": lambda d: ops.Identity(_shape(d), dtype="float64"),
    "crop": lambda d: (lambda s: ops.Crop(s, tuple(max(1, n - 1) for n in s)))(_shape(d)),
    "pad": lambda d: (lambda s: ops.Crop(s, tuple(max(1, n - 1) for n in s)).H)(_shape(d)),
    "diagonal": lambda d: ops.Diagonal(d.draw(dks.arrays(_shape(d)))),
    "blur": lambda d: (lambda s: ops.Blur(_psf(d, s), s))(_shape(d)),
    "signed blur": lambda d: (lambda s: ops.Blur(_psf(d, s, signed=True), s))(_shape(d)),
    "gradient": lambda d: (lambda s: ops.Gradient(s, _spacing(d, s), _boundary(d), "float64"))(_shape(d)),
    "crop @ blur": lambda d: (lambda s: ops.Crop(s, tuple(max(1, n - 2) for n in s))
                              @ ops.Blur(_psf(d, s), s))(_shape(d)),
    "gradient @ blur": lambda d: (lambda s: ops.Gradient(s, _spacing(d, s), dtype="float64")
                                  @ ops.Blur(_psf(d, s, signed=True), s))(_shape(d)),
    "2 * gradient": lambda d: (lambda s: 2.0 * ops.Gradient(s, _spacing(d, s), _boundary(d)))(_shape(d)),
    "(crop @ blur).H": lambda d: (lambda s: (ops.Crop(s, tuple(max(1, n - 1) for n in s))
                                             @ ops.Blur(_psf(d, s), s)).H)(_shape(d)),
}
EXACT_AT_ONE = {
    "laplacian": lambda d: (lambda s: ops.Laplacian(s, _spacing(d, s), _boundary(d), "float64"))(_shape(d)),
    "hessian": lambda d: (lambda s: ops.Hessian(s, _spacing(d, s), _boundary(d), "float64"))(_shape(d, 4)),
    "blur.H @ blur": lambda d: (lambda b: b.H @ b)((lambda s: ops.Blur(_psf(d, s, True), s))(_shape(d))),
}
BOUNDS = {
    "0.5 laplacian - 2 identity": lambda d: (lambda s: 0.5 * ops.Laplacian(s, boundary="neumann")
                                             - 2.0 * ops.Identity(s))(_shape(d)),
    "gradient.H @ gradient (neumann)": lambda d: (lambda g: g.H @ g)(
        (lambda s: ops.Gradient(s, _spacing(d, s), "neumann", "float64"))(_shape(d))),
}


def _check(op, power, exact):
    absolute = op.abs_operator(power)
    assert absolute is not None, f"{op!r} has no |A|^{power}"
    assert tuple(absolute.dims) == tuple(op.dims) and tuple(absolute.dimsd) == tuple(op.dimsd)
    a, m = np.abs(dense(op)), dense(absolute)
    a[a <= 1e-12 * a.max()] = 0.0  # FFT rounding of the dense matrix, not an entry
    a = a**power
    scale = max(float(a.max()), 1e-30)
    if exact:
        np.testing.assert_allclose(m, a, rtol=1e-9, atol=1e-9 * scale)
    else:
        assert np.all(m >= a - 1e-9 * scale)
    check_adjoint(absolute, dtype=np.float64)


@settings(max_examples=15, deadline=None)
@pytest.mark.parametrize("name", list(EXACT))
@given(data=st.data())
def test_abs_operator_is_exact(name, data):
    power = data.draw(st.sampled_from([1.0, 0.5, 1.5]), label="power")
    _check(EXACT[name](data), power, exact=True)


@settings(max_examples=15, deadline=None)
@pytest.mark.parametrize("name", list(EXACT_AT_ONE))
@given(data=st.data())
def test_abs_operator_is_exact_at_power_one(name, data):
    _check(EXACT_AT_ONE[name](data), 1.0, exact=True)


@settings(max_examples=15, deadline=None)
@pytest.mark.parametrize("name", list(BOUNDS))
@given(data=st.data())
def test_abs_operator_bounds_composites(name, data):
    # |L|^p of a Neumann Laplacian is known at p = 1 only
    power = 1.0 if "laplacian" in name else data.draw(st.sampled_from([1.0, 0.5]), label="power")
    _check(BOUNDS[name](data), power, exact=False)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_absolute_differences_have_exact_adjoints(data, dtype):
    shape = data.draw(dks.shapes())
    kind = data.draw(st.sampled_from([ops.Gradient, ops.Laplacian, ops.Hessian]))
    op = kind(shape, data.draw(dks.spacings(len(shape))), data.draw(st.sampled_from(["periodic", "neumann"])))
    power = data.draw(st.sampled_from([1.0, 0.5])) if kind is ops.Gradient else 1.0
    check_adjoint(AbsoluteDifferences(op, power), dtype=dtype)


def test_unknown_bounds_say_none():
    lap = ops.Laplacian((5, 6), boundary="neumann")
    assert lap.abs_operator(1.5) is None  # not separable above power 1
    assert (lap + ops.Identity((5, 6))).abs_operator(1.5) is None
    with pytest.raises(ValueError, match="only known for p = 1"):
        AbsoluteDifferences(lap, 1.5)
    # a periodic one falls back on its circulant kernel, exactly
    periodic = ops.Laplacian((5, 6), dtype="float64")
    expected = np.abs(dense(periodic))
    expected[expected < 1e-12] = 0.0
    np.testing.assert_allclose(dense(periodic.abs_operator(1.5)), expected**1.5, atol=1e-9)
