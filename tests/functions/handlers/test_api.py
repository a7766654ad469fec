"""Every v1 endpoint over HTTP through the local gateway, signed as the Yarra client signs.

alice and bob are users of site-a (demo_fft enabled), carol of site-b (no modes).
"""

from __future__ import annotations

import json
import sys

import pytest

from functions.core.destinations import Destination
from functions.core.models import Site, Task
from functions.work.api.openapi import DOCUMENT
from scripts.local_cloud.api_client import send
from tests.helpers.cloud import drain, jobs_of, usage_of

TASK = "c0ffee00-1234-4abc-8def-0123456789ab"
OTHER = "decade00-1234-4abc-8def-0123456789ab"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def submit_body(task_id: str = TASK, mode: str = "demo_fft") -> dict:
    return {"name": task_id, "task_file_name": f"{task_id}.task", "recon_mode": mode}


# -- user_status -------------------------------------------------------------------------


def test_user_status_tells_where_to_upload(api_cloud):
    cloud, users, _, _ = api_cloud(poll=False)
    answer = users["alice"].post("user_status")
    assert answer.status == 200
    assert answer.body == {
        "can_submit_jobs": True,
        "username": "alice",
        "in_bucket": cloud.settings.in_bucket,
        "out_bucket": cloud.settings.out_bucket,
        "region": cloud.region,
    }


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"suspended": True}, "suspended"),
        ({"billing_mode": "stripe"}, "no valid payment method"),
    ],
)
def test_user_status_says_why_submission_is_blocked(api_cloud, change, reason):
    _, users, upload, _ = api_cloud(poll=False)
    site = Site.get("site-a")
    site.update(actions=[getattr(Site, k).set(v) for k, v in change.items()])
    answer = users["alice"].post("user_status")
    assert answer.body["can_submit_jobs"] is False
    assert reason in answer.body["reason"]
    upload.task("alice", TASK)
    refused = users["alice"].post("job_submit", submit_body())
    assert refused.status == 400 and reason in refused.body["message"]
    assert jobs_of_task_count(TASK) == 0


# -- modes -------------------------------------------------------------------------------


def test_modes_lists_the_sites_enabled_modes_as_text(api_cloud):
    _, users, _, admin = api_cloud(poll=False)
    admin.publish_mode(
        "grasp", {"Name": "GRASP", "Tag": "radial", "ParamDefault": 16, "ParamMax": 64}
    )
    answer = users["alice"].post("modes")
    assert answer.status == 200
    [mode] = answer.body
    assert mode["Name"] == "demo_fft"
    config = mode["ClientConfig"]
    assert set(config) == {
        "Name",
        "Tag",
        "MinimumSizeMB",
        "ParamLabel",
        "ParamDescription",
        "ParamDefault",
        "ParamMin",
        "ParamMax",
        "ParamIsFloat",
    }
    assert all(isinstance(value, str) for value in config.values())
    assert config["Name"] == "Demo FFT" and config["ParamIsFloat"] == "false"
    assert users["carol"].post("modes").body == []


# -- job_submit --------------------------------------------------------------------------


def test_job_submit_before_the_event_submits_once(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    answer = users["alice"].post("job_submit", submit_body())
    assert answer.status == 200 and answer.body["status"] == "SUBMITTED"
    drain(cloud)  # the S3 events arrive after the API call
    assert [j["jobId"] for j in jobs_of(cloud, TASK)] == [answer.body["id"]]
    again = users["alice"].post("job_submit", submit_body())
    assert again.status == 200 and again.body["id"] == answer.body["id"]


def test_job_submit_after_the_event_answers_the_same_job(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    job_id = Task.get(TASK).job_id
    answer = users["alice"].post("job_submit", submit_body())
    assert answer.status == 200 and answer.body["id"] == job_id
    assert len(jobs_of(cloud, TASK)) == 1


def test_job_submit_of_a_bad_task_file_fails_it_with_the_reason(api_cloud):
    _, users, upload, _ = api_cloud(poll=False)
    upload.raw("alice", TASK)
    upload.task_file("alice", TASK, "not an INI file")
    answer = users["alice"].post("job_submit", submit_body())
    assert answer.status == 400 and "not a valid INI task file" in answer.body["message"]
    assert Task.get(TASK).status == "FAILED"


# -- jobs --------------------------------------------------------------------------------


def test_jobs_answers_the_callers_own_tasks(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    upload.task("bob", OTHER)
    drain(cloud)
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = users["alice"].post("jobs", [TASK, OTHER, unknown])
    assert answer.status == 200
    assert list(answer.body) == [TASK]
    entry = answer.body[TASK]
    assert entry["batch_info"] == {"status": "SUBMITTED"}
    assert entry["cost"] == 0 and isinstance(entry["cost"], (int, float))
    assert entry["id"] == Task.get(TASK).job_id and isinstance(entry["id"], str)
    assert users["carol"].post("jobs", [TASK, OTHER]).body == {}


def test_jobs_reports_cost_as_a_number_once_finished(api_cloud):
    cloud, users, upload, _ = api_cloud()
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    entry = users["alice"].post("jobs", [TASK]).body[TASK]
    assert entry["batch_info"]["status"] == "SUCCEEDED"
    assert entry["cost"] == pytest.approx(task.cost_micros / 1e6)


# -- mode_destinations -------------------------------------------------------------------


def test_mode_destinations_as_the_yarra_client_reads_them(api_cloud):
    _, users, _, admin = api_cloud(poll=False)
    admin.add_destination(
        "site-a", Destination("pacs", "PACS", ip="10.0.0.5", port=11112, aet="YARRA", aec="PACS")
    )
    admin.add_destination("site-a", Destination("share", "smb", location="/mnt/recon"))
    admin.publish_mode("other", {"Name": "Other"})
    admin.add_destination(
        "site-a", Destination("other-only", "smb", location="/x", modes=("other",))
    )
    answer = users["alice"].post("mode_destinations", {"recon_mode": "demo_fft"})
    assert answer.status == 200
    assert answer.body == [
        {
            "method": "PACS",
            "name": "pacs",
            "ip": "10.0.0.5",
            "port": "11112",
            "aet": "YARRA",
            "aec": "PACS",
        },
        {"method": "smb", "name": "share", "location": "/mnt/recon"},
    ]
    assert users["carol"].post("mode_destinations", {"recon_mode": "demo_fft"}).status == 400


# -- job_status, job_delivered, job_cancel -------------------------------------------------


def test_job_status_delivered_and_cancel(api_cloud):
    cloud, users, upload, _ = api_cloud()
    upload.task("alice", TASK)
    cloud.wait_for_task(TASK, {"SUCCEEDED"})
    status = users["alice"].post("job_status", {"name": TASK})
    assert status.status == 200
    assert status.body["status"] == "SUCCEEDED" and status.body["error"] == ""
    assert {"UPLOADING", "SUBMITTED", "RUNNING", "SUCCEEDED"} <= set(status.body["status_times"])
    assert users["alice"].post("job_cancel", {"name": TASK}).status == 409
    delivered = users["alice"].post("job_delivered", {"name": TASK})
    assert delivered.status == 200 and Task.get(TASK).status == "DELIVERED"
    assert Task.get(TASK).site_status == "site-a#DELIVERED"
    assert users["alice"].post("job_delivered", {"name": TASK}).status == 200


def test_job_delivered_before_success_is_refused(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    answer = users["alice"].post("job_delivered", {"name": TASK})
    assert answer.status == 409 and "SUBMITTED" in answer.body["message"]
    assert Task.get(TASK).status == "SUBMITTED"


def test_job_cancel_stops_a_running_job(api_cloud):
    cloud, users, upload, _ = api_cloud(worker_command=SLEEPER)
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"RUNNING"})
    answer = users["alice"].post("job_cancel", {"name": TASK})
    assert answer.status == 200 and Task.get(TASK).status == "CANCELED"
    job = cloud.batch.wait_for(task.job_id, {"FAILED"}, timeout=30)
    assert "Canceled by alice" in job["statusReason"]
    cloud.wait_until(lambda: usage_of(TASK), 30, "the canceled job's usage")
    assert Task.get(TASK).status == "CANCELED"
    assert Task.get(TASK).site_status == "site-a#CANCELED"


def test_job_cancel_of_an_upload(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.raw("alice", TASK)
    drain(cloud)
    assert users["alice"].post("job_cancel", {"name": TASK}).status == 200
    assert Task.get(TASK).status == "CANCELED"


# -- isolation ---------------------------------------------------------------------------


def intrude(client, endpoint: str):
    if endpoint == "jobs":
        return client.post("jobs", [TASK])
    if endpoint == "job_submit":
        return client.post("job_submit", submit_body())
    return client.post(endpoint, {"name": TASK})


@pytest.mark.parametrize("intruder", ["bob", "carol"])
@pytest.mark.parametrize(
    "endpoint", ["jobs", "job_submit", "job_status", "job_cancel", "job_delivered"]
)
def test_another_users_task_answers_as_if_it_did_not_exist(api_cloud, intruder, endpoint):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    drain(cloud)
    before = Task.get(TASK).serialize()
    answer = intrude(users[intruder], endpoint)
    if endpoint == "jobs":
        assert answer.status == 200 and answer.body == {}
    elif endpoint == "job_submit":
        # bob has no task file under his own prefix; carol's site has no such mode
        assert answer.status == 400 and "alice" not in answer.body["message"]
    else:
        missing = users["alice"].post(endpoint, {"name": OTHER})
        assert answer.status == missing.status == 404
        assert answer.body["message"].replace(TASK, OTHER) == missing.body["message"]
    assert Task.get(TASK).serialize() == before
    assert len(jobs_of(cloud, TASK)) == 1


# -- bad requests ------------------------------------------------------------------------


def raw_post(client, endpoint: str, data: bytes):
    return send(client.signed(endpoint, data))


@pytest.mark.parametrize(
    "endpoint,data,status",
    [
        ("job_submit", b"{not json", 400),
        (
            "job_submit",
            json.dumps({"name": 5, "task_file_name": [], "recon_mode": {}}).encode(),
            422,
        ),
        ("job_submit", json.dumps(submit_body(mode="no_such_mode")).encode(), 400),
        ("job_submit", json.dumps(submit_body(task_id="not-a-uuid")).encode(), 400),
        ("job_submit", json.dumps(submit_body(task_id=OTHER)).encode(), 400),
        ("jobs", json.dumps({"names": TASK}).encode(), 422),
        ("jobs", json.dumps(["not-a-uuid"]).encode(), 400),
        ("job_status", json.dumps({"name": "x"}).encode(), 400),
        ("mode_destinations", json.dumps({"recon_mode": "no_such_mode"}).encode(), 400),
    ],
    ids=[
        "malformed-json",
        "wrong-types",
        "unknown-mode",
        "not-a-uuid",
        "task-file-missing",
        "jobs-not-a-list",
        "jobs-not-uuids",
        "status-not-uuid",
        "destinations-unknown-mode",
    ],
)
def test_a_bad_request_gets_a_4xx_with_a_message_and_changes_nothing(
    api_cloud, endpoint, data, status
):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    before = len(list(Task.scan()))
    answer = raw_post(users["alice"], endpoint, data)
    assert answer.status == status, answer.body
    assert answer.body.get("message") or answer.body.get("detail")
    assert len(list(Task.scan())) == before
    assert jobs_of(cloud, TASK) == [] and jobs_of(cloud, OTHER) == []


def test_a_10_mb_body_is_refused(api_cloud):
    _, users, _, _ = api_cloud(poll=False)
    answer = raw_post(users["alice"], "jobs", b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert answer.status == 413 and answer.body["message"]


def test_a_replayed_request_from_20_minutes_ago_is_refused(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    request = users["alice"].signed("job_submit", json.dumps(submit_body()).encode())
    signed_at = cloud.api.clock()
    cloud.api.clock = lambda: signed_at + 20 * 60
    answer = send(request)
    assert answer.status == 403 and "Signature expired" in answer.body["message"]
    assert jobs_of(cloud, TASK) == []


def test_a_tampered_body_is_refused(api_cloud):
    cloud, users, upload, _ = api_cloud(poll=False)
    upload.task("alice", TASK)
    request = users["alice"].signed("job_submit", json.dumps(submit_body()).encode())
    tampered = json.dumps(submit_body(task_id=OTHER)).encode()
    answer = send(request, data=tampered)
    assert answer.status == 403 and "signature" in answer.body["message"]
    assert jobs_of(cloud, TASK) == []


def test_a_revoked_key_is_refused_at_once(api_cloud):
    _, users, _, admin = api_cloud(poll=False)
    assert users["alice"].post("user_status").status == 200
    admin.revoke_key(users["alice"].access_key_id)
    answer = users["alice"].post("user_status")
    assert answer.status == 403 and "security token" in answer.body["message"]


# -- the OpenAPI document ----------------------------------------------------------------


def test_the_served_openapi_document_is_the_committed_one(api_cloud):
    _, users, _, _ = api_cloud(poll=False)
    answer = users["alice"].get("openapi.json")
    assert answer.status == 200
    assert answer.body == json.loads(DOCUMENT.read_text())


def jobs_of_task_count(task_id: str) -> int:
    try:
        return 1 if Task.get(task_id).job_id else 0
    except Task.DoesNotExist:
        return 0
