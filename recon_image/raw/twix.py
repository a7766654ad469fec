"""Siemens TWIX VD/VE/XA ("multi-RAID") files: file header, measurement list, scan headers.

The file is memory-mapped; the readers walk the chain of scan headers once
(each header's sizes give the next one's offset), gather all headers into one
structured array, and hand samples out as strided views of the mapping, so no
Python object is made per channel or per sample.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_image.errors import RawDataError
from recon_image.raw.measurement_header import read_measurement_header
from recon_image.raw.protocol import protocol_from_header
from recon_image.raw.readouts import COUNTERS, READOUT_DTYPE, Flag, RawMeasurement

RAID_HEADER_BYTES = 10240
MAX_MEASUREMENTS = 64
RAID_ENTRY = np.dtype(
    [
        ("meas_id", "<u4"),
        ("file_id", "<u4"),
        ("offset", "<u8"),
        ("length", "<u8"),
        ("patient_name", "S64"),
        ("protocol_name", "S64"),
    ]
)
SCAN_HEADER_BYTES = 192
CHANNEL_HEADER_BYTES = 32
_SLICE_DATA = [("position", "<f4", (3,)), ("quaternion", "<f4", (4,))]
_COUNTERS = [
    ("Lin", "<u2"),
    ("Ave", "<u2"),
    ("Sli", "<u2"),
    ("Par", "<u2"),
    ("Eco", "<u2"),
    ("Phs", "<u2"),
    ("Rep", "<u2"),
    ("Set", "<u2"),
    ("Seg", "<u2"),
    ("Ida", "<u2"),
    ("Idb", "<u2"),
    ("Idc", "<u2"),
    ("Idd", "<u2"),
    ("Ide", "<u2"),
]
SCAN_HEADER = np.dtype(
    [
        ("flags_and_dma_length", "<u4"),
        ("meas_uid", "<i4"),
        ("scan_counter", "<u4"),
        ("time_stamp", "<u4"),
        ("pmu_time_stamp", "<u4"),
        ("system_type", "<u2"),
        ("ptab_pos_delay", "<u2"),
        ("ptab_pos", "<i4", (3,)),
        ("reserved", "<i4"),
        ("eval_info_mask", "<u8"),
        ("samples_in_scan", "<u2"),
        ("used_channels", "<u2"),
        *_COUNTERS,
        ("cut_off", "<u2", (2,)),
        ("centre_column", "<u2"),
        ("coil_select", "<u2"),
        ("readout_offcentre", "<f4"),
        ("time_since_last_rf", "<u4"),
        ("centre_line", "<u2"),
        ("centre_partition", "<u2"),
        *_SLICE_DATA,
        ("ice_program_para", "<u2", (24,)),
        ("reserved_para", "<u2", (4,)),
        ("application_counter", "<u2"),
        ("application_mask", "<u2"),
        ("crc", "<u4"),
    ]
)
assert SCAN_HEADER.itemsize == SCAN_HEADER_BYTES
_SIEMENS_NAMES = ("Lin", "Par", "Sli", "Ave", "Eco", "Phs", "Rep", "Set", "Seg")
_SIEMENS_COUNTER = dict(zip(COUNTERS, _SIEMENS_NAMES, strict=True))


def is_multi_raid(first_bytes: bytes) -> bool:
    """Whether a file starting with ``first_bytes`` has the VD/VE/XA multi-RAID header."""
    if len(first_bytes) < 8:
        return False
    head, count = struct.unpack_from("<II", first_bytes)
    return head == 0 and 1 <= count <= MAX_MEASUREMENTS


def quaternion_directions(quaternion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image read and phase directions and the slice normal of SliceData quaternions (n, 4).

    The scan header stores the quaternion scalar first (a, b, c, d with a the
    scalar, as ``twixtools.geometry`` reads it). Its rotation's columns are
    the phase-encoding axis P, the readout axis R and the slice normal S
    (MeasYaps ``sNormal``), with P x R = S. The image a centred inverse FFT
    makes of the samples runs the other way along both gradient axes: its
    columns advance along -R and its rows along -P (``twixtools.geometry``
    flips both), and its partitions along -S = (-R) x (-P).

    Returns
    -------
    read, phase, normal
        The image's column and row directions -R and -P, and the slice
        normal S, each (n, 3).
    """
    a, b, c, d = (quaternion[:, i].astype(np.float64) for i in range(4))
    phase = np.stack([1 - 2 * (c * c + d * d), 2 * (b * c + a * d), 2 * (b * d - a * c)], axis=1)
    read = np.stack([2 * (b * c - a * d), 1 - 2 * (b * b + d * d), 2 * (c * d + a * b)], axis=1)
    return -read, -phase, np.cross(phase, read)


def readout_table(headers: np.ndarray, sample_offsets: np.ndarray) -> np.ndarray:
    """The shared readout table from Siemens scan headers (VB's or VD/VE's, same field names)."""
    table = np.zeros(len(headers), dtype=READOUT_DTYPE)
    for ours, theirs in _SIEMENS_COUNTER.items():
        table[ours] = headers[theirs]
    table["flags"] = headers["eval_info_mask"]
    table["samples"] = headers["samples_in_scan"]
    table["channels"] = headers["used_channels"]
    table["centre_column"] = headers["centre_column"]
    table["centre_line"] = headers["centre_line"]
    table["centre_partition"] = headers["centre_partition"]
    table["position"] = headers["position"]
    table["readout_offcentre"] = headers["readout_offcentre"]
    read, phase, normal = quaternion_directions(headers["quaternion"])
    table["read_dir"], table["phase_dir"], table["slice_dir"] = read, phase, normal
    table["offset"] = sample_offsets
    return table


class StridedSamples:
    """Samples of readouts laid out as ``[header][channel header, samples] x channels``.

    ``channel_header`` is the number of bytes before each channel's samples
    (32 on VD/VE, 128 on VB); ``offset`` in the table points at channel 0's
    first sample. Readouts at equal spacing are read through one strided view.
    """

    def __init__(self, data: np.ndarray, table: np.ndarray, channel_header: int) -> None:
        self.data = data
        self.table = table
        self.channel_header = channel_header

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows)
        if rows.size == 0:
            return np.zeros((0, 0, 0), dtype=np.complex64)
        channels = int(self.table["channels"][rows[0]])
        samples = int(self.table["samples"][rows[0]])
        if out is None:
            out = np.empty((rows.size, channels, samples), dtype=np.complex64)
        offsets = self.table["offset"][rows].astype(np.int64)
        channel_stride = self.channel_header + 8 * samples
        # runs of equally spaced readouts are read through one strided view each
        steps = np.diff(offsets)
        changes = np.flatnonzero(steps[1:] != steps[:-1]) + 2
        bounds = [0, *changes.tolist(), rows.size]
        for begin, end in itertools.pairwise(bounds):
            step = int(offsets[begin + 1] - offsets[begin]) if end - begin > 1 else 0
            view = np.ndarray(
                shape=(end - begin, channels, samples),
                dtype=np.complex64,
                buffer=self.data,
                offset=int(offsets[begin]),
                strides=(step, channel_stride, 8),
            )
            out[begin:end] = view
        return out


def _raid_entries(data: np.ndarray, path: Path) -> np.ndarray:
    size = data.size
    if size < RAID_HEADER_BYTES:
        raise RawDataError(
            str(path),
            size,
            f"the file ends inside the {RAID_HEADER_BYTES}-byte multi-RAID file header",
        )
    count = int(data[4:8].view("<u4")[0])
    return np.frombuffer(data, dtype=RAID_ENTRY, count=count, offset=8)


def read_twix_vd(path: Path) -> RawMeasurement:
    """Read the last measurement (the imaging scan) of a VD/VE/XA multi-RAID file."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    entries = _raid_entries(data, path)
    index = len(entries) - 1
    entry = entries[index]
    offset, length = int(entry["offset"]), int(entry["length"])
    entry_at = 8 + index * RAID_ENTRY.itemsize
    if offset < RAID_HEADER_BYTES or offset >= data.size:
        raise RawDataError(
            str(path),
            entry_at,
            f"measurement {index + 1} starts at byte {offset}, outside the file's "
            f"{RAID_HEADER_BYTES}..{data.size} bytes; the file is truncated or corrupt",
        )
    end = data.size if length == 0 else min(offset + length, data.size)
    header = read_measurement_header(data, offset, end, path)
    protocol = protocol_from_header(header, path)
    positions = walk_readouts(data, offset + header.length, end, path, VD_READOUT)
    headers = gather_headers(data, positions, SCAN_HEADER)
    table = readout_table(headers, positions + SCAN_HEADER_BYTES + CHANNEL_HEADER_BYTES)
    return RawMeasurement(
        path=path,
        protocol=protocol,
        readouts=table,
        samples=StridedSamples(data, table, CHANNEL_HEADER_BYTES),
    )


@dataclass(frozen=True)
class ReadoutFormat:
    """How a TWIX flavour lays out a readout: a header, then each channel's header and samples.

    Attributes
    ----------
    header_name, header_bytes
        What the readout's leading header is called in messages, and its size.
    fields
        Unpacks (flags and DMA length, EvalInfoMask, samples, channels) from that header.
    leading_bytes
        Bytes before the first channel (VD/VE: the scan header; VB: none, each
        channel starts with its own mdh).
    channel_header_bytes
        Bytes before each channel's samples.
    """

    header_name: str
    header_bytes: int
    fields: struct.Struct
    leading_bytes: int
    channel_header_bytes: int

    def readout_bytes(self, channels: int, samples: int) -> int:
        return self.leading_bytes + channels * (self.channel_header_bytes + 8 * samples)


VD_READOUT = ReadoutFormat(
    header_name="scan header",
    header_bytes=SCAN_HEADER_BYTES,
    fields=struct.Struct("<I36xQHH"),
    leading_bytes=SCAN_HEADER_BYTES,
    channel_header_bytes=CHANNEL_HEADER_BYTES,
)


def walk_readouts(
    data: np.ndarray, start: int, end: int, path: Path, layout: ReadoutFormat
) -> np.ndarray:
    """Follow the readouts from ``start`` to ACQEND; the offset of each one that carries samples.

    SYNCDATA blocks are stepped over by their DMA length.
    """
    name = str(path)
    positions: list[int] = []
    pos = start
    header = f"{layout.header_bytes}-byte {layout.header_name}"
    while True:
        if pos + layout.header_bytes > end:
            raise RawDataError(
                name,
                pos,
                f"the file ends {end - pos} bytes into a {header} before the ACQEND scan; the"
                " file is truncated — copy it from the scanner again",
            )
        flags_dma, mask, samples, channels = layout.fields.unpack_from(data, pos)
        if mask & Flag.ACQEND.mask:
            break
        if mask & Flag.SYNCDATA.mask:
            size = flags_dma & 0x1FFFFFF
            if size < layout.header_bytes:
                raise RawDataError(
                    name, pos, f"a SYNCDATA {layout.header_name} gives a DMA length of {size} bytes"
                )
        else:
            if channels == 0 or samples == 0:
                raise RawDataError(
                    name,
                    pos,
                    f"a readout has {channels} channels and {samples} samples "
                    "(at least one of each expected); the raw data is corrupt",
                )
            size = layout.readout_bytes(channels, samples)
            if pos + size > end:
                raise RawDataError(
                    name,
                    pos,
                    f"a readout of {channels} channels x {samples} samples needs {size} bytes "
                    f"but only {end - pos} remain; the file is truncated — copy it "
                    "from the scanner again",
                )
            positions.append(pos)
        pos += size
    if not positions:
        raise RawDataError(name, start, "the measurement holds no readouts before ACQEND")
    return np.asarray(positions, dtype=np.int64)


def gather_headers(data: np.ndarray, offsets: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Copy the fixed-size headers at ``offsets`` into one structured array, in chunks."""
    out = np.empty(len(offsets), dtype=dtype)
    raw = out.view(np.uint8).reshape(len(offsets), dtype.itemsize)
    span = np.arange(dtype.itemsize)
    chunk = 4096
    for begin in range(0, len(offsets), chunk):
        index = offsets[begin : begin + chunk, None] + span
        raw[begin : begin + chunk] = data[index]
    return out
