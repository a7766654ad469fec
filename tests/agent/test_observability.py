"""The agent's Sentry reports: nothing the site knows of a patient reaches the ingest server."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sentry_sdk

from agent.api import CloudApi
from agent.observability import (
    forget_identities,
    init_sentry,
    redact_text,
    register_identity,
    scrub_breadcrumb,
    scrub_event,
)
from agent.ort import OrtFolders
from agent.phi import PhiFile
from agent.pipeline import AgentContext, TaskPipeline
from contracts.phi_redaction import FILTERED
from tests.agent.site import export_task
from tests.helpers.sentry import IngestServer

# Patient values, kept far from the lines that raise and capture so that they reach an
# event only through the data paths under test, never through the source context.
NAME = "Mustermann^Erika"
SPELLINGS = (
    "Mustermann^Erika",
    "MUSTERMANN^ERIKA",
    "Erika Mustermann",
    "Mustermann, Erika",
    "mustermann erika",
)
BIRTH_DATE = "19610314"
BIRTH_SPELLINGS = ("19610314", "1961-03-14", "14.03.1961", "14/03/1961", "03/14/1961")
MRN = "QZ7731904"
FORBIDDEN = (
    "Mustermann",
    "MUSTERMANN",
    "mustermann",
    "Erika",
    "ERIKA",
    *BIRTH_SPELLINGS,
    MRN,
    MRN.lower(),
)
TASK = "6f1c0c0e-4b1d-4c2a-9e3f-0123456789ab"
FAILURE = (
    f"header field could not be parsed: {' / '.join(SPELLINGS)}, born"
    f" {' or '.join(BIRTH_SPELLINGS)}, record {MRN}"
)
UNREGISTERED = ("Roe", "Richard", "Q1234567")
UNREGISTERED_TEXT = "no match for Roe^Richard\n[PHI]\nNAME=Richard Roe\nMRN=Q1234567\nMODE=x"
PHI_PATH = f"/data/yarra/cloud/phi/{TASK}.phi"


class PatientHeaderError(Exception):
    """An error of the kind a raw-data library raises, quoting what it choked on."""


@pytest.fixture
def identities() -> Iterator[None]:
    forget_identities()
    yield
    forget_identities()


def sent_bytes(ingest: IngestServer) -> bytes:
    """Every envelope the ingest server received, once the SDK has sent them."""
    sentry_sdk.flush(timeout=10)
    deadline = time.monotonic() + 10
    while not ingest.bodies and time.monotonic() < deadline:
        ingest.received.wait(0.1)
    assert ingest.bodies, "the ingest server received nothing"
    return b"".join(body for _, body in ingest.bodies)


def assert_absent(data: bytes, values: tuple[str, ...]) -> None:
    for value in values:
        assert value.encode() not in data, f"a patient value ({len(value)} chars) was sent"


def parse_header(patient: str, birth_date: str, record: str) -> None:
    raise PatientHeaderError(FAILURE)


# -- through a real Sentry client to a loopback ingest server ---------------------------


def test_exception_with_registered_identity_is_scrubbed(
    sentry_ingest: IngestServer, identities: None
) -> None:
    init_sentry(sentry_ingest.dsn)
    register_identity([NAME, BIRTH_DATE, MRN])
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("task_id", TASK)
        try:
            parse_header(SPELLINGS[1], BIRTH_SPELLINGS[2], MRN)
        except PatientHeaderError as error:
            sentry_sdk.capture_exception(error)

    data = sent_bytes(sentry_ingest)
    assert_absent(data, FORBIDDEN)
    (event,) = sentry_ingest.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "PatientHeaderError"
    assert exception["value"].startswith("header field could not be parsed: [Filtered]")
    assert event["tags"]["task_id"] == TASK
    assert event["tags"]["component"] == "agent"
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_logged_error_carries_task_tag_and_no_identity(
    sentry_ingest: IngestServer, identities: None
) -> None:
    init_sentry(sentry_ingest.dsn)
    register_identity([NAME, BIRTH_DATE, MRN])
    log = logging.LoggerAdapter(logging.getLogger("yarracloud.agent.test"), {"task_id": TASK})
    log.warning("reading %s for %s", PHI_PATH, SPELLINGS[2])
    log.error("step deliver failed: %s", FAILURE)

    data = sent_bytes(sentry_ingest)
    assert_absent(data, FORBIDDEN)
    assert b"/data/yarra" not in data
    (event,) = sentry_ingest.events()
    assert event["tags"]["task_id"] == TASK
    (crumb,) = [
        c for c in event["breadcrumbs"]["values"] if c.get("category") == "yarracloud.agent.test"
    ]
    assert crumb["message"] == f"reading cloud/phi/{TASK}.phi for {FILTERED}"


def test_unregistered_person_name_and_phi_keys_are_redacted(
    sentry_ingest: IngestServer, identities: None
) -> None:
    init_sentry(sentry_ingest.dsn)
    sentry_sdk.capture_message(UNREGISTERED_TEXT)

    data = sent_bytes(sentry_ingest)
    assert_absent(data, UNREGISTERED)
    (event,) = sentry_ingest.events()
    assert event["message"] == (
        f"no match for {FILTERED}\n[PHI]\nNAME={FILTERED}\nMRN={FILTERED}\nMODE=x"
    )


def test_without_dsn_nothing_is_started(sentry_reset: None) -> None:
    init_sentry("")
    assert not sentry_sdk.get_client().is_active()


# -- the scrubbing rules ----------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS + BIRTH_SPELLINGS + (MRN, MRN.lower()))
def test_every_spelling_of_a_registered_value_is_redacted(identities: None, spelling: str) -> None:
    register_identity([NAME, BIRTH_DATE, MRN])
    assert redact_text(f"value <{spelling}> seen") == f"value <{FILTERED}> seen"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[PHI]\nNAME=Doe^John\nDOB=1970-01-01", f"[PHI]\nNAME={FILTERED}\nDOB={FILTERED}"),
        ("ACC: A12345 MODE=x", f"ACC: {FILTERED}"),
        ('sPatient.tPatientName = "Doe"  # x', f'sPatient.tPatientName = "{FILTERED}"  # x'),
        ("{'PatientID': 'X1', 'task': 'y'}", f"{{'PatientID': '{FILTERED}', 'task': 'y'}}"),
        (
            '<ParamString."PatientName">  { "Doe^John"  }',
            f'<ParamString."PatientName">  {{ "{FILTERED}"  }}',
        ),
        (
            '<ParamString."tReferringPhysician"> \n{ \n  "Who^Dr"\n}',
            f'<ParamString."tReferringPhysician"> \n{{ \n  "{FILTERED}"\n}}',
        ),
        ("seen O'Brien^Anne^^Dr today", f"seen {FILTERED} today"),
        (rf"C:\Yarra\cloud\phi_archive\{TASK}.phi moved", f"cloud/phi_archive/{TASK}.phi moved"),
        ("/srv/ort/cloud/phi/Smith_John.phi", f"cloud/phi/{FILTERED}"),
        (f"task {TASK} waits for the PACS", f"task {TASK} waits for the PACS"),
        ("upload failed (errno 28): No space left", "upload failed (errno 28): No space left"),
    ],
)
def test_generic_patterns(identities: None, text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected


def test_short_values_only_as_words(identities: None) -> None:
    register_identity(["Wu^Li"])
    assert redact_text("Dr Wu saw Li; Wuppertal, Lima") == (
        f"Dr {FILTERED} saw {FILTERED}; Wuppertal, Lima"
    )


def test_event_drops_locals_user_request_body_and_crumb_data(identities: None) -> None:
    register_identity([MRN])
    event = {
        "event_id": "0" * 32,
        "user": {"id": MRN},
        "request": {"url": f"https://x/y?id={MRN}", "data": MRN, "method": "GET"},
        "exception": {
            "values": [{"type": "E", "value": MRN, "stacktrace": {"frames": [{"vars": {}}]}}]
        },
        "breadcrumbs": {"values": [{"message": "m", "data": {"body": MRN, "method": "PUT"}}]},
        "extra": {"task_id": TASK, "note": MRN},
        "contexts": {"x": {"y": [MRN]}},
        "logentry": {"message": "NAME=%s", "params": ["Doe"], "formatted": "NAME=Doe"},
    }
    scrubbed = scrub_event(event, None)
    assert MRN not in repr(scrubbed) and "Doe" not in repr(scrubbed)
    assert "user" not in scrubbed
    assert scrubbed["request"] == {"url": "https://x/y", "method": "GET"}
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"] == [{}]
    assert scrubbed["breadcrumbs"]["values"][0]["data"] == {"method": "PUT"}
    assert scrubbed["tags"]["task_id"] == TASK
    assert event["user"] == {"id": MRN}
    crumb = scrub_breadcrumb({"message": f"saw {MRN}", "data": {"sql": MRN}}, None)
    assert crumb == {"message": f"saw {FILTERED}", "data": {}}


# -- the pipeline registers a task's values when it loads its .phi ----------------------


def test_pipeline_registers_the_task_identity(tmp_path: Path, identities: None) -> None:
    base = tmp_path / "ort"
    OrtFolders(base)
    task, patient, site = export_task(base, seed=11)
    api = CloudApi("http://127.0.0.1:9", "AKIDEXAMPLE", "secret", "eu-central-1")
    context = AgentContext(base=base, api=api, s3=None)
    pipeline = TaskPipeline(context, task)
    context.stopping = lambda: pipeline.journal.is_done("deidentify")

    assert pipeline.run().state == "stopped"

    phi = PhiFile.load(OrtFolders(base).phi_file(task))
    last, first = patient.name.split("^")
    birth = patient.birth_date
    values = [
        patient.name,
        f"{first} {last}",
        f"{last}, {first}".upper(),
        patient.patient_id,
        f"{birth[6:]}.{birth[4:6]}.{birth[:4]}",
        site.institution,
        site.serial_number,
        *phi.replaced().values(),
    ]
    for value in filter(None, values):
        assert redact_text(f"<{value}>") == f"<{FILTERED}>"
    assert redact_text(f"task {task}") == f"task {task}"
