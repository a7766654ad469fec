"""De-identify a Siemens TWIX file (VB, VD/VE/XA) as equal-length patches over its header ranges.

Only the header ranges are read and patched: for VD/VE/XA the multi-RAID
file header's entries (the patient name of all 64) and each measurement's
header from its offset to offset + ``hdr_len`` (every buffer and the padding
after them, which can hold stale text); for VB the one measurement header at
the start. Measurement data are never read or touched, so a file of any size
is handled in the memory of its headers, and the patches are applied while
uploading, without a second copy on disk.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.deid.fields import (
    Replacement,
    Sweep,
    ascconv_value,
    param_value,
    scan_fields,
    sweep,
    sweep_pattern,
    unknown_field,
)
from agent.deid.result import Deidentified
from agent.deid.versions import software_line
from agent.errors import DeidRefused
from transfer.positional import RandomAccessFile

RAID_HEADER_BYTES = 10240
RAID_ENTRY = struct.Struct("<IIQQ64s64s")
RAID_PATIENT_NAME_AT = 24
RAID_NAME_BYTES = 64
MAX_MEASUREMENTS = 64
MAX_BUFFERS = 64
PATCH_GAP = 8
_BUFFER_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_]{0,63}")
_HDF5 = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class TextRange:
    """Bytes ``[offset, offset + length)`` of the file scanned as text; ``what`` names it."""

    offset: int
    length: int
    what: str


@dataclass(frozen=True)
class Layout:
    """Where a TWIX file keeps text that can carry identity."""

    flavour: str
    measurement_headers: tuple[TextRange, ...]
    patient_names: tuple[TextRange, ...]
    protocol_names: tuple[TextRange, ...]


def _refuse_truncated(what: str) -> DeidRefused:
    return DeidRefused(
        f"the raw file is truncated or corrupt ({what}); nothing was uploaded. Export the "
        "raw data from the scanner again"
    )


def _read(raw: RandomAccessFile, offset: int, length: int) -> bytes:
    data = raw.read_at(offset, length)
    if len(data) != length:
        raise _refuse_truncated(f"it ends before byte {offset + length}")
    return data


def _check_buffers(raw: RandomAccessFile, offset: int, hdr_len: int, number: int) -> None:
    """Walk the measurement header's buffers: names, lengths, all within ``hdr_len``."""
    header = _read(raw, offset, hdr_len)
    count = struct.unpack_from("<I", header, 4)[0]
    if not 1 <= count <= MAX_BUFFERS:
        raise _refuse_truncated(f"measurement {number} has {count} header buffers")
    at = 8
    for _ in range(count):
        name = _BUFFER_NAME.match(header, at)
        end = name.end() if name else at
        if name is None or end + 5 > hdr_len or header[end] != 0:
            raise _refuse_truncated(f"a header buffer name of measurement {number} is unreadable")
        length = struct.unpack_from("<I", header, end + 1)[0]
        at = end + 5 + length
        if at > hdr_len:
            raise _refuse_truncated(f"a header buffer of measurement {number} runs past its end")


def _measurement_header(raw: RandomAccessFile, offset: int, end: int, number: int) -> TextRange:
    hdr_len, _ = struct.unpack("<II", _read(raw, offset, 8))
    if hdr_len < 16 or offset + hdr_len > end:
        raise _refuse_truncated(
            f"measurement {number}'s header of {hdr_len} bytes does not fit the file"
        )
    _check_buffers(raw, offset, hdr_len, number)
    return TextRange(offset, hdr_len, f"measurement {number} header")


def layout(path: Path) -> Layout:
    """Locate the header ranges of the TWIX file at ``path``.

    Raises
    ------
    DeidRefused
        For a file that is not TWIX (an MRD file included) or is truncated.
    """
    size = path.stat().st_size
    with RandomAccessFile(path) as raw:
        head = raw.read_at(0, 16)
        if head.startswith(_HDF5):
            raise DeidRefused(
                "the raw file is HDF5 (MRD), not Siemens TWIX; submit it as an MRD (.h5) file"
            )
        if len(head) < 16:
            raise DeidRefused(
                "the raw file is too short to be Siemens TWIX; nothing was uploaded. Export "
                "the raw data from the scanner again"
            )
        first, second = struct.unpack_from("<II", head)
        if first == 0 and 1 <= second <= MAX_MEASUREMENTS:
            return _multi_raid(raw, size, second)
        if first >= 16 and 1 <= second <= MAX_BUFFERS and head[8:12].isalpha():
            return Layout("VB", (_measurement_header(raw, 0, size, 1),), (), ())
        raise DeidRefused(
            "the raw file is not Siemens TWIX (neither a VD/VE/XA multi-RAID header nor a VB "
            "measurement header at its start); nothing was uploaded"
        )


def _multi_raid(raw: RandomAccessFile, size: int, count: int) -> Layout:
    if size < RAID_HEADER_BYTES:
        raise _refuse_truncated("it ends inside the multi-RAID file header")
    raid = _read(raw, 0, RAID_HEADER_BYTES)
    headers = []
    for i in range(count):
        _, _, offset, length, _, _ = RAID_ENTRY.unpack_from(raid, 8 + i * RAID_ENTRY.size)
        if offset < RAID_HEADER_BYTES or offset + length > size:
            raise _refuse_truncated(
                f"measurement {i + 1} of {count} should span bytes {offset}..{offset + length} "
                f"but the file has {size}"
            )
        headers.append(_measurement_header(raw, offset, offset + length or size, i + 1))
    entries = range(MAX_MEASUREMENTS)
    start = [8 + i * RAID_ENTRY.size + RAID_PATIENT_NAME_AT for i in entries]
    return Layout(
        "VD",
        tuple(headers),
        tuple(TextRange(at, RAID_NAME_BYTES, "RAID patient name") for at in start),
        tuple(TextRange(at + RAID_NAME_BYTES, RAID_NAME_BYTES, "RAID protocol") for at in start),
    )


def _apply(text: str, replacements: list[Replacement]) -> str:
    chars = list(text)
    for r in replacements:
        if len(r.text) != r.end - r.start:
            raise AssertionError("a replacement changed the header's length")
        chars[r.start : r.end] = r.text
    return "".join(chars)


def _patches(offset: int, before: bytes, after: bytes) -> list[tuple[int, bytes]]:
    """Runs of changed bytes as ``(offset, bytes)``; runs closer than PATCH_GAP are merged.

    Plain Python: a header is at most a few MiB, and the agent's upload path
    then needs no numpy in memory.
    """
    runs: list[tuple[int, int]] = []
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        if a == b:
            continue
        if runs and i - runs[-1][1] <= PATCH_GAP:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return [(offset + s, after[s : e + 1]) for s, e in runs]


def _record(replaced: dict[str, str], field: str, value: str) -> None:
    """Keep ``value`` under ``field`` (``field#2``, … for a second, different value)."""
    if not field or not value:
        return
    key, n = field, 1
    while key in replaced:
        if replaced[key] == value:
            return
        n += 1
        key = f"{field}#{n}"
    replaced[key] = value


def exam_moment(uid: str) -> tuple[str, str]:
    """``(YYYYMMDD, HHMMSS)`` from a Siemens UID that carries the exam's time stamp, or ('', '')."""
    for part in uid.split("."):
        if len(part) >= 14 and part.isdigit():
            try:
                moment = datetime.strptime(part[:14], "%Y%m%d%H%M%S")
            except ValueError:
                continue
            return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")
    return "", ""


def _exam(text: str) -> tuple[str, str]:
    for read in (
        lambda: param_value(text, "FrameOfReference"),
        lambda: ascconv_value(text, "tReferenceImage0"),
    ):
        value = read()
        if value:
            moment = exam_moment(value)
            if moment[0]:
                return moment
    return "", ""


def _software(text: str) -> tuple[str, str]:
    """The header's ``SoftwareVersions`` and its baseline string (either may be '')."""
    version = param_value(text, "SoftwareVersions") or ""
    return version, ascconv_value(text, "sProtConsistencyInfo.tBaselineString") or ""


@dataclass(frozen=True)
class Inspection:
    """What de-identification would do with a TWIX file; names only, never a value.

    Attributes
    ----------
    flavour
        ``VB`` or ``VD`` (VD/VE/XA multi-RAID).
    software_version
        The header's ``SoftwareVersions`` ('' when it names none).
    refusal
        Why the agent would refuse the file ('' when it would accept it).
    unknown_fields
        Names that look like identity and that the catalogue lacks, sorted.
    replaced_fields
        Names of the fields whose values would be replaced, sorted.
    patches, patched_bytes
        How many equal-length patches, over how many bytes.
    """

    flavour: str
    software_version: str
    refusal: str
    unknown_fields: tuple[str, ...]
    replaced_fields: tuple[str, ...]
    patches: int
    patched_bytes: int


def deidentify_twix(path: Path) -> Deidentified:
    """The patches that remove identity from the TWIX file at ``path`` (which is not changed).

    Returns
    -------
    Deidentified
        Equal-length patches over the header ranges only, what they replaced
        (for the vault), the software version and the exam's date and time.

    Raises
    ------
    DeidRefused
        For a file that is not TWIX or is truncated, an unknown identity-like
        field, or scanner software not known to work. Messages never carry a value.
    """
    found, headers = _read_headers(Path(path))
    version = ""
    for text in headers[: len(found.measurement_headers)]:
        version, baseline = _software(text)
        software_line(version, baseline)
    return _deidentify(found, headers, version, unknown=None)


def inspect_twix(path: Path) -> Inspection:
    """What ``deidentify_twix`` would do with the file at ``path``, every unknown field listed.

    Raises
    ------
    DeidRefused
        For a file that is not TWIX or is truncated (nothing to inspect).
    """
    found, headers = _read_headers(Path(path))
    refusals = []
    version = ""
    for text in headers[: len(found.measurement_headers)]:
        version, baseline = _software(text)
        try:
            software_line(version, baseline)
        except DeidRefused as refused:
            refusals.append(str(refused))
    unknown: set[str] = set()
    result = _deidentify(found, headers, version, unknown=unknown)
    if unknown:
        refusals.append(unknown_field(sorted(unknown, key=str.lower)[0]).args[0])
    replaced = {field.split("#")[0] for field in result.replaced}
    return Inspection(
        flavour=found.flavour,
        software_version=version,
        refusal=refusals[0] if refusals else "",
        unknown_fields=tuple(sorted(unknown, key=str.lower)),
        replaced_fields=tuple(sorted(replaced - unknown, key=str.lower)),
        patches=len(result.patches),
        patched_bytes=sum(len(data) for _, data in result.patches),
    )


def _read_headers(path: Path) -> tuple[Layout, list[str]]:
    """The file's layout and the text of each of its ranges (measurement headers first)."""
    found = layout(path)
    ranges = [*found.measurement_headers, *found.patient_names, *found.protocol_names]
    with path.open("rb") as file:
        texts = []
        for r in ranges:
            file.seek(r.offset)
            texts.append(file.read(r.length).decode("latin-1"))
    return found, texts


def _deidentify(
    found: Layout, texts: list[str], version: str, unknown: set[str] | None
) -> Deidentified:
    ranges = [*found.measurement_headers, *found.patient_names, *found.protocol_names]
    exam_date, exam_time = _exam(texts[len(found.measurement_headers) - 1])
    replaced: dict[str, str] = {}
    edits: list[list[Replacement]] = []
    for r, text in zip(ranges, texts, strict=True):
        if r in found.measurement_headers:
            edits.append(scan_fields(text, unknown))
        elif r in found.patient_names:
            name = text.split("\x00", 1)[0]
            edits.append([Replacement(0, len(text), _mask_name(text), "RAID.patName", name)])
        else:
            edits.append([])
        for edit in edits[-1]:
            _record(replaced, edit.field, edit.original)
    pattern = sweep_pattern([*(v for k, v in replaced.items() if not _is_age(k)), exam_date])

    patches: list[tuple[int, bytes]] = []
    for r, text, edit in zip(ranges, texts, edits, strict=True):
        patched = _apply(text, edit)
        patched = _apply(patched, sweep(patched, pattern))
        _verify(patched, pattern, r in found.measurement_headers, unknown)
        patches += _patches(r.offset, text.encode("latin-1"), patched.encode("latin-1"))
    return Deidentified(
        patches=tuple(sorted(patches)),
        replaced=replaced,
        software_version=version,
        exam_date=exam_date,
        exam_time=exam_time,
    )


def _is_age(field: str) -> bool:
    return field.split("#")[0].lower() in ("flpatientage", "patientage")


def _mask_name(text: str) -> str:
    """A RAID name field masked whole: the name and any stale bytes after its NUL."""
    return "".join(
        "0" if c.isdigit() else "X" if c.isalpha() else c if c in "\x00 ^" else "X" for c in text
    )


def _verify(patched: str, pattern: Sweep | None, is_header: bool, unknown: set[str] | None) -> None:
    """Fail closed: the patched text must hold no identity value and no unmasked field."""
    leftover = bool(sweep(patched, pattern))
    if is_header:
        fields = scan_fields(patched, unknown)
        leftover = leftover or any(r.text != patched[r.start : r.end] for r in fields)
    if leftover:
        raise DeidRefused(
            "de-identification could not remove every identity value from the raw header; "
            "nothing was uploaded. Report the scanner software version to YarraCloud support"
        )
