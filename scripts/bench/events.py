"""Tasks through the local event pipeline: upload → S3 event → EventBridge → SQS → submit.

Prints the upload-to-SUBMITTED latency (median, p95), throughput, and duplicate
submissions (must be 0). The baseline is the same pipeline with a handler that
does nothing: the emulator's own event delivery, which the submit path adds to.

    python -m scripts.bench.events [--tasks 1000] [--lambda-concurrency 2]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from functions.core.models import Task
from functions.submission import job_name
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


def upload_all(cloud: LocalCloud, task_ids: list[str], uploaded: dict[str, float]) -> None:
    s3, bucket = cloud.clients.s3, cloud.settings.in_bucket
    raw = bytes(RAW_SIZE)
    for task_id in task_ids:
        s3.put_object(Bucket=bucket, Key=f"{USER}/{task_id}/{task_id}.dat", Body=raw)
        s3.put_object(
            Bucket=bucket, Key=f"{USER}/{task_id}/{task_id}.task", Body=task_text(task_id).encode()
        )
        uploaded[task_id] = time.time()


def baseline(
    emulator: Emulator, work_dir: Path, task_ids: list[str], concurrency: int
) -> list[float]:
    """Upload → the task file's event in a handler that does nothing."""
    emulator.reset()
    seen: dict[str, float] = {}
    done = threading.Event()

    def note(event: dict, context: object) -> dict:
        import json

        for record in event["Records"]:
            key = json.loads(record["body"])["detail"]["object"]["key"]
            if key.endswith(".task"):
                seen[key.split("/")[1]] = time.time()
        if len(seen) == len(task_ids):
            done.set()
        return {"batchItemFailures": []}

    with LocalCloud(
        endpoint=emulator.endpoint,
        work_dir=work_dir,
        worker_command=["true"],
        lambda_concurrency=concurrency,
    ) as cloud:
        cloud.pollers["submit"].handler = note
        uploaded: dict[str, float] = {}
        upload_all(cloud, task_ids, uploaded)
        if not done.wait(600):
            raise SystemExit("baseline: not every event arrived within 10 minutes")
    return [seen[t] - uploaded[t] for t in task_ids]


def pipeline(
    emulator: Emulator, work_dir: Path, task_ids: list[str], concurrency: int
) -> tuple[list[float], float, int]:
    """Upload → SUBMITTED through the real submit handler; returns latencies, span, dupes."""
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
        uploaded: dict[str, float] = {}
        start = time.time()
        upload_all(cloud, task_ids, uploaded)

        def all_submitted() -> list[Task] | None:
            tasks = list(Task.site_index.query("bench-site"))
            submitted = [t for t in tasks if "SUBMITTED" in t.status_times.as_dict()]
            return tasks if len(submitted) == len(task_ids) else None

        tasks = cloud.wait_until(all_submitted, 900, "every task to be SUBMITTED")
        latencies = [float(t.status_times["SUBMITTED"]) - uploaded[t.task_id] for t in tasks]
        span = max(float(t.status_times["SUBMITTED"]) for t in tasks) - start
        jobs = 0
        for queue in (cloud.settings.job_queue_spot, cloud.settings.job_queue_on_demand):
            for status in (
                "SUBMITTED",
                "PENDING",
                "RUNNABLE",
                "STARTING",
                "RUNNING",
                "SUCCEEDED",
                "FAILED",
            ):
                paginator = cloud.clients.batch.list_jobs(jobQueue=queue, jobStatus=status)
                jobs += len(paginator["jobSummaryList"])
        names = {job_name(t) for t in task_ids}
        assert len(names) == len(task_ids)
        return latencies, span, jobs - len(task_ids)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--lambda-concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(args.seed)
    task_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.tasks)]
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        base = baseline(emulator, Path(tmp) / "baseline", task_ids, args.lambda_concurrency)
        latencies, span, duplicates = pipeline(
            emulator, Path(tmp) / "pipeline", task_ids, args.lambda_concurrency
        )
    b50, b95 = statistics.median(base), percentile(base, 0.95)
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    print(f"tasks: {args.tasks}, lambda concurrency: {args.lambda_concurrency}")
    print(f"baseline (event delivery only): median {b50 * 1000:.0f} ms, p95 {b95 * 1000:.0f} ms")
    print(f"upload → SUBMITTED:             median {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"ratio to baseline:              median {p50 / b50:.2f}x, p95 {p95 / b95:.2f}x")
    print(f"throughput: {args.tasks / span:.1f} tasks/s ({span:.1f} s for {args.tasks})")
    print(f"duplicate submissions: {duplicates}")
    if duplicates:
        raise SystemExit("FAIL: a task was submitted more than once")


if __name__ == "__main__":
    main()
