"""The catalogue against the real E11 header: every name classified, the site's as identity."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from agent.deid.catalogue import CATALOGUE_FILE, Catalogue, Kind, catalogue
from agent.deid.fields import classify
from agent.errors import DeidRefused

REAL_FILE = Path(__file__).parents[2] / "data" / "siemens-e11-gre.dat"
_PARAM = re.compile(rb'<Param\w*\."([^"]+)">')
_ASCCONV_KEY = re.compile(rb"^([A-Za-z_][\w.\[\]]*)[ \t]*=", re.MULTILINE)

# What must be replaced: the site, its scanner, the exam's dates and times, every UID/LOID.
SITE_AND_SCANNER = (
    "InstitutionName",
    "InstitutionAddress",
    "DeviceSerialNumber",
    "StationName",
    "HOST_NAME",
    "HOST_NAME_CLIENT",
    "HOST_NAME_SERVER",
    "HOST_NAME_SERVER_LINUX",
    "DICOM_UID_ROOT",
    "InstanceName4Debug",
)
DATES_AND_TIMES = ("atTXCalibDate", "atTXCalibTime", "uiInsertionTime", "ExamMemoryUID")
PATIENT = ("tPatientName", "PatientName", "PatientsName", "PatientID", "PatientBirthDay")
# Names that hold "uid" by accident of spelling, not a UID: why each is kept.
NOT_UIDS = {
    "port_uidata": "a port number (PORT_UI DATA)",
    "uidefaultexcitationmodeimaging": "ui + DefaultExcitationMode",
}


def real_header_names() -> set[str]:
    """Every parameter and ASCCONV name in the real file's measurement header, read directly."""
    data = REAL_FILE.read_bytes()
    offset = struct.unpack_from("<Q", data, 8 + 8)[0]
    header = data[offset : offset + struct.unpack_from("<I", data, offset)[0]]
    names = {m.group(1).decode("latin-1") for m in _PARAM.finditer(header)}
    for key in _ASCCONV_KEY.finditer(header):
        parts = re.sub(r"\[\d*\]", "", key.group(1).decode("latin-1")).split(".")
        names |= {part for part in parts if part}
    return names


def test_every_name_of_the_real_header_is_in_the_catalogue_with_a_reason():
    names = real_header_names()
    missing = sorted(n for n in names if catalogue().entry(n) is None)
    assert len(names) > 2000
    assert missing == []
    for name in names:
        entry = catalogue().entry(name)
        assert entry.reason.strip() and "\n" not in entry.reason
    kinds = [catalogue().entry(n).kind for n in names]
    print(
        f"{len(names)} names in the real E11 header, all catalogued: "
        f"{kinds.count(Kind.IDENTITY)} identity, {kinds.count(Kind.TECHNICAL)} technical, "
        f"{kinds.count(Kind.AGE)} age; {len(catalogue())} catalogue entries"
    )


def test_the_catalogue_file_holds_one_entry_per_name_in_any_case():
    parameters = json.loads(CATALOGUE_FILE.read_text())["parameters"]
    lowered = [name.lower() for name in parameters]
    assert len(lowered) == len(set(lowered))
    assert {kind for kind, _ in parameters.values()} == {"identity", "technical", "age"}


@pytest.mark.parametrize("name", SITE_AND_SCANNER + DATES_AND_TIMES + PATIENT)
def test_site_scanner_dates_and_patient_are_identity(name):
    assert classify(name) is Kind.IDENTITY
    assert classify(name.upper()) is Kind.IDENTITY and classify(name.lower()) is Kind.IDENTITY


def test_every_uid_and_loid_of_the_real_header_is_identity_in_any_case():
    uids = [n for n in real_header_names() if re.search("uid|loid", n, re.IGNORECASE)]
    assert {"tCurrentMppsLoid", "MppsLOIDS4Split", "lRFMapUID", "MeasUID"} <= set(uids)
    for name in uids:
        expected = Kind.TECHNICAL if name.lower() in NOT_UIDS else Kind.IDENTITY
        assert classify(name) is expected, name


def test_patient_sex_position_and_protocol_are_kept():
    for name in ("PatientSex", "lPatientSex", "tPatientPosition", "tProtocolName"):
        assert classify(name) is Kind.TECHNICAL
    assert classify("flPatientAge") is Kind.AGE


@pytest.mark.parametrize(
    "name", ["tCustomerLoid", "SITE_HOST", "lCalibDate", "tOperatorNickname", "xUid", "ExamRoom"]
)
def test_an_unknown_name_that_looks_like_identity_is_refused_by_name(name):
    with pytest.raises(DeidRefused, match=re.escape(repr(name))) as refused:
        classify(name)
    assert "yarracloud-agent inspect" in str(refused.value)


def test_an_unknown_technical_name_is_kept_and_numbered_entries_match_any_number():
    assert classify("lNewCounterOfSomething") is Kind.TECHNICAL
    assert classify("tReferenceImage7") is Kind.IDENTITY
    assert classify("ProcName12") is Kind.TECHNICAL


def test_a_catalogue_is_data():
    small = Catalogue(
        {
            "looks_like_identity": ["secret"],
            "software": {"E11": "checked"},
            "parameters": {"tSecretThing": ["technical", "not secret after all"]},
        }
    )
    assert small.entry("TSECRETTHING").kind is Kind.TECHNICAL
    assert small.entry("tOtherSecret") is None and small.looks_like_identity("tOtherSecret")
