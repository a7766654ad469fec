"""Each request through the local gateway gets a handler invocation of its own.

The Powertools resolver keeps the request it serves on its class, so the api handler
serves one request at a time per process, as a Lambda execution environment does.
Hooks hold a request inside its handler and signal when the next one waits, so the
requests interleave at the same point every time, not by chance.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scripts.local_cloud.api_gateway import LocalApiGateway
from scripts.local_cloud.credentials import CredentialStore
from tests.helpers.cloud import drain

TASK = "c0ffee00-1234-4abc-8def-0123456789ab"
WAIT_S = 60


def test_a_request_waits_for_the_busy_api_handler_and_every_answer_is_its_own(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    inside, release, queued = threading.Event(), threading.Event(), threading.Event()

    def hold_the_first(path: str) -> None:
        if not inside.is_set():
            inside.set()
            assert release.wait(WAIT_S)

    cloud.hooks.before_api_caller = hold_the_first
    cloud.api.on_wait = queued.set
    with ThreadPoolExecutor(3) as pool:
        alice = pool.submit(users["alice"].post, "job_status", {"name": TASK})
        assert inside.wait(WAIT_S), "alice's request never reached the handler"
        bob = pool.submit(users["bob"].post, "user_status")
        assert queued.wait(WAIT_S), "bob's request did not wait for the busy instance"
        queued.clear()
        carol = pool.submit(users["carol"].post, "modes")
        assert queued.wait(WAIT_S), "carol's request did not wait for the busy instance"
        release.set()
        answers = {"alice": alice.result(), "bob": bob.result(), "carol": carol.result()}

    assert answers["alice"].status == 200, answers["alice"].body
    assert (answers["alice"].body["name"], answers["alice"].body["status"]) == (TASK, "SUBMITTED")
    assert answers["bob"].status == 200 and answers["bob"].body["username"] == "bob"
    assert (answers["carol"].status, answers["carol"].body) == (200, [])
    assert cloud.api.instances == 1


def test_with_more_concurrency_each_concurrent_request_has_an_instance_of_its_own(
    tmp_path: Path,
):
    """A pool: instances are made while all are busy, and reused once idle."""
    parties = 3
    barrier = threading.Barrier(parties, timeout=WAIT_S)
    made: list[Any] = []

    def make_handler():
        serving = threading.Lock()

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            assert serving.acquire(blocking=False), "an instance got two requests at once"
            try:
                barrier.wait()
                return {"statusCode": 200, "body": json.dumps({"instance": made.index(handler)})}
            finally:
                serving.release()

        made.append(handler)
        return handler

    gateway = LocalApiGateway(
        make_handler=make_handler,
        credentials=CredentialStore(tmp_path / "credentials.json"),
        iam=None,
        region="eu-central-1",
        account="123456789012",
        concurrency=parties,
    )
    events = [{"httpMethod": "POST", "path": f"/v1/{n}"} for n in range(parties)]
    with ThreadPoolExecutor(parties) as pool:
        answers = list(pool.map(gateway.invoke, events))
    assert sorted(json.loads(body)["instance"] for _, _, body in answers) == [0, 1, 2]
    barrier = threading.Barrier(1)
    assert gateway.invoke(events[0])[0] == 200
    assert gateway.instances == parties
