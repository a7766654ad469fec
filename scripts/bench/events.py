"""Tasks through the local event pipeline: upload → S3 event → EventBridge → SQS → submit.

One local cloud, its real submit handler behind a recorder that notes when each
task file's event reaches it. Three parts:

1. Latency, one task at a time, interleaved round by round with its baseline
   (pipeline, baseline, then baseline, pipeline, ...): both timed from the
   moment the client starts the upload (raw file, then task file), the
   pipeline's to SUBMITTED, the baseline's to the task file's event reaching
   the handler, which then does nothing with it. The baseline is the upload
   plus the emulator's event delivery, a measured quantity above zero; the
   ratio is the pipeline's median over the baseline's, with its spread.
2. What a real client and a real S3 do to the submit path, ``--cases`` tasks
   each, every one counted in Batch by its job name: the task file's event
   sent twice (the file uploaded again), the task file before the raw file,
   and ``v1/job_submit`` through the signed gateway sent the moment the task
   file is up, racing its S3 event, as the site agent does. Each task must
   have exactly one job.
3. A burst of ``--tasks`` tasks: upload → SUBMITTED with queueing, and throughput.

The local cloud's start-up is paid once, not per task, and is left out. On AWS
the event delivery is EventBridge's and SQS's, not the emulator's dispatch on
loopback, so the latencies hold only here; the difference between the two rows
is the submit handler's own share.

    python -m scripts.bench.events [--rounds 10] [--cases 5] [--tasks 100] [--full]
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from functions.core.models import Task
from functions.work.submit import job_name
from scripts.admin import Admin
from scripts.bench.quiet import quiet_handlers
from scripts.bench.rounds import ratio_spread, run_rounds, spread
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.batch_runner import STATUSES as BATCH_STATUSES
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site

RAW_SIZE = 1024
USER, SITE = "bench-user", "bench-site"
MODE = DEMO_MODE["mode_id"]
CASES = ("task file event twice", "task file before raw file", "v1/job_submit races the event")


def task_text(task_id: str) -> str:
    return (
        f"[Task]\nReconMode={MODE}\nScanFile={task_id}.dat\nAdjustmentFilesCount=0\n"
        f"UUID={task_id}\n\n[Information]\nScanFileSize={RAW_SIZE}\n"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Recorder:
    """The submit handler, wrapped: notes every event it is given; ignored tasks stop here."""

    handler: Callable[[dict, object], dict]
    ignored: set[str] = field(default_factory=set)
    task_file_at: dict[str, float] = field(default_factory=dict)
    events: collections.Counter[str] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict, context: object) -> dict:
        now = time.time()
        passed = []
        for record in event["Records"]:
            key = json.loads(record["body"])["detail"]["object"]["key"]
            task_id = key.split("/")[1]
            with self.lock:
                self.events[task_id] += 1
                if key.endswith(".task"):
                    self.task_file_at.setdefault(task_id, now)
            if task_id not in self.ignored:
                passed.append(record)
        if not passed:
            return {"batchItemFailures": []}
        return self.handler({**event, "Records": passed}, context)


class Bench:
    def __init__(self, cloud: LocalCloud, client: ApiClient, rng: random.Random) -> None:
        self.cloud = cloud
        self.client = client
        self.rng = rng
        self.recorder = Recorder(cloud.pollers["submit"].handler)
        cloud.pollers["submit"].handler = self.recorder

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def put(self, task_id: str, which: str) -> None:
        s3, bucket = self.cloud.clients.s3, self.cloud.settings.in_bucket
        body = bytes(RAW_SIZE) if which == "dat" else task_text(task_id).encode()
        s3.put_object(Bucket=bucket, Key=f"{USER}/{task_id}/{task_id}.{which}", Body=body)

    def submitted(self, task_id: str) -> float | None:
        try:
            task = Task.get(task_id, consistent_read=True)
        except Task.DoesNotExist:
            return None
        at = task.status_times.as_dict().get("SUBMITTED")
        return float(at) if at is not None else None

    def one_at_a_time(self, _: int, contender: str) -> float:
        """Seconds from the start of the upload to SUBMITTED, or to the baseline's event."""
        task_id = self.new_id()
        if contender == "baseline":
            self.recorder.ignored.add(task_id)
        started = time.time()
        self.put(task_id, "dat")
        self.put(task_id, "task")
        if contender == "baseline":
            at = self.cloud.wait_until(
                lambda: self.recorder.task_file_at.get(task_id), 60, f"the event of {task_id}"
            )
        else:
            at = self.cloud.wait_until(lambda: self.submitted(task_id), 60, f"{task_id} SUBMITTED")
        return at - started

    def case(self, name: str) -> tuple[str, int]:
        """One task sent as the case says; its id and how many S3 events it sends."""
        task_id = self.new_id()
        if name == CASES[0]:
            self.put(task_id, "dat")
            self.put(task_id, "task")
            self.put(task_id, "task")
            return task_id, 3
        if name == CASES[1]:
            self.put(task_id, "task")
            self.put(task_id, "dat")
            return task_id, 2
        self.put(task_id, "dat")
        self.put(task_id, "task")
        answer = self.client.post(
            "job_submit",
            {"name": task_id, "task_file_name": f"{task_id}.task", "recon_mode": MODE},
        )
        if answer.status != 200:
            raise RuntimeError(f"v1/job_submit answered {answer.status}: {answer.body}")
        return task_id, 2

    def settle(self, expected: dict[str, int], timeout: float) -> None:
        """Until every task is SUBMITTED and the handler has seen each of its events."""
        for task_id, events in expected.items():
            self.cloud.wait_until(
                lambda t=task_id, n=events: self.recorder.events[t] >= n and self.submitted(t),
                timeout,
                f"{task_id} SUBMITTED with its {events} events handled",
            )

    def jobs(self) -> collections.Counter[str]:
        """Batch jobs by name, in both queues and every status."""
        names: collections.Counter[str] = collections.Counter()
        batch = self.cloud.clients.batch
        for queue in (self.cloud.settings.job_queue_spot, self.cloud.settings.job_queue_on_demand):
            for status in BATCH_STATUSES:
                pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status)
                names.update(j["jobName"] for page in pages for j in page["jobSummaryList"])
        return names


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="interleaved one-at-a-time rounds")
    parser.add_argument("--cases", type=int, default=5, help="tasks per duplicate/race case")
    parser.add_argument("--tasks", type=int, default=100, help="tasks in the burst")
    parser.add_argument("--lambda-concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--full", action="store_true", help="50 rounds, 20 per case, 1,000 tasks")
    args = parser.parse_args()
    if args.full:
        args.rounds, args.cases, args.tasks = 50, 20, 1000
    quiet_handlers()
    say = lambda line: print(line, flush=True)  # noqa: E731
    with (
        tempfile.TemporaryDirectory() as tmp,
        Emulator() as emulator,
        LocalCloud(
            endpoint=emulator.endpoint,
            work_dir=Path(tmp),
            worker_command=["true"],
            lambda_concurrency=args.lambda_concurrency,
            batch_concurrency=2,
        ) as cloud,
    ):
        admin = Admin(
            settings=cloud.settings,
            iam=cloud.clients.session.client("iam"),
            credentials=cloud.credentials,
            site_user_group=cloud.resources.site_user_group(),
            say=lambda _: None,
        )
        publish_mode(MODE, DEMO_MODE["client_config"])
        seed_site(SITE, "Bench", [], {MODE: {"vcpus": 1, "memory_mib": 512}})
        key = admin.add_user(USER, SITE)
        client = ApiClient(
            cloud.api.endpoint, key.access_key_id, key.secret_access_key, cloud.region
        )
        bench = Bench(cloud, client, random.Random(args.seed))

        latency = run_rounds(("pipeline", "baseline"), args.rounds, bench.one_at_a_time, say)

        expected: dict[str, int] = {}
        by_case: dict[str, list[str]] = {name: [] for name in CASES}
        say(f"duplicate and racing events, {args.cases} tasks a case ...")
        for _ in range(args.cases):
            for name in CASES:
                task_id, events = bench.case(name)
                by_case[name].append(task_id)
                expected[task_id] = events
        bench.settle(expected, 120)

        say(f"a burst of {args.tasks} tasks ...")
        burst = [bench.new_id() for _ in range(args.tasks)]
        started = time.time()
        uploaded = {}
        for task_id in burst:
            uploaded[task_id] = time.time()
            bench.put(task_id, "dat")
            bench.put(task_id, "task")
        bench.settle(dict.fromkeys(burst, 2), 1800)
        in_burst = [bench.submitted(t) - uploaded[t] for t in burst]  # type: ignore[operator]
        span = max(bench.submitted(t) for t in burst) - started  # type: ignore[type-var]
        jobs = bench.jobs()

    report(args, latency, by_case, burst, in_burst, span, jobs)


def report(
    args: argparse.Namespace,
    latency: dict[str, list[float]],
    by_case: dict[str, list[str]],
    burst: list[str],
    in_burst: list[float],
    span: float,
    jobs: collections.Counter[str],
) -> None:
    print(
        f"\nupload → SUBMITTED, {args.rounds} rounds one task at a time, interleaved with the"
        f" baseline; lambda concurrency {args.lambda_concurrency}"
    )
    print(f"{'':<52}{'median ms':>10}{'p95 ms':>9}  spread ms")
    rows = (
        ("baseline: upload, then the event at a no-op handler", latency["baseline"]),
        ("pipeline: upload → SUBMITTED", latency["pipeline"]),
        (f"burst of {args.tasks}: upload → SUBMITTED (queueing)", in_burst),
    )
    for (label, values), of in zip(rows, ("rounds", "rounds", "tasks"), strict=True):
        ms = [v * 1e3 for v in values]
        print(
            f"{label:<52}{statistics.median(ms):>10.0f}{percentile(ms, 0.95):>9.0f}"
            f"  {spread(ms).text(0, of=of)}"
        )
    ratio = ratio_spread(latency["pipeline"], latency["baseline"])
    print(f"pipeline / baseline, per round: {ratio.text()}")
    print(f"throughput: {args.tasks / span:.1f} tasks/s ({args.tasks} tasks in {span:.1f} s)")
    print("(the local cloud's start-up, once per run, is left out)")

    print(f"\n{'case':<34}{'tasks':>6}{'jobs':>6}{'not 1 job':>10}")
    wrong = 0
    for name, ids in [*by_case.items(), ("burst, raw file then task file", burst)]:
        counts = [jobs[job_name(t)] for t in ids]
        bad = sum(1 for c in counts if c != 1)
        wrong += bad
        print(f"{name:<34}{len(ids):>6}{sum(counts):>6}{bad:>10}")
    print(f"tasks without exactly one Batch job: {wrong}")
    if wrong:
        raise SystemExit("FAIL: a task was submitted other than exactly once")


if __name__ == "__main__":
    main()
