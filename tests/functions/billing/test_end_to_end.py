"""Billing on the local cloud: a job's usage metered once, reported to Stripe, refused on debt."""

from __future__ import annotations

import json
import sys
import time

import pytest

from functions.billing.access import PAYMENT_FAILED
from functions.billing.stripe_gateway import StripeGateway
from functions.core.models import BillingOutboxItem, Task, UsageRollup
from functions.core.pricing import micros_to_amount
from functions.work.job_state import JobUpdater
from scripts.local_cloud.seed import DEMO_MODE, publish_mode, seed_site
from scripts.phantoms.header import Patient, identity_strings
from scripts.phantoms.header import Site as ScannerSite
from tests.functions.billing.conftest import stripe_options
from tests.functions.billing.helpers import deliver, save_card
from tests.helpers.cloud import Uploader, jobs_of, task_file_text, usage_of
from tests.helpers.stripe_server import invoice

pytestmark = pytest.mark.slow

TASK = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"
NEXT = "8d7c6b5a-4e3f-4a1b-8c9d-0e1f2a3b4c5d"
PATIENT_VALUES = identity_strings(Patient(), ScannerSite())


class MovableClock:
    """The system's time plus an offset a test can advance."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def upload_scan_with_patient_data(cloud, user: str, task_id: str) -> None:
    """A raw file whose bytes hold a patient's identity, then the task file."""
    body = ("\n".join(PATIENT_VALUES) + "\n").encode() * 64
    s3, bucket = cloud.clients.s3, cloud.settings.in_bucket
    s3.put_object(Bucket=bucket, Key=f"{user}/{task_id}/{task_id}.dat", Body=body)
    s3.put_object(
        Bucket=bucket,
        Key=f"{user}/{task_id}/{task_id}.task",
        Body=task_file_text(task_id, len(body)).encode(),
    )


def redeliver_final_event(cloud, task: Task) -> None:
    job = cloud.clients.batch.describe_jobs(jobs=[task.job_id])["jobs"][0]
    cloud.clients.events.put_events(
        Entries=[
            {
                "Source": "aws.batch",
                "DetailType": "Batch Job State Change",
                "Detail": json.dumps(job),
                "Resources": [job["jobArn"]],
            }
        ]
    )
    poller = cloud.pollers["job_state"]
    before = poller.invocations
    cloud.wait_until(lambda: poller.invocations > before, 30, "the redelivery to be handled")


def assert_no_patient_data(stripe_api) -> None:
    for request in stripe_api.requests:
        sent = request.path.encode() + request.raw
        for value in PATIENT_VALUES:
            assert value.encode() not in sent, (request.path, value)


def test_a_succeeded_job_is_metered_once_and_reported_once(api_cloud, stripe_api):
    cloud, users, _, _ = api_cloud(**stripe_options(stripe_api))
    site = save_card(cloud.settings, stripe_api)
    upload_scan_with_patient_data(cloud, "alice", TASK)
    task = cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    assert task.status == "SUCCEEDED", task.error
    assert BillingOutboxItem.get(TASK).pending == "1"  # queued with the task's final status
    assert stripe_api.calls("/v1/billing/meter_events", status=None) == []
    assert cloud.drain_billing_outbox()["sent"] == [TASK]

    for _ in range(3):
        redeliver_final_event(cloud, task)
    # The sweeper's path (DescribeJobs) reaches the same record without the handler's
    # idempotency layer in front of it.
    job = cloud.clients.batch.describe_jobs(jobs=[task.job_id])["jobs"][0]
    for _ in range(3):
        assert JobUpdater(cloud.settings, cloud.clients).apply(job).action == "unchanged"

    [usage] = usage_of(TASK)
    assert usage.cost_micros == task.cost_micros > 0
    assert usage.charged_seconds > 0 and usage.uncharged_seconds == 0
    month = usage.month
    for owner in ("user#alice", "site#site-a"):
        rollup = UsageRollup.get(owner, month)
        assert (rollup.jobs, rollup.cost_micros) == (1, usage.cost_micros)
    [sent] = stripe_api.calls("/v1/billing/meter_events")
    assert sent.idempotency_key == f"yc-meter-{TASK}"
    assert sent.form == {
        "event_name": "yarracloud_compute",
        "identifier": TASK,
        "timestamp": str(int(usage.finished_at)),
        "payload[stripe_customer_id]": site.stripe_customer_id,
        "payload[value]": str(usage.cost_micros),
    }
    assert b"alice" not in sent.raw
    answer = users["alice"].post("jobs", [TASK])
    assert answer.body[TASK]["cost"] == micros_to_amount(usage.cost_micros)
    assert_no_patient_data(stripe_api)


def test_a_report_made_while_stripe_is_down_is_sent_once_it_is_back(make_cloud, stripe_api):

    clock = MovableClock()
    cloud = make_cloud(**stripe_options(stripe_api), clock=clock)
    publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
    seed_site(
        "site-a",
        "Site A",
        ["alice"],
        {"demo_fft": {"vcpus": 2, "memory_mib": 2048, "spot": True, "timeout_seconds": 600}},
    )
    save_card(cloud.settings, stripe_api)
    stripe_api.down("meter_events")
    Uploader(cloud).task("alice", TASK)
    assert cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"}).status == "SUCCEEDED"
    assert cloud.drain_billing_outbox()["retrying"] == [TASK]
    item = BillingOutboxItem.get(TASK)
    assert (item.state, item.attempts) == ("pending", 1)
    assert stripe_api.calls("/v1/billing/meter_events") == []

    stripe_api.up("meter_events")
    assert cloud.drain_billing_outbox()["sent"] == []  # its retry is not due yet
    clock.offset += 61
    assert cloud.drain_billing_outbox()["sent"] == [TASK]
    assert cloud.drain_billing_outbox()["sent"] == []
    [sent] = stripe_api.calls("/v1/billing/meter_events")
    assert sent.form["identifier"] == TASK
    assert sent.form["payload[value]"] == str(usage_of(TASK)[0].cost_micros)


def test_after_a_failed_payment_the_next_task_is_refused_with_the_reason(api_cloud, stripe_api):
    cloud, users, upload, _ = api_cloud(**stripe_options(stripe_api))
    site = save_card(cloud.settings, stripe_api)
    assert users["alice"].post("user_status").body["can_submit_jobs"] is True
    gateway = StripeGateway.from_settings(cloud.settings)
    failed = stripe_api.add_invoice(invoice("in_t1", site.stripe_customer_id, "open"))
    deliver(gateway, "invoice.payment_failed", failed)

    status = users["bob"].post("user_status").body
    assert (status["can_submit_jobs"], status["reason"]) == (False, PAYMENT_FAILED)

    upload.task("alice", NEXT)  # the S3 events submit it
    task = cloud.wait_for_task(NEXT, {"SUBMITTED", "FAILED"})
    assert (task.status, task.error) == ("FAILED", PAYMENT_FAILED)
    assert jobs_of(cloud, NEXT) == []

    stripe_api.settle_invoice("in_t1", "paid")
    deliver(gateway, "invoice.paid", stripe_api.state.invoices["in_t1"])
    assert users["bob"].post("user_status").body["can_submit_jobs"] is True


def test_a_cancelled_job_is_charged_up_to_the_cancellation(api_cloud, stripe_api):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    cloud, users, upload, _ = api_cloud(**stripe_options(stripe_api), worker_command=sleeper)
    save_card(cloud.settings, stripe_api)
    upload.task("alice", TASK)
    task = cloud.wait_for_task(TASK, {"RUNNING"})
    assert users["alice"].post("job_cancel", {"name": TASK}).status == 200
    cloud.batch.wait_for(task.job_id, {"FAILED"}, timeout=30)
    [usage] = cloud.wait_until(lambda: usage_of(TASK), 30, "the cancelled job's usage")

    task = Task.get(TASK, consistent_read=True)
    [attempt] = cloud.clients.batch.describe_jobs(jobs=[task.job_id])["jobs"][0]["attempts"]
    cancelled_at = float(task.status_times["CANCELED"])
    run = (attempt["stoppedAt"] - attempt["startedAt"]) / 1000
    charged = max(0.0, cancelled_at - attempt["startedAt"] / 1000)
    assert usage.charged_seconds == pytest.approx(charged, abs=1e-3)
    assert usage.uncharged_seconds == pytest.approx(run - charged, abs=1e-3)
    assert task.status == "CANCELED" and task.cost_micros == usage.cost_micros
    assert cloud.drain_billing_outbox()["sent"] == [TASK]
    [sent] = stripe_api.calls("/v1/billing/meter_events")
    assert sent.form["payload[value]"] == str(usage.cost_micros)
