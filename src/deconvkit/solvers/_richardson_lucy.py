r"""Richardson–Lucy: multiplicative EM for the Poisson likelihood, regularized and accelerated.

Two ways to apply the model, one algorithm:

* **the FFT path**, for ``Crop @ Blur`` (the extended domain) and ``Blur``
  (periodic) with any 1x1 circulant kernel: one half-spectrum buffer
  (:class:`deconvkit.backend.RealFFT`) carries the whole iteration — forward
  transform, OTF product, inverse, the ratio :math:`y / (Hx + b)` on the
  field, the zero margin, forward, the conjugate product, inverse — and the
  multiplicative update is one fused pass that also returns the norms of the
  relative change. x is updated in place: an RL iteration allocates nothing;
* **the operator path**, for any other non-negative operator ``A``:
  ``A x`` and ``Aᴴ r`` as the operator applies them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import RealFFT, kernels, namespace
from ..costs import Cost
from ..operators import Circulant, Crop
from ..operators._base import Product
from ._engine import Solver
from ._terms import apply, apply_adjoint, split_terms

__all__ = ["RichardsonLucy"]

ACCELERATIONS = (None, "biggs-andrews", "momentum")


def _is_poisson(cost: Cost) -> bool:
    from .. import costs

    poisson = getattr(costs, "PoissonLikelihood", None)
    if poisson is not None and isinstance(cost, poisson):
        return True
    return type(cost).__name__ == "PoissonLikelihood" and hasattr(cost, "y")


def _single_kernel(op: Any) -> bool:
    return (isinstance(op, Circulant) and not op.stacked_in and not op.stacked_out
            and op.circulant_blocks(keep=False).shape[:2] == (1, 1))


def fft_model(op: Any) -> tuple[tuple[slice, ...] | None, Circulant] | None:
    """``(window, kernel)`` when ``op`` is ``Crop @ kernel`` or a kernel alone, else None."""
    if _single_kernel(op):
        return None, op
    if isinstance(op, Product) and isinstance(op.a, Crop) and _single_kernel(op.b):
        return op.a.window, op.b
    return None


def momentum_weight(acceleration: str, g1: Any, g2: Any, k: int, alpha_max: float) -> float:
    r"""The extrapolation weight :math:`\alpha_k \in [0, \alpha_{\max}]` of accelerated RL.

    ``"biggs-andrews"``: :math:`\alpha = \langle g_1, g_2\rangle / \langle g_2, g_2\rangle`
    from the last two changes ``g1``, ``g2`` (0 until there are two); otherwise
    Nesterov's :math:`(k - 1)/(k + 2)`.
    """
    if acceleration == "biggs-andrews":
        if g2 is None:
            return 0.0
        xp = namespace(g2)
        alpha = 0.0
        denominator = float(xp.vdot(g2.ravel(), g2.ravel()).real)
        if denominator > 0:
            alpha = float(xp.vdot(g1.ravel(), g2.ravel()).real) / denominator
        return min(max(alpha, 0.0), alpha_max)
    return min(max((k - 1.0) / (k + 2.0), 0.0), alpha_max)


class RichardsonLucy(Solver):
    r"""Richardson–Lucy for :math:`y \sim \mathrm{Poisson}(Ax + b)`, A non-negative.

    .. math:: x_{k+1} = \frac{x_k}{A^H 1 + \lambda\nabla R(x_k)}\;
              A^H\!\left(\frac{y}{A x_k + b}\right)

    The normalization by :math:`A^H 1` (Bertero & Boccacci 2005) makes the
    extended-domain model ``Crop @ Blur`` work: where :math:`A^H 1` is below
    ``floor`` times its maximum the voxel is unobserved and x is kept at 0.
    A smooth regularizer enters by the split-gradient rule (Dey et al. 2006,
    RL-TV; RL-Tikhonov likewise); the denominator is kept at least
    ``A^H 1 / 10`` so one iteration multiplies a voxel by at most 10.
    Each iteration costs one ``A`` and one ``Aᴴ`` (two FFT pairs for a blur).

    An *unmatched back projector* :math:`B` may replace :math:`H^H` (Guo et al.,
    Nat. Biotechnol. 2020): :math:`x_{k+1} = x_k\, B S^H(y / (SHx_k + b)) / B S^H 1`;
    a back projector with a wider pass band than the OTF's conjugate reaches the
    same image in a few iterations. It is compact, so on the extended domain it
    does not reach the margin's voxels that only the PSF's tails see
    (:math:`B S^H 1` below ``back_projector_floor`` of its maximum, or negative
    where it rings at the field's edge); those take the matched update
    :math:`H^H S^H(\cdot) / H^H S^H 1` (:attr:`matched_region`), which costs one
    more inverse FFT per iteration. Freezing them at 0 instead, as the
    back-projector papers' periodic setting never needs to, leaves their
    out-of-focus light unexplained in the field: on a 32x128x128 widefield case
    rl-wb's best NRMSE was 0.506 with them frozen and 0.440 with the matched
    update, against rl-accelerated's 0.437 (``python benchmarks/bench_wb_margin.py``).

    Parameters
    ----------
    data : Cost
        ``PoissonLikelihood(y, background=b) @ A``.
    regularizer : Cost, optional
        A smooth cost on x including its weight, e.g.
        ``0.002 * SmoothedTotalVariation(shape)`` or ``1e-3 * Tikhonov(Laplacian(shape))``.
    acceleration : {None, "biggs-andrews", "momentum"}
        ``"biggs-andrews"``: vector extrapolation (Biggs & Andrews 1997),
        :math:`y_k = x_k + \alpha_k (x_k - x_{k-1})` with
        :math:`\alpha_k = \langle g_{k-1}, g_{k-2}\rangle / \langle g_{k-2}, g_{k-2}\rangle`
        clipped to ``[0, alpha_max]``, :math:`g_k = x_{k+1} - y_k`;
        ``"momentum"``: the scaled heavy ball of deconwolf (Wang & Miller 2014;
        Wernersson et al. 2024), :math:`\alpha_k = (k-1)/(k+2)` capped at ``alpha_max``.
        Both take the RL step at the extrapolated point, clipped to a tiny
        positive floor (zero is absorbing for multiplicative updates).
    alpha_max : float
        Cap of the extrapolation weight, in ``[0, 1)`` (default 0.95).
    floor : float
        Relative floor of :math:`A^H 1` (default 1e-3): below it a voxel is
        unobserved and kept at 0.
    track_objective : bool
        Record the negative log-likelihood (plus the regularizer): every
        ``objective_every`` recorded rows of :meth:`run` (10 by default: the
        log costs about a quarter of an iteration) and at the last. On the FFT
        path plain RL's next iteration reuses the model computed for it; with
        an acceleration it costs one extra ``A`` when recorded.
    back_projector : Circulant, optional
        A kernel on the object's domain that replaces the blur's adjoint in the
        update (see above; :func:`deconvkit.operators.wiener_butterworth`). Needs
        the FFT path (``Crop @ Blur`` or ``Blur``).
    start_level : float, optional
        The flat start's value in the observed voxels; by default the data's
        mean above the background (``flux / Σ AᴴI``). A plan passes the whole
        image's, so tiles start alike.
    """

    name = "RichardsonLucy"
    #: The default ``floor``; and the relative level of ``B S^H 1`` below which a back
    #: projector's voxel takes the matched update instead (0.02, 0.05 and 0.1 gave best
    #: NRMSEs within 0.4 % of each other, 0.3 was 32 % worse: it gives the matched update
    #: to voxels inside the field; ``benchmarks/bench_wb_margin.py`` measures it).
    floor_default = 1e-3
    back_projector_floor = 0.02
    objective_note = "the Poisson negative log-likelihood (as the data cost defines it) + regularizer"
    default_objective_every = 10

    def __init__(self, data: Cost, regularizer: Cost | None = None,
                 acceleration: str | None = None, alpha_max: float = 0.95,
                 floor: float | None = None, track_objective: bool = True,
                 back_projector: Any = None, start_level: float | None = None) -> None:
        terms = split_terms(data, self.name)
        if len(terms) != 1:
            raise TypeError(
                "RichardsonLucy takes one data term, PoissonLikelihood(y, background=b) @ A, "
                "and an optional smooth regularizer=; for several views use "
                "MultiViewRichardsonLucy, for several terms ADMM"
            )
        term = terms[0]
        cost, op = term.cost, term.op
        if not _is_poisson(cost):
            raise TypeError(
                f"RichardsonLucy needs PoissonLikelihood(y, background=b) @ A as data, got {data!r}: "
                "for least squares use ProjectedGradient / FISTA with NonNegative(), or ADMM"
            )
        if acceleration not in ACCELERATIONS:
            raise ValueError(f"acceleration must be one of {ACCELERATIONS}, got {acceleration!r}")
        if not 0 <= alpha_max < 1:
            raise ValueError(f"alpha_max must be in [0, 1), got {alpha_max!r}")
        if floor is None:
            floor = self.floor_default
        if not 0 <= floor < 1:
            raise ValueError(f"floor must be in [0, 1), got {floor!r}")
        self.data, self.poisson, self.op = data, cost, op
        self.acceleration, self.alpha_max, self.floor = acceleration, float(alpha_max), float(floor)
        self.tracks_objective = bool(track_objective)
        y = cost.y
        self.shape = tuple(op.dims) if op is not None else tuple(y.shape)
        self.dtype = np.finfo(np.result_type(np.float32, y.dtype)).dtype
        xp = namespace(y)
        self.y = y.astype(self.dtype, copy=False)
        self._like = self.y
        background = getattr(cost, "background", 0.0)
        background = 0.0 if background is None else background
        self.background = (float(background) if np.ndim(background) == 0
                           else xp.asarray(background).astype(self.dtype, copy=False))
        if regularizer is not None:
            if isinstance(regularizer, Cost) and not regularizer.smooth:
                raise TypeError(
                    f"RichardsonLucy's regularizer must be smooth (split-gradient rule); {regularizer!r} "
                    "is not: use SmoothedTotalVariation for RL-TV or Tikhonov for RL-Tikhonov, "
                    "or ADMM for TotalVariation / HessianSchatten"
                )
            reg_shape = getattr(regularizer, "shape", None)
            if reg_shape is not None and tuple(reg_shape) != self.shape:
                raise ValueError(
                    f"RichardsonLucy: the regularizer takes {reg_shape} but x has shape {self.shape}"
                )
        self.regularizer = regularizer
        self._fft_model = fft_model(op) if op is not None else None
        if back_projector is not None:
            if self._fft_model is None or not _single_kernel(back_projector) or \
                    tuple(back_projector.dims) != self.shape:
                raise TypeError(
                    "RichardsonLucy's back_projector must be a kernel (Circulant) on the object's "
                    f"domain {self.shape}, with a Crop @ Blur or Blur model; got "
                    f"{back_projector!r} for {op!r}")
        self.back_projector = back_projector
        self._matched_region = None  # where an unmatched back projector gives way to Aᴴ
        if self._fft_model is not None:
            window, kernel = self._fft_model
            self._window = window
            self._otf = kernel.circulant_blocks(self.dtype, like=self.y)[0, 0]
            self._fft = RealFFT(self.shape, self.dtype, like=self.y)
            self._back_otf = None
        # the normalization Aᴴ1 (and Bᴴ1), once; every step in place on one array
        ones = xp.ones(op.dimsd if op is not None else self.shape, dtype=self.dtype)
        back_norm = None
        if back_projector is not None:
            # Aᴴ1 and Bᴴ1 from one forward transform of Sᴴ1, in two buffers
            self._back_otf = back_projector.circulant_blocks(self.dtype, like=self.y)[0, 0]
            self._spare = RealFFT(self.shape, self.dtype, like=self.y)
            norm, back_norm = self._back_pair(self._transformed(ones))
            norm = norm.copy()  # the buffer is reused
        elif op is None:
            norm = ones
        else:
            norm = self._back(ones)
            norm = norm.copy() if self._fft_model is not None else norm
        del ones
        norm = norm.astype(self.dtype, copy=False)
        top = float(xp.max(norm))
        if top <= 0 or float(xp.min(norm)) < -1e-3 * top:
            raise ValueError(
                f"RichardsonLucy needs a non-negative operator A (a non-negative PSF); Aᴴ1 of {op!r} "
                f"ranges over [{float(xp.min(norm)):.3g}, {top:.3g}]"
            )
        observed = norm > self.floor * top
        if back_norm is not None:
            # Bᴴ1 where the back projector reaches (it rings below 0 at the field's edge);
            # the margin's voxels beyond keep Aᴴ's update, not frozen at 0
            reach = back_norm > self.back_projector_floor * float(xp.max(back_norm))
            matched = observed & ~reach
            if bool(xp.any(matched)):
                self._matched_region = matched
            else:
                self._spare = None
            kernels.copy_where(norm, back_norm, reach)
            observed |= reach
            del back_norm, reach, matched
        norm *= observed  # the normalization: 0 where no light reaches the data
        weight = float(xp.sum(norm, dtype=np.float64))  # Σ Bᴴ1 where observed
        self.normalization = norm.copy() if regularizer is not None else None
        norm += ~observed  # then 1 / norm where observed, 0 elsewhere, in the same array
        xp.divide(self.dtype.type(1), norm, out=norm)
        norm *= observed
        self.inverse_normalization = norm
        del norm, observed
        if start_level is None:
            above = self.y - (self.background if np.ndim(self.background) else
                              self.dtype.type(self.background))
            flux = float(xp.sum(xp.maximum(above, 0), dtype=np.float64))
            start_level = flux / weight if weight > 0 else 1.0
        self.flat_level = max(float(start_level), 1e-12)

    @property
    def observed(self) -> Any:
        """The voxels whose light reaches the data (``Aᴴ1`` above the floor, or within the
        back projector's reach), a boolean array."""
        return self.inverse_normalization > 0

    @property
    def matched_region(self) -> Any:
        r"""With a back projector: the observed voxels it does not reach, which take the
        matched update :math:`A^H(\cdot) / A^H 1` (a boolean array), or None where it
        reaches them all (a periodic model, or one without a margin)."""
        return self._matched_region

    #: x is updated in its own memory (and the extrapolation's, when accelerated): the
    #: loop cannot hand back an earlier iterate, and RL's non-negative multiplicative
    #: update, with the data checked, does not diverge.
    updates_in_place = True

    # -- the model and its back projection ---------------------------------------------
    def _model(self, x: Any) -> Any:
        """``A x`` on the data's space: a view of the FFT buffer on the FFT path."""
        if self._fft_model is None:
            return apply(self.op, x) if self.op is not None else x.copy()
        spectrum = self._fft.forward(x)
        spectrum *= self._otf
        self._domain = self._fft.inverse()
        self._view = self._domain if self._window is None else self._domain[self._window]
        return self._view

    def _back(self, ratio: Any) -> Any:
        """``Bᴴ ratio`` (``Aᴴ``, or the back projector): a view of the FFT buffer on the FFT path.

        On the FFT path, ``ratio`` is best the view :meth:`_model` returned (then
        it is transformed where it lies); any other array of the data's shape is
        first copied into the buffer.
        """
        if self._fft_model is None:
            return apply_adjoint(self.op, ratio) if self.op is not None else ratio
        spectrum = self._transformed(ratio)
        if self._back_otf is None:
            kernels.multiply_conjugate(spectrum, self._otf)
            return self._fft.inverse()
        if self._matched_region is None:
            spectrum *= self._back_otf
            return self._fft.inverse()
        matched, back = self._back_pair(spectrum)
        kernels.copy_where(back, matched, self._matched_region)
        return back

    def _transformed(self, ratio: Any) -> Any:
        """The half spectrum of ``Sᴴ ratio`` in the first FFT buffer."""
        if ratio is getattr(self, "_view", None):
            domain = self._domain
        elif self._window is None:
            domain = ratio
        else:
            domain = self._fft.real if self._fft.real is not None else \
                namespace(ratio).empty(self.shape, dtype=self.dtype)
            domain[self._window] = ratio
        if self._window is not None:
            kernels.zero_outside(domain, self._window)
        self._view = self._domain = None
        return self._fft.forward(domain)

    def _back_pair(self, spectrum: Any) -> tuple[Any, Any]:
        """``(Aᴴ ratio, B ratio)`` from ``ratio``'s half spectrum in the first FFT buffer:
        views of the two buffers, one forward transform for both."""
        kernels.split_multiply(spectrum, self._back_otf, self._otf, self._spare.spectrum)
        return self._fft.inverse(), self._spare.inverse()

    # -- pieces -------------------------------------------------------------
    def _default_x0(self):
        x0 = (self.inverse_normalization > 0).astype(self.dtype)
        x0 *= self.dtype.type(self.flat_level)
        return x0

    def _start(self, x0):
        xp = namespace(x0)
        # x0 is the engine's own (a copy of the caller's, or the default): clipped in place
        x0 = x0.astype(self.dtype, copy=False)
        xp.maximum(x0, x0.dtype.type(0), out=x0)
        x0 *= self.inverse_normalization > 0
        self._prev = xp.empty_like(x0) if self.acceleration else None
        self._g1 = self._g2 = None
        self._alpha = 0.0
        self._k = 0
        self._model_at = -1  # the iteration whose iterate the FFT buffer holds A x of
        self._eps = self.dtype.type(1e-6 * self.flat_level)
        return x0

    def _step(self, point: Any, out: Any, reference: Any = None) -> None:
        """One RL update from ``point`` into ``out``; sets the change norms against ``reference``."""
        if self._model_at == self._k - 1 and point is self._model_of:
            model = self._cached_model
        else:
            model = self._model(point)
        self._model_at = -1
        kernels.rl_ratio(self.y, model, self.background)
        back = self._back(model)
        if self.regularizer is None:
            self._change = kernels.rl_update(point, back, self.inverse_normalization, out,
                                             reference)
            return
        # the split-gradient rule: 1 / max(Bᴴ1 + λ∇R(x), Bᴴ1 / 10) where observed, 0 elsewhere
        xp = namespace(point)
        back = back.copy() if back is getattr(self._fft, "real", None) else back
        den = self.regularizer.grad(point)
        den += self.normalization
        xp.maximum(den, self.normalization * den.dtype.type(0.1), out=den)
        observed = self.inverse_normalization > 0
        weight = xp.where(observed, den, den.dtype.type(1))
        xp.divide(den.dtype.type(1), weight, out=weight)
        weight *= observed
        del den
        self._change = kernels.rl_update(point, back, weight, out, reference)

    def _iterate(self, x):
        self._k += 1
        if self.acceleration is None:
            self._step(x, x)
            return x
        alpha = momentum_weight(self.acceleration, self._g1, self._g2, self._k, self.alpha_max)
        self._alpha = alpha
        if alpha == 0.0 or self._k == 1:
            self._prev[...] = x
            point, out = self._prev, x  # the step from x itself, into x
            reference = self._prev
        else:
            point = kernels.extrapolate(x, self._prev, alpha, self._eps, out=self._prev)
            out, reference = point, x  # into the extrapolation's buffer, change against x
        if self.acceleration == "biggs-andrews":
            start = point.copy()
            self._step(point, out, reference)
            g = out - start
            self._g2, self._g1 = self._g1, g
        else:
            self._step(point, out, reference)
        if out is not x:
            self._prev = x
        return out

    def _objective(self, x):
        model = self._model(x)
        if self.acceleration is None:
            # the next iteration starts from this A x (x is not changed in between)
            self._cached_model, self._model_of, self._model_at = model, x, self._k
        value = kernels.kl_divergence(self.y, model, self.background)
        if self.regularizer is not None:
            value += float(self.regularizer(x))
        return value

    def _diagnostics(self):
        return {"alpha": self._alpha} if self.acceleration else {}

    def __repr__(self):
        extra = f", acceleration={self.acceleration!r}" if self.acceleration else ""
        return f"RichardsonLucy({self.data!r}{extra})"

