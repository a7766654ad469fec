import re

import pytest

from functions.core.errors import TaskFileError
from functions.core.taskfile import parse_task_file

TASK = "0f8fad5b-d9cb-469f-a165-70867728950e"


def task_text(**overrides: str) -> str:
    fields = {
        "ReconMode": "demo_fft",
        "ScanFile": f"{TASK}.dat",
        "AdjustmentFilesCount": "1",
        "ScanProtocol": "t1_mprage",
        "ParamValue": "3",
        "UUID": TASK,
        "ScanFileSize": "1024",
        "adjustment": f"{TASK}_0.dat",
    }
    fields.update(overrides)
    lines = ["[Task]"]
    for key in (
        "ReconMode",
        "ScanFile",
        "AdjustmentFilesCount",
        "ScanProtocol",
        "ParamValue",
        "UUID",
    ):
        if fields[key] is not None:
            lines.append(f"{key}={fields[key]}")
    lines += ["", "[AdjustmentFiles]"]
    if fields["adjustment"] is not None:
        lines.append(f"%00={fields['adjustment']}")
    lines += ["", "[Information]"]
    if fields["ScanFileSize"] is not None:
        lines.append(f"ScanFileSize={fields['ScanFileSize']}")
    lines.append("SystemName=Skyra")
    return "\n".join(lines) + "\n"


def parse(text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return parse_task_file(data, name=f"{TASK}.task", expected_task_id=TASK)


def test_a_cloud_task_file_parses():
    task = parse(task_text())
    assert task.recon_mode == "demo_fft"
    assert task.raw_files == (f"{TASK}.dat", f"{TASK}_0.dat")
    assert task.scan_file_size == 1024
    assert task.param_value == "3"


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"ReconMode": None}, "missing [Task] ReconMode"),
        ({"ScanFile": None}, "missing [Task] ScanFile"),
        ({"UUID": None}, "missing [Task] UUID"),
        ({"ScanFileSize": None}, "missing [Information] ScanFileSize"),
        ({"ScanFileSize": "big"}, "is not a whole number"),
        ({"AdjustmentFilesCount": "2"}, "has no [AdjustmentFiles] %01"),
        ({"adjustment": None}, "has no [AdjustmentFiles] %00"),
        ({"UUID": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, "was uploaded under"),
        ({"ScanFile": "../../etc/passwd.dat"}, "plain file name"),
        ({"ScanFile": "scan.txt"}, "not a raw data file"),
    ],
)
def test_each_defect_is_named(overrides, message):
    with pytest.raises(TaskFileError, match=re.escape(message)):
        parse(task_text(**overrides))


def test_not_ini():
    with pytest.raises(TaskFileError, match="not a valid INI task file"):
        parse("ReconMode=demo\nno section header\n")


def test_binary_garbage():
    with pytest.raises(TaskFileError, match="binary data"):
        parse(bytes(range(256)) * 4)


def test_no_task_section():
    with pytest.raises(TaskFileError, match=r"no \[Task\] section"):
        parse("[Other]\nA=1\n")


def test_identity_in_a_cloud_task_is_refused_without_repeating_it():
    text = task_text().replace("[Task]\n", "[Task]\nPatientName=Doe^Jane\n")
    with pytest.raises(TaskFileError) as caught:
        parse(text)
    assert "patient identity" in str(caught.value)
    assert "Doe" not in str(caught.value)


def test_percent_signs_are_literal():
    assert parse(task_text(ScanProtocol="50%_fov")).scan_protocol == "50%_fov"
