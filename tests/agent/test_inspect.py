"""``yarracloud-agent inspect FILE``: what de-identification would replace, and what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.deid.twix import deidentify_twix
from agent.errors import DeidRefused
from scripts.phantoms import twix_ve
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.agent.deid.real_file import REAL_FILE, identity_in

UNKNOWN = (
    '  <ParamString."tPatientNickname">  { "Janey"  }\n'
    '  <ParamString."sSiteHostLoid">  { "7.7.4242"  }\n'
    '  <ParamString."lastCalibrationDate">  { "20250101"  }\n'
)


def phantom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str = "syngo MR E11") -> Path:
    """A phantom VE file whose Config buffer holds three identity-like names the catalogue lacks."""
    buffers = twix_ve.measurement_buffers

    def with_unknown(*args, **kwargs):
        out = buffers(*args, **kwargs)
        out["Config"] = out["Config"].replace(
            '  <ParamLong."MeasUID">', UNKNOWN + '  <ParamLong."MeasUID">'
        )
        return out

    monkeypatch.setattr(twix_ve, "measurement_buffers", with_unknown)
    scan = simulate(ScanSettings(matrix=(16, 16, 1), coils=1, software_version=version))
    return write_ve(
        scan, tmp_path / "scan.dat", patient=Patient.fictitious(7), site=Site.fictitious(7)
    )


def test_the_real_file_is_accepted_and_its_replaced_fields_are_named_without_values(capsys):
    assert main(["inspect", str(REAL_FILE)]) == 0
    out = capsys.readouterr().out
    print(out)
    for field in ("InstitutionName", "DICOM_UID_ROOT", "tCurrentMppsLoid", "atTXCalibDate"):
        assert f"  {field}\n" in out
    assert "PatientSex" not in out
    assert "No field looks like identity without being in the catalogue" in out
    assert out.rstrip().endswith("Verdict: accepted")
    assert identity_in(out) == []


def test_every_unknown_identity_like_name_is_listed_and_the_file_refused(
    tmp_path, monkeypatch, capsys
):
    raw = phantom(tmp_path, monkeypatch)
    assert main(["inspect", str(raw)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert "3 fields look like identity and are not in the catalogue" in out
    for name in ("tPatientNickname", "sSiteHostLoid", "lastCalibrationDate"):
        assert f"  {name}\n" in out
    assert "Verdict: refused" in out
    for value in ("Janey", "7.7.4242", "20250101"):
        assert value not in out
    with pytest.raises(DeidRefused, match=r"lastCalibrationDate|sSiteHostLoid|tPatientNickname"):
        deidentify_twix(raw)


def test_software_whose_headers_were_not_checked_is_named_as_the_refusal(tmp_path, capsys):
    scan = simulate(ScanSettings(matrix=(16, 16, 1), coils=1, software_version="syngo MR XA30"))
    raw = write_ve(
        scan, tmp_path / "xa.dat", patient=Patient.fictitious(8), site=Site.fictitious(8)
    )
    assert main(["inspect", str(raw)]) == 1
    out = capsys.readouterr().out
    assert "software syngo MR XA30" in out and "has not been checked" in out


def test_a_file_that_is_not_twix_is_a_clear_error(tmp_path, capsys):
    raw = tmp_path / "notes.dat"
    raw.write_bytes(b"not a raw file at all" * 100)
    assert main(["inspect", str(raw)]) == 2
    assert "not Siemens TWIX" in capsys.readouterr().err
