"""An unexpected error in a handler reaches Sentry, with the patient's values filtered out."""

from __future__ import annotations

import re

import sentry_sdk

from functions.core.models import Task
from functions.core.observability import init_sentry
from functions.work.submit import Hooks

# The patient's values live here, far from the line that raises, so that they can
# reach an event only through the exception and never through the source lines
# Sentry attaches to each stack frame.
PATIENT_FAMILY, PATIENT_GIVEN, ACCESSION = "Doe", "Jane", "A998877"
FAILURE = f"could not submit: PatientName={PATIENT_FAMILY}^{PATIENT_GIVEN} ACC={ACCESSION}"
FORBIDDEN = re.compile(rf"\b(?:{PATIENT_FAMILY}|{PATIENT_GIVEN}|{ACCESSION})\b")

TASK = "7b2c4d6e-8f01-4a23-b456-789abcdef012"


def test_a_submit_handler_error_reaches_sentry_without_patient_values(seeded_cloud, sentry_ingest):
    failures: list[str] = []

    def fail_unexpectedly(task_id: str) -> None:
        failures.append(task_id)
        raise RuntimeError(FAILURE)

    dsn = sentry_ingest.dsn
    assert init_sentry(dsn, component="submit", environment="test")
    cloud, upload = seeded_cloud(poll=False, hooks=Hooks(before_submit_job=fail_unexpectedly))
    upload.task("alice", TASK)

    while not failures and cloud.pollers["submit"].poll_once():
        pass
    assert failures == [TASK]
    sentry_sdk.flush(timeout=10)

    assert sentry_ingest.received.wait(timeout=10), "no envelope reached the ingest endpoint"
    for _, body in sentry_ingest.bodies:
        text = body.decode("utf-8")
        assert not FORBIDDEN.search(text), f"a patient value leaked: {FORBIDDEN.search(text)}"
    errors = [
        value
        for event in sentry_ingest.events()
        for value in event.get("exception", {}).get("values", [])
        if value.get("type") == "RuntimeError"
    ]
    assert errors, "the handler's error is not among the events"
    assert errors[0]["value"].startswith("could not submit: PatientName=[Filtered]")
    event = next(e for e in sentry_ingest.events() if "exception" in e)
    assert event["tags"]["component"] == "submit"
    assert event["environment"] == "test"
    # The failed delivery is left for a retry; the task waits, unharmed.
    assert Task.get(TASK, consistent_read=True).status == "UPLOADING"
