"""
Real data: confocal nuclei, scored without a ground truth
=========================================================

:mod:`deconvkit.data` reads real microscope stacks that a package of the index installs
(``pip install 'deconvkit[data]'``), never from the network, each with its voxel size
and what is known of the optics. Here: the nuclei channel of scikit-image's ``cells3d``
(Allen Institute for Cell Science), human iPS cells stained with Hoechst and imaged on a
spinning-disk confocal with a 100×/1.25 water objective, binned to voxels of
0.29 × 0.26 × 0.26 µm.

There is no ground truth, so the methods are compared by what can be measured on the
data alone: line profiles across nuclei (sharper edges, no ringing, no negative
overshoot), and the radially averaged power spectrum against the band the optics can
transmit (the OTF support): power restored inside the band is signal the blur had
attenuated, power outside it can only be noise or the prior's invention.
"""

# %%
# The stack and its optics
# ------------------------
import os

import matplotlib.pyplot as plt
import numpy as np

import deconvkit as dk
import deconvkit.data
from deconvkit.compare import otf_support, radial_spectra

QUICK = os.environ.get("DECONVKIT_DOCS_QUICK") == "1"
image, meta = deconvkit.data.cells3d_nuclei()
print(image.shape, image.dtype, "voxel", meta.spacing, "µm")
print(f"{meta.modality}, NA {meta.na} {meta.immersion} (n = {meta.ni}), "
      f"excitation {meta.excitation_wavelength} µm, emission {meta.emission_wavelength} µm")
print("licence:", meta.licence)

# a central window (the whole stack in the full build of this page)
ny, nx = (128, 128) if QUICK else (192, 192)
y0, x0 = (image.shape[1] - ny) // 2, (image.shape[2] - nx) // 2
image = image[:, y0:y0 + ny, x0:x0 + nx]
spacing = meta.spacing

# %%
# A PSF from the optics
# ---------------------
# :meth:`~deconvkit.data.SampleMeta.psf_parameters` gives the model's keyword arguments:
# a confocal PSF (excitation × emission through a pinhole of about one Airy unit) for
# a water objective in a watery sample, so no refractive-index mismatch.
psf = dk.psf.confocal((21, 31, 31), spacing, **meta.psf_parameters())
print(dk.psf.describe(psf, spacing))

# %%
# The lateral sampling (0.26 µm) is coarser than the Nyquist step of this objective
# (:math:`\lambda / 4\,\mathrm{NA} \approx 0.09` µm): scikit-image binned the original
# 0.065 µm pixels 4×. The PSF is then barely two voxels wide laterally, and most of the
# gain is expected along z.
lateral_band, axial_band = otf_support(psf, spacing, image.shape)
print(f"OTF support: {lateral_band:.2f} cycles/µm laterally (the grid holds up to "
      f"{np.hypot(0.5 / spacing[1], 0.5 / spacing[2]):.2f} in its corners), "
      f"{axial_band:.2f} axially (Nyquist {0.5 / spacing[0]:.2f})")

# %%
# Three methods
# -------------
# Richardson--Lucy (maximum likelihood under Poisson noise), RL with total variation,
# and the closed-form Wiener filter. The intensities are the camera's 16-bit values,
# not photon counts, and the background (the camera offset and out-of-focus haze) is
# estimated from the data (``background="auto"``).
n_iter = 15 if QUICK else 30
common = {"background": "auto", "spacing": spacing}
estimates = {
    "RL": dk.deconvolve(image, psf, method="rl", max_iter=n_iter, **common),
    "RL-TV": dk.deconvolve(image, psf, method="rltv", lam=0.03, max_iter=n_iter, **common),
    "Wiener": dk.deconvolve(image, psf, method="wif", nsr=0.01, **common),
}

# %%
# Orthogonal views
# ----------------
# The brightest plane of the stack (XY) and a section along z (XZ) through its brightest
# row (the orange line), with the true aspect ratio; each panel at its own contrast.
panels = [("image", image)] + list(estimates.items())
z_mid = int(np.argmax(image.mean(axis=(1, 2))))  # the brightest plane
y_mid = int(np.argmax(image[z_mid].mean(axis=1)))  # and its brightest row
nz = image.shape[0]
fig, axes = plt.subplots(2, len(panels), figsize=(2.6 * len(panels), 4.2),
                         gridspec_kw={"height_ratios": [ny * spacing[1], nz * spacing[0]]},
                         layout="constrained")
for (name, volume), (top, bottom) in zip(panels, axes.T):
    low, high = np.percentile(volume, [0.5, 99.8])
    top.imshow(volume[z_mid], cmap="gray", vmin=low, vmax=high,
               extent=(0, nx * spacing[2], ny * spacing[1], 0))
    top.axhline(y_mid * spacing[1], color="tab:orange", lw=0.6)
    bottom.imshow(volume[:, y_mid], cmap="gray", vmin=low, vmax=high,
                  extent=(0, nx * spacing[2], nz * spacing[0], 0))
    top.set_title(name, fontsize=9)
    for ax in (top, bottom):
        ax.set_xticks([])
        ax.set_yticks([])
plt.show()

# %%
# Line profiles
# -------------
# Along x through the plane above (the orange line), and along z through the brightest
# column of that line; each estimate scaled to the image's flux so the curves overlay.
# Deconvolution should steepen the nuclei's edges and deepen the gaps between them
# without ringing below the background.
line = image[z_mid, y_mid]
column = int(np.argmax(line))
fig, (lateral, axial) = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
for name, volume in panels:
    scale = image.sum() / max(float(volume.sum()), 1e-12)
    lateral.plot(np.arange(nx) * spacing[2], scale * volume[z_mid, y_mid], label=name)
    axial.plot(np.arange(nz) * spacing[0], scale * volume[:, y_mid, column], label=name)
lateral.set_xlabel("x (µm)")
axial.set_xlabel("z (µm)")
lateral.set_ylabel("intensity (image's scale)")
axial.legend(fontsize=8)
plt.show()

# %%
# Power spectra and the signal band
# ---------------------------------
# :func:`deconvkit.compare.radial_spectra` averages :math:`|\hat v|^2` over lateral
# rings and over axial planes (the mean removed). Deconvolution removes the background
# and so changes the contrast of everything: each estimate is scaled so that its power
# at the lowest lateral frequencies, which the blur leaves almost untouched, matches the
# image's, and what remains is the gain the method brought at each frequency.
#
# At this sampling the model's OTF support reaches the grid's Nyquist frequency, so it
# cannot separate signal from noise. The image's own spectrum can: it falls until it
# meets the flat floor of the noise (white, the same at every frequency). Take the floor
# as the median power over the highest fifth of frequencies, and the *signal band* as
# the frequencies where the image's power is still above twice the floor (the dashed
# lines).
raw = {name: radial_spectra(volume, spacing) for name, volume in panels}
lowest = slice(1, 4)
spectra = {}
for name, spectrum in raw.items():
    factor = np.median(raw["image"].lateral[lowest] / np.maximum(spectrum.lateral[lowest],
                                                                 1e-30))
    spectra[name] = {"lateral": spectrum.lateral * factor, "axial": spectrum.axial * factor}
frequencies = {"lateral": raw["image"].lateral_frequency, "axial": raw["image"].axial_frequency}
bands = {}
for axis, frequency in frequencies.items():
    reference = spectra["image"][axis]
    floor = np.median(reference[frequency >= 0.8 * frequency.max()])
    bands[axis] = frequency[np.nonzero(reference > 2 * floor)[0].max()]

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for ax, (axis, frequency) in zip(axes, frequencies.items()):
    for name, spectrum in spectra.items():
        ax.semilogy(frequency[1:], spectrum[axis][1:], label=name)
    ax.axvline(bands[axis], color="k", ls="--", lw=1)
    ax.set_xlabel(f"{axis} frequency (cycles/µm)")
axes[0].set_ylabel("power")
axes[1].legend(fontsize=8)
plt.show()

# %%
# A number per method: power gained in the signal band, and in the noise
# -----------------------------------------------------------------------
# Each estimate's power over the image's, averaged over the upper half of the signal
# band (where the blur attenuates most) and beyond it (noise only). A useful
# deconvolution raises the first well above 1 and keeps the second low.
print(f"{'axis':<9}{'method':<8}{'band (cycles/µm)':>17}{'gain in band':>14}"
      f"{'gain in noise':>15}")
for axis, frequency in frequencies.items():
    upper = (frequency > 0.5 * bands[axis]) & (frequency <= bands[axis])
    noise = frequency > bands[axis]
    for name, spectrum in spectra.items():
        if name == "image":
            continue
        ratio = spectrum[axis] / spectra["image"][axis]
        print(f"{axis:<9}{name:<8}{bands[axis]:>17.2f}{np.mean(ratio[upper]):>14.2f}"
              f"{np.mean(ratio[noise]):>15.2f}")

# %%
# The Wiener filter lifts the noise the most: a linear filter amplifies the noise with
# the signal at every frequency. Unregularized RL's gain in the noise grows with its
# iterations (stopping early is its only regularization); total variation keeps the
# gain in the noise below the gain in the band, for a little less of the latter.
