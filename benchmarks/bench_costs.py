"""Timings of the mixed-norm and Schatten proxes on a 64x256x256 float32 volume.

Run: ``python benchmarks/bench_costs.py [--shape 64 256 256] [--repeat 5]``.

Prints the best-of-``repeat`` time of

* ``MixedNorm21().prox`` on the gradient (3 components), against
  ``pyproximal.L21(ndim=3).prox`` on the same stack flattened (pyproximal's
  convention: components stacked first, which is ours), with the ratio;
* ``SchattenNorm(1).prox`` and ``SchattenNorm(inf).prox`` on the Hessian
  (6 components; closed-form eigen-decomposition in float32), and the
  LAPACK ``eigh`` path on the same stack for comparison;

and the peak of extra memory each call allocated (``tracemalloc`` sees NumPy's buffers).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pyproximal

import deconvkit.costs as dc
import deconvkit.operators as ops
from deconvkit.costs._schatten import _soft_threshold, spectral_map


def best_time(call, repeat: int) -> float:
    call()  # warm-up
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(call) -> float:
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs="+", default=[64, 256, 256])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shape = tuple(args.shape)
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    gradient = ops.Gradient(shape, spacing=(0.2, 0.1, 0.1)) @ x
    hessian = ops.Hessian(shape, spacing=(0.2, 0.1, 0.1)) @ x
    size = "x".join(map(str, shape))
    print(f"volume {size} float32; gradient {gradient.nbytes / 2**20:.0f} MB, "
          f"Hessian {hessian.nbytes / 2**20:.0f} MB")

    tau = float(np.median(np.sqrt((gradient**2).sum(axis=0))))
    ours = dc.MixedNorm21()
    oracle = pyproximal.L21(ndim=gradient.shape[0])
    flat = gradient.ravel()
    assert np.allclose(ours.prox(gradient, tau).ravel(), oracle.prox(flat, tau), rtol=1e-5, atol=1e-6)
    t_ours = best_time(lambda: ours.prox(gradient, tau), args.repeat)
    t_oracle = best_time(lambda: oracle.prox(flat, tau), args.repeat)
    print(f"MixedNorm21().prox          {t_ours * 1e3:8.1f} ms  (peak extra {peak_memory(lambda: ours.prox(gradient, tau)):5.0f} MB)")
    print(f"pyproximal.L21(ndim=3).prox {t_oracle * 1e3:8.1f} ms  (peak extra {peak_memory(lambda: oracle.prox(flat, tau)):5.0f} MB, dtype {oracle.prox(flat, tau).dtype})")
    print(f"  ratio pyproximal / ours   {t_oracle / t_ours:8.2f}x")
    t_conj = best_time(lambda: ours.prox_conjugate(gradient, 1.0), args.repeat)
    print(f"MixedNorm21().prox_conjugate{t_conj * 1e3:8.1f} ms")

    tau = float(np.median(np.abs(hessian)))
    repeat = max(1, args.repeat // 2)
    for p in (1, np.inf):
        cost = dc.SchattenNorm(p)
        call = lambda cost=cost: cost.prox(hessian, tau)
        seconds, memory = best_time(call, repeat), peak_memory(call)
        print(f"{cost!r}.prox (closed form) {seconds * 1e3:8.1f} ms  (peak extra {memory:5.0f} MB)")
    value = best_time(lambda: dc.SchattenNorm(1)(hessian), repeat)
    print(f"SchattenNorm(p=1) value           {value * 1e3:8.1f} ms")
    soft = lambda lam: _soft_threshold(lam, tau)
    seconds = best_time(lambda: spectral_map(hessian, soft, closed_form=False), 1)
    print(f"SchattenNorm(p=1).prox via eigh   {seconds * 1e3:8.1f} ms  (LAPACK per 3x3 matrix, for comparison)")


if __name__ == "__main__":
    main()
