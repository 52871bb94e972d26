"""
The DeconvolutionLab2 catalogue
===============================

deconvkit names its methods as DeconvolutionLab2 does (NIF, WIF, TRIF, RIF, LW, LW+,
TM, ICTM, RL, RLTV, ISTA, FISTA) and adds a few beyond it (accelerated RL, ADMM with TV
or the Hessian--Schatten norm, primal--dual TV). Every one is a few lines composing an
operator, a data term, regularizers and a solver; :func:`deconvkit.methods.available`
lists them with their parameters, and ``deconvkit methods`` prints the same on the
command line.

Here every method of the catalogue runs with its default parameters on one small
simulated stack, scored against the truth. Defaults are a starting point, not a tuned
result: :doc:`plot_2_compare` shows how to search the parameters.
"""

# %%
# The catalogue
# -------------
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

import deconvkit as dk

catalogue = dk.methods.available()
for name, method in catalogue.items():
    aliases = f" (also {', '.join(method.aliases)})" if method.aliases else ""
    print(f"{name:<15}{method.solver:<22}{method.summary[:70]}{aliases}")

# %%
# A test stack
# ------------
# Beads and filaments on a faint cytoplasm, a widefield PSF (NA 1.3 oil, 520 nm),
# 300 photons at the brightest voxel, background 10.
QUICK = os.environ.get("DECONVKIT_DOCS_QUICK") == "1"
spacing = (0.2, 0.1, 0.1)
psf = dk.psf.born_wolf((15, 31, 31), spacing, na=1.3, wavelength=0.52, ni=1.515)
obj = dk.simulate.phantom((36, 88, 88) if QUICK else (40, 112, 112), spacing, seed=3)
image, truth = dk.simulate.observe(obj, psf, photons=300.0, background=10.0, seed=4)
print("image", image.shape, f"NRMSE of the image itself {dk.metrics.nrmse(image, truth):.3f}")

# %%
# Every method, with its defaults
# -------------------------------
# The background is given (it is known here); iterative methods run their default
# number of iterations (capped at 30 in the quick build).
scores = {}
estimates = {}
for name, method in catalogue.items():
    params = {"background": 10.0, "spacing": spacing}
    if method.iterative and QUICK:
        params["max_iter"] = min(method.max_iter, 30)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = dk.deconvolve(image, psf, method=name, **params)
    except Exception as error:  # a method that needs more than the defaults
        print(f"{name:<15}skipped: {error}")
        continue
    seconds = time.perf_counter() - start
    scores[name] = (dk.metrics.nrmse(x, truth), dk.metrics.ssim(x, truth), seconds)
    estimates[name] = x

print(f"{'method':<15}{'NRMSE':>7}{'SSIM':>7}{'seconds':>9}")
for name, (nrmse, ssim, seconds) in sorted(scores.items(), key=lambda item: item[1][0]):
    print(f"{name:<15}{nrmse:>7.3f}{ssim:>7.3f}{seconds:>9.1f}")

# %%
# Side by side
# ------------
# XY maximum-intensity projections, each at its own contrast (1st to 99.8th
# percentile), ordered by NRMSE.
order = sorted(estimates, key=lambda name: scores[name][0])
panels = [("truth", truth), ("image", image)] + [(name, estimates[name]) for name in order]
columns = 6
rows = -(-len(panels) // columns)
fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.0 * rows),
                         layout="constrained")
for ax in axes.ravel():
    ax.set_axis_off()
for ax, (name, volume) in zip(axes.ravel(), panels):
    projection = volume.max(axis=0)
    ax.imshow(projection, cmap="magma", vmin=np.percentile(projection, 1),
              vmax=np.percentile(projection, 99.8))
    label = name if name not in scores else f"{name}  {scores[name][0]:.3f}"
    ax.set_title(label, fontsize=8)
plt.show()
