"""
Tiles: a volume larger than memory, solved block by block
=========================================================

A stack too large for memory is cut into tiles. Each *core* is solved with a *halo* of
neighbouring voxels around it and cropped back; every tile uses the same **plan**, the
decisions made once from the whole volume (background, data scale, start level,
iteration count), so the tiles cannot disagree:

.. math:: \\hat x\\big|_{\\text{core}} = \\operatorname{crop}\\Big(\\text{solve}\\big(y|_{\\text{core} + \\text{halo}};\\ \\text{plan}\\big)\\Big).

How wide must the halo be? A voxel's estimate depends on the data its PSF reaches, and,
one iteration later, on what those voxels' PSFs reach: in practice about half the PSF.
deconvkit's default is the half-width holding 99 % of the PSF's energy along each axis.
Here we compare no halo, half the default and the default against the untiled result.
"""

# %%
# A simulated widefield stack
# ---------------------------
import os

import matplotlib.pyplot as plt
import numpy as np

import deconvkit as dk
from deconvkit.methods import default_overlap, plan, solve_tiled, tiling
from deconvkit.operators import extended_shape

QUICK = os.environ.get("DECONVKIT_DOCS_QUICK") == "1"
spacing = (0.2, 0.1, 0.1)
field = (24, 96, 96) if QUICK else (32, 192, 192)
psf = dk.psf.gaussian((15, 31, 31), spacing, na=1.2, wavelength=0.52, ni=1.33)
obj = dk.simulate.phantom(extended_shape(field, psf.shape), spacing, kind="mixed", seed=3)
image, truth = dk.simulate.observe(obj, psf, field_shape=field, photons=300.0,
                                   background=10.0, seed=4)

# %%
# One plan, then the whole image and three tilings
# ------------------------------------------------
# ``dk.deconvolve(image, psf, tile_shape=...)`` does this in one call; here the plan
# and the tiling are made by hand to vary the halo.
n_iter = 10 if QUICK else 30
chosen = plan(image, psf, "rl", max_iter=n_iter, background=10.0, spacing=spacing)
whole = chosen.solve(image).x
halo = default_overlap(chosen.psf)
core = (field[0], field[1] // 3, field[2] // 3)
print("default halo", halo, "- tiles of", core)

tiled = {}
for label, scale in (("no halo", 0.0), ("half the default", 0.5), ("the default", 1.0)):
    overlap = tuple(int(round(scale * h)) for h in halo)
    tiled[label] = solve_tiled(chosen, image, tiling(chosen, core, overlap))
    rms = np.sqrt(np.mean((tiled[label] - whole) ** 2)) / np.sqrt(np.mean(whole**2))
    print(f"{label:>17s} {overlap}: relative RMS difference to untiled {rms:.1e}, "
          f"NRMSE {dk.metrics.nrmse(tiled[label], truth):.4f} "
          f"(untiled {dk.metrics.nrmse(whole, truth):.4f})")

# %%
# Where the tiles meet
# --------------------
# The difference to the untiled result, on the middle plane: without a halo the tile
# borders show; with the default halo the difference is at the level of rounding.
plane = field[0] // 2
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), constrained_layout=True)
scale = float(np.abs(whole).max())
for ax, (label, x) in zip(axes, tiled.items()):
    shown = ax.imshow((x - whole)[plane] / scale, cmap="RdBu_r", vmin=-0.02, vmax=0.02)
    ax.set_title(label)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes, shrink=0.8, label="(tiled − untiled) / max")
plt.show()

# %%
# The same from the command line, into OME-Zarr
# ---------------------------------------------
# .. code-block:: bash
#
#    deconvkit deconvolve big.ome.zarr psf.tif --method rl --iter 30 \
#        --tile-shape 64,512,512 -o big_rl.ome.zarr     # --resume after an interruption
#
# The output is written tile by tile into ``big_rl.ome.zarr.partial`` and renamed when
# every tile is in; ``--workers N`` or ``--scheduler tcp://host:port`` run the tiles on
# a dask cluster. See the tiles page of the documentation for the measurements.
