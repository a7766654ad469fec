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


class BillingNotConfigured(Exception):
    """A ``stripe`` site needs Stripe, and this deployment has no Stripe key."""


def customer_key(site_id: str) -> str:
    return f"yc-customer-{site_id}"


def meter_key(task_id: str) -> str:
    return f"yc-meter-{task_id}"


@dataclass
class StripeGateway:
    """Stripe's API as billing uses it; ``client`` is a :class:`stripe.StripeClient`."""

    client: Any
    meter_event: str
    price_id: str | None = None
    """The metered Price a site is subscribed to; no subscription is made when None."""

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        """The gateway of this deployment.

        Raises
        ------
        BillingNotConfigured
            When no Stripe key is set.
        """
        if not settings.stripe_api_key:
            raise BillingNotConfigured(
                "Stripe billing is not configured: set YC_STRIPE_API_KEY (and"
                " YC_STRIPE_WEBHOOK_SECRET for the portal's webhook)"
            )
        return cls.create(
            settings.stripe_api_key,
            settings.stripe_api_base,
            settings.stripe_meter_event,
            price_id=settings.stripe_price_id,
        )

    @classmethod
    def create(
        cls,
        api_key: str,
        api_base: str | None = None,
        meter_event: str = DEFAULT_METER_EVENT,
        *,
        price_id: str | None = None,
    ) -> StripeGateway:
        """A gateway with its own client; ``api_base`` points it away from Stripe's address."""
        bases = {"api": api_base, "meter_events": api_base} if api_base else {}
        client = stripe.StripeClient(
            api_key,
            base_addresses=bases,  # type: ignore[arg-type]
            # The outbox retries with backoff; a call that fails here fails fast.
            max_network_retries=0,
        )
        return cls(client=client, meter_event=meter_event, price_id=price_id)

    # -- customers -------------------------------------------------------------------

    def ensure_customer(self, site: Site) -> str:
        """The site's Stripe customer id, creating the customer the first time.

        The idempotency key is the site's own, so two concurrent first calls get
        the same customer from Stripe; the conditional write keeps the first id.
        """
        if site.stripe_customer_id:
            return site.stripe_customer_id
        customer = self.client.v1.customers.create(
            params={"name": site.name, "metadata": {"site_id": site.site_id}},
            options={"idempotency_key": customer_key(site.site_id)},
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

    def customer_site_id(self, customer_id: str) -> str | None:
        """The site a customer was created for (from its metadata)."""
        customer = self.client.v1.customers.retrieve(customer_id)
        return (customer.to_dict().get("metadata") or {}).get("site_id")

    # -- cards -----------------------------------------------------------------------

    def setup_session(self, site: Site, *, success_url: str, cancel_url: str) -> str:
        """A Checkout Session in ``setup`` mode that saves a card; returns its URL."""
        customer = self.ensure_customer(site)
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer,
                "currency": "usd",
                "payment_method_types": ["card"],
                "client_reference_id": site.site_id,
                "metadata": {"site_id": site.site_id},
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
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

    def ensure_subscription(self, site: Site, customer_id: str) -> str | None:
        """Subscribe the customer to the metered price, once; its id (None: no price set)."""
        if self.price_id is None:
            return None
        if site.stripe_subscription_id:
            return site.stripe_subscription_id
        subscription = self.client.v1.subscriptions.create(
            params={
                "customer": customer_id,
                "items": [{"price": self.price_id}],
                "metadata": {"site_id": site.site_id},
            },
            options={"idempotency_key": f"yc-subscription-{site.site_id}"},
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

    def send_meter_event(self, event: MeterEvent, customer_id: str) -> None:
        """Report one job's charged cost; the task UUID lets Stripe drop a repeat."""
        self.client.v1.billing.meter_events.create(
            params={
                "event_name": self.meter_event,
                "identifier": event.task_id,
                "timestamp": int(event.timestamp),
                "payload": {"stripe_customer_id": customer_id, "value": str(event.value_micros)},
            },
            options={"idempotency_key": meter_key(event.task_id)},
        )
