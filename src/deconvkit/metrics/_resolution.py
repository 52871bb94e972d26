r"""Resolution measured without a ground truth, per direction (lateral YX, axial Z), in µm.

Four estimators, one result type (:class:`Resolution`, one :class:`ResolutionCurve`
per direction):

:func:`frc`
    Fourier ring (2D) / shell (3D) correlation of two images of the same field
    with independent noise.
:func:`checkerboard_frc`
    One image split into two by a checkerboard of its lateral pixels (Koho et
    al., *Nat. Commun.* 10, 3103, 2019), with Koho's correction of the
    frequency scale.
:func:`thinning_frc`
    One image of photon counts split into two by binomial thinning (Rieger et
    al., "Single image Fourier ring correlation", *Opt. Express* 32, 2024).
:func:`decorrelation`
    Decorrelation analysis of one image (Descloux, Grußmayer & Radenovic,
    *Nat. Methods* 16, 918, 2019).

**Correlation.** With :math:`F_1, F_2` the DFTs of the two (mean-subtracted,
Tukey-windowed) images and :math:`S_m` the voxels of shell :math:`m`,

.. math:: \mathrm{FSC}(k_m) = \frac{\operatorname{Re}\sum_{S_m} F_1 F_2^*}
          {\sqrt{\sum_{S_m} |F_1|^2 \sum_{S_m} |F_2|^2}} .

Frequencies are physical, :math:`k = (k_z, k_y, k_x)` in 1/µm on the grid
:math:`k_i = j / (n_i \Delta_i)`, so anisotropic voxels need no resampling: a
shell is :math:`|\,|k| - k_m| < \delta/2` with :math:`k_m = m\,\delta`.

**Directions (sectioned FSC).** A 3D spectrum is cut by the elevation
:math:`\varphi` of :math:`k` above the lateral plane, :math:`\sin\varphi = |k_z|/|k|`:
the *lateral* sector is the wedge :math:`|\varphi| \le \alpha_{lat}` (default 10°),
the *axial* sector the double cone :math:`|\varphi| \ge 90° - \alpha_{ax}` (default
45°), as in Koho et al.'s sectioned FSC. Each sector has its own shells: width
:math:`\delta` = the coarsest frequency step of its axes (:math:`\max(1/(n_y\Delta_y),
1/(n_x\Delta_x))` lateral, :math:`1/(n_z\Delta_z)` axial), up to its sampling limit
:math:`k_{max} = 1/(2\max(\Delta_y, \Delta_x))` lateral, :math:`1/(2\Delta_z)` axial.
A 2D image (or a single plane) has rings over the whole spectrum, lateral only.
A widefield OTF is empty in a cone about :math:`k_z` (the missing cone, half-angle
:math:`90° - \arcsin(\mathrm{NA}/n)`), so the axial cone must be wider than that
to hold any signal; its figure then mixes the axial and oblique directions.

**Thresholds.** ``"1/7"``: :math:`T = 1/7`. ``"half-bit"`` (van Heel & Schatz,
*J. Struct. Biol.* 151, 250, 2005), with :math:`n_m` the voxels of the shell (full
spectrum):

.. math:: T_{1/2}(n) = \frac{0.2071 + 1.9102/\sqrt{n}}{1.2071 + 0.9102/\sqrt{n}} .

**Reading.** The crossing :math:`k_c` is the first frequency where the curve falls
below the threshold after having been above it (linear interpolation between shells;
the half-bit threshold starts near 1 on the first, smallest shells); the resolution is
:math:`1/k_c` µm, with ``status="measured"``. When the curve stays above the
threshold to :math:`k_{max}`: ``status="sampling-limited"`` and the resolution is
the sampling limit :math:`1/k_{max}` (:math:`2\Delta`): the data resolve at least
that. A shared signal is strongest at the lowest frequencies, so the curve must be
above the threshold by its third shell, and beyond noise somewhere above it — the
correlation of independent noise has standard deviation :math:`1/\sqrt{n_m}`, so
we ask for :math:`\mathrm{FSC} > 3/\sqrt{n_m}` in one shell before the crossing;
otherwise the images share no signal: ``status="uncorrelated"``, resolution NaN. Two
independent noise images give that; two identical images, ``"sampling-limited"``.

**Checkerboard.** Each plane's pixels split into :math:`(2i, 2j)` / :math:`(2i+1, 2j+1)`
and :math:`(2i, 2j+1)` / :math:`(2i+1, 2j)`: two pairs of sub-images with voxel
:math:`(\Delta_z, 2\Delta_y, 2\Delta_x)`, whose correlation curves are averaged.
The pair's diagonal offset and its quarter photon budget lower the curve;
Koho et al. fitted the correction of the lateral frequency scale
:math:`k \mapsto 2\,c(x)\,k`, :math:`x = k/k^{sub}_{max}`,
:math:`c(x) = 0.95988\,e^{13.90442\,(x - 0.97979)} + 0.55146`
(``miplib``'s constants), capped here at the full image's sampling limit. Z is not
split, and the axial figure is left uncorrected (a conservative figure).

**Thinning.** Counts :math:`n = \mathrm{round}((y - \text{offset})/\text{gain})`
split as :math:`n_1 \sim \mathrm{Binomial}(n, 1/2)`, :math:`n_2 = n - n_1`; for
Poisson counts the halves are independent Poisson images of half the mean, and
their FSC is read as above (the figure of a half-dose image: slightly
pessimistic). Read noise, gain or offset errors break the independence.

**Decorrelation.** With :math:`\hat I = F/|F|` (normalized spectrum), :math:`F` the
spectrum of the (mean-subtracted, windowed) image, :math:`H_g` a Gaussian high-pass and
:math:`\rho = |k|/k_{max}`,

.. math:: d_g(r) = \frac{\sum_{\rho < r} \operatorname{Re}(H_g F\,\hat I^*)}
          {\sqrt{\sum_{\rho<1} |H_g F|^2}\,\sqrt{\sum_{\rho < r} |\hat I|^2}}
        = \frac{\sum_{\rho < r} H_g |F|}{\sqrt{\sum_{\rho<1} H_g^2 |F|^2}\; \sqrt{N(\rho < r)}},

:math:`H_g(\rho) = 1 - e^{-\pi^2 g^2 \rho^2 / 2}` (an image minus its Gaussian blur
of :math:`g` sampling steps), :math:`H = 1` for :math:`d_0`. Each curve's peak
:math:`(r_g, A_g)` is a candidate: its maximum or, while that is the last sample, the
highest earlier sample that stands 0.001 above the rest of the curve (the authors'
rule); :math:`g` runs geometrically from :math:`2/r_0` to 0.15; candidates with
:math:`A_g \ge 0.05` count, and :math:`k_c = k_{max} \max_g r_g`, resolution
:math:`1/k_c`. Since :math:`H_g` is radial, every curve is a cumulative sum of one
radial histogram of :math:`|F|` (one FFT for all curves), so a dense single pass
(``n_radii`` radii, ``n_highpass`` filters) replaces the two-pass refinement of
the authors' code. No candidate: ``"uncorrelated"`` (a white spectrum: pure noise,
or an image with no blur at all, which one image cannot tell apart).

**Limits.** These figures are the highest frequency at which the data hold signal
above noise, not a PSF width: they depend on the photon count and on the object
(sparse bright structure reaches the optical cutoff :math:`\lambda/(2\mathrm{NA})`,
dim or smooth content stops short of it). The window (and the field's edges) leak a
little of the strong low-frequency power to every frequency; at high SNR that leak
is shared by both images and can carry the crossing beyond the optical cutoff —
``window=1`` (Hann) leaks far less, at the price of a noisier curve. In a widefield
stack the same leak along :math:`k_z` of the in-focus signal fills the missing cone,
so axial figures come out well below the axial FWHM: read them as the axial extent
of the sampled signal. The checkerboard needs noise independent from pixel to pixel
(a raw image: not deconvolved, interpolated or filtered) and pixels of about
:math:`\lambda/(8\mathrm{NA})` or finer, else its sub-images undersample the image
and the fitted correction extrapolates (a note says so). See ``docs/resolution.md``
for the measured figures.

Inputs are ZYX (or YX) arrays, NumPy or CuPy (the array module comes from
:func:`deconvkit.backend.namespace`); spacing ``(dz, dy, dx)`` in µm. Bad input —
NaN/Inf, a constant image, two shapes, a direction along a 1-voxel-thick axis —
raises ``ValueError`` with one line naming the problem.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b = rng.normal(size=(2, 64, 64))
>>> frc(a, b, (0.1, 0.1)).curves["lateral"].status
'uncorrelated'
>>> frc(a, a, (0.1, 0.1)).lateral  # identical images: the sampling limit, 2 x 0.1 µm
0.2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import backend

__all__ = [
    "DIRECTIONS",
    "METHODS",
    "THRESHOLDS",
    "Resolution",
    "ResolutionCurve",
    "checkerboard_frc",
    "decorrelation",
    "estimate_resolution",
    "frc",
    "half_bit_threshold",
    "thinning_frc",
]

METHODS = ("frc", "checkerboard", "thinning", "decorrelation")
THRESHOLDS = ("1/7", "half-bit")
DIRECTIONS = ("lateral", "axial")

#: Fewest voxels along an axis for a direction that uses it to be measured.
MIN_SIZE = 8
#: Default half-angles (degrees) of the lateral wedge and the axial cone.
LATERAL_ANGLE, AXIAL_ANGLE = 10.0, 45.0
#: A shared signal must lift the curve above the threshold within the first shells.
FIRST_SHELLS = 3
#: Default Tukey window fraction (0 disables the window).
WINDOW = 0.25
#: Koho et al.'s checkerboard correction c(x) = a exp(c (x - b)) + d (miplib).
KOHO_CORRECTION = (0.95988146, 0.97979108, 13.90441896, 0.55146136)
#: Checkerboard: a raw lateral crossing beyond this fraction of the sub-images' sampling
#: limit means they undersample the image (the fitted correction then extrapolates).
UNDERSAMPLED = 0.85
#: Decorrelation: significance of a peak over the curve after it, least amplitude,
#: smallest high-pass width (sampling steps) - the authors' values.
PEAK_MARGIN, PEAK_AMPLITUDE, HIGHPASS_MIN = 0.001, 0.05, 0.15
_AXES = "ZYX"


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolutionCurve:
    """The measurement along one direction.

    Attributes
    ----------
    direction : str
        ``"lateral"`` (YX) or ``"axial"`` (Z).
    resolution : float
        µm; the sampling limit when ``status == "sampling-limited"``, NaN when
        ``"uncorrelated"``.
    status : str
        ``"measured"``, ``"sampling-limited"`` or ``"uncorrelated"``.
    frequency : numpy.ndarray
        Spatial frequency of each sample, 1/µm (shell centres; decorrelation radii).
    correlation : numpy.ndarray
        The FRC/FSC curve, or the decorrelation curve :math:`d_0`.
    threshold : numpy.ndarray or None
        The threshold at each shell (None for decorrelation).
    crossing : float
        The frequency read (1/µm): crossing, sampling limit or decorrelation peak; NaN if none.
    counts : numpy.ndarray or None
        Voxels per shell (full spectrum), for FRC/FSC.
    highpass : numpy.ndarray or None
        Decorrelation curves of the high-passed images, shape ``(n_highpass, n_radii)``.
    peaks : numpy.ndarray or None
        Decorrelation candidates ``(frequency 1/µm, amplitude)``, one row per curve
        (:math:`d_0` first); frequency NaN where a curve has no peak.
    """

    direction: str
    resolution: float
    status: str
    frequency: np.ndarray
    correlation: np.ndarray
    threshold: np.ndarray | None
    crossing: float
    counts: np.ndarray | None = None
    highpass: np.ndarray | None = None
    peaks: np.ndarray | None = None

    def describe(self) -> str:
        """``0.245 µm``, ``0.200 µm or finer (the sampling limit)`` or ``none: ...``."""
        if self.status == "uncorrelated":
            return "none: no correlation above noise"
        if self.status == "sampling-limited":
            return f"{self.resolution:.3f} µm or finer (the sampling limit)"
        return f"{self.resolution:.3f} µm"


@dataclass(frozen=True)
class Resolution:
    """Resolution per direction, with the curves it was read from.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    spacing : tuple of 3 floats
        Voxel size (dz, dy, dx), µm.
    shape : tuple of int
        Shape of the (first) image.
    threshold : str or None
        ``"1/7"``, ``"half-bit"`` or ``"fixed=..."``; None for decorrelation.
    curves : mapping of str to ResolutionCurve
        ``"lateral"`` and, when measured, ``"axial"``.
    notes : tuple of str
        What was not measured and why.
    """

    method: str
    spacing: tuple[float, float, float]
    shape: tuple[int, ...]
    threshold: str | None
    curves: Mapping[str, ResolutionCurve]
    notes: tuple[str, ...] = field(default=())

    @property
    def lateral(self) -> float:
        """Lateral (YX) resolution, µm (NaN when not measured or uncorrelated)."""
        return self._value("lateral")

    @property
    def axial(self) -> float:
        """Axial (Z) resolution, µm (NaN when not measured or uncorrelated)."""
        return self._value("axial")

    def _value(self, direction: str) -> float:
        curve = self.curves.get(direction)
        return float("nan") if curve is None else curve.resolution

    def __str__(self) -> str:
        labels = {"lateral": "lateral (YX)", "axial": "axial (Z)"}
        steps = self.spacing if self.shape[0] > 1 else self.spacing[1:]
        lines = [f"resolution by {self.method}"
                 + (f" (threshold {self.threshold})" if self.threshold else "")
                 + f", {'voxel' if self.shape[0] > 1 else 'pixel'} "
                 + f"{' x '.join(f'{d:g}' for d in steps)} µm"]
        for direction in DIRECTIONS:
            if direction in self.curves:
                lines.append(f"  {labels[direction]:<13} {self.curves[direction].describe()}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def plot(self, axes: Sequence[Any] | None = None) -> Any:
        """Draw each direction's curve, its threshold (or high-pass curves) and the reading.

        Parameters
        ----------
        axes : sequence of matplotlib Axes, optional
            One per measured direction (lateral first); by default a new figure.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            When matplotlib is missing (``pip install deconvkit[plot]``).
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as error:  # pragma: no cover - exercised without matplotlib
            raise ImportError("Resolution.plot needs matplotlib; install it with: "
                              "pip install deconvkit[plot]") from error
        curves = [self.curves[d] for d in DIRECTIONS if d in self.curves]
        if axes is None:
            figure = Figure(figsize=(4.5 * len(curves), 3.6), layout="constrained")
            axes = figure.subplots(1, len(curves), squeeze=False)[0]
        if len(axes) != len(curves):
            raise ValueError(f"plot needs {len(curves)} axes (one per direction), got {len(axes)}")
        for ax, curve in zip(axes, curves):
            _draw(ax, curve, self.method, self.threshold)
        return axes[0].figure


def _draw(ax: Any, curve: ResolutionCurve, method: str, threshold: str | None) -> None:
    if curve.highpass is not None:
        radii = curve.frequency
        for row in curve.highpass:
            ax.plot(radii, row, color="0.6", lw=0.7)
        ax.plot(radii, curve.correlation, color="tab:green", lw=2, label="$d_0$")
        if curve.peaks is not None:
            ax.plot(curve.peaks[:, 0], curve.peaks[:, 1], "x", color="tab:blue", label="peaks")
        ax.set_ylabel("decorrelation")
    else:
        ax.plot(curve.frequency, curve.correlation, color="tab:blue", lw=1.5,
                label="FRC/FSC" if method == "frc" else f"FRC/FSC ({method})")
        ax.plot(curve.frequency, curve.threshold, "--", color="tab:red",
                label=f"threshold {threshold}")
        ax.axhline(0, color="0.8", lw=0.7)
        ax.set_ylabel("correlation")
    if math.isfinite(curve.crossing):
        ax.axvline(curve.crossing, color="k", lw=1)
    ax.set_xlabel("spatial frequency (1/µm)")
    ax.set_title(f"{curve.direction}: {curve.describe()}", fontsize="medium")
    ax.set_ylim(-0.2 if curve.highpass is None else 0, 1.05)
    ax.legend(fontsize="small", loc="best")


# -- checks -------------------------------------------------------------------------------


def _check_image(image: Any, what: str) -> Any:
    """``image`` as a real 3D array (a YX image gets a Z axis of 1), finite and not constant."""
    xp = backend.namespace(image)
    array = image if backend.backend_of(image) != "numpy" else np.asarray(image)
    if array.dtype.kind == "c":
        raise ValueError(f"{what} is complex ({array.dtype}); give a real image")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be an array of numbers, got {array.dtype}")
    if array.ndim not in (2, 3):
        raise ValueError(f"{what} must be a ZYX stack or a YX image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} is empty (shape {array.shape})")
    dtype = np.float32 if array.dtype in (np.float32, np.float16) or array.dtype.kind in "biu" \
        and array.dtype.itemsize <= 2 else np.float64
    array = xp.asarray(array, dtype=dtype)
    if array.ndim == 2:
        array = array[None]
    finite = xp.isfinite(array)
    if not bool(finite.all()):
        bad = int(array.size - int(finite.sum()))
        kind = "NaN" if bool(xp.isnan(array).any()) else "Inf"
        raise ValueError(f"{what} contains {bad} {kind} values; replace or crop them first")
    low, high = float(array.min()), float(array.max())
    if low == high:
        raise ValueError(f"{what} is constant (every voxel is {low:g}): it holds no structure "
                         f"whose resolution could be measured")
    return array


def _check_spacing(spacing: Any, shape: tuple[int, ...]) -> tuple[float, float, float]:
    values = (spacing,) * 3 if np.isscalar(spacing) else tuple(spacing)
    if len(values) == 2 and shape[0] > 1:
        raise ValueError(f"a stack of {shape[0]} planes needs the spacing (dz, dy, dx) in µm; "
                         f"got {spacing!r}")
    if len(values) == 2:
        values = (1.0, *values)
    if len(values) != 3 or not all(isinstance(v, (int, float, np.number)) and
                                   math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must be positive voxel sizes (dz, dy, dx) in µm, or (dy, dx) "
                         f"for a YX image; got {spacing!r}")
    return (float(values[0]), float(values[1]), float(values[2]))


def _threshold_name(threshold: str | float) -> str:
    if isinstance(threshold, str):
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {', '.join(THRESHOLDS)} or a number in "
                             f"(0, 1); got {threshold!r}")
        return threshold
    if not 0 < float(threshold) < 1:
        raise ValueError(f"a fixed threshold must lie in (0, 1); got {threshold!r}")
    return f"fixed={float(threshold):g}"


def half_bit_threshold(counts: Any) -> np.ndarray:
    r"""The half-bit threshold :math:`(0.2071 + 1.9102/\sqrt n)/(1.2071 + 0.9102/\sqrt n)`.

    Parameters
    ----------
    counts : array_like
        Voxels in each shell, over the full (Hermitian) spectrum.

    Returns
    -------
    numpy.ndarray
        The threshold per shell (1 where a shell is empty).
    """
    n = np.asarray(counts, dtype=np.float64)
    root = 1.0 / np.sqrt(np.maximum(n, 1.0))
    value = (0.2071 + 1.9102 * root) / (1.2071 + 0.9102 * root)
    return np.where(n > 0, value, 1.0)


def _threshold_curve(name: str, counts: np.ndarray) -> np.ndarray:
    if name == "half-bit":
        return half_bit_threshold(counts)
    value = 1 / 7 if name == "1/7" else float(name.split("=")[1])
    return np.full(counts.shape, value)


def _directions(requested: str | Sequence[str] | None, shape: tuple[int, int, int],
                sizes: tuple[int, int, int] | None = None) -> tuple[tuple[str, ...], list[str]]:
    """The directions to measure and notes on those left out (``sizes`` after any split)."""
    sizes = sizes or shape
    names = {"Z": "axial", "Y": "lateral", "X": "lateral"}

    def problem(axis: int) -> str | None:
        n, label = sizes[axis], _AXES[axis]
        if shape[axis] == 1:
            return (f"the image is 1 voxel thick along {label}: its {names[label]} resolution "
                    f"cannot be measured")
        if n < MIN_SIZE:
            return (f"the image has {n} voxels along {label}"
                    + (" after the split" if sizes[axis] != shape[axis] else "")
                    + f": its {names[label]} resolution cannot be measured (at least "
                    f"{MIN_SIZE} needed)")
        return None

    if requested is None:
        wanted, automatic = DIRECTIONS, True
    else:
        wanted = (requested,) if isinstance(requested, str) else tuple(requested)
        automatic = False
        unknown = [d for d in wanted if d not in DIRECTIONS]
        if unknown or not wanted:
            raise ValueError(f"directions must be among {', '.join(DIRECTIONS)}; got {requested!r}")
    notes = []
    for axis in (1, 2):
        if "lateral" in wanted and (text := problem(axis)):
            raise ValueError(text)
    if "axial" in wanted and (text := problem(0)):
        if not automatic:
            raise ValueError(text + "; measure the lateral direction only")
        wanted = tuple(d for d in wanted if d != "axial")
        notes.append(text if shape[0] > 1 else "a single plane: the axial resolution is not "
                     "measured")
    return tuple(d for d in DIRECTIONS if d in wanted), notes


# -- the Fourier grid ---------------------------------------------------------------------


@dataclass
class _Sector:
    """One direction's Fourier voxels: shell index per voxel (``n_bins`` = dropped)."""

    direction: str
    width: float  # shell width δ, 1/µm
    k_max: float  # sampling limit, 1/µm
    index: Any  # int array over the half spectrum
    n_bins: int


class _Grid:
    """|k| (1/µm), Hermitian weights and sector masks over an rfft half spectrum."""

    def __init__(self, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                 like: Any) -> None:
        nz, ny, nx = shape
        dz, dy, dx = spacing
        self.shape, self.spacing = shape, spacing
        xp = backend.namespace(like)
        kz = backend.asarray(np.fft.fftfreq(nz, dz), like=like)[:, None, None]
        ky = backend.asarray(np.fft.fftfreq(ny, dy), like=like)[None, :, None]
        kx = backend.asarray(np.fft.rfftfreq(nx, dx), like=like)[None, None, :]
        self.radius = xp.sqrt(kz * kz + ky * ky + kx * kx)
        self.kz = xp.abs(kz)
        weight = np.full(nx // 2 + 1, 2.0)
        weight[0] = 1.0
        if nx % 2 == 0:
            weight[-1] = 1.0  # the Nyquist column is its own mirror
        self.weight = backend.asarray(weight, like=like)[None, None, :]
        self.xp = xp

    def sector(self, direction: str, lateral_angle: float, axial_angle: float,
               fine: int = 1) -> _Sector:
        """Shells of ``direction``; ``fine`` > 1 subdivides each shell (decorrelation)."""
        nz, ny, nx = self.shape
        dz, dy, dx = self.spacing
        xp = self.xp
        if direction == "lateral":
            width = max(1 / (ny * dy), 1 / (nx * dx))
            k_max = 1 / (2 * max(dy, dx))
            inside = self.kz <= self.radius * math.sin(math.radians(lateral_angle)) + 1e-12 \
                if nz > 1 else None
        else:
            width = 1 / (nz * dz)
            k_max = 1 / (2 * dz)
            inside = self.kz >= self.radius * math.cos(math.radians(axial_angle)) - 1e-12
        width /= fine
        n_bins = math.floor(k_max / width + 1e-9)
        if fine == 1:  # shells centred on m δ, m = 1..n_bins
            index = xp.floor(self.radius / width + 0.5).astype(np.int64)
            keep = (index >= 1) & (index <= n_bins)
            index = index - 1
        else:  # bins [j h, (j+1) h) of the disc |k| < k_max
            index = xp.floor(self.radius / width).astype(np.int64)
            keep = (self.radius > 0) & (self.radius < k_max)
        if inside is not None:
            keep &= inside
        index = xp.where(keep, index, n_bins)
        return _Sector(direction, width, k_max, index, n_bins)

    def sums(self, sector: _Sector, values: Any) -> np.ndarray:
        """Weighted sums of ``values`` over each shell of ``sector`` (on the host)."""
        xp = self.xp
        total = xp.bincount(sector.index.ravel(), weights=(self.weight * values).ravel(),
                            minlength=sector.n_bins + 1)
        return backend.to_host(total)[: sector.n_bins].astype(np.float64)


def _prepare(image: Any, window: float) -> Any:
    """Subtract the mean and apply a separable Tukey window along every axis longer than 1."""
    if not 0 <= window <= 1:
        raise ValueError(f"window must be a Tukey fraction in [0, 1]; got {window!r}")
    out = image - image.mean()
    if window == 0:
        return out
    from scipy.signal.windows import tukey

    for axis, n in enumerate(image.shape):
        if n > 1:
            shape = [1, 1, 1]
            shape[axis] = n
            taper = backend.asarray(tukey(n, window).astype(image.dtype), like=image)
            out = out * taper.reshape(shape)
    return out


# -- correlation between two images -------------------------------------------------------


def _correlation_sums(grid: _Grid, sector: _Sector, f1: Any, f2: Any) -> tuple[np.ndarray, ...]:
    xp = grid.xp
    cross = grid.sums(sector, xp.real(f1 * xp.conj(f2)))
    power1 = grid.sums(sector, xp.real(f1 * xp.conj(f1)))
    power2 = grid.sums(sector, xp.real(f2 * xp.conj(f2)))
    counts = grid.sums(sector, xp.ones(f1.shape, dtype=np.float32))
    return cross, power1, power2, counts


def _read_curve(direction: str, frequency: np.ndarray, correlation: np.ndarray,
                threshold: np.ndarray, counts: np.ndarray, k_max: float,
                scale: Any = None) -> ResolutionCurve:
    """Find the crossing on a correlation curve; ``scale`` maps raw to corrected frequency."""
    keep = counts > 0
    frequency, correlation = frequency[keep], correlation[keep]
    threshold, counts = threshold[keep], counts[keep]
    scale = scale or (lambda k: k)
    above = correlation >= threshold
    start = int(np.argmax(above))  # a curve may start below a half-bit threshold (few voxels)
    fall = np.flatnonzero(~above[start:])
    first = start + int(fall[0]) if fall.size else len(correlation)
    noise = 3.0 / np.sqrt(counts[start:first])
    if not above[:FIRST_SHELLS].any() or not bool(np.any(correlation[start:first] > noise)):
        status, crossing = "uncorrelated", float("nan")
    elif first == len(correlation):
        status, crossing = "sampling-limited", float(k_max)
    else:
        above = correlation[first - 1] - threshold[first - 1]
        under = correlation[first] - threshold[first]
        t = above / (above - under)
        raw = frequency[first - 1] + t * (frequency[first] - frequency[first - 1])
        status, crossing = "measured", float(scale(raw))
        if crossing >= k_max:
            status, crossing = "sampling-limited", float(k_max)
    resolution = 1.0 / crossing if math.isfinite(crossing) else float("nan")
    return ResolutionCurve(direction, resolution, status, np.asarray(scale(frequency)),
                           correlation, threshold, crossing, counts)


def _fsc_curves(pairs: Sequence[tuple[Any, Any]], spacing: tuple[float, float, float],
                directions: tuple[str, ...], threshold: str, lateral_angle: float,
                axial_angle: float, lateral_scale: Any = None,
                k_limits: Mapping[str, float] | None = None) -> dict[str, ResolutionCurve]:
    """FSC per direction of one or more image pairs (their curves averaged)."""
    shape = pairs[0][0].shape
    grid = _Grid(shape, spacing, like=pairs[0][0])
    spectra = [(backend.rfftn(a, axes=(0, 1, 2)), backend.rfftn(b, axes=(0, 1, 2)))
               for a, b in pairs]
    curves = {}
    for direction in directions:
        sector = grid.sector(direction, lateral_angle, axial_angle)
        correlation, counts = 0.0, None
        for f1, f2 in spectra:
            cross, power1, power2, counts = _correlation_sums(grid, sector, f1, f2)
            with np.errstate(divide="ignore", invalid="ignore"):
                correlation = correlation + np.where(counts > 0, cross / np.sqrt(power1 * power2),
                                                     0.0)
        correlation = np.nan_to_num(correlation / len(spectra))
        frequency = sector.width * np.arange(1, sector.n_bins + 1)
        k_max = (k_limits or {}).get(direction, sector.k_max)
        curves[direction] = _read_curve(
            direction, frequency, correlation, _threshold_curve(threshold, counts), counts,
            k_max, lateral_scale if direction == "lateral" else None)
    return curves


def frc(image1: Any, image2: Any, spacing: float | Sequence[float], *,
        threshold: str | float = "1/7", directions: str | Sequence[str] | None = None,
        window: float = WINDOW, lateral_angle: float = LATERAL_ANGLE,
        axial_angle: float = AXIAL_ANGLE) -> Resolution:
    """Fourier ring/shell correlation of two images with independent noise, per direction.

    Parameters
    ----------
    image1, image2 : array, shape (nz, ny, nx) or (ny, nx)
        Two acquisitions of the same field (NumPy or CuPy).
    spacing : float or sequence of float
        Voxel size (dz, dy, dx) in µm ((dy, dx) for a YX image).
    threshold : {"1/7", "half-bit"} or float
        The threshold curve (a number is a fixed threshold).
    directions : {"lateral", "axial"} or sequence of them, optional
        Default: lateral, and axial when the stack has at least 8 planes.
    window : float
        Tukey window fraction applied along every axis (0: none).
    lateral_angle, axial_angle : float
        Half-angles in degrees of the lateral wedge and the axial cone (see the module).

    Returns
    -------
    Resolution

    Raises
    ------
    ValueError
        Different shapes, NaN/Inf, a constant image, a direction along a too-thin axis.
    """
    first = _check_image(image1, "the first image")
    second = _check_image(image2, "the second image")
    if first.shape != second.shape:
        raise ValueError(f"the images differ in shape, {tuple(np.shape(image1))} and "
                         f"{tuple(np.shape(image2))}: crop them to the same field first")
    spacing = _check_spacing(spacing, first.shape)
    name = _threshold_name(threshold)
    wanted, notes = _directions(directions, first.shape)
    pair = (_prepare(first, window), _prepare(second.astype(first.dtype), window))
    curves = _fsc_curves([pair], spacing, wanted, name, lateral_angle, axial_angle)
    return Resolution("frc", spacing, tuple(first.shape), name, curves, tuple(notes))


def _koho_scale(k_max_sub: float) -> Any:
    a, b, c, d = KOHO_CORRECTION

    def scale(k: Any) -> Any:
        x = np.asarray(k, dtype=np.float64) / k_max_sub
        return 2.0 * (a * np.exp(c * (x - b)) + d) * np.asarray(k, dtype=np.float64)

    return scale


def checkerboard_frc(image: Any, spacing: float | Sequence[float], *,
                     threshold: str | float = "1/7",
                     directions: str | Sequence[str] | None = None, window: float = WINDOW,
                     lateral_angle: float = LATERAL_ANGLE, axial_angle: float = AXIAL_ANGLE,
                     correction: bool = True) -> Resolution:
    """Single-image FRC/FSC by a lateral checkerboard split (Koho et al. 2019).

    Parameters
    ----------
    image : array, shape (nz, ny, nx) or (ny, nx)
        One image; its noise must be independent from pixel to pixel (a raw image,
        not a deconvolved or interpolated one).
    spacing, threshold, directions, window, lateral_angle, axial_angle
        As in :func:`frc`.
    correction : bool
        Apply Koho et al.'s correction of the lateral frequency scale (default).

    Returns
    -------
    Resolution
    """
    array = _check_image(image, "the image")
    spacing = _check_spacing(spacing, array.shape)
    name = _threshold_name(threshold)
    nz, ny, nx = array.shape
    wanted, notes = _directions(directions, array.shape, (nz, ny // 2, nx // 2))
    array = _prepare(array[:, : ny - ny % 2, : nx - nx % 2], window)
    pairs = [(array[:, 0::2, 0::2], array[:, 1::2, 1::2]),
             (array[:, 0::2, 1::2], array[:, 1::2, 0::2])]
    sub = (spacing[0], 2 * spacing[1], 2 * spacing[2])
    full_limit = 1 / (2 * max(spacing[1], spacing[2]))
    scale = _koho_scale(full_limit / 2) if correction else None
    limits = {"lateral": full_limit} if correction else None
    curves = _fsc_curves(pairs, sub, wanted, name, lateral_angle, axial_angle, scale, limits)
    lateral = curves.get("lateral")
    if lateral is not None and lateral.status != "uncorrelated":
        grid = np.linspace(0, 1, 1001)
        raw = grid if scale is None else scale(grid * full_limit / 2) / (full_limit / 2)
        fraction = float(np.interp(lateral.crossing / (full_limit / 2), raw, grid))
        if fraction >= UNDERSAMPLED:
            notes.append(f"the lateral crossing lies at {fraction:.0%} of the sub-images' sampling "
                         f"limit: they undersample the image's detail and the checkerboard "
                         f"figure is unreliable; it needs pixels of about a quarter of the "
                         f"resolution or finer (use thinning or two images)")
    return Resolution("checkerboard", spacing, (nz, ny, nx), name, curves, tuple(notes))


def _binomial_half(counts: Any, seed: Any) -> Any:
    """Binomial(counts, 1/2) on ``counts``' backend."""
    if backend.backend_of(counts) == "cupy":
        import cupy

        state = cupy.random.RandomState(None if seed is None else int(seed))
        return state.binomial(counts.astype(np.int64), 0.5).astype(counts.dtype)
    rng = np.random.default_rng(seed)
    host = rng.binomial(backend.to_host(counts).astype(np.int64), 0.5)
    return backend.asarray(host.astype(counts.dtype), like=counts)


def thinning_frc(image: Any, spacing: float | Sequence[float], *, gain: float = 1.0,
                 offset: float = 0.0, seed: Any = None, threshold: str | float = "1/7",
                 directions: str | Sequence[str] | None = None, window: float = WINDOW,
                 lateral_angle: float = LATERAL_ANGLE,
                 axial_angle: float = AXIAL_ANGLE) -> Resolution:
    """Single-image FRC/FSC by binomial thinning of photon counts (Rieger et al.).

    Parameters
    ----------
    image : array, shape (nz, ny, nx) or (ny, nx)
        A raw image whose values are ``offset + gain * photons``.
    spacing, threshold, directions, window, lateral_angle, axial_angle
        As in :func:`frc`.
    gain : float
        Camera gain, ADU per photon (1 for an image in photons).
    offset : float
        Camera offset, ADU.
    seed : int, numpy.random.Generator or None
        Seed of the split.

    Returns
    -------
    Resolution
    """
    array = _check_image(image, "the image")
    spacing = _check_spacing(spacing, array.shape)
    if not (math.isfinite(gain) and gain > 0) or not math.isfinite(offset):
        raise ValueError(f"gain must be positive and offset finite (ADU per photon, ADU); got "
                         f"gain={gain!r}, offset={offset!r}")
    name = _threshold_name(threshold)
    wanted, notes = _directions(directions, array.shape)
    xp = backend.namespace(array)
    counts = xp.maximum(xp.round((array.astype(np.float64) - offset) / gain), 0)
    if float(counts.max()) < 1:
        raise ValueError(f"the image holds no photon counts: every value of (image - {offset:g})"
                         f" / {gain:g} rounds to 0; give the camera gain (ADU per photon) and "
                         f"offset (ADU)")
    half = _binomial_half(counts, seed)
    dtype = array.dtype
    pair = (_prepare(half.astype(dtype), window), _prepare((counts - half).astype(dtype), window))
    curves = _fsc_curves([pair], spacing, wanted, name, lateral_angle, axial_angle)
    return Resolution("thinning", spacing, tuple(array.shape), name, curves, tuple(notes))


# -- decorrelation ------------------------------------------------------------------------


def _peak(curve: np.ndarray) -> int | None:
    """Index of the decorrelation peak: the maximum, or, while the maximum is the last
    sample, the maximum of the curve without it if it stands ``PEAK_MARGIN`` above the
    curve's minimum after it (Descloux et al.'s rule); None when no sample qualifies."""
    values = curve.copy()
    index = int(np.argmax(values))
    while index == values.size - 1:
        values = values[:-1]
        if values.size == 0:
            return None
        index = int(np.argmax(values))
        after = float(curve[index:].min())
        if values[index] - after > PEAK_MARGIN:
            break
        values[index] = after
        index = values.size - 1
    return index if index > 0 else None


def _decorrelation_curve(edges: np.ndarray, amplitude: np.ndarray, power: np.ndarray,
                         counts: np.ndarray, radii: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """:math:`d(r)` for one radial high-pass ``gain`` (per fine bin), at normalized ``radii``
    (``edges``: the normalized radii of the fine bins' edges)."""
    top = np.concatenate([[0.0], np.cumsum(gain * amplitude)])
    size = np.concatenate([[0.0], np.cumsum(counts)])
    norm = math.sqrt(float(np.sum(gain * gain * power)))
    numerator, n = np.interp(radii, edges, top), np.interp(radii, edges, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = numerator / (norm * np.sqrt(n))
    return np.nan_to_num(values)


def _decorrelation_direction(grid: _Grid, sector: _Sector, spectrum: Any, n_radii: int,
                             n_highpass: int) -> ResolutionCurve:
    xp = grid.xp
    magnitude = xp.abs(spectrum)
    amplitude = grid.sums(sector, magnitude)
    power = grid.sums(sector, magnitude * magnitude)
    counts = grid.sums(sector, xp.ones(magnitude.shape, dtype=np.float32))
    edges = np.arange(sector.n_bins + 1) * sector.width / sector.k_max
    centres = 0.5 * (edges[1:] + edges[:-1])
    radii = np.linspace(0, 1, n_radii)
    d0 = _decorrelation_curve(edges, amplitude, power, counts, radii,
                              np.ones(sector.n_bins))
    first = _peak(d0)
    r0 = radii[first] if first is not None else 0.0
    g_max = 2 / r0 if r0 > 0 else max(grid.shape) / 2
    widths = np.geomspace(g_max, HIGHPASS_MIN, n_highpass)
    curves, peaks = [], [(r0 if first is not None else np.nan,
                          d0[first] if first is not None else 0.0)]
    for g in widths:
        gain = 1 - np.exp(-(math.pi * g * centres) ** 2 / 2)
        curve = _decorrelation_curve(edges, amplitude, power, counts, radii, gain)
        index = _peak(curve)
        curves.append(curve)
        peaks.append((radii[index], curve[index]) if index is not None else (np.nan, 0.0))
    table = np.array(peaks, dtype=np.float64)
    valid = np.isfinite(table[:, 0]) & (table[:, 1] >= PEAK_AMPLITUDE)
    frequency = radii * sector.k_max
    table[:, 0] *= sector.k_max
    if valid.any():
        crossing = float(table[valid, 0].max())
        status, resolution = "measured", 1 / crossing
    else:
        status, crossing, resolution = "uncorrelated", float("nan"), float("nan")
    return ResolutionCurve(sector.direction, resolution, status, frequency, d0, None, crossing,
                           None, np.array(curves), table)


def decorrelation(image: Any, spacing: float | Sequence[float], *,
                  directions: str | Sequence[str] | None = None, window: float = WINDOW,
                  lateral_angle: float = LATERAL_ANGLE, axial_angle: float = AXIAL_ANGLE,
                  n_radii: int = 200, n_highpass: int = 30) -> Resolution:
    """Image-only resolution by decorrelation analysis (Descloux et al. 2019), per direction.

    Parameters
    ----------
    image : array, shape (nz, ny, nx) or (ny, nx)
        One image (raw or processed: the method reads the spectrum's shape).
    spacing, directions, window, lateral_angle, axial_angle
        As in :func:`frc`.
    n_radii : int
        Samples of the normalized radius in [0, 1].
    n_highpass : int
        Gaussian high-pass filters, widths geometric from :math:`2/r_0` to 0.15 steps.

    Returns
    -------
    Resolution
        ``threshold`` is None; each curve holds :math:`d_0` in ``correlation``, the
        high-passed curves in ``highpass`` and the candidates in ``peaks``.
    """
    array = _check_image(image, "the image")
    spacing = _check_spacing(spacing, array.shape)
    if int(n_radii) < 30 or int(n_highpass) < 10:
        raise ValueError(f"decorrelation needs n_radii >= 30 and n_highpass >= 10; got "
                         f"{n_radii} and {n_highpass}")
    wanted, notes = _directions(directions, array.shape)
    prepared = _prepare(array, window)  # d is scale-free: no need to standardize
    grid = _Grid(array.shape, spacing, like=array)
    spectrum = backend.rfftn(prepared, axes=(0, 1, 2))
    curves = {}
    for direction in wanted:
        sector = grid.sector(direction, lateral_angle, axial_angle, fine=4)
        curves[direction] = _decorrelation_direction(grid, sector, spectrum, int(n_radii),
                                                     int(n_highpass))
    return Resolution("decorrelation", spacing, tuple(array.shape), None, curves, tuple(notes))


def estimate_resolution(image: Any, image2: Any = None, *, spacing: float | Sequence[float],
                        method: str | None = None, **options: Any) -> Resolution:
    """Resolution by ``method``: :func:`frc` (two images) or a single-image estimator.

    Parameters
    ----------
    image : array
        The image, ZYX or YX.
    image2 : array, optional
        A second acquisition of the same field, for ``method="frc"``.
    spacing : float or sequence of float
        Voxel size (dz, dy, dx), µm.
    method : {"frc", "checkerboard", "thinning", "decorrelation"}, optional
        Default ``"frc"`` with two images, ``"decorrelation"`` with one.
    **options
        Passed to the estimator (``threshold``, ``directions``, ``gain``, ...).

    Returns
    -------
    Resolution
    """
    if method is None:
        method = "frc" if image2 is not None else "decorrelation"
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "frc":
        if image2 is None:
            raise ValueError("the frc method needs two images of the same field with independent "
                             "noise; with one image use checkerboard, thinning or decorrelation")
        return frc(image, image2, spacing, **options)
    if image2 is not None:
        raise ValueError(f"the {method} method measures one image; give one image, or use "
                         f"method='frc' for two")
    function = {"checkerboard": checkerboard_frc, "thinning": thinning_frc,
                "decorrelation": decorrelation}[method]
    return function(image, spacing, **options)
