"""Stripe's webhook events: cards, invoices, subscriptions. Framework-free.

The portal's ``POST /stripe/webhook`` hands the raw body and the ``Stripe-Signature``
header to :func:`handle`. The signature is checked with Stripe's own
``construct_event`` (300 s tolerance).

Stripe delivers events late, twice and out of order, so an event is only a cue: what
is applied is the state Stripe holds *now* (the invoice, subscription or customer
fetched, and for a site's block every open invoice whose payment failed). Two events
applied in either order leave the same state. The event's id is recorded in the
stripe-events table in the same DynamoDB transaction as the change it guards: a
replay is ignored, and a crash before the write leaves nothing recorded, so Stripe's
retry applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.billing.access import ACTION_REQUIRED, PAYMENT_FAILED
from functions.billing.stripe_gateway import StripeGateway
from functions.core.clock import Clock, system_clock
from functions.core.models import Site, StripeEvent

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
KEEP_EVENTS_SECONDS = 30 * 24 * 3600
"""Longer than Stripe retries an event (three days)."""
INVOICE_EVENTS = frozenset(
    {
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "invoice.voided",
        "invoice.marked_uncollectible",
    }
)
SUBSCRIPTION_EVENTS = frozenset({"customer.subscription.updated", "customer.subscription.deleted"})
PAYMENT_METHOD_EVENTS = frozenset({"customer.updated", "payment_method.detached"})
HANDLED_EVENTS: tuple[str, ...] = tuple(
    sorted({"checkout.session.completed"} | INVOICE_EVENTS | SUBSCRIPTION_EVENTS)
    + sorted(PAYMENT_METHOD_EVENTS)
)
"""Every event type :func:`handle` acts on: the webhook endpoint subscribes to these."""
ENDED_SUBSCRIPTION = frozenset({"canceled", "incomplete_expired", "paused"})
"""Subscription statuses under which nothing more is invoiced: the site needs a new card."""
CONDITION_FAILED = "ConditionalCheckFailed"


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


@dataclass(frozen=True)
class Change:
    """What an event changes on its site (nothing when ``site_id`` is None)."""

    site_id: str | None = None
    actions: Sequence[Any] = field(default_factory=tuple)


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
    if _seen(event_id):
        logger.info("stripe event replayed; ignored", extra={"event_id": event_id})
        return WebhookResult(event_id, kind, "replayed")
    change = _change(kind, data["data"], gateway, on_invoice)
    now = clock()
    record = StripeEvent(
        event_id, type=kind, received_at=now, expires_at=int(now + KEEP_EVENTS_SECONDS)
    )
    try:
        with TransactWrite(connection=Connection(region=StripeEvent.Meta.region)) as transaction:
            transaction.save(record, condition=StripeEvent.event_id.does_not_exist())
            if change.site_id and change.actions:
                transaction.update(
                    Site(change.site_id), list(change.actions), condition=Site.site_id.exists()
                )
    except TransactWriteError as exc:
        first = (exc.cancellation_reasons or [None])[0]
        if first is not None and first.code == CONDITION_FAILED:
            logger.info("stripe event applied concurrently; ignored", extra={"event_id": event_id})
            return WebhookResult(event_id, kind, "replayed")
        raise
    action = "handled" if change.site_id else "ignored"
    return WebhookResult(event_id, kind, action, change.site_id)


def _seen(event_id: str) -> bool:
    try:
        StripeEvent.get(event_id, consistent_read=True)
    except DoesNotExist:
        return False
    return True


def _change(
    kind: str, data: dict[str, Any], gateway: StripeGateway, on_invoice: InvoiceCallback
) -> Change:
    obj = data["object"]
    if kind == "checkout.session.completed":
        return _setup_completed(obj, gateway)
    if kind in INVOICE_EVENTS:
        return _invoice_changed(kind, obj, gateway, on_invoice)
    if kind in SUBSCRIPTION_EVENTS:
        return _subscription_changed(obj, gateway)
    if kind in PAYMENT_METHOD_EVENTS:
        # A customer names itself; a detached card names its former customer only in
        # the previous attributes.
        previous = data.get("previous_attributes") or {}
        customer = obj.get("id") if kind == "customer.updated" else obj.get("customer")
        return _payment_method_changed(customer or previous.get("customer"), gateway)
    return Change()


def _setup_completed(session: dict[str, Any], gateway: StripeGateway) -> Change:
    """A card saved through Checkout: make it the default and let the site submit."""
    if session.get("mode") != "setup" or not session.get("setup_intent"):
        return Change()
    site_id = session.get("client_reference_id") or (session.get("metadata") or {}).get("site_id")
    site = _site(site_id)
    customer = session.get("customer")
    if site is None or not customer or site.stripe_customer_id != customer:
        logger.warning("checkout session for no known site's customer ignored")
        return Change()
    gateway.make_default_payment_method(customer, session["setup_intent"])
    gateway.ensure_subscription(site, customer, session["setup_intent"])
    logger.info("card saved", extra={"site_id": site.site_id})
    return Change(site.site_id, [Site.payment_method_valid.set(True)])


def _invoice_changed(
    kind: str, event_copy: dict[str, Any], gateway: StripeGateway, on_invoice: InvoiceCallback
) -> Change:
    """The invoice as Stripe holds it now to the portal; the site blocked while one is unpaid."""
    customer = event_copy.get("customer")
    site = _site_of_customer(customer, gateway)
    if site is None or not customer:
        return Change()
    current = gateway.invoice(event_copy["id"])
    on_invoice(invoice_record(current, site.site_id))
    if not gateway.unpaid_invoices(customer):
        if site.billing_blocked_reason:
            logger.info("no unpaid invoice; site unblocked", extra={"site_id": site.site_id})
        return Change(site.site_id, [Site.billing_blocked_reason.remove()])
    needs_action = kind == "invoice.payment_action_required" and current.get("status") == "open"
    logger.warning("an invoice is unpaid; site blocked", extra={"site_id": site.site_id})
    reason = ACTION_REQUIRED if needs_action else PAYMENT_FAILED
    return Change(site.site_id, [Site.billing_blocked_reason.set(reason)])


def _subscription_changed(event_copy: dict[str, Any], gateway: StripeGateway) -> Change:
    """A site whose subscription ended needs a new card (and with it a new subscription)."""
    site = _site_of_customer(event_copy.get("customer"), gateway)
    if site is None or site.stripe_subscription_id != event_copy.get("id"):
        return Change()
    current = gateway.subscription(event_copy["id"])
    if current.get("status") not in ENDED_SUBSCRIPTION:
        return Change(site.site_id)
    logger.warning("subscription ended; the site needs a new card", extra={"site_id": site.site_id})
    return Change(
        site.site_id,
        [Site.stripe_subscription_id.remove(), Site.payment_method_valid.set(False)],
    )


def _payment_method_changed(customer_id: str | None, gateway: StripeGateway) -> Change:
    """Whether the site has a card is whether its customer has a default payment method now."""
    if not customer_id:
        return Change()
    customer = gateway.customer(customer_id)
    site = _site_of(customer)
    if site is None:
        return Change()
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if not default:
        logger.warning("the site's card was removed", extra={"site_id": site.site_id})
    return Change(site.site_id, [Site.payment_method_valid.set(bool(default))])


def _site(site_id: str | None) -> Site | None:
    if not site_id:
        return None
    try:
        return Site.get(site_id, consistent_read=True)
    except DoesNotExist:
        return None


def _site_of_customer(customer_id: str | None, gateway: StripeGateway) -> Site | None:
    """The site whose customer ``customer_id`` is (the customer's metadata names it)."""
    return _site_of(gateway.customer(customer_id)) if customer_id else None


def _site_of(customer: dict[str, Any]) -> Site | None:
    site = _site((customer.get("metadata") or {}).get("site_id"))
    if site is None or site.stripe_customer_id != customer.get("id"):
        logger.warning("event for no known site's customer ignored")
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
