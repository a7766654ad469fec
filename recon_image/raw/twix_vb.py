"""Siemens TWIX VB files: one measurement header, then a 128-byte mdh before every channel.

A readout of ``nc`` channels and ``ns`` samples occupies ``nc·(128 + 8·ns)``
bytes; the first channel's mdh carries the counters, flags and SliceData for
all of them.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from recon_image.raw.measurement_header import read_measurement_header
from recon_image.raw.protocol import protocol_from_header
from recon_image.raw.readouts import RawMeasurement
from recon_image.raw.twix import (
    ReadoutFormat,
    StridedSamples,
    gather_headers,
    readout_table,
    walk_readouts,
)

MDH_BYTES = 128
MDH = np.dtype(
    [
        ("flags_and_dma_length", "<u4"),
        ("meas_uid", "<i4"),
        ("scan_counter", "<u4"),
        ("time_stamp", "<u4"),
        ("pmu_time_stamp", "<u4"),
        ("eval_info_mask", "<u8"),
        ("samples_in_scan", "<u2"),
        ("used_channels", "<u2"),
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
        ("cut_off", "<u2", (2,)),
        ("centre_column", "<u2"),
        ("coil_select", "<u2"),
        ("readout_offcentre", "<f4"),
        ("time_since_last_rf", "<u4"),
        ("centre_line", "<u2"),
        ("centre_partition", "<u2"),
        ("ice_program_para", "<u2", (4,)),
        ("free_para", "<u2", (4,)),
        ("position", "<f4", (3,)),
        ("quaternion", "<f4", (4,)),
        ("channel_id", "<u2"),
        ("ptab_pos_neg", "<u2"),
    ]
)
assert MDH.itemsize == MDH_BYTES
VB_READOUT = ReadoutFormat(
    header_name="mdh",
    header_bytes=MDH_BYTES,
    fields=struct.Struct("<I16xQHH"),
    leading_bytes=0,
    channel_header_bytes=MDH_BYTES,
)


def looks_like_vb(first_bytes: bytes) -> bool:
    """Whether a file starts like a VB measurement header: a length, a buffer count, a name.

    The length is not checked against the file's size here, so that a
    truncated file is reported as truncated rather than as an unknown format.
    """
    if len(first_bytes) < 16:
        return False
    hdr_len, n_buffers = struct.unpack_from("<II", first_bytes)
    return hdr_len >= 16 and 1 <= n_buffers <= 64 and first_bytes[8:12].isalpha()


def read_twix_vb(path: Path) -> RawMeasurement:
    """Read a VB file's measurement."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    header = read_measurement_header(data, 0, data.size, path)
    protocol = protocol_from_header(header, path)
    positions = walk_readouts(data, header.length, data.size, path, VB_READOUT)
    headers = gather_headers(data, positions, MDH)
    table = readout_table(headers, positions + MDH_BYTES)
    return RawMeasurement(
        path=path,
        protocol=protocol,
        readouts=table,
        samples=StridedSamples(data, table, MDH_BYTES),
    )
