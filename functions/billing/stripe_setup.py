"""Makes, idempotently, what billing needs in a Stripe account, and records its ids.

``scripts/admin stripe setup`` runs :meth:`StripeSetup.run`:

- a Billing Meter whose ``event_name`` is the meter event, summing the payload's
  ``value`` per customer (``stripe_customer_id``);
- a Product, with a fixed id, and a monthly metered Price on the meter in the
  currency of the one rate table (``Settings.rates.currency``), found again by its
  lookup key; a different amount or currency makes a new Price that takes the key;
- the portal's webhook endpoint with every event the handler acts on, at the API
  version this code is pinned to (:data:`stripe.api_version`); an endpoint at
  another version, or whose signing secret is not held, is replaced;
- the portal's event destination for Stripe's meter error reports (thin events, see
  :mod:`functions.billing.meter_errors`); one whose signing secret is not held is
  replaced;
- the Secrets Manager secret, holding the restricted key, the signing secret and
  these ids (:mod:`functions.billing.stripe_secret`).

Running it again changes nothing that is already right.

Amounts: usage is reported in micro-units of the currency (millionths), and the
Price charges ``0.0001`` of the currency's smallest unit per micro-unit, so only a
currency with two decimals (USD, EUR, GBP, …) can be billed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stripe

from functions.billing.meter_errors import EVENTS as METER_ERROR_EVENTS
from functions.billing.stripe_secret import read_secret, write_secret
from functions.billing.webhooks import HANDLED_EVENTS
from functions.core.errors import ConfigurationError

PRODUCT_ID = "yarracloud-compute"
UNIT_AMOUNT_DECIMAL = "0.0001"
"""Smallest currency units (cents) per micro-unit of the currency."""
TWO_DECIMAL_CURRENCIES = frozenset({"usd", "eur", "gbp", "chf", "aud", "cad", "nzd", "sek"})
WEBHOOK_PATH = "/stripe/webhook"
METER_ERRORS_PATH = "/stripe/meter-errors"
EVENT_DESTINATION_NAME = "yarracloud-meter-errors"


def price_lookup_key(currency: str) -> str:
    return f"yarracloud-compute-{currency.lower()}"


@dataclass
class StripeSetup:
    """The set-up, with a client holding a key allowed to write the catalogue."""

    client: stripe.StripeClient
    secretsmanager: Any
    secret_id: str
    say: Callable[[str], None] = print
    api_version: str = field(default_factory=lambda: stripe.api_version)

    def run(
        self, *, portal_url: str, currency: str, restricted_key: str, meter_event: str
    ) -> dict[str, str]:
        """Make or update everything and store it in the secret; returns what it holds."""
        held = read_secret(self.secretsmanager, self.secret_id)
        values = self.make(
            portal_url=portal_url,
            currency=currency,
            restricted_key=restricted_key,
            meter_event=meter_event,
            held=held,
        )
        if values != held:
            write_secret(self.secretsmanager, self.secret_id, values)
            self.say(f"stored the key and ids in the secret {self.secret_id}")
        return values

    def make(
        self,
        *,
        portal_url: str,
        currency: str,
        restricted_key: str,
        meter_event: str,
        held: dict[str, str],
    ) -> dict[str, str]:
        """Make or update the Stripe objects; returns the secret's values (``held``: its own).

        Raises
        ------
        ConfigurationError
            A currency that cannot be billed by the micro-unit.
        """
        currency = currency.lower()
        if currency not in TWO_DECIMAL_CURRENCIES:
            raise ConfigurationError(
                f"the rates' currency {currency.upper()} cannot be billed: usage is charged"
                " by the millionth of a currency with two decimals"
                f" ({', '.join(sorted(c.upper() for c in TWO_DECIMAL_CURRENCIES))})"
            )
        meter = self._meter(meter_event)
        self._product()
        price = self._price(meter["id"], currency)
        endpoint_id, signing_secret = self._webhook_endpoint(
            portal_url.rstrip("/") + WEBHOOK_PATH, held
        )
        destination_id, destination_secret = self._event_destination(
            portal_url.rstrip("/") + METER_ERRORS_PATH, held
        )
        return {
            "api_key": restricted_key,
            "webhook_secret": signing_secret,
            "meter_event": meter_event,
            "meter_id": meter["id"],
            "product_id": PRODUCT_ID,
            "price_id": price["id"],
            "currency": currency,
            "webhook_endpoint_id": endpoint_id,
            "event_destination_secret": destination_secret,
            "event_destination_id": destination_id,
            "api_version": self.api_version,
            "portal_url": portal_url.rstrip("/"),
        }

    def _meter(self, event_name: str) -> dict[str, Any]:
        for meter in self.client.v1.billing.meters.list(
            params={"status": "active", "limit": 100}
        ).auto_paging_iter():
            if meter.event_name == event_name:
                return meter.to_dict()
        meter = self.client.v1.billing.meters.create(
            params={
                "display_name": "YarraCloud compute",
                "event_name": event_name,
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
                "value_settings": {"event_payload_key": "value"},
            }
        )
        self.say(f"created the meter {meter.id} ({event_name})")
        return meter.to_dict()

    def _product(self) -> None:
        try:
            self.client.v1.products.retrieve(PRODUCT_ID)
        except stripe.InvalidRequestError:
            self.client.v1.products.create(
                params={"id": PRODUCT_ID, "name": "YarraCloud reconstruction compute"}
            )
            self.say(f"created the product {PRODUCT_ID}")

    def _price(self, meter_id: str, currency: str) -> dict[str, Any]:
        key = price_lookup_key(currency)
        for price in self.client.v1.prices.list(
            params={"lookup_keys": [key], "active": True}
        ).auto_paging_iter():
            found = price.to_dict()
            if (
                found.get("currency") == currency
                and (found.get("recurring") or {}).get("meter") == meter_id
                and str(found.get("unit_amount_decimal")) == UNIT_AMOUNT_DECIMAL
            ):
                return found
        price = self.client.v1.prices.create(
            params={
                "product": PRODUCT_ID,
                "currency": currency,
                "unit_amount_decimal": UNIT_AMOUNT_DECIMAL,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
                "billing_scheme": "per_unit",
                "lookup_key": key,
                "transfer_lookup_key": True,
            }
        )
        self.say(f"created the price {price.id} ({currency.upper()}, by the micro-unit)")
        return price.to_dict()

    def _webhook_endpoint(self, url: str, held: dict[str, str]) -> tuple[str, str]:
        """The endpoint's id and signing secret (Stripe shows a secret only when it creates one)."""
        events = list(HANDLED_EVENTS)
        stale = []
        for endpoint in self.client.v1.webhook_endpoints.list(
            params={"limit": 100}
        ).auto_paging_iter():
            if endpoint.url != url:
                continue
            usable = (
                endpoint.id == held.get("webhook_endpoint_id")
                and held.get("webhook_secret")
                and endpoint.to_dict().get("api_version") == self.api_version
            )
            if not usable:
                stale.append(endpoint.id)
                continue
            if sorted(endpoint.enabled_events or []) != sorted(events):
                self.client.v1.webhook_endpoints.update(
                    endpoint.id, params={"enabled_events": events}
                )
                self.say(f"updated the events of the webhook endpoint {endpoint.id}")
            return endpoint.id, held["webhook_secret"]
        created = self.client.v1.webhook_endpoints.create(
            params={
                "url": url,
                "enabled_events": events,
                "api_version": self.api_version,
                "description": "YarraCloud portal",
            }
        )
        self.say(f"created the webhook endpoint {created.id} ({url})")
        for endpoint_id in stale:
            self.client.v1.webhook_endpoints.delete(endpoint_id)
            self.say(f"deleted the webhook endpoint {endpoint_id}, replaced")
        return created.id, str(created.secret)

    def _event_destination(self, url: str, held: dict[str, str]) -> tuple[str, str]:
        """The meter errors destination's id and signing secret (shown only when created)."""
        events = list(METER_ERROR_EVENTS)
        destinations = self.client.v2.core.event_destinations
        stale = []
        for destination in destinations.list(
            params={"include": ["webhook_endpoint.url"]}
        ).auto_paging_iter():
            found = destination.to_dict()
            if (found.get("webhook_endpoint") or {}).get("url") != url:
                continue
            usable = found["id"] == held.get("event_destination_id") and held.get(
                "event_destination_secret"
            )
            if not usable or found.get("event_payload") != "thin":
                stale.append(found["id"])
                continue
            if sorted(found.get("enabled_events") or []) != sorted(events):
                destinations.update(found["id"], params={"enabled_events": events})
                self.say(f"updated the events of the event destination {found['id']}")
            if found.get("status") == "disabled":
                destinations.enable(found["id"])
                self.say(f"enabled the event destination {found['id']}")
            return found["id"], held["event_destination_secret"]
        created = destinations.create(
            params={
                "name": EVENT_DESTINATION_NAME,
                "description": "YarraCloud portal: Stripe's meter error reports",
                "type": "webhook_endpoint",
                "event_payload": "thin",
                "enabled_events": events,
                "webhook_endpoint": {"url": url},
                "include": ["webhook_endpoint.signing_secret"],
            }
        ).to_dict()
        self.say(f"created the event destination {created['id']} ({url})")
        for destination_id in stale:
            destinations.delete(destination_id)
            self.say(f"deleted the event destination {destination_id}, replaced")
        return created["id"], str(created["webhook_endpoint"]["signing_secret"])
