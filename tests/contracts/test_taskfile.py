"""The task-file reader every unit shares (contracts.taskfile)."""

from __future__ import annotations

import pytest

from contracts.taskfile import TaskFileError, read_task_file

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def cloud_task(adjustments: int = 0, scan: str = f"{UUID}.dat") -> bytes:
    """A cloud-mode task file as the Yarra client on Windows writes it (CRLF, Latin-1)."""
    lines = [
        "[Task]",
        "ReconMode=GraspFast",
        "EMailNotification=",
        f"ScanFile={scan}",
        f"AdjustmentFilesCount={adjustments}",
        "ScanProtocol=t1_vibe_über",
        "ParamValue=34",
        f"UUID={UUID.upper()}",
        "CreationTimeTask=07/12/26  09:41:07",
        "",
        "[AdjustmentFiles]",
        *(f"%{i:02X}={UUID}_{i}.dat" for i in range(adjustments)),
        "",
        "[Information]",
        "ScanFileSize=8811520",
        "SystemName=Skyra",
    ]
    return "\r\n".join(lines).encode("latin-1")


def test_a_cloud_task_file_reads_with_its_adjustments_in_order() -> None:
    task = read_task_file(cloud_task(adjustments=11), f"{UUID}.task")
    assert task.recon_mode == "GraspFast"
    assert task.task_id == UUID
    assert task.scan_file_size == 8811520
    assert task.param_value == "34"
    assert task.scan_protocol == "t1_vibe_über"
    assert task.adjustment_files[10] == f"{UUID}_10.dat"  # key %0A
    assert task.raw_files == (f"{UUID}.dat", *(f"{UUID}_{i}.dat" for i in range(11)))
    assert task.identity_keys == ()


def test_a_local_mode_file_names_its_identity_keys_but_not_their_values() -> None:
    data = cloud_task().replace(b"[Task]\r\n", b"[Task]\r\nPatientName=Doe^Jane\r\nACC=A1\r\n")
    task = read_task_file(data, "local.task")
    assert task.identity_keys == ("PatientName", "ACC")
    assert "Doe" not in repr(task)


def test_an_mrd_file_in_any_of_its_suffixes_is_raw_data() -> None:
    for suffix in (".h5", ".hdf5", ".mrd"):
        assert read_task_file(cloud_task(scan=f"{UUID}{suffix}"), "t.task").scan_file.endswith(
            suffix
        )


def test_a_count_beyond_the_listed_adjustments_names_the_missing_key() -> None:
    data = cloud_task(adjustments=1).replace(b"AdjustmentFilesCount=1", b"AdjustmentFilesCount=2")
    with pytest.raises(TaskFileError, match=r"has no \[AdjustmentFiles\] %01"):
        read_task_file(data, "t.task")
