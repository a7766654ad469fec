"""An unexpected error in a handler reaches Sentry, with the patient's values filtered out."""

from __future__ import annotations

import gzip
import json
import re
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope

from functions.core.models import Task
from functions.core.observability import init_sentry
from functions.submission import Hooks

# The patient's values live here, far from the line that raises, so that they can
# reach an event only through the exception and never through the source lines
# Sentry attaches to each stack frame.
PATIENT_FAMILY, PATIENT_GIVEN, ACCESSION = "Doe", "Jane", "A998877"
FAILURE = f"could not submit: PatientName={PATIENT_FAMILY}^{PATIENT_GIVEN} ACC={ACCESSION}"
FORBIDDEN = re.compile(rf"\b(?:{PATIENT_FAMILY}|{PATIENT_GIVEN}|{ACCESSION})\b")

TASK = "7b2c4d6e-8f01-4a23-b456-789abcdef012"


class IngestServer(ThreadingHTTPServer):
    """Records envelope bodies as a Sentry ingest endpoint receives them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), IngestHandler)
        self.bodies: list[bytes] = []
        self.received = threading.Event()


class IngestHandler(BaseHTTPRequestHandler):
    server: IngestServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.bodies.append(body)
        self.server.received.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _sentry_off() -> None:
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    sentry_sdk.get_global_scope().remove_tag("component")


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestServer]:
    """A Sentry ingest endpoint on loopback; no Sentry client before or after the test."""
    # A proxy from the environment would take the SDK's request off 127.0.0.1.
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    _sentry_off()
    server = IngestServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    _sentry_off()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def events_in(bodies: list[bytes]) -> list[dict[str, Any]]:
    events = []
    for body in bodies:
        for item in Envelope.deserialize(body).items:
            if item.headers.get("type") == "event":
                payload = item.payload.json
                events.append(payload if payload is not None else json.loads(item.payload.bytes))
    return events


def test_a_submit_handler_error_reaches_sentry_without_patient_values(seeded_cloud, ingest):
    failures: list[str] = []

    def fail_unexpectedly(task_id: str) -> None:
        failures.append(task_id)
        raise RuntimeError(FAILURE)

    dsn = f"http://public@127.0.0.1:{ingest.server_address[1]}/1"
    assert init_sentry(dsn, component="submit", environment="test")
    cloud, upload = seeded_cloud(poll=False, hooks=Hooks(before_submit_job=fail_unexpectedly))
    upload.task("alice", TASK)

    while not failures and cloud.pollers["submit"].poll_once():
        pass
    assert failures == [TASK]
    sentry_sdk.flush(timeout=10)

    assert ingest.received.wait(timeout=10), "no envelope reached the ingest endpoint"
    for body in ingest.bodies:
        text = body.decode("utf-8")
        assert not FORBIDDEN.search(text), f"a patient value leaked: {FORBIDDEN.search(text)}"
    errors = [
        value
        for event in events_in(ingest.bodies)
        for value in event.get("exception", {}).get("values", [])
        if value.get("type") == "RuntimeError"
    ]
    assert errors, "the handler's error is not among the events"
    assert errors[0]["value"].startswith("could not submit: PatientName=[Filtered]")
    event = next(e for e in events_in(ingest.bodies) if "exception" in e)
    assert event["tags"]["component"] == "submit"
    assert event["environment"] == "test"
    # The failed delivery is left for a retry; the task waits, unharmed.
    assert Task.get(TASK, consistent_read=True).status == "UPLOADING"
