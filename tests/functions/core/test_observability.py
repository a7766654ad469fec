"""PHI redaction rules (contracts.phi_redaction), the backend's Sentry set-up and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from contracts.phi_redaction import FILTERED, redact_text
from functions.core.observability import (
    JsonFormatter,
    configure_logging,
    init_sentry,
    scrub_breadcrumb,
    scrub_event,
)
from tests.helpers.sentry import IngestServer

# Patient values used by the Sentry tests. They live here, far from the code
# that raises and captures, so that they can reach an event only through the
# data paths under test and never through the source lines Sentry attaches to
# each stack frame.
PATIENT_FAMILY, PATIENT_GIVEN = "Doe", "Jane"
PATIENT_ID = "12345678"
ACCESSION = "A998877"
FORBIDDEN = (PATIENT_FAMILY, PATIENT_GIVEN, PATIENT_ID, ACCESSION)
TASK_TEXT = (
    "[Task]\n"
    "ReconMode=GraspFast\n"
    f"PatientName={PATIENT_FAMILY}^{PATIENT_GIVEN}\n"
    f"ACC={ACCESSION}\n"
    "ScanFile=meas.dat\n"
)
BREADCRUMB_TEXT = f"read task file: ACC={ACCESSION}"
LOG_TEMPLATE = "task file names PatientName=%s"
LOG_ARG = f"{PATIENT_FAMILY}^{PATIENT_GIVEN}"
EXTRAS = {"PatientID": PATIENT_ID, "task_id": "6f1c0c0e-task"}


def assert_no_phi(text: str) -> None:
    for value in FORBIDDEN:
        assert value not in text, f"{value!r} leaked into {text!r}"


# --------------------------------------------------------------------------
# scrub_event / scrub_breadcrumb on hand-built events
# --------------------------------------------------------------------------


def _raw_event() -> dict[str, Any]:
    return {
        "event_id": "0" * 32,
        "level": "error",
        "message": f"failed: PatientName={LOG_ARG}",
        "logentry": {
            "message": LOG_TEMPLATE,
            "formatted": LOG_TEMPLATE % LOG_ARG,
            "params": [LOG_ARG],
        },
        "exception": {
            "values": [
                {
                    "type": "TaskFileError",
                    "value": f"cannot parse:\n{TASK_TEXT}",
                    "stacktrace": {
                        "frames": [
                            {"function": "parse", "vars": {"text": TASK_TEXT, "who": LOG_ARG}},
                        ]
                    },
                }
            ]
        },
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"x": PATIENT_ID}}]}}]},
        "extra": {"PatientID": PATIENT_ID, "task_id": "t1"},
        "contexts": {"phi": {"MRN": PATIENT_ID}, "task": {"ACC": ACCESSION, "name": LOG_ARG}},
        "tags": {"AccessionNumber": ACCESSION, "component": "worker"},
        "user": {"id": PATIENT_ID, "username": PATIENT_FAMILY},
        "request": {
            "method": "POST",
            "url": f"https://api.example/v1/jobs?ACC={ACCESSION}",
            "query_string": f"ACC={ACCESSION}",
            "data": {"PatientName": LOG_ARG},
            "cookies": {"session": PATIENT_ID},
            "headers": {
                "Authorization": f"AWS4 {PATIENT_ID}",
                "X-Task": f"PatientName={LOG_ARG}",
                "Content-Type": "application/json",
            },
            "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        "breadcrumbs": {
            "values": [
                {"message": BREADCRUMB_TEXT, "data": {"ACC": ACCESSION}},
                {
                    "category": "httplib",
                    "data": {
                        "url": f"https://x.example/a?ACC={ACCESSION}",
                        "http.query": f"id={PATIENT_ID}",
                    },
                },
            ]
        },
    }


def test_scrub_event_removes_phi_from_every_section() -> None:
    raw = _raw_event()
    before = json.dumps(raw)
    event = scrub_event(raw, {})

    assert_no_phi(json.dumps(event))
    assert json.dumps(raw) == before, "the SDK's event must not be modified in place"
    assert "user" not in event
    assert set(event["request"]) == {"method", "url", "headers"}
    assert event["request"]["url"] == "https://api.example/v1/jobs"
    assert event["request"]["headers"] == {
        "X-Task": "PatientName=[Filtered]",
        "Content-Type": "application/json",
    }
    value = event["exception"]["values"][0]
    assert value["type"] == "TaskFileError"
    assert "ReconMode=GraspFast" in value["value"]
    assert "vars" not in value["stacktrace"]["frames"][0]
    assert value["stacktrace"]["frames"][0]["function"] == "parse"
    assert "vars" not in event["threads"]["values"][0]["stacktrace"]["frames"][0]
    assert event["logentry"] == {
        "message": "task file names PatientName=[Filtered]",
        "formatted": "task file names PatientName=[Filtered]",
        "params": [FILTERED],
    }
    assert event["extra"] == {"PatientID": FILTERED, "task_id": "t1"}
    assert event["contexts"] == {"phi": FILTERED, "task": {"ACC": FILTERED, "name": FILTERED}}
    assert event["tags"] == {"AccessionNumber": FILTERED, "component": "worker"}
    crumbs = event["breadcrumbs"]["values"]
    assert crumbs[0]["data"] == {"ACC": FILTERED}
    assert crumbs[1]["data"] == {"url": "https://x.example/a"}


def test_log_params_survive_when_the_template_names_no_identity_field() -> None:
    event = scrub_event(
        {"logentry": {"message": "task %s failed: %s", "params": ["t1", "PatientID=12345678"]}},
        {},
    )
    assert event["logentry"]["params"] == ["t1", "PatientID=[Filtered]"]


def test_scrub_breadcrumb() -> None:
    crumb = {
        "type": "log",
        "message": BREADCRUMB_TEXT,
        "data": {
            "PatientID": PATIENT_ID,
            "url": f"http://h/p?x={PATIENT_ID}",
            "http.fragment": "f",
        },
    }
    assert scrub_breadcrumb(crumb, {}) == {
        "type": "log",
        "message": "read task file: ACC=[Filtered]",
        "data": {"PatientID": FILTERED, "url": "http://h/p"},
    }
    assert crumb["data"]["PatientID"] == PATIENT_ID


# --------------------------------------------------------------------------
# Sentry: in-process transport, then a real HTTP ingest endpoint
# --------------------------------------------------------------------------


class RecordingTransport(Transport):
    """Keeps every envelope the client hands over."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        found = (envelope.get_event() for envelope in self.envelopes)
        return [event for event in found if event is not None]


class CorruptTaskFileError(ValueError):
    pass


def _parse_task_file(text: str) -> None:
    raise CorruptTaskFileError(f"cannot parse the task file:\n{text}")


def test_no_dsn_means_sentry_off(sentry_reset: None) -> None:
    assert init_sentry(None, component="worker", environment="test") is False
    assert init_sentry("", component="worker", environment="test") is False
    assert init_sentry("  ", component="worker", environment="test") is False
    assert not sentry_sdk.get_client().is_active()


def test_init_sentry_sets_safe_options_and_tags_component(sentry_reset: None) -> None:
    transport = RecordingTransport()
    assert init_sentry(
        "http://public@127.0.0.1:9/1",
        component="agent",
        environment="test",
        release="yarracloud@test",
        transport=transport,
    )
    options = sentry_sdk.get_client().options
    assert options["send_default_pii"] is False
    assert options["include_local_variables"] is False
    assert options["max_request_body_size"] == "never"
    assert options["before_send"] is scrub_event
    assert options["before_breadcrumb"] is scrub_breadcrumb

    with sentry_sdk.isolation_scope():
        sentry_sdk.set_user({"id": PATIENT_ID})
        logging.getLogger("yarracloud.test").error(LOG_TEMPLATE, LOG_ARG, extra=EXTRAS)

    (event,) = transport.events()
    assert event["tags"]["component"] == "agent"
    assert event["environment"] == "test"
    assert event["logentry"]["params"] == [FILTERED]
    assert event["extra"]["PatientID"] == FILTERED
    assert "user" not in event
    assert_no_phi(json.dumps(event, default=str))


def test_init_sentry_twice_replaces_the_client(sentry_reset: None) -> None:
    first, second = RecordingTransport(), RecordingTransport()
    dsn = "http://public@127.0.0.1:9/1"
    assert init_sentry(dsn, component="worker", environment="test", transport=first)
    assert init_sentry(dsn, component="worker", environment="test", transport=second)
    sentry_sdk.capture_message("second client")
    assert first.events() == []
    assert [event["message"] for event in second.events()] == ["second client"]


def test_event_reaches_ingest_endpoint_without_phi(sentry_ingest: IngestServer) -> None:
    dsn = sentry_ingest.dsn
    assert init_sentry(dsn, component="worker", environment="test", release="yarracloud@test")

    with sentry_sdk.isolation_scope():
        sentry_sdk.add_breadcrumb(category="task", message=BREADCRUMB_TEXT, data={"ACC": ACCESSION})
        try:
            _parse_task_file(TASK_TEXT)
        except CorruptTaskFileError as exc:
            sentry_sdk.capture_exception(exc, extras=EXTRAS)
    sentry_sdk.flush(timeout=10)

    assert sentry_ingest.received.wait(timeout=10), "no envelope reached the ingest endpoint"
    assert sentry_ingest.bodies
    for path, body in sentry_ingest.bodies:
        assert path == "/api/1/envelope/"
        assert_no_phi(body.decode("utf-8"))
    events = sentry_ingest.events()
    assert len(events) == 1
    (event,) = events
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "CorruptTaskFileError"
    assert "PatientName=[Filtered]" in exception["value"]
    assert "ReconMode=GraspFast" in exception["value"]
    assert event["extra"]["PatientID"] == FILTERED
    assert event["extra"]["task_id"] == EXTRAS["task_id"]
    assert event["tags"]["component"] == "worker"
    crumb = next(c for c in event["breadcrumbs"]["values"] if c.get("category") == "task")
    assert crumb["message"] == "read task file: ACC=[Filtered]"
    assert crumb["data"] == {"ACC": FILTERED}
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_no_dsn_sends_nothing(sentry_ingest: IngestServer) -> None:
    assert init_sentry(None, component="worker", environment="test") is False
    try:
        _parse_task_file(TASK_TEXT)
    except CorruptTaskFileError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.capture_message("nothing should be sent")
    sentry_sdk.flush(timeout=10)
    assert sentry_ingest.bodies == []
    assert not sentry_ingest.received.is_set()


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------


def _record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger("yarracloud.worker").makeRecord(
        "yarracloud.worker", logging.WARNING, __file__, 1, message, args, None, extra=extra
    )
    record.created = 1_700_000_000.25
    return record


def test_json_formatter_writes_one_redacted_object() -> None:
    line = JsonFormatter().format(
        _record("task %s: %s", "t1", TASK_TEXT, task_id="t1", site_id="s1", PatientID=PATIENT_ID)
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry == {
        "time": "2023-11-14T22:13:20.250Z",
        "level": "WARNING",
        "logger": "yarracloud.worker",
        "message": "task t1: " + redact_text(TASK_TEXT),
        "task_id": "t1",
        "site_id": "s1",
        "PatientID": FILTERED,
    }
    assert_no_phi(line)


def test_json_formatter_redacts_tracebacks_and_odd_extras() -> None:
    try:
        _parse_task_file(TASK_TEXT)
    except CorruptTaskFileError:
        exc_info = sys.exc_info()
    record = logging.getLogger("x").makeRecord(
        "x",
        logging.ERROR,
        __file__,
        1,
        "failed",
        (),
        exc_info,
        extra={"level": "not the level", "blob": object(), "detail": {"MRN": PATIENT_ID}},
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR"
    assert "CorruptTaskFileError" in entry["exception"]
    assert "PatientName=[Filtered]" in entry["exception"]
    assert entry["detail"] == {"MRN": FILTERED}
    assert entry["blob"].startswith("<object object")
    assert_no_phi(json.dumps(entry))


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_configure_logging_replaces_only_its_own_handler(root_logger: logging.Logger) -> None:
    other = logging.StreamHandler(io.StringIO())
    root_logger.addHandler(other)
    first, second = io.StringIO(), io.StringIO()

    configure_logging("debug", stream=first)
    configure_logging("INFO", stream=second)
    logging.getLogger("yarracloud.agent").info(
        "delivered PatientName=%s", LOG_ARG, extra={"task_id": "t1", "site_id": "s1"}
    )
    logging.getLogger("yarracloud.agent").debug("below the level")

    assert root_logger.level == logging.INFO
    assert other in root_logger.handlers
    assert first.getvalue() == ""
    (line,) = second.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "delivered PatientName=[Filtered]"
    assert (entry["logger"], entry["level"], entry["task_id"], entry["site_id"]) == (
        "yarracloud.agent",
        "INFO",
        "t1",
        "s1",
    )


def test_configure_logging_rejects_an_unknown_level(root_logger: logging.Logger) -> None:
    handlers = list(root_logger.handlers)
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD")
    assert root_logger.handlers == handlers
