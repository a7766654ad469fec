"""Stripe's webhook events: signatures, replays, cards, failed payments and invoices."""

from __future__ import annotations

import time

import pytest
import stripe

from functions.billing.access import ACTION_REQUIRED, NO_CARD, PAYMENT_FAILED, billing_refusal
from functions.billing.stripe_gateway import StripeGateway
from functions.billing.webhooks import InvoiceRecord, WebhookRejected, handle
from functions.core.models import Site, StripeEvent
from functions.core.settings import Settings
from tests.functions.billing.helpers import deliver, save_card, sink
from tests.helpers.stripe_server import (
    API_KEY,
    WEBHOOK_SECRET,
    event_payload,
    invoice,
    signature_header,
)

PAYLOAD = event_payload("invoice.paid", invoice("in_test0001", "cus_x", "paid"), "evt_sig")


def offline_gateway() -> StripeGateway:
    """A gateway that no rejected delivery may reach (nothing listens there)."""
    client = stripe.StripeClient(API_KEY, base_addresses={"api": "http://127.0.0.1:9"})
    return StripeGateway(client=client, meter_event="yarracloud_compute", price_id="price_x")


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(signature_header(PAYLOAD, secret="whsec_wrong"), id="wrong-secret"),
        pytest.param(
            signature_header(PAYLOAD, timestamp=int(time.time()) - 301), id="old-timestamp"
        ),
        pytest.param("", id="missing"),
        pytest.param("t=1,v1=00", id="garbage"),
    ],
)
def test_a_delivery_whose_signature_does_not_verify_is_rejected(signature):
    with pytest.raises(WebhookRejected, match="signature"):
        handle(PAYLOAD, signature, secret=WEBHOOK_SECRET, gateway=offline_gateway())


def test_a_tampered_body_is_rejected():
    signature = signature_header(PAYLOAD)
    tampered = PAYLOAD.replace(b'"amount_due": 1234', b'"amount_due": 1')
    assert tampered != PAYLOAD
    with pytest.raises(WebhookRejected, match="signature"):
        handle(tampered, signature, secret=WEBHOOK_SECRET, gateway=offline_gateway())


def test_a_signed_body_that_is_not_json_is_rejected():
    body = b"not json"
    with pytest.raises(WebhookRejected, match="not a Stripe event"):
        handle(body, signature_header(body), secret=WEBHOOK_SECRET, gateway=offline_gateway())


def test_setup_completed_saves_the_card_and_a_replay_changes_nothing(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    Site("site-a").update(actions=[Site.billing_mode.set("stripe")])
    assert "no valid payment method" in billing_refusal(Site.get("site-a"))
    site = save_card(cloud.settings, stripe_api)
    assert billing_refusal(site) is None
    customer = stripe_api.state.customers[site.stripe_customer_id]
    assert customer["invoice_settings"]["default_payment_method"].startswith("pm_")

    gateway = StripeGateway.from_settings(cloud.settings)
    session = next(iter(stripe_api.state.sessions.values()))
    before = len(stripe_api.requests)
    first = deliver(gateway, "checkout.session.completed", session, event_id="evt_again")
    replay = deliver(gateway, "checkout.session.completed", session, event_id="evt_again")
    assert (first.action, replay.action) == ("handled", "replayed")
    assert StripeEvent.get("evt_again").type == "checkout.session.completed"
    # The replay reached nothing: only the first delivery's two Stripe calls were made.
    assert len(stripe_api.requests) == before + 2


def test_payment_failure_blocks_the_site_and_payment_unblocks_it(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    invoices: list[InvoiceRecord] = []
    failed = stripe_api.add_invoice(
        invoice("in_test0042", site.stripe_customer_id, "open", amount=2599)
    )
    result = deliver(gateway, "invoice.payment_failed", failed, on_invoice=invoices.append)
    assert (result.action, result.site_id) == ("handled", "site-a")
    assert billing_refusal(Site.get("site-a", consistent_read=True)) == PAYMENT_FAILED

    paid = stripe_api.add_invoice(
        invoice("in_test0042", site.stripe_customer_id, "paid", amount=2599)
    )
    deliver(gateway, "invoice.paid", paid, on_invoice=invoices.append)
    assert billing_refusal(Site.get("site-a", consistent_read=True)) is None
    assert [(i.stripe_invoice_id, i.status, i.amount_due, i.amount_paid) for i in invoices] == [
        ("in_test0042", "open", 2599, 0),
        ("in_test0042", "paid", 2599, 2599),
    ]
    record = invoices[-1]
    assert record.site_id == "site-a" and record.currency == "usd"
    assert record.period_start.isoformat() == "2025-11-01T00:00:00+00:00"
    assert record.paid_at is not None and record.hosted_invoice_url.endswith("in_test0042")


def test_the_state_stripe_holds_now_wins_over_the_order_events_arrive(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    stripe_api.add_invoice(invoice("in_test0050", site.stripe_customer_id, "paid"))
    older = invoice("in_test0050", site.stripe_customer_id, "open")  # the event's old copy
    seen: list[InvoiceRecord] = []

    result = deliver(gateway, "invoice.payment_failed", older, on_invoice=seen.append)

    assert result.action == "handled"
    assert billing_refusal(Site.get("site-a", consistent_read=True)) is None
    assert [r.status for r in seen] == ["paid"]


@pytest.mark.parametrize("settled", ["void", "uncollectible"])
def test_a_forgiven_invoice_unblocks_the_site(billing_cloud, stripe_api, settled):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    failed = stripe_api.add_invoice(invoice("in_test0060", site.stripe_customer_id, "open"))
    deliver(gateway, "invoice.payment_failed", failed)
    assert billing_refusal(Site.get("site-a", consistent_read=True)) == PAYMENT_FAILED

    stripe_api.settle_invoice("in_test0060", settled)
    kind = "invoice.voided" if settled == "void" else "invoice.marked_uncollectible"
    result = deliver(gateway, kind, stripe_api.state.invoices["in_test0060"])
    assert result.action == "handled"
    assert billing_refusal(Site.get("site-a", consistent_read=True)) is None


def test_a_payment_the_bank_wants_confirmed_is_shown_to_the_site(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    bill = stripe_api.add_invoice(invoice("in_test0070", site.stripe_customer_id, "open"))
    deliver(gateway, "invoice.payment_action_required", bill)
    assert billing_refusal(Site.get("site-a", consistent_read=True)) == ACTION_REQUIRED


def test_a_removed_card_or_an_ended_subscription_needs_a_new_card(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    stripe_api.detach_card(site.stripe_customer_id)
    stripe_api.deliver(lambda payload, signature: sink(gateway, payload, signature), times=2)
    assert billing_refusal(Site.get("site-a", consistent_read=True)) == NO_CARD

    site = save_card(cloud.settings, stripe_api)
    assert billing_refusal(site) is None
    stripe_api.cancel_subscription(site.stripe_subscription_id)
    stripe_api.deliver(lambda payload, signature: sink(gateway, payload, signature))
    site = Site.get("site-a", consistent_read=True)
    assert billing_refusal(site) == NO_CARD and site.stripe_subscription_id is None

    site = save_card(cloud.settings, stripe_api)  # a new card, a new subscription
    assert site.stripe_subscription_id is not None
    assert stripe_api.state.subscriptions[site.stripe_subscription_id]["status"] == "active"


def test_an_event_not_applied_is_not_recorded_and_its_retry_applies_it(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    failed = stripe_api.add_invoice(invoice("in_test0080", site.stripe_customer_id, "open"))
    stripe_api.down("invoices")
    with pytest.raises(stripe.APIError):
        deliver(gateway, "invoice.payment_failed", failed, event_id="evt_crash")
    with pytest.raises(StripeEvent.DoesNotExist):
        StripeEvent.get("evt_crash")
    assert billing_refusal(Site.get("site-a", consistent_read=True)) is None

    stripe_api.up("invoices")
    assert deliver(gateway, "invoice.payment_failed", failed, event_id="evt_crash").action == (
        "handled"
    )
    assert billing_refusal(Site.get("site-a", consistent_read=True)) == PAYMENT_FAILED
    assert StripeEvent.get("evt_crash").type == "invoice.payment_failed"


def test_invoice_events_are_handed_to_the_callback_once_each(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    seen: list[str] = []
    for kind, status in (("invoice.created", "draft"), ("invoice.finalized", "open")):
        obj = stripe_api.add_invoice(invoice("in_test0007", site.stripe_customer_id, status))
        for _ in range(2):
            deliver(
                gateway,
                kind,
                obj,
                event_id=f"evt_{kind}",
                on_invoice=lambda i: seen.append(i.status),
            )
    assert seen == ["draft", "open"]


def test_an_invoice_of_a_customer_of_no_site_is_ignored(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    save_card(cloud.settings, stripe_api)
    gateway = StripeGateway.from_settings(cloud.settings)
    other = gateway.client.v1.customers.create(params={"metadata": {"site_id": "site-b"}})
    seen = []
    result = deliver(
        gateway, "invoice.payment_failed", invoice("in_x", other.id, "open"), on_invoice=seen.append
    )
    assert result.action == "ignored" and seen == []
    assert Site.get("site-b").billing_blocked_reason is None


def test_settings_without_stripe_need_none_of_its_variables():
    settings = Settings.from_env(
        {var: "x" for var in Settings._ENV.values()} | {"AWS_REGION": "eu-central-1"}
    )
    assert settings.stripe_secret_id is None
    assert settings.stripe_api_key is None and settings.stripe_webhook_secret is None
