r"""Several views of one object: joint Richardson–Lucy, simultaneous or by ordered subsets.

Views :math:`v = 1..V`, each an image :math:`y_v` with its PSF :math:`h_v`
(blur :math:`H_v`), background :math:`b_v`, weight :math:`w_v` and crop
:math:`S_v` of the camera's field, share one object :math:`x` on one extended
domain:

.. math:: \min_{x \ge 0}\; \sum_v w_v\, \mathrm{KL}\big(y_v \,\|\, S_v H_v x + b_v\big)

:func:`build_views` turns lists of images and PSFs into those data terms (and
checks them); :class:`MultiViewRichardsonLucy` minimizes their sum; ADMM takes
the same list (``ADMM(views.data + [tv, NonNegative()])``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..backend import complex_dtype, irfftn, kernels, namespace, rfftn
from ..costs import Cost, NonNegative, PoissonLikelihood, ScaledCost
from ..operators import Blur, Crop, Product, fast_shape
from ._engine import Solver
from ._richardson_lucy import ACCELERATIONS, _is_poisson, momentum_weight
from ._terms import apply, apply_adjoint, common_shape, split_terms

__all__ = ["MultiViewRichardsonLucy", "Views", "build_views"]

#: Forward models kept from the objective for the next iteration, at most this many bytes.
CACHE_BYTES = 256 * 2**20


# -- the views ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Views:
    """Views of one object on one extended domain, as data terms for a solver.

    Attributes
    ----------
    data : list of Cost
        One term per view, ``w_v * PoissonLikelihood(y_v, background=b_v) @ (S_v @ H_v)``
        (``w_v`` left out when 1; ``S_v`` left out for a periodic view).
    shape : tuple of int
        The object's domain: the field plus a PSF-sized margin, at fast FFT sizes.
    field_shape : tuple of int
        The union of the views' fields (every view when they share one shape).
    field : tuple of slice
        Where the field lies in the domain (centred): ``x[views.field]``.
    offsets : tuple of tuple of int
        Each view's first voxel in the field.
    """

    data: list
    shape: tuple
    field_shape: tuple
    field: tuple
    offsets: tuple

    def crop(self, x: Any) -> Any:
        """The estimate on the field: ``x[self.field]``."""
        return x[self.field]

    def __len__(self) -> int:
        return len(self.data)


def _as_list(arrays: Any, ndim: int | None, what: str) -> list:
    if isinstance(arrays, (list, tuple)):
        return list(arrays)
    array = np.asarray(arrays) if not hasattr(arrays, "ndim") else arrays
    if ndim is not None and array.ndim == ndim + 1:
        return [array[i] for i in range(array.shape[0])]
    if what == "views" and array.ndim == 4:
        return [array[i] for i in range(array.shape[0])]
    raise TypeError(
        f"give the {what} as a list of arrays or one (V, Z, Y, X) stack, got {type(arrays).__name__}"
    )


def _per_view(value: Any, n: int, what: str) -> list:
    """A value for every view, or one list entry per view."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{len(value)} {what} for {n} views: give one per view, or one for all"
            )
        return list(value)
    return [value] * n


def _check_view(y: Any, i: int) -> Any:
    xp = namespace(y)
    y = xp.asarray(y)
    if y.dtype.kind not in "fc":
        y = y.astype(np.float32)
    if bool(xp.any(xp.isnan(y))):
        raise ValueError(f"view {i} contains NaN values: replace them (e.g. np.nan_to_num) first")
    return y


def _check_psf(h: Any, i: int, ndim: int, normalize: bool) -> Any:
    xp = namespace(h)
    h = xp.asarray(h)
    if h.ndim != ndim:
        raise ValueError(
            f"PSF {i} has {h.ndim} axes but the views have {ndim}: give one axis per image axis"
        )
    if not bool(xp.all(xp.isfinite(h))):
        raise ValueError(f"PSF {i} contains NaN or infinite values")
    h = h.astype(np.float64 if h.dtype == np.float64 else np.float32)
    total = float(xp.sum(h, dtype=np.float64))
    if total <= 0 or float(xp.min(h)) < -1e-3 * float(xp.max(h)):
        raise ValueError(f"PSF {i} must be non-negative with a positive sum (sum {total:.3g})")
    h = xp.clip(h, 0, None)
    return h / h.dtype.type(total) if normalize else h


def build_views(
    images: Any,
    psfs: Any,
    *,
    backgrounds: Any = 0.0,
    offsets: Sequence[Sequence[int]] | None = None,
    spacings: Any = None,
    weights: Sequence[float] | None = None,
    normalize: bool = True,
    boundary: str = "extended",
) -> Views:
    r"""Views (image, PSF, background, weight) of one object, as data terms on one domain.

    .. math:: f(x) = \sum_v w_v\, \mathrm{KL}\big(y_v \,\|\, S_v H_v x + b_v\big)

    The views are assumed registered and of one voxel size (no registration
    is done here). Views of different shapes are placed in a common field by
    ``offsets``; the object's domain is that field plus the largest PSF's
    margin (``field + psf - 1``, rounded up to fast FFT sizes), so light from
    outside each view enters it.

    Parameters
    ----------
    images : list of array, or array (V, Z, Y, X)
        The views, non-negative counts (ZYX or YX), finite.
    psfs : list of array, array (V, Z, Y, X), or one array
        One PSF per view (centre voxel at ``n // 2``), or one PSF for all views.
    backgrounds : float, array, or list of them
        Background per view (a number or a map of the view's shape); one for all.
    offsets : list of tuple of int, optional
        Each view's first voxel in the common field (ZYX). Needed when the
        views' shapes differ; all zero by default.
    spacings : tuple or list of tuple, optional
        Each view's voxel size (µm); checked to agree.
    weights : list of float, optional
        Positive weights :math:`w_v` (1 by default), e.g. to down-weight a noisy view.
    normalize : bool
        Divide each PSF by its sum (default). ``False`` keeps the PSFs'
        relative sums: the fraction of the light each view collects, as
        :func:`deconvkit.psf.airyscan` gives with ``normalize="together"``.
    boundary : {"extended", "periodic"}
        ``"periodic"``: no margin; the views must share one shape, no offsets.

    Returns
    -------
    Views
        ``data`` (the terms, for :class:`MultiViewRichardsonLucy` or ADMM),
        ``shape`` (the domain), ``field``, ``crop(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from deconvkit.solvers import build_views, MultiViewRichardsonLucy
    >>> rng = np.random.default_rng(0)
    >>> views = build_views([rng.poisson(5.0, (8, 16, 16)), rng.poisson(5.0, (8, 16, 16))],
    ...                     [np.ones((3, 3, 3)), np.ones((1, 5, 5))])
    >>> views.shape, views.field_shape
    ((10, 20, 20), (8, 16, 16))
    >>> result = MultiViewRichardsonLucy(views.data).run(max_iter=5)
    >>> views.crop(result.x).shape
    (8, 16, 16)
    """
    images = _as_list(images, None, "views")
    n = len(images)
    if n == 0:
        raise ValueError("build_views needs at least one view")
    images = [_check_view(y, i) for i, y in enumerate(images)]
    ndim = images[0].ndim
    for i, y in enumerate(images):
        if y.ndim != ndim:
            raise ValueError(
                f"view {i} has {y.ndim} axes but view 0 has {ndim}: give views of one dimensionality"
            )
    if hasattr(psfs, "ndim") and psfs.ndim == ndim:
        psfs = [psfs] * n
    psfs = _as_list(psfs, ndim, "PSFs")
    if len(psfs) != n:
        raise ValueError(
            f"{len(psfs)} PSFs for {n} views: give one PSF per view, or one PSF for all"
        )
    psfs = [_check_psf(h, i, ndim, normalize) for i, h in enumerate(psfs)]

    if spacings is not None:
        if len(spacings) and isinstance(spacings[0], numbers.Real):
            spacings = [spacings] * n
        spacings = _per_view(list(spacings), n, "voxel sizes")
        first = np.asarray(spacings[0], dtype=float)
        for i, s in enumerate(spacings):
            s = np.asarray(s, dtype=float)
            if s.shape != first.shape or not np.allclose(s, first, rtol=1e-6, atol=0):
                raise ValueError(
                    f"view {i} has voxel size {tuple(s.tolist())} µm but view 0 has "
                    f"{tuple(first.tolist())} µm: resample the views to one voxel size first"
                )

    shapes = [tuple(int(m) for m in y.shape) for y in images]
    if offsets is None:
        if len(set(shapes)) > 1:
            raise ValueError(
                f"the views have different shapes ({', '.join('x'.join(map(str, s)) for s in shapes)}): "
                "give offsets= (each view's first voxel in the common field) or crop them to one shape"
            )
        offsets = [(0,) * ndim] * n
    if len(offsets) != n:
        raise ValueError(f"{len(offsets)} offsets for {n} views: give one offset per view")
    checked = []
    for i, o in enumerate(offsets):
        o = tuple(int(v) for v in o)
        if len(o) != ndim or any(v < 0 for v in o):
            raise ValueError(
                f"offset {i} must be {ndim} non-negative integers (ZYX voxels), got {o}"
            )
        checked.append(o)
    offsets = checked
    field = tuple(max(o[a] + s[a] for o, s in zip(offsets, shapes)) for a in range(ndim))
    biggest = tuple(max(h.shape[a] for h in psfs) for a in range(ndim))
    if boundary == "extended":
        domain = fast_shape(tuple(f + p - 1 for f, p in zip(field, biggest)))
    elif boundary == "periodic":
        if len(set(shapes)) > 1 or any(any(o) for o in offsets):
            raise ValueError(
                "boundary='periodic' needs views of one shape without offsets: use 'extended'"
            )
        domain = field
    else:
        raise ValueError(f"boundary must be 'extended' or 'periodic', got {boundary!r}")
    margin = tuple((d - f) // 2 for d, f in zip(domain, field))

    backgrounds = _per_view(backgrounds, n, "backgrounds")
    weights = [1.0] * n if weights is None else _per_view(list(weights), n, "weights")
    data = []
    for i, (y, h, b, w, o) in enumerate(zip(images, psfs, backgrounds, weights, offsets)):
        if not isinstance(w, numbers.Real) or not math.isfinite(w) or w <= 0:
            raise ValueError(f"the weight of view {i} must be a positive number, got {w!r}")
        try:
            cost = PoissonLikelihood(y, background=b)
        except ValueError as error:
            raise ValueError(f"view {i}: {error}") from None
        blur = Blur(h, domain)
        if tuple(y.shape) == domain:
            op = blur
        else:
            op = Crop(domain, y.shape, tuple(m + v for m, v in zip(margin, o))) @ blur
        term = cost @ op
        data.append(term if w == 1 else float(w) * term)
    window = tuple(slice(m, m + f) for m, f in zip(margin, field))
    return Views(data, domain, field, window, tuple(offsets))


# -- the solver ----------------------------------------------------------------------------
@dataclass(eq=False)
class _View:
    y: Any
    background: Any
    weight: float
    op: Any
    window: tuple | None  # the crop in the domain (fast path), None for no crop
    otf: Any  # the transfer function (fast path), None: apply the operator


def _groups(subsets: Any, n: int) -> list[list[int]]:
    if isinstance(subsets, numbers.Integral) and not isinstance(subsets, bool):
        if not 1 <= subsets <= n:
            raise ValueError(
                f"subsets must be between 1 and the number of views ({n}), got {subsets}"
            )
        return [list(range(g, n, int(subsets))) for g in range(int(subsets))]
    groups = [[int(v) for v in group] for group in subsets]
    flat = sorted(v for group in groups for v in group)
    if flat != list(range(n)) or any(not group for group in groups):
        raise ValueError(
            f"subsets must be a number of subsets or a partition of the views 0..{n - 1} "
            f"(each view in exactly one non-empty subset), got {subsets!r}"
        )
    return groups


class MultiViewRichardsonLucy(Solver):
    r"""Joint Richardson–Lucy over several views of one object.

    Minimizes :math:`\Phi(x) = \sum_v w_v \mathrm{KL}(y_v \| A_v x + b_v)`
    (plus a smooth regularizer), :math:`A_v = S_v H_v`, over :math:`x \ge 0`.
    The views are split into subsets :math:`G`; one iteration is one pass over
    all the data, a multiplicative update per subset:

    .. math:: x \leftarrow \frac{x}{N_G}\sum_{v \in G} w_v A_v^H
              \frac{y_v}{A_v x + b_v}, \qquad N_G = \sum_{v \in G} w_v A_v^H 1

    ``subsets=1`` (default) is the simultaneous update over all views, the EM
    algorithm of the joint likelihood: :math:`\Phi` decreases at every
    iteration and the iterates converge to a minimizer. ``subsets=V`` is the
    sequential ordered-subsets update (Hudson & Larkin 1994), one view per
    sub-iteration, each with its own Bertero–Boccacci normalization
    :math:`A_v^H 1`: each pass moves about as far as V simultaneous
    iterations early on, but with inconsistent (noisy) data it ends in a
    limit cycle near the minimizer rather than at it. A voxel a subset does
    not see (:math:`N_G` below ``floor`` times its maximum) is left unchanged
    by that subset; one no view sees is kept at 0.

    With a smooth regularizer :math:`R` (the split-gradient rule, as in
    :class:`RichardsonLucy`) each subset's denominator is
    :math:`N_G + \nabla R(x) / n_{subsets}`, kept at least :math:`N_G/10`.

    Cost per pass: one forward and one adjoint FFT per view, plus one pair
    per subset (a view ``Crop @ Blur`` shares the object's spectrum with the
    others; any other operator is applied as it is).

    Parameters
    ----------
    data : list of Cost
        One term per view, ``PoissonLikelihood(y_v, background=b_v) @ A_v``,
        optionally weighted ``w_v * (...)`` (:func:`build_views` makes them).
        A ``NonNegative()`` in the list is accepted (RL keeps x >= 0 anyway).
    subsets : int or list of list of int
        Number of subsets (views ``g, g + n, g + 2n, ...`` form subset ``g``),
        or the subsets themselves; 1: simultaneous; ``len(data)``: one view each.
    regularizer : Cost, optional
        A smooth cost on x, weight included (``0.002 * SmoothedTotalVariation(shape)``).
    acceleration : {None, "biggs-andrews", "momentum"}
        Extrapolation between passes, as in :class:`RichardsonLucy`.
    alpha_max : float
        Cap of the extrapolation weight, in ``[0, 1)``.
    floor : float
        Relative floor of the normalizations (default 1e-3).
    track_objective : bool
        Record :math:`\Phi` (+ the regularizer). Simultaneous plain RL reuses the
        objective's forward models (up to 256 MiB of them) in the next
        iteration; otherwise it costs one forward FFT per view per recorded
        iteration (use ``record_every``).

    Notes
    -----
    Memory: one domain-sized normalization per subset, the views' transfer
    functions (held by their ``Blur``), and a few domain-sized buffers.
    """

    name = "MultiViewRichardsonLucy"
    objective_note = (
        "Σ_v w_v KL(y_v ‖ A_v x + b_v) (+ regularizer), the joint Poisson negative log-likelihood"
    )

    def __init__(
        self,
        data: Any,
        subsets: Any = 1,
        regularizer: Cost | None = None,
        acceleration: str | None = None,
        alpha_max: float = 0.95,
        floor: float = 1e-3,
        track_objective: bool = True,
    ) -> None:
        terms = [t for t in split_terms(data, self.name) if not isinstance(t.cost, NonNegative)]
        if not terms:
            raise ValueError(
                f"{self.name} needs at least one view, PoissonLikelihood(y, background=b) @ A"
            )
        self.shape = common_shape(terms, self.name)
        views = []
        for i, term in enumerate(terms):
            cost, weight = term.cost, 1.0
            if isinstance(cost, ScaledCost):
                cost, weight = cost.cost, cost.scalar
            if not _is_poisson(cost):
                raise TypeError(
                    f"{self.name}: term {i} ({term!r}) is not a view; each view is "
                    "PoissonLikelihood(y_v, background=b_v) @ A_v, optionally weighted w_v * (...): "
                    "pass a smooth regularizer as regularizer=, or use ADMM for other terms"
                )
            if weight <= 0:
                raise ValueError(
                    f"{self.name}: view {i} has weight {weight:g}: drop the view instead"
                )
            views.append((cost, weight, term.op))
        self.dtype = np.finfo(np.result_type(np.float32, *(c.y.dtype for c, _, _ in views))).dtype
        if acceleration not in ACCELERATIONS:
            raise ValueError(f"acceleration must be one of {ACCELERATIONS}, got {acceleration!r}")
        if not 0 <= alpha_max < 1:
            raise ValueError(f"alpha_max must be in [0, 1), got {alpha_max!r}")
        if not 0 <= floor < 1:
            raise ValueError(f"floor must be in [0, 1), got {floor!r}")
        if regularizer is not None:
            if not isinstance(regularizer, Cost) or not regularizer.smooth:
                raise TypeError(
                    f"{self.name}'s regularizer must be a smooth cost (split-gradient rule); "
                    f"{regularizer!r} is not: use SmoothedTotalVariation or Tikhonov, or ADMM"
                )
            if regularizer.shape is not None and tuple(regularizer.shape) != self.shape:
                raise ValueError(
                    f"{self.name}: the regularizer takes {regularizer.shape} but x has shape {self.shape}"
                )
        self.regularizer = regularizer
        self.acceleration, self.alpha_max, self.floor = acceleration, float(alpha_max), float(floor)
        self.tracks_objective = bool(track_objective)
        self.groups = _groups(subsets, len(views))

        xp = namespace(views[0][0].y)
        self._views: list[_View] = []
        norms = []
        for i, (cost, weight, op) in enumerate(views):
            y = xp.asarray(cost.y, dtype=self.dtype)
            b = cost.background
            b = 0.0 if b is None else b
            b = float(b) if np.ndim(b) == 0 else xp.asarray(b, dtype=self.dtype)
            window, otf = self._fast_parts(op)
            self._views.append(_View(y, b, float(weight), op, window, otf))
            ones = xp.ones(op.dimsd if op is not None else self.shape, dtype=self.dtype)
            norm = apply_adjoint(op, ones) if op is not None else ones
            top = float(norm.max())
            if top <= 0 or float(norm.min()) < -1e-3 * top:
                raise ValueError(
                    f"{self.name} needs non-negative operators (non-negative PSFs); Aᴴ1 of view {i} "
                    f"ranges over [{float(norm.min()):.3g}, {top:.3g}]"
                )
            xp.maximum(norm, 0, out=norm)
            norms.append(norm * norm.dtype.type(weight) if weight != 1 else norm)
        total = norms[0].copy()
        for norm in norms[1:]:
            total += norm
        self.observed = total > self.floor * float(total.max())
        self.normalization = xp.where(self.observed, total, 0).astype(self.dtype)
        # per subset: 1/N_G where the subset sees the voxel, 1 where only others do, 0 elsewhere
        self._inverse, self._fill, self._norm_of = [], [], []
        for group in self.groups:
            n_g = norms[group[0]].copy()
            for v in group[1:]:
                n_g += norms[v]
            seen = (n_g > self.floor * float(n_g.max())) & self.observed
            inv = xp.where(self.observed, 1.0, 0.0).astype(self.dtype)
            xp.divide(1.0, n_g, out=inv, where=seen)
            fill = self.observed & ~seen
            self._inverse.append(inv)
            self._fill.append(fill if bool(xp.any(fill)) else None)
            self._norm_of.append((xp.where(seen, n_g, 0).astype(self.dtype), seen))
        del norms, total
        flux = sum(
            v.weight * float(xp.sum(xp.clip(v.y - v.background, 0, None), dtype=np.float64))
            for v in self._views
        )
        weight = float(xp.sum(self.normalization, dtype=np.float64))
        self.flat_level = max(flux / weight, 1e-12) if weight > 0 else 1.0
        field_bytes = sum(int(v.y.size) * v.y.dtype.itemsize for v in self._views)
        self._cache_ok = acceleration is None and field_bytes <= CACHE_BYTES
        self._cache: tuple[Any, dict] | None = None

    def _fast_parts(self, op: Any) -> tuple[tuple | None, Any]:
        """``(window, otf)`` for ``Crop @ circulant`` or a circulant op, ``(None, None)`` otherwise."""
        blur, window = op, None
        if isinstance(op, Product) and isinstance(op.a, Crop):
            blur, window = op.b, op.a.window
        if (
            blur is not None
            and getattr(blur, "is_circulant", False)
            and not getattr(blur, "stacked_in", False)
            and not getattr(blur, "stacked_out", False)
            and tuple(blur.circulant_shape) == self.shape
            and tuple(blur.dims) == self.shape
        ):
            return window, blur.circulant_blocks(complex_dtype(self.dtype))[0, 0]
        return None, None

    # -- pieces -------------------------------------------------------------------------
    def _default_x0(self) -> Any:
        xp = namespace(self._views[0].y)
        return xp.where(self.observed, self.dtype.type(self.flat_level), 0).astype(self.dtype)

    def _axes(self) -> tuple[int, ...]:
        return tuple(range(len(self.shape)))

    def _model(self, view: _View, x: Any, spectrum: Any) -> tuple[Any, Any]:
        """``(A_v x, full)``: the model on the view, and the domain array holding it (fast path)."""
        if view.otf is None:
            return (apply(view.op, x) if view.op is not None else x.copy()), None
        full = irfftn(spectrum * view.otf, self.shape, self._axes())
        return (full[view.window] if view.window is not None else full), full

    def _spectrum(self, x: Any) -> Any:
        return rfftn(x, self._axes()) if any(v.otf is not None for v in self._views) else None

    def _back_project(self, x: Any, group: list[int], cached: dict | None) -> Any:
        r""":math:`\sum_{v \in G} w_v A_v^H (y_v / (A_v x + b_v))`."""
        xp = namespace(x)
        fresh = [
            v
            for v in group
            if self._views[v].otf is not None and (cached is None or v not in cached)
        ]
        spectrum = rfftn(x, self._axes()) if fresh else None
        acc_spectrum = acc_real = None
        for v in group:
            view = self._views[v]
            if cached is not None and v in cached:
                model, full = cached[v], None
                if view.otf is not None and view.window is not None:
                    full = xp.zeros(self.shape, dtype=self.dtype)
                    full[view.window] = model
                    model = full[view.window]
                elif view.otf is not None:
                    full = model
            else:
                model, full = self._model(view, x, spectrum)
            kernels.rl_ratio(view.y, model, view.background)
            if view.weight != 1:
                model *= model.dtype.type(view.weight)
            if view.otf is None:
                part = apply_adjoint(view.op, model) if view.op is not None else model
                acc_real = part if acc_real is None else acc_real.__iadd__(part)
                continue
            if view.window is not None:
                kernels.zero_outside(full, view.window)
            part = kernels.multiply_conjugate(rfftn(full, self._axes()), view.otf)
            acc_spectrum = part if acc_spectrum is None else acc_spectrum.__iadd__(part)
        update = None if acc_spectrum is None else irfftn(acc_spectrum, self.shape, self._axes())
        if acc_real is not None:
            update = acc_real if update is None else update.__iadd__(acc_real)
        return update

    def _subiterate(self, x: Any, g: int, cached: dict | None) -> Any:
        xp = namespace(x)
        update = self._back_project(x, self.groups[g], cached)
        fill = self._fill[g]
        if self.regularizer is None:
            if fill is not None:
                xp.copyto(update, update.dtype.type(1), where=fill)
            kernels.rl_update(x, update, self._inverse[g], update)
            return update
        n_g, seen = self._norm_of[g]
        den = self.regularizer.grad(x)
        den *= den.dtype.type(1.0 / len(self.groups))
        den += n_g
        xp.maximum(den, n_g * den.dtype.type(0.1), out=den)
        xp.maximum(update, 0, out=update)
        xp.divide(update, den, out=update, where=seen)
        update *= seen
        if fill is not None:
            xp.copyto(update, update.dtype.type(1), where=fill)
        update *= x
        return update

    def _pass(self, x: Any, cached: dict | None) -> Any:
        for g in range(len(self.groups)):
            x = self._subiterate(x, g, cached if g == 0 else None)
        return x

    # -- the engine's hooks ---------------------------------------------------------------
    def _start(self, x0: Any) -> Any:
        xp = namespace(x0)
        x0 = xp.clip(x0, 0, None) * self.observed
        self._cache = None
        self._prev = None
        self._g1 = self._g2 = None
        self._alpha = 0.0
        self._k = 0
        self._eps = float(1e-6 * self.flat_level)
        return x0.astype(self.dtype, copy=False)

    def _iterate(self, x: Any) -> Any:
        self._k += 1
        cached = None
        if self._cache is not None and self._cache[0] is x:
            cached = self._cache[1]
        self._cache = None
        if self.acceleration is None:
            return self._pass(x, cached)
        xp = namespace(x)
        alpha = momentum_weight(self.acceleration, self._g1, self._g2, self._k, self.alpha_max)
        point = x
        if alpha > 0.0 and self._prev is not None:
            point = kernels.extrapolate(x, self._prev, alpha, self._eps, xp.empty_like(x))
            point *= self.observed
        x_new = self._pass(point, None)
        if self.acceleration == "biggs-andrews":
            self._g2, self._g1 = self._g1, x_new - point
        self._alpha = alpha
        self._prev = x
        return x_new

    def _objective(self, x: Any) -> float:
        spectrum = self._spectrum(x)
        keep = {} if self._cache_ok else None
        first = set(self.groups[0])
        total = 0.0
        for v, view in enumerate(self._views):
            model, _ = self._model(view, x, spectrum)
            total += view.weight * kernels.kl_divergence(view.y, model, view.background)
            if keep is not None and v in first:
                keep[v] = namespace(model).ascontiguousarray(model)
        if keep is not None:
            self._cache = (x, keep)
        if self.regularizer is not None:
            total += float(self.regularizer(x))
        return total

    def _diagnostics(self) -> dict[str, float]:
        return {"alpha": self._alpha} if self.acceleration else {}

    def __repr__(self) -> str:
        extra = f", subsets={len(self.groups)}" if len(self.groups) > 1 else ""
        if self.acceleration:
            extra += f", acceleration={self.acceleration!r}"
        return f"MultiViewRichardsonLucy({len(self._views)} views on {'x'.join(map(str, self.shape))}{extra})"
