"""Tasks through the local event pipeline: upload → S3 event → EventBridge → SQS → submit.

Prints the upload-to-SUBMITTED latency (median, p95) of a burst of tasks (which
includes waiting in the queue) and of tasks sent one at a time, the throughput,
and duplicate submissions (must be 0). The baseline is the same pipeline with a
handler that does nothing: the emulator's own event delivery, which the submit
path adds to, measured one task at a time in the same process.

    python -m scripts.bench.events [--tasks 1000] [--lambda-concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from functions.core.models import Task
from scripts.bench.quiet import quiet_handlers
from scripts.local_cloud.batch_runner import STATUSES as BATCH_STATUSES
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site

RAW_SIZE = 1024
USER = "bench-user"


def task_text(task_id: str) -> str:
    return (
        f"[Task]\nReconMode=demo_fft\nScanFile={task_id}.dat\nAdjustmentFilesCount=0\n"
        f"UUID={task_id}\n\n[Information]\nScanFileSize={RAW_SIZE}\n"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def upload_one(cloud: LocalCloud, task_id: str) -> float:
    """Upload a task as a client does, raw file first; returns when the task file landed."""
    s3, bucket = cloud.clients.s3, cloud.settings.in_bucket
    s3.put_object(Bucket=bucket, Key=f"{USER}/{task_id}/{task_id}.dat", Body=bytes(RAW_SIZE))
    s3.put_object(
        Bucket=bucket, Key=f"{USER}/{task_id}/{task_id}.task", Body=task_text(task_id).encode()
    )
    return time.time()


def baseline(emulator: Emulator, work_dir: Path, task_ids: list[str]) -> list[float]:
    """Upload → the task file's event in a handler that does nothing, one task at a time."""
    emulator.reset()
    seen: dict[str, float] = {}

    def note(event: dict, context: object) -> dict:
        for record in event["Records"]:
            key = json.loads(record["body"])["detail"]["object"]["key"]
            if key.endswith(".task"):
                seen[key.split("/")[1]] = time.time()
        return {"batchItemFailures": []}

    latencies = []
    with LocalCloud(
        endpoint=emulator.endpoint, work_dir=work_dir, worker_command=["true"]
    ) as cloud:
        cloud.pollers["submit"].handler = note
        for task_id in task_ids:
            uploaded = upload_one(cloud, task_id)
            cloud.wait_until(lambda t=task_id: t in seen, 60, f"the event of {task_id}")
            latencies.append(seen[task_id] - uploaded)
    return latencies


def submitted_at(task: Task) -> float | None:
    at = task.status_times.as_dict().get("SUBMITTED")
    return float(at) if at is not None else None


def pipeline(
    emulator: Emulator, work_dir: Path, single: list[str], burst: list[str], concurrency: int
) -> tuple[list[float], list[float], float, int]:
    """Upload → SUBMITTED through the real submit handler.

    Returns the latencies of tasks sent one at a time, those of the burst, the
    burst's span in seconds, and how many more Batch jobs exist than tasks.
    """
    emulator.reset()
    with LocalCloud(
        endpoint=emulator.endpoint,
        work_dir=work_dir,
        worker_command=["true"],
        lambda_concurrency=concurrency,
        batch_concurrency=2,
    ) as cloud:
        publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
        seed_site("bench-site", "Bench", [USER], {"demo_fft": {"vcpus": 1, "memory_mib": 512}})

        def submitted(task_id: str) -> float | None:
            try:
                return submitted_at(Task.get(task_id, consistent_read=True))
            except Task.DoesNotExist:
                return None

        one_at_a_time = []
        for task_id in single:
            uploaded = upload_one(cloud, task_id)
            at = cloud.wait_until(lambda t=task_id: submitted(t), 60, f"{task_id} SUBMITTED")
            one_at_a_time.append(at - uploaded)

        uploaded_at = {}
        start = time.time()
        for task_id in burst:
            uploaded_at[task_id] = upload_one(cloud, task_id)

        for task_id in burst:  # roughly the order they are submitted in: one read each
            cloud.wait_until(lambda t=task_id: submitted(t), 1800, f"{task_id} SUBMITTED")
        tasks = [t for t in Task.site_index.query("bench-site") if t.task_id in uploaded_at]
        in_burst = [submitted_at(t) - uploaded_at[t.task_id] for t in tasks]
        span = max(submitted_at(t) for t in tasks) - start
        jobs = 0
        for queue in (cloud.settings.job_queue_spot, cloud.settings.job_queue_on_demand):
            for status in BATCH_STATUSES:
                pages = cloud.clients.batch.get_paginator("list_jobs").paginate(
                    jobQueue=queue, jobStatus=status
                )
                jobs += sum(len(page["jobSummaryList"]) for page in pages)
        return one_at_a_time, in_burst, span, jobs - len(single) - len(burst)


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the burst")
    parser.add_argument("--single", type=int, default=50, help="tasks sent one at a time")
    parser.add_argument("--lambda-concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    quiet_handlers()
    rng = random.Random(args.seed)
    ids = [
        str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.tasks + args.single)
    ]
    single, burst = ids[: args.single], ids[args.single :]
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        base = baseline(emulator, Path(tmp) / "baseline", single)
        alone, in_burst, span, duplicates = pipeline(
            emulator, Path(tmp) / "pipeline", single, burst, args.lambda_concurrency
        )
    b50, b95 = summary(base)
    a50, a95 = summary(alone)
    s50, s95 = summary(in_burst)
    print(
        f"tasks: {args.tasks} in a burst, {args.single} one at a time;"
        f" lambda concurrency {args.lambda_concurrency}"
    )
    rows = [
        ("baseline, event delivery only (one at a time)", b50, b95, ""),
        (
            "upload → SUBMITTED, one at a time",
            a50,
            a95,
            f"  ({a50 / b50:.1f}x / {a95 / b95:.1f}x the baseline)",
        ),
        ("upload → SUBMITTED, in the burst (queueing)", s50, s95, ""),
    ]
    for label, median, p95, note in rows:
        print(f"{label + ':':<48} median {median * 1e3:7.0f} ms, p95 {p95 * 1e3:7.0f} ms{note}")
    print(f"throughput: {args.tasks / span:.1f} tasks/s ({args.tasks} tasks in {span:.1f} s)")
    print(f"duplicate submissions: {duplicates}")
    if duplicates:
        raise SystemExit("FAIL: a task was submitted more than once")


if __name__ == "__main__":
    main()
