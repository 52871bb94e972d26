"""The numba versions of the fused kernels (imported only when numba is installed).

Each loops over a 3D view (smaller arrays get leading axes of size 1) with
``prange`` on the first axis, accumulates sums in float64, and is cached on
disk after its first compilation.
"""

import numpy as np
from numba import njit, prange

_OPTIONS = {"parallel": True, "cache": True, "nogil": True}


@njit(**_OPTIONS)
def ratio_scalar(y, m, b, tiny):  # pragma: no cover - compiled
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            for k in range(m.shape[2]):
                v = m[i, j, k] + b
                if v < tiny:
                    v = tiny
                m[i, j, k] = y[i, j, k] / v


@njit(**_OPTIONS)
def ratio_array(y, m, b, tiny):  # pragma: no cover - compiled
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            for k in range(m.shape[2]):
                v = m[i, j, k] + b[i, j, k]
                if v < tiny:
                    v = tiny
                m[i, j, k] = y[i, j, k] / v


@njit(**_OPTIONS)
def conjugate(s, h):  # pragma: no cover - compiled
    for i in prange(s.shape[0]):
        for j in range(s.shape[1]):
            for k in range(s.shape[2]):
                s[i, j, k] = s[i, j, k] * np.conj(h[i, j, k])


@njit(**_OPTIONS)
def update(x, u, w, o):  # pragma: no cover - compiled
    change = 0.0
    norm = 0.0
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            for k in range(x.shape[2]):
                v = u[i, j, k]
                if v < 0:
                    v = 0
                old = x[i, j, k]
                new = old * v * w[i, j, k]
                o[i, j, k] = new
                d = np.float64(new) - np.float64(old)
                change += d * d
                norm += np.float64(new) * np.float64(new)
    return change, norm


@njit(**_OPTIONS)
def update_against(x, u, w, o, r):  # pragma: no cover - compiled
    change = 0.0
    norm = 0.0
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            for k in range(x.shape[2]):
                v = u[i, j, k]
                if v < 0:
                    v = 0
                new = x[i, j, k] * v * w[i, j, k]
                o[i, j, k] = new
                d = np.float64(new) - np.float64(r[i, j, k])
                change += d * d
                norm += np.float64(new) * np.float64(new)
    return change, norm


@njit(**_OPTIONS)
def extrapolate(x, p, alpha, floor, o):  # pragma: no cover - compiled
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            for k in range(x.shape[2]):
                v = x[i, j, k] + alpha * (x[i, j, k] - p[i, j, k])
                o[i, j, k] = v if v > floor else floor


@njit(**_OPTIONS)
def kl_scalar(y, m, b):  # pragma: no cover - compiled
    total = 0.0
    bad = 0
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            for k in range(m.shape[2]):
                q = np.float64(m[i, j, k]) + b
                c = np.float64(y[i, j, k])
                if c > 0:
                    if q <= 0:
                        bad += 1
                    else:
                        total += q - c - c * np.log(q / c)
                elif q < 0:
                    bad += 1
                else:
                    total += q
    return total, bad


@njit(**_OPTIONS)
def kl_array(y, m, b):  # pragma: no cover - compiled
    total = 0.0
    bad = 0
    for i in prange(m.shape[0]):
        for j in range(m.shape[1]):
            for k in range(m.shape[2]):
                q = np.float64(m[i, j, k]) + np.float64(b[i, j, k])
                c = np.float64(y[i, j, k])
                if c > 0:
                    if q <= 0:
                        bad += 1
                    else:
                        total += q - c - c * np.log(q / c)
                elif q < 0:
                    bad += 1
                else:
                    total += q
    return total, bad
