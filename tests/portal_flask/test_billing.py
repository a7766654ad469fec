"""The billing page, the way to Checkout, and Stripe's webhook endpoint in the portal."""

from __future__ import annotations

import json

import pytest

from administration.display import money
from functions.billing.meter_errors import METRIC as METER_ERROR_METRIC
from functions.billing.meter_errors import SERVICE as METER_ERROR_SERVICE
from functions.core.errors import ConfigurationError
from functions.core.models import Site, Task
from portal_flask import create_app
from portal_flask.config import PortalConfig, StripeConfig
from portal_flask.extensions import db
from portal_flask.models import AuditLog, Invoice
from tests.helpers.stripe_server import (
    API_KEY,
    WEBHOOK_SECRET,
    event_payload,
    invoice,
    set_up_account,
    signature_header,
    stripe_api,
)
from tests.portal_flask.helpers import post_form

__all__ = ["stripe_api"]

TASK = "2c9a5f0e-7b1d-4c3e-8f2a-6d5b4c3a2e1f"


@pytest.fixture
def stripe_portal(portal, stripe_api):
    """The portal with Stripe configured to the stand-in, and site-a billed by card."""
    secret = set_up_account(stripe_api)
    stripe = StripeConfig(API_KEY, WEBHOOK_SECRET, secret["price_id"], api_base=stripe_api.url)
    portal.app.config["PORTAL"] = portal.config.with_(stripe=stripe)
    Site("site-a").update(actions=[Site.billing_mode.set("stripe")])
    return portal


def post_event(client, kind: str, obj: dict, event_id: str, secret: str = WEBHOOK_SECRET):
    payload = event_payload(kind, obj, event_id)
    return client.post(
        "/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": signature_header(payload, secret=secret)},
        content_type="application/json",
    )


def test_the_billing_page_shows_prices_and_rules_to_site_admins_only(
    portal, client, make_account, sign_in
):
    sign_in(client, make_account("site_user", "site-a"))
    assert client.get("/billing/").status_code == 403
    other = portal.client()
    sign_in(other, make_account("site_admin", "site-a"))
    page = other.get("/billing/").get_data(as_text=True)
    assert "This site is not charged" in page
    assert "Time lost to a spot reclaim" in page and "Spot per hour" in page
    assert "Add a card" not in page


def test_add_a_card_goes_to_checkout_in_setup_mode(
    stripe_portal, stripe_api, client, make_account, sign_in
):
    sign_in(client, make_account("site_admin", "site-a"))
    page = client.get("/billing/").get_data(as_text=True)
    assert "no valid payment method" in page and "Add a card" in page
    response = post_form(client, "/billing/card", {}, token_from="/billing/")
    assert response.status_code == 303
    [session] = stripe_api.state.sessions.values()
    assert response.headers["Location"] == session["url"]
    assert session["mode"] == "setup" and session["client_reference_id"] == "site-a"
    assert session["success_url"] == "https://localhost/billing/?card=saved"
    with stripe_portal.app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "billing.card"))
        assert entry.target == "site-a"


def test_the_webhook_saves_the_card_and_records_invoices(
    stripe_portal, stripe_api, make_account, sign_in
):
    hook = stripe_portal.client()  # as Stripe calls: not signed in, no CSRF token
    admin = stripe_portal.client()
    sign_in(admin, make_account("site_admin", "site-a"))
    assert post_form(admin, "/billing/card", {}, token_from="/billing/").status_code == 303
    [session_id] = stripe_api.state.sessions
    session = stripe_api.complete_setup(session_id)
    assert post_event(hook, "checkout.session.completed", session, "evt_p1").status_code == 200
    site = Site.get("site-a", consistent_read=True)
    assert site.payment_method_valid

    failed = stripe_api.add_invoice(
        invoice("in_p0001", site.stripe_customer_id, "open", amount=4321)
    )
    assert post_event(hook, "invoice.payment_failed", failed, "evt_p2").status_code == 200
    replay = post_event(hook, "invoice.payment_failed", failed, "evt_p2")
    assert replay.status_code == 200 and replay.get_json()["action"] == "replayed"
    page = admin.get("/billing/").get_data(as_text=True)
    assert "last invoice could not be paid" in page
    assert "$43.21" in page and "YC-0001" in page

    paid = stripe_api.add_invoice(invoice("in_p0001", site.stripe_customer_id, "paid", amount=4321))
    assert post_event(hook, "invoice.paid", paid, "evt_p3").status_code == 200
    with stripe_portal.app.app_context():
        [stored] = db.session.scalars(db.select(Invoice)).all()
        assert (stored.status, stored.amount_paid, stored.site_id) == ("paid", 4321, "site-a")
    assert "could not be paid" not in admin.get("/billing/").get_data(as_text=True)


def test_the_webhook_refuses_what_stripe_did_not_sign(stripe_portal):
    hook = stripe_portal.client()
    obj = invoice("in_p0009", "cus_x", "paid")
    wrong = post_event(hook, "invoice.paid", obj, "evt_p9", secret="whsec_wrong")
    assert wrong.status_code == 400 and "signature" in wrong.get_json()["error"]
    unsigned = hook.post("/stripe/webhook", data=b"{}", content_type="application/json")
    assert unsigned.status_code == 400
    with stripe_portal.app.app_context():
        assert db.session.scalars(db.select(Invoice)).all() == []


@pytest.mark.slow
def test_a_finished_tasks_cost_shows_on_the_billing_page(portal, client, make_account, sign_in):
    sign_in(client, make_account("site_admin", "site-a"))
    portal.uploader.task("alice", TASK)
    task: Task = portal.cloud.wait_for_task(TASK, {"SUCCEEDED", "FAILED"})
    assert task.status == "SUCCEEDED" and task.cost_micros > 0
    page = client.get("/billing/").get_data(as_text=True)
    cost = money(int(task.cost_micros), "USD", places=4)
    assert f'<td class="num" id="site-cost">{cost}</td>' in page


def test_the_operator_bills_a_site_through_stripe_with_its_billing_contact(
    stripe_portal, stripe_api, make_account, sign_in
):
    Site("site-a").update(actions=[Site.billing_mode.set("none")])
    operator = stripe_portal.client()
    sign_in(operator, make_account("operator"))
    contact = {
        "site": "site-a",
        "mode": "stripe",
        "email": "accounts@site-a.example",
        "line1": "1 Main St",
        "city": "Boston",
        "postal_code": "02115",
        "country": "us",
    }
    incomplete = post_form(
        operator, "/admin/sites/billing", {**contact, "city": ""}, token_from="/admin/"
    )
    assert incomplete.status_code == 302
    page = operator.get("/admin/").get_data(as_text=True)
    assert "the billing address has no city" in page
    assert Site.get("site-a", consistent_read=True).billing_mode == "none"

    saved = post_form(operator, "/admin/sites/billing", contact, token_from="/admin/")
    assert saved.status_code == 302
    site = Site.get("site-a", consistent_read=True)
    assert site.billing_mode == "stripe"
    customer = stripe_api.state.customers[site.stripe_customer_id]
    assert customer["email"] == "accounts@site-a.example"
    assert customer["address"]["country"] == "US"
    [session] = stripe_api.state.sessions.values()
    assert session["url"] in operator.get("/admin/").get_data(as_text=True)
    with stripe_portal.app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "site.billing"))
        assert entry.target == "site-a"


def test_the_site_administrator_reaches_stripes_customer_portal(
    stripe_portal, stripe_api, client, make_account, sign_in
):
    sign_in(client, make_account("site_admin", "site-a"))
    assert "customer-portal" not in client.get("/billing/").get_data(as_text=True)
    assert post_form(client, "/billing/card", {}, token_from="/billing/").status_code == 303
    assert 'id="customer-portal"' in client.get("/billing/").get_data(as_text=True)
    response = post_form(client, "/billing/stripe", {}, token_from="/billing/")
    assert response.status_code == 303
    [session] = stripe_api.state.portal_sessions.values()
    assert response.headers["Location"] == session["url"]
    site = Site.get("site-a", consistent_read=True)
    assert session["customer"] == site.stripe_customer_id
    assert session["return_url"] == "https://localhost/billing/"


def test_a_payment_the_bank_wants_confirmed_is_shown_on_the_billing_page(
    stripe_portal, stripe_api, client, make_account, sign_in
):
    sign_in(client, make_account("site_admin", "site-a"))
    assert post_form(client, "/billing/card", {}, token_from="/billing/").status_code == 303
    site = Site.get("site-a", consistent_read=True)
    bill = stripe_api.add_invoice(invoice("in_p0020", site.stripe_customer_id, "open"))
    hook = stripe_portal.client()
    assert post_event(hook, "invoice.payment_action_required", bill, "evt_a1").status_code == 200
    page = client.get("/billing/").get_data(as_text=True)
    assert "bank asks to confirm the payment" in page
    assert "https://invoice.stripe.test/in_p0020" in page


def test_the_portal_reads_stripe_from_its_secret_and_says_what_is_missing(
    seeded_cloud, stripe_api, tmp_path
):
    secret = set_up_account(stripe_api)
    cloud, _ = seeded_cloud(
        poll=False, settings_overrides={"stripe_api_base": stripe_api.url}, stripe_secret=secret
    )
    env = {
        **cloud.client_env(),
        **cloud.settings.to_env(),
        "YC_PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "YC_PORTAL_SECRET_KEY": "test-secret-key-0123456789abcdef",
    }
    assert not [name for name, value in env.items() if API_KEY in value or "whsec" in value]
    config = PortalConfig.from_env(env)
    assert config.stripe == StripeConfig(
        API_KEY,
        WEBHOOK_SECRET,
        secret["price_id"],
        "usd",
        stripe_api.url,
        event_destination_secret=secret["event_destination_secret"],
    )
    create_app(config.with_(auto_migrate=True))

    del stripe_api.state.prices[secret["price_id"]]
    with pytest.raises(ConfigurationError, match=f"the Price {secret['price_id']} does not exist"):
        create_app(config)


def emitted(output: str, name: str) -> list[dict]:
    """The EMF records in ``output`` that carry the metric ``name``."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [r for r in records if name in r]


def test_an_event_stripe_drops_after_taking_it_raises_the_meter_errors_metric(
    portal, stripe_api, client, capfd
):
    secret = set_up_account(stripe_api)
    stripe = StripeConfig(
        API_KEY,
        WEBHOOK_SECRET,
        secret["price_id"],
        api_base=stripe_api.url,
        event_destination_secret=secret["event_destination_secret"],
    )
    portal.app.config["PORTAL"] = portal.config.with_(stripe=stripe)
    gateway = stripe.gateway()
    gateway.client.v1.billing.meter_events.create(
        params={
            "event_name": "yarracloud_compute",
            "identifier": TASK,
            "payload": {"stripe_customer_id": "cus_gone", "value": "1500"},
            "timestamp": 1764547200,
        }
    )
    capfd.readouterr()
    stripe_api.fail_meter_event(TASK)

    def sink(payload: bytes, signature: str):
        return client.post(
            "/stripe/meter-errors",
            data=payload,
            headers={"Stripe-Signature": signature},
            content_type="application/json",
        )

    [answer] = stripe_api.deliver_notifications(sink)
    assert answer.status_code == 200 and answer.get_json()["error_count"] == 1
    [metric] = emitted(capfd.readouterr().out, METER_ERROR_METRIC)
    assert metric[METER_ERROR_METRIC] == [1.0] and metric["service"] == METER_ERROR_SERVICE
    assert metric["error_codes"] == {"meter_event_customer_not_found": 1}
    assert TASK not in json.dumps(metric) and "cus_gone" not in json.dumps(metric)

    # A body Stripe did not sign, or signed with the webhook endpoint's secret, counts nothing.
    [event_id] = stripe_api.state.v2_events
    thin = json.dumps({**stripe_api.state.v2_events[event_id], "data": None}).encode()
    for signature in ("t=1,v1=00", signature_header(thin, secret=WEBHOOK_SECRET)):
        refused = sink(thin, signature)
        assert refused.status_code == 400 and "signature" in refused.get_json()["error"]
    assert emitted(capfd.readouterr().out, METER_ERROR_METRIC) == []
