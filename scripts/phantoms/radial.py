"""A dynamic golden-angle radial phantom: Shepp-Logan whose small ellipses take up contrast.

Every spoke samples the phantom as it is at the spoke's time (its frame),
through finufft's type-2 NUFFT of the coil images, so a reconstruction that
groups the same spokes into frames has an exact truth per frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import finufft
import numpy as np

from recon_image.pipeline.radial import spoke_angles, trajectory
from recon_image.raw.kspace import Protocol, SliceGeometry
from recon_image.raw.readouts import READOUT_DTYPE, Flag
from scripts.phantoms.numeric import coil_maps, shepp_logan
from scripts.phantoms.scan import ScanSettings, SimulatedScan, orientation


@dataclass(frozen=True)
class RadialScan:
    """Spokes (coils, spokes, samples) complex64, their angles, and the truth per frame."""

    spokes: np.ndarray
    angles: np.ndarray
    truth: np.ndarray
    spokes_per_frame: int


def enhancement(frames: int) -> np.ndarray:
    """Contrast uptake over ``frames``: 0 before, rising to 1 (a wash-in curve)."""
    t = np.linspace(0.0, 1.0, frames)
    return np.clip((t - 0.2) / 0.5, 0.0, 1.0) ** 0.7


def dynamic_phantom(size: int, frames: int) -> np.ndarray:
    """(frames, size, size) float32: the phantom with two ellipses brightening over time."""
    base = shepp_logan((1, size, size))[0]
    y, x = np.meshgrid(np.arange(size) - size // 2, np.arange(size) - size // 2, indexing="ij")
    scale = size / 2
    spots = [((x / scale - 0.22) / 0.11) ** 2 + ((y / scale) / 0.2) ** 2 <= 1.0]
    spots.append(((x / scale + 0.22) / 0.1) ** 2 + ((y / scale - 0.1) / 0.15) ** 2 <= 1.0)
    out = np.repeat(base[None], frames, axis=0)
    for curve_scale, spot in zip((0.6, 0.35), spots, strict=True):
        out[:, spot] += (curve_scale * enhancement(frames))[:, None]
    return out.astype(np.float32)


def simulate_radial(
    size: int = 96,
    coils: int = 8,
    frames: int = 8,
    spokes_per_frame: int = 13,
    noise_sigma: float = 0.0,
    seed: int = 0,
) -> RadialScan:
    """Golden-angle spokes of ``2 * size`` samples (2x readout oversampling) from -pi to pi."""
    truth = dynamic_phantom(size, frames)
    maps = coil_maps(coils, (1, size, size), seed=seed)[:, 0]
    samples = 2 * size
    angles = spoke_angles(frames * spokes_per_frame)
    spokes = np.empty((coils, angles.size, samples), dtype=np.complex64)
    rng = np.random.default_rng(seed)
    for t in range(frames):
        part = slice(t * spokes_per_frame, (t + 1) * spokes_per_frame)
        kx, ky = trajectory(angles[part], samples)
        values = finufft.nufft2d2(
            ky, kx, (maps * truth[t]).astype(np.complex128), eps=1e-9, isign=-1
        )
        spokes[:, part] = values.reshape(coils, spokes_per_frame, samples)
    if noise_sigma > 0:
        noise = rng.standard_normal((*spokes.shape, 2), dtype=np.float32) * np.float32(noise_sigma)
        spokes += noise.view(np.complex64)[..., 0]
    return RadialScan(spokes=spokes, angles=angles, truth=truth, spokes_per_frame=spokes_per_frame)


def as_scan(radial: RadialScan, settings: ScanSettings | None = None) -> SimulatedScan:
    """The radial scan as a raw-file writer takes it: one readout per spoke, Lin = spoke.

    The protocol says ``trajectory="radial"`` with the base resolution as the
    readout matrix and the spoke count as the phase-encoding lines.
    """
    coils, spokes, samples = radial.spokes.shape
    size = samples // 2
    s = settings or ScanSettings(dimension=2, matrix=(size, spokes, 1), coils=coils)
    s = dataclasses.replace(s, dimension=2, matrix=(size, spokes, 1), coils=coils, oversampling=2)
    read, phase, normal = orientation(s.tilt_deg, s.axes)
    table = np.zeros(spokes, dtype=READOUT_DTYPE)
    table["lin"] = np.arange(spokes)
    table["flags"] = Flag.ONLINE.mask
    table["samples"] = samples
    table["channels"] = coils
    table["centre_column"] = samples // 2
    table["centre_line"] = spokes // 2
    table["read_dir"], table["phase_dir"], table["slice_dir"] = read, phase, normal
    table["position"] = s.centre_mm
    table["offset"] = np.arange(spokes)
    geometry = (SliceGeometry(s.centre_mm, read, phase, normal, s.thickness_mm),)
    protocol = Protocol(
        sequence_name=s.sequence_name,
        protocol_name=s.protocol_name,
        dimension=2,
        matrix=(size, spokes, 1),
        fov_mm=(s.fov_mm[0], s.fov_mm[1], s.thickness_mm),
        readout_oversampling=2.0,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=geometry,
        slice_spacing_mm=s.thickness_mm,
        tr_ms=s.tr_ms,
        te_ms=(s.te_ms,),
        ti_ms=s.ti_ms,
        flip_deg=s.flip_deg,
        field_strength_t=s.field_strength_t,
        software_version=s.software_version,
        trajectory="radial",
    )
    samples_in_order = np.ascontiguousarray(radial.spokes.transpose(1, 0, 2))
    return SimulatedScan(
        settings=s,
        readouts=table,
        samples=samples_in_order,
        protocol=protocol,
        truth=radial.truth,
        kspace=radial.spokes[None, :, None],
        sampled=np.ones((1, spokes), dtype=bool),
        noise=None,
        chronological_slices=(0,),
    )
