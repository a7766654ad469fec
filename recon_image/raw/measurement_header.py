"""The measurement header that starts every TWIX measurement (VB and VD/VE/XA alike).

Layout at the measurement's offset: ``u32 hdr_len`` (samples start at
offset + hdr_len), ``u32 n_buffers``, then per buffer a NUL-terminated name,
``u32 length`` and ``length`` bytes of latin-1 text (Config, Dicom, Meas,
MeasYaps, Phoenix, Spice). MeasYaps is ASCCONV, the others XProtocol; both are
parsed with ``twixtools.twixprot``.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from recon_image.errors import RawDataError

MAX_BUFFERS = 64
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_]{1,31}")
_ASCCONV = re.compile(r"### ASCCONV BEGIN[^\n]*\n(.*?)### ASCCONV END ###", re.DOTALL)
_ASSIGNMENT = re.compile(r"^[ \t]*([A-Za-z_][\w.\[\]]*)[ \t]*=[ \t]*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class MeasurementHeader:
    """The header buffers of one measurement.

    Attributes
    ----------
    offset
        Byte offset of the measurement in the file.
    length
        ``hdr_len``: the samples start at ``offset + length``.
    text
        Each buffer's raw text by name.
    values
        Each buffer's parsed values by name (nested dicts and lists as twixtools makes them).
    ascconv
        MeasYaps' ASCCONV assignments, flat: ``"sKSpace.lBaseResolution" -> "256"``;
        strings keep their quotes off and may hold spaces.
    """

    offset: int
    length: int
    text: dict[str, str]
    values: dict[str, dict[str, Any]]
    ascconv: dict[str, str]


def read_measurement_header(
    data: np.ndarray, offset: int, end: int, path: Path
) -> MeasurementHeader:
    """Parse the measurement header of the measurement at ``offset`` (ending at ``end``).

    ``data`` is the whole file as a uint8 array (a memmap). Raises
    RawDataError naming the byte offset of whatever is missing or wrong.
    """
    name = str(path)
    if offset + 8 > end:
        raise RawDataError(
            name, offset, "the file ends before the measurement header (8 bytes expected)"
        )
    hdr_len, n_buffers = (int(v) for v in data[offset : offset + 8].view("<u4"))
    if hdr_len < 8 or offset + hdr_len > end:
        raise RawDataError(
            name,
            offset,
            f"measurement header length {hdr_len} does not fit the {end - offset} bytes of the "
            "measurement; the file is truncated or not a TWIX file",
        )
    if n_buffers == 0:
        raise RawDataError(
            name, offset + 4, "the measurement header holds no buffers (MeasYaps expected)"
        )
    if n_buffers > MAX_BUFFERS:
        raise RawDataError(
            name,
            offset + 4,
            f"the measurement header claims {n_buffers} buffers (at most {MAX_BUFFERS} expected)",
        )
    header_end = offset + hdr_len
    pos = offset + 8
    text: dict[str, str] = {}
    for _ in range(n_buffers):
        window = bytes(data[pos : min(pos + 48, header_end)])
        nul = window.find(b"\x00")
        if nul < 2 or not _NAME.fullmatch(window[:nul]):
            raise RawDataError(
                name, pos, "expected a header buffer name (e.g. 'MeasYaps') ending in a NUL byte"
            )
        buffer_name = window[:nul].decode("ascii")
        length_at = pos + nul + 1
        if length_at + 4 > header_end:
            raise RawDataError(
                name, length_at, f"the header ends inside buffer {buffer_name!r}'s length"
            )
        length = int(data[length_at : length_at + 4].view("<u4")[0])
        start = length_at + 4
        if start + length > header_end:
            raise RawDataError(
                name,
                start,
                f"buffer {buffer_name!r} claims {length} bytes but the measurement header ends "
                f"{header_end - start} bytes later; the file is truncated or corrupt",
            )
        text[buffer_name] = bytes(data[start : start + length]).decode("latin-1")
        pos = start + length
    if "MeasYaps" not in text:
        raise RawDataError(
            name,
            offset,
            f"the measurement header has no MeasYaps (ASCCONV) buffer, only {sorted(text)}; "
            "export the raw data again with its protocol",
        )
    parse = _twixprot().parse_buffer
    values = {key: parse(value) for key, value in text.items()}
    return MeasurementHeader(
        offset=offset,
        length=hdr_len,
        text=text,
        values=values,
        ascconv=parse_ascconv(text["MeasYaps"]),
    )


def parse_ascconv(text: str) -> dict[str, str]:
    """Flat ``key -> value`` of the ``### ASCCONV BEGIN`` … ``END`` block (or the whole text)."""
    block = _ASCCONV.search(text)
    body = block.group(1) if block else text
    result: dict[str, str] = {}
    for match in _ASSIGNMENT.finditer(body):
        value = match.group(2).strip()
        if value.startswith('"'):
            end = value.find('"', 1)
            while end != -1 and value[end : end + 2] == '""':
                end = value.find('"', end + 2)
            value = value[1:end] if end != -1 else value[1:]
        else:
            value = value.split("#", 1)[0].strip()
        result[match.group(1)] = value
    return result


@cache
def _twixprot() -> ModuleType:
    """twixtools' header parser, loaded alone from the installed package.

    ``import twixtools.twixprot`` runs the package's ``__init__``, which imports its PMU
    plotting and so matplotlib: about a second at the start of every job, for a
    parser that needs only ``re`` and ``itertools``.
    """
    package = importlib.util.find_spec("twixtools")
    if package is None or package.origin is None:
        raise ImportError("twixtools is not installed; install the recon extra (.[recon])")
    path = Path(package.origin).with_name("twixprot.py")
    spec = importlib.util.spec_from_file_location("recon_image.raw._twixprot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
