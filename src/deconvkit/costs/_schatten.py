r"""Schatten norms of stacked symmetric matrices (the Hessian–Schatten regularizer).

A stack ``z`` of shape ``(k, *shape)`` with ``k = n(n + 1)/2`` holds, at each
voxel, the upper triangle of a symmetric ``n x n`` matrix in the order of
:attr:`deconvkit.operators.Hessian.pairs` (row-major: 3D gives 00, 01, 02, 11,
12, 22), the off-diagonal entries multiplied by :math:`\sqrt 2` so that the
stack's Euclidean norm is the Frobenius norm. The Schatten ``p``-norm is the
:math:`\ell_p` norm of the eigenvalues :math:`\lambda(M)`, and every proximal
map here is spectral:

.. math:: \operatorname{prox}_{\tau\|\cdot\|_{S_p}}(M) = V \operatorname{diag}\big(
          \operatorname{prox}_{\tau\|\cdot\|_p}(\lambda)\big) V^T, \qquad M = V\operatorname{diag}(\lambda)V^T.

How the eigen-decomposition is done, vectorized over voxels in chunks of
:data:`CHUNK` voxels (temporaries stay a few MB whatever the volume):

* float32 input, ``n <= 3``: closed form in float64. Eigenvalues by the
  trigonometric formula (Smith 1961; Cardano for 2x2); the spectral map is then
  applied without a full eigenbasis, as
  :math:`R = \mu_a vv^T + \mu_b (I - vv^T) + s\,(M - \lambda_a vv^T - \lambda_b(I - vv^T))`
  with :math:`v` the eigenvector of the most isolated eigenvalue
  :math:`\lambda_a` (a cross product of two rows of :math:`M - \lambda_a I`),
  :math:`(\lambda_b, \lambda_c)` the other two and
  :math:`s = (\mu_b - \mu_c)/(\lambda_b - \lambda_c) \in [0, 1]` (the proxes
  and projections here preserve the order of eigenvalues and are
  non-expansive, so the divided difference is bounded and clipped to [0, 1]).
  This is stable for repeated eigenvalues (flat regions have ``M = 0``) and about
  10x faster than a batched LAPACK ``eigh`` of 3x3 matrices, whose per-matrix
  overhead dominates. Eigenvalues carry a relative error up to about 1e-8 near
  a double eigenvalue (the arccos), far below float32's resolution.
* float64 input or ``n > 3``: ``xp.linalg.eigh`` on ``(chunk, n, n)`` arrays
  (machine precision).

The Schatten-1 prox and its conjugate's (the soft threshold and the clip of the
eigenvalues) of float32 3x3 stacks on the host run the same closed form as one
fused numba loop (:func:`deconvkit.backend._kernels.schatten3_map`): one pass
over the stack instead of some forty vectorized passes over chunks: 0.25 s
instead of 1.35 s for a 64x192x192 stack on 2 cores, with the same result to
the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from ..backend import namespace
from ..backend._kernels import schatten3_map, schatten3_norm

from ._base import Cost
from ._norms import _check_stacked, component_norms, group_soft_threshold

__all__ = ["SchattenNorm", "matrix_size", "project_l1_ball"]

#: Voxels per chunk of the eigen-decompositions.
CHUNK = 1 << 16

_ROOT2 = math.sqrt(2.0)


def matrix_size(k: int) -> int:
    """``n`` such that ``k = n(n + 1)/2`` components hold a symmetric ``n x n`` matrix."""
    n = round((math.sqrt(8 * k + 1) - 1) / 2)
    if n * (n + 1) // 2 != k:
        raise ValueError(
            f"a stack of {k} components is not the upper triangle of a symmetric matrix "
            "(k = n(n+1)/2: 1, 3, 6, 10...): SchattenNorm takes Hessian(shape) stacks"
        )
    return n


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i, n)]


def project_l1_ball(values: Any, radius: float) -> Any:
    r"""Project each row of ``values`` (shape ``(m, n)``) onto :math:`\{\|\lambda\|_1 \le r\}`.

    Sort-based (Duchi et al. 2008), vectorized over rows:
    :math:`\theta = \max(0, (\sum_{j\le\rho} u_j - r)/\rho)` with ``u`` the sorted
    magnitudes, then :math:`\operatorname{sign}(\lambda)\max(|\lambda| - \theta, 0)`.
    """
    xp = namespace(values)
    magnitude = xp.abs(values)
    ordered = -xp.sort(-magnitude, axis=1)
    cumulative = xp.cumsum(ordered, axis=1)
    count = xp.arange(1, values.shape[1] + 1, dtype=values.dtype)
    active = ordered * count > cumulative - radius
    rho = xp.sum(active, axis=1)  # >= 1 whenever radius > 0
    total = xp.take_along_axis(cumulative, (rho - 1)[:, None], axis=1)[:, 0]
    theta = xp.maximum((total - radius) / rho, 0)
    magnitude -= theta[:, None]
    xp.maximum(magnitude, 0, out=magnitude)
    return xp.copysign(magnitude, values, out=magnitude)


def _soft_threshold(values: Any, tau: float) -> Any:
    xp = namespace(values)
    out = xp.abs(values) - tau
    xp.maximum(out, 0, out=out)
    return xp.copysign(out, values, out=out)


# -- spectral maps on stacks -------------------------------------------------------
Spectral = Callable[[Any], Any]  # eigenvalues (m, n) -> new eigenvalues (m, n)


def _eigenvalues_closed_form(block: Any, n: int) -> list[Any]:
    """Eigenvalues, in decreasing order, of 1x1, 2x2 or 3x3 stacked matrices (float64 arrays)."""
    xp = namespace(block)
    if n == 1:
        return [block[0]]
    if n == 2:
        a, o, c = block[0], block[1] / _ROOT2, block[2]
        mean = 0.5 * (a + c)
        radius = xp.hypot(0.5 * (a - c), o)
        return [mean + radius, mean - radius]
    a00, a11, a22 = block[0], block[3], block[5]
    o01, o02, o12 = block[1] / _ROOT2, block[2] / _ROOT2, block[4] / _ROOT2
    q = (a00 + a11 + a22) / 3.0
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    off = o01 * o01 + o02 * o02 + o12 * o12
    p = xp.sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * off) / 6.0)
    det = b00 * (b11 * b22 - o12 * o12) - o01 * (o01 * b22 - o12 * o02) + o02 * (o01 * o12 - b11 * o02)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = xp.where(p > 0, det / (2.0 * p**3), 0.0)
    phi = xp.arccos(xp.clip(r, -1.0, 1.0)) / 3.0
    first = q + 2.0 * p * xp.cos(phi)
    last = q + 2.0 * p * xp.cos(phi + 2.0 * math.pi / 3.0)
    return [first, 3.0 * q - first - last, last]


def _apply_closed_form(block: Any, n: int, spectral: Spectral) -> Any:
    """The spectral map of stacked 1x1/2x2/3x3 matrices, ``block`` a float64 ``(k, m)`` array."""
    xp = namespace(block)
    lam = _eigenvalues_closed_form(block, n)
    mu = spectral(xp.stack(lam, axis=1))
    mu = [mu[:, i] for i in range(n)]
    if n == 1:
        return mu[0][None]

    def slope(lb, lc, mb, mc):
        gap = lb - lc
        with np.errstate(divide="ignore", invalid="ignore"):
            s = xp.where(gap != 0, (mb - mc) / gap, 0.0)
        return xp.clip(s, 0.0, 1.0)

    out = xp.empty_like(block)
    if n == 2:
        s = slope(lam[0], lam[1], mu[0], mu[1])
        shift = mu[1] - s * lam[1]  # R = shift I + s M
        out[0] = shift + s * block[0]
        out[1] = s * block[1]
        out[2] = shift + s * block[2]
        return out
    # n == 3: isolate the eigenvalue farther from the middle one
    top = (lam[0] - lam[1]) >= (lam[1] - lam[2])
    la, ma = xp.where(top, lam[0], lam[2]), xp.where(top, mu[0], mu[2])
    lc, mc = xp.where(top, lam[2], lam[0]), xp.where(top, mu[2], mu[0])
    lb, mb = lam[1], mu[1]
    s = slope(lb, lc, mb, mc)
    # eigenvector of la: the largest cross product of two rows of M - la I
    c00, c11, c22 = block[0] - la, block[3] - la, block[5] - la
    o01, o02, o12 = block[1] / _ROOT2, block[2] / _ROOT2, block[4] / _ROOT2
    rows = [(c00, o01, o02), (o01, c11, o12), (o02, o12, c22)]
    best = None
    for i, j in ((0, 1), (0, 2), (1, 2)):
        (x0, x1, x2), (y0, y1, y2) = rows[i], rows[j]
        cross = (x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0)
        size = cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]
        if best is None:
            best, best_size = list(cross), size
        else:
            better = size > best_size
            best = [xp.where(better, c, b) for c, b in zip(cross, best)]
            best_size = xp.where(better, size, best_size)
    degenerate = best_size == 0  # M = la I: any unit vector will do
    norm = xp.sqrt(xp.where(degenerate, 1.0, best_size))
    v = [best[0] / norm, best[1] / norm, best[2] / norm]
    v[0] = xp.where(degenerate, 1.0, v[0])
    # R = alpha v vᵀ + beta I + s M
    alpha = ma - mb - s * (la - lb)
    beta = mb - s * lb
    for c, (i, j) in enumerate(_pairs(3)):
        if i == j:
            out[c] = alpha * v[i] * v[i] + beta + s * block[c]
        else:
            out[c] = _ROOT2 * alpha * v[i] * v[j] + s * block[c]
    return out


def _to_matrices(block: Any, n: int) -> Any:
    xp = namespace(block)
    matrices = xp.empty((block.shape[1], n, n), dtype=block.dtype)
    for c, (i, j) in enumerate(_pairs(n)):
        if i == j:
            matrices[:, i, i] = block[c]
        else:
            matrices[:, i, j] = block[c] / block.dtype.type(_ROOT2)
            matrices[:, j, i] = matrices[:, i, j]
    return matrices


def _apply_eigh(block: Any, n: int, spectral: Spectral) -> Any:
    """The spectral map by LAPACK ``eigh`` on ``(m, n, n)`` matrices (any n, block's dtype)."""
    xp = namespace(block)
    lam, vectors = xp.linalg.eigh(_to_matrices(block, n))
    mu = spectral(lam).astype(block.dtype, copy=False)
    result = (vectors * mu[:, None, :]) @ xp.swapaxes(vectors, 1, 2)
    out = xp.empty_like(block)
    for c, (i, j) in enumerate(_pairs(n)):
        out[c] = result[:, i, i] if i == j else result[:, i, j] * block.dtype.type(_ROOT2)
    return out


def _closed_form(z: Any, n: int) -> bool:
    return n <= 3 and z.dtype == np.float32


def spectral_map(z: Any, spectral: Spectral, closed_form: bool | None = None) -> Any:
    """Apply a spectral map (eigenvalues -> new eigenvalues) to every matrix of a stack.

    Parameters
    ----------
    z : array of shape ``(k, *shape)``
        Stacked symmetric matrices (Hessian convention).
    spectral : callable
        Maps eigenvalues ``(m, n)`` to new eigenvalues, preserving their order.
    closed_form : bool, optional
        Force the closed form (``n <= 3``) or ``eigh``; by default the closed form
        for float32 input and ``eigh`` for float64.
    """
    xp = namespace(z)
    n = matrix_size(z.shape[0])
    use_closed = _closed_form(z, n) if closed_form is None else closed_form and n <= 3
    flat = z.reshape(z.shape[0], -1)
    out = xp.empty(flat.shape, dtype=z.dtype)
    for start in range(0, flat.shape[1], CHUNK):
        block = flat[:, start : start + CHUNK]
        if use_closed:
            out[:, start : start + CHUNK] = _apply_closed_form(block.astype(xp.float64), n, spectral)
        else:
            out[:, start : start + CHUNK] = _apply_eigh(block, n, spectral)
    return out.reshape(z.shape)


def eigenvalues(z: Any, closed_form: bool | None = None) -> Any:
    """Eigenvalues of every matrix of a stack, shape ``(N, n)`` (float64 when in closed form)."""
    xp = namespace(z)
    n = matrix_size(z.shape[0])
    use_closed = _closed_form(z, n) if closed_form is None else closed_form and n <= 3
    flat = z.reshape(z.shape[0], -1)
    parts = []
    for start in range(0, flat.shape[1], CHUNK):
        block = flat[:, start : start + CHUNK]
        if use_closed:
            parts.append(xp.stack(_eigenvalues_closed_form(block.astype(xp.float64), n), axis=1))
        else:
            parts.append(xp.linalg.eigvalsh(_to_matrices(block, n)))
    return xp.concatenate(parts, axis=0)


def _order(p: Any) -> float:
    if isinstance(p, str) and p.strip().lower() in ("inf", "infinity"):
        return math.inf
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = None
    if value not in (1.0, 2.0, math.inf):
        raise ValueError(
            f"SchattenNorm supports p = 1 (nuclear), 2 (Frobenius) or inf (spectral), got p={p!r}"
        )
    return value


def _checksum(z: Any) -> float:
    xp = namespace(z)
    return float(xp.sum(z, dtype=xp.float64))


class SchattenNorm(Cost):
    r"""Sum over voxels of the Schatten ``p``-norm of stacked symmetric matrices.

    .. math:: f(z) = \sum_n \|M_n\|_{S_p} = \sum_n \|\lambda(M_n)\|_p, \qquad p \in \{1, 2, \infty\},

    for a stack ``z`` of shape ``(k, *shape)``, ``k = n(n+1)/2``, in the
    :class:`~deconvkit.operators.Hessian` convention (see the module notes).
    ``SchattenNorm(1) @ Hessian(shape)`` is the Hessian–Schatten regularizer
    (:func:`~deconvkit.costs.HessianSchatten`).

    .. math:: \operatorname{prox}_{\tau f}(M) = V\operatorname{diag}\big(\operatorname{prox}_{\tau\|\cdot\|_p}(\lambda)\big)V^T

    with the soft threshold :math:`\operatorname{sign}(\lambda)\max(|\lambda| - \tau, 0)`
    for ``p = 1``, the group soft threshold for ``p = 2`` (the Frobenius prox,
    applied to the stack directly: no eigen-decomposition), and
    :math:`\lambda - P_{\tau B_1}(\lambda)` (Moreau, projection onto the
    :math:`\ell_1` ball of radius :math:`\tau`) for ``p = inf``. The conjugate's
    prox is the projection onto the dual unit ball, :math:`S_q` with
    :math:`1/p + 1/q = 1`: eigenvalues clipped to ``[-1, 1]`` (``p = 1``), the
    stack divided by :math:`\max(|z_n|, 1)` (``p = 2``), eigenvalues projected
    onto the :math:`\ell_1` unit ball (``p = inf``), whatever ``sigma``.

    Parameters
    ----------
    p : {1, 2, inf}
        Schatten order (``"inf"`` is accepted); any other value is a ValueError.
    """

    proximable = True

    def __init__(self, p: Any = 1) -> None:
        super().__init__()
        self.p = _order(p)

    def _check(self, z: Any) -> None:
        super()._check(z)
        _check_stacked(self, z)
        matrix_size(z.shape[0])

    def _value(self, z: Any) -> float:
        xp = namespace(z)
        last = getattr(self, "_last_prox", None)
        if last is not None and last[0] is z and last[1] == _checksum(z):
            return last[2]  # z is the unchanged output of the last prox
        if self.p == 2:
            return float(xp.sum(component_norms(z), dtype=xp.float64))
        if self.p == 1:
            fused = schatten3_norm(z)
            if fused is not None:
                return fused
        lam = xp.abs(eigenvalues(z))
        per_voxel = xp.sum(lam, axis=1) if self.p == 1 else xp.max(lam, axis=1)
        return float(xp.sum(per_voxel, dtype=xp.float64))

    def _prox(self, z: Any, tau: float) -> Any:
        xp = namespace(z)
        if self.p == 2:  # the Frobenius norm: the vectors' norm, weighted components
            return group_soft_threshold(z, tau)
        if self.p == 1:
            fused = schatten3_map(z, "soft", tau)
            if fused is not None:
                self._last_prox = (fused[0], _checksum(fused[0]), fused[1])
                return fused[0]
        total = [0.0]  # the norm of the result, from its eigenvalues, for free

        def spectral(lam: Any) -> Any:
            mu = _soft_threshold(lam, tau) if self.p == 1 else lam - project_l1_ball(lam, tau)
            size = xp.abs(mu)
            per_voxel = xp.sum(size, axis=1) if self.p == 1 else xp.max(size, axis=1)
            total[0] += float(xp.sum(per_voxel, dtype=xp.float64))
            return mu

        out = spectral_map(z, spectral)
        # Solvers often ask f(prox) next (ADMM's objective): keep the value, with a
        # checksum so that an output changed in place is evaluated afresh.
        self._last_prox = (out, _checksum(out), total[0])
        return out

    def _prox_conjugate(self, z: Any, sigma: float) -> Any:
        xp = namespace(z)
        if self.p == 2:
            scale = component_norms(z)
            xp.maximum(scale, z.dtype.type(1), out=scale)
            return xp.divide(z, scale, out=xp.empty_like(z))
        if self.p == 1:
            fused = schatten3_map(z, "clip")
            if fused is not None:
                return fused[0]
            return spectral_map(z, lambda lam: xp.clip(lam, -1.0, 1.0))
        return spectral_map(z, lambda lam: project_l1_ball(lam, 1.0))

    def __repr__(self) -> str:
        return f"SchattenNorm(p={'inf' if self.p == math.inf else int(self.p)})"
