"""A task's status and the index partitions derived from it change together, in one write."""

from __future__ import annotations

import pytest

from contracts.task_status import ORDER, Status
from functions.core.models import Task, site_status_key
from functions.core.task_store import advance, fail, open_task, status_actions

TASK = "6b1e2c3d-4f5a-4b6c-8d7e-8f9a0b1c2d3e"
NEIGHBOUR = "7c2f3d4e-5a6b-4c7d-9e8f-9a0b1c2d3e4f"


@pytest.fixture
def cloud(make_cloud):
    return make_cloud(poll=False)


def listed(site_id: str, status: Status) -> list[str]:
    """The task ids ``site_status_index`` lists for a site's tasks in ``status``."""
    return [t.task_id for t in Task.site_status_index.query(site_status_key(site_id, status))]


def where_listed(task_id: str, site_id: str) -> list[Status]:
    return [status for status in Status if task_id in listed(site_id, status)]


def test_the_site_status_partition_follows_every_step_to_delivered(cloud):
    task = open_task(TASK, user_name="alice", site_id="site-a", now=100)
    assert where_listed(TASK, "site-a") == [Status.UPLOADING]
    for step, status in enumerate(ORDER[1:], start=1):
        assert advance(task, status, now=100 + step)
        stored = Task.get(TASK, consistent_read=True)
        assert stored.site_status == f"site-a#{status.value}"
        assert where_listed(TASK, "site-a") == [status], status
    # A late event cannot move the task back, nor its partition.
    assert not advance(task, Status.RUNNING, now=200)
    assert where_listed(TASK, "site-a") == [Status.DELIVERED]


@pytest.mark.parametrize("end", [Status.FAILED, Status.CANCELED, Status.EXPIRED])
def test_an_end_moves_the_task_to_its_partition_and_out_of_the_last(cloud, end):
    task = open_task(TASK, user_name="alice", site_id="site-a", now=100)
    assert advance(task, Status.RUNNING, now=101)
    if end is Status.FAILED:
        assert fail(task, "the raw file is unreadable", now=102)
    else:
        assert advance(task, end, now=102)
    assert where_listed(TASK, "site-a") == [end]
    assert listed("site-a", Status.RUNNING) == []


def test_each_site_has_its_own_partition_of_a_status(cloud):
    open_task(TASK, user_name="alice", site_id="site-a", now=100)
    open_task(NEIGHBOUR, user_name="carol", site_id="site-b", now=100)
    assert listed("site-a", Status.UPLOADING) == [TASK]
    assert listed("site-b", Status.UPLOADING) == [NEIGHBOUR]


def test_opening_a_task_again_keeps_its_partition(cloud):
    open_task(TASK, user_name="alice", site_id="site-a", now=100)
    open_task(TASK, user_name="alice", site_id="site-a", now=150)
    assert where_listed(TASK, "site-a") == [Status.UPLOADING]


def test_a_task_written_whole_carries_the_partition_of_its_status(cloud):
    Task(
        TASK, site_id="site-b", user_name="carol", status="FAILED", created_at=1, touched_at=1
    ).save()
    assert Task.get(TASK).site_status == "site-b#FAILED"
    with Task.batch_write() as batch:
        batch.save(
            Task(
                NEIGHBOUR,
                site_id="site-a",
                user_name="bob",
                status="RUNNING",
                created_at=2,
                touched_at=2,
            )
        )
    assert listed("site-a", Status.RUNNING) == [NEIGHBOUR]


def test_a_status_cannot_be_set_without_the_tasks_site():
    with pytest.raises(ValueError, match="without its site"):
        status_actions(None, Status.FAILED)
