"""A whole billing month against the Stripe stand-in: jobs through the month, a Stripe
outage, a repeated event and a second job of one task, an event Stripe drops after taking
it, the month's invoices paid and declined, and webhooks delivered newest first and twice.
"""

from __future__ import annotations

import time
import uuid

import pytest

from functions.billing.access import PAYMENT_FAILED, billing_refusal
from functions.billing.stripe_gateway import StripeGateway
from functions.billing.webhooks import InvoiceRecord, handle
from functions.core.models import Site, UsageRollup
from functions.work.billing_reconcile import month_bounds
from functions.work.job_state import JobUpdater
from tests.functions.billing.helpers import deliver, finished_job, running_task, save_card
from tests.helpers.stripe_server import WEBHOOK_SECRET

pytestmark = pytest.mark.slow

MONTH = "2025-11"
DAY = 86_400
JOBS = {  # site, user, day of the month, seconds
    "site-a": [("alice", 1, 600), ("bob", 9, 1_800), ("alice", 17, 3_600), ("bob", 29, 120)],
    "site-b": [("carol", 3, 900), ("carol", 22, 2_400)],
}


class MovableClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_a_billing_month_is_invoiced_as_metered_whatever_stripe_does(billing_cloud, stripe_api):
    clock = MovableClock()
    cloud, _ = billing_cloud(poll=False, clock=clock)
    sites = {site_id: save_card(cloud.settings, stripe_api, site_id) for site_id in JOBS}
    gateway = StripeGateway.from_settings(cloud.settings)
    updater = JobUpdater(cloud.settings, cloud.clients)
    start, end = month_bounds(MONTH)
    tasks: dict[str, list[str]] = {site_id: [] for site_id in JOBS}

    for site_id, jobs in JOBS.items():
        for user, day, seconds in jobs:
            task_id, job_id = str(uuid.uuid4()), f"job-{uuid.uuid4().hex[:8]}"
            started = start + (day - 1) * DAY + 3_600
            running_task(task_id, user, site_id, started, job_id)
            job = finished_job(task_id, job_id, started, seconds)
            assert updater.apply(job).action == "finished"
            assert updater.apply(job).action == "unchanged"  # delivered twice
            tasks[site_id].append(task_id)
            if day == 9:  # Stripe is down for the reports of the 9th
                stripe_api.down("meter_events")
                assert cloud.drain_billing_outbox()["retrying"] == [task_id]
                stripe_api.up("meter_events")
            else:
                assert cloud.drain_billing_outbox()["sent"] == [task_id]
    clock.offset += 61
    assert len(cloud.drain_billing_outbox()["sent"]) == 1  # the report of the 9th, late
    assert cloud.drain_billing_outbox() == {"sent": [], "retrying": [], "rejected": []}

    # A second Batch job of one task, after the first was recorded: nothing changes.
    first = tasks["site-a"][0]
    second = finished_job(first, "job-second", start + 3_600, 7_200)
    assert updater.apply(second).action == "ignored"

    # Stripe's asynchronous validation drops one of site-b's events after taking it.
    dropped = tasks["site-b"][1]
    stripe_api.fail_meter_event(dropped)

    ours = {
        site_id: int(UsageRollup.get(UsageRollup.site_owner(site_id), MONTH).reported_micros)
        for site_id in JOBS
    }
    assert set(stripe_api.state.meter_events) == {t for ts in tasks.values() for t in ts} - {
        dropped
    }
    result = cloud.reconcile_billing(MONTH)
    lost = stripe_api.state.meter_errors[0]["payload"]["value"]
    assert result["checked"] == ["site-a", "site-b"]
    assert result["differing"] == [
        {
            "site_id": "site-b",
            "month": MONTH,
            "ours": ours["site-b"],
            "stripe": ours["site-b"] - int(lost),
        }
    ]

    # The month ends: site-a's card pays, site-b's is declined.
    customer = {site_id: site.stripe_customer_id for site_id, site in sites.items()}
    paid = stripe_api.bill_period(customer["site-a"], start, end, "paid")
    declined = stripe_api.bill_period(customer["site-b"], start, end, "failed")
    invoices: dict[str, InvoiceRecord] = {}

    def record(invoice: InvoiceRecord) -> None:
        invoices[invoice.stripe_invoice_id] = invoice

    def sink(payload: bytes, signature: str):
        return handle(payload, signature, secret=WEBHOOK_SECRET, gateway=gateway, on_invoice=record)

    answers = stripe_api.deliver(sink, order=reversed, times=2)
    assert sorted(a.action for a in answers).count("replayed") == len(answers) // 2
    assert invoices[paid].status == "paid"
    assert invoices[paid].amount_paid == round(ours["site-a"] / 10_000) > 0
    assert invoices[declined].status == "open"
    assert invoices[declined].amount_due == round((ours["site-b"] - int(lost)) / 10_000)
    assert billing_refusal(Site.get("site-a", consistent_read=True)) is None
    assert billing_refusal(Site.get("site-b", consistent_read=True)) == PAYMENT_FAILED

    # Stripe's retry of the card succeeds; then the failure's event, older, comes late.
    failure = next(
        e["data"]["object"]
        for e in stripe_api.state.events
        if e["type"] == "invoice.payment_failed" and e["data"]["object"]["id"] == declined
    )
    stripe_api.settle_invoice(declined, "paid")
    [answer] = stripe_api.deliver(sink)
    assert (answer.type, answer.site_id) == ("invoice.paid", "site-b")
    late = deliver(gateway, "invoice.payment_failed", failure, on_invoice=record)
    assert late.action == "handled"
    assert billing_refusal(Site.get("site-b", consistent_read=True)) is None
    assert invoices[declined].status == "paid"
