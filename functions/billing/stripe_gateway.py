"""The Stripe calls billing makes, each with the idempotency key that makes a retry safe.

Nothing sent identifies a patient or a person: a customer carries the site's id and
name (an organisation), a meter event the site's customer, the task's UUID and the
charged amount.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from pynamodb.exceptions import UpdateError

from functions.billing.metering import MeterEvent
from functions.billing.stripe_secret import with_stripe_secret
from functions.core.errors import ConfigurationError
from functions.core.models import Site
from functions.core.settings import Settings
from functions.core.task_store import condition_failed

logger = logging.getLogger(__name__)

RETRYABLE = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    stripe.AuthenticationError,
    stripe.PermissionError,
    stripe.IdempotencyError,
)
"""Errors a later attempt can get past: an outage, throttling, a key being rotated."""


DEFAULT_METER_EVENT = "yarracloud_compute"


@dataclass(frozen=True)
class BillingContact:
    """Where Stripe sends a site's invoices and dunning mail (an organisation, not a person)."""

    email: str
    line1: str
    city: str
    postal_code: str
    country: str
    """ISO 3166-1 alpha-2."""
    line2: str = ""

    def customer_params(self) -> dict[str, Any]:
        address = {
            "line1": self.line1,
            "city": self.city,
            "postal_code": self.postal_code,
            "country": self.country,
        }
        if self.line2:
            address["line2"] = self.line2
        return {"email": self.email, "address": address}


class BillingNotConfigured(Exception):
    """A ``stripe`` site needs Stripe, and this deployment has no Stripe key."""


def check_set_up(gateway: StripeGateway) -> None:
    """Refuse to start when Stripe lacks what billing needs (not when it cannot be reached).

    Raises
    ------
    ConfigurationError
        Saying what is missing and how to make it.
    """
    try:
        problems = gateway.problems()
    except RETRYABLE as exc:
        logger.warning("Stripe's set-up could not be checked: %s", type(exc).__name__)
        return
    if problems:
        raise ConfigurationError(
            "Stripe is not set up for billing: "
            + "; ".join(problems)
            + ". Run `scripts/admin stripe setup` (docs/runbook.md, Stripe set-up)."
        )


def customer_key(site_id: str) -> str:
    return f"yc-customer-{site_id}"


def meter_key(task_id: str) -> str:
    return f"yc-meter-{task_id}"


@dataclass
class StripeGateway:
    """Stripe's API as billing uses it; ``client`` is a :class:`stripe.StripeClient`."""

    client: Any
    meter_event: str
    price_id: str
    """The metered Price a site is subscribed to once its card is saved."""
    currency: str = "usd"
    """The rates' currency: Checkout's and the Price's."""
    meter_id: str | None = None
    """The Billing Meter's id, for its event summaries."""

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        """The gateway of this deployment.

        Raises
        ------
        BillingNotConfigured
            When the Stripe secret holds no key or no Price.
        """
        missing = [
            name
            for name, value in (
                ("restricted API key", settings.stripe_api_key),
                ("Price", settings.stripe_price_id),
            )
            if not value
        ]
        if missing:
            raise BillingNotConfigured(
                f"Stripe billing is not configured: the secret {settings.stripe_secret_id}"
                f" holds no {' and no '.join(missing)}; run `scripts/admin stripe setup`"
            )
        return cls.create(
            str(settings.stripe_api_key),
            settings.stripe_api_base,
            settings.stripe_meter_event,
            price_id=str(settings.stripe_price_id),
            currency=settings.rates.currency,
            meter_id=settings.stripe_meter_id,
        )

    @classmethod
    def create(
        cls,
        api_key: str,
        api_base: str | None = None,
        meter_event: str = DEFAULT_METER_EVENT,
        *,
        price_id: str,
        currency: str = "usd",
        meter_id: str | None = None,
    ) -> StripeGateway:
        """A gateway with its own client; ``api_base`` points it away from Stripe's address."""
        bases = {"api": api_base, "meter_events": api_base} if api_base else {}
        client = stripe.StripeClient(
            api_key,
            base_addresses=bases,  # type: ignore[arg-type]
            # The outbox retries with backoff; a call that fails here fails fast.
            max_network_retries=0,
        )
        return cls(
            client=client,
            meter_event=meter_event,
            price_id=price_id,
            currency=currency.lower(),
            meter_id=meter_id,
        )

    def problems(self) -> list[str]:
        """What of the set-up Stripe does not hold (empty when all is there), in words.

        The functions and the portal call it at start; ``scripts/admin stripe setup``
        makes what is missing.
        """
        try:
            price = self.client.v1.prices.retrieve(self.price_id).to_dict()
        except stripe.InvalidRequestError:
            return [f"the Price {self.price_id} does not exist in this Stripe account"]
        found = []
        if not price.get("active", True):
            found.append(f"the Price {self.price_id} is archived")
        if price.get("currency") != self.currency:
            found.append(
                f"the Price {self.price_id} is in {str(price.get('currency')).upper()}, the"
                f" rates in {self.currency.upper()}"
            )
        meter_id = (price.get("recurring") or {}).get("meter")
        try:
            meter = self.client.v1.billing.meters.retrieve(str(meter_id)).to_dict()
        except stripe.InvalidRequestError:
            return [*found, f"the Price {self.price_id} has no meter that exists"]
        if meter.get("event_name") != self.meter_event:
            found.append(
                f"the Price's meter {meter_id} sums {meter.get('event_name')!r}, not"
                f" {self.meter_event!r}"
            )
        return found

    # -- customers -------------------------------------------------------------------

    def ensure_customer(self, site: Site, contact: BillingContact | None = None) -> str:
        """The site's Stripe customer id, creating the customer the first time.

        The idempotency key is the site's own, so two concurrent first calls get
        the same customer from Stripe; the conditional write keeps the first id.
        ``contact`` is set on the customer (created or not) when given.
        """
        if site.stripe_customer_id:
            if contact is not None:
                self.client.v1.customers.update(
                    site.stripe_customer_id, params=contact.customer_params()
                )
            return site.stripe_customer_id
        params: dict[str, Any] = {"name": site.name, "metadata": {"site_id": site.site_id}}
        if contact is not None:
            params.update(contact.customer_params())
        customer = self.client.v1.customers.create(
            params=params, options={"idempotency_key": customer_key(site.site_id)}
        )
        try:
            site.update(
                actions=[Site.stripe_customer_id.set(customer.id)],
                condition=Site.stripe_customer_id.does_not_exist(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            site.refresh(consistent_read=True)
            return site.stripe_customer_id or customer.id
        logger.info("stripe customer created", extra={"site_id": site.site_id})
        return customer.id

    def customer(self, customer_id: str) -> dict[str, Any]:
        """The customer as Stripe holds it now."""
        return self.client.v1.customers.retrieve(customer_id).to_dict()

    # -- what Stripe holds now ---------------------------------------------------------

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        """The invoice as Stripe holds it now (an event's copy may be older)."""
        return self.client.v1.invoices.retrieve(invoice_id).to_dict()

    def unpaid_invoices(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's open invoices whose collection was tried and failed."""
        page = self.client.v1.invoices.list(
            params={"customer": customer_id, "status": "open", "limit": 100}
        )
        return [
            invoice
            for invoice in (i.to_dict() for i in page.auto_paging_iter())
            if int(invoice.get("attempt_count") or 0) > 0
        ]

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription as Stripe holds it now."""
        return self.client.v1.subscriptions.retrieve(subscription_id).to_dict()

    # -- cards -----------------------------------------------------------------------

    def setup_session(self, site: Site, *, success_url: str, cancel_url: str) -> str:
        """A Checkout Session in ``setup`` mode that saves a card; returns its URL."""
        customer = self.ensure_customer(site)
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer,
                "currency": self.currency,
                "payment_method_types": ["card"],
                "client_reference_id": site.site_id,
                "metadata": {"site_id": site.site_id},
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
        return session.url

    def portal_session(self, customer_id: str, *, return_url: str) -> str:
        """A Stripe Customer Portal session (cards, invoices, billing details); its URL."""
        session = self.client.v1.billing_portal.sessions.create(
            params={"customer": customer_id, "return_url": return_url}
        )
        return session.url

    def make_default_payment_method(self, customer_id: str, setup_intent_id: str) -> str:
        """Make the card a completed setup saved the customer's default; returns its id."""
        intent = self.client.v1.setup_intents.retrieve(setup_intent_id)
        payment_method = intent.to_dict().get("payment_method")
        if isinstance(payment_method, dict):
            payment_method = payment_method.get("id")
        self.client.v1.customers.update(
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method}},
            options={"idempotency_key": f"yc-default-pm-{setup_intent_id}"},
        )
        return str(payment_method)

    def ensure_subscription(self, site: Site, customer_id: str, setup_id: str) -> str:
        """Subscribe the customer to the metered price, once; returns the subscription's id.

        ``setup_id`` (the card's set-up) is in the idempotency key: a site whose
        subscription ended gets a new one with its next card.
        """
        if site.stripe_subscription_id:
            return site.stripe_subscription_id
        subscription = self.client.v1.subscriptions.create(
            params={
                "customer": customer_id,
                "items": [{"price": self.price_id}],
                "metadata": {"site_id": site.site_id},
            },
            options={"idempotency_key": f"yc-subscription-{site.site_id}-{setup_id}"},
        )
        try:
            site.update(
                actions=[Site.stripe_subscription_id.set(subscription.id)],
                condition=Site.stripe_subscription_id.does_not_exist(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        logger.info("stripe subscription created", extra={"site_id": site.site_id})
        return subscription.id

    # -- usage -----------------------------------------------------------------------

    def meter_total(self, customer_id: str, start: int, end: int) -> int:
        """What the meter summed for the customer in ``[start, end)`` (whole minutes)."""
        if not self.meter_id:
            raise BillingNotConfigured("the Stripe secret holds no meter id")
        page = self.client.v1.billing.meters.event_summaries.list(
            self.meter_id, params={"customer": customer_id, "start_time": start, "end_time": end}
        )
        return round(sum(float(s.aggregated_value) for s in page.auto_paging_iter()))

    def send_meter_event(self, event: MeterEvent, customer_id: str) -> bool:
        """Report one job's charged cost; the task UUID lets Stripe drop a repeat.

        Returns False when Stripe already holds an event with this identifier: an
        earlier try reached Stripe but was not recorded here, and Stripe no longer
        replays that try's answer by its idempotency key (it may drop keys after 24
        hours). Stripe keeps the event it has, so the report is in.
        """
        try:
            self.client.v1.billing.meter_events.create(
                params={
                    "event_name": self.meter_event,
                    "identifier": event.task_id,
                    "timestamp": int(event.timestamp),
                    "payload": {
                        "stripe_customer_id": customer_id,
                        "value": str(event.value_micros),
                    },
                },
                options={"idempotency_key": meter_key(event.task_id)},
            )
        except stripe.InvalidRequestError as exc:
            if not held_already(exc, event.task_id):
                raise
            return False
        return True


def held_already(exc: stripe.InvalidRequestError, identifier: str) -> bool:
    """Whether Stripe refused a meter event because it holds one with ``identifier``.

    Stripe answers 400 ``invalid_request_error`` with no error code and the message
    "An event already exists with identifier <identifier>.", so the message is all
    there is to go by; one naming another identifier is a refusal like any other.
    """
    return exc.http_status == 400 and (
        f"An event already exists with identifier {identifier}." in (exc.user_message or "")
    )


def gateway_from_secret(settings: Settings, secretsmanager: Any, log: Any) -> StripeGateway | None:
    """The gateway that Stripe's secret configures, read once per cold start.

    ``None``, with the reason logged at info, where this deployment does not bill
    through Stripe (the secret holds no key or no Price): a function then has nothing
    to send, which is no error.
    """
    try:
        return StripeGateway.from_settings(with_stripe_secret(settings, secretsmanager))
    except BillingNotConfigured as exc:
        log.info(str(exc))
        return None
