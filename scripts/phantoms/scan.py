"""Simulate a Cartesian MRI scan of the Shepp-Logan phantom: readouts as a scanner records them.

The scan yields the readouts in acquisition order with their counters and
flags (the readers' ``READOUT_DTYPE``), the samples exactly as a raw file
stores them (reflected readouts reversed), the protocol values, the true
image, and the dense k-space a correct reader must produce from them.

2D scans acquire their slices interleaved (even spatial slices first) and
number them in acquisition order, as Siemens' slice counter does; 3D scans
encode partitions. Partial Fourier drops the first phase-encoding lines.

Geometry follows the scanner's conventions: the true image's columns, rows
and partitions advance along ``read``, ``phase`` and read x phase, and the
slice normal the header gives is Siemens' phase x read (``orientation``).
The phantom is placed so that the image as DICOM stores and a PACS displays
it shows it upright: on a transverse slice its top is anterior, with the
patient's right on the screen's left, as a radiologist reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from recon_image.raw.kspace import Protocol, SliceGeometry
from recon_image.raw.readouts import READOUT_DTYPE, Flag
from scripts.phantoms.numeric import coil_maps, oversample, shepp_logan, to_kspace

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class ScanSettings:
    """What to simulate.

    Attributes
    ----------
    dimension
        2 (multi-slice) or 3 (one slab).
    matrix
        (readout, phase, slices or partitions), readout without oversampling.
    oversampling
        Readout oversampling factor, 1 or 2.
    reflect
        Mark every other line REFLECT and store its samples reversed.
    partial_fourier
        Acquired fraction of the phase-encoding lines (1.0, 7/8, 6/8, …).
    averages
        Repetitions of every line, to be averaged.
    noise_scans
        Noise-adjustment readouts acquired before the image.
    noise_sigma
        Standard deviation of complex Gaussian noise added to every sample.
    acceleration
        Parallel-imaging factors along (phase, partition): every R-th line
        (partition) is acquired, the k-space centre among them.
    reference_lines
        Fully sampled calibration lines (partitions) around the centre along
        (phase, partition); (0, 0) for none.
    reference
        "integrated": the reference lines are part of the image
        (PATREFANDIMASCAN); "separate": acquired as their own readouts
        (PATREFSCAN) before the undersampled image.
    caipirinha_shift
        3D: each acquired line's partitions are shifted by this many
        partitions times the line's index in the lattice (CAIPIRINHA).
    axes
        (read, phase): unit directions of the image's columns and rows, for
        any orientation; None for a transverse slice tilted by ``tilt_deg``.
    marker
        Add a bright 3-voxel cube off the centre in every direction (in the
        second slice only of a 2D scan of several), so that a flip, swap or
        shift shows (``marker_voxel``).
    """

    dimension: Literal[2, 3] = 2
    matrix: tuple[int, int, int] = (64, 64, 4)
    coils: int = 4
    oversampling: int = 2
    reflect: bool = False
    partial_fourier: float = 1.0
    averages: int = 1
    noise_scans: int = 0
    noise_sigma: float = 0.0
    seed: int = 0
    acceleration: tuple[int, int] = (1, 1)
    reference_lines: tuple[int, int] = (0, 0)
    reference: Literal["integrated", "separate"] = "integrated"
    caipirinha_shift: int = 0
    fov_mm: tuple[float, float] = (220.0, 220.0)
    thickness_mm: float = 5.0
    slice_gap: float = 0.2
    centre_mm: Vector = (4.5, -12.0, 30.0)
    tilt_deg: float = 12.0
    axes: tuple[Vector, Vector] | None = None
    marker: bool = False
    tr_ms: float = 250.0
    te_ms: float = 4.92
    ti_ms: float | None = None
    flip_deg: float = 70.0
    field_strength_t: float = 2.89362  # measured, as a 3 T system's header gives it
    sequence_name: str = "%SiemensSeq%\\gre"
    scanning_sequence: tuple[str, ...] = ("GR",)
    sequence_variant: tuple[str, ...] = ("SP",)
    protocol_name: str = "yc_gre_phantom"
    software_version: str = "syngo MR E11"


@dataclass
class SimulatedScan:
    """A simulated scan and what a reader must make of it.

    Attributes
    ----------
    settings
        What was simulated.
    readouts
        ``READOUT_DTYPE`` rows in acquisition order (noise scans first);
        ``offset`` is the row of ``samples``.
    samples
        complex64 (readouts, coils, samples) as stored in the file.
    protocol
        The protocol values, slices in spatial order.
    truth
        float32 (z, lines, columns): the true magnitude image.
    kspace
        complex64 (1, coils, z, lines, oversampled columns): the dense k-space
        a reader must produce (reflections undone, averages averaged, zeros
        where not acquired).
    sampled
        bool (z, lines): acquired phase-encoding positions.
    noise
        complex64 (coils, samples) of the noise scans, or None.
    chronological_slices
        For 2D: the spatial index of each slice counter (acquisition order).
    reference
        complex64 (coils, z, lines, oversampled columns): the reference block a
        reader must produce, or None without reference lines.
    reference_first
        (first z, first line) of that block in the k-space.
    """

    settings: ScanSettings
    readouts: np.ndarray
    samples: np.ndarray
    protocol: Protocol
    truth: np.ndarray
    kspace: np.ndarray
    sampled: np.ndarray
    noise: np.ndarray | None
    chronological_slices: tuple[int, ...] = field(default=())
    reference: np.ndarray | None = None
    reference_first: tuple[int, int] = (0, 0)

    @property
    def displayed_truth(self) -> np.ndarray:
        """``truth`` as the scanner shows it and DICOM stores it: row x column along the normal.

        With Siemens' normal (phase x read) that is the true image's rows in reverse order:
        the Shepp-Logan phantom as it is drawn, upright (``simulate`` places it so).
        """
        g = self.protocol.slices[0]
        if float(np.dot(np.cross(g.read_dir, g.phase_dir), g.slice_dir)) < 0:
            return self.truth[..., ::-1, :]
        return self.truth


def orientation(
    tilt_deg: float, axes: tuple[Vector, Vector] | None = None
) -> tuple[Vector, Vector, Vector]:
    """Read, phase and slice normal of ``axes`` (read, phase), or of a tilted transverse slice.

    The normal is phase x read, as Siemens' ``sNormal``: its rotation's
    columns are the gradient axes P = -phase and R = -read, and S = P x R.
    Without ``axes`` the slice is transverse (read right to left, rows from
    anterior to posterior as the scanner shows them: phase posterior to
    anterior), tilted by ``tilt_deg`` about the readout axis.
    """
    if axes is None:
        t = np.deg2rad(tilt_deg)
        read = np.array([1.0, 0.0, 0.0])
        phase = np.array([0.0, -np.cos(t), np.sin(t)])
    else:
        read, phase = (np.asarray(v, dtype=np.float64) for v in axes)
    normal = np.cross(phase, read)
    return _vec(read), _vec(phase), _vec(normal)


def marker_voxel(settings: ScanSettings) -> tuple[int, int, int]:
    """(z, line, column) of the centre of the marker ``settings.marker`` adds."""
    nx, ny, nz = settings.matrix
    return (min(1, nz - 1) if settings.dimension == 2 else max(1, nz // 4), ny // 8, nx // 8 + 1)


def interleaved(count: int) -> list[int]:
    """Spatial slice indices in interleaved acquisition order: even ones, then odd ones."""
    return [*range(0, count, 2), *range(1, count, 2)]


def simulate(settings: ScanSettings) -> SimulatedScan:
    """Simulate ``settings``; deterministic for a given ``settings.seed``."""
    s = settings
    nx, ny, nz = s.matrix
    rng = np.random.default_rng(s.seed)
    # Upright as displayed: DICOM's rows run against phase (displayed_truth), so the object's
    # top goes to the last line; for a transverse slice that puts it anterior.
    truth = np.ascontiguousarray(shepp_logan((nz, ny, nx))[:, ::-1])
    if s.marker:
        z, line, column = marker_voxel(s)
        depth = slice(z, z + 1) if s.dimension == 2 else slice(z - 1, z + 2)
        truth[depth, line - 1 : line + 2, column - 1 : column + 2] = 2.0
    maps = coil_maps(s.coils, (nz, ny, nx), seed=s.seed)
    images = oversample(maps * truth[None], s.oversampling)
    axes = (-2, -1) if s.dimension == 2 else (-3, -2, -1)
    full = to_kspace(images, axes)  # (coils, z, lines, columns)
    columns = nx * s.oversampling

    first_line = ny - round(s.partial_fourier * ny)
    chron = interleaved(nz) if s.dimension == 2 else list(range(nz))
    lattice, in_reference, block = _sampling(s)
    separate = s.reference == "separate" and in_reference.any()
    imaging_mask = lattice if separate else lattice | in_reference
    imaging_mask[:, :first_line] = False
    # readouts in acquisition order: (z, line, is reference-only, index of the line)
    order: list[tuple[int, int, bool, int]] = []
    if separate:
        order += _readout_order(s, in_reference, chron, reference_only=True)
    order += _readout_order(s, imaging_mask, chron, reference_only=False)

    count = s.averages * len(order)
    table = np.zeros(s.noise_scans + count, dtype=READOUT_DTYPE)
    samples = np.empty((table.size, s.coils, columns), dtype=np.complex64)
    read, phase, normal = orientation(s.tilt_deg, s.axes)
    positions = _slice_positions(s, normal)
    table["samples"] = columns
    table["channels"] = s.coils
    table["centre_column"] = columns // 2
    table["centre_line"] = ny // 2
    table["centre_partition"] = nz // 2 if s.dimension == 3 else 0
    table["read_dir"], table["phase_dir"], table["slice_dir"] = read, phase, normal
    table["position"] = positions[0] if s.dimension == 3 else positions[chron[0]]

    noise = None
    if s.noise_scans:
        noise_block = _gaussian(rng, (s.noise_scans, s.coils, columns), max(s.noise_sigma, 1e-3))
        samples[: s.noise_scans] = noise_block
        table["flags"][: s.noise_scans] = Flag.NOISEADJSCAN.mask
        noise = noise_block.transpose(1, 0, 2).reshape(s.coils, -1)

    expected = np.zeros((1, *full.shape), dtype=np.complex64)
    reference_sums = np.zeros(full.shape, dtype=np.complex128)
    row = s.noise_scans
    sums = np.zeros(full.shape, dtype=np.complex128)
    slice_counter = {spatial: counter for counter, spatial in enumerate(chron)}
    for average in range(s.averages):
        for z, line, reference_only, k in order:
            values = full[:, z, line, :]
            if s.noise_sigma > 0:
                values = values + _gaussian(rng, values.shape, s.noise_sigma)
            flags = Flag.ONLINE.mask
            if in_reference[z, line] and (reference_only or not separate):
                reference_sums[:, z, line, :] += values
                flags |= Flag.PATREFSCAN.mask
                if not reference_only:
                    flags |= Flag.PATREFANDIMASCAN.mask
            if not reference_only:
                sums[:, z, line, :] += values
            if s.reflect and k % 2 == 1:
                flags |= Flag.REFLECT.mask
                values = values[:, ::-1]
            entry = table[row]
            entry["lin"] = line
            entry["ave"] = average
            if s.dimension == 2:
                entry["sli"] = slice_counter[z]
                entry["position"] = positions[z]
            else:
                entry["par"] = z
            entry["flags"] = flags
            samples[row] = values
            row += 1
    expected[0] = (sums / s.averages).astype(np.complex64)
    sampled = imaging_mask.copy()
    reference = None
    if in_reference.any():
        (z0, z1), (l0, l1) = block
        reference = (reference_sums[:, z0:z1, l0:l1] / s.averages).astype(np.complex64)
    table["offset"] = np.arange(table.size)

    geometry = tuple(
        SliceGeometry(
            position_mm=_vec(p),
            read_dir=read,
            phase_dir=phase,
            slice_dir=normal,
            thickness_mm=s.thickness_mm * (nz if s.dimension == 3 else 1),
        )
        for p in (positions if s.dimension == 2 else positions[:1])
    )
    protocol = Protocol(
        sequence_name=s.sequence_name,
        protocol_name=s.protocol_name,
        dimension=s.dimension,
        matrix=(nx, ny, nz if s.dimension == 3 else 1),
        fov_mm=(s.fov_mm[0], s.fov_mm[1], geometry[0].thickness_mm),
        readout_oversampling=float(s.oversampling),
        partial_fourier=(s.partial_fourier, 1.0),
        acceleration=s.acceleration,
        slices=geometry,
        slice_spacing_mm=s.thickness_mm * (1.0 + s.slice_gap)
        if s.dimension == 2
        else s.thickness_mm,
        tr_ms=s.tr_ms,
        te_ms=(s.te_ms,),
        ti_ms=s.ti_ms,
        flip_deg=s.flip_deg,
        field_strength_t=s.field_strength_t,
        patient_position="HFS",
        software_version=s.software_version,
        reference_lines=s.reference_lines if s.dimension == 3 else (s.reference_lines[0], 0),
        scanning_sequence=s.scanning_sequence,
        sequence_variant=s.sequence_variant,
    )
    return SimulatedScan(
        settings=s,
        readouts=table,
        samples=samples,
        protocol=protocol,
        truth=truth,
        kspace=expected,
        sampled=sampled,
        noise=noise,
        chronological_slices=tuple(chron) if s.dimension == 2 else (),
        reference=reference,
        reference_first=(block[0][0], block[1][0]),
    )


def _sampling(
    s: ScanSettings,
) -> tuple[np.ndarray, np.ndarray, tuple[tuple[int, int], tuple[int, int]]]:
    """(undersampled lattice, reference region as (z, lines) masks, reference block bounds)."""
    _, ny, nz = s.matrix
    r_line, r_par = s.acceleration
    if s.dimension == 2:
        r_par = 1
    z = np.arange(nz)[:, None]
    line = np.arange(ny)[None, :]
    step = (line - ny // 2) // r_line
    shift = s.caipirinha_shift * step if s.dimension == 3 else 0
    lattice = ((line - ny // 2) % r_line == 0) & ((z - nz // 2 - shift) % r_par == 0)
    n_line, n_par = s.reference_lines
    l0 = max(0, ny // 2 - n_line // 2)
    l1 = min(ny, l0 + n_line)
    if s.dimension == 3 and n_par:
        z0 = max(0, nz // 2 - n_par // 2)
        z1 = min(nz, z0 + n_par)
    else:
        z0, z1 = 0, nz
    region = np.zeros((nz, ny), dtype=bool)
    if n_line:
        region[z0:z1, l0:l1] = True
    return lattice, region, ((z0, z1), (l0, l1))


def _readout_order(
    s: ScanSettings, mask: np.ndarray, chron: list[int], *, reference_only: bool
) -> list[tuple[int, int, bool, int]]:
    """(z, line, reference only, line number) of every position in ``mask``, in scan order."""
    order = []
    if s.dimension == 2:
        lines = np.flatnonzero(mask.any(axis=0))
        for k, line in enumerate(lines):
            for spatial in chron:
                if mask[spatial, line]:
                    order.append((spatial, int(line), reference_only, k))
    else:
        for z in range(mask.shape[0]):
            for k, line in enumerate(np.flatnonzero(mask[z])):
                order.append((z, int(line), reference_only, k))
    return order


def _slice_positions(s: ScanSettings, normal: Vector) -> np.ndarray:
    """Centres of the 2D slices in spatial order along ``normal`` (one entry, the slab, in 3D)."""
    centre = np.asarray(s.centre_mm)
    if s.dimension == 3:
        return centre[None].astype(np.float32)
    spacing = s.thickness_mm * (1.0 + s.slice_gap)
    nz = s.matrix[2]
    offsets = (np.arange(nz) - (nz - 1) / 2) * spacing
    return (centre[None] + offsets[:, None] * np.asarray(normal)[None]).astype(np.float32)


def _gaussian(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    noise = rng.standard_normal((*shape, 2), dtype=np.float32) * np.float32(sigma / np.sqrt(2))
    return noise.view(np.complex64).reshape(shape)


def _vec(values: np.ndarray) -> Vector:
    cleaned = [0.0 if abs(float(v)) < 1e-12 else float(v) for v in values]
    return (cleaned[0], cleaned[1], cleaned[2])
