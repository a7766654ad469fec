"""The worker as Batch runs it: ``python -m recon_image`` against the AWS emulator."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import numpy as np
import pydicom
import pytest

from recon_image.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_RETRY
from scripts.phantoms.epi import EpiSettings, simulate_epi
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.helpers.cloud import task_file_text

REPO = Path(__file__).resolve().parents[2]
USER = "alice"

TOOL = """\
#!{python}
import json, pathlib, sys, time
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

action, rest = sys.argv[1], sys.argv[2:]
if action == "images":
    raw, out, count, param = pathlib.Path(rest[0]), pathlib.Path(rest[1]), int(rest[2]), rest[3]
    for number in range(1, count + 1):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.InstanceNumber = number
        ds.ImageComments = f"raw {{raw.stat().st_size}} bytes, param {{param}}"
        ds.save_as(out / f"image-{{number}}.dcm", enforce_file_format=True)
    print(f"wrote {{count}} images")
elif action == "fail":
    print("reading coil sensitivities")
    print("no coil sensitivities in the scan", file=sys.stderr)
    sys.exit(3)
elif action == "report":
    pathlib.Path(__import__("os").environ["YC_ERROR_FILE"]).write_text(
        json.dumps({{"exit_code": int(rest[0]), "reason": rest[1]}})
    )
    sys.exit(int(rest[0]))
elif action == "wait":
    print("waiting", __import__("os").getpid(), flush=True)
    time.sleep(120)
"""


class Job:
    """One task in the emulator's buckets and the environment that runs its worker."""

    def __init__(self, endpoint: str, tmp_path: Path, mode_args: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.task_id = str(uuid.uuid4())
        self.in_bucket, self.out_bucket = f"in-{suffix}", f"out-{suffix}"
        self.prefix = f"{USER}/{self.task_id}/"
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in (self.in_bucket, self.out_bucket):
            self.s3.create_bucket(Bucket=bucket)
        modes, modules = tmp_path / "modes", tmp_path / "modules"
        modes.mkdir()
        modules.mkdir()
        tool = modules / "tool"
        tool.write_text(TOOL.format(python=sys.executable))
        tool.chmod(0o755)
        (modes / "test_mode.mode").write_text(
            f"[ClientConfig]\nName=Test\n[Reconstruction]\nBin=tool\nArgs={mode_args}\n"
        )
        self.work = tmp_path / "work"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "YC_TASK_UUID": self.task_id,
            "YC_USER": USER,
            "YC_INPUT": f"s3://{self.in_bucket}/{self.prefix}",
            "YC_OUTPUT": f"s3://{self.out_bucket}/{self.prefix}",
            "YC_MODE": "test_mode",
            "YC_PARAM": "7",
            "YC_VCPUS": "2",
            "YC_MODES_DIR": str(modes),
            "YC_MODULES_DIR": str(modules),
            "YC_WORK_DIR": str(self.work),
        }

    def upload_task(self, raw: bytes = bytes(range(256)) * 64, task: bool = True) -> None:
        self.s3.put_object(Bucket=self.in_bucket, Key=f"{self.prefix}{self.task_id}.dat", Body=raw)
        if task:
            text = task_file_text(self.task_id, len(raw), mode="test_mode")
            self.s3.put_object(
                Bucket=self.in_bucket, Key=f"{self.prefix}{self.task_id}.task", Body=text.encode()
            )

    def run(self, **changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "recon_image"],
            cwd=REPO,
            env={**self.env, **changes},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def outputs(self) -> dict[str, bytes]:
        listing = self.s3.list_objects_v2(Bucket=self.out_bucket, Prefix=self.prefix)
        return {
            item["Key"][len(self.prefix) :]: self.s3.get_object(
                Bucket=self.out_bucket, Key=item["Key"]
            )["Body"].read()
            for item in listing.get("Contents", [])
        }


def log_lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def run_builtin(job: Job, mode: str, param: str) -> subprocess.CompletedProcess[str]:
    """The worker running one of the modes its image carries (no YC_MODES_DIR)."""
    env = {key: value for key, value in job.env.items() if key != "YC_MODES_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "recon_image"],
        cwd=REPO,
        env={**env, "YC_MODE": mode, "YC_PARAM": param},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_task_becomes_a_dicom_series_with_a_verified_manifest_and_a_log(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "images %rif %rod 3 %vparam")
    job.upload_task()
    job.s3.put_object(
        Bucket=job.out_bucket, Key=f"{job.prefix}failure.json", Body=b'{"reason": "earlier"}'
    )

    done = job.run()

    assert done.returncode == 0, done.stderr
    out = job.outputs()
    images = sorted(name for name in out if name.startswith("output_files/"))
    assert images == [f"output_files/image-{n}.dcm" for n in (1, 2, 3)]
    manifest = json.loads(out["manifest.json"])
    assert manifest["task_id"] == job.task_id
    assert manifest["files"] == [
        {"name": name, "size": len(out[name]), "sha256": hashlib.sha256(out[name]).hexdigest()}
        for name in images
    ]
    assert b"raw 16384 bytes, param 7" in out["output_files/image-1.dcm"]
    assert "failure.json" not in out
    lines = log_lines(out["worker.log"])
    assert all(line["task_id"] == job.task_id for line in lines)
    assert any(line["message"] == "wrote 3 images" for line in lines)
    stages = {line["message"]: line for line in lines if "seconds" in line}
    assert {"inputs downloaded", "mode finished", "outputs uploaded"} <= set(stages)
    task = task_file_text(job.task_id, 16384, mode="test_mode")
    assert stages["inputs downloaded"]["bytes"] == 16384 + len(task)
    assert lines[-1]["message"] == "job succeeded"
    assert list(job.work.iterdir()) == []  # the job's files are gone


def test_a_failing_mode_stores_the_reason_and_is_not_retried(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "fail")
    job.upload_task()

    done = job.run()

    assert done.returncode == EXIT_BAD_INPUT
    out = job.outputs()
    reason = json.loads(out["failure.json"])["reason"]
    assert reason.startswith("[Reconstruction] Bin=tool exited with code 3")
    assert "no coil sensitivities in the scan" in reason
    assert "manifest.json" not in out
    assert any(line["level"] == "WARNING" for line in log_lines(out["worker.log"]))
    assert "Traceback" not in done.stderr


def test_the_programs_own_reason_reaches_the_site(emulator, tmp_path):
    job = Job(
        emulator.endpoint,
        tmp_path,
        "report 65 %hqscan.dat: the file holds zero receive channels; export it again%hq",
    )
    job.upload_task()

    done = job.run()

    assert done.returncode == EXIT_BAD_INPUT
    assert json.loads(job.outputs()["failure.json"]) == {
        "reason": "scan.dat: the file holds zero receive channels; export it again"
    }


def test_a_task_without_its_task_file_is_bad_input(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "images %rif %rod 1 %vparam")
    job.upload_task(task=False)

    done = job.run()

    assert done.returncode == EXIT_BAD_INPUT
    reason = json.loads(job.outputs()["failure.json"])["reason"]
    assert f"the task file {job.task_id}.task is not among the task's inputs" in reason


def test_an_unknown_mode_is_bad_input_naming_the_modes_there_are(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "images %rif %rod 1 %vparam")
    job.upload_task()

    done = job.run(YC_MODE="grasp_dce")

    assert done.returncode == EXIT_BAD_INPUT
    reason = json.loads(job.outputs()["failure.json"])["reason"]
    assert "'grasp_dce' does not exist" in reason
    assert "test_mode" in reason


def test_an_internal_fault_exits_70_and_reaches_sentry_with_the_task_id(
    emulator, tmp_path, sentry_ingest
):
    job = Job(emulator.endpoint, tmp_path, "report 70 %hqplanner crashed%hq")
    job.upload_task()

    done = job.run(SENTRY_DSN=sentry_ingest.dsn)

    assert done.returncode == EXIT_INTERNAL
    assert json.loads(job.outputs()["failure.json"]) == {"reason": "planner crashed"}
    assert sentry_ingest.received.wait(timeout=10)
    event = next(e for e in sentry_ingest.events() if "exception" in e)
    assert event["tags"]["task_id"] == job.task_id
    assert event["tags"]["component"] == "worker"


def test_the_workers_sentry_events_pass_the_phi_redaction_rules(emulator, tmp_path, sentry_ingest):
    job = Job(emulator.endpoint, tmp_path, "report 70 %hqheader PatientName=Doe^Jane%hq")
    job.upload_task()

    done = job.run(SENTRY_DSN=sentry_ingest.dsn)

    assert done.returncode == EXIT_INTERNAL
    assert sentry_ingest.received.wait(timeout=10)
    event = next(e for e in sentry_ingest.events() if "exception" in e)
    assert "PatientName=[Filtered]" in json.dumps(event)
    assert "Doe" not in json.dumps(event)


@pytest.mark.slow
def test_unreachable_storage_exits_75_so_batch_retries(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "images %rif %rod 1 %vparam")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    done = job.run(AWS_ENDPOINT_URL=closed)

    assert done.returncode == EXIT_RETRY
    assert "could not download the task's inputs" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_from_batch_exits_75_and_stops_the_step(emulator, tmp_path):
    job = Job(emulator.endpoint, tmp_path, "wait")
    job.upload_task()
    worker = subprocess.Popen(
        [sys.executable, "-m", "recon_image"],
        cwd=REPO,
        env=job.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        for line in worker.stderr:
            message = json.loads(line).get("message", "")
            if message.startswith("waiting "):
                step_pid = int(message.split()[1])
                break
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    finally:
        worker.kill()
        worker.wait()

    assert code == EXIT_RETRY
    assert not Path(f"/proc/{step_pid}").exists(), "the mode's program outlived the worker"
    out = job.outputs()
    assert "interrupted (SIGTERM)" in json.loads(out["failure.json"])["reason"]
    assert "worker.log" in out


def test_the_shipped_cartesian_mode_reconstructs_an_uploaded_twix_file(emulator, tmp_path):
    scan = simulate(ScanSettings(matrix=(64, 64, 4), coils=4, seed=5))
    raw = write_ve(scan, tmp_path / "scan.dat").read_bytes()
    job = Job(emulator.endpoint, tmp_path, "unused")
    job.upload_task(raw)

    done = run_builtin(job, "yc_cartesian", "0")

    assert done.returncode == 0, done.stderr
    out = job.outputs()
    names = json.loads(out["manifest.json"])["files"]
    assert len(names) == 4
    datasets = sorted(
        (pydicom.dcmread(io.BytesIO(out[entry["name"]])) for entry in names),
        key=lambda ds: int(ds.InstanceNumber),
    )
    pixels = np.stack([ds.pixel_array for ds in datasets])
    error = nrmse(pixels, scan.displayed_truth)
    print(f"worker, yc_cartesian on an uploaded VE file: NRMSE {error:.4%}")
    assert error <= 0.01
    assert {str(ds.StudyInstanceUID) for ds in datasets} == {str(datasets[0].StudyInstanceUID)}
    step = [line["message"] for line in log_lines(out["worker.log"]) if "step" in line]
    assert any(re.search(r"read [\d.]+ s, reconstruction [\d.]+ s, DICOM write", m) for m in step)


@pytest.mark.parametrize(
    ("mode", "param"), [("yc_grappa", "5"), ("yc_sense", "15"), ("yc_cs", "0.002")]
)
def test_an_undersampled_twix_file_with_reference_lines_runs_through_the_worker(
    emulator, tmp_path, mode: str, param: str
):
    scan = simulate(
        ScanSettings(
            matrix=(64, 64, 2),
            coils=8,
            acceleration=(2, 1),
            reference_lines=(24, 0),
            noise_sigma=0.05,
            seed=6,
        )
    )
    raw = write_ve(scan, tmp_path / "scan.dat").read_bytes()
    job = Job(emulator.endpoint, tmp_path, "unused")
    job.upload_task(raw)

    done = run_builtin(job, mode, param)

    assert done.returncode == 0, done.stderr
    out = job.outputs()
    names = json.loads(out["manifest.json"])["files"]
    datasets = sorted(
        (pydicom.dcmread(io.BytesIO(out[entry["name"]])) for entry in names),
        key=lambda ds: int(ds.InstanceNumber),
    )
    pixels = np.stack([ds.pixel_array for ds in datasets])
    error = nrmse(pixels, scan.displayed_truth)
    print(f"worker, {mode} on an R=2 VE file with 24 reference lines: NRMSE {error:.4%}")
    assert pixels.shape == scan.truth.shape
    assert error <= 0.02


def test_a_ramp_sampled_epi_runs_through_the_worker_without_ghosts(emulator, tmp_path):
    scan = simulate_epi(EpiSettings(matrix=(128, 64, 2), phase_error=(0.9, 0.03), seed=2))
    job = Job(emulator.endpoint, tmp_path, "unused")
    job.upload_task(write_ve(scan, tmp_path / "epi.dat").read_bytes())

    done = run_builtin(job, "yc_cartesian", "0")

    assert done.returncode == 0, done.stderr
    out = job.outputs()
    datasets = sorted(
        (
            pydicom.dcmread(io.BytesIO(out[e["name"]]))
            for e in json.loads(out["manifest.json"])["files"]
        ),
        key=lambda ds: int(ds.InstanceNumber),
    )
    pixels = np.stack([ds.pixel_array for ds in datasets])
    error = nrmse(pixels, scan.displayed_truth)
    print(f"worker, yc_cartesian on a ramp-sampled EPI with an odd/even phase error: {error:.4%}")
    assert pixels.shape == scan.truth.shape
    assert error <= 0.01


def test_an_epi_a_mode_cannot_reconstruct_fails_with_the_evidence(emulator, tmp_path):
    scan = simulate_epi(EpiSettings(matrix=(64, 16, 2), coils=2))
    segmented = dataclasses.replace(scan, protocol=dataclasses.replace(scan.protocol, segments=2))
    job = Job(emulator.endpoint, tmp_path, "unused")
    job.upload_task(write_ve(segmented, tmp_path / "epi.dat").read_bytes())

    done = run_builtin(job, "yc_cartesian", "0")

    assert done.returncode == EXIT_BAD_INPUT
    out = job.outputs()
    reason = json.loads(out["failure.json"])["reason"]
    assert "segmented (multi-shot) EPI" in reason
    assert "sFastImaging.lSegments = 2" in reason
    assert not any(name.endswith(".dcm") for name in out)
