"""The real E11 file's identity, as its original header holds it; checks on a de-identified copy.

The values were read from the header of ``tests/data/siemens-e11-gre.dat`` by eye,
not by the code under test. Left out: the publisher's placeholders (name
``xxxxxxx``, birth date ``xxxxxxxx``, ID of 48 ``x``), de-identification's own fill
characters (``X``, ``0``), and values too short or too common to search for in
binary data (``MeasUID`` 358, ``lB0MapUID`` -1, host names ``MRC``/``MCIR`` and
``localhost``, which are Siemens' fixed names on every scanner): those fields are
checked field by field instead (``IDENTITY_FIELDS``).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

REAL_FILE = Path(__file__).parents[2] / "data" / "siemens-e11-gre.dat"

IDENTITY_VALUES = (
    # the site
    "DZNE_Bonn-Venusberg",
    "DZNE - Deutsches Zentrum fuer Neurodegenerative Erkr.",
    "Deutsches Zentrum",
    "Sigmund - Freud - Strasse 27,Bonn,District,DE,53127",
    "Freud",
    "Bonn",
    "53127",
    # the scanner: serial number, UID root
    "45385",
    "1.3.12.2.1107.5.2.19.45385",
    # UIDs and LOIDs (frame of reference, localisers, patient/study/series/MPPS)
    "1.3.12.2.1107.5.2.19.45385.1.20210622151635693.0.0.0",
    "20210622151635693",
    "2021062215210264104627730",
    "2021062215225565459727749",
    "202106221526542879427793",
    "6.0.66327770",
    "6.0.66327775",
    "6.0.66327779",
    "6.0.66333094",
    "66327770",
    "66327775",
    "66327779",
    "66333094",
    "6_0_66327775_20210622_151635_650",
    "95fada65880a012d794baf970e721f10bb1ea311",
    # the exam's date and time, the transmitter calibration's, a coil's insertion time
    "20210622",
    "151635",
    "20090304",
    "123723",
    "8495",
)
IDENTITY_FIELDS = (
    "InstitutionName",
    "InstitutionAddress",
    "DeviceSerialNumber",
    "DICOM_UID_ROOT",
    "HOST_NAME",
    "HOST_NAME_CLIENT",
    "HOST_NAME_SERVER",
    "HOST_NAME_SERVER_LINUX",
    "OnlineTargetHostName",
    "MeasUID",
    "lB0MapUID",
    "tCurrentMppsLoid",
    "MppsLOIDS4Split",
    "PatientLOID",
    "StudyLOID",
    "SeriesLOID",
    "FrameOfReference",
    "ExamMemoryUID",
    "atTXCalibDate",
    "atTXCalibTime",
    "tPatientName",
    "PatientID",
    "PatientBirthDay",
)
"""Fields whose every value must be masked in a de-identified copy."""


def _pattern(value: str) -> re.Pattern[bytes]:
    before = rb"(?<![0-9])" if value[0].isdigit() else rb"(?<![A-Za-z])"
    after = rb"(?![0-9])" if value[-1].isdigit() else rb"(?![A-Za-z])"
    return re.compile(before + re.escape(value.encode("latin-1")) + after)


OTHER_SPELLINGS = ("2021-06-22", "22.06.2021", "2021/06/22", "22/06/2021", "15:16:35")
"""The exam's date and time as a log or a record might spell them."""
PATTERNS = {value: _pattern(value) for value in IDENTITY_VALUES + OTHER_SPELLINGS}


def identity_in(data: bytes | str) -> list[str]:
    """The identity values (and spellings) in ``data``, standing alone, not in a longer number."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return [value for value, pattern in PATTERNS.items() if pattern.search(raw)]


def header_range(data: bytes) -> tuple[int, int]:
    """The measurement header of a one-measurement VD/VE file, from its multi-RAID entry."""
    offset = struct.unpack_from("<Q", data, 8 + 8)[0]
    return offset, offset + struct.unpack_from("<I", data, offset)[0]


def raid_name_ranges() -> list[tuple[int, int]]:
    return [(8 + i * 152 + 24, 8 + i * 152 + 88) for i in range(64)]


def changes_outside_masking(original: bytes, copy: bytes) -> list[int]:
    """Offsets where ``copy`` differs from ``original`` other than by masking an identity value.

    Masking turns a letter into ``X`` and a digit into ``0`` within the measurement
    header; the multi-RAID entries' patient-name fields are masked whole.
    """
    start, end = header_range(original)
    names = raid_name_ranges()
    wrong = []
    for i in (i for i, (a, b) in enumerate(zip(original, copy, strict=True)) if a != b):
        if any(lo <= i < hi for lo, hi in names):
            continue
        masked = chr(copy[i]) == ("0" if chr(original[i]).isdigit() else "X")
        if not (start <= i < end and chr(original[i]).isalnum() and masked):
            wrong.append(i)
    return wrong


def unmasked_fields(data: bytes) -> list[str]:
    """Fields of ``IDENTITY_FIELDS`` holding a letter other than X or a digit other than 0."""
    start, end = header_range(data)
    header = data[start:end].decode("latin-1")
    found = []
    for name in IDENTITY_FIELDS:
        for tag in re.finditer(rf'<Param\w*\."{re.escape(name)}">', header):
            body = _body(header, tag.end())
            if re.search(r"[1-9A-WYZa-z]", re.sub(r"<[^<>]*>", "", body)):
                found.append(name)
    return found


def _body(text: str, at: int) -> str:
    opening = text.index("{", at)
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[opening + 1 : i]
    return text[opening + 1 :]
