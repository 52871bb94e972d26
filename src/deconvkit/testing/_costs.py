r"""Contracts every cost must satisfy, as reusable checks.

The checks compute in float64 from a given or random point, raise
``AssertionError`` with a readable message naming the cost and the measured
error, and return the errors they measured, so a test can report them::

    from deconvkit.testing import check_gradient, check_prox
    check_gradient(my_cost, x)         # finite differences along random directions
    check_prox(my_cost, x, tau=0.5)    # optimality, perturbations, Moreau identity
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_cost_dtype", "check_cost_not_mutated", "check_gradient", "check_prox"]


def _point(cost: Any, x: Any, seed: int) -> np.ndarray:
    if x is not None:
        return np.asarray(x, dtype=np.float64)
    if cost.shape is None:
        raise ValueError(f"{cost!r} takes arrays of any shape: pass the point x to check at")
    return np.random.default_rng(seed).standard_normal(cost.shape)


def _norm(x: Any) -> float:
    return float(np.linalg.norm(np.ravel(x)))


def check_gradient(
    cost: Any,
    x: Any = None,
    *,
    direction: Any = None,
    seed: int = 0,
    rtol: float = 1e-5,
    n_directions: int = 3,
) -> float:
    r"""Check ``cost.grad`` against central finite differences along random directions.

    In float64, for unit directions :math:`d`,

    .. math:: \frac{f(x + t d) - f(x - t d)}{2t} \approx \langle \nabla f(x), d\rangle,
              \qquad t = \varepsilon^{1/3}\max(1, \|x\|),

    and the error is :math:`|\text{fd} - \langle\nabla f(x), d\rangle| / \max(\|\nabla f(x)\|, |\text{fd}|, \eta/\text{rtol})`
    with :math:`\eta = 8\varepsilon\max(1, |f(x \pm td)|)/2t` the rounding error of the
    difference quotient (so a zero gradient is not judged on rounding noise).

    Parameters
    ----------
    cost : Cost
        A smooth cost.
    x : array, optional
        Where to check (in the cost's domain); standard normal of ``cost.shape`` by default.
    direction : array, optional
        One direction to check along (normalized here); ``n_directions`` random ones by default.
    seed : int
        Seed of the random point and directions.
    rtol : float
        Tolerance on the relative error.
    n_directions : int
        Number of random directions.

    Returns
    -------
    float
        The largest relative error over the directions.
    """
    if not cost.smooth:
        raise ValueError(f"{cost!r} is not smooth: check its prox with check_prox instead")
    rng = np.random.default_rng(seed + 1)
    x = _point(cost, x, seed)
    gradient = np.asarray(cost.grad(x), dtype=np.float64)
    if gradient.shape != x.shape:
        raise AssertionError(f"{cost!r}: grad returned shape {gradient.shape}, not {x.shape}")
    directions = (
        [np.asarray(direction, dtype=np.float64)]
        if direction is not None
        else [rng.standard_normal(x.shape) for _ in range(n_directions)]
    )
    step = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, _norm(x))
    worst = 0.0
    for d in directions:
        d = d / max(_norm(d), 1e-300)
        forward, backward = cost(x + step * d), cost(x - step * d)
        if not (np.isfinite(forward) and np.isfinite(backward)):
            raise AssertionError(
                f"{cost!r} is infinite at x ± {step:.3g} d: check at a point inside its domain"
            )
        difference = (forward - backward) / (2 * step)
        analytic = float(np.vdot(gradient, d))
        # rounding floor: f's values carry ~eps |f| of error, amplified by 1/2t
        noise = 8 * np.finfo(np.float64).eps * max(1.0, abs(forward), abs(backward)) / (2 * step)
        scale = max(_norm(gradient), abs(difference), noise / rtol)
        error = abs(difference - analytic) / scale
        if not error <= rtol:
            raise AssertionError(
                f"gradient of {cost!r} disagrees with finite differences: <grad f(x), d> = "
                f"{analytic:.10g} but (f(x + t d) - f(x - t d)) / 2t = {difference:.10g} "
                f"(t = {step:.3g}); relative error {error:.3g} > tolerance {rtol:.1g}"
            )
        worst = max(worst, error)
    return worst


def _objective(cost: Any, x: np.ndarray, tau: float):
    return lambda z: 0.5 * float(np.sum((z - x) ** 2)) + tau * cost(z)


def check_prox(
    cost: Any,
    x: Any = None,
    tau: float = 0.7,
    *,
    seed: int = 0,
    rtol: float = 1e-8,
    n_perturbations: int = 24,
    optimality: bool | None = None,
) -> dict[str, float]:
    r"""Check ``p = cost.prox(x, tau)`` minimizes :math:`\tfrac12\|z - x\|^2 + \tau f(z)`.

    In float64:

    * indicators: ``p`` is feasible (value 0), the projection is idempotent
      (``prox(p) = p``) and :math:`\langle x - p, z - p\rangle \le 0` for
      feasible points ``z`` (the variational characterization of a projection);
    * smooth costs: the optimality condition :math:`x - p = \tau\nabla f(p)`
      (residual relative to :math:`\max(\|x\|, \|p\|, 1)`);
    * other costs, and smooth ones too: the objective at ``p`` is no larger
      than at perturbed points ``p + δ`` (dense random δ at several scales,
      single-voxel δ, and steps towards and away from ``x``);
    * all costs: the Moreau identity
      :math:`x = \operatorname{prox}_{\tau f}(x) + \tau\operatorname{prox}_{f^*/\tau}(x/\tau)`
      through ``cost.prox_conjugate``.

    Parameters
    ----------
    cost : Cost
        A proximable cost.
    x : array, optional
        Where to check; standard normal of ``cost.shape`` by default.
    tau : float
        Step of the prox.
    seed : int
        Seed of the random point and perturbations.
    rtol : float
        Relative tolerance of the comparisons (the optimality residual uses ``1e3 * rtol``).
    n_perturbations : int
        Number of random perturbations.
    optimality : bool, optional
        Check the optimality condition (default: for smooth costs). Pass False
        for a cost smooth only inside its domain whose prox can land on the
        boundary (``PoissonLikelihood`` with zero counts: there
        :math:`x - p \ne \tau\nabla f(p)`, the normal cone enters).

    Returns
    -------
    dict
        The measured errors by name (``"feasibility"``, ``"idempotence"``,
        ``"projection"``, ``"optimality"``, ``"perturbation"``, ``"moreau"``).
    """
    rng = np.random.default_rng(seed + 2)
    x = _point(cost, x, seed)
    p = np.asarray(cost.prox(x, tau), dtype=np.float64)
    name = f"prox of {cost!r} (tau = {tau:g})"
    if p.shape != x.shape:
        raise AssertionError(f"{name} returned shape {p.shape}, not {x.shape}")
    scale = max(_norm(x), _norm(p), 1.0)
    errors: dict[str, float] = {}
    if cost.indicator:
        value = cost(p)
        errors["feasibility"] = 0.0 if value == 0 else float("inf")
        if value != 0:
            raise AssertionError(f"{name} returned an infeasible point (value {value})")
        again = np.asarray(cost.prox(p, tau), dtype=np.float64)
        errors["idempotence"] = _norm(again - p) / scale
        if not errors["idempotence"] <= rtol:
            raise AssertionError(
                f"{name} is not idempotent: ‖P(P(x)) - P(x)‖ / ‖x‖ = {errors['idempotence']:.3g}"
            )
        worst = 0.0
        for _ in range(4):
            z = np.asarray(cost.prox(x + rng.standard_normal(x.shape), tau), dtype=np.float64)
            inner = float(np.vdot(x - p, z - p)) / (scale * max(_norm(z - p), 1e-30))
            worst = max(worst, inner)
        errors["projection"] = worst
        if not worst <= rtol:
            raise AssertionError(
                f"{name} is not the projection: <x - P(x), z - P(x)> > 0 for a feasible z "
                f"(normalized {worst:.3g})"
            )
    if not cost.indicator and (cost.smooth if optimality is None else optimality):
        gradient = np.asarray(cost.grad(p), dtype=np.float64)
        error = _norm(x - p - tau * gradient) / scale
        errors["optimality"] = error
        if not error <= 1e3 * rtol:
            raise AssertionError(
                f"{name} violates the optimality condition x - p = tau grad f(p): "
                f"‖x - p - tau grad f(p)‖ / max(‖x‖, ‖p‖, 1) = {error:.3g} > tolerance {1e3 * rtol:.1g}"
            )
    if not cost.indicator:
        objective = _objective(cost, x, tau)
        best = objective(p)
        if not np.isfinite(best):
            raise AssertionError(f"{name} returned a point where the cost is infinite")
        trials = []
        for size in (1e-1, 1e-2, 1e-3, 1e-4):
            for _ in range(max(1, n_perturbations // 8)):
                trials.append(p + size * rng.standard_normal(x.shape))
                single = p.copy()
                single.flat[rng.integers(p.size)] += size * rng.choice([-1.0, 1.0])
                trials.append(single)
            trials.append(p + size * (x - p) / max(_norm(x - p), 1e-30))
            trials.append(p - size * (x - p) / max(_norm(x - p), 1e-30))
        tolerance = rtol * (1.0 + abs(best))
        worst = 0.0
        for z in trials:
            gain = best - objective(z)
            worst = max(worst, gain / (1.0 + abs(best)))
            if gain > tolerance:
                raise AssertionError(
                    f"{name} is not the minimizer of ½‖z - x‖² + tau f(z): a point "
                    f"{_norm(z - p):.2g} away has objective {best - gain:.10g} < {best:.10g}"
                )
        errors["perturbation"] = worst
    conjugate = np.asarray(cost.prox_conjugate(x / tau, 1.0 / tau), dtype=np.float64)
    errors["moreau"] = _norm(p + tau * conjugate - x) / scale
    if not errors["moreau"] <= 1e3 * rtol:
        raise AssertionError(
            f"{cost!r} breaks the Moreau identity x = prox_(tau f)(x) + tau prox_(f*/tau)(x/tau): "
            f"relative error {errors['moreau']:.3g}"
        )
    return errors


def check_cost_dtype(cost: Any, x: Any, *, tau: float = 0.7) -> None:
    """Check that ``grad`` and ``prox`` return ``x``'s dtype and the value is a Python float."""
    value = cost(x)
    if not isinstance(value, float):
        raise AssertionError(f"{cost!r} returned a {type(value).__name__} value, not a float")  # noqa: TRY004 - a failed check
    outputs = {}
    if cost.smooth:
        outputs["grad"] = cost.grad(x)
    if cost.proximable:
        outputs["prox"] = cost.prox(x, tau)
        outputs["prox_conjugate"] = cost.prox_conjugate(x, tau)
    for what, out in outputs.items():
        if out.dtype != x.dtype or out.shape != x.shape:
            raise AssertionError(
                f"{cost!r}: {what} returned {out.dtype} {out.shape} for {x.dtype} {x.shape} input"
            )


def check_cost_not_mutated(cost: Any, x: Any, *, tau: float = 0.7) -> None:
    """Check that value, ``grad``, ``prox`` and ``prox_conjugate`` leave their input unchanged."""
    calls = {"value": lambda v: cost(v)}
    if cost.smooth:
        calls["grad"] = cost.grad
    if cost.proximable:
        calls["prox"] = lambda v: cost.prox(v, tau)
        calls["prox_conjugate"] = lambda v: cost.prox_conjugate(v, tau)
    for what, call in calls.items():
        v = np.array(x, copy=True)
        before = v.copy()
        out = call(v)
        if not np.array_equal(v, before, equal_nan=True):
            raise AssertionError(f"{cost!r}: {what} modified its input")
        if isinstance(out, np.ndarray) and np.shares_memory(out, v):
            raise AssertionError(f"{cost!r}: {what} returned a view of its input")
