"""The realistic measurement header carries a fictitious identity in every field a scanner uses."""

from __future__ import annotations

import re

from scripts.phantoms.header import (
    Patient,
    Site,
    identity_strings,
    measurement_buffers,
    measurement_header_bytes,
)
from scripts.phantoms.scan import ScanSettings, simulate


def test_fictitious_patient_and_site_are_reproducible() -> None:
    assert Patient.fictitious(5) == Patient.fictitious(5)
    assert Patient.fictitious(5) != Patient.fictitious(6)
    assert Site.fictitious(5) == Site.fictitious(5)


def test_identity_appears_in_every_form() -> None:
    scan = simulate(ScanSettings(dimension=2, matrix=(32, 32, 2), coils=2))
    patient, site = Patient.fictitious(1), Site.fictitious(1)
    buffers = measurement_buffers(scan.protocol, patient, site, scan.chronological_slices)

    assert list(buffers) == ["Config", "Dicom", "Meas", "MeasYaps", "Phoenix", "Spice"]
    name = re.escape(patient.name)
    assert re.search(rf'<ParamString\."tPatientName">  {{ "{name}"  }}', buffers["Config"])
    assert re.search(rf'<ParamString\."PatientsName"> \n\s*{{ \n\s*"{name}"\n', buffers["Meas"])
    for field in ("PatientID", "PatientBirthDay", "FrameOfReference", "ExamMemoryUID"):
        assert f'"{field}"' in buffers["Config"]
    for field in ("InstitutionName", "InstitutionAddress", "DeviceSerialNumber"):
        assert f'"{field}"' in buffers["Dicom"] and f'"{field}"' in buffers["Meas"]
    for field in ("flPatientAge", "flUsedPatientWeight", "lPatientSex"):
        assert f'"{field}"' in buffers["Dicom"]
    assert '"flPatientHeight"' in buffers["Meas"]
    for i in range(3):
        assert re.search(
            rf"tReferenceImage{i}\s+= \"1\.3\.12\.2\.1107\.5\.2\.19\.{site.serial_number}\.",
            buffers["MeasYaps"],
        )
    text = "".join(buffers.values())
    for value in identity_strings(patient, site):
        assert value in text, value


def test_header_bytes_have_length_count_and_stale_padding() -> None:
    buffers = {"Config": "abc", "MeasYaps": "### ASCCONV BEGIN ###\n### ASCCONV END ###\n"}
    raw = measurement_header_bytes(buffers)
    length, count = int.from_bytes(raw[:4], "little"), int.from_bytes(raw[4:8], "little")

    assert length == len(raw) and length % 32 == 0
    assert count == 2
    assert raw[8:15] == b"Config\x00"
    assert raw[-1:] != b"\x00"
