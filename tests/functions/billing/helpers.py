"""Billing steps the tests share: saving a card the way a site administrator does."""

from __future__ import annotations

import itertools

from contracts.task_status import Status
from functions.billing.stripe_gateway import StripeGateway
from functions.billing.webhooks import WebhookResult, handle
from functions.core.models import Site, Task
from functions.core.settings import Settings
from functions.core.task_store import advance, open_task
from tests.helpers.stripe_server import (
    WEBHOOK_SECRET,
    StripeStandIn,
    event_payload,
    signature_header,
)

_events = itertools.count(1)


def deliver(gateway: StripeGateway, kind: str, obj: dict, event_id: str | None = None, **kw):
    """Sign and hand one webhook event to the handler, as the portal's route does."""
    payload = event_payload(kind, obj, event_id or f"evt_test{next(_events):05d}")
    return handle(payload, signature_header(payload), secret=WEBHOOK_SECRET, gateway=gateway, **kw)


def sink(gateway: StripeGateway, payload: bytes, signature: str) -> WebhookResult:
    """Hand one delivery of the stand-in's to the handler, as the portal's route does."""
    return handle(payload, signature, secret=WEBHOOK_SECRET, gateway=gateway)


def save_card(settings: Settings, stripe_api: StripeStandIn, site_id: str = "site-a") -> Site:
    """Make ``site_id`` a ``stripe`` site and save a card through Checkout's setup mode."""
    Site(site_id).update(actions=[Site.billing_mode.set("stripe")])
    gateway = StripeGateway.from_settings(settings)
    url = gateway.setup_session(
        Site.get(site_id),
        success_url="https://portal.test/billing/?saved=1",
        cancel_url="https://portal.test/billing/",
    )
    session = stripe_api.complete_setup(url.rsplit("/", 1)[-1])
    result: WebhookResult = deliver(gateway, "checkout.session.completed", session)
    assert result.action == "handled", result
    site = Site.get(site_id, consistent_read=True)
    assert site.payment_method_valid
    return site


def running_task(task_id: str, user: str, site_id: str, started: float, job_id: str) -> Task:
    """A task running job ``job_id`` since ``started``, on 2 vCPUs and 2 GiB of spot."""
    task = open_task(task_id, user_name=user, site_id=site_id, now=started - 60)
    task.update(actions=[Task.vcpus.set(2), Task.memory_mib.set(2048), Task.spot.set(True)])
    assert advance(task, Status.RUNNING, now=started, actions=[Task.job_id.set(job_id)])
    return Task.get(task_id, consistent_read=True)


def finished_job(task_id: str, job_id: str, started: float, seconds: float) -> dict:
    """Batch's description of a job of ``task_id`` that succeeded after ``seconds``."""
    start_ms, stop_ms = int(started * 1000), int((started + seconds) * 1000)
    attempt = {
        "startedAt": start_ms,
        "stoppedAt": stop_ms,
        "container": {"exitCode": 0},
        "statusReason": "Essential container in task exited",
    }
    return {
        "jobId": job_id,
        "jobName": f"yc-{task_id}",
        "status": "SUCCEEDED",
        "attempts": [attempt],
        "startedAt": start_ms,
        "stoppedAt": stop_ms,
        "container": {"exitCode": 0},
    }
