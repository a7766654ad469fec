"""The one k-space model every reader produces and every pipeline consumes.

Coordinates are DICOM's patient coordinates (LPS, millimetres), which are also
Siemens' (sagittal = x, coronal = y, transverse = z). Directions are unit
vectors in that system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class SliceGeometry:
    """Where one slice (2D) or the slab (3D) lies.

    Attributes
    ----------
    position_mm
        Centre of the slice or slab.
    read_dir, phase_dir
        Directions of increasing column and row of the reconstructed image
        (the centred inverse FFT of the sorted k-space); the partitions of a
        3D slab advance along read_dir x phase_dir.
    slice_dir
        The slice normal the header gives (Siemens' ``sNormal``): 2D slices
        are ordered along it, and DICOM's row x column points along it, as in
        the scanner's own images. Siemens' is phase x read, opposite to the
        image frame's third axis, so its images show the rows reversed.
    thickness_mm
        Slice thickness (2D) or slab thickness (3D).
    """

    position_mm: Vector
    read_dir: Vector
    phase_dir: Vector
    slice_dir: Vector
    thickness_mm: float


@dataclass(frozen=True)
class RampSampling:
    """How the readout gradient ramps while the ADC samples (Meas ``alRegrid*``, entry 0).

    Attributes
    ----------
    mode
        ``alRegridMode``: 1 none, 2 trapezoidal ramps, 4 sinusoidal ramps.
    rampup_us, flattop_us, rampdown_us
        The readout gradient's ramp-up, flat top and ramp-down, from the ramp's start.
    delay_us
        ``alRegridDelaySamplesTime``: when the ADC opens, from the ramp's start.
    adc_duration_us
        ``aflRegridADCDuration``: how long the ADC samples.
    destination_samples
        ``alRegridDestSamples``: samples of the regridded readout (0 when not given).
    """

    mode: int
    rampup_us: float
    flattop_us: float
    rampdown_us: float
    delay_us: float
    adc_duration_us: float
    destination_samples: int = 0


@dataclass(frozen=True)
class Protocol:
    """The protocol values a reconstruction and its DICOM need; nothing that identifies anyone.

    Attributes
    ----------
    dimension
        2 for multi-slice 2D, 3 for a 3D slab.
    matrix
        Image matrix (readout, phase, partitions) without readout oversampling;
        partitions is 1 for 2D.
    fov_mm
        Field of view (readout, phase, slab thickness or slice thickness).
    readout_oversampling
        Acquired over image readout samples (2.0 on Siemens by default).
    partial_fourier
        Acquired fraction of k-space along (phase, partition): 1.0, 7/8, 6/8, 5/8, 4/8.
    acceleration
        Parallel-imaging factors along (phase, partition).
    slices
        One entry per slice in spatial order (2D) or one for the slab (3D).
    slice_spacing_mm
        Centre-to-centre distance of neighbouring slices (2D) or partitions (3D).
    reference_lines
        Parallel-imaging reference (calibration) lines along (phase, partition);
        0 when the protocol names none.
    trajectory
        "cartesian", or "radial" for golden-angle spokes: then the lines of
        the k-space are the spokes in acquisition order and ``matrix[1]`` is
        their number.
    ramp_sampling
        The readout's ramps when the header asks for regridding (``alRegridMode``
        above 1), else None.
    epi_factor, segments, multiband
        ``sFastImaging.lEPIFactor``, ``sFastImaging.lSegments`` and
        ``sSliceAcceleration.lMultiBandFactor``: 1 where the header names none.
    scanning_sequence, sequence_variant
        DICOM's Scanning Sequence ("GR", "SE", "IR", "EP", "RM") and Sequence
        Variant ("SP", "SK", "MP", …) as the header gives them; empty when it
        gives none.
    patient_sex
        DICOM's Patient's Sex ("F", "M", "O") from the header, or "": it
        identifies no one, and de-identification keeps it.
    """

    sequence_name: str
    protocol_name: str
    dimension: Literal[2, 3]
    matrix: tuple[int, int, int]
    fov_mm: tuple[float, float, float]
    readout_oversampling: float
    partial_fourier: tuple[float, float]
    acceleration: tuple[int, int]
    slices: tuple[SliceGeometry, ...]
    slice_spacing_mm: float
    tr_ms: float
    te_ms: tuple[float, ...]
    ti_ms: float | None
    flip_deg: float
    field_strength_t: float
    patient_position: str = "HFS"
    software_version: str = ""
    reference_lines: tuple[int, int] = (0, 0)
    trajectory: Literal["cartesian", "radial"] = "cartesian"
    ramp_sampling: RampSampling | None = None
    epi_factor: int = 1
    segments: int = 1
    multiband: int = 1
    scanning_sequence: tuple[str, ...] = ()
    sequence_variant: tuple[str, ...] = ()
    patient_sex: str = ""


@dataclass(frozen=True)
class VolumeLabel:
    """Which image volume a block of k-space belongs to (averages are already combined)."""

    echo: int = 0
    phase: int = 0
    repetition: int = 0
    set: int = 0


@dataclass
class Reference:
    """The parallel-imaging reference (calibration) block of k-space, fully sampled.

    Separate reference scans (PATREFSCAN) and integrated ones
    (PATREFANDIMASCAN, also part of the image) both land here.

    Attributes
    ----------
    data
        complex64 (coils, z, lines, columns): the block's samples, columns
        as in ``KSpace.data``. For 2D, z covers every slice; for 3D, the
        reference partitions only.
    first_line, first_z
        Where the block's first line and first z lie in ``KSpace.data``.
    sampled
        bool (z, lines) of the block: which positions were acquired.
    """

    data: np.ndarray
    first_line: int
    first_z: int
    sampled: np.ndarray

    @property
    def lines(self) -> int:
        return int(self.data.shape[2])


@dataclass
class KSpace:
    """Sorted Cartesian k-space of one measurement.

    Attributes
    ----------
    data
        complex64 array (volumes, coils, z, lines, columns): z is the slice
        index (2D, spatial order as in ``protocol.slices``) or the partition
        (3D); lines span the full phase matrix, columns the full oversampled
        readout. k-space centre sits at index n // 2 of lines, z (3D) and
        columns. Reflected readouts are already reversed and averages
        combined; unacquired positions are zero.
    sampled
        bool array (z, lines): which phase-encoding positions were acquired.
    noise
        complex64 array (coils, samples) of the noise-adjustment scans, or None.
    protocol
        The protocol values.
    volumes
        One label per entry of the first axis of ``data``.
    reference
        The parallel-imaging reference block of the first volume, or None.
    """

    data: np.ndarray
    sampled: np.ndarray
    noise: np.ndarray | None
    protocol: Protocol
    volumes: tuple[VolumeLabel, ...] = field(default=(VolumeLabel(),))
    reference: Reference | None = None

    @property
    def coils(self) -> int:
        return int(self.data.shape[1])
