"""``v1/jobs`` with 100 task UUIDs: through the local API gateway, beside the bare handler.

The gateway path is what a Yarra client meets: an HTTP request signed with SigV4,
verified (signature, key active in IAM), turned into API Gateway's proxy event
and answered by the ``api`` handler. The baseline is the same handler called in
this process with the event the gateway built: the cost of the endpoint itself.

The two are interleaved round by round (bare, gateway, then gateway, bare, ...),
``--per-round`` requests each, so that a change in the machine's load falls on
both; the ratio is each round's median over the same round's, printed with its
spread over the rounds. The gateway's own start-up is paid once per local cloud,
not per request, and is left out (as API Gateway's is on AWS).

    python -m scripts.bench.api [--rounds 10] [--per-round 10] [--threads 4] [--full]
"""

from __future__ import annotations

import argparse
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
from scripts.bench.quiet import quiet_handlers
from scripts.bench.rounds import ratio_spread, run_rounds, spread
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
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--per-round", type=int, default=10, help="requests per contender a round")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--uuids", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--full", action="store_true", help="30 rounds of 30 requests each")
    args = parser.parse_args()
    if args.full:
        args.rounds, args.per_round = 30, 30
    quiet_handlers()
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

            contenders = {"bare": bare, "gateway": through_gateway}
            rounds = run_rounds(
                list(contenders),
                args.rounds,
                lambda _, name: timed(contenders[name], args.per_round),
                say=lambda line: print(line, flush=True),
            )
            gateway_rps = threaded(through_gateway, args.rounds * args.per_round, args.threads)

    medians = {name: [statistics.median(r) for r in runs] for name, runs in rounds.items()}
    every = {name: [t for r in runs for t in r] for name, runs in rounds.items()}
    print(
        f"\nv1/jobs with {args.uuids} UUIDs; {args.rounds} rounds of {args.per_round} requests"
        " each way, interleaved (bare, gateway, gateway, bare, ...)"
    )
    print(f"{'contender':<22}{'median ms':>10}{'p95 ms':>9}  round medians, ms")
    for name, label in (("bare", "bare handler call"), ("gateway", "through the gateway")):
        round_medians = spread([m * 1e3 for m in medians[name]])
        print(
            f"{label:<22}{statistics.median(every[name]) * 1e3:>10.1f}"
            f"{percentile(every[name], 0.95) * 1e3:>9.1f}  {round_medians.text(1)}"
        )
    print(f"through the gateway, {args.threads} clients: {gateway_rps:.1f} requests/s")
    ratio = ratio_spread(medians["gateway"], medians["bare"])
    print(f"gateway / bare, per-round medians: {ratio.text()}")
    print(
        "(left out: the local cloud's and the gateway's start-up, paid once, as API Gateway's is"
        " on AWS; the handler's cold start, paid by the first request, made before the rounds)"
    )


if __name__ == "__main__":
    main()
