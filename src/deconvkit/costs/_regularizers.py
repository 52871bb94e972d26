r"""Regularizers built from a norm and a differential operator.

``TotalVariation`` (isotropic or anisotropic), its smooth version
``SmoothedTotalVariation`` for gradient-based solvers, and ``HessianSchatten``
(the Schatten norm of the Hessian). Each returns the composition
``norm @ operator``, so its ``repr`` shows what it is and solvers see the
operator (to split it in ADMM or a primal–dual method).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ..backend import namespace

from ..operators import Gradient, Hessian
from ._base import Composition, Cost
from ._norms import L1, MixedNorm21, _check_stacked
from ._schatten import SchattenNorm

__all__ = [
    "HessianSchatten",
    "SmoothedMixedNorm21",
    "SmoothedTotalVariation",
    "TotalVariation",
]


def TotalVariation(
    shape: tuple[int, ...],
    spacing: Any = None,
    isotropic: bool = True,
    boundary: str = "periodic",
) -> Composition:
    r"""Total variation :math:`\mathrm{TV}(x) = \sum_n |\nabla x|_n`, as ``MixedNorm21() @ Gradient``.

    Isotropic: :math:`|\nabla x|_n = (\sum_i (D_i x)_n^2)^{1/2}`
    (``MixedNorm21() @ Gradient(shape, spacing, boundary)``); anisotropic:
    :math:`\sum_i |(D_i x)_n|` (``L1() @ Gradient(...)``). Not smooth and
    without a closed-form prox: give it to ADMM or a primal–dual solver (which
    use the norm's prox and the operator), or use :func:`SmoothedTotalVariation`
    with a gradient-based solver. Weight it as any cost: ``0.002 * TotalVariation(shape)``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the arrays (ZYX).
    spacing : float or tuple of float, optional
        Voxel size per axis (µm); the partials are divided by it.
    isotropic : bool
        Euclidean norm of the gradient per voxel (True) or sum of absolute partials.
    boundary : {"periodic", "neumann"}
        Boundary of the finite differences.
    """
    norm = MixedNorm21() if isotropic else L1()
    return Composition(norm, Gradient(shape, spacing, boundary))


class SmoothedMixedNorm21(Cost):
    r"""Smoothed :math:`\ell_{2,1}` norm of a stack, :math:`f(z) = \sum_n \sqrt{|z_n|^2 + \varepsilon^2}`.

    .. math:: \nabla f(z)_n = \frac{z_n}{\sqrt{|z_n|^2 + \varepsilon^2}}, \qquad
              L_{\nabla f} = 1/\varepsilon

    Smooth, without a closed-form prox (use :class:`~deconvkit.costs.Huber`
    where a prox is needed). Takes arrays of shape ``(k, *shape)``. Note that
    :math:`f(0) = N\varepsilon`, not 0, for ``N`` voxels.

    Parameters
    ----------
    epsilon : float
        Smoothing :math:`\varepsilon > 0`, in the units of ``z`` (intensity per µm for a gradient).
    """

    smooth = True

    def __init__(self, epsilon: float) -> None:
        epsilon = float(epsilon)
        if not np.isfinite(epsilon) or epsilon <= 0:
            raise ValueError(f"epsilon must be a positive number (the smoothing), got {epsilon}")
        super().__init__()
        self.epsilon = epsilon

    def _norms(self, z: Any) -> Any:
        xp = namespace(z)
        squared = xp.multiply(z[0], z[0])
        scratch = xp.empty_like(squared)
        for c in range(1, z.shape[0]):
            squared += xp.multiply(z[c], z[c], out=scratch)
        squared += squared.dtype.type(self.epsilon**2)
        return xp.sqrt(squared, out=squared)

    def _value(self, z: Any) -> float:
        _check_stacked(self, z)
        xp = namespace(z)
        return float(xp.sum(self._norms(z), dtype=xp.float64))

    def _grad(self, z: Any) -> Any:
        _check_stacked(self, z)
        xp = namespace(z)
        return xp.divide(z, self._norms(z), out=xp.empty_like(z))

    def _compute_grad_lipschitz(self) -> float:
        return 1.0 / self.epsilon

    def __repr__(self) -> str:
        return f"SmoothedMixedNorm21(epsilon={self.epsilon:g})"


def SmoothedTotalVariation(
    shape: tuple[int, ...],
    spacing: Any = None,
    epsilon: float = 1e-2,
    boundary: str = "periodic",
) -> Composition:
    r"""Smoothed isotropic TV :math:`\sum_n \sqrt{|\nabla x|_n^2 + \varepsilon^2}`, smooth for gradient solvers.

    ``SmoothedMixedNorm21(epsilon) @ Gradient(shape, spacing, boundary)``:
    gradient :math:`-\operatorname{div}\big(\nabla x / \sqrt{|\nabla x|^2 + \varepsilon^2}\big)`
    with Lipschitz constant :math:`\|\nabla\|^2/\varepsilon` (``grad_lipschitz``),
    the RL-TV regularizer of Dey et al. (2006) made differentiable at flat regions.

    Parameters
    ----------
    shape : tuple of int
        Shape of the arrays (ZYX).
    spacing : float or tuple of float, optional
        Voxel size per axis (µm).
    epsilon : float
        Smoothing, in intensity per µm: below it the penalty is quadratic.
        Smaller is closer to TV but slower to optimize (the Lipschitz constant grows as 1/ε).
    boundary : {"periodic", "neumann"}
        Boundary of the finite differences.
    """
    return Composition(SmoothedMixedNorm21(epsilon), Gradient(shape, spacing, boundary))


def HessianSchatten(
    shape: tuple[int, ...],
    spacing: Any = None,
    p: Any = 1,
    boundary: str = "periodic",
) -> Composition:
    r"""Hessian–Schatten regularizer :math:`\sum_n \|\mathcal{H}x_n\|_{S_p}`, as ``SchattenNorm(p) @ Hessian``.

    :math:`\mathcal{H}x_n` is the symmetric matrix of second partials at
    voxel ``n`` (Lefkimmiatis, Ward & Unser 2013); ``p = 1`` (nuclear norm,
    the usual choice: favours piecewise-linear ridges and filaments),
    ``p = 2`` (Frobenius), ``p = inf`` (spectral). Give it to ADMM or a
    primal–dual solver.

    Parameters
    ----------
    shape : tuple of int
        Shape of the arrays (ZYX).
    spacing : float or tuple of float, optional
        Voxel size per axis (µm).
    p : {1, 2, inf}
        Schatten order.
    boundary : {"periodic", "neumann"}
        Boundary of the finite differences.
    """
    return Composition(SchattenNorm(p), Hessian(shape, spacing, boundary))
