"""
The same code on a GPU
======================

Every layer of deconvkit takes its arrays from one backend module
(:mod:`deconvkit.backend`): the array namespace, allocation, FFTs and transfers. The
same call runs on NumPy (the host) or on CuPy (a GPU), chosen by the arrays you pass or by
``backend=``:

- ``backend="numpy"``: the host (the default for NumPy arrays);
- ``backend="cupy"``: a GPU (``pip install "deconvkit[gpu]"``); CuPy arrays in give
  CuPy arrays out, and a NumPy image is moved to the device and back;
- ``backend="auto"``: CuPy when a GPU is usable, NumPy otherwise.

Nothing moves between host and device inside the iterations: the PSF's transfer
function is moved once, the history's metrics are computed on the device and read back
only when recorded. This page was built on whatever machine built the documentation:
without a GPU, ``"auto"`` runs on NumPy, and the results below are the host's.
"""

# %%
# One call, the backend chosen for you
# ------------------------------------
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import deconvkit as dk
from deconvkit import backend
from deconvkit.operators import extended_shape

QUICK = os.environ.get("DECONVKIT_DOCS_QUICK") == "1"
spacing = (0.2, 0.1, 0.1)
field = (24, 96, 96) if QUICK else (48, 192, 192)
psf = dk.psf.gaussian((15, 31, 31), spacing, na=1.2, wavelength=0.52, ni=1.33)
obj = dk.simulate.phantom(extended_shape(field, psf.shape), spacing, kind="filaments", seed=1)
image, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300.0,
                                   background=10.0, seed=2)

where = backend.resolve_backend("auto")
print("backend='auto' runs on", where)

# %%
# Host against the chosen backend
# -------------------------------
# ``dk.methods.run`` returns the solver's history; with ``ground_truth=`` it records the
# NRMSE at every iteration, on the device when the run is there.
n_iter = 20 if QUICK else 50
runs = {}
for name in sorted({"numpy", where}):
    start = time.perf_counter()
    runs[name] = dk.methods.run(image, psf, "rl-accelerated", max_iter=n_iter, background=10.0,
                                spacing=spacing, ground_truth=truth, backend=name)
    x = backend.to_host(runs[name].x)
    print(f"{name}: {time.perf_counter() - start:.2f} s for {n_iter} iterations, "
          f"NRMSE {runs[name].history['nrmse'][-1]:.4f}, result on the host: {type(x).__name__}")

fig, ax = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
for name, result in runs.items():
    ax.plot(result.history["iteration"], result.history["nrmse"], label=name)
ax.set_xlabel("iteration")
ax.set_ylabel("NRMSE")
ax.legend()
plt.show()

# %%
# From the command line
# ---------------------
# .. code-block:: bash
#
#    deconvkit deconvolve stack.tif psf.tif --method rl --iter 100 --backend cupy
#
# Without CuPy, or without a usable GPU, ``--backend cupy`` says so in one line (and how
# to install it) instead of a traceback. ``benchmarks/bench_gpu.py`` measures the
# GPU's FFT floor and each method's time per iteration against it.
assert np.isfinite(runs["numpy"].history["nrmse"][-1])
