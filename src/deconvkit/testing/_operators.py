"""Contracts every linear operator must satisfy, as reusable checks.

Each check draws its own random inputs (or takes given ones), computes in the
operator's input dtype, and raises ``AssertionError`` with a readable message
naming the operator, the dtype and the relative error. They return the
measured error so a test can report it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pylops import LinearOperator

__all__ = [
    "default_rtol",
    "random_array",
    "check_adjoint",
    "check_linearity",
    "check_dtype_preserved",
    "check_not_mutated",
    "check_lipschitz",
    "check_shapes",
    "check_operator",
]


def default_rtol(dtype: Any) -> float:
    """Tolerance of the checks for a dtype: 1e-4 in single, 1e-10 in double precision."""
    return 1e-4 if np.finfo(np.result_type(dtype, np.float32)).bits <= 32 else 1e-10


def random_array(shape: tuple[int, ...], dtype: Any, rng: np.random.Generator) -> np.ndarray:
    """Standard normal array of ``shape``; complex dtypes get a random imaginary part too."""
    dtype = np.dtype(dtype)
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def _input_dtype(op: LinearOperator, dtype: Any) -> np.dtype:
    return np.dtype(op.dtype if dtype is None else dtype)


def _nd(op: LinearOperator, x: np.ndarray, adjoint: bool = False) -> np.ndarray:
    shape = op.dims if adjoint else op.dimsd
    out = (op.H if adjoint else op) @ x
    return np.asarray(out).reshape(shape)


def _name(op: LinearOperator, dtype: np.dtype) -> str:
    return f"{op!r} ({dtype})"


def _inner(a: np.ndarray, b: np.ndarray) -> complex:
    """``<a, b> = Σ conj(a) b``, accumulated in double precision."""
    return complex(np.vdot(a.astype(np.complex128).ravel(), b.astype(np.complex128).ravel()))


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.complex128).ravel()))


def check_adjoint(
    op: LinearOperator,
    x: Any = None,
    y: Any = None,
    *,
    dtype: Any = None,
    rtol: float | None = None,
    seed: int = 0,
    n_probes: int = 2,
) -> float:
    r"""Check :math:`\langle A x, y\rangle = \langle x, A^H y\rangle`, relative to the size of the product.

    The discrepancy is measured against :math:`|\langle Ax, y\rangle|` itself,
    not against :math:`\|Ax\|\|y\|`: for random inputs of :math:`n` voxels the
    inner product is about :math:`\|Ax\|\|y\|/\sqrt n`, so the product of the
    norms hides an adjoint 0.1 % too large, or shifted by a voxel, behind a
    factor :math:`\sqrt n` (300 on 32x64x64). The rounding of the two
    evaluations in the operator's dtype is of the same relative size as their
    outputs' rounding (a few machine epsilons), whatever :math:`n`. To keep an
    inner product that is small by chance from inflating the error, the
    denominator is at least a tenth of its typical size,

    .. math:: e = \frac{|\langle Ax, y\rangle - \langle x, A^Hy\rangle|}
              {\max\big(|\langle Ax, y\rangle|,\ |\langle x, A^Hy\rangle|,\
              0.1\,\|Ax\|\,\|y\|/\sqrt{m},\ 0.1\,\|x\|\,\|A^Hy\|/\sqrt{n}\big)}

    (:math:`m`, :math:`n` the sizes of ``y`` and ``x``), the largest over
    ``n_probes`` pairs of random inputs.

    Parameters
    ----------
    op : pylops.LinearOperator
        The operator, taking arrays of shape ``op.dims``.
    x, y : array, optional
        Test inputs of shapes ``op.dims`` and ``op.dimsd``; standard normal
        (complex when the dtype is) by default. Given inputs make one probe.
    dtype : dtype, optional
        dtype of the random inputs; ``op.dtype`` by default.
    rtol : float, optional
        Tolerance on the relative error; :func:`default_rtol` of the dtype
        (1e-4 in single precision catches an adjoint scaled by 1.001).
    seed : int
        Seed for the random inputs.
    n_probes : int
        Random input pairs tried (an error is found if any pair shows it).

    Returns
    -------
    float
        The error :math:`e` above (the largest over the probes).
    """
    dtype = _input_dtype(op, dtype)
    rng = np.random.default_rng(seed)
    given = x is not None or y is not None
    rtol = default_rtol(dtype) if rtol is None else rtol
    worst = 0.0
    for _ in range(1 if given else max(1, int(n_probes))):
        xp_ = random_array(op.dims, dtype, rng) if x is None else np.asarray(x)
        yp = random_array(op.dimsd, dtype, rng) if y is None else np.asarray(y)
        ax, ahy = _nd(op, xp_), _nd(op, yp, adjoint=True)
        left, right = _inner(yp, ax), _inner(ahy, xp_)
        typical = max(
            _norm(ax) * _norm(yp) / np.sqrt(max(yp.size, 1)),
            _norm(xp_) * _norm(ahy) / np.sqrt(max(xp_.size, 1)),
        )
        scale = max(abs(left), abs(right), 0.1 * typical)
        error = float(abs(left - right) / scale) if scale > 0 else float(abs(left - right))
        if not error <= rtol:
            raise AssertionError(
                f"adjoint mismatch for {_name(op, dtype)}: <A x, y> = {left:.8g} but "
                f"<x, A^H y> = {right:.8g}; relative error {error:.3g} > tolerance {rtol:.1g}"
            )
        worst = max(worst, error)
    return worst


def check_linearity(
    op: LinearOperator, *, dtype: Any = None, rtol: float | None = None, seed: int = 0
) -> float:
    """Check ``A(a x + b z) = a A x + b A z`` for random arrays and scalars."""
    dtype = _input_dtype(op, dtype)
    rng = np.random.default_rng(seed)
    x, z = random_array(op.dims, dtype, rng), random_array(op.dims, dtype, rng)
    a, b = rng.uniform(-2, 2, size=2)
    combined = (a * x + b * z).astype(dtype)
    left, right = _nd(op, combined), a * _nd(op, x) + b * _nd(op, z)
    scale = max(np.linalg.norm(right), abs(a) * np.linalg.norm(_nd(op, x)), 1e-30)
    error = float(np.linalg.norm(left - right) / scale)
    rtol = default_rtol(dtype) if rtol is None else rtol
    if not error <= rtol:
        raise AssertionError(f"{_name(op, dtype)} is not linear: relative error {error:.3g}")
    return error


def check_dtype_preserved(op: LinearOperator, *, dtype: Any = None, seed: int = 0) -> None:
    """Check that forward and adjoint return the input's dtype (no silent upcast)."""
    dtype = _input_dtype(op, dtype)
    rng = np.random.default_rng(seed)
    for adjoint, shape in ((False, op.dims), (True, op.dimsd)):
        out = _nd(op, random_array(shape, dtype, rng), adjoint)
        if out.dtype != dtype:
            what = "adjoint" if adjoint else "forward"
            raise AssertionError(f"{_name(op, dtype)}: {what} returned {out.dtype}, not {dtype}")


def check_not_mutated(op: LinearOperator, *, dtype: Any = None, seed: int = 0) -> None:
    """Check that neither forward nor adjoint writes into its input."""
    dtype = _input_dtype(op, dtype)
    rng = np.random.default_rng(seed)
    for adjoint, shape in ((False, op.dims), (True, op.dimsd)):
        x = random_array(shape, dtype, rng)
        before = x.copy()
        _nd(op, x, adjoint)
        if not np.array_equal(x, before):
            what = "adjoint" if adjoint else "forward"
            raise AssertionError(f"{_name(op, dtype)}: {what} modified its input")


def check_lipschitz(
    op: LinearOperator, *, dtype: Any = None, rtol: float | None = None, seed: int = 0
) -> float | None:
    """Check that ``op.lipschitz`` bounds ``‖Ax‖/‖x‖`` and the power-iteration estimate.

    Returns the claimed bound, or None when the operator claims none.
    """
    bound = getattr(op, "lipschitz", None)
    if bound is None:
        return None
    dtype = _input_dtype(op, dtype)
    rtol = 10 * default_rtol(dtype) if rtol is None else rtol
    rng = np.random.default_rng(seed)
    x = random_array(op.dims, dtype, rng)
    ratio = float(np.linalg.norm(_nd(op, x)) / max(np.linalg.norm(x), 1e-30))
    estimate = (
        op.estimate_lipschitz(seed=seed, dtype=dtype) if hasattr(op, "estimate_lipschitz") else ratio
    )
    worst = max(ratio, estimate)
    if not worst <= bound * (1 + rtol) + 1e-12:
        raise AssertionError(
            f"{_name(op, dtype)}: lipschitz = {bound:.6g} is not an upper bound: "
            f"found ‖Ax‖/‖x‖ = {worst:.6g}"
        )
    return bound


def check_shapes(op: LinearOperator, *, dtype: Any = None, seed: int = 0) -> None:
    """Check nd in, nd out (``dims`` -> ``dimsd``) and agreement with the flat pylops path."""
    dtype = _input_dtype(op, dtype)
    rng = np.random.default_rng(seed)
    for adjoint, shape, out_shape in ((False, op.dims, op.dimsd), (True, op.dimsd, op.dims)):
        x = random_array(shape, dtype, rng)
        applied = op.H if adjoint else op
        nd_out, flat_out = applied @ x, applied @ x.ravel()
        if tuple(nd_out.shape) != tuple(out_shape):
            raise AssertionError(f"{_name(op, dtype)} returned shape {nd_out.shape}, not {out_shape}")
        if not np.allclose(nd_out.ravel(), flat_out, rtol=0, atol=10 * default_rtol(dtype) * (1 + np.abs(flat_out).max())):
            raise AssertionError(f"{_name(op, dtype)}: nd and flat applications disagree")


def check_operator(op: LinearOperator, *, dtype: Any = None, seed: int = 0) -> None:
    """Run every contract above on ``op``."""
    check_shapes(op, dtype=dtype, seed=seed)
    check_adjoint(op, dtype=dtype, seed=seed)
    check_linearity(op, dtype=dtype, seed=seed)
    check_dtype_preserved(op, dtype=dtype, seed=seed)
    check_not_mutated(op, dtype=dtype, seed=seed)
    check_lipschitz(op, dtype=dtype, seed=seed)
