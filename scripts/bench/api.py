"""``v1/jobs`` with 100 task UUIDs: through the local API gateway, beside the bare handler.

The gateway path is what a Yarra client meets: an HTTP request signed with SigV4,
verified (signature, key active in IAM), turned into API Gateway's proxy event
and answered by the ``api`` handler. The baseline is the same handler called in
this process with the event the gateway built: the cost of the endpoint itself.

    python -m scripts.bench.api [--requests 300] [--threads 4]
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
from functions.core.task_store import open_task
from scripts.admin import Admin
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator
from scripts.local_cloud.lambda_runtime import LambdaContext

USER, SITE = "bench-user", "bench-site"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)
    return latencies


def threaded(call, count: int, threads: int) -> float:
    """Requests per second with ``threads`` clients sharing ``count`` requests."""
    per_thread = count // threads
    workers = [threading.Thread(target=lambda: timed(call, per_thread)) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--uuids", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(args.seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.uuids)]
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        cloud = LocalCloud(endpoint=emulator.endpoint, work_dir=Path(tmp), poll=False)
        with cloud:
            admin = Admin(
                settings=cloud.settings,
                iam=cloud.clients.session.client("iam"),
                credentials=cloud.credentials,
                site_user_group=cloud.resources.site_user_group(),
                say=lambda _: None,
            )
            admin.add_site(SITE, "Bench")
            key = admin.add_user(USER, SITE)
            now = time.time()
            for task_id in ids:
                open_task(task_id, user_name=USER, site_id=SITE, now=now)
            client = ApiClient(
                cloud.api.endpoint, key.access_key_id, key.secret_access_key, cloud.region
            )
            handler = cloud.api.make_handler()
            events: list[dict] = []

            def recording(event: dict, context: object) -> dict:
                if not events:  # the first request's event, as the gateway built it
                    events.append(event)
                return handler(event, context)

            make_handler = cloud.api.make_handler
            cloud.api.make_handler = lambda: recording
            check = client.post("jobs", ids)
            cloud.api.make_handler = make_handler
            assert check.status == 200 and len(check.body) == len(ids), check.body
            assert len(list(Task.scan())) == len(ids)
            [event] = events

            def bare() -> None:
                context = LambdaContext.for_invocation("bench-api", cloud.region, "0", 29)
                answer = handler(event, context)
                assert answer["statusCode"] == 200

            def through_gateway() -> None:
                assert client.post("jobs", ids).status == 200

            bare_latency = timed(bare, args.requests)
            gateway_latency = timed(through_gateway, args.requests)
            gateway_rps = threaded(through_gateway, args.requests, args.threads)

    b50, b95 = statistics.median(bare_latency), percentile(bare_latency, 0.95)
    g50, g95 = statistics.median(gateway_latency), percentile(gateway_latency, 0.95)
    print(f"v1/jobs with {args.uuids} UUIDs, {args.requests} requests each way")
    print(
        f"bare handler call:      median {b50 * 1e3:6.1f} ms, p95 {b95 * 1e3:6.1f} ms,"
        f" {1 / statistics.mean(bare_latency):6.1f} calls/s"
    )
    print(
        f"through the gateway:    median {g50 * 1e3:6.1f} ms, p95 {g95 * 1e3:6.1f} ms,"
        f" {1 / statistics.mean(gateway_latency):6.1f} requests/s (one client)"
    )
    print(f"                        {gateway_rps:6.1f} requests/s ({args.threads} clients)")
    print(f"gateway / bare:         median {g50 / b50:.2f}x, p95 {g95 / b95:.2f}x")


if __name__ == "__main__":
    main()
