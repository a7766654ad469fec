"""Errors in the portal reach Sentry through the Flask integration, without PHI."""

from __future__ import annotations

import sentry_sdk

from portal_flask import create_app

PATIENT = "Doe^Jane"


def test_an_unexpected_error_is_reported_scrubbed_and_the_person_sees_a_plain_page(
    portal_config, sentry_ingest
):
    app = create_app(portal_config.with_(sentry_dsn=sentry_ingest.dsn))

    def broken():
        raise RuntimeError(f"could not parse the task file: PatientName={PATIENT}")

    app.add_url_rule("/broken", "broken", broken)
    response = app.test_client().get("/broken?PatientName=" + PATIENT)
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert "Traceback" not in page and PATIENT not in page

    sentry_sdk.flush(timeout=10)
    assert sentry_ingest.received.wait(timeout=10)
    (event,) = sentry_ingest.events()
    assert "flask" in event["sdk"]["integrations"]
    assert event["tags"]["component"] == "portal"
    assert event["request"]["url"].endswith("/broken")
    (exception,) = event["exception"]["values"]
    assert exception["value"] == "could not parse the task file: PatientName=[Filtered]"
    for _, body in sentry_ingest.bodies:
        assert b"Doe" not in body and b"Jane" not in body
