"""The operator's views: failed tasks across sites and the depth of every dead-letter queue."""

from __future__ import annotations

import json

from administration.deployment import load_description, site_user_group
from administration.failures import failed_tasks
from administration.queues import dead_letter_depths, dead_letter_queues
from functions.core.models import Task


def task(task_id: str, site: str, status: str, created: float) -> None:
    Task(
        task_id,
        site_id=site,
        user_name="alice",
        status=status,
        created_at=created,
        touched_at=created + 1,
    ).save()


def test_failed_tasks_of_every_site_newest_first_since_a_day(cloud, monkeypatch):
    task("a-old", "site-a", "FAILED", 100)
    task("a-new", "site-a", "FAILED", 2000)
    task("a-ok", "site-a", "SUCCEEDED", 2100)
    task("b-new", "site-b", "FAILED", 3000)
    task("c-new", "site-c", "FAILED", 3000)

    def no_scan(*args, **kwargs):
        raise AssertionError("tasks must be read through an index, never a scan")

    monkeypatch.setattr(Task, "scan", no_scan)
    found = failed_tasks(["site-a", "site-b"], since=1000)
    assert [t.task_id for t in found] == ["b-new", "a-new"]
    assert [t.task_id for t in failed_tasks(["site-a", "site-b"], since=0, limit=1)] == ["b-new"]


def test_dead_letter_depths_count_the_messages_waiting_in_each(cloud):
    description = load_description()
    queues = dead_letter_queues(description, cloud.settings)
    by_key = {q.key: q.name for q in queues}
    assert by_key["submit"] == cloud.resources.resolve(description["queues"]["submit"]["dlq"])
    assert set(by_key) == {k for k, q in description["queues"].items() if q.get("dlq")}

    sqs = cloud.clients.session.client("sqs")
    url = sqs.get_queue_url(QueueName=by_key["submit"])["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    depths = {d.queue.key: d.depth for d in dead_letter_depths(sqs, queues)}
    assert depths["submit"] == 3
    assert depths["job_state"] == 0

    missing = dead_letter_depths(sqs, [type(queues[0])("gone", "no-such-queue")])
    assert missing[0].depth is None and "NonExistentQueue" in missing[0].error


def test_the_site_user_group_follows_from_the_task_tables_prefix(cloud):
    assert site_user_group(load_description(), cloud.settings) == cloud.resources.site_user_group()
