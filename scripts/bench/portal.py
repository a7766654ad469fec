"""The task monitor over 100,000 tasks in DynamoDB (the emulator): page times and throughput.

Tasks of three sites are written with batch writes, then the portal's task pages
are requested in this process through Flask's test client, signed in as each
role: the first page, pages deep into a site's history (following the "Older"
cursor through ``site_index``), the filters (user, status, period) and the
operator's failed tasks across sites. The baseline is the bare ``site_index``
query that reads one page, run against the same table: the ratio says what the
portal adds to the index read. A rare status is read from its own partition of
``site_status_index``; the same page read as a status filter over ``site_index``
is timed beside it, for comparison.

Each page is measured interleaved with the bare query, round by round (bare,
page, then page, bare, ...), ``--samples`` requests each a round, so that a
change of the machine's load falls on both; the ratio is the per-round median
over the bare query's, with its spread. Signing in, paid once per session, is
left out. Through the test client the pages skip HTTP and the WSGI server;
the emulator's DynamoDB answers from memory on loopback, DynamoDB over the
network in milliseconds more per query, so the ratios hold only here.

    python -m scripts.bench.portal [--tasks 10000] [--rounds 3] [--samples 3] [--depth 10]
        [--requests 40] [--full]

The default run takes two to three minutes; ``--full`` writes 100,000 tasks
(about 15 minutes).
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyotp

from contracts.task_status import Status
from functions.core.models import Site, Task, User
from portal_flask import create_app
from portal_flask.accounts import create_account
from portal_flask.auth import two_step
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from scripts.bench.rounds import ratio_spread, run_rounds
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.emulator import Emulator

SITES = {"bench-a": 0.80, "bench-b": 0.15, "bench-c": 0.05}
USERS_PER_SITE = 10
DAYS = 180
START = 1_767_225_600.0  # 2026-01-01 UTC
END = START + DAYS * 86400
PASSWORD = "bench password 2026"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_OLDER = re.compile(r'id="older" href="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_tasks(count: int, rng: random.Random) -> dict[str, int]:
    """``count`` tasks over the sites, one user in ten per site, ~1 % failed."""
    per_site = dict.fromkeys(SITES, 0)
    names, weights = list(SITES), list(SITES.values())
    for site in SITES:
        Site(site, name=site.title()).save()
        for n in range(USERS_PER_SITE):
            User(f"{site}-user{n}", site_id=site).save()
    with Task.batch_write() as batch:
        for _ in range(count):
            site = rng.choices(names, weights)[0]
            per_site[site] += 1
            created = START + rng.random() * DAYS * 86400
            failed = rng.random() < 0.01
            status = "FAILED" if failed else "DELIVERED"
            batch.save(
                Task(
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    site_id=site,
                    user_name=f"{site}-user{rng.randrange(USERS_PER_SITE)}",
                    status=status,
                    created_at=round(created, 3),
                    touched_at=round(created + 600, 3),
                    status_times={"UPLOADING": round(created, 3), status: round(created + 600, 3)},
                    recon_mode="demo_fft",
                    vcpus=4,
                    memory_mib=16384,
                    spot=True,
                    started_at=round(created + 60, 3),
                    stopped_at=round(created + 600, 3),
                    cost_micros=rng.randrange(10_000, 90_000),
                    attempts=1,
                    error="The reconstruction ran out of memory." if failed else None,
                )
            )
    return per_site


def with_two_step(account) -> str:
    """Set up two-step sign-in for ``account`` (as administrators must); returns its key."""
    key = two_step.new_secret()
    two_step.turn_on(account, key, step=0)
    return key


def signed_in(app, email: str, key: str | None = None):
    """A client signed in as ``email`` (with a code of ``key`` when it has two-step sign-in)."""
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "http://localhost/"
    page = client.get("/auth/sign-in").get_data(as_text=True)
    form = {"csrf_token": _TOKEN.search(page).group(1), "email": email, "password": PASSWORD}
    if key:
        form["code"] = pyotp.TOTP(key).at(app.config["PORTAL"].clock())
    answer = client.post("/auth/sign-in", data=form)
    assert answer.status_code == 302, answer.status_code
    return client


def same_session(app, client):
    """Another client holding ``client``'s sign-in cookie (one more browser tab of it)."""
    copy = app.test_client()
    name = app.config["SESSION_COOKIE_NAME"]
    copy.set_cookie(name, client.get_cookie(name).value)
    return copy


def timed(call: Callable[[], object], samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def deep_pages(client, depth: int) -> tuple[list[float], int]:
    """Follow "Older" ``depth`` times from the first page; the time of each page."""
    times, url, rows = [], "/tasks/", 0
    for _ in range(depth + 1):
        start = time.perf_counter()
        html = page(client, url)
        times.append(time.perf_counter() - start)
        rows += html.count("<tr data-task=")
        older = _OLDER.search(html)
        if not older:
            break
        url = older.group(1).replace("&amp;", "&")
    return times, rows


def throughput(app, signed: object, url: str, requests: int, threads: int) -> float:
    clients = [same_session(app, signed) for _ in range(threads)]
    per_thread = requests // threads

    def work(client) -> None:
        for _ in range(per_thread):
            page(client, url)

    workers = [threading.Thread(target=work, args=(client,)) for client in clients]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - start)


def measure(
    name: str,
    call: Callable[[], list[float]],
    bare: Callable[[], list[float]],
    rounds: int,
) -> None:
    """``call`` interleaved with ``bare`` over ``rounds``; one row with its ratio and spread."""
    runs = run_rounds(("bare", name), rounds, lambda _, c: call() if c == name else bare(), _quiet)
    every = [t for times in runs[name] for t in times]
    ratio = ratio_spread(
        [statistics.median(t) for t in runs[name]], [statistics.median(t) for t in runs["bare"]]
    )
    p50, p95 = statistics.median(every), percentile(every, 0.95)
    print(
        f"  {name:<44} p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"
        f"   {ratio.short(1)}x bare query",
        flush=True,
    )


def _quiet(_: str) -> None:
    """Rounds run without a line each: the table's rows are the progress."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--samples", type=int, default=3, help="requests a round")
    parser.add_argument("--full", action="store_true", help="100,000 tasks, 10 requests a round")
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    if args.full:
        args.tasks, args.samples, args.requests, args.depth = 100_000, 10, 200, 20
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, Emulator() as emulator:
        cloud = LocalCloud(endpoint=emulator.endpoint, work_dir=Path(tmp) / "cloud", poll=False)
        with cloud:
            start = time.perf_counter()
            per_site = write_tasks(args.tasks, rng)
            seconds = time.perf_counter() - start
            print(
                f"wrote {args.tasks:,} tasks in {seconds:.0f} s ({args.tasks / seconds:,.0f}/s): "
                + ", ".join(f"{site} {n:,}" for site, n in per_site.items())
            )
            config = PortalConfig(
                database_url=f"sqlite:///{Path(tmp) / 'portal.db'}",
                secret_key="bench",
                backend=cloud.settings,
                secure_cookies=False,
                auto_migrate=True,
                # The operator's page shows the last week's failures: the seeded period's.
                clock=lambda: END,
            )
            app = create_app(config)
            with app.app_context():
                admin_key = with_two_step(
                    create_account("admin@a.example.org", PASSWORD, "site_admin", "bench-a")
                )
                create_account(
                    "user@a.example.org", PASSWORD, "site_user", "bench-a", "bench-a-user3"
                )
                operator_key = with_two_step(
                    create_account("operator@example.org", PASSWORD, "operator")
                )
                db.session.commit()
            admin = signed_in(app, "admin@a.example.org", admin_key)
            user = signed_in(app, "user@a.example.org")
            operator = signed_in(app, "operator@example.org", operator_key)
            size = config.tasks_page_size

            def bare_query() -> None:
                list(
                    Task.site_index.query(
                        "bench-a", scan_index_forward=False, limit=size + 1, page_size=size + 1
                    )
                )

            def filtered_site_query() -> None:
                # A page of a rare status as a filter over the site's whole partition.
                list(
                    Task.site_index.query(
                        "bench-a",
                        filter_condition=Task.status == Status.FAILED.value,
                        scan_index_forward=False,
                        limit=size + 1,
                        page_size=1000,
                    )
                )

            n = args.samples
            print(
                f"\npages of {size} tasks, {args.rounds} rounds of {n} requests, each interleaved"
                " with the bare site_index query of a page (in-process test client); median"
                " (lowest-highest) of per-round ratios; signing in, paid once per session, left"
                " out:",
                flush=True,
            )
            pages = {
                "site admin, first page": lambda: page(admin, "/tasks/"),
                "site admin, one user": lambda: page(admin, "/tasks/?user=bench-a-user3"),
                "site admin, one week": lambda: page(
                    admin, "/tasks/?from=2026-03-02&to=2026-03-08"
                ),
                "site admin, status FAILED (~1 %)": lambda: page(admin, "/tasks/?status=FAILED"),
                "compare: FAILED as a filter on site_index": filtered_site_query,
                "operator, failed tasks of every site": lambda: page(operator, "/admin/"),
                "site user, own tasks": lambda: page(user, "/tasks/"),
                "operator, all sites (one query per site)": lambda: page(operator, "/tasks/"),
                "live feed (feed.json), site admin": lambda: admin.get(
                    "/tasks/feed.json"
                ).get_data(),
            }
            bare = lambda: timed(bare_query, n)  # noqa: E731
            for name, call in pages.items():
                measure(name, lambda c=call: timed(c, n), bare, args.rounds)
            measure(
                f"site admin, pages 1..{args.depth + 1} via cursor",
                lambda: deep_pages(admin, args.depth)[0],
                bare,
                args.rounds,
            )
            rps = throughput(app, admin, "/tasks/", args.requests, args.threads)
            print(f"\nsite admin first page, {args.threads} threads: {rps:.1f} requests/s")


if __name__ == "__main__":
    main()
