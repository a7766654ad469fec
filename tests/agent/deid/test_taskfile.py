"""De-identifying Yarra task files: only the keys the cloud needs go up."""

from __future__ import annotations

import configparser

import pytest

from agent.deid.taskfile import deidentify_task_file, with_task_uuid
from agent.errors import BadTask, DeidRefused
from functions.core.taskfile import parse_task_file

UUID = "0f8a6c2e-4d3b-4a8e-9b71-2f1c5d6e7a90"
TASK = f"""[Task]
ReconMode=yc_cartesian
EMailNotification=jane.doe@example.org
ScanFile={UUID}.dat
AdjustmentFilesCount=2
ScanProtocol=t1_mprage_sag
ReconName=YarraCloud
ParamValue=0
RequiredServerType=
UUID={UUID}
ACC=A778899
PatientName=Doe^Jane
CreationTimeRAID=14/03/26  09:26:53
CreationTimeTask=14/03/26  09:31:02

[Information]
ScanFileSize=104857600
TaskDate=14/03/2026
TaskTime=09:31:02
SelectedServer=cloud
SerialNumber=166042
SystemName=MRC166042
SystemVendor=Siemens
SystemType=Skyra
SoftwareVersion=syngo MR E11
SystemVersion=VE11C

[AdjustmentFiles]
%00={UUID}_0.dat
%01={UUID}_1.dat
"""


def parse(data: bytes) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(data.decode("latin-1"))
    return parser


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_only_whitelisted_keys_survive(newline):
    out = deidentify_task_file(TASK.replace("\n", newline).encode("latin-1"))

    task = parse(out)
    kept = {(s, k) for s in task.sections() for k in task[s]}
    assert kept == {
        ("Task", "ReconMode"),
        ("Task", "ScanFile"),
        ("Task", "AdjustmentFilesCount"),
        ("Task", "ScanProtocol"),
        ("Task", "ParamValue"),
        ("Task", "UUID"),
        ("Information", "ScanFileSize"),
        ("AdjustmentFiles", "%00"),
        ("AdjustmentFiles", "%01"),
    }
    assert task["AdjustmentFiles"]["%01"] == f"{UUID}_1.dat"
    assert task["Task"]["UUID"] == UUID
    for gone in (b"166042", b"MRC166042", b"A778899", b"Doe^Jane", b"14/03", b"jane.doe", b"VE11C"):
        assert gone not in out
    assert (b"\r\n" in out) == (newline == "\r\n")
    print(f"task file: {len(TASK)} bytes in, {len(out)} bytes out, {len(kept)} keys kept")


def test_local_mode_scan_file_name_is_refused():
    local = TASK.replace(
        f"ScanFile={UUID}.dat", "ScanFile=yc#SMRC166042#F1234#M56#D140326#T092653.dat"
    )
    with pytest.raises(DeidRefused, match="local-mode") as refused:
        deidentify_task_file(local.encode())
    assert "166042" not in str(refused.value)


def test_not_a_task_file():
    with pytest.raises(BadTask, match="ReconMode and ScanFile"):
        deidentify_task_file(b"hello world\n")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_task_file_renamed_to_a_new_cloud_uuid_is_accepted_by_the_cloud_under_it(newline):
    new = "5d0c3b1a-9e8f-4c7d-8b6a-1f2e3d4c5b6a"
    out = with_task_uuid(deidentify_task_file(TASK.replace("\n", newline).encode()), new)

    parsed = parse_task_file(out, name=f"{new}.task", expected_task_id=new)
    assert parsed.task_id == new and parsed.recon_mode == "yc_cartesian"
    assert parsed.raw_files == (f"{UUID}.dat", f"{UUID}_0.dat", f"{UUID}_1.dat")
    assert parse(out)["Task"]["UUID"] == new and out.count(b"UUID=") == 1
    assert (b"\r\n" in out) == (newline == "\r\n")
