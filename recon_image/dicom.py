"""Reconstructed magnitude images as one DICOM MR Image Storage series.

Every file is a complete MR image (explicit VR little endian, Part 10 file
meta) whose geometry comes from the raw header's protocol. The cloud never
sees who was scanned or when: patient and date attributes hold placeholders
that the site agent replaces when it brings the images home, and the task id
stands where Yarra puts its UUID, in PatientComments.

UIDs all lie under :data:`UID_ROOT` and are derived from the task id, so a job
that Batch retries writes the same study, series and instance UIDs again and a
PACS receiving both copies stores the images once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, MRImageStorage, generate_uid
from pydicom.valuerep import DSfloat

from recon_image.errors import BadInput, ReconError
from recon_image.raw.kspace import Protocol, SliceGeometry, VolumeLabel

# The ISO/IEC 9834-8 OID of UUID 07b86c1a-2750-53ad-ac96-0a7f0566aabf, which is
# uuid5(NAMESPACE_URL, "https://yarracloud.org/dicom-uid-root"); the project's UIDs grow from it.
UID_ROOT = "2.25.10262171164801263753997394390066571967."
MANUFACTURER = "YarraCloud"
MODEL_NAME = "recon_image"
IMPLEMENTATION_CLASS_UID = UID(f"{UID_ROOT}0.1")
EXPLICIT_VR_LITTLE_ENDIAN = UID("1.2.840.10008.1.2.1")

# Siemens sequence names ("*tse2d1_15", "*fl3d1", "*epfid2d1_64") start with the family that
# tells DICOM's Scanning Sequence; families not listed are written as research mode (RM).
_SCANNING_SEQUENCE = {
    "fl": "GR",
    "fi": "GR",
    "fisp": "GR",
    "tfi": "GR",
    "me": "GR",
    "h": "SE",
    "se": "SE",
    "tse": "SE",
    "spc": "SE",
    "ep": "EP",
    "epfid": "EP",
    "epse": "EP",
    "ir": "IR",
    "tir": "IR",
}
# Nominal field strengths of MR systems (T); headers give the measured field (2.89362 for 3 T).
NOMINAL_FIELDS_T = (0.35, 0.55, 1.0, 1.5, 3.0, 5.0, 7.0, 9.4, 11.7)


def worker_version() -> str:
    """The installed worker's version ("0.1.0"), or "dev" when run from a bare source tree."""
    try:
        return package_version("yarracloud")
    except PackageNotFoundError:
        return "dev"


def derived_uid(task_id: str, *parts: str | int) -> UID:
    """A UID under :data:`UID_ROOT` that depends on the task id and ``parts`` alone."""
    return generate_uid(UID_ROOT, entropy_srcs=[json.dumps([task_id, *map(str, parts)])])


def write_series(
    pixels: np.ndarray,
    protocol: Protocol,
    out_dir: Path,
    *,
    task_id: str,
    series_description: str,
    series_number: int = 1,
    volumes: Sequence[VolumeLabel] | None = None,
) -> list[Path]:
    """Write ``pixels`` as one MR series, one file per image, into ``out_dir``.

    Parameters
    ----------
    pixels
        uint16 array (volumes, z, rows, cols): rows are phase-encoding lines,
        columns readout samples, z the slices (2D, in ``protocol.slices``
        order) or partitions (3D).
    protocol
        Geometry and timing from the raw header.
    out_dir
        Created if missing; files named ``S{series:03d}_I{instance:05d}.dcm``
        are overwritten, so a retried job leaves one copy.
    task_id
        The task's UUID: every UID derives from it, and it is the placeholder
        patient identity.
    series_description
        SeriesDescription of the series (the mode's name, say).
    series_number
        SeriesNumber; distinct series of one task need distinct numbers.
    volumes
        One label per volume (echo, cardiac phase, repetition, set); None
        labels the volumes as consecutive repetitions.

    Returns
    -------
    list of Path
        The files written, in InstanceNumber order (volume by volume, z within).

    Raises
    ------
    BadInput
        When the protocol's slice orientation is degenerate.
    ReconError
        When ``pixels`` does not fit the protocol (a fault of the worker).
    """
    labels = _check(pixels, protocol, volumes)
    _, nz, rows, cols = pixels.shape
    planes = [_plane(protocol, z, nz, rows, cols) for z in range(nz)]
    series = _series_dataset(protocol, task_id, series_description, series_number, pixels)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for v, label in enumerate(labels):
        center, width = window(pixels[v])
        for z, plane in enumerate(planes):
            instance = v * nz + z + 1
            image = pixels[v, z, ::-1] if plane.rows_reversed else pixels[v, z]
            ds = _image_dataset(series, protocol, plane, label, instance, image)
            ds.WindowCenter = _ds(center)
            ds.WindowWidth = _ds(width)
            ds.SOPInstanceUID = derived_uid(task_id, "image", series_number, instance)
            ds.file_meta = _file_meta(ds.SOPInstanceUID)
            path = out_dir / f"S{series_number:03d}_I{instance:05d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            written.append(path)
    return written


def window(volume: np.ndarray) -> tuple[float, float]:
    """Window centre and width spanning the 0.5th to 99.5th percentile of ``volume``.

    Percentiles rather than the extremes keep a few bright pixels (vessels,
    fat, a Gibbs ring) from washing the rest of the image out.
    """
    low, high = np.percentile(volume, [0.5, 99.5])
    width = max(float(high - low), 1.0)
    return float(low) + width / 2.0, width


def _check(
    pixels: np.ndarray, protocol: Protocol, volumes: Sequence[VolumeLabel] | None
) -> tuple[VolumeLabel, ...]:
    if pixels.dtype != np.uint16 or pixels.ndim != 4 or 0 in pixels.shape:
        raise ReconError(
            f"DICOM pixels must be non-empty uint16 (volumes, z, rows, cols), got {pixels.dtype}"
            f" {pixels.shape}"
        )
    n_volumes, nz = pixels.shape[:2]
    expected = len(protocol.slices) if protocol.dimension == 2 else protocol.matrix[2]
    if nz != expected or (protocol.dimension == 3 and len(protocol.slices) != 1):
        raise ReconError(
            f"{nz} images per volume do not fit a {protocol.dimension}D protocol with"
            f" {len(protocol.slices)} slice geometries and {protocol.matrix[2]} partitions"
        )
    if volumes is None:
        return tuple(VolumeLabel(repetition=r) for r in range(n_volumes))
    if len(volumes) != n_volumes:
        raise ReconError(f"{len(volumes)} volume labels for {n_volumes} volumes")
    return tuple(volumes)


@dataclass(frozen=True)
class _Plane:
    """Where one image lies: its first pixel's centre, its unit axes and its thickness.

    ``rows_reversed``: the image is stored with its rows in reverse order.
    """

    position: np.ndarray
    row: np.ndarray
    column: np.ndarray
    thickness: float
    rows_reversed: bool

    @property
    def location(self) -> float:
        """Signed distance of the plane from the origin along its normal (SliceLocation)."""
        return float(np.dot(self.position, np.cross(self.row, self.column)))


def _plane(protocol: Protocol, z: int, nz: int, rows: int, cols: int) -> _Plane:
    """The plane of image ``z``, stored so that row x column follows the header's slice normal.

    The reconstruction's pixel (r, c) lies at
    ``centre + (c - cols//2)·dx·read + (r - rows//2)·dy·phase`` (plus
    ``(z - nz//2)·dz·(read x phase)`` for 3D partitions), with dx = fov_read / cols,
    dy = fov_phase / rows and dz the slice spacing. Where read x phase points
    against the slice normal (Siemens' frame), the rows are stored in reverse
    order with the column direction -phase, as the scanner shows its images;
    ImagePositionPatient is then the centre of the last reconstructed row's
    first pixel, the first one transmitted.
    """
    geometry = protocol.slices[z] if protocol.dimension == 2 else protocol.slices[0]
    read, phase = _axes(geometry)
    dx, dy = protocol.fov_mm[0] / cols, protocol.fov_mm[1] / rows
    centre = np.asarray(geometry.position_mm, dtype=np.float64)
    if protocol.dimension == 3:
        centre = centre + (z - nz // 2) * protocol.slice_spacing_mm * np.cross(read, phase)
        thickness = protocol.slice_spacing_mm
    else:
        thickness = geometry.thickness_mm
    first = centre - (cols // 2) * dx * read - (rows // 2) * dy * phase
    reverse = float(np.dot(np.cross(read, phase), geometry.slice_dir)) < 0
    if reverse:
        first = first + (rows - 1) * dy * phase
        phase = -phase
    return _Plane(first, read, phase, thickness, reverse)


def _axes(geometry: SliceGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Unit read and phase directions; refuses a header whose two are not perpendicular."""
    read = np.asarray(geometry.read_dir, dtype=np.float64)
    phase = np.asarray(geometry.phase_dir, dtype=np.float64)
    read_norm, phase_norm = np.linalg.norm(read), np.linalg.norm(phase)
    if (
        read_norm < 1e-6
        or phase_norm < 1e-6
        or abs(np.dot(read, phase)) > 1e-3 * read_norm * phase_norm
    ):
        raise BadInput(
            f"the raw header's slice orientation is unusable (read {geometry.read_dir},"
            f" phase {geometry.phase_dir}): the directions must be perpendicular and non-zero;"
            " check that the scan file is complete"
        )
    return read / read_norm, phase / phase_norm


def _ds(value: float) -> DSfloat:
    """A decimal string of at most 16 characters; near-zeros become 0."""
    return DSfloat(round(float(value), 10) + 0.0, auto_format=True)


def _sequence_name(protocol: Protocol) -> str:
    """Sequence Name: the sequence file's own name ("gre" of ``%CustomerSeq%\\gre``), 16 at most."""
    return re.split(r"[\\/]", protocol.sequence_name)[-1][:16]


def _scanning(protocol: Protocol) -> list[str]:
    """Scanning Sequence as the header gives it; else from the sequence's name and the TI."""
    if protocol.scanning_sequence:
        return list(protocol.scanning_sequence)
    family = re.match(r"\*?([a-z]*)", _sequence_name(protocol).lower())
    kinds = [_SCANNING_SEQUENCE.get(family.group(1) if family else "", "RM")]
    if protocol.ti_ms is not None and "IR" not in kinds:
        kinds.append("IR")
    return kinds


def nominal_field(measured_t: float) -> float:
    """The nominal field strength nearest the measured one (2.89362 T → 3 T)."""
    return min(NOMINAL_FIELDS_T, key=lambda nominal: abs(nominal - measured_t))


def _series_dataset(
    protocol: Protocol,
    task_id: str,
    series_description: str,
    series_number: int,
    pixels: np.ndarray,
) -> Dataset:
    """The attributes every image of the series shares."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    ds.Modality = "MR"
    # Placeholders: the site agent writes the patient's identity and the exam's dates.
    ds.PatientName = f"YC^{task_id[:8]}"
    ds.PatientID = task_id
    ds.PatientBirthDate = ""
    ds.PatientSex = protocol.patient_sex
    ds.PatientComments = task_id
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.SeriesDate = ""
    ds.SeriesTime = ""
    ds.ContentDate = ""
    ds.ContentTime = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.StudyInstanceUID = derived_uid(task_id, "study")
    ds.SeriesInstanceUID = derived_uid(task_id, "series", series_number)
    ds.FrameOfReferenceUID = derived_uid(task_id, "frame of reference")
    ds.PositionReferenceIndicator = ""
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description[:64]
    ds.ProtocolName = protocol.protocol_name[:64]
    ds.Laterality = ""
    ds.PatientPosition = protocol.patient_position
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    versions = [f"{MODEL_NAME} {worker_version()}"]
    if protocol.software_version:
        versions.append(protocol.software_version[:64])
    ds.SoftwareVersions = versions
    ds.ScanningSequence = _scanning(protocol)
    ds.SequenceVariant = list(protocol.sequence_variant) or "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = f"{protocol.dimension}D"
    ds.SequenceName = _sequence_name(protocol)
    ds.RepetitionTime = _ds(protocol.tr_ms)
    if protocol.ti_ms is not None and "IR" in ds.ScanningSequence:
        # a TI in a header without inversion (a gradient echo's alTI[0]) names no inversion pulse
        ds.InversionTime = _ds(protocol.ti_ms)
    ds.EchoTrainLength = ""
    ds.FlipAngle = _ds(protocol.flip_deg)
    if protocol.field_strength_t > 0:
        ds.MagneticFieldStrength = _ds(nominal_field(protocol.field_strength_t))
    ds.SpacingBetweenSlices = _ds(protocol.slice_spacing_mm)
    rows, cols = pixels.shape[2:]
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [_ds(protocol.fov_mm[1] / rows), _ds(protocol.fov_mm[0] / cols)]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12 if int(pixels.max()) <= 4095 else 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    return ds


def _image_dataset(
    series: Dataset,
    protocol: Protocol,
    plane: _Plane,
    label: VolumeLabel,
    instance: int,
    image: np.ndarray,
) -> Dataset:
    """One image: the series' attributes, its plane, its volume and its pixels."""
    ds = Dataset()
    ds.update(series)
    ds.InstanceNumber = instance
    ds.AcquisitionNumber = label.repetition + 1
    ds.EchoNumbers = label.echo + 1
    te = protocol.te_ms[min(label.echo, len(protocol.te_ms) - 1)] if protocol.te_ms else None
    ds.EchoTime = _ds(te) if te is not None else ""
    if label.phase or label.set:
        ds.TemporalPositionIdentifier = label.phase + 1
        ds.ImageComments = f"phase {label.phase + 1}, set {label.set + 1}"
    ds.ImagePositionPatient = [_ds(v) for v in plane.position]
    ds.ImageOrientationPatient = [_ds(v) for v in (*plane.row, *plane.column)]
    ds.SliceThickness = _ds(plane.thickness)
    ds.SliceLocation = _ds(plane.location)
    ds.PixelData = np.ascontiguousarray(image, dtype="<u2").tobytes()
    return ds


def _file_meta(sop_instance_uid: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = f"YC_{worker_version()}"[:16]
    return meta
