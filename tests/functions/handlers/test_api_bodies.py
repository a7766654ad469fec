"""The API reads its JSON body whatever the content type, and refuses bad bodies briefly.

The Yarra client's own requests go through a real Qt network stack
(``tests/helpers/yarra_qt_client.py`` under Debian's PyQt5), signed as it signs them.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.core.models import Task
from functions.work.api.body import MAX_BODY_BYTES, MAX_DEPTH
from scripts.local_cloud.api_client import Answer, ApiClient, send
from tests.helpers.cloud import jobs_of
from tests.helpers.unavailable import require

TASK = "c0ffee00-1234-4abc-8def-0123456789ab"
QT_CLIENT = Path(__file__).parents[2] / "helpers" / "yarra_qt_client.py"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin") or "/usr/bin/python3"
MOST_REFUSAL_BYTES = 400
"""A refusal quotes at most this much: a message, never the input it refuses."""


def qt_available() -> bool:
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import PyQt5.QtNetwork"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.fixture
def qt() -> None:
    require(
        qt_available(),
        "the Yarra client's Qt network stack needs Debian's python3-pyqt5 in /usr/bin/python3"
        " (apt-get install python3-pyqt5; scripts/test installs it)",
    )


def yarra_requests(client: ApiClient, requests: list[dict[str, Any]]) -> list[Answer]:
    """Send ``[{endpoint, body, headers, unsigned}]`` through Qt, as the Yarra client does."""
    job = {
        "key": client.access_key_id,
        "secret": client.secret_access_key,
        "region": client.region,
        "requests": [
            {
                "url": f"{client.base_url}/v1/{item['endpoint']}",
                "body": item.get("body"),
                "headers": item.get("headers") or {},
                "unsigned": item.get("unsigned") or {},
            }
            for item in requests
        ],
    }
    done = subprocess.run(
        [SYSTEM_PYTHON, str(QT_CLIENT)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers = []
    for item in json.loads(done.stdout):
        try:
            body = json.loads(item["body"]) if item["body"] else None
        except ValueError:
            body = item["body"]
        answers.append(Answer(item["status"], body, item["body"].encode()))
    return answers


def recording_events(cloud) -> list[dict[str, Any]]:
    """The events the api handler receives from now on, as the gateway built them."""
    events: list[dict[str, Any]] = []
    make = cloud.api.make_handler

    def make_recording():
        handler = make()

        def recording(event, context):
            events.append(event)
            return handler(event, context)

        return recording

    cloud.api.make_handler = make_recording
    return events


def yarra_body(endpoint: str) -> str | None:
    """The body the Yarra client builds for ``endpoint`` (its own spacing, by hand), and
    for our own endpoints the same way."""
    return {
        "user_status": None,
        "modes": None,
        "job_submit": (
            f'{{"name":"{TASK}", "task_file_name": "{TASK}.task", "recon_mode":"demo_fft"}}'
        ),
        "jobs": f'["{TASK}"]',
        "mode_destinations": '{ "recon_mode": "demo_fft" }',
        "job_status": f'{{"name": "{TASK}"}}',
        "job_delivered": f'{{"name": "{TASK}"}}',
        "job_cancel": f'{{"name": "{TASK}"}}',
    }[endpoint]


ENDPOINTS = ["user_status", "modes", "job_submit", "jobs", "mode_destinations", "job_status"]
"""The Yarra client's endpoints."""
ALL_ENDPOINTS = [*ENDPOINTS, "job_delivered", "job_cancel"]


@pytest.mark.usefixtures("qt")
@pytest.mark.parametrize(
    "signed,unsigned",
    [
        ({}, {}),
        ({}, {"Content-Type": "application/x-www-form-urlencoded"}),
        ({"Content-Type": "text/plain"}, {}),
        ({"Content-Type": "application/json"}, {}),
    ],
    ids=["qt-default", "form-unsigned", "text-plain", "json"],
)
def test_the_yarra_client_over_qt_is_answered_by_every_endpoint(api_cloud, signed, unsigned):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    events = recording_events(cloud)
    answers = yarra_requests(
        users["alice"],
        [
            {"endpoint": e, "body": yarra_body(e), "headers": signed, "unsigned": unsigned}
            for e in ALL_ENDPOINTS
        ],
    )
    by_endpoint = dict(zip(ALL_ENDPOINTS, answers, strict=True))
    delivered = by_endpoint.pop("job_delivered")
    assert all(answer.status == 200 for answer in by_endpoint.values()), answers
    assert by_endpoint["user_status"].body["username"] == "alice"
    assert [m["Name"] for m in by_endpoint["modes"].body] == ["demo_fft"]
    submitted = by_endpoint["job_submit"].body
    assert submitted["status"] == "SUBMITTED"
    assert [job["jobId"] for job in jobs_of(cloud, TASK)] == [submitted["id"]]
    assert by_endpoint["jobs"].body[TASK]["batch_info"] == {"status": "SUBMITTED"}
    assert by_endpoint["mode_destinations"].body == []
    assert by_endpoint["job_status"].body["status"] == "SUBMITTED"
    assert delivered.status == 409 and "only a task whose" in delivered.body["message"]
    assert by_endpoint["job_cancel"].body == {"name": TASK, "status": "CANCELED"}
    # What arrived is what Qt sent: its user agent, Yarra's signed headers, Qt's content type.
    sent = [event["headers"] for event in events]
    assert all(h["User-Agent"] == "Qt" for h in sent)
    content_type = {**signed, **unsigned}.get("Content-Type")
    assert {h.get("Content-Type") for h in sent} == {content_type}
    names = {h["Authorization"].split("SignedHeaders=")[1].split(",")[0] for h in sent}
    yarra_signs = "host;user-agent;x-amz-content-sha256;x-amz-date"
    assert names == {f"content-type;{yarra_signs}" if signed else yarra_signs}


def signed_with(client: ApiClient, endpoint: str, data: bytes, headers: dict[str, str]):
    request = AWSRequest(
        method="POST", url=f"{client.base_url}/v1/{endpoint}", data=data, headers=headers
    )
    credentials = Credentials(client.access_key_id, client.secret_access_key)
    SigV4Auth(credentials, "execute-api", client.region).add_auth(request)
    return request


# -- bad bodies ----------------------------------------------------------------------------


BIG_FIELD = json.dumps({"name": "x" * (9 * 1024 * 1024)}).encode()


@pytest.mark.parametrize(
    "data,says",
    [
        (b'{"name": "\xff\xfe"}', "not UTF-8"),
        (b"{not json", "not JSON"),
        (b'{"name": "' + "\u00e9".encode() + b'"', "not JSON"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "deeper than"),
        (b"[" * 200_000, "deeper than"),
        (json.dumps(["x" * MAX_BODY_BYTES]).encode(), "at most"),
        (BIG_FIELD, "at most"),
    ],
    ids=["not-utf8", "not-json", "unterminated", "too-deep", "very-deep", "too-big", "9-mb-field"],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_a_bad_body_gets_a_short_400_and_changes_nothing(api_cloud, data, says, content_type):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    before = list(Task.scan())
    headers = {"Content-Type": content_type}
    answer = send(signed_with(users["alice"], "job_submit", data, headers))
    assert answer.status == 400, answer.raw[:300]
    assert says in answer.body["message"]
    assert len(answer.raw) <= MOST_REFUSAL_BYTES
    assert list(Task.scan()) == before and jobs_of(cloud, TASK) == []


@pytest.mark.parametrize(
    "endpoint,body",
    [
        ("job_status", {"name": "y" * 100_000}),
        ("mode_destinations", {"recon_mode": "z" * 100_000}),
        ("jobs", ["w" * 100_000]),
        ("job_submit", {"name": TASK, "task_file_name": "v" * 100_000, "recon_mode": "demo_fft"}),
        ("job_submit", {"name": ["u" * 100_000], "task_file_name": 1}),
    ],
    ids=["status", "destinations", "jobs", "task-file-name", "wrong-types"],
)
def test_a_refusal_never_echoes_a_long_field(api_cloud, endpoint, body):
    _, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    answer = users["alice"].post(endpoint, body)
    assert 400 <= answer.status < 500
    assert answer.body["message"]
    assert len(answer.raw) <= MOST_REFUSAL_BYTES, answer.raw[:500]


# -- fuzzing -------------------------------------------------------------------------------


FIELDS = ["name", "task_file_name", "recon_mode", "names"]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/xml",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "float", "text", "uuid", "task", "long"]
    if depth < 4:
        kinds += ["list", "object"] * 2
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 2**63, -(2**80), rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e-320, float(rng.random())])
    if kind == "text":
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 20)))
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "task":
        return rng.choice([TASK, f"{TASK}.task", "demo_fft", "", " ", "../x"])
    if kind == "long":
        return rng.choice("ab\u00e9\U0001f600") * rng.randint(200, 5000)
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [*FIELDS, "", "x", "\x00"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def random_body(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.6:
        return json.dumps(random_value(rng), allow_nan=False).encode()
    if kind < 0.75:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    if kind < 0.85:
        text = json.dumps(random_value(rng))
        return text[: rng.randint(0, len(text))].encode()
    if kind < 0.95:
        return b"name=" + str(uuid.UUID(int=rng.getrandbits(128))).encode() + b"&recon_mode=x"
    return b""


def test_no_fuzzed_request_gets_a_5xx_or_a_long_refusal(api_cloud):
    _cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    rng = random.Random(19)
    failures = []
    for _ in range(300):
        endpoint = rng.choice(ALL_ENDPOINTS)
        data = random_body(rng)
        content_type = rng.choice(CONTENT_TYPES)
        headers = {"Content-Type": content_type} if content_type else {}
        answer = send(signed_with(users["alice"], endpoint, data, headers))
        long_refusal = answer.status >= 400 and len(answer.raw) > MOST_REFUSAL_BYTES
        if answer.status >= 500 or long_refusal:
            failures.append((endpoint, content_type, data[:80], answer.status, answer.raw[:200]))
    assert failures == [], failures[:8]
