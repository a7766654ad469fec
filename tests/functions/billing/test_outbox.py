"""The outbox keeps a usage report until Stripe has taken it, retrying with backoff."""

from __future__ import annotations

import json

import pytest

from functions.billing.metering import MeterEvent, TaskWrite, record_usage
from functions.billing.stripe_gateway import StripeGateway
from functions.core.models import BillingOutboxItem, Site, Task, UsageRecord, UsageRollup
from functions.core.task_store import open_task
from functions.work.billing_outbox import Outbox, backoff_seconds
from tests.functions.billing.helpers import save_card

TASK = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
NOW = 1_764_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def usage(job_id: str = "job-1", cost: int = 5_000) -> UsageRecord:
    return UsageRecord(
        job_id,
        task_id=TASK,
        user_name="alice",
        site_id="site-a",
        finished_at=NOW,
        month="2025-11",
        status="SUCCEEDED",
        seconds=10,
        vcpus=2,
        memory_gib=2,
        spot=True,
        attempts=1,
        cost_micros=cost,
        currency="USD",
        charged_seconds=10,
        uncharged_seconds=0,
    )


def recorded(region: str, meter: MeterEvent, job_id: str = "job-1") -> bool:
    """Record ``usage(job_id)`` with its task's cost, as a finished job does."""
    task = open_task(TASK, user_name="alice", site_id="site-a", now=NOW)
    ours = Task.job_id.does_not_exist() | (Task.job_id == job_id)
    write = TaskWrite(task, [Task.job_id.set(job_id), Task.cost_micros.set(5_000)], ours)
    return record_usage(usage(job_id), region=region, meter=meter, task_write=write)


def test_backoff_doubles_up_to_an_hour():
    assert [backoff_seconds(n) for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]


def test_usage_is_recorded_once_with_its_rollups_and_report(billing_cloud):
    cloud, _ = billing_cloud(poll=False)
    meter = MeterEvent(TASK, "site-a", 5_000, int(NOW))
    region = cloud.settings.region
    assert recorded(region, meter) is True
    assert recorded(region, meter) is False
    assert recorded(region, meter) is False
    assert [u.job_id for u in UsageRecord.scan()] == ["job-1"]
    for owner in ("user#alice", "site#site-a"):
        rollup = UsageRollup.get(owner, "2025-11")
        assert (rollup.jobs, rollup.cost_micros, rollup.charged_seconds) == (1, 5_000, 10)
    [item] = BillingOutboxItem.scan()
    assert (item.event_id, item.value, item.pending, item.state) == (TASK, 5_000, "1", "pending")


def test_a_report_waits_out_an_outage_and_is_sent_once_stripe_is_back(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    assert recorded(cloud.settings.region, MeterEvent(TASK, "site-a", 5_000, int(NOW)))
    clock = Clock(NOW)
    outbox = Outbox(StripeGateway.from_settings(cloud.settings), clock=clock)

    stripe_api.down("meter_events")
    assert outbox.send(TASK) == "pending"
    item = BillingOutboxItem.get(TASK)
    assert (item.attempts, item.next_attempt_at) == (1, NOW + 60)
    assert "APIError" in item.last_error
    assert outbox.drain().retrying == []  # not due yet: nothing tried
    assert len(stripe_api.calls("/v1/billing/meter_events", status=None)) == 1

    clock.now += 60
    assert outbox.drain().retrying == [TASK]
    assert BillingOutboxItem.get(TASK).next_attempt_at == NOW + 60 + 120

    stripe_api.up("meter_events")
    clock.now += 120
    assert outbox.drain().sent == [TASK]
    item = BillingOutboxItem.get(TASK)
    assert (item.state, item.pending, item.attempts, item.sent_at) == ("sent", None, 3, NOW + 180)
    assert list(stripe_api.state.meter_events) == [TASK]
    clock.now += 3600
    assert outbox.drain().sent == [] and outbox.send(TASK) == "sent"
    assert len(stripe_api.calls("/v1/billing/meter_events")) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        "Timestamp must be within the past 35 calendar days.",
        "An event already exists with identifier another-task.",
    ],
    ids=["too-old", "another-identifier"],
)
def test_a_report_stripe_refuses_waits_for_an_operator_who_resends_it(
    billing_cloud, stripe_api, refusal
):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    assert recorded(cloud.settings.region, MeterEvent(TASK, "site-a", 5_000, int(NOW)))
    clock = Clock(NOW)
    outbox = Outbox(StripeGateway.from_settings(cloud.settings), clock=clock)
    stripe_api.refuse("meter_events", refusal)
    assert outbox.send(TASK) == "rejected"
    item = BillingOutboxItem.get(TASK)
    assert item.pending is None and item.last_error == f"InvalidRequestError: {refusal}"
    assert outbox.drain().rejected == []

    stripe_api.up("meter_events")  # the operator fixed the cause
    clock.now += 3600
    assert outbox.requeue_rejected("site-b") == []
    assert outbox.requeue_rejected() == [TASK]
    assert outbox.requeue_rejected() == []
    assert outbox.drain().sent == [TASK]
    assert BillingOutboxItem.get(TASK).state == "sent"
    assert list(stripe_api.state.meter_events) == [TASK]


class Crash(Exception):
    """The function died: its Lambda timed out or its container was reclaimed."""


def crash(event_id: str) -> None:
    raise Crash(event_id)


def rejected_counts(output: str) -> list[float]:
    """The ``UsageReportsRejected`` values of the EMF records in ``output``."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [v for r in records for v in r.get("UsageReportsRejected", [])]


@pytest.mark.parametrize("key_expired", [False, True], ids=["key-replayed", "key-expired"])
def test_a_report_stripe_took_before_a_crash_ends_reported_once(
    billing_cloud, stripe_api, capfd, key_expired
):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    assert recorded(cloud.settings.region, MeterEvent(TASK, "site-a", 5_000, int(NOW)))
    outbox = Outbox(StripeGateway.from_settings(cloud.settings), after_stripe_took=crash)
    with pytest.raises(Crash):
        outbox.send(TASK)
    assert list(stripe_api.state.meter_events) == [TASK]
    assert BillingOutboxItem.get(TASK).pending == "1"
    if key_expired:
        # Over 24 hours later Stripe answers the identifier, no longer the key.
        stripe_api.forget_idempotency_keys()

    capfd.readouterr()
    assert cloud.drain_billing_outbox() == {"sent": [TASK], "retrying": [], "rejected": []}
    assert rejected_counts(capfd.readouterr().out) == [0.0]
    item = BillingOutboxItem.get(TASK)
    assert (item.state, item.pending, item.last_error) == ("sent", None, None)
    answers = [r.status for r in stripe_api.calls("/v1/billing/meter_events", status=None)]
    assert answers == ([200, 400] if key_expired else [200, 200])
    customer = Site.get("site-a").stripe_customer_id
    assert stripe_api.state.meter_events[TASK]["payload"] == {
        "stripe_customer_id": customer,
        "value": "5000",
    }
    assert len(stripe_api.state.meter_events) == 1


def test_without_stripe_configured_reports_wait(seeded_cloud):
    cloud, _ = seeded_cloud(poll=False)
    assert recorded(cloud.settings.region, MeterEvent(TASK, "site-a", 5_000, int(NOW)))
    assert Outbox(None, clock=Clock(NOW)).send(TASK) == "pending"
    assert "not configured" in BillingOutboxItem.get(TASK).last_error
