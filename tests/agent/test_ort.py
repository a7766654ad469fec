"""The ORT cloud-mode folders: which tasks are ready, and the files a task file names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.errors import BadTask, ConfigError
from agent.ort import OrtFolders

UUID = "6513270e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
SECOND = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

TASK = """[Task]
ReconMode=yc_cartesian
EMailNotification=
ScanFile={uuid}.dat
AdjustmentFilesCount={count}
ScanProtocol=t1_demo
ReconName=Demo
ParamValue=0
UUID={uuid}
CreationTimeRAID=24/11/26  09:15:00
CreationTimeTask=24/11/26  09:16:00

[AdjustmentFiles]
{adjustments}
[Information]
ScanFileSize=4096
SerialNumber=166012
SystemName=Skyra
"""


def export(folders: OrtFolders, uuid: str, *, adjustments: int = 0, phi: bool = True) -> None:
    """Export a task as ORT does: raw files, the .phi, then the task file under a lock."""
    (folders.out / f"{uuid}.dat").write_bytes(b"\0" * 4096)
    names = []
    for index in range(adjustments):
        (folders.out / f"{uuid}_{index}.dat").write_bytes(b"\1" * 512)
        names.append(f"%{index:02X}={uuid}_{index}.dat\n")
    if phi:
        (folders.phi / f"{uuid}.phi").write_text(f"[PHI]\nNAME=DOE^JANE\nUUID={uuid}\n")
    lock = folders.lock_file(uuid)
    lock.touch()
    folders.task_file(uuid).write_text(
        TASK.format(uuid=uuid, count=adjustments, adjustments="".join(names))
    )
    lock.unlink()


def test_the_folders_are_made_under_base(tmp_path):
    folders = OrtFolders(tmp_path / "yarra")
    for name in ("out", "in", "phi", "phi_archive"):
        assert (tmp_path / "yarra" / "cloud" / name).is_dir()
    assert folders.inbox == tmp_path / "yarra" / "cloud" / "in"
    assert folders.output_files(UUID) == folders.inbox / UUID / "output_files"


def test_a_task_is_ready_only_once_its_task_file_is_unlocked_and_its_phi_exists(tmp_path):
    folders = OrtFolders(tmp_path)
    export(folders, UUID)
    export(folders, SECOND, phi=False)
    assert folders.ready_tasks() == [UUID]
    folders.lock_file(UUID).touch()  # ORT writing it again
    assert folders.ready_tasks() == []
    folders.lock_file(UUID).unlink()
    (folders.phi / f"{SECOND}.phi").write_text("[PHI]\n")
    assert set(folders.ready_tasks()) == {UUID, SECOND}


def test_ready_tasks_come_oldest_first_and_ignore_other_files(tmp_path):
    folders = OrtFolders(tmp_path)
    export(folders, UUID)
    export(folders, SECOND)
    os.utime(folders.task_file(SECOND), (1_000_000, 1_000_000))
    (folders.out / "notes.task").write_text("[Task]\n")
    assert folders.ready_tasks() == [SECOND, UUID]


def test_a_phi_without_its_task_is_an_orphan(tmp_path):
    folders = OrtFolders(tmp_path)
    export(folders, UUID)
    (folders.phi / f"{SECOND}.phi").write_text("[PHI]\n")
    assert folders.orphan_phi() == [SECOND]
    assert folders.ready_tasks() == [UUID]


def test_task_files_names_the_scan_and_the_adjustments_in_order(tmp_path):
    folders = OrtFolders(tmp_path)
    export(folders, UUID, adjustments=2)
    files = folders.task_files(UUID)
    assert files.task_file == folders.out / f"{UUID}.task"
    assert files.scan_file == folders.out / f"{UUID}.dat"
    assert files.adjustments == (folders.out / f"{UUID}_0.dat", folders.out / f"{UUID}_1.dat")
    assert files.raw_files[0] == files.scan_file
    assert files.recon_mode == "yc_cartesian"


def test_a_missing_raw_file_is_named(tmp_path):
    folders = OrtFolders(tmp_path)
    export(folders, UUID, adjustments=2)
    (folders.out / f"{UUID}_1.dat").unlink()
    with pytest.raises(BadTask, match=f"the raw file {UUID}_1.dat that its task file names"):
        folders.task_files(UUID)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("this is not INI", "not a valid INI task file"),
        ("[Information]\nScanFileSize=1\n", "no [Task] section"),
        ("[Task]\nReconMode=x\n", "missing [Task] ScanFile"),
        ("[Task]\nReconMode=x\nScanFile=../../etc/passwd\n", "not a path"),
        ("[Task]\nReconMode=x\nScanFile=a.dat\nAdjustmentFilesCount=1\n", "[AdjustmentFiles] %00"),
        ("[Task]\nReconMode=x\nScanFile=a.dat\nAdjustmentFilesCount=two\n", "whole number"),
    ],
    ids=["not-ini", "no-task", "no-scan", "path", "adjustment-missing", "count-not-number"],
)
def test_a_bad_task_file_says_what_is_wrong(tmp_path, text, expected):
    folders = OrtFolders(tmp_path)
    folders.task_file(UUID).write_text(text)
    (folders.out / "a.dat").write_bytes(b"x")
    with pytest.raises(BadTask) as refused:
        folders.task_files(UUID)
    assert expected in str(refused.value)


def test_a_missing_task_file_is_bad_task(tmp_path):
    with pytest.raises(BadTask, match=r"task file .* is missing"):
        OrtFolders(tmp_path).task_files(UUID)


def test_download_is_complete_only_without_the_incomplete_marker(tmp_path):
    folders = OrtFolders(tmp_path)
    assert not folders.download_complete(UUID)
    folders.output_files(UUID).mkdir(parents=True)
    (folders.result_dir(UUID) / "INCOMPLETE").touch()
    assert not folders.download_complete(UUID)
    (folders.result_dir(UUID) / "INCOMPLETE").unlink()
    assert folders.download_complete(UUID)


def test_a_base_the_agent_cannot_write_is_a_config_error(tmp_path):
    if os.geteuid() == 0:
        # root writes through permission bits; sysfs refuses new folders to anyone
        with pytest.raises(ConfigError, match=r"check \[folders\] base"):
            OrtFolders(Path("/sys/fs/yarra"))
        return
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match=r"check \[folders\] base"):
            OrtFolders(tmp_path / "yarra")
    finally:
        tmp_path.chmod(0o700)
