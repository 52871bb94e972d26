r"""Fused elementwise kernels for the hot loops, on every backend.

Each kernel does in one pass over memory what NumPy would do in several
passes with temporaries:

=============================  ==============================================================
:func:`rl_ratio`               :math:`m \leftarrow y / \max(m + b, \epsilon)` (in place)
:func:`multiply_conjugate`     :math:`s \leftarrow s\,\bar h` (in place)
:func:`split_multiply`         :math:`o = s\,b` and :math:`s \leftarrow s\,\bar h`, one read of s
:func:`copy_where`             :math:`o_n \leftarrow v_n` where :math:`m_n` (in place)
:func:`zero_outside`           0 outside a box (the adjoint of a crop, in place)
:func:`rl_update`              :math:`o = x \max(u, 0)\, w`, returning :math:`\|o - x\|^2, \|o\|^2`
:func:`extrapolate`            :math:`o = \max(x + \alpha (x - p), f)`
:func:`kl_divergence`          :math:`\sum (m + b) - y - y \log\frac{m + b}{y}` in float64
:func:`schatten3_map`          a spectral map of stacked symmetric 3x3 matrices (soft threshold
                               or clip of the eigenvalues), in closed form per voxel
:func:`schatten3_norm`         their summed Schatten-1 norm, :math:`\sum_n \sum_i |\lambda_i(M_n)|`
:func:`group_scale`            each voxel's vector of a stack rescaled by its norm: the group soft
                               threshold :math:`z_n (1 - a / \max(|z_n|, f))` or the
                               projection :math:`z_n / \max(|z_n|, f)`
:func:`group_norm_sum`         :math:`\sum_n |z_n|` of a stack (the isotropic TV's value)
:func:`gradient3`              the forward differences of a 3D volume along its three axes, and
                               :func:`gradient3_adjoint` their adjoint, one pass each
:func:`hessian3`               the six second-order partials of a 3D volume, and
                               :func:`hessian3_adjoint` their adjoint, one pass each
:func:`scaled_difference`      :math:`\rho (z - u)`, the ADMM x-step's right-hand side part
:func:`admm_residuals`         :math:`u \leftarrow u - z` with the squared norms of the primal
                               residual :math:`Ax - z`, of the change of :math:`z`, and of
                               :math:`Ax, z, u`, in one pass
=============================  ==============================================================

Implementations: numba (``parallel=True``, cached on disk; calls from several
threads take turns) for NumPy arrays; ``cupy.ElementwiseKernel``/``ReductionKernel`` for CuPy
arrays; and a plain NumPy version, the reference, used for guarded arrays, for
arrays of more than three axes, when numba is missing, and inside
:func:`use_fused(False) <use_fused>`. ``tests/backend/test_kernels.py``
checks that every fused kernel equals the plain one.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np

from ._fft import workers
from ._namespace import _cupy, backend_of, namespace

__all__ = [
    "TINY",
    "admm_residuals",
    "copy_where",
    "extrapolate",
    "fused_available",
    "gradient3",
    "gradient3_adjoint",
    "hessian3",
    "hessian3_adjoint",
    "group_norm_sum",
    "group_scale",
    "kl_divergence",
    "multiply_conjugate",
    "rl_ratio",
    "rl_update",
    "scaled_difference",
    "split_multiply",
    "zero_outside",
    "schatten3_map",
    "schatten3_norm",
    "use_fused",
]

#: The smallest model value a ratio divides by (the Poisson model is kept positive).
TINY = 1e-30

_FUSED: ContextVar[bool] = ContextVar("deconvkit_fused", default=True)


@contextlib.contextmanager
def use_fused(enabled: bool) -> Iterator[None]:
    """Use (True, default) or bypass (False) the fused kernels inside the block."""
    token = _FUSED.set(bool(enabled))
    try:
        yield
    finally:
        _FUSED.reset(token)


@functools.lru_cache(maxsize=1)
def _numba() -> Any:
    try:
        import numba
    except Exception:  # noqa: BLE001 - not installed, or an incompatible NumPy
        return None
    return numba


def fused_available() -> bool:
    """Whether the host kernels are compiled (numba importable)."""
    return _numba() is not None


def _route(*arrays: Any) -> str:
    """``"cupy"``, ``"numba"`` or ``"numpy"`` for these arrays."""
    kind = backend_of(arrays[0])
    if kind == "cupy":
        return "cupy"
    if (kind == "numpy" and _FUSED.get() and _numba() is not None
            and all(a.ndim <= 3 for a in arrays if isinstance(a, np.ndarray))):
        return "numba"
    return "numpy"


def _as3d(a: Any) -> Any:
    return a.reshape((1,) * (3 - a.ndim) + a.shape) if a.ndim < 3 else a


# -- numba ---------------------------------------------------------------------------------
#: numba's default threading layer (workqueue) must not run two parallel regions at once:
#: tiles solved by a thread pool take turns in the (short) fused kernels.
_NUMBA_LOCK = threading.Lock()


def _numba_call(name: str, *args: Any) -> Any:
    from . import _numba_kernels

    numba = _numba()
    with _NUMBA_LOCK:
        numba.set_num_threads(max(1, min(workers(), numba.config.NUMBA_NUM_THREADS)))
        return getattr(_numba_kernels, name)(*args)


# -- CuPy -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _cupy_kernels() -> dict[str, Any]:  # pragma: no cover - needs a GPU
    cupy = _cupy()
    return {
        "ratio": cupy.ElementwiseKernel(
            "T y, T b, T tiny", "T m", "T v = m + b; m = y / (v < tiny ? tiny : v)",
            "deconvkit_rl_ratio"),
        "conjugate": cupy.ElementwiseKernel(
            "C h", "C s", "s = s * conj(h)", "deconvkit_multiply_conjugate"),
        "split": cupy.ElementwiseKernel(
            "C b, C h", "C s, C o", "C v = s; o = v * b; s = v * conj(h)",
            "deconvkit_split_multiply"),
        "update": cupy.ElementwiseKernel(
            "T x, T u, T w", "T o", "o = x * (u > 0 ? u : (T)0) * w", "deconvkit_rl_update"),
        "squared_change": cupy.ReductionKernel(
            "T o, T x", "float64 s", "((double)o - (double)x) * ((double)o - (double)x)",
            "a + b", "s = a", "0", "deconvkit_squared_change"),
        "squared_norm": cupy.ReductionKernel(
            "T o", "float64 s", "(double)o * (double)o", "a + b", "s = a", "0",
            "deconvkit_squared_norm"),
        "extrapolate": cupy.ElementwiseKernel(
            "T x, T p, T alpha, T floor", "T o",
            "T v = x + alpha * (x - p); o = v > floor ? v : floor", "deconvkit_extrapolate"),
        "kl_terms": cupy.ElementwiseKernel(
            "T y, T m, T b", "float64 t",
            "double q = (double)m + (double)b; double c = (double)y;"
            "if (c > 0) { t = q <= 0 ? CUDART_INF : q - c - c * log(q / c); }"
            "else { t = q < 0 ? CUDART_INF : q; }",
            "deconvkit_kl_terms"),
    }


# -- the kernels ----------------------------------------------------------------------------
def rl_ratio(data: Any, model: Any, background: Any = 0.0) -> Any:
    """``model ← data / max(model + background, TINY)``, in place; returns ``model``.

    ``background`` is a number or an array of ``model``'s shape; ``model`` may
    be a strided view (the field inside an extended domain).
    """
    route = _route(model, data)
    scalar = np.ndim(background) == 0
    if route == "numba":
        dtype = model.dtype.type
        if scalar:
            _numba_call("ratio_scalar", _as3d(data), _as3d(model), dtype(background),
                        dtype(TINY))
        else:
            _numba_call("ratio_array", _as3d(data), _as3d(model), _as3d(background),
                        dtype(TINY))
        return model
    if route == "cupy":  # pragma: no cover - needs a GPU
        dtype = model.dtype.type
        _cupy_kernels()["ratio"](data, background if not scalar else dtype(background),
                                 dtype(TINY), model)
        return model
    xp = namespace(model)
    if scalar:
        if background:
            model += model.dtype.type(background)
    else:
        model += background
    xp.maximum(model, model.dtype.type(TINY), out=model)
    xp.divide(data, model, out=model)
    return model


def multiply_conjugate(spectrum: Any, transfer: Any) -> Any:
    """``spectrum ← spectrum · conj(transfer)`` in place (no conjugate copy); returns it."""
    route = _route(spectrum, transfer)
    if route == "numba" and spectrum.shape == transfer.shape:
        _numba_call("conjugate", _as3d(spectrum), _as3d(transfer))
        return spectrum
    if route == "cupy":  # pragma: no cover - needs a GPU
        _cupy_kernels()["conjugate"](transfer, spectrum)
        return spectrum
    xp = namespace(spectrum)
    spectrum *= xp.conj(transfer)
    return spectrum


def split_multiply(spectrum: Any, back: Any, transfer: Any, out: Any) -> Any:
    """``out = spectrum · back`` and ``spectrum ← spectrum · conj(transfer)``, reading
    ``spectrum`` once: a matched and an unmatched back projection of one transform
    (rl-wb's margin); returns ``out``."""
    route = _route(spectrum, back, transfer, out)
    if route == "numba" and spectrum.shape == back.shape == transfer.shape == out.shape:
        _numba_call("split_multiply", _as3d(spectrum), _as3d(back), _as3d(transfer), _as3d(out))
        return out
    if route == "cupy":  # pragma: no cover - needs a GPU
        _cupy_kernels()["split"](back, transfer, spectrum, out)
        return out
    xp = namespace(spectrum)
    xp.multiply(spectrum, back, out=out)
    spectrum *= xp.conj(transfer)
    return out


def zero_outside(domain: Any, window: tuple[slice, ...]) -> Any:
    """Set ``domain`` to 0 outside the box ``window`` (slices with explicit starts and
    stops, as :class:`~deconvkit.operators.Crop` makes them), in place; returns it.

    The adjoint of a crop on the buffer that holds the cropped values: only the margin
    is written.
    """
    route = _route(domain)
    if route == "numba" and domain.ndim == 3:
        bounds = [int(v) for part, n in zip(window, domain.shape)
                  for v in (part.start or 0, n if part.stop is None else part.stop)]
        _numba_call("zero_outside", domain, *bounds)
        return domain
    lead: list = []
    for part in window:
        domain[(*lead, slice(None, part.start))] = 0
        domain[(*lead, slice(part.stop, None))] = 0
        lead.append(part)
    return domain


def copy_where(out: Any, values: Any, where: Any) -> Any:
    """``out[where] = values[where]`` in place (``numpy.copyto(out, values, where=where)``,
    which is several times slower on a strided 3D view); returns ``out``."""
    route = _route(out, values, where)
    if route == "numba" and out.shape == values.shape == where.shape:
        _numba_call("copy_where", _as3d(out), _as3d(values), _as3d(where))
        return out
    namespace(out).copyto(out, values, where=where)
    return out


def rl_update(x: Any, update: Any, weight: Any, out: Any,
              reference: Any = None) -> tuple[float, float]:
    r"""``out = x · max(update, 0) · weight``; returns :math:`(\|out - r\|^2, \|out\|^2)`.

    ``r`` is ``reference`` (the previous iterate of an accelerated method,
    whose step starts from an extrapolated ``x``), ``x`` by default. ``out``
    may be ``x`` (an update in place) or ``update``; the sums are accumulated
    in float64 and are what the solver's relative change needs, so no
    difference array is formed.
    """
    route = _route(x, update, weight, out)
    if route == "numba":
        if reference is None:
            change, norm = _numba_call("update", _as3d(x), _as3d(update), _as3d(weight),
                                       _as3d(out))
        else:
            change, norm = _numba_call("update_against", _as3d(x), _as3d(update),
                                       _as3d(weight), _as3d(out), _as3d(reference))
        return float(change), float(norm)
    if route == "cupy":  # pragma: no cover - needs a GPU
        kernels = _cupy_kernels()
        old = reference if reference is not None else (x.copy() if out is x else x)
        kernels["update"](x, update, weight, out)
        return float(kernels["squared_change"](out, old)), float(kernels["squared_norm"](out))
    xp = namespace(x)
    new = xp.maximum(update, update.dtype.type(0))
    new *= weight
    new *= x
    difference = new - (x if reference is None else reference)
    change = float(xp.sum(xp.square(difference, dtype=np.float64)))
    norm = float(xp.sum(xp.square(new, dtype=np.float64)))
    out[...] = new
    return change, norm


def extrapolate(x: Any, previous: Any, alpha: float, floor: float, out: Any) -> Any:
    """``out = max(x + alpha (x − previous), floor)``; ``out`` may be ``previous``."""
    route = _route(x, previous, out)
    dtype = x.dtype.type
    if route == "numba":
        _numba_call("extrapolate", _as3d(x), _as3d(previous), dtype(alpha), dtype(floor),
                    _as3d(out))
        return out
    if route == "cupy":  # pragma: no cover - needs a GPU
        _cupy_kernels()["extrapolate"](x, previous, dtype(alpha), dtype(floor), out)
        return out
    xp = namespace(x)
    step = x - previous
    step *= dtype(alpha)
    step += x
    xp.maximum(step, dtype(floor), out=out)
    return out


def kl_divergence(data: Any, model: Any, background: Any = 0.0) -> float:
    r"""Kullback–Leibler divergence of ``data`` from ``model + background``, in float64.

    .. math:: \sum_n (m_n + b_n) - y_n - y_n \log\frac{m_n + b_n}{y_n}

    with :math:`0 \log 0 = 0`; ``inf`` where :math:`m + b \le 0` with
    :math:`y > 0`, or :math:`m + b < 0`.
    """
    route = _route(model, data)
    scalar = np.ndim(background) == 0
    if route == "numba":
        if scalar:
            total, bad = _numba_call("kl_scalar", _as3d(data), _as3d(model), float(background))
        else:
            total, bad = _numba_call("kl_array", _as3d(data), _as3d(model), _as3d(background))
        return math.inf if bad else float(total)
    if route == "cupy":  # pragma: no cover - needs a GPU
        dtype = model.dtype.type
        terms = _cupy_kernels()["kl_terms"](data, model, dtype(background) if scalar
                                            else background)
        return float(terms.sum())
    xp = namespace(model)
    q = model.astype(np.float64)
    q += background if scalar else background.astype(np.float64)
    y = data.astype(np.float64)
    positive = y > 0
    if bool(xp.any(q < 0)) or bool(xp.any(positive & (q <= 0))):
        return math.inf
    ratio = xp.where(positive, q, 1.0)
    ratio /= xp.where(positive, y, 1.0)
    terms = xp.log(ratio, out=ratio)
    terms *= y
    q -= terms
    q -= y
    return float(xp.sum(q))


def _schatten3_applies(z: Any) -> bool:
    """A float32 stack of 3x3 matrices on the host, with numba there and fusing allowed."""
    return (backend_of(z) == "numpy" and _FUSED.get() and _numba() is not None
            and z.dtype == np.float32 and z.shape[0] == 6)


def schatten3_map(z: Any, mode: str, tau: float = 0.0) -> tuple[Any, float] | None:
    """Eigenvalues of stacked symmetric 3x3 matrices soft-thresholded or clipped, fused.

    ``z``: float32 ``(6, *shape)`` in the Hessian convention (off-diagonals times √2).
    ``mode="soft"`` soft-thresholds the eigenvalues by ``tau`` (the Schatten-1 prox) and
    also returns the result's Schatten-1 norm; ``mode="clip"`` clips them to [-1, 1]
    (the projection onto the spectral-norm unit ball; the norm returned is NaN).
    Returns None where no fused kernel applies (not NumPy, not float32, numba missing):
    the caller then uses its vectorized closed form.
    """
    if not _schatten3_applies(z):
        return None
    flat = np.ascontiguousarray(z).reshape(6, -1)
    out = np.empty_like(flat)
    norms = np.empty(flat.shape[1], dtype=np.float32)  # per voxel; summed in float64
    _numba_call("schatten3", flat, out, norms, 0 if mode == "soft" else 1, float(tau))
    total = float(np.sum(norms, dtype=np.float64))
    return out.reshape(z.shape), (float(total) if mode == "soft" else math.nan)


def schatten3_norm(z: Any) -> float | None:
    """Σ over voxels of Σ|λ| of stacked symmetric 3x3 matrices (float32 ``(6, *shape)``), fused.

    None where no fused kernel applies (as :func:`schatten3_map`).
    """
    if not _schatten3_applies(z):
        return None
    return float(_numba_call("schatten3_norm", np.ascontiguousarray(z).reshape(6, -1)))


def _stack_applies(z: Any) -> bool:
    """A float32 stack (components on the leading axis) on the host, numba there, fusing allowed."""
    return (backend_of(z) == "numpy" and _FUSED.get() and _numba() is not None
            and z.dtype == np.float32 and z.ndim >= 2)


def group_scale(z: Any, numerator: float, floor: float, mode: str) -> Any | None:
    r"""Each voxel's vector of the stack ``z`` (``(k, *shape)``) rescaled by its norm, fused.

    ``mode="shrink"``: :math:`z_n (1 - a / \max(|z_n|, f))` (the group soft
    threshold with :math:`a = f = \tau`; the Huber prox with :math:`f = \delta + \tau`);
    ``mode="project"``: :math:`z_n / \max(|z_n|, f)` (the projection onto the
    dual ball with :math:`f = 1`; the Huber gradient with :math:`f = \delta`).
    A new array; None where no fused kernel applies (the caller's NumPy version runs).
    """
    if not _stack_applies(z):
        return None
    flat = np.ascontiguousarray(z).reshape(z.shape[0], -1)
    out = np.empty_like(flat)
    _numba_call("group_scale", flat, out, float(numerator), float(floor),
                0 if mode == "shrink" else 1)
    return out.reshape(z.shape)


def group_norm_sum(z: Any) -> float | None:
    r""":math:`\sum_n |z_n|` of a float32 stack, fused; None where no fused kernel applies."""
    if not _stack_applies(z):
        return None
    return float(_numba_call("group_norm_sum", np.ascontiguousarray(z).reshape(z.shape[0], -1)))


def _flat_applies(*arrays: Any) -> bool:
    """Same-shaped C-contiguous float32 host arrays, numba there, fusing allowed."""
    first = arrays[0]
    return (backend_of(first) == "numpy" and _FUSED.get() and _numba() is not None
            and all(isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == first.shape
                    and a.flags.c_contiguous for a in arrays))  # fmt: skip


def scaled_difference(z: Any, u: Any, rho: float) -> Any:
    r""":math:`\rho\,(z - u)` as a new array (``z - u`` then the product, in ``z``'s precision)."""
    if _flat_applies(z, u):
        out = np.empty_like(z)
        _numba_call("scaled_difference", z.reshape(-1), u.reshape(-1), float(rho), out.reshape(-1))
        return out
    out = z - u
    out *= out.dtype.type(rho)
    return out


def admm_residuals(u: Any, z: Any, ax: Any, old: Any, *, scratch: bool = False,
                   full: bool = False) -> tuple[float, ...]:
    r"""ADMM's bookkeeping after a prox: :math:`u \leftarrow u - z` and five squared norms.

    Returns :math:`(\|Ax\|^2, \|z\|^2, \|Ax - z\|^2, \|z_{old} - z\|^2, \|u\|^2)`
    with ``u`` already updated (the first, second and last are NaN on the
    NumPy path unless ``full``: only residual balancing needs them). ``ax``
    and ``old`` are read, and on the NumPy path overwritten when
    ``scratch`` (they are temporaries there). Fused: one pass, sums in float64.
    """
    if _flat_applies(u, z, ax, old):
        return tuple(float(v) for v in _numba_call(
            "admm_residuals", u.reshape(-1), z.reshape(-1), ax.reshape(-1), old.reshape(-1)))
    xp = namespace(u)

    def square(a: Any) -> float:
        return float(xp.vdot(a.ravel(), a.ravel()).real)

    u -= z
    sizes = (square(ax), square(z)) if full else (math.nan, math.nan)
    residual = xp.subtract(ax, z, out=ax) if scratch else ax - z
    change = xp.subtract(old, z, out=old) if scratch else old - z
    return (*sizes, square(residual), square(change), square(u) if full else math.nan)


def _gradient_applies(x: Any) -> bool:
    return (backend_of(x) == "numpy" and _FUSED.get() and _numba() is not None
            and isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)
            and x.flags.c_contiguous)  # fmt: skip


def gradient3(x: Any, steps: tuple[float, float, float], periodic: bool) -> Any | None:
    """The three forward differences of a 3D volume, stacked ``(3, *x.shape)``, fused.

    None where no fused kernel applies (not a C-contiguous float host array,
    numba missing): the caller's NumPy loop runs.
    """
    return _stacked_differences("gradient3", 3, x, steps, periodic)


def gradient3_adjoint(y: Any, steps: tuple[float, float, float], periodic: bool) -> Any | None:
    r""":math:`\sum_a D_a^T y_a` of a stack ``(3, nz, ny, nx)``, fused; None where none applies."""
    return _summed_differences("gradient3_adjoint", 3, y, steps, periodic)


def hessian3(x: Any, steps: tuple[float, float, float], periodic: bool) -> Any | None:
    """The six second-order partials of a 3D volume, stacked ``(6, *x.shape)`` as
    :class:`~deconvkit.operators.Hessian`, in one pass; None where no fused kernel applies."""
    return _stacked_differences("hessian3", 6, x, steps, periodic)


def hessian3_adjoint(y: Any, steps: tuple[float, float, float], periodic: bool) -> Any | None:
    r""":math:`\sum_c H_c^T y_c` of a stack ``(6, nz, ny, nx)``, fused; None where none applies."""
    return _summed_differences("hessian3_adjoint", 6, y, steps, periodic)


def _stacked_differences(name: str, components: int, x: Any, steps: tuple[float, ...],
                         periodic: bool) -> Any | None:
    """A difference operator's fused forward kernel ``name`` on a 3D ``x``, or None."""
    if x.ndim != 3 or not _gradient_applies(x):
        return None
    out = np.empty((components, *x.shape), dtype=x.dtype)
    _numba_call(name, x, out, *(1.0 / h for h in steps), bool(periodic))
    return out


def _summed_differences(name: str, components: int, y: Any, steps: tuple[float, ...],
                        periodic: bool) -> Any | None:
    """A difference operator's fused adjoint kernel ``name`` on a stack ``y``, or None."""
    if y.ndim != 4 or y.shape[0] != components or not _gradient_applies(y):
        return None
    out = np.empty(y.shape[1:], dtype=y.dtype)
    _numba_call(name, y, out, *(1.0 / h for h in steps), bool(periodic))
    return out
