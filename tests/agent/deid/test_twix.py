"""De-identifying TWIX files (VE through twixtools' writer, VB) of fictitious patients."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import twixtools

from agent.deid.twix import deidentify_twix
from agent.errors import DeidRefused
from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.raw.read import read_raw
from scripts.phantoms import header as phantom_header
from scripts.phantoms import twix_ve
from scripts.phantoms.header import Patient, Site, identity_strings
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate
from scripts.phantoms.twix_vb import write_vb
from scripts.phantoms.twix_ve import write_ve
from tests.agent.deid.leaks import apply_patches, found
from tests.agent.deid.real_file import (
    IDENTITY_VALUES,
    REAL_FILE,
    changes_outside_masking,
    identity_in,
    unmasked_fields,
)

WRITERS = {"VE": write_ve, "VB": write_vb}


@pytest.fixture(scope="module")
def scan() -> SimulatedScan:
    return simulate(ScanSettings(matrix=(32, 32, 2), coils=2, seed=3))


def header_ranges(data: bytes, flavour: str) -> list[tuple[int, int]]:
    """Header ranges read straight from the file, independently of the code under test."""
    if flavour == "VB":
        return [(0, struct.unpack_from("<I", data, 0)[0])]
    count = struct.unpack_from("<I", data, 4)[0]
    ranges = [(8 + i * 152 + 24, 8 + i * 152 + 88) for i in range(64)]
    for i in range(count):
        offset = struct.unpack_from("<Q", data, 8 + i * 152 + 8)[0]
        ranges.append((offset, offset + struct.unpack_from("<I", data, offset)[0]))
    return ranges


def write(scan, tmp_path, flavour, seed=0, **people) -> tuple[Path, Patient, Site]:
    patient = people.get("patient") or Patient.fictitious(seed)
    site = people.get("site") or Site.fictitious(seed)
    path = tmp_path / f"{flavour}_{seed}.dat"
    WRITERS[flavour](scan, path, patient=patient, site=site)
    return path, patient, site


@pytest.mark.parametrize("flavour", ["VE", "VB"])
@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_no_identity_survives(scan, tmp_path, flavour, seed):
    path, patient, site = write(scan, tmp_path, flavour, seed)
    original = path.read_bytes()
    assert found(original, patient, site), "the phantom must carry the identity to remove"

    result = deidentify_twix(path)
    patched = apply_patches(original, result.patches)

    assert found(patched, patient, site) == []
    assert path.read_bytes() == original, "the file on disk is never changed"
    patched_bytes = sum(len(b) for _, b in result.patches)
    print(
        f"{flavour} seed {seed}: {len(original)} bytes, {len(result.patches)} patches, "
        f"{patched_bytes} bytes patched, {len(result.replaced)} fields kept for the vault"
    )


@pytest.mark.parametrize("flavour", ["VE", "VB"])
def test_vault_gets_the_originals_and_the_exam_moment(scan, tmp_path, flavour):
    path, patient, site = write(scan, tmp_path, flavour, seed=4)

    result = deidentify_twix(path)

    assert result.replaced["tPatientName"] == patient.name
    assert result.replaced["PatientID"] == patient.patient_id
    assert result.replaced["PatientBirthDay"] == patient.birth_date
    assert result.replaced["DeviceSerialNumber"] == site.serial_number
    assert result.replaced["InstitutionName"] == site.institution
    assert set(identity_strings(patient, site)) <= {
        value.removeprefix("ExamMemory_") for value in result.replaced.values()
    } | {result.replaced["tReferenceImage0"][:-1]}
    assert result.exam_date == site.scan_time.strftime("%Y%m%d")
    assert result.exam_time == site.scan_time.strftime("%H%M%S")
    assert result.software_version == "syngo MR E11"
    assert ("RAID.patName" in result.replaced) == (flavour == "VE")


@pytest.mark.parametrize("flavour", ["VE", "VB"])
def test_only_header_bytes_change_and_the_image_is_the_same(scan, tmp_path, flavour):
    path, patient, _ = write(scan, tmp_path, flavour, seed=1)
    original = path.read_bytes()
    result = deidentify_twix(path)
    patched = apply_patches(original, result.patches)
    clean = tmp_path / "clean.dat"
    clean.write_bytes(patched)

    ranges = header_ranges(original, flavour)
    changed = np.flatnonzero(np.frombuffer(original, np.uint8) != np.frombuffer(patched, np.uint8))
    inside = np.zeros(len(original), dtype=bool)
    for start, end in ranges:
        inside[start:end] = True
    assert changed.size > 0 and inside[changed].all()
    assert np.array_equal(
        np.frombuffer(original, np.uint8)[~inside], np.frombuffer(patched, np.uint8)[~inside]
    )

    if flavour == "VE":  # twixtools reads VD/VE/XA; the VB phantom is read by read_raw alone
        twix = twixtools.read_twix(str(clean))
        assert len(twix) == 2
        assert twix[-1]["hdr"]["Dicom"]["tPatientName"] != patient.name

    images = [reconstruct(read_raw(p), CartesianOptions(), threads=1) for p in (path, clean)]
    assert np.array_equal(images[0], images[1])
    print(
        f"{flavour}: {changed.size} bytes changed, all inside {len(ranges)} header ranges "
        f"({int(inside.sum())} bytes); {int((~inside).sum())} data bytes identical; "
        f"image {images[1].shape} identical"
    )


def test_stale_text_in_the_padding_is_masked(scan, tmp_path, monkeypatch):
    patient, site = Patient.fictitious(7), Site.fictitious(7)
    last, first = patient.name.split("^")
    day = patient.birth_date
    stale = (
        f'<ParamString."PatientName">  {{ "{patient.name}"  }}\n'
        f"{first.upper()} {last.upper()} born {day[6:]}.{day[4:6]}.{day[:4]} "
        f"at {site.institution}\n"
    ).encode("latin-1")
    monkeypatch.setattr(phantom_header, "_STALE", stale)
    monkeypatch.setattr(
        twix_ve,
        "measurement_header_bytes",
        lambda buffers: phantom_header.measurement_header_bytes(buffers, align=2048),
    )
    path, _, _ = write(scan, tmp_path, "VE", patient=patient, site=site)
    original = path.read_bytes()
    assert stale[:40] in original

    patched = apply_patches(original, deidentify_twix(path).patches)

    assert found(patched, patient, site) == []
    assert first.upper().encode() + b" " + last.upper().encode() not in patched


def test_age_over_89_becomes_90(scan, tmp_path):
    old = Patient(age_years=93.0)
    path, _, _ = write(scan, tmp_path, "VE", patient=old)

    result = deidentify_twix(path)
    clean = tmp_path / "clean.dat"
    clean.write_bytes(apply_patches(path.read_bytes(), result.patches))

    header = twixtools.read_twix(str(clean))[-1]["hdr"]
    assert header["Dicom"]["flPatientAge"] == pytest.approx(90.0)
    assert header["Dicom"]["flUsedPatientWeight"] == pytest.approx(old.weight_kg)
    assert header["Meas"]["flPatientHeight"] == pytest.approx(old.height_m * 1000)
    assert header["Dicom"]["lPatientSex"] == 1
    assert result.replaced["flPatientAge"] == "93.000000"


def test_age_up_to_89_stays(scan, tmp_path):
    path, _, _ = write(scan, tmp_path, "VB", patient=Patient(age_years=89.0))
    result = deidentify_twix(path)
    assert "flPatientAge" not in result.replaced


def test_unknown_identity_field_is_refused(scan, tmp_path, monkeypatch):
    buffers = twix_ve.measurement_buffers

    def with_nickname(*args, **kwargs):
        out = buffers(*args, **kwargs)
        out["Config"] = out["Config"].replace(
            '  <ParamLong."MeasUID">',
            '  <ParamString."tPatientNickname">  { "Janey"  }\n  <ParamLong."MeasUID">',
        )
        return out

    monkeypatch.setattr(twix_ve, "measurement_buffers", with_nickname)
    path, patient, _ = write(scan, tmp_path, "VE")

    with pytest.raises(DeidRefused, match="tPatientNickname") as refused:
        deidentify_twix(path)
    assert "Janey" not in str(refused.value) and patient.name not in str(refused.value)
    print("refused:", refused.value)


@pytest.mark.parametrize("version", ["syngo MR E99", "syngo MR D13D", "syngo MR XA30"])
def test_software_whose_headers_were_not_checked_is_refused(tmp_path, version):
    scan = simulate(ScanSettings(matrix=(16, 16, 1), coils=1, software_version=version))
    path, _, _ = write(scan, tmp_path, "VE")
    with pytest.raises(DeidRefused, match=r"not been checked.*Report the software version"):
        deidentify_twix(path)


@pytest.mark.parametrize("version", ["syngo MR B17", "syngo MR E11"])
def test_checked_software_versions_pass(tmp_path, version):
    scan = simulate(ScanSettings(matrix=(16, 16, 1), coils=1, software_version=version))
    path, _, _ = write(scan, tmp_path, "VB")
    assert deidentify_twix(path).software_version == version


def test_not_twix_is_refused(tmp_path):
    path = tmp_path / "notes.dat"
    path.write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(DeidRefused, match="not Siemens TWIX"):
        deidentify_twix(path)


@pytest.mark.parametrize(("flavour", "fraction"), [("VE", 0.05), ("VE", 0.5), ("VB", 0.05)])
def test_truncated_file_is_refused(scan, tmp_path, flavour, fraction):
    path, _, _ = write(scan, tmp_path, flavour)
    data = path.read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DeidRefused, match="truncated"):
        deidentify_twix(cut)


def test_the_real_e11_file_loses_its_identity_and_nothing_else():
    original = REAL_FILE.read_bytes()
    assert identity_in(original) == list(IDENTITY_VALUES), "every listed value is in the header"

    result = deidentify_twix(REAL_FILE)
    copy = apply_patches(original, result.patches)

    assert len(copy) == len(original)
    assert identity_in(copy) == []
    assert unmasked_fields(copy) == []
    assert changes_outside_masking(original, copy) == []
    assert result.software_version == "syngo MR E11"
    assert (result.exam_date, result.exam_time) == ("20210622", "151635")
    assert result.replaced["InstitutionName"] == "DZNE_Bonn-Venusberg"
    assert result.replaced["tCurrentMppsLoid"] == "6.0.66333094"
    assert "PatientSex" not in result.replaced and "lPatientSex" not in result.replaced
    print(
        f"real E11 file: {len(original)} bytes, {len(result.patches)} patches over "
        f"{sum(len(b) for _, b in result.patches)} bytes, {len(result.replaced)} values kept "
        f"for the vault; {len(IDENTITY_VALUES)} identity values listed, none left"
    )


def test_the_worker_reads_the_same_kspace_from_the_de_identified_real_file(tmp_path):
    copy = tmp_path / "deid.dat"
    copy.write_bytes(apply_patches(REAL_FILE.read_bytes(), deidentify_twix(REAL_FILE).patches))
    before, after = read_raw(REAL_FILE), read_raw(copy)
    assert after.data.shape == before.data.shape == (1, 2, 1, 160, 320)
    assert np.array_equal(after.data, before.data)
