"""The demo: a phantom scan through the local cloud, reconstructed to DICOM, every stage shown.

Today it runs the path that exists: the local cloud starts and publishes the
worker's built-in modes; a site with one mode enabled and a user with an access
key are set up; with that key a Siemens TWIX file of a Shepp-Logan phantom and,
last, its Yarra task file are uploaded and the task submitted through the
SigV4-signed API; the local Batch runs the reconstruction worker
(``python -m recon_image``), whose state changes come back as events until the
task ends, watched through the API as a client would; the DICOM series is then
downloaded and checked against the worker's manifest. The site agent
(de-identification, re-identification) and the PACS join this path as they land.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pydicom

from functions.core.models import UsageRecord
from functions.core.settings import Settings
from functions.core.status import ENDS, Status
from scripts.admin import Admin, NewKey
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.cloud import REPO_ROOT
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from transfer.download import download_prefix
from transfer.integrity import sha256_file

SITE, USER = "demo-site", "demo-user"
MODE = "yc_cartesian"
ANONYMOUS = Patient(
    name="Anonymous^Demo", patient_id="DEMO", birth_date="19000101", referring_physician=""
)
NO_SITE = Site(institution="Demo", address="", performing_physician="", serial_number="00000")
STAGES = {
    Status.UPLOADING: "upload seen (the raw file's S3 event opened the task)",
    Status.SUBMITTED: "submitted (by the task file's S3 event or v1/job_submit, whichever first)",
    Status.PENDING: "pending in the job queue",
    Status.RUNNABLE: "runnable, waiting for capacity",
    Status.STARTING: "starting",
    Status.RUNNING: "running",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.EXPIRED: "expired",
    Status.CANCELED: "canceled",
}


def say(text: str = "") -> None:
    print(text, flush=True)


def start_cloud(work_dir: Path, aws_port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    ready = work_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log = (work_dir / "local-cloud.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.local_cloud",
            "--aws-port",
            str(aws_port),
            "--work-dir",
            str(work_dir / "cloud"),
            "--ready-file",
            str(ready),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None:
            raise SystemExit(
                f"the local cloud did not start (exit {process.returncode}); its log:\n"
                + (work_dir / "local-cloud.log").read_text()[-2000:]
            )
        if time.monotonic() > deadline:
            stop_cloud(process)
            raise SystemExit("the local cloud did not start within 2 minutes")
        time.sleep(0.1)
    return process, json.loads(ready.read_text())


def stop_cloud(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def make_raw_file(directory: Path, task_id: str, matrix: int, seed: int) -> Path:
    """A Siemens VE TWIX file of a Shepp-Logan phantom: 8 coils, 4 slices, ``matrix`` square.

    Its header carries placeholders where a scanner writes the patient's identity,
    since nothing de-identifies it on this path yet.
    """
    scan = simulate(
        ScanSettings(
            dimension=2,
            matrix=(matrix, matrix, 4),
            coils=8,
            noise_scans=16,
            noise_sigma=0.002,
            seed=seed,
        )
    )
    return write_ve(scan, directory / f"{task_id}.dat", patient=ANONYMOUS, site=NO_SITE)


def task_file(task_id: str, raw: Path) -> str:
    now = time.strftime("%d/%m/%y  %H:%M:%S")
    return (
        "[Task]\n"
        f"ReconMode={MODE}\nEMailNotification=\nScanFile={raw.name}\n"
        "AdjustmentFilesCount=0\nScanProtocol=yc_gre_phantom\nReconName=Cartesian FFT\n"
        "ParamValue=0\n"
        f"RequiredServerType=\nUUID={task_id}\nCreationTimeRAID={now}\nCreationTimeTask={now}\n\n"
        "[AdjustmentFiles]\n\n"
        f"[Information]\nScanFileSize={raw.stat().st_size}\nSystemName=Demo\nSystemVendor=Siemens\n"
    )


def show_images(s3: Any, bucket: str, prefix: str, dest: Path) -> bool:
    """Download the task's results, check them against the worker's manifest, describe them."""
    shutil.rmtree(dest, ignore_errors=True)
    download_prefix(s3, bucket, prefix, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    bad = [
        entry["name"]
        for entry in manifest["files"]
        if sha256_file(dest / entry["name"]) != entry["sha256"]
    ]
    images = sorted((dest / "output_files").glob("*.dcm"))
    say(f"  downloaded {len(images)} DICOM images into {dest / 'output_files'}")
    if bad:
        say(f"  these files differ from the worker's manifest: {', '.join(bad)}")
        return False
    say(f"  every file matches the worker's manifest ({len(manifest['files'])} entries)")
    if not images:
        return False
    first = pydicom.dcmread(images[0], stop_before_pixels=True)
    say(
        f"  series {first.SeriesDescription!r}: {first.Rows}x{first.Columns} pixels,"
        f" {float(first.PixelSpacing[0]):.2f} mm, {first.Manufacturer} {first.SoftwareVersions}"
    )
    return True


def watch(api: ApiClient, task_id: str, started: float, timeout: float) -> dict:
    """Poll ``v1/job_status`` as a client would, printing each status once, with its time."""
    shown: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        answer = api.post("job_status", {"name": task_id})
        if answer.status != 200:
            raise SystemExit(f"v1/job_status answered {answer.status}: {answer.body}")
        status = answer.body
        times = status["status_times"]
        for name, at in sorted(times.items(), key=lambda item: item[1]):
            if name not in shown:
                shown.add(name)
                label = STAGES.get(Status(name), name)
                say(f"  +{at - started:6.2f} s  {name:<10} {label}")
        if Status(status["status"]) in ENDS or status["status"] == Status.SUCCEEDED:
            return status
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the task did not finish within {timeout:g} s (now {status['status']})"
            )
        time.sleep(0.2)


def set_up_site(ready_file: Path) -> NewKey:
    """A site with billing off, the demo's mode enabled, and a user with an access key."""
    admin = Admin.connect(ready_file, say=lambda _: None)
    admin.add_site(SITE, "Demo Imaging Centre")
    admin.enable_mode(SITE, MODE, vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600)
    return admin.add_user(USER, SITE)


def run(args: argparse.Namespace) -> int:
    work_dir = args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    say("YarraCloud demo: the embedded default, on this machine, with no AWS account.")
    say(
        "Starting the local cloud (AWS emulator, API gateway, local Batch, handlers); log: "
        f"{work_dir / 'local-cloud.log'}"
    )
    process, env = start_cloud(work_dir, args.aws_port)
    try:
        say(f"  AWS emulator at {env['AWS_ENDPOINT_URL']}, API at {env['YC_API_URL']}")
        key = set_up_site(work_dir / "ready.json")
        say(
            f"Site {SITE!r} (billing: none), mode {MODE!r} enabled, user {USER!r}"
            f" with access key {key.access_key_id}"
        )
        api = ApiClient(
            env["YC_API_URL"], key.access_key_id, key.secret_access_key, env["AWS_REGION"]
        )
        status = api.post("user_status").body
        say(
            f"  v1/user_status (SigV4-signed): can_submit_jobs={status['can_submit_jobs']},"
            f" in bucket {status['in_bucket']}"
        )
        s3 = boto3.client(
            "s3",
            region_name=env["AWS_REGION"],
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
        )

        task_id = str(uuid.UUID(int=random.Random(args.seed).getrandbits(128), version=4))
        with tempfile.TemporaryDirectory() as tmp:
            raw = make_raw_file(Path(tmp), task_id, args.matrix, args.seed)
            prefix = f"{USER}/{task_id}/"
            say(
                f"Task {task_id}: raw file {raw.name}, a Siemens VE TWIX of a Shepp-Logan phantom,"
                f" {raw.stat().st_size / 2**20:.1f} MiB"
            )
            t0 = time.time()
            s3.upload_file(str(raw), status["in_bucket"], prefix + raw.name)
            say(f"  uploaded the raw file with the user's key in {time.time() - t0:.2f} s")
            s3.put_object(
                Bucket=status["in_bucket"],
                Key=f"{prefix}{task_id}.task",
                Body=task_file(task_id, raw).encode(),
            )
            uploaded = time.time()
            submitted = api.post(
                "job_submit",
                {
                    "name": task_id,
                    "task_file_name": f"{task_id}.task",
                    "recon_mode": MODE,
                },
            )
            say(
                f"  uploaded the task file last, then v1/job_submit: {submitted.status}"
                f" {submitted.body.get('status', submitted.body)} (the S3 event and the API"
                " call share one guarded path: one job either way)"
            )
            say("Watching the task through v1/job_status:")
            final = watch(api, task_id, uploaded, args.timeout)

        job = api.post("jobs", [task_id]).body[task_id]
        say()
        say(f"Result: {final['status']}  (Batch job {final['id']}, {final['attempts']} attempt)")
        if final["error"]:
            say(f"  reason: {final['error']}")
        settings = Settings.from_env(env)
        usage = [u for u in UsageRecord.site_index.query(SITE) if u.task_id == task_id]
        say(
            f"  cost reported by v1/jobs: {job['cost']:.6f} {settings.rates.currency};"
            f" usage records: {len(usage)}"
        )
        ok = final["status"] == Status.SUCCEEDED.value
        if ok:
            ok = show_images(s3, status["out_bucket"], prefix, work_dir / "images" / task_id)
        say()
        say(
            "What this showed: a site set up with an IAM user and key; SigV4-signed API calls"
            " through the gateway; upload → S3 event → EventBridge → SQS → submit handler → one"
            " Batch job → the reconstruction worker (TWIX reader, FFTW pipeline, DICOM writer) →"
            " its state changes as events → job_state handler → status, cost and usage in"
            " DynamoDB, all through the same handlers that run on AWS Lambda."
        )
        say(
            "Not yet on this path: the site agent (de-identification, re-identification)"
            " and the PACS."
        )
        if args.keep:
            say()
            say("The local cloud keeps running (--keep). To explore it from another shell:")
            for name in ("AWS_ENDPOINT_URL", "AWS_REGION"):
                say(f"  export {name}={shlex.quote(env[name])}")
            say(f"  export AWS_ACCESS_KEY_ID={key.access_key_id}")
            say(f"  export AWS_SECRET_ACCESS_KEY={shlex.quote(key.secret_access_key)}")
            say(f"  aws s3 ls s3://{status['out_bucket']}/{USER}/ --recursive")
            say(f"  scripts/admin --cloud {work_dir / 'ready.json'} --help")
            say("Ctrl-C stops everything.")
            with contextlib.suppress(KeyboardInterrupt):
                process.wait()
        return 0 if ok else 1
    finally:
        stop_cloud(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="leave the local cloud running")
    parser.add_argument(
        "--aws-port",
        type=int,
        default=0,
        help="port of the AWS emulator (default 0: any free port)",
    )
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "var" / "demo")
    parser.add_argument("--matrix", type=int, default=128, help="image matrix of the phantom scan")
    parser.add_argument("--seed", type=int, default=7, help="seed of the task id and the noise")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("\nInterrupted; the local cloud was stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
