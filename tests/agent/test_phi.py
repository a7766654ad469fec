"""The .phi vault: identity as ORT writes it, the agent's log and status, atomic saves."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import pytest

from agent.errors import BadTask
from agent.identity import PatientIdentity
from agent.phi import PhiFile, archive, decode_value, encode_value

UUID = "6513270e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

ORT_PHI = f"""[PHI]
NAME="MUSTERMANN, ERIKA"
DOB=12.08.1964
MRN=PID-4711
ACC=ACC0815
UUID={UUID}
TASKID=42
MODE=yc_cartesian

[LOG]
CREATED=2024-11-26T09:16:00

[Viewer]
Column width=120
"""


@pytest.fixture
def phi_path(tmp_path):
    path = tmp_path / f"{UUID}.phi"
    path.write_text(ORT_PHI)
    path.chmod(0o640)
    return path


def test_identity_as_re_identification_needs_it(phi_path):
    phi = PhiFile.load(phi_path)
    assert phi.uuid == UUID and phi.mode == "yc_cartesian" and phi.task_id == "42"
    assert phi.identity(exam_date="20241126", exam_time="091500") == PatientIdentity(
        name="MUSTERMANN^ERIKA",
        patient_id="PID-4711",
        birth_date="19640812",
        accession="ACC0815",
        task_uuid=UUID,
        exam_date="20241126",
        exam_time="091500",
    )


@pytest.mark.parametrize(
    "name,dob,expected_name,expected_dob",
    [
        ("DOE^JANE", "19640812", "DOE^JANE", "19640812"),
        ("DOE,JANE", "1964-08-12", "DOE^JANE", "19640812"),
        ("SMITH", "", "SMITH", ""),
    ],
)
def test_name_and_birth_date_spellings(tmp_path, name, dob, expected_name, expected_dob):
    path = tmp_path / "x.phi"
    path.write_text(f"[PHI]\nNAME={encode_value(name)}\nDOB={dob}\nMRN=1\n")
    identity = PhiFile.load(path).identity()
    assert (identity.name, identity.birth_date) == (expected_name, expected_dob)
    assert identity.task_uuid == "x"


@pytest.mark.parametrize("dob", ["08/12/1964", "xxxxxxxx", "19641332"])
def test_a_birth_date_not_understood_is_absent_with_a_warning_naming_the_field(
    tmp_path, caplog, dob
):
    path = tmp_path / "x.phi"
    path.write_text(f"[PHI]\nNAME=DOE^JANE\nDOB={dob}\nMRN=1\n")
    identity = PhiFile.load(path).identity()
    assert identity.birth_date == "" and identity.name == "DOE^JANE"
    assert "[PHI] DOB" in caplog.text and dob not in caplog.text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("[LOG]\nCREATED=x\n", "has no [PHI] section"),
        ("NAME=DOE\n", "not an INI file"),
        ("[PHI]\nNAME=DOE^JANE\n", "has no [PHI] MRN"),
    ],
)
def test_a_bad_phi_file_is_bad_task(tmp_path, text, expected):
    path = tmp_path / "x.phi"
    path.write_text(text)
    with pytest.raises(BadTask) as refused:
        PhiFile.load(path).identity()
    assert expected in str(refused.value) and "DOE" not in str(refused.value)


def test_log_status_stats_and_replaced_are_saved_and_the_rest_kept(phi_path):
    phi = PhiFile.load(phi_path)
    phi.log("UPLOAD_BEGIN", datetime(2024, 11, 26, 8, 16, 30, tzinfo=UTC))
    phi.set_status(result="Completed", retry_storage=2)
    phi.set_stats(cost=0.000027, datasize_mb=12.34)
    phi.record_replaced({"Config/PatientName": "Mustermann^Erika", "Dicom/tPatientName": "a, b"})
    phi.save()
    again = PhiFile.load(phi_path)
    assert again.logged("UPLOAD_BEGIN") == datetime(2024, 11, 26, 8, 16, 30, tzinfo=UTC)
    assert again.logged("CREATED") == datetime(2024, 11, 26, 9, 16)
    assert again.logged("COMPLETED") is None
    assert again.get("STATUS", "RESULT") == "Completed" and again.retries("STORAGE") == 2
    assert again.get("STATS", "COST") == "0.000027"
    assert again.get("STATS", "DATASIZE_MB") == "12.3"
    assert again.replaced() == {
        "Config/PatientName": "Mustermann^Erika",
        "Dicom/tPatientName": "a, b",
    }
    assert again.get("Viewer", "Column width") == "120"
    text = phi_path.read_text()
    assert 'NAME="MUSTERMANN, ERIKA"' in text and "Column width=120" in text
    assert stat.S_IMODE(phi_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in phi_path.parent.iterdir()) == [phi_path.name]


def test_recording_replaced_again_leaves_no_stale_entry(phi_path):
    phi = PhiFile.load(phi_path)
    phi.record_replaced({"a": "1", "b": "2"})
    phi.record_replaced({"a": "3"})
    phi.save()
    assert PhiFile.load(phi_path).replaced() == {"a": "3"}


def test_log_refuses_a_key_the_log_does_not_have(phi_path):
    with pytest.raises(ValueError, match="not a \\[LOG\\] key"):
        PhiFile.load(phi_path).log("UPLOADED", datetime.now(UTC))


@pytest.mark.parametrize(
    "value",
    ["plain", "MÜLLER, JÜRGEN", ' "quoted" ', "back\\slash", "semi;colon", "line\nbreak\ttab\x01"],
)
def test_values_round_trip_through_the_qt_ini_spelling(tmp_path, value):
    assert decode_value(encode_value(value)) == value
    path = tmp_path / "x.phi"
    path.write_text("[PHI]\nMRN=1\n")
    phi = PhiFile.load(path)
    phi.set("PHI", "NAME", value)
    phi.save()
    assert PhiFile.load(path).get("PHI", "NAME") == value


def test_qt_hex_escapes_and_latin_1_are_read(tmp_path):
    path = tmp_path / "x.phi"
    path.write_bytes(b"[PHI]\nNAME=M\\xfcLLER^J\\x00f6RG\nMRN=M\xfc1\n")
    phi = PhiFile.load(path)
    assert phi.get("PHI", "NAME") == "MüLLER^JöRG" and phi.get("PHI", "MRN") == "Mü1"


def test_archive_moves_the_file_and_replaces_an_earlier_one(phi_path, tmp_path):
    archive_dir = tmp_path / "phi_archive"
    archive_dir.mkdir()
    (archive_dir / phi_path.name).write_text("[PHI]\nold=1\n")
    moved = archive(phi_path, archive_dir)
    assert moved == archive_dir / phi_path.name and not phi_path.exists()
    assert PhiFile.load(moved).get("PHI", "MRN") == "PID-4711"
    assert os.listdir(archive_dir) == [phi_path.name]
