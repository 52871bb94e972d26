"""The base class of deconvkit's linear operators and their composites.

Every operator is a :class:`pylops.LinearOperator` that takes nd-arrays of
shape ``dims`` and returns nd-arrays of shape ``dimsd``. On top of pylops it

* keeps the input's dtype (float32 stays float32) and array module;
* knows ``lipschitz``, an upper bound on the operator norm ``‖A‖₂`` (exact for
  the elementary operators and for every member of the circulant family);
* composes with ``@``, ``+``, scalar ``*`` and ``.H`` into composites that keep
  ``dims``/``dimsd``, readable reprs and those bounds;
* belongs to the *circulant family* when it is diagonal in the DFT: then its
  transfer function is known (:meth:`Operator.circulant_blocks`), composites of
  members stay members, and a member can be inverted exactly (:meth:`inv`).

A member of the family maps ``n`` stacked arrays of a spatial ``shape`` to ``m``
stacked arrays (``Gradient``: ``n = 1``, ``m = ndim``); its transfer function
is an ``(m, n, *rfft_shape(shape))`` array of blocks ``B`` such that
``F(Ax)_i = Σ_j B_ij · F(x)_j`` with ``F`` the real FFT over the spatial axes.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from pylops import LinearOperator

from ..backend import backend_of, complex_dtype, namespace, to_backend

__all__ = ["Operator", "Product", "Sum", "Scaled", "Adjoint", "apply", "apply_adjoint"]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def apply(op: LinearOperator, x: Any) -> Any:
    """``op @ x`` for an nd-array ``x`` of shape ``op.dims``, for any pylops operator."""
    if isinstance(op, Operator):
        return op._forward(x)
    return (op @ x.ravel()).reshape(op.dimsd)


def apply_adjoint(op: LinearOperator, y: Any) -> Any:
    """``op.H @ y`` for an nd-array ``y`` of shape ``op.dimsd``, for any pylops operator."""
    if isinstance(op, Operator):
        return op._adjoint_apply(y)
    return (op.H @ y.ravel()).reshape(op.dims)


class Operator(LinearOperator):
    """Base class: a linear map between nd-arrays, with exact adjoint.

    Subclasses implement ``_forward(x)`` (``x.shape == dims``) and
    ``_adjoint_apply(y)`` (``y.shape == dimsd``), both returning new arrays of
    the input's dtype and array module without modifying the input.
    Circulant members also implement ``_compute_blocks(dtype, backend)``.

    An operator's data (a PSF, weights, a transfer function) live on its
    :attr:`home` backend, where it was built; applied to arrays of another
    backend (CuPy arrays for an operator built from a NumPy PSF), it moves its
    transfer function there once and keeps it.

    Parameters
    ----------
    dims, dimsd : tuple of int
        Shapes of the input and of the output.
    dtype : str or numpy.dtype
        Nominal dtype (pylops solvers allocate with it); the operators
        themselves follow their input's dtype.
    name : str, optional
        Text shown by ``repr``.
    """

    #: True when the operator itself is applied by FFTs (compositions of such
    #: operators are better applied as one transfer function).
    applies_by_fft = False

    @property
    def semi_orthogonal(self) -> float | None:
        """``ν`` when ``A Aᴴ = ν I`` (then ``f ∘ A`` has a closed-form prox), else None."""
        return None

    def __init__(
        self,
        dims: tuple[int, ...],
        dimsd: tuple[int, ...],
        dtype: Any = "float32",
        name: str | None = None,
    ) -> None:
        super().__init__(
            dtype=np.dtype(dtype),
            dims=tuple(int(n) for n in dims),
            dimsd=tuple(int(n) for n in dimsd),
            clinear=True,
            name=name or type(self).__name__,
        )
        self._lipschitz: float | None = None
        self._blocks_cache: dict[tuple[np.dtype, str], Any] = {}

    @property
    def home(self) -> str:
        """The backend its data live on (``"numpy"`` for operators that hold none)."""
        return "numpy"

    # -- application -------------------------------------------------------
    def _forward(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint_apply(self, y: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _matvec(self, x: Any) -> Any:
        return self._forward(x.reshape(self.dims)).ravel()

    def _rmatvec(self, y: Any) -> Any:
        return self._adjoint_apply(y.reshape(self.dimsd)).ravel()

    def dot(self, x: Any) -> Any:
        """``A @ x``: apply to an nd-array, or compose with an operator."""
        if isinstance(x, LinearOperator):
            return compose(self, x)
        if isinstance(x, numbers.Number):
            return scale(x, self)
        if getattr(x, "shape", None) == self.dims:
            return self._forward(x)
        return super().dot(x)

    def __rmul__(self, scalar: Any) -> Any:
        if isinstance(scalar, numbers.Number):
            return scale(scalar, self)
        return NotImplemented

    def __add__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return add(self, other)
        return NotImplemented

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return add(other, self)
        return NotImplemented

    def __neg__(self) -> Operator:
        return scale(-1.0, self)

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return add(self, scale(-1.0, other))
        return NotImplemented

    def _adjoint(self) -> LinearOperator:
        return Adjoint(self)

    def __repr__(self) -> str:
        return f"{self.name}({_shape_text(self.dims)})"

    # -- norms ---------------------------------------------------------------
    @property
    def lipschitz(self) -> float | None:
        """Upper bound on the operator norm ``‖A‖₂`` (largest singular value).

        Exact for the elementary operators and the circulant family; a product
        or sum bound for other composites; ``None`` where nothing is known (then
        call :meth:`estimate_lipschitz`).
        """
        if self._lipschitz is None:
            if isinstance(self, _Composite) and self.is_circulant:
                self._lipschitz = _blocks_norm(self.circulant_blocks(keep=False))
            else:
                self._lipschitz = self._compute_lipschitz()
        return self._lipschitz

    def _compute_lipschitz(self) -> float | None:
        return None

    def estimate_lipschitz(
        self, max_iter: int = 100, rtol: float = 1e-5, seed: int = 0, dtype: Any = None
    ) -> float:
        """Estimate ``‖A‖₂`` by power iteration on ``AᴴA`` (computed on request).

        Parameters
        ----------
        max_iter : int
            Maximum number of power iterations (each costs one ``A`` and one ``Aᴴ``).
        rtol : float
            Stop when the estimate changes by less than this relative amount.
        seed : int
            Seed of the random start vector.
        dtype : numpy.dtype, optional
            Precision of the iteration; the operator's dtype by default.

        Returns
        -------
        float
            The estimate, a lower bound that converges to ``‖A‖₂`` from below.
        """
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.dims).astype(self.dtype if dtype is None else dtype)
        x = to_backend(x / np.linalg.norm(x), self.home)
        xp = namespace(x)
        estimate = 0.0
        for _ in range(max_iter):
            y = apply_adjoint(self, apply(self, x))
            norm = float(xp.linalg.norm(y.ravel()))
            if norm == 0.0:
                return 0.0
            x = y / norm
            previous, estimate = estimate, np.sqrt(norm)
            if abs(estimate - previous) <= rtol * estimate:
                break
        return float(estimate)

    # -- entrywise absolute value (diagonal preconditioning) ------------------
    #: At most one non-zero per row / per column (a crop, a pad, a diagonal):
    #: then ``|A B|^p = |A|^p |B|^p`` exactly (see :meth:`abs_operator`).
    single_entry_rows = False
    single_entry_cols = False

    def abs_operator(self, power: float = 1.0) -> Operator | None:
        r"""An operator :math:`M` with :math:`M_{ij} \ge |A_{ij}|^p` (equal where known), or None.

        Its row and column sums (``M @ ones``, ``M.H @ ones``) give the
        diagonal steps of preconditioned primal–dual methods (see
        ``deconvkit.operators._absolute``). Circulant members have it exactly;
        subclasses give theirs; None means no bound is known.
        """
        if self.is_circulant:
            from ._absolute import circulant_absolute

            return circulant_absolute(self, power)
        return None

    # -- the circulant family -----------------------------------------------
    #: Spatial shape on which the operator is circulant (None: not circulant).
    circulant_shape: tuple[int, ...] | None = None
    #: Whether the input / output carry a leading axis of stacked components.
    stacked_in = False
    stacked_out = False

    @property
    def is_circulant(self) -> bool:
        """True when the operator is diagonal in the DFT of its spatial axes."""
        return self.circulant_shape is not None

    def circulant_blocks(self, dtype: Any = None, *, keep: bool = True, like: Any = None,
                         backend: str | None = None) -> Any:
        """Transfer function as ``(m, n, *rfft_shape)`` blocks (cached per dtype and backend).

        Parameters
        ----------
        dtype : numpy.dtype, optional
            Real or complex dtype whose precision the blocks take; the
            operator's own by default.
        keep : bool
            Cache newly computed blocks on the operator. Composites ask their
            parts with ``keep=False``, so that forming ``(Hᴴ H + λ I).inv()``
            leaves one transfer function in memory, not one per part.
        like : array, optional
            An array of the backend the blocks are wanted on; the operator's
            :attr:`home` by default.
        backend : str, optional
            The backend by name (instead of ``like``).
        """
        if not self.is_circulant:
            raise ValueError(
                f"{self!r} is not in the circulant family (not diagonal in the DFT): "
                "it has no transfer function"
            )
        if backend is None:
            backend = self.home if like is None else backend_of(like)
        key = (complex_dtype(self.dtype if dtype is None else dtype), backend)
        if key in self._blocks_cache:
            return self._blocks_cache[key]
        blocks = self._compute_blocks(key[0], backend)
        if keep:
            self._blocks_cache[key] = blocks
        return blocks

    def _compute_blocks(self, dtype: np.dtype, backend: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def inv(self, floor: float = 0.0) -> Operator:
        r"""Exact inverse of a circulant operator, ``F⁻¹ (1/h) F``.

        Parameters
        ----------
        floor : float
            0 (default) inverts exactly and raises if the transfer function
            ``h`` vanishes anywhere. A positive floor gives the truncated
            inverse, ``1/h`` where ``|h| > floor`` and 0 elsewhere (the naive
            inverse filter, regularized).

        Returns
        -------
        Circulant
        """
        from ._circulant import inverse

        return inverse(self, floor)

    def solve(self, y: Any, floor: float = 0.0) -> Any:
        """Solve ``A x = y`` exactly for a circulant ``A`` (see :meth:`inv`)."""
        return self.inv(floor) @ y


def _blocks_norm(blocks: Any) -> float:
    """Largest singular value over all frequencies of ``(m, n, ...)`` blocks."""
    xp = namespace(blocks)
    m, n = blocks.shape[:2]
    if m == 1 or n == 1:
        power = xp.abs(blocks).astype(np.float64) ** 2
        norm = float(xp.sqrt(xp.max(power.sum(axis=(0, 1)))))
    else:
        matrices = xp.moveaxis(blocks.reshape(m, n, -1), -1, 0).astype(np.complex128)
        norm = float(xp.max(xp.linalg.svd(matrices, compute_uv=False)))
    # the blocks carry the rounding of their precision: inflate to stay a bound
    return norm * (1.0 + 8 * float(np.finfo(blocks.real.dtype).eps))


def _blocks_on(op: LinearOperator, dtype: Any, backend: str) -> Any:
    """A part's blocks on ``backend``, not cached on the part (see ``keep``)."""
    return op.circulant_blocks(dtype, keep=False, backend=backend)


def _stacked(op: LinearOperator, side: str) -> bool:
    """``op.stacked_in`` / ``op.stacked_out``, False for a plain pylops operator."""
    return bool(getattr(op, side, False))


def _circulant_of(*ops: LinearOperator) -> tuple[int, ...] | None:
    """The common circulant shape of ``ops``, or None if any is not circulant."""
    shapes = {getattr(op, "circulant_shape", None) for op in ops}
    if len(shapes) == 1 and None not in shapes:
        return shapes.pop()
    return None


class _Composite(Operator):
    """Shared machinery of the composites: circulant bookkeeping and dtype."""

    def __init__(self, dims, dimsd, children: tuple[LinearOperator, ...], name: str) -> None:
        dtype = np.result_type(*(op.dtype for op in children))
        super().__init__(dims, dimsd, dtype=dtype, name=name)
        self.children = children
        self.circulant_shape = _circulant_of(*children)

    @property
    def home(self) -> str:
        homes = [getattr(c, "home", "numpy") for c in self.children]
        return next((h for h in homes if h != "numpy"), "numpy")

    def __repr__(self) -> str:
        return self.name


class Product(_Composite):
    """``A @ B``: apply ``B`` then ``A``; adjoint ``Bᴴ Aᴴ``."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        super().__init__(b.dims, a.dimsd, (a, b), name=f"{a!r} @ {b!r}")
        self.a, self.b = a, b
        self.stacked_in, self.stacked_out = _stacked(b, "stacked_in"), _stacked(a, "stacked_out")

    def _forward(self, x):
        return apply(self.a, apply(self.b, x))

    def _adjoint_apply(self, y):
        return apply_adjoint(self.b, apply_adjoint(self.a, y))

    def _compute_lipschitz(self):
        la, lb = getattr(self.a, "lipschitz", None), getattr(self.b, "lipschitz", None)
        return None if la is None or lb is None else la * lb

    def abs_operator(self, power=1.0):
        # |AB|^p <= |A|^p |B|^p for p <= 1; exact when A has one entry per row or B per column
        if self.is_circulant:
            return super().abs_operator(power)
        exact = getattr(self.a, "single_entry_rows", False) or getattr(self.b, "single_entry_cols", False)
        if power > 1.0 and not exact:
            return None
        from ._absolute import abs_operator

        ma, mb = abs_operator(self.a, power), abs_operator(self.b, power)
        return None if ma is None or mb is None else ma @ mb

    @property
    def semi_orthogonal(self):
        na, nb = getattr(self.a, "semi_orthogonal", None), getattr(self.b, "semi_orthogonal", None)
        return None if na is None or nb is None else na * nb

    def _compute_blocks(self, dtype, backend):
        from ._circulant import multiply_blocks

        a = _blocks_on(self.a, dtype, backend)
        return multiply_blocks(a, _blocks_on(self.b, dtype, backend))


class Sum(_Composite):
    """``A + B`` (same ``dims`` and ``dimsd``)."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        super().__init__(a.dims, a.dimsd, (a, b), name=f"({a!r} + {b!r})")
        self.a, self.b = a, b
        self.stacked_in, self.stacked_out = _stacked(a, "stacked_in"), _stacked(a, "stacked_out")

    def _forward(self, x):
        y = apply(self.a, x)
        y += apply(self.b, x)
        return y

    def _adjoint_apply(self, y):
        x = apply_adjoint(self.a, y)
        x += apply_adjoint(self.b, y)
        return x

    def _compute_lipschitz(self):
        la, lb = getattr(self.a, "lipschitz", None), getattr(self.b, "lipschitz", None)
        return None if la is None or lb is None else la + lb

    def abs_operator(self, power=1.0):
        # |A + B|^p <= |A|^p + |B|^p for p <= 1
        if self.is_circulant:
            return super().abs_operator(power)
        if power > 1.0:
            return None
        from ._absolute import abs_operator

        ma, mb = abs_operator(self.a, power), abs_operator(self.b, power)
        return None if ma is None or mb is None else ma + mb

    def _compute_blocks(self, dtype, backend):
        return _blocks_on(self.a, dtype, backend) + _blocks_on(self.b, dtype, backend)


class Scaled(_Composite):
    """``c * A`` for a real scalar ``c``."""

    def __init__(self, scalar: float, op: LinearOperator) -> None:
        if isinstance(scalar, complex) or not np.isfinite(scalar):
            raise ValueError(f"the scalar of {scalar} * {op!r} must be a finite real number")
        super().__init__(op.dims, op.dimsd, (op,), name=f"{scalar:g} * {op!r}")
        self.scalar, self.op = float(scalar), op
        self.stacked_in, self.stacked_out = _stacked(op, "stacked_in"), _stacked(op, "stacked_out")
        self.single_entry_rows = getattr(op, "single_entry_rows", False)
        self.single_entry_cols = getattr(op, "single_entry_cols", False)

    def _forward(self, x):
        y = apply(self.op, x)
        y *= y.dtype.type(self.scalar)
        return y

    def _adjoint_apply(self, y):
        x = apply_adjoint(self.op, y)
        x *= x.dtype.type(self.scalar)
        return x

    def _compute_lipschitz(self):
        lipschitz = getattr(self.op, "lipschitz", None)
        return None if lipschitz is None else abs(self.scalar) * lipschitz

    @property
    def semi_orthogonal(self):
        nu = getattr(self.op, "semi_orthogonal", None)
        return None if nu is None else self.scalar**2 * nu

    def abs_operator(self, power=1.0):
        from ._absolute import abs_operator

        inner = abs_operator(self.op, power)
        return None if inner is None else abs(self.scalar) ** power * inner

    def _compute_blocks(self, dtype, backend):
        return _blocks_on(self.op, dtype, backend) * self.scalar


class Adjoint(_Composite):
    """``A.H``, the adjoint of ``A``, applied without forming anything."""

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.dimsd, op.dims, (op,), name=f"{op!r}.H")
        self.op = op
        self.stacked_in, self.stacked_out = _stacked(op, "stacked_out"), _stacked(op, "stacked_in")
        self.applies_by_fft = getattr(op, "applies_by_fft", False)
        self.single_entry_rows = getattr(op, "single_entry_cols", False)
        self.single_entry_cols = getattr(op, "single_entry_rows", False)

    def _forward(self, x):
        return apply_adjoint(self.op, x)

    def _adjoint_apply(self, y):
        return apply(self.op, y)

    def _adjoint(self):
        return self.op

    def _compute_lipschitz(self):
        return getattr(self.op, "lipschitz", None)

    def abs_operator(self, power=1.0):
        from ._absolute import abs_operator

        inner = abs_operator(self.op, power)
        return None if inner is None else inner.H

    def _compute_blocks(self, dtype, backend):
        return _blocks_on(self.op, dtype, backend).swapaxes(0, 1).conj()


def _check_shapes(left: LinearOperator, right: LinearOperator, what: str, same: bool) -> None:
    if same:
        ok = left.dims == right.dims and left.dimsd == right.dimsd
        need = f"both map {_shape_text(left.dims)} -> {_shape_text(left.dimsd)}"
    else:
        ok = tuple(left.dims) == tuple(right.dimsd)
        need = (f"{left!r} takes {_shape_text(left.dims)} but {right!r} returns "
                f"{_shape_text(right.dimsd)}")
    if not ok:
        raise ValueError(f"cannot form {what}: shapes do not match ({need})")


def _materialize_if_fft(op: _Composite) -> Operator:
    """Apply a circulant composite as one transfer function when any part uses FFTs.

    ``Blur.H @ Blur`` then costs one FFT pair instead of two, while a composite
    of cheap stencils (``Gradient.H @ Gradient``) keeps its stencils.
    """
    from ._circulant import Circulant

    if op.is_circulant and any(getattr(c, "applies_by_fft", False) for c in op.children):
        return Circulant(
            op.circulant_blocks(keep=False),
            op.circulant_shape,
            stacked_in=op.stacked_in,
            stacked_out=op.stacked_out,
            name=repr(op),
        )
    return op


def compose(a: LinearOperator, b: LinearOperator) -> Operator:
    """``a @ b`` as a deconvkit operator (a circulant one when both are)."""
    _check_shapes(a, b, f"{a!r} @ {b!r}", same=False)
    return _materialize_if_fft(Product(a, b))


def add(a: LinearOperator, b: LinearOperator) -> Operator:
    """``a + b`` as a deconvkit operator (a circulant one when both are)."""
    _check_shapes(a, b, f"{a!r} + {b!r}", same=True)
    return _materialize_if_fft(Sum(a, b))


def scale(scalar: float, op: LinearOperator) -> Operator:
    """``scalar * op`` as a deconvkit operator."""
    return Scaled(scalar, op)
