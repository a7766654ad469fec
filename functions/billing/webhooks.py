"""Stripe's webhook events: a saved card, a failed payment, invoices. Framework-free.

The portal's ``POST /stripe/webhook`` hands the raw body and the ``Stripe-Signature``
header to :func:`handle`. The signature is checked with Stripe's own
``construct_event`` (300 s tolerance); an event already handled is recognised by its
id (a conditional put in the stripe-events table) and ignored, so Stripe's retries
and replays change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from pynamodb.exceptions import DoesNotExist, PutError

from functions.billing.access import PAYMENT_FAILED
from functions.billing.stripe_gateway import StripeGateway
from functions.core.clock import Clock, system_clock
from functions.core.models import Site, StripeEvent
from functions.core.task_store import condition_failed

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
KEEP_EVENTS_SECONDS = 30 * 24 * 3600
"""Longer than Stripe retries an event (three days)."""
INVOICE_EVENTS = frozenset(
    {"invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_failed"}
)


class WebhookRejected(Exception):
    """The request is not a genuine, fresh Stripe event (HTTP 400); nothing was changed."""


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice as the portal lists it; amounts in the currency's smallest unit."""

    stripe_invoice_id: str
    site_id: str
    number: str | None
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    period_start: datetime | None
    period_end: datetime | None
    hosted_invoice_url: str | None
    created_at: datetime | None
    paid_at: datetime | None


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    action: str
    """``handled``, ``replayed`` or ``ignored``."""
    site_id: str | None = None


InvoiceCallback = Callable[[InvoiceRecord], None]


def handle(
    payload: bytes,
    signature: str | None,
    *,
    secret: str,
    gateway: StripeGateway,
    on_invoice: InvoiceCallback = lambda invoice: None,
    clock: Clock = system_clock,
) -> WebhookResult:
    """Verify and apply one webhook delivery.

    Raises
    ------
    WebhookRejected
        Signature missing, wrong, or older than 300 s; or a body that is not an event.
    """
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"the Stripe signature does not verify: {exc.user_message}") from None
    except ValueError:
        raise WebhookRejected("the body is not a Stripe event") from None
    data = event.to_dict()
    event_id, kind = data["id"], data["type"]
    now = clock()
    try:
        StripeEvent(
            event_id, type=kind, received_at=now, expires_at=int(now + KEEP_EVENTS_SECONDS)
        ).save(condition=StripeEvent.event_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        logger.info("stripe event replayed; ignored", extra={"event_id": event_id})
        return WebhookResult(event_id, kind, "replayed")
    try:
        return _apply(event_id, kind, data["data"]["object"], gateway, on_invoice)
    except Exception:
        # Not handled after all: Stripe's retry of the event must be applied.
        StripeEvent(event_id).delete()
        raise


def _apply(
    event_id: str,
    kind: str,
    obj: dict[str, Any],
    gateway: StripeGateway,
    on_invoice: InvoiceCallback,
) -> WebhookResult:
    if kind == "checkout.session.completed":
        site = _setup_completed(obj, gateway)
        return WebhookResult(event_id, kind, "handled" if site else "ignored", site)
    if kind in INVOICE_EVENTS:
        site = _site_of_customer(obj.get("customer"), gateway)
        if site is None:
            return WebhookResult(event_id, kind, "ignored")
        on_invoice(invoice_record(obj, site.site_id))
        if kind == "invoice.payment_failed" and obj.get("status") != "paid":
            site.update(actions=[Site.billing_blocked_reason.set(PAYMENT_FAILED)])
            logger.warning("invoice payment failed; site blocked", extra={"site_id": site.site_id})
        elif kind == "invoice.paid" and site.billing_blocked_reason:
            site.update(actions=[Site.billing_blocked_reason.remove()])
            logger.info("invoice paid; site unblocked", extra={"site_id": site.site_id})
        return WebhookResult(event_id, kind, "handled", site.site_id)
    return WebhookResult(event_id, kind, "ignored")


def _setup_completed(session: dict[str, Any], gateway: StripeGateway) -> str | None:
    """A card saved through Checkout: make it the default and let the site submit."""
    if session.get("mode") != "setup" or not session.get("setup_intent"):
        return None
    site_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("site_id")
    site = _site(site_id)
    customer = session.get("customer")
    if site is None or not customer or site.stripe_customer_id != customer:
        logger.warning("checkout session for no known site's customer ignored")
        return None
    gateway.make_default_payment_method(customer, session["setup_intent"])
    gateway.ensure_subscription(site, customer)
    site.update(actions=[Site.payment_method_valid.set(True)])
    logger.info("card saved", extra={"site_id": site.site_id})
    return site.site_id


def _site(site_id: str | None) -> Site | None:
    if not site_id:
        return None
    try:
        return Site.get(site_id, consistent_read=True)
    except DoesNotExist:
        return None


def _site_of_customer(customer: str | None, gateway: StripeGateway) -> Site | None:
    """The site whose customer ``customer`` is (the customer's metadata names it)."""
    if not customer:
        return None
    site = _site(gateway.customer_site_id(customer))
    if site is None or site.stripe_customer_id != customer:
        logger.warning("invoice event for no known site's customer ignored")
        return None
    return site


def invoice_record(invoice: dict[str, Any], site_id: str) -> InvoiceRecord:
    """The portal's view of a Stripe invoice object."""
    transitions = invoice.get("status_transitions") or {}
    period = _first_line_period(invoice)
    return InvoiceRecord(
        stripe_invoice_id=invoice["id"],
        site_id=site_id,
        number=invoice.get("number"),
        status=invoice.get("status") or "draft",
        currency=(invoice.get("currency") or "usd").lower(),
        amount_due=int(invoice.get("amount_due") or 0),
        amount_paid=int(invoice.get("amount_paid") or 0),
        period_start=_time(period.get("start") or invoice.get("period_start")),
        period_end=_time(period.get("end") or invoice.get("period_end")),
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        created_at=_time(invoice.get("created")),
        paid_at=_time(transitions.get("paid_at")),
    )


def _first_line_period(invoice: dict[str, Any]) -> dict[str, Any]:
    """The usage period of a metered invoice is its line's, not the invoice's own."""
    lines = ((invoice.get("lines") or {}).get("data")) or []
    return (lines[0].get("period") or {}) if lines else {}


def _time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None
