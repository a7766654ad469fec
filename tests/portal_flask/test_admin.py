"""The operator's view: every site, failed tasks across sites, DLQ depth, suspend and resume."""

from __future__ import annotations

import json

import pytest

from administration.site_users import SiteUsers
from functions.core.models import Site, Task
from portal_flask.extensions import db
from portal_flask.models import AuditLog
from scripts.admin import CredentialStoreHook
from scripts.local_cloud.api_client import ApiClient
from tests.portal_flask.helpers import post_form


@pytest.fixture
def operator(portal, make_account, sign_in):
    client = portal.client()
    assert sign_in(client, make_account("operator")).status_code == 302
    return client


def failed(task_id: str, site: str, at: float, error: str) -> None:
    Task(
        task_id,
        site_id=site,
        user_name="alice" if site == "site-a" else "carol",
        status="FAILED",
        created_at=at,
        touched_at=at,
        error=error,
        recon_mode="demo_fft",
    ).save()


def test_the_operator_sees_every_site_and_the_failed_tasks_of_all(portal, operator):
    now = portal.clock()
    failed("aaaaaaaa-0000-4000-8000-000000000001", "site-a", now - 3600, "raw file unreadable")
    failed("bbbbbbbb-0000-4000-8000-000000000002", "site-b", now - 60, "ran past its time limit")
    failed("cccccccc-0000-4000-8000-000000000003", "site-b", now - 30 * 86400, "long ago")
    page = operator.get("/admin/").get_data(as_text=True)
    assert 'id="site-site-a"' in page and 'id="site-site-b"' in page
    assert "raw file unreadable" in page and "ran past its time limit" in page
    assert "long ago" not in page
    assert page.index("ran past its time limit") < page.index("raw file unreadable")


def test_dead_letter_queue_depth_is_shown_per_queue(portal, operator):
    sqs = portal.cloud.clients.session.client("sqs")
    name = portal.cloud.resources.resolve(portal.cloud.resources.raw["queues"]["submit"]["dlq"])
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    for n in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    page = operator.get("/admin/").get_data(as_text=True)
    row = page.split('id="dlq-submit"')[1].split("</tr>")[0]
    assert name in row and '<span class="badge badge-danger">2</span>' in row
    other = page.split('id="dlq-job_state"')[1].split("</tr>")[0]
    assert '<td class="num">0</td>' in other


def test_suspending_a_site_makes_the_api_refuse_it_until_it_is_resumed(portal, operator):
    users = SiteUsers(
        portal.cloud.clients.session.client("iam"),
        portal.cloud.resources.site_user_group(),
        CredentialStoreHook(portal.cloud.credentials),
    )
    key = users.create_user("scanner1", "site-a")
    api = ApiClient(
        portal.cloud.api.endpoint, key.access_key_id, key.secret_access_key, portal.cloud.region
    )
    assert api.post("user_status").body["can_submit_jobs"] is True

    response = post_form(operator, "/admin/sites/site-a/suspend", {}, token_from="/admin/")
    assert response.status_code == 302
    assert Site.get("site-a", consistent_read=True).suspended is True
    assert Site.get("site-b", consistent_read=True).suspended is False
    status = api.post("user_status").body
    assert status["can_submit_jobs"] is False and "suspended" in status["reason"]
    assert "Suspended" in operator.get("/admin/").get_data(as_text=True)

    post_form(operator, "/admin/sites/site-a/resume", {}, token_from="/admin/")
    assert Site.get("site-a", consistent_read=True).suspended is False
    assert api.post("user_status").body["can_submit_jobs"] is True
    with portal.app.app_context():
        entries = db.session.scalars(db.select(AuditLog).order_by(AuditLog.id)).all()
        assert [(e.action, e.site_id) for e in entries] == [
            ("site.suspend", "site-a"),
            ("site.resume", "site-a"),
        ]
    assert post_form(operator, "/admin/sites/nope/suspend", {}, "/admin/").status_code == 404


def test_only_operators_reach_the_operations_page(portal, make_account, sign_in):
    for role in ("site_admin", "site_user"):
        client = portal.client()
        sign_in(client, make_account(role, "site-a"))
        assert client.get("/admin/").status_code == 403
        assert post_form(client, "/admin/sites/site-a/suspend", {}, "/tasks/").status_code == 403
    assert Site.get("site-a", consistent_read=True).suspended is False
