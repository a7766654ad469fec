"""``scripts/admin stripe setup`` and ``site billing`` against a local cloud and the Stripe
stand-in: what Stripe and the Stripe secret hold after them, and the mistakes they refuse."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import stripe

from functions.billing.meter_errors import EVENTS as METER_ERROR_EVENTS
from functions.billing.stripe_gateway import StripeGateway
from functions.billing.stripe_secret import read_secret, with_stripe_secret, write_secret
from functions.billing.webhooks import HANDLED_EVENTS
from functions.core.models import BillingOutboxItem, Site
from scripts.admin import main
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.seed import seed_site
from tests.helpers.stripe_server import API_KEY, SETUP_KEY, StripeStandIn, stripe_api

__all__ = ["stripe_api"]

CONTACT = "--email billing@site-a.example --line1 'Hauptstr. 1' --city Berlin"
CONTACT += " --postal-code 10115 --country DE"


@pytest.fixture
def cloud(make_cloud, stripe_api: StripeStandIn) -> LocalCloud:
    cloud = make_cloud(poll=False, settings_overrides={"stripe_api_base": stripe_api.url})
    seed_site("site-a", "Site A", ["alice"], {})
    return cloud


@pytest.fixture
def admin(cloud: LocalCloud, tmp_path: Path, capsys, monkeypatch):
    """Runs the admin command in this process: (exit status, stdout, stderr)."""
    env = {**cloud.client_env(), **cloud.settings.to_env(), "YC_LOCAL_CREDENTIALS": "x"}
    ready = tmp_path / "ready.json"
    ready.write_text(json.dumps(env))
    key_file = tmp_path / "restricted.key"
    key_file.write_text(API_KEY + "\n")
    monkeypatch.setenv("STRIPE_SETUP_KEY", SETUP_KEY)

    def run(command: str) -> tuple[int, str, str]:
        command = command.replace("KEY_FILE", str(key_file))
        status = main(["--cloud", str(ready), *shlex.split(command)])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


SETUP = "stripe setup --portal-url https://portal.example/ --restricted-key-file KEY_FILE"


def creations(stripe_api: StripeStandIn) -> list[str]:
    """The paths of the objects Stripe was asked to create."""
    return [r.path for r in stripe_api.requests if r.method == "POST" and r.path.count("/") == 2]


def test_setup_makes_the_catalogue_once_and_the_functions_read_it_at_start(
    admin, cloud, stripe_api
):
    status, out, err = admin(SETUP)
    assert status == 0, err
    assert (
        sorted(creations(stripe_api))
        == [
            "/v1/prices",
            "/v1/products",
            "/v1/webhook_endpoints",
        ]
        and len(stripe_api.calls("/v1/billing/meters")) == 1
    )
    assert "Stripe is set up" in out

    [meter] = stripe_api.state.meters.values()
    assert meter["event_name"] == "yarracloud_compute"
    assert meter["customer_mapping"]["event_payload_key"] == "stripe_customer_id"
    [price] = stripe_api.state.prices.values()
    assert (price["currency"], price["unit_amount_decimal"]) == ("usd", "0.0001")
    assert price["recurring"] == {
        "interval": "month",
        "usage_type": "metered",
        "meter": meter["id"],
    }
    [destination] = stripe_api.state.event_destinations.values()
    assert destination["webhook_endpoint"]["url"] == "https://portal.example/stripe/meter-errors"
    assert destination["event_payload"] == "thin"
    assert sorted(destination["enabled_events"]) == sorted(METER_ERROR_EVENTS)
    [endpoint] = stripe_api.state.webhook_endpoints.values()
    assert endpoint["url"] == "https://portal.example/stripe/webhook"
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENTS)
    assert endpoint["api_version"] == stripe.api_version

    held = read_secret(cloud.clients.secretsmanager, cloud.settings.stripe_secret_id)
    assert (held["api_key"], held["price_id"], held["meter_id"]) == (
        API_KEY,
        price["id"],
        meter["id"],
    )
    # What a function's cold start reads: the key and ids, none of them in its environment.
    assert not any(API_KEY in value for value in cloud.settings.to_env().values())
    settings = with_stripe_secret(cloud.settings, cloud.clients.secretsmanager)
    assert settings.stripe_webhook_secret == endpoint["secret"]
    assert (
        settings.stripe_event_destination_secret
        == destination["webhook_endpoint"]["signing_secret"]
    )
    assert StripeGateway.from_settings(settings).problems() == []

    before = len(stripe_api.requests)
    status, out, _ = admin(SETUP)
    assert status == 0 and "stored" not in out
    assert [r.method for r in stripe_api.requests[before:]] == ["GET"] * 5  # nothing made


def test_setup_repairs_the_meter_errors_destination_and_replaces_one_it_cannot_verify(
    admin, cloud, stripe_api
):
    assert admin(SETUP)[0] == 0
    [destination] = stripe_api.state.event_destinations.values()
    destination.update(status="disabled", enabled_events=[METER_ERROR_EVENTS[0]])
    status, out, err = admin(SETUP)
    assert status == 0, err
    assert "updated the events" in out and "enabled the event destination" in out
    assert stripe_api.state.event_destinations == {destination["id"]: destination}
    assert destination["status"] == "enabled"
    assert sorted(destination["enabled_events"]) == sorted(METER_ERROR_EVENTS)

    # The signing secret is lost from the secret: Stripe never shows it again.
    secrets = cloud.clients.secretsmanager
    held = read_secret(secrets, cloud.settings.stripe_secret_id)
    del held["event_destination_secret"]
    write_secret(secrets, cloud.settings.stripe_secret_id, held)
    status, out, err = admin(SETUP)
    assert status == 0, err
    [replacement] = stripe_api.state.event_destinations.values()
    assert replacement["id"] != destination["id"]
    held = read_secret(secrets, cloud.settings.stripe_secret_id)
    assert held["event_destination_id"] == replacement["id"]
    assert held["event_destination_secret"] == replacement["webhook_endpoint"]["signing_secret"]


def test_setup_in_another_currency_makes_a_new_price_and_refuses_one_it_cannot_bill(
    admin, cloud, stripe_api
):
    assert admin(SETUP)[0] == 0
    status, _, err = admin(SETUP + " --currency EUR")
    assert status == 0, err
    held = read_secret(cloud.clients.secretsmanager, cloud.settings.stripe_secret_id)
    assert stripe_api.state.prices[held["price_id"]]["currency"] == "eur"
    assert held["currency"] == "eur" and len(stripe_api.state.prices) == 2

    status, _, err = admin(SETUP + " --currency JPY")
    assert status == 2 and "JPY cannot be billed" in err


def test_setup_refuses_a_key_that_is_not_restricted(admin, tmp_path):
    (tmp_path / "restricted.key").write_text("sk_live_everything")
    status, _, err = admin(SETUP)
    assert status == 2 and "no restricted key" in err


def test_a_site_billed_through_stripe_has_its_contact_on_its_customer_and_a_card_link(
    admin, stripe_api
):
    assert admin(SETUP)[0] == 0
    status, _, err = admin("site billing site-a stripe")
    assert status == 2 and "billing e-mail and postal address" in err
    assert Site.get("site-a", consistent_read=True).billing_mode == "none"

    status, out, err = admin(f"site billing site-a stripe {CONTACT}")
    assert status == 0, err
    site = Site.get("site-a", consistent_read=True)
    assert site.billing_mode == "stripe" and not site.payment_method_valid
    customer = stripe_api.state.customers[site.stripe_customer_id]
    assert customer["email"] == "billing@site-a.example"
    assert customer["address"] == {
        "line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    }
    [session] = stripe_api.state.sessions.values()
    assert session["url"] in out and session["mode"] == "setup"
    assert session["success_url"] == "https://portal.example/billing/?card=saved"

    assert admin("site billing site-a none")[0] == 0
    assert Site.get("site-a", consistent_read=True).billing_mode == "none"
    status, _, err = admin(f"site billing site-z stripe {CONTACT}")
    assert status == 2 and "there is no site site-z" in err


def test_resend_rejected_queues_the_refused_reports_again(admin):
    refused = {"task-a1": "site-a", "task-b1": "site-b"}
    for event_id, site_id in [*refused.items(), ("task-a2", "site-a")]:
        BillingOutboxItem(event_id, site_id=site_id, value=5_000, timestamp=1_764_000_000).save()
    for event_id in refused:
        BillingOutboxItem(event_id).update(
            actions=[
                BillingOutboxItem.state.set("rejected"),
                BillingOutboxItem.last_error.set("InvalidRequestError: No such customer"),
            ]
        )
    BillingOutboxItem("task-a2").update(actions=[BillingOutboxItem.state.set("sent")])

    status, out, err = admin("stripe resend-rejected --site site-a")
    assert status == 0, err
    assert "1 rejected usage report(s) of site site-a queued again" in out
    assert [i.event_id for i in BillingOutboxItem.pending_index.query("1")] == ["task-a1"]
    assert BillingOutboxItem.get("task-a2").state == "sent"

    status, out, _ = admin("stripe resend-rejected")
    assert status == 0 and "1 rejected usage report(s) queued again" in out
    assert {i.event_id: i.state for i in BillingOutboxItem.scan()} == {
        "task-a1": "pending",
        "task-b1": "pending",
        "task-a2": "sent",
    }
    assert admin("stripe resend-rejected")[1] == "No rejected usage reports.\n"
