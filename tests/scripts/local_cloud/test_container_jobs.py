"""The local Batch running the worker as its container image, as AWS Batch does."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import numpy as np
import pydicom
import pytest

from scripts.images import WORKER, Engine
from scripts.local_cloud.container_jobs import ContainerJobs
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.helpers.cloud import task_file_text

REAL_TWIX = Path(__file__).resolve().parents[2] / "data" / "siemens-e11-gre.dat"
MODE = "yc_cartesian"
VCPUS, MEMORY_MIB = 2, 2048


def test_a_job_starts_the_image_with_batchs_variables_and_the_sizes_limits() -> None:
    jobs = ContainerJobs(Engine("podman", {"CONTAINERS_CONF": "/etc/c.conf"}), "worker:1")
    env = {"YC_TASK_UUID": "t-1", "AWS_REGION": "eu-central-1"}
    launch = jobs.launch(
        "job-1",
        ["python", "-m", "recon_image"],
        env,
        [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "2048"}],
    )

    assert launch.argv[:2] == ["podman", "run"]
    assert launch.argv[-4:] == ["worker:1", "python", "-m", "recon_image"]
    passed = [launch.argv[i + 1] for i, word in enumerate(launch.argv) if word == "--env"]
    assert sorted(passed) == ["AWS_REGION", "YC_TASK_UUID"]
    assert "t-1" not in launch.argv, "a value on the command line is visible to every user"
    assert launch.env["YC_TASK_UUID"] == "t-1"
    assert launch.env["CONTAINERS_CONF"] == "/etc/c.conf"
    text = " ".join(launch.argv)
    assert "--cpus 2" in text
    assert "--memory 2048m --memory-swap 2048m" in text
    assert "--user" not in launch.argv, "the image's own user runs the job"


def _started_containers(engine: Engine) -> list[str]:
    """The names of the containers the engine has started in the last hour (podman's events)."""
    answer = engine.run(
        [
            "events",
            "--stream=false",
            "--since",
            "60m",
            "--filter",
            "event=start",
            "--format",
            "{{.Name}}",
        ],
        capture_output=True,
        text=True,
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.split()


def _run_task(api_cloud, images, raw: bytes) -> dict[str, bytes]:
    """Upload ``raw`` as alice's task for MODE; wait for it to succeed; its outputs."""
    cloud, _clients, uploader, admin = api_cloud(worker_image=images.image(WORKER))
    admin.enable_mode(
        "site-a", MODE, vcpus=VCPUS, memory_mib=MEMORY_MIB, spot=True, timeout_seconds=900
    )
    task_id = str(uuid.uuid4())
    s3 = cloud.clients.s3
    s3.put_object(Bucket=cloud.settings.in_bucket, Key=f"alice/{task_id}/{task_id}.dat", Body=raw)
    uploader.task_file("alice", task_id, task_file_text(task_id, len(raw), mode=MODE))
    task = cloud.wait_for_task(task_id, {"SUCCEEDED", "FAILED"}, timeout=600)
    prefix = f"alice/{task_id}/"
    listing = s3.list_objects_v2(Bucket=cloud.settings.out_bucket, Prefix=prefix)
    outputs = {
        item["Key"][len(prefix) :]: s3.get_object(
            Bucket=cloud.settings.out_bucket, Key=item["Key"]
        )["Body"].read()
        for item in listing.get("Contents", [])
    }
    (job,) = cloud.batch.jobs()
    log = (cloud.work_dir / job["container"]["logStreamName"]).read_text()
    assert task.status == "SUCCEEDED", log[-3000:]
    assert {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]} == {
        "VCPU": str(VCPUS),
        "MEMORY": str(MEMORY_MIB),
    }
    assert f"yarracloud-job-{job['jobId']}-1" in _started_containers(images.engine)
    return outputs


def _images(outputs: dict[str, bytes]) -> list[pydicom.Dataset]:
    names = [entry["name"] for entry in json.loads(outputs["manifest.json"])["files"]]
    datasets = [pydicom.dcmread(io.BytesIO(outputs[name])) for name in names]
    return sorted(datasets, key=lambda ds: int(ds.InstanceNumber))


@pytest.mark.slow
def test_a_phantom_task_runs_end_to_end_through_the_worker_image(api_cloud, images, tmp_path):
    scan = simulate(ScanSettings(matrix=(64, 64, 4), coils=4, seed=5))
    raw = write_ve(scan, tmp_path / "scan.dat").read_bytes()
    outputs = _run_task(api_cloud, images, raw)

    pixels = np.stack([ds.pixel_array for ds in _images(outputs)])
    error = nrmse(pixels, scan.displayed_truth)
    print(f"worker image, {MODE} on a 4-slice phantom: NRMSE {error:.4%}")
    assert error <= 0.01


@pytest.mark.slow
def test_the_real_scanner_file_runs_through_the_worker_image(api_cloud, images):
    outputs = _run_task(api_cloud, images, REAL_TWIX.read_bytes())

    (image,) = _images(outputs)
    assert (image.Rows, image.Columns) == (160, 160)
    assert image.Modality == "MR"
    assert image.pixel_array.max() > 0


CGROUP_LIMITS = (
    "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null"
    " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
    " /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us"
)


@pytest.mark.slow
def test_the_sizes_vcpus_and_memory_are_the_containers_cgroup_limits(images, worker_image):
    resources = [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "2048"}]
    launch = ContainerJobs(images.engine, worker_image).launch("limits", [], {}, resources)
    # the same command line, with a shell instead of the worker to read the limits
    argv = [*launch.argv[1:-1], "--entrypoint", "sh", worker_image, "-c", CGROUP_LIMITS]
    argv.remove("--name")
    argv.remove("limits")
    answer = images.engine.run(argv, capture_output=True, text=True, timeout=120)

    assert answer.returncode == 0, answer.stderr
    # memory bytes, CPU quota and period, in cgroup v2's files or v1's
    memory, quota, period = (int(value) for value in answer.stdout.split())
    assert memory == 2048 * 2**20
    assert quota / period == 2
