"""ISMRMRD/MRD HDF5 files: acquisitions and the XML header, through the ``ismrmrd`` package.

All acquisition headers are read in one HDF5 read into the shared readout
table; MRD flags are translated into Siemens' EvalInfoMask bits so that the
sorter treats both formats alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import h5py
import ismrmrd
import ismrmrd.xsd
import numpy as np

from recon_image.errors import RawDataError
from recon_image.raw.kspace import Protocol
from recon_image.raw.readouts import READOUT_DTYPE, Flag, RawMeasurement

# MRD flag numbers (bit = number - 1) and the EvalInfoMask bit each one means here
_FLAGS = {
    7: Flag.FIRSTSCANINSLICE,
    8: Flag.LASTSCANINSLICE,
    19: Flag.NOISEADJSCAN,
    20: Flag.PATREFSCAN,
    21: Flag.PATREFANDIMASCAN,
    22: Flag.REFLECT,
    23: Flag.RTFEEDBACK,
    24: Flag.PHASCOR,
    25: Flag.LASTSCANINMEAS,
    26: Flag.HPFEEDBACK,
    27: Flag.SYNCDATA,
    28: Flag.RTFEEDBACK,
    29: Flag.SYNCDATA,
    30: Flag.REFPHASESTABSCAN,
    31: Flag.PHASESTABSCAN,
}
_COUNTERS = {
    "lin": "kspace_encode_step_1",
    "par": "kspace_encode_step_2",
    "sli": "slice",
    "ave": "average",
    "eco": "contrast",
    "phs": "phase",
    "rep": "repetition",
    "set": "set",
    "seg": "segment",
}


class MrdSamples:
    """Samples of MRD acquisitions, read from the HDF5 file on demand."""

    def __init__(self, path: Path, group: str, table: np.ndarray) -> None:
        self.path = path
        self.group = group
        self.table = table

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows)
        channels = int(self.table["channels"][rows[0]])
        samples = int(self.table["samples"][rows[0]])
        if out is None:
            out = np.empty((rows.size, channels, samples), dtype=np.complex64)
        first, last = int(rows.min()), int(rows.max())
        with h5py.File(self.path, "r") as file:
            column = file[self.group]["data"].fields("data")[first : last + 1]
        for i, values in enumerate(column[rows - first]):
            flat = np.asarray(values, dtype=np.float32)
            if flat.size != 2 * channels * samples:
                raise RawDataError(
                    str(self.path),
                    None,
                    f"acquisition {int(self.table['offset'][rows[i]])} holds {flat.size} values "
                    f"where its header promises {channels} channels x {samples} complex samples",
                )
            out[i] = flat.view(np.complex64).reshape(channels, samples)
        return out


def read_mrd(path: Path, group: str = "dataset") -> RawMeasurement:
    """Read the acquisitions and XML header of an MRD file's ``group``."""
    name = str(path)
    try:
        dataset = ismrmrd.Dataset(str(path), group, mode="r")
    except OSError as error:
        raise RawDataError(name, 0, f"the HDF5 file cannot be opened ({error})") from None
    with dataset:
        try:
            xml = dataset.read_xml_header()
        except LookupError:
            raise RawDataError(
                name, None, f"the MRD file has no '{group}/xml' header; it holds no measurement"
            ) from None
    try:
        with h5py.File(path, "r") as file:
            heads = file[group]["data"].fields("head")[:]
    except KeyError:
        raise RawDataError(name, None, f"the MRD file has no '{group}/data' acquisitions") from None
    except OSError as error:
        raise RawDataError(
            name, None, f"the acquisitions cannot be read, the file is damaged ({error})"
        ) from None
    protocol, centres = _parse_xml(xml, path)
    table = _table(heads, centres, path)
    return RawMeasurement(
        path=path, protocol=protocol, readouts=table, samples=MrdSamples(path, group, table)
    )


def _table(heads: np.ndarray, centres: tuple[int, int], path: Path) -> np.ndarray:
    if heads.size == 0:
        raise RawDataError(str(path), None, "the MRD file holds no acquisitions")
    table = np.zeros(heads.size, dtype=READOUT_DTYPE)
    idx = heads["idx"]
    for ours, theirs in _COUNTERS.items():
        table[ours] = idx[theirs]
    flags = heads["flags"].astype(np.uint64)
    mask = np.zeros(heads.size, dtype=np.uint64)
    for number, flag in _FLAGS.items():
        hit = (flags >> np.uint64(number - 1)) & np.uint64(1)
        mask |= hit * np.uint64(flag.mask)
    table["flags"] = mask
    table["samples"] = heads["number_of_samples"]
    table["channels"] = heads["active_channels"]
    table["centre_column"] = heads["center_sample"]
    table["centre_line"], table["centre_partition"] = centres
    table["position"] = heads["position"]
    table["read_dir"] = heads["read_dir"]
    table["phase_dir"] = heads["phase_dir"]
    table["slice_dir"] = heads["slice_dir"]
    table["offset"] = np.arange(heads.size)
    empty = np.flatnonzero((table["channels"] == 0) | (table["samples"] == 0))
    if empty.size:
        first = int(empty[0])
        raise RawDataError(
            str(path),
            None,
            f"acquisition {first} has {int(table['channels'][first])} channels and "
            f"{int(table['samples'][first])} samples (at least one of each expected); "
            "the raw data is corrupt",
        )
    return table


_TRAJECTORIES = {"cartesian": "cartesian", "goldenangle": "radial"}
"""MRD trajectories the worker reconstructs, as the k-space model names them."""


def _trajectory(encoding: Any, path: Path) -> Literal["cartesian", "radial"]:
    """The k-space model's trajectory for the MRD ``<trajectory>``; others are refused."""
    value = getattr(encoding.trajectory, "value", encoding.trajectory) or "cartesian"
    if value not in _TRAJECTORIES:
        raise RawDataError(
            str(path),
            None,
            f"the MRD XML header's trajectory is {value!r}; the worker reconstructs Cartesian"
            " and golden-angle radial ('goldenangle') data only: choose a mode that runs a"
            " reconstruction for this trajectory",
        )
    return _TRAJECTORIES[value]  # type: ignore[return-value]


def _limit(limits: object, name: str) -> object | None:
    return getattr(limits, name, None) if limits is not None else None


def protocol_from_xml(xml: bytes | str, path: Path) -> Protocol:
    """The reconstruction's protocol values from the MRD XML header (slices left empty)."""
    return _parse_xml(xml, path)[0]


def _parse_xml(xml: bytes | str, path: Path) -> tuple[Protocol, tuple[int, int]]:
    """The protocol and the k-space centre line and partition the encoding limits name."""
    try:
        header = ismrmrd.xsd.CreateFromDocument(xml)
    except Exception as error:  # the XML parser raises many types for one cause: bad XML
        raise RawDataError(
            str(path), None, f"the MRD XML header is not valid ISMRMRD XML ({error})"
        ) from None
    if not header.encoding:
        raise RawDataError(str(path), None, "the MRD XML header has no <encoding>")
    encoding = header.encoding[0]
    encoded, recon = encoding.encodedSpace, encoding.reconSpace
    dimension = 3 if encoded.matrixSize.z > 1 else 2
    oversampling = encoded.matrixSize.x / recon.matrixSize.x if recon.matrixSize.x else 1.0
    lines = encoded.matrixSize.y
    partitions = encoded.matrixSize.z if dimension == 3 else 1
    limits = encoding.encodingLimits
    fractions = []
    for step, size in ((1, lines), (2, partitions)):
        limit = _limit(limits, f"kspace_encoding_step_{step}")
        if limit is None or size <= 1:
            fractions.append(1.0)
            continue
        acquired = (limit.maximum - limit.minimum + 1) / size
        fractions.append(min(1.0, round(acquired * 8) / 8))
    trajectory = _trajectory(encoding, path)
    acceleration = (1, 1)
    if encoding.parallelImaging is not None:
        factor = encoding.parallelImaging.accelerationFactor
        acceleration = (int(factor.kspace_encoding_step_1), int(factor.kspace_encoding_step_2))
    sequence = header.sequenceParameters
    info = header.measurementInformation
    system = header.acquisitionSystemInformation
    subject = header.subjectInformation
    thickness = float(recon.fieldOfView_mm.z)
    protocol = Protocol(
        sequence_name=(info.sequenceName or "") if info else "",
        protocol_name=(info.protocolName or "") if info else "",
        dimension=dimension,
        matrix=(int(recon.matrixSize.x), int(lines), int(partitions)),
        fov_mm=(float(recon.fieldOfView_mm.x), float(encoded.fieldOfView_mm.y), thickness),
        readout_oversampling=float(oversampling),
        partial_fourier=(fractions[0], fractions[1]),
        acceleration=acceleration,
        slices=(),
        slice_spacing_mm=thickness / partitions if dimension == 3 else thickness,
        tr_ms=float(sequence.TR[0]) if sequence and sequence.TR else 0.0,
        te_ms=tuple(float(t) for t in sequence.TE) if sequence and sequence.TE else (0.0,),
        ti_ms=float(sequence.TI[0]) if sequence and sequence.TI else None,
        flip_deg=float(sequence.flipAngle_deg[0]) if sequence and sequence.flipAngle_deg else 0.0,
        field_strength_t=float(system.systemFieldStrength_T or 0.0) if system else 0.0,
        patient_position=info.patientPosition.value if info else "HFS",
        software_version="",
        trajectory=trajectory,
        patient_sex=(subject.patientGender or "") if subject else "",
    )
    centres = []
    for step, size in ((1, lines), (2, partitions)):
        limit = _limit(limits, f"kspace_encoding_step_{step}")
        centres.append(int(limit.center) if limit is not None else size // 2)
    return protocol, (centres[0], centres[1])
