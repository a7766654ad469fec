"""EPI readouts made Cartesian: ramp-sampling regridding, reflection, odd/even phase correction.

An EPI readout samples while its gradient ramps (Meas ``alRegrid*``), so its
samples are not equally spaced in k. Each readout's profile along x is the
least-squares fit of its samples through their nonuniform Fourier matrix,
over the field of view its sparsest samples support; transformed back, it is
the readout on the uniform grid (spacing 1/FOV of the oversampled readout,
k = 0 at column n // 2). A reflected readout (REFLECT, negative gradient) has
the mirrored positions, so the same step also reverses it.

Reflected and forward readouts still differ by a phase that is constant and
linear along x (eddy currents, gradient delays). The PHASCOR navigators of each
slice, acquired without phase encoding in both polarities, measure it: the
phase of reflected x forward conjugate in the hybrid (x, ky) space, fitted by a
weighted straight line, is taken off every reflected readout of that slice
(of that volume, where each repetition or set brings its own navigators).

The result is a ``RawMeasurement`` like any Cartesian one (navigators left
out, REFLECT cleared), which the sorter and the Cartesian pipeline take as it is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from recon_image.raw.kspace import RampSampling
from recon_image.raw.readouts import Flag, RawMeasurement, SampleSource, has_flag

# Fraction of the strongest navigator product below which x positions are left out of the fit.
_FIT_THRESHOLD = 0.1
_CHUNK = 2048  # readouts regridded per step


def ramp_area(ramp: RampSampling, t_us: np.ndarray) -> np.ndarray:
    """Gradient area from the ramp's start to ``t_us``, the flat top's amplitude being 1."""
    t = np.asarray(t_us, dtype=np.float64)
    up, flat, down = ramp.rampup_us, ramp.flattop_us, ramp.rampdown_us
    rising = np.clip(t, 0.0, up)
    falling = np.clip(t - up - flat, 0.0, down)
    if ramp.mode == 2:
        area_up = rising**2 / (2 * up)
        area_down = falling - falling**2 / (2 * down)
    elif ramp.mode == 4:
        area_up = 2 * up / np.pi * (1 - np.cos(np.pi * rising / (2 * up)))
        area_down = 2 * down / np.pi * np.sin(np.pi * falling / (2 * down))
    else:
        raise ValueError(f"alRegridMode {ramp.mode} is neither trapezoidal (2) nor sinusoidal (4)")
    return area_up + np.clip(t - up, 0.0, flat) + area_down


def sample_positions(ramp: RampSampling, samples: int) -> np.ndarray:
    """k of each sample of a forward readout in time order, in units of the uniform grid's step.

    The ADC's ``samples`` dwell times cover ``adc_duration_us`` from
    ``delay_us``, each sample at its dwell's centre. The gradient area over
    the ADC is the readout's nominal extent (``samples`` steps), and k = 0
    lies at the middle of that area, as for a readout without ramps.
    """
    dwell = ramp.adc_duration_us / samples
    start, end = ramp.delay_us, ramp.delay_us + ramp.adc_duration_us
    times = start + dwell * (np.arange(samples) + 0.5)
    first, last = ramp_area(ramp, np.array([start, end]))
    return (ramp_area(ramp, times) - (first + last) / 2) / (last - first) * samples


def supported_columns(positions: np.ndarray) -> int:
    """Columns of the oversampled field of view that the sparsest samples still resolve (even)."""
    widest = float(np.max(np.abs(np.diff(positions))))
    return 2 * int(positions.size / max(widest, 1.0) / 2)


def offcentre_phase_error(positions: np.ndarray, offcentre_mm: float, fov_mm: float) -> float:
    """Largest phase (rad) a readout off-centre leaves on ramp samples when demodulated as flat.

    A scanner shifts the field of view along the readout by demodulating at a
    constant frequency, right for the flat top's k-velocity only: sample i is
    off by 2 pi x0 (k_i - k_flat,i), with ``fov_mm`` the oversampled field of
    view (one grid step is 1 / ``fov_mm``).
    """
    n = positions.size
    flat = float(np.max(np.abs(np.diff(positions)))) * (np.arange(n) - (n - 1) / 2)
    return float(2 * np.pi * abs(offcentre_mm) * np.max(np.abs(positions - flat)) / fov_mm)


def profile_fit(positions: np.ndarray) -> np.ndarray:
    """(width, n) complex64 F: ``F @ readout`` is the readout's profile along x.

    ``positions`` are the samples' k in grid steps. The profile is the least
    squares fit of the samples over the central ``width`` =
    ``supported_columns`` of the field of view (x = -width // 2 …), in the
    convention of :func:`to_hybrid`: the profile of the readout on the uniform
    grid, without making that readout.
    """
    n = positions.size
    sampled = np.exp(-2j * np.pi * np.outer(positions, _columns(supported_columns(positions))) / n)
    # least squares by the normal equations: the supported columns keep them well conditioned
    adjoint = sampled.conj().T
    return np.linalg.solve(adjoint @ sampled, adjoint).astype(np.complex64)


def regridding_matrix(positions: np.ndarray) -> np.ndarray:
    """(n, n) complex64 R: ``R @ readout`` is the readout on the uniform grid, k = 0 at n // 2."""
    fit = profile_fit(positions)
    n = positions.size
    grid = np.exp(-2j * np.pi * np.outer(np.arange(n) - n // 2, _columns(fit.shape[0])) / n)
    return (grid @ fit).astype(np.complex64)


def _columns(width: int) -> np.ndarray:
    return np.arange(width) - width // 2


def to_hybrid(readouts: np.ndarray) -> np.ndarray:
    """Readouts (…, columns) on the uniform grid → their profiles along x (the same convention)."""
    shifted = np.fft.ifftshift(readouts, axes=-1)
    return np.fft.fftshift(np.fft.ifft(shifted, axis=-1), axes=-1).astype(np.complex64)


def from_hybrid(profiles: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_hybrid`."""
    shifted = np.fft.ifftshift(profiles, axes=-1)
    return np.fft.fftshift(np.fft.fft(shifted, axis=-1), axes=-1).astype(np.complex64)


def odd_even_phase(forward: np.ndarray, reflected: np.ndarray) -> tuple[float, float]:
    """(constant, slope per column) of the phase of reflected over forward profiles.

    ``forward`` and ``reflected`` are (coils, columns) navigator profiles along
    x, column n // 2 at x = 0. The coil-combined product reflected x
    conj(forward) carries the phase; its slope is first taken from the phase
    between neighbouring columns (which needs no unwrapping), then the
    remaining phase is fitted by a straight line weighted by the product's
    magnitude, over the columns where the object is.
    """
    product = np.sum(reflected * np.conj(forward), axis=0).astype(np.complex128)
    columns = product.size
    x = np.arange(columns, dtype=np.float64) - columns // 2
    weight = np.abs(product)
    inside = weight >= _FIT_THRESHOLD * weight.max()
    pairs = inside[1:] & inside[:-1]
    slope = float(np.angle(np.sum((product[1:] * np.conj(product[:-1]))[pairs])))
    flattened = product * np.exp(-1j * slope * x)
    offset = float(np.angle(np.sum(flattened[inside])))
    residual = np.angle(flattened * np.exp(-1j * offset))
    w = weight[inside]
    design = np.stack([np.ones(int(inside.sum())), x[inside]], axis=1) * np.sqrt(w)[:, None]
    (constant, extra), *_ = np.linalg.lstsq(design, residual[inside] * np.sqrt(w), rcond=None)
    return offset + float(constant), slope + float(extra)


class CorrectedSamples:
    """Samples of a corrected measurement: corrected readouts from memory, the rest from the file.

    ``position[row]`` is the row's place in ``corrected`` or -1 (read from the
    file); ``source_rows[row]`` its row in the original measurement.
    """

    def __init__(
        self,
        original: SampleSource,
        source_rows: np.ndarray,
        corrected: np.ndarray,
        position: np.ndarray,
    ) -> None:
        self.original = original
        self.source_rows = source_rows
        self.corrected = corrected
        self.position = position

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows)
        where = self.position[rows]
        if (where < 0).all():
            return self.original.read(self.source_rows[rows], out=out)
        if out is None:
            out = np.empty((rows.size, *self.corrected.shape[1:]), dtype=np.complex64)
        out[where >= 0] = self.corrected[where[where >= 0]]
        if (where < 0).any():
            out[where < 0] = self.original.read(self.source_rows[rows[where < 0]])
        return out


_VOLUME = ("phs", "rep", "set")


def _navigator_groups(
    table: np.ndarray, work: np.ndarray, navigator: np.ndarray, reflect: np.ndarray
) -> list[np.ndarray]:
    """Boolean masks of the readouts corrected together, each with its navigators.

    A slice's readouts of one cardiac phase, repetition and set (a diffusion
    direction, say) are corrected by that volume's own navigators when it has
    both polarities, as the phase drifts and eddy currents change between
    volumes; otherwise by all of the slice's navigators.
    """
    groups = []
    for counter in np.unique(table["sli"][work]):
        in_slice = table["sli"] == counter
        keys = np.stack([table[key] for key in _VOLUME], axis=1)
        pooled = np.zeros(table.size, dtype=bool)
        for key in np.unique(keys[in_slice], axis=0):
            group = in_slice & (keys == key).all(axis=1)
            own = navigator & group
            if (own & reflect).any() and (own & ~reflect).any():
                groups.append(group)
            else:
                pooled |= group
        if pooled.any():
            groups.append(pooled | (in_slice & navigator))
    return groups


def correct_epi(measurement: RawMeasurement) -> RawMeasurement:
    """Regrid, reverse and phase-correct the readouts of an EPI measurement.

    The caller has checked that the measurement is one this handles
    (``recon_image.raw.refusals``): one readout length, navigators of both
    polarities in every slice, 2D, one echo. Noise scans are passed on untouched.
    """
    table = measurement.readouts
    navigator = has_flag(table, Flag.PHASCOR)
    reflect = has_flag(table, Flag.REFLECT)
    work = np.flatnonzero(~has_flag(table, Flag.NOISEADJSCAN))
    coils, samples = int(table["channels"][work[0]]), int(table["samples"][work[0]])
    ramp = measurement.protocol.ramp_sampling
    if ramp is not None:
        positions = sample_positions(ramp, samples)
        fits = {False: profile_fit(positions), True: profile_fit(-positions)}
        width = fits[False].shape[0]
        fitted = slice(samples // 2 - width // 2, samples // 2 - width // 2 + width)
    place = np.full(table.size, -1, dtype=np.int64)
    place[work] = np.arange(work.size)
    # the readouts' profiles along x, corrected in place and turned back into k-space
    profiles = np.empty((work.size, coils, samples), dtype=np.complex64)
    for flipped in (False, True):
        rows = work[reflect[work] == flipped]
        for begin in range(0, rows.size, _CHUNK):
            part = rows[begin : begin + _CHUNK]
            block = measurement.samples.read(part)
            if ramp is None:
                profiles[place[part]] = to_hybrid(block[..., ::-1] if flipped else block)
                continue
            fit = block.reshape(-1, samples) @ fits[flipped].T
            into = np.zeros(block.shape, dtype=np.complex64)
            into[..., fitted] = fit.reshape(*block.shape[:2], width)
            profiles[place[part]] = into
    x = np.arange(samples) - samples // 2
    for group in _navigator_groups(table, work, navigator, reflect):
        forward = profiles[place[group & navigator & ~reflect]].mean(axis=0)
        backward = profiles[place[group & navigator & reflect]].mean(axis=0)
        constant, slope = odd_even_phase(forward, backward)
        lines = place[group & reflect & ~navigator]
        lines = lines[lines >= 0]
        profiles[lines] *= np.exp(-1j * (constant + slope * x)).astype(np.complex64)
    for begin in range(0, work.size, _CHUNK):
        profiles[begin : begin + _CHUNK] = from_hybrid(profiles[begin : begin + _CHUNK])
    keep = np.flatnonzero(~navigator)
    kept = table[keep].copy()
    kept["flags"] &= ~np.uint64(Flag.REFLECT.mask)
    samples_source = CorrectedSamples(measurement.samples, keep, profiles, place[keep])
    return dataclasses.replace(measurement, readouts=kept, samples=samples_source)
