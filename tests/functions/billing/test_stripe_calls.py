"""The exact requests billing makes to Stripe, with their idempotency keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.billing.metering import MeterEvent
from functions.billing.stripe_gateway import BillingNotConfigured, StripeGateway, check_set_up
from functions.core.errors import ConfigurationError
from functions.core.models import Site
from tests.functions.billing.helpers import save_card

TASK = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"


def test_one_customer_per_site_created_once(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    gateway = StripeGateway.from_settings(cloud.settings)
    first = gateway.ensure_customer(Site.get("site-a"))
    again = gateway.ensure_customer(Site.get("site-a", consistent_read=True))
    assert first == again == Site.get("site-a", consistent_read=True).stripe_customer_id
    [create] = stripe_api.calls("/v1/customers")
    assert create.method == "POST"
    assert create.idempotency_key == "yc-customer-site-a"
    assert create.form == {"name": "Site A", "metadata[site_id]": "site-a"}


def test_a_lost_answer_gets_the_same_customer_back(billing_cloud, stripe_api):
    """A retry after Stripe created the customer but the site never stored it."""
    cloud, _ = billing_cloud(poll=False)
    gateway = StripeGateway.from_settings(cloud.settings)
    first = gateway.ensure_customer(Site.get("site-a"))
    Site("site-a").update(actions=[Site.stripe_customer_id.remove()])
    assert gateway.ensure_customer(Site.get("site-a", consistent_read=True)) == first
    assert len(stripe_api.state.customers) == 1


def test_saving_a_card_uses_checkout_in_setup_mode(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    [session] = stripe_api.calls("/v1/checkout/sessions")
    assert session.form == {
        "mode": "setup",
        "customer": site.stripe_customer_id,
        "currency": "usd",
        "payment_method_types[0]": "card",
        "client_reference_id": "site-a",
        "metadata[site_id]": "site-a",
        "success_url": "https://portal.test/billing/?saved=1",
        "cancel_url": "https://portal.test/billing/",
    }
    assert session.idempotency_key  # every POST carries one
    [intent_id] = stripe_api.state.setup_intents
    [default] = stripe_api.calls(f"/v1/customers/{site.stripe_customer_id}")
    assert default.idempotency_key == f"yc-default-pm-{intent_id}"
    assert default.form == {
        "invoice_settings[default_payment_method]": stripe_api.state.setup_intents[intent_id][
            "payment_method"
        ]
    }


def test_a_meter_event_carries_the_task_the_customer_and_micro_usd(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    gateway = StripeGateway.from_settings(cloud.settings)
    customer = gateway.ensure_customer(Site.get("site-a"))
    gateway.send_meter_event(MeterEvent(TASK, "site-a", 123_456, 1_764_000_000), customer)
    [sent] = stripe_api.calls("/v1/billing/meter_events")
    assert sent.idempotency_key == f"yc-meter-{TASK}"
    assert sent.form == {
        "event_name": "yarracloud_compute",
        "identifier": TASK,
        "timestamp": "1764000000",
        "payload[stripe_customer_id]": customer,
        "payload[value]": "123456",
    }


def test_a_saved_card_subscribes_the_customer_to_the_metered_price_once(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    site = save_card(cloud.settings, stripe_api)
    save_card(cloud.settings, stripe_api)  # a second card later: still one subscription
    [subscribe] = stripe_api.calls("/v1/subscriptions")
    [first_setup, _] = stripe_api.state.setup_intents
    assert subscribe.idempotency_key == f"yc-subscription-site-a-{first_setup}"
    assert subscribe.form == {
        "customer": site.stripe_customer_id,
        "items[0][price]": cloud.settings.stripe_price_id,
        "metadata[site_id]": "site-a",
    }
    assert Site.get("site-a", consistent_read=True).stripe_subscription_id.startswith("sub_")


def test_the_set_up_is_checked_and_what_is_missing_is_said(billing_cloud, stripe_api):
    cloud, _ = billing_cloud(poll=False)
    gateway = StripeGateway.from_settings(cloud.settings)
    assert gateway.problems() == []
    gone = replace(gateway, price_id="price_gone")
    assert gone.problems() == ["the Price price_gone does not exist in this Stripe account"]
    with pytest.raises(ConfigurationError, match=r"price_gone does not exist.*stripe setup"):
        check_set_up(gone)
    euro = replace(gateway, currency="eur")
    assert euro.problems() == [f"the Price {gateway.price_id} is in USD, the rates in EUR"]
    with pytest.raises(BillingNotConfigured, match="holds no restricted API key"):
        StripeGateway.from_settings(replace(cloud.settings, stripe_api_key=None))
