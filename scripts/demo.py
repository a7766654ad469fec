"""The demo: one raw data file through the local cloud, every stage shown as it happens.

Today it runs the path that exists: the local cloud starts; a site, its user and a
mode are set up; a raw file and, last, its Yarra task file are uploaded; the S3
event submits the task; the local Batch runs the job; its state changes come back
as events until the task ends. The job is the input inspection job, which reads
and checksums the inputs; the reconstruction worker, the site agent and the PACS
join this path as they land.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from functions.core.models import Task, UsageRecord, bind_models
from functions.core.pricing import micros_to_amount
from functions.core.settings import Settings
from functions.core.status import ENDS, Status
from scripts.local_cloud.cloud import REPO_ROOT
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site

SITE, USER = "demo-site", "demo-user"
STAGES = {
    Status.UPLOADING: "upload seen (the raw file's S3 event opened the task)",
    Status.SUBMITTED: "submitted (the task file's S3 event → EventBridge → SQS → submit)",
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


def make_raw_file(directory: Path, task_id: str, size: int, seed: int) -> Path:
    """A stand-in raw file of ``size`` bytes (random, seeded): no patient in it."""
    path = directory / f"{task_id}.dat"
    rng = random.Random(seed)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = min(left, 1 << 20)
            out.write(rng.randbytes(chunk))
            left -= chunk
    return path


def task_file(task_id: str, raw: Path) -> str:
    now = time.strftime("%d/%m/%y  %H:%M:%S")
    return (
        "[Task]\n"
        f"ReconMode={DEMO_MODE['mode_id']}\nEMailNotification=\nScanFile={raw.name}\n"
        "AdjustmentFilesCount=0\nScanProtocol=demo_protocol\nReconName=Demo FFT\nParamValue=0\n"
        f"RequiredServerType=\nUUID={task_id}\nCreationTimeRAID={now}\nCreationTimeTask={now}\n\n"
        "[AdjustmentFiles]\n\n"
        f"[Information]\nScanFileSize={raw.stat().st_size}\nSystemName=Demo\nSystemVendor=Siemens\n"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def watch(task_id: str, started: float, timeout: float) -> Task:
    shown: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        try:
            task = Task.get(task_id, consistent_read=True)
        except Task.DoesNotExist:
            time.sleep(0.2)
            continue
        times = task.status_times.as_dict()
        for status, at in sorted(times.items(), key=lambda item: float(item[1])):
            if status not in shown:
                shown.add(status)
                label = STAGES.get(Status(status), status)
                say(f"  +{float(at) - started:6.2f} s  {status:<10} {label}")
        if task.current_status in ENDS or task.current_status is Status.SUCCEEDED:
            return task
        if time.monotonic() > deadline:
            raise SystemExit(f"the task did not finish within {timeout:g} s (now {task.status})")
        time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    work_dir = args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    say("YarraCloud demo: the embedded default, on this machine, with no AWS account.")
    say(
        f"Starting the local cloud (AWS emulator, local Batch, handlers); log: "
        f"{work_dir / 'local-cloud.log'}"
    )
    process, env = start_cloud(work_dir, args.aws_port)
    try:
        os.environ.update(env)
        settings = Settings.from_env(env)
        bind_models(settings)
        import boto3

        s3 = boto3.client("s3")
        say(
            f"  AWS emulator at {env['AWS_ENDPOINT_URL']}, Batch at {env['AWS_ENDPOINT_URL_BATCH']}"
        )

        publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        seed_site(
            SITE,
            "Demo Imaging Centre",
            [USER],
            {
                DEMO_MODE["mode_id"]: {
                    "vcpus": 2,
                    "memory_mib": 2048,
                    "spot": True,
                    "timeout_seconds": 600,
                }
            },
        )
        say(f"Site {SITE!r} (billing: none), user {USER!r}, mode {DEMO_MODE['mode_id']!r} enabled")

        task_id = str(uuid.UUID(int=random.Random(args.seed).getrandbits(128), version=4))
        with tempfile.TemporaryDirectory() as tmp:
            raw = make_raw_file(Path(tmp), task_id, args.size_mib << 20, args.seed)
            digest = sha256_of(raw)
            prefix = f"{USER}/{task_id}/"
            say(f"Task {task_id}: raw file {raw.name}, {args.size_mib} MiB, sha256 {digest[:16]}…")
            t0 = time.time()
            s3.upload_file(str(raw), settings.in_bucket, prefix + raw.name)
            say(f"  uploaded the raw file in {time.time() - t0:.2f} s")
            s3.put_object(
                Bucket=settings.in_bucket,
                Key=f"{prefix}{task_id}.task",
                Body=task_file(task_id, raw).encode(),
            )
            uploaded = time.time()
            say("  uploaded the task file last (the commit marker); watching the task:")
            task = watch(task_id, uploaded, args.timeout)

        say()
        say(f"Result: {task.status}  (Batch job {task.job_id})")
        if task.error:
            say(f"  reason: {task.error}")
        usage = [u for u in UsageRecord.site_index.query(SITE) if u.task_id == task_id]
        if task.stopped_at and task.started_at:
            say(
                f"  ran {float(task.stopped_at) - float(task.started_at):.2f} s on"
                f" {int(task.vcpus)} vCPU / {int(task.memory_mib)} MiB "
                f"({'spot' if task.spot else 'on-demand'})"
            )
        say(
            f"  cost: {micros_to_amount(int(task.cost_micros)):.6f} {settings.rates.currency}"
            f" ({int(task.cost_micros)} micro-units); usage records: {len(usage)}"
        )
        ok = task.status == Status.SUCCEEDED.value
        if ok:
            listing = s3.list_objects_v2(Bucket=settings.out_bucket, Prefix=prefix)
            names = [o["Key"][len(prefix) :] for o in listing.get("Contents", [])]
            say(f"  out bucket {settings.out_bucket}/{prefix}: {', '.join(names)}")
            report = json.load(
                s3.get_object(Bucket=settings.out_bucket, Key=prefix + "inputs.json")["Body"]
            )
            seen = {i["name"]: i["sha256"] for i in report["inputs"]}
            same = seen.get(raw.name) == digest
            say(
                f"  the job read the raw file with sha256 {seen.get(raw.name, '?')[:16]}…: "
                + ("the same bytes that were uploaded" if same else "NOT the uploaded bytes")
            )
            ok = same
        say()
        say(
            "What this showed: upload → S3 event → EventBridge → SQS → submit handler → one Batch"
            " job → its state changes as events → job_state handler → status, cost and usage in"
            " DynamoDB, all through the same handlers that run on AWS Lambda."
        )
        say(
            "Not yet on this path: the reconstruction worker (the job only inspects its inputs),"
            " the site agent, de-identification and the PACS."
        )
        if args.keep:
            say()
            say("The local cloud keeps running (--keep). To explore it from another shell:")
            for key in (
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_BATCH",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ):
                say(f"  export {key}={shlex.quote(env[key])}")
            say(f"  aws s3 ls s3://{settings.out_bucket}/{USER}/ --recursive")
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
    parser.add_argument("--size-mib", type=int, default=16, help="size of the raw file")
    parser.add_argument("--seed", type=int, default=7, help="seed of the task id and raw bytes")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("\nInterrupted; the local cloud was stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
