"""The task monitor: who sees which tasks, filters, pages through the indexes, live rows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from contracts.task_status import Status
from functions.core.models import Task
from functions.core.task_store import advance, fail
from portal_flask import create_app

DAY = 86400
BASE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def put_task(site: str, user: str, created: float, status: str = "RUNNING", **values) -> str:
    task_id = values.pop("task_id", None) or str(uuid.uuid4())
    Task(
        task_id,
        site_id=site,
        user_name=user,
        status=status,
        created_at=created,
        touched_at=created,
        status_times={status: created},
        recon_mode="demo_fft",
        **values,
    ).save()
    return task_id


def shown(html: str) -> list[str]:
    """The task ids in the monitor's rows, in order."""
    return re.findall(r'<tr data-task="([^"]+)"', html)


@pytest.fixture
def tasks():
    """alice (2), bob (1) at site-a; carol (1) at site-b; one a day, newest carol's."""
    return {
        "alice_old": put_task("site-a", "alice", BASE, "SUCCEEDED", cost_micros=123_456),
        "bob": put_task("site-a", "bob", BASE + DAY, "FAILED", error="The raw file is missing."),
        "alice_new": put_task("site-a", "alice", BASE + 2 * DAY, "RUNNING"),
        "carol": put_task("site-b", "carol", BASE + 3 * DAY, "RUNNING"),
    }


def test_each_role_sees_its_own_scope_newest_first(portal, make_account, sign_in, tasks):
    expectations = {
        ("site_user", "site-a"): [tasks["alice_new"], tasks["alice_old"]],
        ("site_admin", "site-a"): [tasks["alice_new"], tasks["bob"], tasks["alice_old"]],
        ("site_admin", "site-b"): [tasks["carol"]],
        ("operator", None): [tasks["carol"], tasks["alice_new"], tasks["bob"], tasks["alice_old"]],
    }
    for (role, site), expected in expectations.items():
        client = portal.client()
        sign_in(client, make_account(role, site))
        assert shown(client.get("/tasks/").get_data(as_text=True)) == expected, (role, site)


def test_rows_show_status_stage_cost_and_failure_reason(
    portal, client, make_account, sign_in, tasks
):
    sign_in(client, make_account("site_admin", "site-a"))
    page = client.get("/tasks/").get_data(as_text=True)
    assert "The raw file is missing." in page
    assert "0.12 USD" in page
    assert "Reconstructing" in page


def test_filters_by_user_status_and_date(portal, client, make_account, sign_in, tasks):
    sign_in(client, make_account("site_admin", "site-a"))

    def ids(query: str) -> list[str]:
        return shown(client.get("/tasks/?" + query).get_data(as_text=True))

    assert ids("user=alice") == [tasks["alice_new"], tasks["alice_old"]]
    assert ids("status=FAILED") == [tasks["bob"]]
    assert ids("user=alice&status=SUCCEEDED") == [tasks["alice_old"]]
    assert ids("from=2026-03-11&to=2026-03-11") == [tasks["bob"]]
    assert ids("from=2026-03-11") == [tasks["alice_new"], tasks["bob"]]
    assert ids("to=2026-03-10") == [tasks["alice_old"]]
    # Another site's user filtered for by name shows nothing of theirs, nor does its site.
    assert ids("user=carol") == []
    assert tasks["carol"] not in ids("site=site-b")


def test_a_site_user_cannot_widen_the_filter_to_other_users(
    portal, client, make_account, sign_in, tasks
):
    sign_in(client, make_account("site_user", "site-a"))
    assert shown(client.get("/tasks/?user=bob&site=site-b").get_data(as_text=True)) == [
        tasks["alice_new"],
        tasks["alice_old"],
    ]


def test_a_filter_that_does_not_parse_is_named_and_ignored(
    portal, client, make_account, sign_in, tasks
):
    sign_in(client, make_account("site_admin", "site-a"))
    page = client.get("/tasks/?status=BOGUS&from=yesterday").get_data(as_text=True)
    assert "unknown status" in page.lower()
    assert "must be a date" in page
    assert len(shown(page)) == 3


def _walk(client, first: str) -> list[str]:
    seen, url = [], first
    for _ in range(100):
        page = client.get(url).get_data(as_text=True)
        seen += shown(page)
        older = re.search(r'id="older" href="([^"]+)"', page)
        if not older:
            return seen
        url = older.group(1).replace("&amp;", "&")
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize("role", ["site_admin", "operator"])
def test_pages_walk_every_task_once_in_order_even_with_equal_times(
    portal, make_account, sign_in, role
):
    app = create_app(portal.config.with_(tasks_page_size=4))
    expected = []
    for i in range(11):
        created = BASE + (i // 3) * 60  # three tasks share each second
        expected.append((created, put_task("site-a", ("alice", "bob")[i % 2], created)))
        if role == "operator":
            other = put_task("site-b", "carol", created + 1)
            expected.append((created + 1, other))
    account = make_account(role, "site-a")
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in(client, account)
    seen = _walk(client, "/tasks/")
    assert sorted(seen) == sorted(task_id for _, task_id in expected)
    assert len(seen) == len(set(seen))
    times = [float(Task.get(task_id).created_at) for task_id in seen]
    assert times == sorted(times, reverse=True)


def test_filtered_pages_walk_through_the_index(portal, make_account, sign_in):
    app = create_app(portal.config.with_(tasks_page_size=2))
    failed = [put_task("site-a", "alice", BASE + i, "FAILED") for i in range(5)]
    for i in range(7):
        put_task("site-a", "alice", BASE + 100 + i, "SUCCEEDED")
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in(client, make_account("site_admin", "site-a"))
    assert _walk(client, "/tasks/?status=FAILED") == list(reversed(failed))


@pytest.mark.parametrize("role", ["site_admin", "operator"])
def test_a_status_filter_pages_through_the_tasks_of_that_status_alone(
    portal, make_account, sign_in, role
):
    app = create_app(portal.config.with_(tasks_page_size=3))
    expected = []
    for i in range(9):
        created = BASE + (i // 2) * 60  # two failures share each minute
        expected.append((created, put_task("site-a", ("alice", "bob")[i % 2], created, "FAILED")))
        put_task("site-a", "alice", created, "SUCCEEDED")
        put_task("site-a", "bob", created + 1, "RUNNING")
        other_site = put_task("site-b", "carol", created + 2, "FAILED")
        if role == "operator":
            expected.append((created + 2, other_site))
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in(client, make_account(role, "site-a"))
    newest_first = [task_id for _, task_id in sorted(expected, reverse=True)]
    assert _walk(client, "/tasks/?status=FAILED") == newest_first
    assert _walk(client, "/tasks/?status=CANCELED") == []


def test_a_task_leaves_one_status_listing_for_the_next_as_it_moves(
    portal, client, make_account, sign_in, tasks
):
    sign_in(client, make_account("site_admin", "site-a"))

    def ids(status: str) -> list[str]:
        return shown(client.get(f"/tasks/?status={status}").get_data(as_text=True))

    assert ids("RUNNING") == [tasks["alice_new"]]
    task = Task.get(tasks["alice_new"])
    assert fail(task, "The reconstruction ran out of memory.", now=BASE + 3 * DAY)
    assert ids("RUNNING") == []
    assert ids("FAILED") == [tasks["alice_new"], tasks["bob"]]
    assert ids("SUCCEEDED") == [tasks["alice_old"]]


def test_a_cursor_of_one_status_is_refused_for_another(portal, make_account, sign_in):
    app = create_app(portal.config.with_(tasks_page_size=1))
    for i in range(3):
        put_task("site-a", "alice", BASE + i, "FAILED")
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in(client, make_account("site_admin", "site-a"))
    page = client.get("/tasks/?status=FAILED").get_data(as_text=True)
    cursor = re.search(r'id="older" href="[^"]*cursor=([^"&]+)', page).group(1)
    response = client.get(f"/tasks/?status=SUCCEEDED&cursor={cursor}")
    assert response.status_code == 400
    assert "another listing" in response.get_data(as_text=True)


def test_a_forged_or_foreign_cursor_is_refused_with_a_clear_answer(
    portal, client, make_account, sign_in, tasks
):
    from portal_flask.tasks.queries import encode_cursor

    sign_in(client, make_account("site_admin", "site-a"))
    assert client.get("/tasks/?cursor=!!!").status_code == 400
    foreign = encode_cursor({"site-b": [str(BASE), tasks["carol"]]})
    response = client.get(f"/tasks/?cursor={foreign}")
    assert response.status_code == 400
    assert "another listing" in response.get_data(as_text=True)


def test_the_feed_returns_the_rows_as_they_are_now(portal, client, make_account, sign_in, tasks):
    sign_in(client, make_account("site_user", "site-a"))
    first = client.get("/tasks/feed.json").get_json()
    assert shown(first["html"]) == [tasks["alice_new"], tasks["alice_old"]]
    task = Task.get(tasks["alice_new"])
    assert advance(task, Status.SUCCEEDED, now=BASE + 3 * DAY)
    later = client.get("/tasks/feed.json").get_json()
    assert 'data-status="SUCCEEDED"' in later["html"].split("</tr>")[0]


def test_the_feed_needs_a_session(portal, client):
    response = client.get("/tasks/feed.json")
    assert response.status_code in (302, 401)


def test_a_task_page_shows_its_timeline_and_cost(portal, client, make_account, sign_in, tasks):
    sign_in(client, make_account("site_user", "site-a"))
    page = client.get(f"/tasks/{tasks['alice_old']}")
    assert page.status_code == 200
    assert "0.12 USD" in page.get_data(as_text=True)
    assert client.get(f"/tasks/{tasks['bob']}").status_code == 404  # bob's, same site
    assert client.get(f"/tasks/{uuid.uuid4()}").status_code == 404


def test_a_task_run_through_the_cloud_shows_up_succeeded_with_its_cost(
    portal, client, make_account, sign_in
):
    task_id = str(uuid.uuid4())
    portal.uploader.task("alice", task_id)
    portal.cloud.wait_for_task(task_id, {"SUCCEEDED", "DELIVERED"}, timeout=120)
    sign_in(client, make_account("site_user", "site-a"))
    feed = client.get("/tasks/feed.json").get_json()
    row = feed["html"].split("</tr>")[0]
    assert task_id in row
    assert re.search(r'data-status="(SUCCEEDED|DELIVERED)"', row)
    assert "0.00 USD" not in row or float(Task.get(task_id).cost_micros) == 0
