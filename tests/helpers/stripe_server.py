"""A local HTTP server standing in for Stripe's API, and webhook signing for the tests.

It answers Stripe-shaped JSON for the endpoints billing calls, records every request
(method, path, form body, ``Idempotency-Key``), replays the stored answer when an
idempotency key comes again (as Stripe does, until it forgets the key after 24 hours:
:meth:`StripeStandIn.forget_idempotency_keys`), and can be switched down per endpoint
(``down("meter_events")``: 503 until ``up``) or made to refuse its requests
(``refuse("meter_events", message)``: 400 until ``up``).

Like Stripe, it keeps meters that sum their events per customer (``event_summaries``),
bills a month's metered usage as an invoice that is paid, fails, or asks for the
card holder's action, and queues the webhook events each change causes; a test
delivers them in any order and as often as it likes (:meth:`StripeStandIn.deliver`).
A meter event can be dropped after it was accepted, with an error report, as
Stripe's asynchronous validation does (:meth:`StripeStandIn.fail_meter_event`); the
report is announced as a thin event (``v1.billing.meter.error_report_triggered``) to
the event destinations that enabled it, fetched from ``/v2/core/events/{id}``
(:meth:`StripeStandIn.deliver_notifications`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

API_KEY = "rk_test_yarracloud"
"""The restricted key the functions and the portal use."""
SETUP_KEY = "sk_test_yarracloud"
"""The key ``scripts/admin stripe setup`` makes the catalogue with."""
WEBHOOK_SECRET = "whsec_test_yarracloud"
PORTAL_URL = "https://portal.test"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None
    raw: bytes
    status: int


@dataclass
class StripeState:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    setup_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Accepted meter events by identifier."""
    meter_errors: list[dict[str, Any]] = field(default_factory=list)
    """Meter events dropped after they were accepted, as Stripe's error reports list them."""
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    v2_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Events of API v2 (thin), whole, by id."""
    notifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Thin notifications not yet delivered: (destination id, body)."""
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every event Stripe raised, in the order it raised them."""
    delivered: int = 0
    """How many of ``events`` :meth:`StripeStandIn.deliver` has handed out."""


Sink = Callable[[bytes, str], Any]
"""Where webhook deliveries go: ``(payload, Stripe-Signature header) -> answer``."""


class StripeStandIn:
    """Start with ``with StripeStandIn() as stripe_api:``; ``.url`` is the API base."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.state = StripeState()
        self._down: set[str] = set()
        self._refusals: dict[str, str] = {}
        self._replies: dict[str, tuple[int, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_invoice(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Hold ``obj`` (see :func:`invoice`) as one of Stripe's invoices."""
        with self._lock:
            self.state.invoices[obj["id"]] = obj
            return obj

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StripeStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- faults ----------------------------------------------------------------------

    def down(self, hook: str) -> None:
        """Answer 503 at ``hook`` (customers, checkout_sessions, setup_intents, meter_events)."""
        self._down.add(hook)

    def refuse(self, hook: str, message: str) -> None:
        """Answer 400 ``invalid_request_error`` with ``message`` at ``hook`` (a bad request)."""
        self._refusals[hook] = message

    def up(self, hook: str) -> None:
        self._down.discard(hook)
        self._refusals.pop(hook, None)

    def forget_idempotency_keys(self) -> None:
        """Drop the stored answers, as Stripe does with keys older than 24 hours."""
        with self._lock:
            self._replies.clear()

    # -- Stripe's own doings ------------------------------------------------------------

    def fail_meter_event(
        self, identifier: str, code: str = "meter_event_customer_not_found"
    ) -> None:
        """Drop an accepted meter event, as Stripe's asynchronous validation does.

        The error report goes, as a thin event, to every enabled event destination
        that takes ``v1.billing.meter.error_report_triggered``.
        """
        with self._lock:
            event = self.state.meter_events.pop(identifier)
            self.state.meter_errors.append({"identifier": identifier, "code": code, **event})
            [meter] = [
                m for m in self.state.meters.values() if m["event_name"] == event["event_name"]
            ]
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            thin = {
                "id": self._next("evt"),
                "object": "v2.core.event",
                "type": "v1.billing.meter.error_report_triggered",
                "created": now,
                "livemode": False,
                "context": None,
                "reason": None,
                "related_object": {
                    "id": meter["id"],
                    "type": "billing.meter",
                    "url": f"/v1/billing/meters/{meter['id']}",
                },
            }
            message = f"No customer for the meter event {identifier}."
            self.state.v2_events[thin["id"]] = {
                **thin,
                "data": {
                    "developer_message_summary": message,
                    "validation_start": now,
                    "validation_end": now,
                    "reason": {
                        "error_count": 1,
                        "error_types": [
                            {
                                "code": code,
                                "error_count": 1,
                                "sample_errors": [
                                    {
                                        "error_message": message,
                                        "request": {"identifier": identifier},
                                    }
                                ],
                            }
                        ],
                    },
                },
            }
            for destination in self.state.event_destinations.values():
                if (
                    destination["status"] == "enabled"
                    and thin["type"] in (destination["enabled_events"])
                ):
                    self.state.notifications.append((destination["id"], thin))

    def bill_period(self, customer_id: str, start: int, end: int, outcome: str = "paid") -> str:
        """Invoice the customer's metered usage in ``[start, end)``; returns the invoice's id.

        ``outcome``: ``paid``, ``failed`` (the card was declined) or ``action_required``
        (the bank asks the card holder to confirm). Raises the events Stripe raises.
        """
        with self._lock:
            [subscription] = [
                s
                for s in self.state.subscriptions.values()
                if s["customer"] == customer_id and s["status"] == "active"
            ]
            price = self.state.prices[subscription["items"]["data"][0]["price"]["id"]]
            meter = self.state.meters[price["recurring"]["meter"]]
            units = self._summed(meter, customer_id, start, end)
            amount = int(
                (Decimal(units) * Decimal(price["unit_amount_decimal"])).quantize(
                    Decimal(1), ROUND_HALF_EVEN
                )
            )
            invoice_id = self._next("in")
            bill = invoice(invoice_id, customer_id, "draft", amount, currency=price["currency"])
            bill.update(
                subscription=subscription["id"],
                created=end,
                period_start=start,
                period_end=end,
                lines={"data": [{"period": {"start": start, "end": end}, "quantity": units}]},
            )
            self.state.invoices[invoice_id] = bill
            self._raise("invoice.created", bill)
            bill["status"] = "open"
            self._raise("invoice.finalized", bill)
            bill["attempt_count"] = 1
            if outcome == "paid":
                self._settle(bill, "paid")
            elif outcome == "failed":
                self._raise("invoice.payment_failed", bill)
            else:
                self._raise("invoice.payment_action_required", bill)
            return invoice_id

    def settle_invoice(self, invoice_id: str, status: str) -> None:
        """The invoice is ``paid``, ``void`` or ``uncollectible`` (a retry, an operator)."""
        with self._lock:
            self._settle(self.state.invoices[invoice_id], status)

    def detach_card(self, customer_id: str) -> None:
        """The customer's card is removed (in the Customer Portal or the Dashboard)."""
        with self._lock:
            customer = self.state.customers[customer_id]
            card = customer["invoice_settings"]["default_payment_method"]
            customer["invoice_settings"]["default_payment_method"] = None
            self._raise(
                "payment_method.detached",
                {"id": card, "object": "payment_method", "customer": None},
                previous={"customer": customer_id},
            )
            self._raise("customer.updated", customer)

    def cancel_subscription(self, subscription_id: str) -> None:
        """The subscription ends (cancelled in the Dashboard, or after failed retries)."""
        with self._lock:
            self._cancel(subscription_id)

    def deliver(
        self, sink: Sink, *, order: Callable[[list], Iterable] = list, times: int = 1
    ) -> list[Any]:
        """Send the events raised since the last delivery to ``sink``, signed.

        ``order`` rearranges them (``reversed``: newest first), ``times`` sends each
        that often: Stripe promises neither order nor a single delivery.
        """
        with self._lock:
            fresh = self.state.events[self.state.delivered :]
            self.state.delivered = len(self.state.events)
        answers = []
        for event in order(fresh):
            payload = json.dumps(event).encode()
            for _ in range(times):
                answers.append(sink(payload, signature_header(payload)))
        return answers

    def deliver_notifications(self, sink: Sink) -> list[Any]:
        """Send the thin notifications raised since the last delivery to ``sink``, each
        signed with its destination's secret as Stripe signs them (``Stripe-Signature``)."""
        with self._lock:
            fresh, self.state.notifications = self.state.notifications, []
            secrets = {
                d["id"]: d["webhook_endpoint"]["signing_secret"]
                for d in self.state.event_destinations.values()
            }
        answers = []
        for destination_id, body in fresh:
            payload = json.dumps(body).encode()
            answers.append(sink(payload, signature_header(payload, secrets[destination_id])))
        return answers

    def _settle(self, bill: dict[str, Any], status: str) -> None:
        bill["status"] = status
        if status == "paid":
            bill["amount_paid"] = bill["amount_due"]
            bill["status_transitions"] = {"paid_at": bill["period_end"] + 3600}
        kind = {"paid": "invoice.paid", "void": "invoice.voided"}.get(
            status, "invoice.marked_uncollectible"
        )
        self._raise(kind, bill)

    def _cancel(self, subscription_id: str) -> dict[str, Any]:
        subscription = self.state.subscriptions[subscription_id]
        subscription["status"] = "canceled"
        self._raise("customer.subscription.deleted", subscription)
        return subscription

    def _raise(self, kind: str, obj: dict[str, Any], previous: dict | None = None) -> None:
        """Queue the event Stripe raises for a change, with a copy of the object as it is."""
        event = json.loads(event_payload(kind, json.loads(json.dumps(obj)), self._next("evt")))
        if previous:
            event["data"]["previous_attributes"] = previous
        self.state.events.append(event)

    def _summed(self, meter: dict[str, Any], customer_id: str, start: int, end: int) -> int:
        key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        return sum(
            int(e["payload"][value_key])
            for e in self.state.meter_events.values()
            if e["event_name"] == meter["event_name"]
            and e["payload"].get(key) == customer_id
            and start <= e["timestamp"] < end
        )

    # -- what the tests look at --------------------------------------------------------

    def calls(self, path: str, *, status: int | None = 200) -> list[Recorded]:
        """Recorded requests to ``path`` (answered ``status``; None for any)."""
        return [
            r for r in self.requests if r.path == path and (status is None or r.status == status)
        ]

    def complete_setup(self, session_id: str) -> dict[str, Any]:
        """The checkout session as Stripe sends it once the card was entered."""
        with self._lock:
            session = self.state.sessions[session_id]
            session.update(status="complete")
            return dict(session)

    # -- serving ---------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                query = urlsplit(self.path).query
                if raw and self.path.startswith("/v2/"):
                    form = json.loads(raw)  # API v2 takes JSON bodies
                else:
                    form = dict(parse_qsl(raw.decode() or query, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                authorised = self.headers.get("Authorization") in (
                    f"Bearer {API_KEY}",
                    f"Bearer {SETUP_KEY}",
                )
                status, body = stand_in._answer(method, self.path, form, key, authorised)
                with stand_in._lock:
                    stand_in.requests.append(Recorded(method, self.path, form, key, raw, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _answer(
        self, method: str, path: str, form: dict[str, str], key: str | None, authorised: bool
    ) -> tuple[int, dict[str, Any]]:
        if not authorised:
            return 401, _error("invalid_request_error", "Invalid API Key provided")
        hook = _hook_of(path)
        if hook in self._down:
            return 503, _error("api_error", "Stripe is unavailable (stand-in switched down)")
        if hook in self._refusals:
            return 400, _error("invalid_request_error", self._refusals[hook])
        with self._lock:
            if method == "POST" and key and key in self._replies:
                return self._replies[key]
            answer = self._route(method, path, form)
            if method == "POST" and key and answer[0] < 500:
                self._replies[key] = answer
            return answer

    def _next(self, prefix: str) -> str:
        return f"{prefix}_test{next(self._ids):04d}"

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:2] == ["v1", "customers"]:
            if method == "POST" and len(parts) == 2:
                customer = {
                    "id": self._next("cus"),
                    "object": "customer",
                    "name": form.get("name"),
                    "email": None,
                    "address": None,
                    "metadata": _nested(form, "metadata"),
                    "invoice_settings": {"default_payment_method": None},
                }
                customer.update(_contact(form))
                self.state.customers[customer["id"]] = customer
                return 200, customer
            customer = self.state.customers.get(parts[2]) if len(parts) == 3 else None
            if customer is None:
                return 404, _error("invalid_request_error", "No such customer")
            if method == "POST":
                customer.update(_contact(form))
                default = form.get("invoice_settings[default_payment_method]")
                if default is not None:
                    customer["invoice_settings"]["default_payment_method"] = default
            return 200, customer
        if parts[:3] == ["v1", "checkout", "sessions"] and method == "POST":
            session_id = self._next("cs")
            intent = {
                "id": self._next("seti"),
                "object": "setup_intent",
                "customer": form.get("customer"),
                "payment_method": self._next("pm"),
                "status": "succeeded",
            }
            self.state.setup_intents[intent["id"]] = intent
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"),
                "metadata": _nested(form, "metadata"),
                "setup_intent": intent["id"],
                "status": "open",
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "url": f"{self.url}/pay/{session_id}",
            }
            self.state.sessions[session_id] = session
            return 200, session
        if parts[:2] == ["v1", "setup_intents"] and len(parts) == 3:
            intent = self.state.setup_intents.get(parts[2])
            if intent is None:
                return 404, _error("invalid_request_error", "No such setupintent")
            return 200, intent
        if parts[:2] == ["v1", "subscriptions"]:
            return self._subscriptions(method, parts[2:], form)
        if parts[:2] == ["v1", "invoices"]:
            if len(parts) == 3:
                return _found(self.state.invoices.get(parts[2]), "invoice")
            listed = [
                i
                for i in self.state.invoices.values()
                if i["customer"] == form.get("customer")
                and form.get("status") in (None, i["status"])
            ]
            return 200, _page(listed, "/v1/invoices")
        if parts[:3] == ["v2", "core", "event_destinations"]:
            return self._event_destinations(method, parts[3:], form, path)
        if parts[:3] == ["v2", "core", "events"] and len(parts) == 4:
            return _found(self.state.v2_events.get(parts[3]), "event")
        if parts[:3] == ["v1", "billing", "meters"]:
            return self._meters(method, parts[3:], form)
        if parts[:2] in (["v1", "products"], ["v1", "prices"], ["v1", "webhook_endpoints"]):
            return self._catalogue(method, parts[1], parts[2:], form)
        if parts == ["v1", "billing_portal", "sessions"] and method == "POST":
            session = {
                "id": self._next("bps"),
                "object": "billing_portal.session",
                "customer": form.get("customer"),
                "return_url": form.get("return_url"),
            }
            session["url"] = f"{self.url}/portal/{session['id']}"
            self.state.portal_sessions[session["id"]] = session
            return 200, session
        if parts == ["v1", "billing", "meter_events"] and method == "POST":
            identifier = form.get("identifier", "")
            if identifier in self.state.meter_events:
                # Stripe's answer: no error code, the identifier in the message.
                return 400, _error(
                    "invalid_request_error",
                    f"An event already exists with identifier {identifier}.",
                )
            event = {
                "object": "billing.meter_event",
                "event_name": form.get("event_name"),
                "identifier": identifier,
                "payload": _nested(form, "payload"),
                "timestamp": int(form.get("timestamp", "0")),
                "created": int(time.time()),
                "livemode": False,
            }
            self.state.meter_events[identifier] = event
            return 200, event
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({path})")

    def _subscriptions(
        self, method: str, rest: list[str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if not rest and method == "POST":
            price = form.get("items[0][price]")
            if price not in self.state.prices:
                return 400, _error("invalid_request_error", f"No such price: '{price}'")
            subscription = {
                "id": self._next("sub"),
                "object": "subscription",
                "customer": form.get("customer"),
                "items": {"data": [{"price": {"id": price}}]},
                "metadata": _nested(form, "metadata"),
                "status": "active",
            }
            self.state.subscriptions[subscription["id"]] = subscription
            return 200, subscription
        subscription = self.state.subscriptions.get(rest[0]) if rest else None
        if subscription is not None and method == "DELETE":
            return 200, self._cancel(subscription["id"])
        return _found(subscription, "subscription")

    def _event_destinations(
        self, method: str, rest: list[str], form: dict[str, Any], path: str
    ) -> tuple[int, dict[str, Any]]:
        """API v2's event destinations; the signing secret only in the create answer."""
        store = self.state.event_destinations
        if not rest and method == "POST":
            destination_id = self._next("ed")
            destination = {
                "id": destination_id,
                "object": "v2.core.event_destination",
                "name": form["name"],
                "description": form.get("description", ""),
                "type": form["type"],
                "event_payload": form["event_payload"],
                "enabled_events": list(form["enabled_events"]),
                "status": "enabled",
                "livemode": False,
                "webhook_endpoint": {
                    "url": form["webhook_endpoint"]["url"],
                    "signing_secret": f"whsec_test_{destination_id}",
                },
            }
            store[destination["id"]] = destination
            shown = "webhook_endpoint.signing_secret" in form.get("include", [])
            return 200, _redacted(destination, url=True, secret=shown)
        if not rest:
            listed = [_redacted(d, url="webhook_endpoint.url" in path) for d in store.values()]
            return 200, {"data": listed, "next_page_url": None, "previous_page_url": None}
        destination = store.get(rest[0])
        if destination is None:
            return 404, _error("not_found", f"No such event destination: {rest[0]}")
        if method == "DELETE":
            del store[destination["id"]]
            return 200, {"id": destination["id"], "object": destination["object"]}
        if rest[1:] == ["enable"]:
            destination["status"] = "enabled"
        elif method == "POST":
            destination.update({k: v for k, v in form.items() if k != "include"})
        return 200, _redacted(destination, url="webhook_endpoint.url" in path)

    def _meters(
        self, method: str, rest: list[str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if not rest and method == "POST":
            meter = {
                "id": self._next("mtr"),
                "object": "billing.meter",
                "display_name": form.get("display_name"),
                "event_name": form.get("event_name"),
                "default_aggregation": {"formula": form.get("default_aggregation[formula]")},
                "customer_mapping": {
                    "type": form.get("customer_mapping[type]"),
                    "event_payload_key": form.get("customer_mapping[event_payload_key]"),
                },
                "value_settings": {
                    "event_payload_key": form.get("value_settings[event_payload_key]", "value")
                },
                "status": "active",
            }
            if any(m["event_name"] == meter["event_name"] for m in self.state.meters.values()):
                return 400, _error("invalid_request_error", "A meter with this event_name exists")
            self.state.meters[meter["id"]] = meter
            return 200, meter
        if not rest:
            return 200, _page(list(self.state.meters.values()), "/v1/billing/meters")
        meter = self.state.meters.get(rest[0])
        if meter is None or rest[1:] != ["event_summaries"]:
            return _found(meter if len(rest) == 1 else None, "billing.meter")
        start, end = int(form["start_time"]), int(form["end_time"])
        summary = {
            "id": self._next("mtrusg"),
            "object": "billing.meter_event_summary",
            "meter": meter["id"],
            "start_time": start,
            "end_time": end,
            "aggregated_value": float(self._summed(meter, form["customer"], start, end)),
        }
        return 200, _page([summary], f"/v1/billing/meters/{meter['id']}/event_summaries")

    def _catalogue(
        self, method: str, kind: str, rest: list[str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Products, prices and webhook endpoints: created, listed, retrieved, updated."""
        store = getattr(self.state, kind)
        if not rest and method == "GET":
            listed = list(store.values())
            keys = [v for k, v in form.items() if k.startswith("lookup_keys[")]
            if keys:
                listed = [p for p in listed if p.get("lookup_key") in keys]
            if form.get("active") == "true":
                listed = [p for p in listed if p.get("active", True)]
            return 200, _page(listed, f"/v1/{kind}")
        if not rest and method == "POST":
            prefix = {"products": "prod", "prices": "price", "webhook_endpoints": "we"}[kind]
            obj = {"id": form.get("id") or self._next(prefix), "active": True}
            store[obj["id"]] = obj
        else:
            obj = store.get(rest[0]) if rest else None
            if obj is not None and method == "DELETE":
                del store[obj["id"]]
                return 200, {"id": obj["id"], "object": obj["object"], "deleted": True}
            if obj is None or method == "GET":
                return _found(obj, kind)
        obj.update(_unflattened(form))
        obj["object"] = {"webhook_endpoints": "webhook_endpoint"}.get(kind, kind[:-1])
        if kind == "webhook_endpoints" and "secret" not in obj:
            obj["secret"] = WEBHOOK_SECRET
        if "active" in form:
            obj["active"] = form["active"] == "true"
        return 200, obj


def _hook_of(path: str) -> str:
    parts = path.split("?")[0].strip("/").split("/")
    if parts[1:3] == ["checkout", "sessions"]:
        return "checkout_sessions"
    if parts[1:3] == ["billing", "meter_events"]:
        return "meter_events"
    return parts[1] if len(parts) > 1 else ""


def _redacted(destination: dict[str, Any], *, url: bool, secret: bool = False) -> dict[str, Any]:
    """An event destination as API v2 answers: its URL and secret only when included."""
    endpoint = destination["webhook_endpoint"]
    return {
        **destination,
        "webhook_endpoint": {
            "url": endpoint["url"] if url else None,
            "signing_secret": endpoint["signing_secret"] if secret else None,
        },
    }


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in form.items() if k.startswith(prefix)}


def _unflattened(form: dict[str, str]) -> dict[str, Any]:
    """A form body (``a[b]=1``, ``e[0]=x``) as the nested object it encodes."""
    result: dict[str, Any] = {}
    for key, value in form.items():
        names = key.replace("]", "").split("[")
        node = result
        for name, after in itertools.pairwise(names):
            node = node.setdefault(name, [] if after.isdigit() else {})
            if isinstance(node, list):
                break
        if isinstance(node, list):
            node.append(value)
        else:
            node[names[-1]] = value
    return result


def _contact(form: dict[str, str]) -> dict[str, Any]:
    """The e-mail and address a customer create or update sets."""
    given = _unflattened(form)
    return {key: given[key] for key in ("email", "address") if key in given}


def _found(obj: dict[str, Any] | None, kind: str) -> tuple[int, dict[str, Any]]:
    if obj is None:
        return 404, _error("invalid_request_error", f"No such {kind}")
    return 200, obj


def _page(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


# -- webhooks ------------------------------------------------------------------------


def signature_header(
    payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it: HMAC-SHA256 of ``t.payload``."""
    at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def event_payload(kind: str, obj: dict[str, Any], event_id: str) -> bytes:
    """A webhook body as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    ).encode()


def invoice(
    invoice_id: str, customer: str, status: str, amount: int = 1234, currency: str = "usd"
) -> dict[str, Any]:
    """A Stripe invoice object with one metered line."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "number": f"YC-{invoice_id[-4:]}",
        "status": status,
        "currency": currency,
        "amount_due": amount,
        "attempt_count": 0 if status == "draft" else 1,
        "amount_paid": amount if status == "paid" else 0,
        "created": 1764547200,
        "period_start": 1764547200,
        "period_end": 1764547200,
        "hosted_invoice_url": f"https://invoice.stripe.test/{invoice_id}",
        "status_transitions": {"paid_at": 1764550800 if status == "paid" else None},
        "lines": {"data": [{"period": {"start": 1761955200, "end": 1764547200}}]},
    }


def set_up_account(stand_in: StripeStandIn, currency: str = "usd") -> dict[str, str]:
    """Set the stand-in's account up as ``scripts/admin stripe setup`` does; the secret's values."""
    from functions.billing.stripe_setup import StripeSetup

    client = stripe.StripeClient(SETUP_KEY, base_addresses={"api": stand_in.url})
    return StripeSetup(client, secretsmanager=None, secret_id="", say=lambda _: None).make(
        portal_url=PORTAL_URL,
        currency=currency,
        restricted_key=API_KEY,
        meter_event="yarracloud_compute",
        held={},
    )


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch):
    """Stripe's API on loopback; every request it gets is in ``.requests``.

    Import it into a conftest or test module to use it.
    """
    for scheme in ("http", "https", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    with StripeStandIn() as server:
        yield server
