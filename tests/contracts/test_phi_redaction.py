"""The PHI redaction rules every component applies (contracts.phi_redaction)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.phi_redaction import FILTERED, mentions_identity, redact, redact_text

TASK_TEXT = "[Task]\nReconMode=GraspFast\nPatientName=Doe^Jane\nACC=A998877\nScanFile=meas.dat\n"


# --------------------------------------------------------------------------
# redact_text: assignments in every syntax the sources use
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PatientName=Doe^John", "PatientName=[Filtered]"),
        (
            '<ParamString."PatientName">  { "Doe^John"  }',
            '<ParamString."PatientName">  { "[Filtered]"  }',
        ),
        ('tPatientName = "Doe"', 'tPatientName = "[Filtered]"'),
        ('"PatientName": "Doe"', '"PatientName": "[Filtered]"'),
        (
            "{'PatientID': '12345678', 'task_id': 'abc'}",
            "{'PatientID': '[Filtered]', 'task_id': 'abc'}",
        ),
        ('{"PatientAge": 42, "ok": 1}', '{"PatientAge": [Filtered], "ok": 1}'),
        (r'{"msg": "{\"PatientID\": \"123\"}"}', r'{"msg": "{\"PatientID\": \"[Filtered]\"}"}'),
        ('tPatientName = ""Doe^John""', 'tPatientName = ""[Filtered]""'),
        ('<ParamLong."lPatientSex">  { 2  }', '<ParamLong."lPatientSex">  { [Filtered]  }'),
        (
            '<ParamDouble."flUsedPatientWeight">  { <Precision> 16  75.000000  }',
            '<ParamDouble."flUsedPatientWeight">  { [Filtered]  }',
        ),
        (
            '<ParamString."tPerfPhysiciansName">  { "Dr ""Who"" Smith"  }',
            '<ParamString."tPerfPhysiciansName">  { "[Filtered]"  }',
        ),
        (
            '<ParamString."PatientsName">\n{\n  "Doe^John"\n}',
            '<ParamString."PatientsName">\n{\n  "[Filtered]"\n}',
        ),
        (
            "(0010,0010) Patient's Name                      PN: 'Doe^John'",
            "(0010,0010) Patient's Name                      PN: '[Filtered]'",
        ),
        ("Patient ID: 12345678", "Patient ID: [Filtered]"),
        ("patient_birth_date = 19700101", "patient_birth_date = [Filtered]"),
        ("PatientBirthDay=19700101 size=3", "PatientBirthDay=[Filtered]"),
        ("ACC=A998877", "ACC=[Filtered]"),
        (
            'sPatient.tPatientName = "Doe"  # comment',
            'sPatient.tPatientName = "[Filtered]"  # comment',
        ),
        ("PatientName=", "PatientName="),
    ],
)
def test_redact_text_filters_assignments(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "key",
    [
        "PatientName",
        "tPatientName",
        "PatientsName",
        "PatientID",
        "PatientBirthDay",
        "PatientBirthDate",
        "DOB",
        "MRN",
        "ACC",
        "AccessionNumber",
        "PatientSex",
        "lPatientSex",
        "PatientAge",
        "flPatientAge",
        "PatientWeight",
        "flUsedPatientWeight",
        "PatientHeight",
        "flPatientHeight",
        "InstitutionName",
        "InstitutionAddress",
        "ReferringPhysician",
        "tReferringPhysician",
        "PerformingPhysician",
        "tPerfPhysiciansName",
        "DeviceSerialNumber",
        "phi",
        "patient_name",
        "PATIENT-ID",
        "Patient's Birth Date",
        "accession number",
    ],
)
def test_every_identity_field_is_filtered_as_key_and_in_text(key: str) -> None:
    assert redact({key: "secret value"}) == {key: FILTERED}
    assert redact({key.lower(): "secret value"}) == {key.lower(): FILTERED}
    assert redact_text(f"{key}=secret value") == f"{key}={FILTERED}"
    assert redact_text(f'"{key}": "secret value"') == f'"{key}": "{FILTERED}"'


@pytest.mark.parametrize(
    "text",
    [
        "PatientPosition=HFS",
        'tPatientPosition = "HFS"',
        '<ParamString."PatientPosition">  { "HFS"  }',
        "task_id=6f1c0c0e site_id=s1",
        "ReconMode=GraspFast",
        "name=GraspFast",
        "the PatientName field must be empty in cloud mode",
        "accessible=yes",
    ],
)
def test_redact_text_keeps_what_is_not_identity(text: str) -> None:
    assert redact_text(text) == text


def test_redact_text_keeps_the_rest_of_a_task_file() -> None:
    assert redact_text(TASK_TEXT) == (
        "[Task]\nReconMode=GraspFast\nPatientName=[Filtered]\nACC=[Filtered]\nScanFile=meas.dat\n"
    )


def test_name_is_filtered_in_a_phi_file_but_not_elsewhere() -> None:
    phi_file = "[PHI]\nNAME=Doe^Jane\nUUID=6f1c\n"
    assert redact_text(phi_file) == "[PHI]\nNAME=[Filtered]\nUUID=6f1c\n"
    assert redact_text("NAME=Doe^Jane\nMRN=1234") == "NAME=[Filtered]\nMRN=[Filtered]"
    assert redact_text("[ClientConfig]\nName=GraspFast") == "[ClientConfig]\nName=GraspFast"


def test_redact_text_is_idempotent() -> None:
    once = redact_text(TASK_TEXT + '<ParamString."PatientName">  { "Doe"  }\n"ACC": "A1"')
    assert redact_text(once) == once


# --------------------------------------------------------------------------
# redact: mappings, sequences, contextual "name"
# --------------------------------------------------------------------------


def test_redact_walks_containers_and_leaves_input_alone() -> None:
    value: dict[str, Any] = {
        "task": {"task_id": "t1", "notes": ["PatientName=Doe", ("ACC=A1", 3, None)]},
        "Patient ID": {"nested": "anything"},
        "count": 2,
        "ok": True,
    }
    original = json.dumps(value)
    assert redact(value) == {
        "task": {"task_id": "t1", "notes": ["PatientName=[Filtered]", ("ACC=[Filtered]", 3, None)]},
        "Patient ID": FILTERED,
        "count": 2,
        "ok": True,
    }
    assert json.dumps(value) == original


def test_name_key_is_filtered_only_next_to_an_identity_key() -> None:
    assert redact({"NAME": "Doe^Jane", "MRN": "1234", "UUID": "6f1c"}) == {
        "NAME": FILTERED,
        "MRN": FILTERED,
        "UUID": "6f1c",
    }
    assert redact({"name": "GraspFast", "vcpus": 8}) == {"name": "GraspFast", "vcpus": 8}
    assert redact({"runtime": {"name": "CPython"}, "PatientID": "1"}) == {
        "runtime": {"name": "CPython"},
        "PatientID": FILTERED,
    }


def test_a_template_naming_an_identity_field_is_told_apart() -> None:
    assert mentions_identity("task file names PatientName=%s")
    assert mentions_identity("[PHI] NAME=%s")
    assert not mentions_identity("task %s of site %s, mode name %s")
