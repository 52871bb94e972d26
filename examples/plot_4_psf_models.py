"""
PSF models
==========

:mod:`deconvkit.psf` computes theoretical point spread functions from the optics, in µm:
the numerical aperture, the emission wavelength, the refractive indices of the immersion
and of the sample, and the depth below the coverslip. Every model returns a float32 ZYX
array of odd sizes, centred on its middle voxel and normalized to sum 1, ready for
:func:`deconvkit.deconvolve`.

* :func:`~deconvkit.psf.gaussian` -- the separable Gaussian of Zhang, Zerubia &
  Olivo-Marin (2007), a fast approximation;
* :func:`~deconvkit.psf.born_wolf` -- scalar diffraction, aberration-free;
* :func:`~deconvkit.psf.gibson_lanni` -- scalar, with the aberration of a refractive-index
  mismatch between immersion and sample (Gibson & Lanni 1991), growing with depth;
* :func:`~deconvkit.psf.vectorial` -- Richards--Wolf vectorial diffraction for high NA;
* :func:`~deconvkit.psf.confocal` -- excitation times the emission seen through a pinhole.

The maths of each is on the :doc:`../psf` page.
"""

# %%
# One objective, five models
# --------------------------
# An NA 1.4 oil objective (:math:`n_i = 1.515`) at 520 nm, voxels of 0.15 × 0.08 × 0.08 µm.
# The Gibson--Lanni PSF images a watery sample (:math:`n_s = 1.33`) 5 µm below the
# coverslip: the mismatch stretches the PSF axially, makes it asymmetric and shifts its
# peak (the focal shift).
import os

import matplotlib.pyplot as plt
import numpy as np

import deconvkit as dk

QUICK = os.environ.get("DECONVKIT_DOCS_QUICK") == "1"
spacing = (0.15, 0.08, 0.08)
shape = (41, 49, 49) if QUICK else (61, 81, 81)
optics = {"na": 1.4, "wavelength": 0.52, "ni": 1.515}
models = {
    "gaussian": dk.psf.gaussian(shape, spacing, **optics),
    "born_wolf": dk.psf.born_wolf(shape, spacing, **optics),
    "gibson_lanni\n5 µm in water": dk.psf.gibson_lanni(shape, spacing, **optics, ns=1.33,
                                                         depth=5.0),
    "vectorial": dk.psf.vectorial(shape, spacing, **optics),
    "confocal\npinhole 1 AU": dk.psf.confocal(shape, spacing, **optics,
                                              excitation_wavelength=0.488, pinhole=1.0),
}
for name, psf in models.items():
    print(f"{name.splitlines()[0]:<14}{psf.dtype}  sum {psf.sum():.4f}  shape {psf.shape}")

# %%
# What each one measures
# ----------------------
# :func:`deconvkit.psf.describe` measures the widths at half maximum through the peak,
# the peak's offset from the centre and the fraction of frequencies the OTF transmits.
print(f"{'model':<14}{'FWHM xy':>9}{'FWHM z':>9}{'peak dz':>9}{'OTF support':>13}")
for name, psf in models.items():
    d = dk.psf.describe(psf, spacing)
    print(f"{name.splitlines()[0]:<14}{d.fwhm_lateral:>8.3f} {d.fwhm_axial:>8.3f} "
          f"{d.peak_offset[0]:>+8.2f} {100 * d.otf_support:>11.1f} %")

# %%
# XZ sections on a log scale
# --------------------------
# Through the centre, with the true aspect ratio: the hourglass of widefield
# PSFs, its asymmetry with a mismatch, and the confocal pinhole's cut of the cone.
nz, ny, nx = shape
extent = (-nx // 2 * spacing[2], nx // 2 * spacing[2], nz // 2 * spacing[0],
          -nz // 2 * spacing[0])
fig, axes = plt.subplots(1, len(models), figsize=(2.3 * len(models), 3.3),
                         layout="constrained", sharey=True)
for ax, (name, psf) in zip(axes, models.items()):
    section = psf[:, ny // 2, :] / psf.max()
    image = ax.imshow(np.log10(np.maximum(section, 1e-4)), cmap="inferno", vmin=-4, vmax=0,
                      extent=extent)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("x (µm)")
axes[0].set_ylabel("z (µm)")
fig.colorbar(image, ax=axes, shrink=0.8, label=r"$\log_{10} h / h_{max}$")
plt.show()

# %%
# Axial profiles
# --------------
# Along the optical axis through the lateral centre: the Gaussian fits the central lobe
# and misses the side lobes; the mismatch moves the peak away from the nominal focus.
z = (np.arange(nz) - nz // 2) * spacing[0]
fig, ax = plt.subplots(figsize=(5.5, 3), layout="constrained")
for name, psf in models.items():
    ax.semilogy(z, np.maximum(psf[:, ny // 2, nx // 2] / psf.max(), 1e-5),
                label=name.replace("\n", ", "))
ax.set_xlabel("z (µm)")
ax.set_ylabel("h / max h")
ax.legend(fontsize=8)
plt.show()

# %%
# Sections and OTF of one model
# -----------------------------
# :func:`deconvkit.psf.plot` draws the three orthogonal sections through the peak and
# the magnitude of the OTF: the *missing cone* around the axial frequency axis is why
# widefield data cannot be restored axially as well as laterally.
fig = dk.psf.plot(models["born_wolf"], spacing)
plt.show()
