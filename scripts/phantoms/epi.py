"""Simulate a single-shot 2D EPI scan as a Siemens scanner records it: ramp sampling, PHASCOR.

Each readout is the object's Fourier transform evaluated at the k positions
its samples really have while the gradient ramps (a trapezoid integrated here
on a fine time grid), not sampled on a grid and resampled. Every slice starts
with three PHASCOR navigators without phase encoding (forward, reflected,
forward), then the lines in order with alternating polarity; a reflected
readout (REFLECT, Seg 1) is stored in acquisition order, from +k to -k. The
odd/even error of real EPI, a constant phase and a shift of the reflected
echoes (a phase linear along x), is applied to reflected navigators and
lines alike; with repetitions it may drift from one to the next.

The object is a Shepp-Logan phantom filling the middle half of the field of
view, so the N/2 ghosts of an uncorrected image fall on empty background.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from recon_image.raw.kspace import Protocol, RampSampling, SliceGeometry
from recon_image.raw.readouts import READOUT_DTYPE, Flag
from scripts.phantoms.numeric import coil_maps, oversample, shepp_logan, to_kspace
from scripts.phantoms.scan import ScanSettings, SimulatedScan, interleaved, orientation

NAVIGATORS = 3
"""PHASCOR readouts per slice: forward, reflected, forward."""

TRAPEZOID = RampSampling(
    mode=2,
    rampup_us=150.0,
    flattop_us=300.0,
    rampdown_us=150.0,
    delay_us=10.0,
    adc_duration_us=580.0,
    destination_samples=256,
)
"""An E11 ep2d-like readout: the ADC spans most of both ramps."""


@dataclass(frozen=True)
class EpiSettings:
    """What to simulate.

    Attributes
    ----------
    matrix
        (readout, phase lines, slices); the readout is sampled twice oversampled.
    ramp
        The readout gradient and ADC timing written to the header
        (``destination_samples`` becomes twice the readout matrix); None
        samples the flat top only, k = 0 at column n // 2 of a forward readout.
    phase_error
        (constant in rad, slope in rad per oversampled column) of every
        reflected readout's profile along x against a forward one's.
    repetitions, phase_drift
        Repetitions of every slice, each with its own navigators, and how much
        the phase error grows from one repetition to the next (field drift).
    """

    matrix: tuple[int, int, int] = (128, 64, 2)
    coils: int = 4
    ramp: RampSampling | None = TRAPEZOID
    phase_error: tuple[float, float] = (0.0, 0.0)
    repetitions: int = 1
    phase_drift: tuple[float, float] = (0.0, 0.0)
    noise_sigma: float = 0.0
    seed: int = 0
    fov_mm: tuple[float, float] = (220.0, 220.0)
    thickness_mm: float = 4.0
    slice_gap: float = 0.25
    centre_mm: tuple[float, float, float] = (0.0, -12.0, 30.0)
    tilt_deg: float = 8.0
    tr_ms: float = 3000.0
    te_ms: float = 30.0
    software_version: str = "syngo MR E11"


def gradient_positions(ramp: RampSampling, samples: int, steps_per_dwell: int = 64) -> np.ndarray:
    """k of each sample in time order, in uniform-grid steps, by integrating the gradient.

    The gradient ramps linearly (``alRegridMode`` 2) or as a quarter sine (4).
    The readout's nominal extent (``samples`` steps, k = 0 in the middle) is
    the gradient's area over the ADC window.
    """
    total = ramp.rampup_us + ramp.flattop_us + ramp.rampdown_us
    t = np.linspace(0.0, total, int(total / ramp.adc_duration_us * samples * steps_per_dwell) + 1)
    up_end, flat_end = ramp.rampup_us, ramp.rampup_us + ramp.flattop_us
    rising = np.clip(t / ramp.rampup_us, 0.0, 1.0)
    falling = np.clip((total - t) / ramp.rampdown_us, 0.0, 1.0)
    if ramp.mode == 4:
        rising, falling = np.sin(np.pi / 2 * rising), np.sin(np.pi / 2 * falling)
    gradient = np.where(t < up_end, rising, np.where(t > flat_end, falling, 1.0))
    area = np.concatenate([[0.0], np.cumsum((gradient[1:] + gradient[:-1]) / 2 * np.diff(t))])
    dwell = ramp.adc_duration_us / samples
    times = ramp.delay_us + dwell * (np.arange(samples) + 0.5)
    first, last = np.interp([ramp.delay_us, ramp.delay_us + ramp.adc_duration_us], t, area)
    return (np.interp(times, t, area) - (first + last) / 2) / (last - first) * samples


def truth_image(matrix: tuple[int, int, int]) -> np.ndarray:
    """(slices, lines, columns) float32: Shepp-Logan in the middle half of the field of view."""
    nx, ny, nz = matrix
    small = shepp_logan((nz, ny // 2, nx // 2))
    image = np.zeros((nz, ny, nx), dtype=np.float32)
    image[:, ny // 4 : ny // 4 + ny // 2, nx // 4 : nx // 4 + nx // 2] = small
    return image


def simulate_epi(settings: EpiSettings) -> SimulatedScan:
    """Simulate ``settings``; deterministic for a given ``settings.seed``."""
    s = settings
    nx, ny, nz = s.matrix
    columns = 2 * nx
    ramp = None if s.ramp is None else dataclasses.replace(s.ramp, destination_samples=columns)
    rng = np.random.default_rng(s.seed)
    truth = truth_image(s.matrix)
    images = oversample(coil_maps(s.coils, (nz, ny, nx), seed=s.seed) * truth[None], 2)
    hybrid = to_kspace(images, (-2,))  # (coils, z, ky, x)
    x = np.arange(columns) - columns // 2
    if ramp is None:
        positions = (np.arange(columns) - columns // 2).astype(np.float64)
    else:
        positions = gradient_positions(ramp, columns)
    forward = np.exp(-2j * np.pi * np.outer(positions, x) / columns)
    unshifted = np.exp(-2j * np.pi * np.outer(-positions, x) / columns)

    chron = interleaved(nz)
    # per slice: navigators (line = centre, polarity), then every line
    per_slice = [(ny // 2, k % 2 == 1, True) for k in range(NAVIGATORS)]
    per_slice += [(line, line % 2 == 1, False) for line in range(ny)]
    count = s.repetitions * nz * len(per_slice)
    table = np.zeros(count, dtype=READOUT_DTYPE)
    samples = np.empty((count, s.coils, columns), dtype=np.complex64)
    read, phase, normal = orientation(s.tilt_deg)
    spacing = s.thickness_mm * (1.0 + s.slice_gap)
    offsets = (np.arange(nz) - (nz - 1) / 2) * spacing
    positions_mm = np.asarray(s.centre_mm)[None] + offsets[:, None] * np.asarray(normal)[None]
    table["samples"] = columns
    table["channels"] = s.coils
    table["centre_column"] = columns // 2
    table["centre_line"] = ny // 2
    table["read_dir"], table["phase_dir"], table["slice_dir"] = read, phase, normal
    row = 0
    acquisitions = [(r, c, z) for r in range(s.repetitions) for c, z in enumerate(chron)]
    for repetition, counter, z in acquisitions:
        constant, slope = np.asarray(s.phase_error) + repetition * np.asarray(s.phase_drift)
        reflected = unshifted * np.exp(1j * (constant + slope * x))[None, :]
        for line, flipped, navigator in per_slice:
            values = hybrid[:, z, line, :] @ (reflected if flipped else forward).T
            if s.noise_sigma > 0:
                noise = rng.standard_normal((*values.shape, 2)) * (s.noise_sigma / np.sqrt(2))
                values = values + noise.view(np.complex128)[..., 0]
            flags = Flag.PHASCOR.mask if navigator else Flag.ONLINE.mask
            if flipped:
                flags |= Flag.REFLECT.mask
            entry = table[row]
            entry["lin"] = line
            entry["sli"] = counter
            entry["rep"] = repetition
            entry["seg"] = int(flipped)
            entry["flags"] = flags
            entry["position"] = positions_mm[z]
            samples[row] = values
            row += 1
    table["offset"] = np.arange(count)

    geometry = tuple(
        SliceGeometry(
            position_mm=tuple(float(v) for v in p),
            read_dir=read,
            phase_dir=phase,
            slice_dir=normal,
            thickness_mm=s.thickness_mm,
        )
        for p in positions_mm
    )
    protocol = Protocol(
        sequence_name="%SiemensSeq%\\epfid",
        protocol_name="yc_ep2d_phantom",
        dimension=2,
        matrix=(nx, ny, 1),
        fov_mm=(s.fov_mm[0], s.fov_mm[1], s.thickness_mm),
        readout_oversampling=2.0,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=geometry,
        slice_spacing_mm=spacing,
        tr_ms=s.tr_ms,
        te_ms=(s.te_ms,),
        ti_ms=None,
        flip_deg=90.0,
        field_strength_t=3.0,
        software_version=s.software_version,
        ramp_sampling=ramp,
        epi_factor=ny,
    )
    scan_settings = ScanSettings(
        matrix=s.matrix,
        coils=s.coils,
        oversampling=2,
        reflect=True,
        seed=s.seed,
        fov_mm=s.fov_mm,
        thickness_mm=s.thickness_mm,
        centre_mm=s.centre_mm,
        tilt_deg=s.tilt_deg,
    )
    return SimulatedScan(
        settings=scan_settings,
        readouts=table,
        samples=samples,
        protocol=protocol,
        truth=truth,
        kspace=np.repeat(to_kspace(images, (-2, -1))[None], s.repetitions, axis=0),
        sampled=np.ones((nz, ny), dtype=bool),
        noise=None,
        chronological_slices=tuple(chron),
    )
