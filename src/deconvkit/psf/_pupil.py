r"""A widefield PSF from a sampled 2D pupil, and its derivatives with respect to Zernike modes.

The radial models (``_scalar``, ``_vectorial``) need a rotationally symmetric
pupil; a Zernike aberration with :math:`m \ne 0` breaks that symmetry. Here
the pupil is sampled on a Cartesian grid of the normalized pupil plane
:math:`(u, v) \in [-1, 1]^2` (``n_p`` cells across, cell centres
:math:`u_i = (i + \tfrac12)\,2/n_p - 1`), and the amplitude PSF of each plane
is its 2D Fourier transform on the voxel grid,

.. math::

    a_z(x, y) = \sum_{u, v} P_z(u, v)\, e^{-2\pi i\,\mathrm{NA}\,(u x + v y)/\lambda}
              = E_y\, P_z\, E_x^{\mathsf T},

two matrix products with :math:`(E_y)_{yv} = e^{-2\pi i\,\mathrm{NA}\,v y/\lambda}`
(a matrix Fourier transform: the output grid is exactly the voxel grid, with
no wrap-around as long as the pupil is sampled above Nyquist). The pupil is

.. math::

    P_z(u, v) = \omega(u, v)\,\overline{e^{ik\,W_0}}\,
                e^{-ik (z + z_0) c_{n_i}(q)}\, e^{\,i\sum_j c_j Z_j(\rho, \varphi)}\,
                A(\rho)\, M(\rho, \varphi)

with :math:`\omega` the area of the cell inside the unit disk (the NA band
limit, with an anti-aliased edge), :math:`\overline{e^{ikW_0}}` the
cell-average of the depth/coverslip part of the Gibson–Lanni OPD (it has a
square-root kink at a critical angle that point samples alias), the exact
defocus of the plane, the Zernike phase, and for the vectorial model the
aplanatic factor :math:`A = 1/\sqrt{\cos\theta_i}` and the six fields
:math:`M_{cp}` (polarization :math:`c \in \{x, y\}` of the image field for a
dipole along :math:`p \in \{x, y, z\}`), whose intensities add for an
isotropic emitter: :math:`h = \sum_{cp} |a_{cp}|^2`.

Derivatives. With :math:`h = B(I)/\sum B(I)` (:math:`B` the voxel mean over
sub-samples) and :math:`I = \sum_m |a_m|^2`, for a cotangent :math:`G`,

.. math::

    \frac{\partial \langle G, h\rangle}{\partial c_j}
      = \sum_{u,v} Z_j\, Q, \qquad
      Q = -2\,\mathrm{Im} \sum_{m, z} P_{m,z}\,\overline{E_y^{\mathsf H}
          (g\, a_{m,z})\, \overline{E_x}}, \qquad
      g = B^{\mathsf T}\frac{G - \langle G, h\rangle}{\sum B(I)},

one adjoint matrix Fourier transform per field: the gradient with respect to
all coefficients costs about one more PSF.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np

try:  # optional: multithreaded BLAS is slower than one thread on these thin products
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - depends on the environment
    threadpool_limits = None

from ._optics import Optics, axial_cosine, optical_path_difference
from ._sampling import axial_samples, subsample_offsets
from ._zernike import zernike_polynomial

__all__ = ["PupilModel", "choose_pupil_samples"]

#: Sub-samples per cell edge for the cell-average of the depth term and the edge area.
_CELL_SUBSAMPLES = 8
#: Safety factor over Nyquist in the pupil sampling.
_SAMPLING_MARGIN = 1.3
#: Bounds of the automatic pupil sampling.
_MIN_SAMPLES, _MAX_SAMPLES = 48, 512
#: Complex values per block of planes (bounds the working memory to ~64 MiB per array).
_BLOCK_VALUES = 4_000_000
#: The per-plane defocus factors are kept when they hold at most this many values (256 MiB).
_CACHED_DEFOCUS_VALUES = 16_000_000
#: Below this many complex multiply-adds per transform, BLAS runs on one thread.
_SERIAL_BLAS_WORK = 200_000_000


def _blas_threads(work: float) -> AbstractContextManager:
    """One BLAS thread for small products (thread start-up dominates them), else unchanged."""
    if threadpool_limits is None or work > _SERIAL_BLAS_WORK:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def choose_pupil_samples(
    optics: Optics, z: np.ndarray, max_radius: float, phase_slope: float = 0.0
) -> int:
    r"""Pupil cells across the diameter: Nyquist for the pupil integrand, with a margin.

    The integrand :math:`P_z(\rho)\,e^{-ik\mathrm{NA}\,\rho\cdot x}` turns by at
    most :math:`S = \max|\partial_\rho \Phi| + k\,\mathrm{NA}\,r_{max}` radians per
    unit of :math:`\rho` (:math:`\Phi` the OPD phase over the planes, away from
    critical-angle kinks (within 0.1 of them the cell average of the depth
    phase takes over), plus ``phase_slope`` for the Zernike modes); cells of
    width :math:`2/n_p` sample it above Nyquist when :math:`n_p > 2S/\pi`.
    """
    probe = np.linspace(0.0, 1.0, 1025)
    keep = np.ones(probe.size, bool)
    for kink in optics.kinks:
        keep &= np.abs(probe - kink) > 0.1  # the cell average resolves the kink's steep part
    z = np.asarray(z, dtype=float)
    extremes = np.array([z.min(), z.max()]) if z.size else np.zeros(1)
    phase = optics.wavenumber * optical_path_difference(optics, probe, extremes).real
    slope = np.abs(np.gradient(phase, probe, axis=1))[:, keep].max()
    total = slope + phase_slope + optics.wavenumber * optics.na * max_radius
    samples = int(np.ceil(_SAMPLING_MARGIN * 2.0 * total / np.pi / 8.0)) * 8
    return int(np.clip(samples, _MIN_SAMPLES, _MAX_SAMPLES))


def _cell_average_depth_phase(
    optics: Optics, u: np.ndarray, v: np.ndarray, cell: float
) -> np.ndarray:
    r"""Mean of :math:`e^{ik\,\mathrm{OPD}(\rho, 0)}` over each square pupil cell.

    The phase depends on :math:`\rho` only: across a small cell at azimuth
    :math:`\varphi`, :math:`\rho \approx \rho_c + s_1 + s_2` with :math:`s_1, s_2`
    uniform of widths :math:`h|\cos\varphi|, h|\sin\varphi|` (:math:`h` the cell
    width), so the mean is a 2D midpoint rule in :math:`(s_1, s_2)` on a fine
    1D table of the phase factor (its square-root kink at a critical angle is
    what point samples would alias).
    """
    table_rho = np.linspace(0.0, 1.0, 16385)
    table = np.exp(
        1j * optics.wavenumber * optical_path_difference(optics, table_rho, np.zeros(1))[0]
    )
    rho = np.hypot(u, v)
    safe = np.where(rho > 0, rho, 1.0)
    cos, sin = np.abs(u) / safe, np.abs(v) / safe
    nodes = (np.arange(_CELL_SUBSAMPLES) + 0.5) / _CELL_SUBSAMPLES - 0.5
    total = np.zeros(rho.size, complex)
    for a in nodes:
        for b in nodes:
            r = np.clip(rho + cell * (a * cos + b * sin), 0.0, 1.0)
            total += np.interp(r, table_rho, table.real) + 1j * np.interp(r, table_rho, table.imag)
    return total / _CELL_SUBSAMPLES**2


def _polarization_fields(optics: Optics, rho: np.ndarray, phi: np.ndarray) -> np.ndarray:
    r"""The six isotropic-emitter fields :math:`A\,M_{cp}`, shape (6, n): xx, xy, yx, yy, zx, zy.

    A dipole :math:`p` radiates :math:`p - (p\cdot s)s`; its components along
    :math:`e_\theta` (:math:`\theta = \theta_s`, the ray angle in the sample)
    and :math:`e_\varphi` map to the pupil's radial and azimuthal unit vectors.
    """
    q = optics.na * rho
    cos_s = axial_cosine(optics.ns, q) / optics.ns
    sin_s = q / optics.ns
    cos_i = np.sqrt(optics.ni**2 - q**2) / optics.ni
    apodization = 1.0 / np.sqrt(cos_i)
    c, s = np.cos(phi), np.sin(phi)
    half_sum, half_difference = (1.0 + cos_s) / 2.0, (cos_s - 1.0) / 2.0
    c2, s2 = c * c - s * s, 2.0 * s * c
    fields = [
        half_sum + half_difference * c2,  # dipole x -> image x
        half_difference * s2,  # dipole x -> image y
        half_difference * s2,  # dipole y -> image x
        half_sum - half_difference * c2,  # dipole y -> image y
        -sin_s * c,  # dipole z -> image x
        -sin_s * s,  # dipole z -> image y
    ]
    return np.stack([apodization * f for f in fields])


class PupilModel:
    r"""PSF of an aberrated pupil on a voxel grid, its VJP and Jacobian in Zernike coefficients.

    Parameters
    ----------
    optics : Optics
        The optical system (index mismatch included).
    shape, spacing : tuple
        The PSF grid (odd sizes) and voxel size (µm).
    model : {"scalar", "vectorial"}
        The pupil fields (see the module notes).
    modes : sequence of int
        Noll indices; the coefficient vector ``c`` holds their values in this order.
    oversample : int
        Sub-samples per voxel along each axis.
    axial_offset : float
        Stage offset :math:`z_0` (µm) of the centre plane from the nominal focus.
    pupil_samples : int, optional
        Cells across the pupil diameter (default: :func:`choose_pupil_samples`).
    phase_slope : float
        Bound on the Zernike phase's slope (rad per unit ρ) for the default sampling.
    axial_shift : bool
        Append one parameter to ``c``: an axial shift :math:`\delta` (µm) of
        the PSF, the exact defocus phase :math:`-k\,\delta\,c_{n_i}(q)` (a pure
        translation along z, unlike the Zernike defocus at high NA).
    sheet_fwhm : float, optional
        A light sheet's excitation: the detection intensity is multiplied by
        :math:`s(z) = \exp(-4 \ln 2\, (z - z_0)^2 / w^2)`, :math:`w` this FWHM
        (µm) and :math:`z_0` the centre plane (the sheet in the detection's
        focal plane, as in a light-sheet or lattice light-sheet microscope).
        An attribute: set it to change the sheet without rebuilding the pupil.
    """

    def __init__(
        self,
        optics: Optics,
        shape: Sequence[int],
        spacing: Sequence[float],
        *,
        model: str = "scalar",
        modes: Sequence[int] = (1,),
        oversample: int = 3,
        axial_offset: float = 0.0,
        pupil_samples: int | None = None,
        phase_slope: float = 0.0,
        axial_shift: bool = False,
        sheet_fwhm: float | None = None,
    ) -> None:
        if model not in ("scalar", "vectorial"):
            raise ValueError(f"model must be 'scalar' or 'vectorial', got {model!r}")
        self.optics, self.model = optics, model
        self.shape = tuple(int(n) for n in shape)
        self.spacing = tuple(float(d) for d in spacing)
        self.modes = tuple(int(j) for j in modes)
        self.axial_shift = bool(axial_shift)
        self.n_parameters = len(self.modes) + int(self.axial_shift)
        self.oversample = int(oversample)
        self.axial_offset = float(axial_offset)
        s = self.oversample
        offsets = subsample_offsets(s)
        self.z = axial_samples(self.shape[0], self.spacing[0], s) + self.axial_offset
        self.y = (((np.arange(self.shape[1]) - self.shape[1] // 2)[:, None] + offsets).ravel()
                  * self.spacing[1])  # fmt: skip
        self.x = (((np.arange(self.shape[2]) - self.shape[2] // 2)[:, None] + offsets).ravel()
                  * self.spacing[2])  # fmt: skip
        max_radius = float(np.hypot(np.abs(self.y).max(), np.abs(self.x).max()))
        n_p = pupil_samples or choose_pupil_samples(optics, self.z, max_radius, phase_slope)
        if int(n_p) < 8:
            raise ValueError(f"pupil_samples must be at least 8, got {pupil_samples!r}")
        self.pupil_samples = n_p = int(n_p)
        self.sheet_fwhm = sheet_fwhm
        self._build_pupil(n_p)

    # -- construction -------------------------------------------------------
    def _build_pupil(self, n_p: int) -> None:
        optics, k = self.optics, self.optics.wavenumber
        centres = (np.arange(n_p) + 0.5) / n_p * 2.0 - 1.0
        v, u = np.meshgrid(centres, centres, indexing="ij")
        rho = np.hypot(u, v)
        cell = 2.0 / n_p
        candidate = rho <= 1.0 + cell  # cells that may overlap the disk
        uc, vc, rc = u[candidate], v[candidate], rho[candidate]
        area = np.ones(rc.size)
        edge = rc > 1.0 - cell
        sub = ((np.arange(_CELL_SUBSAMPLES) + 0.5) / _CELL_SUBSAMPLES - 0.5) * cell
        su = uc[edge][:, None, None] + sub[None, :, None]
        sv = vc[edge][:, None, None] + sub[None, None, :]
        area[edge] = (np.hypot(su, sv) <= 1.0).mean(axis=(1, 2))
        average = _cell_average_depth_phase(optics, uc, vc, cell)

        keep = area > 0
        keep = area > 0
        rows, cols = np.nonzero(candidate)
        self._rows, self._cols = rows[keep], cols[keep]
        rho_c = np.minimum(rho[candidate][keep], 1.0)
        phi_c = np.arctan2(v[candidate][keep], u[candidate][keep])
        self.rho, self.phi = rho_c, phi_c
        weight = area[keep] * cell * cell * average[keep]
        q = optics.na * rho_c
        # depth terms were in the average; the z-dependent defocus is exact per plane
        self._defocus_cosine = np.sqrt(optics.ni**2 - q**2)
        # the average holds z_p c_ns + coverslip + t_i0 terms - (z_p) c_ni at z = 0
        self._weight = weight
        if self.model == "scalar":
            self._fields = np.ones((1, rho_c.size))
        else:
            self._fields = _polarization_fields(optics, rho_c, phi_c)
        rows = [zernike_polynomial(j, rho_c, phi_c) for j in self.modes]
        if self.axial_shift:
            rows.append(-k * self._defocus_cosine)  # d(phase)/d(delta), rad per µm
        self.basis = np.stack(rows)
        self._defocus = None
        scale = -2j * np.pi * optics.na / optics.wavelength
        self._ey = np.exp(scale * np.outer(self.y, centres))  # (ny_s, n_p): rows are v
        self._ex = np.exp(scale * np.outer(self.x, centres))  # (nx_s, n_p): columns are u

    # -- pieces ---------------------------------------------------------------
    def _check(self, c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, dtype=float).reshape(-1)
        if c.size != self.n_parameters:
            shift = " and the axial shift" if self.axial_shift else ""
            raise ValueError(
                f"{c.size} parameters given for {len(self.modes)} modes {self.modes}{shift}"
            )
        return c

    def _pupil_base(self, c: np.ndarray) -> np.ndarray:
        """Cell weights times the Zernike phase (n_cells,)."""
        return self._weight * np.exp(1j * (c @ self.basis))

    def _blocks(self):
        per_plane = self.pupil_samples * max(self.pupil_samples, self.x.size) + self.y.size * (
            self.x.size + self.pupil_samples
        )
        size = max(1, _BLOCK_VALUES // per_plane)
        for start in range(0, self.z.size, size):
            yield slice(start, min(start + size, self.z.size))

    def _planes(self, base: np.ndarray, block: slice) -> np.ndarray:
        """Pupil values of the planes in ``block`` before the fields, (n_z, n_cells)."""
        if self._defocus is None:
            cached = self.z.size * self._defocus_cosine.size <= _CACHED_DEFOCUS_VALUES
            defocus = self._defocus_factors(slice(None) if cached else block)
            if not cached:
                return defocus * base
            self._defocus = defocus
        return self._defocus[block] * base

    def _defocus_factors(self, block: slice) -> np.ndarray:
        return np.exp(-1j * self.optics.wavenumber * np.outer(self.z[block], self._defocus_cosine))

    def _scatter(self, values: np.ndarray) -> np.ndarray:
        grid = np.zeros((values.shape[0], self.pupil_samples, self.pupil_samples), complex)
        grid[:, self._rows, self._cols] = values
        return grid

    def _transform(self, grid: np.ndarray) -> np.ndarray:
        """:math:`E_y P E_x^T` for every plane: (n_z, n_p, n_p) -> (n_z, ny_s, nx_s)."""
        n_z, n_p = grid.shape[0], self.pupil_samples
        step = (grid.reshape(n_z * n_p, n_p) @ self._ex.T).reshape(n_z, n_p, -1)
        step = step.transpose(1, 0, 2).reshape(n_p, -1)
        return (self._ey @ step).reshape(self.y.size, n_z, self.x.size).transpose(1, 0, 2)

    def _transform_adjoint(self, field: np.ndarray) -> np.ndarray:
        """:math:`E_y^H Y \\bar E_x` for every plane, gathered on the cells: (n_z, n_cells)."""
        n_z = field.shape[0]
        step = (field.reshape(n_z * self.y.size, self.x.size) @ self._ex.conj())
        step = step.reshape(n_z, self.y.size, self.pupil_samples).transpose(1, 0, 2)
        step = (self._ey.conj().T @ step.reshape(self.y.size, -1))
        step = step.reshape(self.pupil_samples, n_z, self.pupil_samples).transpose(1, 0, 2)
        return step[:, self._rows, self._cols]

    def _bin(self, values: np.ndarray) -> np.ndarray:
        s, (nz, ny, nx) = self.oversample, self.shape
        if s == 1:
            return values
        return values.reshape(nz, s, ny, s, nx, s).mean(axis=(1, 3, 5))

    def _unbin(self, values: np.ndarray) -> np.ndarray:
        s = self.oversample
        if s == 1:
            return values
        out = values / float(s**3)
        for axis in (0, 1, 2):
            out = np.repeat(out, s, axis=axis)
        return out

    # -- public ---------------------------------------------------------------
    @property
    def _work(self) -> float:
        """Complex multiply-adds of one transform of all planes."""
        n_p = self.pupil_samples
        return self.z.size * (n_p * n_p * self.x.size + n_p * self.y.size * self.x.size)

    def intensity(self, c: np.ndarray) -> np.ndarray:
        """Unnormalized voxel-integrated intensity (float64, ``shape``)."""
        with _blas_threads(self._work):
            return self._intensity(self._check(c))

    def sheet(self, fwhm: float | None = None) -> np.ndarray | None:
        """The light sheet's profile on the sub-sampled planes (``shape[0] * oversample``,), or None."""
        fwhm = self.sheet_fwhm if fwhm is None else fwhm
        if fwhm is None:
            return None
        if not np.isfinite(fwhm) or fwhm <= 0:
            raise ValueError(f"sheet_fwhm must be a positive length in µm, got {fwhm!r}")
        z = self.z - self.axial_offset
        return np.exp(-4.0 * np.log(2.0) * (z / float(fwhm)) ** 2)

    def detection_intensity(self, c: np.ndarray) -> np.ndarray:
        """The detection intensity on the sub-sampled grid, before the sheet and binning (float64)."""
        with _blas_threads(self._work):
            return self._sub_intensity(self._check(c))

    def from_detection(self, sub: np.ndarray, fwhm: float | None = None) -> np.ndarray:
        """The PSF (sum 1) of a :meth:`detection_intensity` under the sheet of FWHM ``fwhm``."""
        profile = self.sheet(fwhm)
        volume = self._bin(sub if profile is None else sub * profile[:, None, None])
        return volume / volume.sum()

    def _sub_intensity(self, c: np.ndarray) -> np.ndarray:
        base = self._pupil_base(c)
        sub = np.zeros((self.z.size, self.y.size, self.x.size))
        for block in self._blocks():
            planes = self._planes(base, block)
            for field in self._fields:
                amplitude = self._transform(self._scatter(planes * field))
                sub[block] += amplitude.real**2 + amplitude.imag**2
        return sub

    def _intensity(self, c: np.ndarray) -> np.ndarray:
        sub = self._sub_intensity(c)
        profile = self.sheet()
        if profile is not None:
            sub *= profile[:, None, None]
        return self._bin(sub)

    def psf(self, c: np.ndarray) -> np.ndarray:
        """The PSF normalized to sum 1 (float64)."""
        volume = self.intensity(c)
        total = volume.sum()
        if not np.isfinite(total) or total <= 0:
            raise ValueError("the PSF is zero everywhere on this grid; check shape and spacing")
        return volume / total

    def on_axis(self, c: np.ndarray, z: np.ndarray) -> np.ndarray:
        """On-axis detection intensity (no sheet) at stage offsets ``z`` (µm from the nominal focus), unnormalized."""
        c = self._check(c)
        base = self._pupil_base(c)
        defocus = np.exp(-1j * self.optics.wavenumber * np.outer(z, self._defocus_cosine))
        out = np.zeros(np.size(z))
        for field in self._fields:
            amplitude = (defocus * (base * field)).sum(axis=1)
            out += amplitude.real**2 + amplitude.imag**2
        return out

    def defocus_guess(self, c: np.ndarray) -> float:
        r"""Stage offset (µm) of the least-squares focus of the Zernike phase (the shift left out).

        The defocus :math:`\delta` minimizing the variance of
        :math:`W - k\,\delta\,c_{n_i}(q)` over the pupil:
        :math:`\delta = \operatorname{cov}(W, c_{n_i}) / (k \operatorname{var} c_{n_i})`,
        a starting point for the search of the intensity focus.
        """
        c = self._check(c)
        phase = c[: len(self.modes)] @ self.basis[: len(self.modes)]
        weights = np.abs(self._weight) / np.abs(self._weight).sum()
        cosine = self._defocus_cosine

        def mean(values):
            return float(weights @ values)

        covariance = mean(phase * cosine) - mean(phase) * mean(cosine)
        variance = mean(cosine * cosine) - mean(cosine) ** 2
        return covariance / (self.optics.wavenumber * variance)

    def vjp(self, c: np.ndarray, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The PSF and :math:`\partial\langle G, h(c)\rangle/\partial c` for a cotangent ``G``.

        Returns
        -------
        psf : ndarray, float64
            :math:`h(c)`, normalized to sum 1.
        gradient : ndarray, shape (n_modes,)
            The gradient of :math:`\sum G\,h` with respect to ``c``.
        """
        c = self._check(c)
        cotangent = np.asarray(cotangent, dtype=float)
        if cotangent.shape != self.shape:
            raise ValueError(f"the cotangent has shape {cotangent.shape}, not {self.shape}")
        with _blas_threads(self._work):
            return self._vjp(c, cotangent)

    def _vjp(self, c: np.ndarray, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        volume = self._intensity(c)
        total = volume.sum()
        psf = volume / total
        g = self._unbin((cotangent - float(np.vdot(cotangent, psf))) / total)
        profile = self.sheet()
        if profile is not None:
            g *= profile[:, None, None]
        base = self._pupil_base(c)
        q = np.zeros(base.size)
        for block in self._blocks():
            planes = self._planes(base, block)
            for field in self._fields:
                values = planes * field
                amplitude = self._transform(self._scatter(values))
                back = self._transform_adjoint(g[block] * amplitude)
                q += -2.0 * np.imag(values * back.conj()).sum(axis=0)
        return psf, self.basis @ q

    def jacobian(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The PSF and :math:`\\partial h/\\partial c_j` for every mode, shape (n_modes, *shape)."""
        with _blas_threads(self._work):
            return self._jacobian(self._check(c))

    def _jacobian(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        volume = self._intensity(c)
        total = volume.sum()
        psf = volume / total
        base = self._pupil_base(c)
        derivative = np.zeros((self.n_parameters, self.z.size, self.y.size, self.x.size))
        for block in self._blocks():
            planes = self._planes(base, block)
            for field in self._fields:
                values = planes * field
                amplitude = self._transform(self._scatter(values))
                for index in range(self.n_parameters):
                    change = self._transform(self._scatter(1j * self.basis[index] * values))
                    derivative[index, block] += 2.0 * np.real(amplitude.conj() * change)
        profile = self.sheet()
        if profile is not None:
            derivative *= profile[None, :, None, None]
        binned = np.stack([self._bin(d) for d in derivative])
        sums = binned.reshape(self.n_parameters, -1).sum(axis=1)
        return psf, (binned - psf[None] * sums[:, None, None, None]) / total
