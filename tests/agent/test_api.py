"""The agent's API client against the local API gateway, and the failures it tells apart.

alice and bob are users of site-a (demo_fft enabled), carol of site-b (no modes).
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from agent.api import CloudApi
from agent.errors import CloudError
from scripts.local_cloud.api_client import ApiClient
from tests.helpers.cloud import drain

TASK = "c0ffee00-1234-4abc-8def-0123456789ab"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def agent_api(client: ApiClient, **options) -> CloudApi:
    return CloudApi(
        client.base_url, client.access_key_id, client.secret_access_key, client.region, **options
    )


def test_every_endpoint_a_task_needs(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    api = agent_api(users["alice"])
    status = api.user_status()
    assert status["can_submit_jobs"] is True and status["username"] == "alice"
    assert status["in_bucket"] == cloud.settings.in_bucket
    assert [mode["Name"] for mode in api.modes()] == ["demo_fft"]
    assert api.mode_destinations("demo_fft") == []

    upload.task("alice", TASK)
    submitted = api.job_submit(TASK, f"{TASK}.task", "demo_fft")
    assert submitted["status"] == "SUBMITTED"
    assert api.job_submit(TASK, f"{TASK}.task", "demo_fft")["id"] == submitted["id"]
    drain(cloud)
    jobs = api.jobs([TASK, UNKNOWN])
    assert list(jobs) == [TASK] and jobs[TASK]["id"] == submitted["id"]
    assert api.job_status(TASK)["status"] == jobs[TASK]["batch_info"]["status"]

    with pytest.raises(CloudError) as early:
        api.job_delivered(TASK)
    assert early.value.transient is False
    assert "(409)" in str(early.value) and "SUBMITTED" in str(early.value)

    skew = api.clock_skew_s()
    assert skew is not None and abs(skew) < 5
    assert abs((api.server_time() - datetime.now(UTC)).total_seconds()) < 5


def test_requests_the_api_refuses_are_not_transient_and_carry_its_message(api_cloud):
    _, users, _, admin = api_cloud(poll=False)
    carol = agent_api(users["carol"])
    with pytest.raises(CloudError) as unknown_mode:
        carol.mode_destinations("demo_fft")
    assert unknown_mode.value.transient is False and "(400)" in str(unknown_mode.value)

    with pytest.raises(CloudError) as not_found:
        agent_api(users["alice"]).job_status(UNKNOWN)
    assert not_found.value.transient is False and "(404)" in str(not_found.value)

    alice = users["alice"]
    wrong = CloudApi(alice.base_url, alice.access_key_id, "not-the-secret", alice.region)
    with pytest.raises(CloudError) as bad_secret:
        wrong.user_status()
    assert bad_secret.value.transient is False
    assert "(403)" in str(bad_secret.value) and "signature" in str(bad_secret.value)
    assert "not-the-secret" not in str(bad_secret.value)

    api = agent_api(alice)
    assert api.user_status()["username"] == "alice"
    admin.revoke_key(alice.access_key_id)
    with pytest.raises(CloudError) as revoked:
        api.user_status()
    assert revoked.value.transient is False
    assert "security token" in str(revoked.value) and "new key" in str(revoked.value)
    assert alice.secret_access_key not in str(revoked.value)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_is_transient():
    api = CloudApi(f"http://127.0.0.1:{closed_port()}", "AKIAEXAMPLE", "secret", "us-east-1")
    with pytest.raises(CloudError) as unreachable:
        api.user_status()
    assert unreachable.value.transient is True
    assert "cannot reach the cloud API" in str(unreachable.value)
    assert api.server_time() is None


@contextmanager
def answering(status: int, body: bytes) -> Iterator[str]:
    """An HTTP server on loopback that answers every POST with ``status`` and ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    "status,body,transient,words",
    [
        (502, b'{"message": "Internal server error"}', True, "Internal server error"),
        (503, b"Service Unavailable", True, "Service Unavailable"),
        (429, b'{"message": "Too Many Requests"}', True, "Too Many Requests"),
        (422, b'{"detail": [{"msg": "Field required"}]}', False, "Field required"),
        (200, b"<html>login</html>", False, "not JSON"),
    ],
    ids=["502", "503-text", "429", "422-detail", "html"],
)
def test_answers_are_sorted_into_transient_or_not(status, body, transient, words):
    with answering(status, body) as url:
        api = CloudApi(url, "AKIAEXAMPLE", "secret", "us-east-1")
        with pytest.raises(CloudError) as failed:
            api.modes()
    assert failed.value.transient is transient
    assert words in str(failed.value)
    assert api.server_time() is not None


def test_a_server_that_never_answers_times_out_as_transient():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        api = CloudApi(
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            "AKIAEXAMPLE",
            "secret",
            "us-east-1",
            timeout_s=0.3,
        )
        with pytest.raises(CloudError) as failed:
            api.jobs([TASK])
    assert failed.value.transient is True and "no answer within 0.3 s" in str(failed.value)


def test_the_scripts_client_signs_with_the_agents_signing(api_cloud):
    _, users, _, _ = api_cloud(poll=False)
    answer = users["bob"].post("user_status")
    assert answer.status == 200 and answer.body["username"] == "bob"
    assert users["bob"].post("modes").body[0]["Name"] == "demo_fft"
