r"""One object seen through several views: the catalogue's methods on the sum of their data terms.

``deconvolve([y1, y2, ...], [h1, h2, ...], method=...)`` (or a ``(V, Z, Y, X)``
stack of views) estimates one object from all views at once,

.. math:: \hat x = \arg\min_{x \ge 0} \sum_v w_v\, \mathrm{KL}(y_v \,\|\, S_v H_v x + b_v)
          \;[+\ \lambda R(x)],

with :func:`deconvkit.solvers.build_views` making the data terms on one
extended domain: ``rl`` and ``rl-accelerated`` by joint Richardson–Lucy
(:class:`deconvkit.solvers.MultiViewRichardsonLucy`, simultaneous, or by
ordered subsets with ``subsets=``), ``admm-tv`` and ``admm-hessian`` by ADMM
with every view's term split. The views are assumed registered and of one
voxel size; one result comes out, on the views' common field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from ..backend import backend_of, to_backend
from ..costs import HessianSchatten, NonNegative, TotalVariation
from ..operators import Gradient, Hessian
from ..operators._checks import check_spacing
from ..solvers import ADMM, Callback, MaxIter, MultiViewRichardsonLucy, Result, build_views
from ._registry import get
from ._validate import check_background, estimate_background

__all__ = ["VIEW_METHODS", "run_views"]

#: The catalogue's methods that take several views.
VIEW_METHODS = ("rl", "rl-accelerated", "admm-tv", "admm-hessian")


def _views_of(images: Any) -> list:
    if isinstance(images, (list, tuple)):
        return list(images)
    if getattr(images, "ndim", 0) >= 2:
        return [images[v] for v in range(images.shape[0])]
    raise ValueError("views must be a list of arrays or a (V, Z, Y, X) stack")


def run_views(images: Any, psfs: Any, method: str = "rl", *, backgrounds: Any = None,
              offsets: Any = None, weights: Any = None, subsets: Any = 1,
              spacings: Any = None, ground_truth: Any = None,
              callbacks: Iterable[Callback] = (), progress: bool | int = False,
              record_every: int = 1, keep: str = "last", **params: Any) -> Result:
    """Deconvolve several views of one object jointly (see the module notes).

    Parameters
    ----------
    images : list of array, or array (V, Z, Y, X)
        The views (registered, one voxel size).
    psfs : list of array, array (V, Z, Y, X), or one array
        One PSF per view, or one for all.
    method : {"rl", "rl-accelerated", "admm-tv", "admm-hessian"}
        The method, with its parameters in ``params`` (``max_iter``, ``lam``, ...).
    backgrounds : float, "auto", array, or list of them, optional
        Per view; ``params["background"]`` (one for all) otherwise.
    offsets, weights : optional
        Each view's place in the common field and its weight (see
        :func:`deconvkit.solvers.build_views`).
    subsets : int or list of list of int
        RL: 1 (simultaneous, default) or more (ordered subsets).
    spacings : tuple or list of tuple, optional
        Each view's voxel size, checked to agree; ``params["spacing"]`` otherwise.
    ground_truth, callbacks, progress, record_every, keep
        As :func:`deconvkit.methods.run`.

    Returns
    -------
    Result
        ``x`` on the views' common field; ``parameters`` records the views' count.
    """
    spec = get(method)
    if spec.name not in VIEW_METHODS:
        raise ValueError(f"{spec.name} takes one view; for several views use one of "
                         f"{', '.join(VIEW_METHODS)}")
    values = spec.validate(params)
    if values["boundary"] != "extended":
        raise ValueError("several views are deconvolved on their common extended domain: "
                         "leave boundary at 'extended'")
    if values["apodize"]:
        raise ValueError("apodize applies to a single periodic view, not to several views")
    views = _views_of(images)
    home = backend_of(views[0])
    spacing = values["spacing"] if spacings is None else (
        spacings if np.ndim(spacings[0]) == 0 else spacings[0])
    spacing = check_spacing(spacing, np.ndim(views[0]))
    if backgrounds is None:
        backgrounds = values["background"]
    if not isinstance(backgrounds, (list, tuple)):
        backgrounds = [backgrounds] * len(views)
    backgrounds = [estimate_background(y) if check_background(b, np.shape(y)) == "auto" else b
                   for y, b in zip(views, backgrounds)]
    built = build_views(views, psfs, backgrounds=backgrounds, offsets=offsets,
                        spacings=spacings, weights=weights)
    own = {p.name: values[p.name] for p in spec.parameters}
    cap = values["max_iter"]
    if spec.name in ("rl", "rl-accelerated"):
        solver = MultiViewRichardsonLucy(built.data, subsets=subsets,
                                         acceleration=own.get("acceleration"))
    else:
        if subsets != 1:
            raise ValueError("subsets are an RL option; ADMM splits every view's term")
        if spec.name == "admm-tv":
            norm = Gradient(built.shape, spacing).lipschitz
            prior = (own["lam"] / norm) * TotalVariation(built.shape, spacing)
        else:
            norm = Hessian(built.shape, spacing).lipschitz
            prior = (own["lam"] / norm) * HessianSchatten(built.shape, spacing, p=1)
        solver = ADMM(built.data + [prior, NonNegative()])
    truth = None
    if ground_truth is not None:
        truth = to_backend(np.asarray(ground_truth, dtype=np.float32) if backend_of(
            ground_truth) == "numpy" else ground_truth, home)
    result = solver.run(max_iter=cap, stop=MaxIter(cap), callbacks=callbacks,
                        progress=progress, ground_truth=truth, record_every=record_every,
                        keep=keep)
    record = {"method": spec.name, "views": len(views), "subsets": subsets,
              "spacing": tuple(spacing), **{k: v for k, v in values.items()
                                            if np.ndim(v) == 0 and k != "background"}}
    best = None if result.best_x is None else built.crop(result.best_x)
    return replace(result, x=built.crop(result.x), best_x=best, parameters=record)
