import json
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from recon_image.errors import EXIT_BAD_INPUT, EXIT_RETRY, BadInput, ModeError, Transient
from recon_image.modes.modefile import parse_mode
from recon_image.modes.runner import ModeJob, resolve_program, run_mode

TOOL = """\
#!{python}
import json, os, pathlib, shutil, sys, time

action, rest = sys.argv[1], sys.argv[2:]
if action == "copy":
    *sources, dest = rest
    for source in map(pathlib.Path, sources):
        for item in sorted(source.iterdir()) if source.is_dir() else [source]:
            shutil.copy(item, dest)
            print("copied", item.name)
elif action == "record":
    *words, dest = rest
    pathlib.Path(dest).write_text(json.dumps(words))
elif action == "fail":
    for n in range(30):
        print("progress line", n)
    print("cannot find the coil sensitivities", file=sys.stderr)
    sys.exit(int(rest[0]))
elif action == "report":
    code, reason = int(rest[0]), rest[1]
    pathlib.Path(os.environ["YC_ERROR_FILE"]).write_text(
        json.dumps({{"exit_code": code, "reason": reason}})
    )
    sys.exit(code)
elif action == "env":
    pathlib.Path(rest[0]).write_text(
        json.dumps({{k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "YC_ERROR_FILE")}})
    )
elif action == "sleep":
    time.sleep(60)
"""


def write_dicom(path: Path) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def job(tmp_path: Path) -> ModeJob:
    modules = tmp_path / "modules"
    modules.mkdir()
    tool = modules / "tool"
    tool.write_text(TOOL.format(python=sys.executable))
    tool.chmod(0o755)
    inputs = tmp_path / "job" / "input"
    inputs.mkdir(parents=True)
    write_dicom(inputs / "image.dcm")
    (inputs / "t1.dat").write_bytes(b"raw")
    (inputs / "t1.task").write_text("[Task]\n")
    return ModeJob(
        task_id="t1",
        work_dir=tmp_path / "job",
        scan_file=inputs / "t1.dat",
        task_file=inputs / "t1.task",
        param="",
        modules_dir=modules,
        user_modules_dir=modules,
        modes_dir=tmp_path / "modes",
        threads=3,
        env={"PATH": "/usr/bin:/bin"},
        step_timeout_s=60,
    )


def mode(text: str, mode_id: str = "test"):
    return parse_mode(text.encode(), mode_id=mode_id, path=Path(f"/modes/{mode_id}.mode"))


def test_steps_run_in_order_and_each_post_step_reads_the_previous_output(job: ModeJob) -> None:
    record = job.work_dir.parent / "record.json"
    steps = mode(
        f"""
[PreProcessing]
Bin=tool
Args=record %rid %rif %rit %vparam {record}
[Reconstruction]
Bin=%bd/tool
Args=copy %rid/image.dcm %rod
[PostProcessing]
Bin1=tool
Args1=copy %pid %pod
Bin2=tool
Args2=copy %pid %rid/image.dcm %pod
"""
    )
    lines: list[tuple[str, str]] = []

    result = run_mode(steps, job, on_output=lambda step, line: lines.append((step.key, line)))

    assert result.output_dir == job.work_dir / "post-2"
    assert [p.name for p in result.files] == ["image.dcm"]
    assert (job.work_dir / "recon" / "image.dcm").is_file()
    assert (job.work_dir / "post-1" / "image.dcm").is_file()
    inputs = job.scan_file.parent
    assert json.loads(record.read_text()) == [
        str(inputs),
        str(job.scan_file),
        str(job.task_file),
        "N",
    ]
    assert lines == [
        ("Bin", "copied image.dcm"),
        ("Bin1", "copied image.dcm"),
        ("Bin2", "copied image.dcm"),
        ("Bin2", "copied image.dcm"),
    ]


def test_a_failing_step_is_named_with_its_last_output(job: ModeJob) -> None:
    failing = mode("[Reconstruction]\nBin=tool\nArgs=fail 3\n")

    with pytest.raises(ModeError) as info:
        run_mode(failing, job)

    message = str(info.value)
    assert message.startswith("[Reconstruction] Bin=tool exited with code 3")
    assert "cannot find the coil sensitivities" in message
    assert "progress line 29" in message
    assert "progress line 5\n" not in message  # only the last lines
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_a_programs_own_reason_passes_through_the_error_file(job: ModeJob) -> None:
    bad = mode("[Reconstruction]\nBin=tool\nArgs=report 65 %hqscan.dat: zero channels%hq\n")
    flaky = mode("[Reconstruction]\nBin=tool\nArgs=report 75 %hqscratch disk full%hq\n")

    with pytest.raises(BadInput) as info:
        run_mode(bad, job)
    assert str(info.value) == "scan.dat: zero channels"
    assert info.value.exit_code == EXIT_BAD_INPUT

    with pytest.raises(Transient, match="scratch disk full") as info:
        run_mode(flaky, job)
    assert info.value.exit_code == EXIT_RETRY


def test_steps_get_the_thread_count_and_their_own_error_file(job: ModeJob) -> None:
    seen = job.work_dir.parent / "env.json"
    run_mode(
        mode(f"[Reconstruction]\nBin1=tool\nArgs1=env {seen}\nBin2=tool\nArgs2=copy %rid %rod\n"),
        job,
    )

    env = json.loads(seen.read_text())
    assert env["OMP_NUM_THREADS"] == "3"
    assert env["YC_ERROR_FILE"] == str(job.work_dir / "errors" / "step-1.json")


def test_a_mode_that_writes_no_dicom_fails(job: ModeJob) -> None:
    with pytest.raises(ModeError, match="wrote no DICOM image"):
        run_mode(mode("[Reconstruction]\nBin=tool\nArgs=record %rod/x.txt\n"), job)


def test_an_unknown_program_is_a_mode_error_before_anything_runs(job: ModeJob) -> None:
    record = job.work_dir.parent / "record.json"
    broken = mode(f"[PreProcessing]\nBin=tool\nArgs=record {record}\n[Reconstruction]\nBin=grasp\n")

    with pytest.raises(ModeError, match=r"'grasp' is neither built in.*modules folder"):
        run_mode(broken, job)
    assert not record.exists()


def test_a_step_running_past_its_timeout_is_stopped(job: ModeJob) -> None:
    quick = ModeJob(**{**job.__dict__, "step_timeout_s": 0.5})

    with pytest.raises(ModeError, match=r"ran longer than 0.5 s and was stopped"):
        run_mode(mode("[Reconstruction]\nBin=tool\nArgs=sleep\n"), quick)


def test_external_programs_on_path_run_unchanged(job: ModeJob) -> None:
    run_mode(mode("[Reconstruction]\nBin=cp\nArgs=%rid/image.dcm %rod/copy.dcm\n"), job)

    assert (job.work_dir / "recon" / "copy.dcm").is_file()


def test_the_builtin_program_runs_this_python(job: ModeJob) -> None:
    assert resolve_program("yc-cartesian", job) == [
        sys.executable,
        "-m",
        "recon_image.programs.cartesian",
    ]
