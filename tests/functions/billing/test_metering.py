"""A finished job's status, usage, rollups and usage report land in one write, with no
Stripe call on the way; a second job of one task and a repeated event change nothing."""

from __future__ import annotations

from contracts.task_status import Status
from functions.billing.metering import MeterEvent, TaskWrite, record_usage
from functions.billing.stripe_gateway import StripeGateway
from functions.core.models import BillingOutboxItem, Task, UsageRecord, UsageRollup
from functions.core.task_store import advance, open_task, transition
from functions.work.billing_outbox import Outbox
from functions.work.job_state import JobUpdater
from tests.functions.billing import helpers
from tests.functions.billing.helpers import save_card
from tests.helpers.cloud import usage_of

TASK = "5b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
STARTED = 1_764_000_000.0


def running_task(job_id: str | None = None) -> Task:
    """A task of alice's at site-a, running on 2 vCPUs and 2 GiB."""
    if job_id:
        return helpers.running_task(TASK, "alice", "site-a", STARTED, job_id)
    task = open_task(TASK, user_name="alice", site_id="site-a", now=STARTED - 60)
    task.update(actions=[Task.vcpus.set(2), Task.memory_mib.set(2048), Task.spot.set(True)])
    assert advance(task, Status.RUNNING, now=STARTED)
    return Task.get(TASK, consistent_read=True)


def finished_job(job_id: str, seconds: int = 120) -> dict:
    return helpers.finished_job(TASK, job_id, STARTED, seconds)


def test_a_finished_job_queues_its_report_with_its_status_and_calls_no_stripe(
    billing_cloud, stripe_api
):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    running_task("job-1")
    before = len(stripe_api.requests)

    update = JobUpdater(cloud.settings, cloud.clients).apply(finished_job("job-1"))

    assert (update.action, update.status) == ("finished", "SUCCEEDED")
    assert stripe_api.requests[before:] == []  # the job-state path never waits on Stripe
    task = Task.get(TASK, consistent_read=True)
    [usage] = usage_of(TASK)
    [item] = BillingOutboxItem.scan()
    assert task.status == "SUCCEEDED" and task.cost_micros == usage.cost_micros > 0
    assert (item.event_id, item.value, item.pending) == (TASK, usage.cost_micros, "1")

    report = Outbox(StripeGateway.from_settings(cloud.settings)).drain()
    assert report.sent == [TASK]
    [sent] = stripe_api.calls("/v1/billing/meter_events")
    assert sent.form["payload[value]"] == str(usage.cost_micros)


def test_a_finished_job_is_recorded_while_stripe_cannot_be_reached(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    running_task("job-1")
    for hook in ("customers", "meter_events"):
        stripe_api.down(hook)

    update = JobUpdater(cloud.settings, cloud.clients).apply(finished_job("job-1"))

    assert update.action == "finished"
    assert BillingOutboxItem.get(TASK).pending == "1"
    assert stripe_api.calls("/v1/billing/meter_events", status=None) == []


def test_a_second_job_of_one_task_is_recorded_once_without_an_error(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    # Both jobs' events read the task before either was recorded (it tracked no job yet).
    stale = running_task()
    updater = JobUpdater(cloud.settings, cloud.clients)
    assert updater.apply(finished_job("job-1", seconds=120)).action == "finished"

    def write_for(job_id: str) -> TaskWrite:
        ours = Task.job_id.does_not_exist() | (Task.job_id == job_id)
        actions, condition = transition(
            stale, Status.SUCCEEDED, now=1.0, actions=[Task.job_id.set(job_id)], condition=ours
        )
        return TaskWrite(stale, actions, condition)

    second = UsageRecord(
        "job-2",
        task_id=TASK,
        user_name="alice",
        site_id="site-a",
        finished_at=STARTED + 300,
        month="2025-11",
        status="SUCCEEDED",
        seconds=300,
        vcpus=2,
        memory_gib=2,
        spot=True,
        attempts=1,
        cost_micros=9_999,
        currency="USD",
    )
    meter = MeterEvent(TASK, "site-a", 9_999, int(STARTED + 300))
    region = cloud.settings.region
    assert record_usage(second, region=region, meter=meter, task_write=write_for("job-2")) is False
    # The second job's own event, after the first was recorded, is ignored as well.
    assert updater.apply(finished_job("job-2", seconds=300)).action == "ignored"

    [usage] = usage_of(TASK)
    assert usage.job_id == "job-1"
    rollup = UsageRollup.get("site#site-a", usage.month)
    assert (rollup.jobs, rollup.cost_micros) == (1, usage.cost_micros)
    [item] = BillingOutboxItem.scan()
    assert item.value == usage.cost_micros
    task = Task.get(TASK, consistent_read=True)
    assert (task.job_id, task.cost_micros) == ("job-1", usage.cost_micros)


def test_a_repeated_final_event_changes_nothing(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    running_task("job-1")
    updater = JobUpdater(cloud.settings, cloud.clients)
    assert updater.apply(finished_job("job-1")).action == "finished"
    for _ in range(3):
        assert updater.apply(finished_job("job-1")).action == "unchanged"
    [usage] = usage_of(TASK)
    rollup = UsageRollup.get("user#alice", usage.month)
    assert (rollup.jobs, rollup.cost_micros) == (1, usage.cost_micros)
    assert len(list(BillingOutboxItem.scan())) == 1


def test_a_job_that_ends_after_its_task_was_cancelled_keeps_the_cancellation(
    billing_cloud, stripe_api
):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    task = running_task("job-1")
    cancelled_at = STARTED + 30
    assert advance(task, Status.CANCELED, now=cancelled_at)
    job = finished_job("job-1", seconds=120)
    job.update(status="FAILED", container={"exitCode": 137})
    job["attempts"][0].update(container={"exitCode": 137}, statusReason="cancelled by user")

    assert JobUpdater(cloud.settings, cloud.clients).apply(job).action == "unchanged"

    [usage] = usage_of(TASK)
    assert (usage.charged_seconds, usage.uncharged_seconds) == (30, 90)
    task = Task.get(TASK, consistent_read=True)
    assert (task.status, task.cost_micros) == ("CANCELED", usage.cost_micros)
    assert BillingOutboxItem.get(TASK).value == usage.cost_micros
