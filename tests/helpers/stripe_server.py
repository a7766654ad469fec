"""A local HTTP server standing in for Stripe's API, and webhook signing for the tests.

It answers Stripe-shaped JSON for the endpoints billing calls, records every request
(method, path, form body, ``Idempotency-Key``), replays the stored answer when an
idempotency key comes again (as Stripe does), and can be switched down per endpoint
(``down("meter_events")``: 503 until ``up``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

API_KEY = "sk_test_yarracloud"
WEBHOOK_SECRET = "whsec_test_yarracloud"


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


class StripeStandIn:
    """Start with ``with StripeStandIn() as stripe_api:``; ``.url`` is the API base."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.state = StripeState()
        self._down: set[str] = set()
        self._replies: dict[str, tuple[int, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

    def up(self, hook: str) -> None:
        self._down.discard(hook)

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

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                key = self.headers.get("Idempotency-Key")
                authorised = self.headers.get("Authorization") == f"Bearer {API_KEY}"
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
                    "metadata": _nested(form, "metadata"),
                    "invoice_settings": {"default_payment_method": None},
                }
                self.state.customers[customer["id"]] = customer
                return 200, customer
            customer = self.state.customers.get(parts[2]) if len(parts) == 3 else None
            if customer is None:
                return 404, _error("invalid_request_error", "No such customer")
            if method == "POST":
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
        if parts == ["v1", "subscriptions"] and method == "POST":
            subscription = {
                "id": self._next("sub"),
                "object": "subscription",
                "customer": form.get("customer"),
                "items": {"data": [{"price": {"id": form.get("items[0][price]")}}]},
                "metadata": _nested(form, "metadata"),
                "status": "active",
            }
            return 200, subscription
        if parts == ["v1", "billing", "meter_events"] and method == "POST":
            identifier = form.get("identifier", "")
            if identifier in self.state.meter_events:
                return 400, _error(
                    "invalid_request_error",
                    f"An event with identifier {identifier} already exists.",
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


def _hook_of(path: str) -> str:
    parts = path.split("?")[0].strip("/").split("/")
    if parts[1:3] == ["checkout", "sessions"]:
        return "checkout_sessions"
    if parts[1:3] == ["billing", "meter_events"]:
        return "meter_events"
    return parts[1] if len(parts) > 1 else ""


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in form.items() if k.startswith(prefix)}


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


def invoice(invoice_id: str, customer: str, status: str, amount: int = 1234) -> dict[str, Any]:
    """A Stripe invoice object with one metered line."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "number": f"YC-{invoice_id[-4:]}",
        "status": status,
        "currency": "usd",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "created": 1764547200,
        "period_start": 1764547200,
        "period_end": 1764547200,
        "hosted_invoice_url": f"https://invoice.stripe.test/{invoice_id}",
        "status_transitions": {"paid_at": 1764550800 if status == "paid" else None},
        "lines": {"data": [{"period": {"start": 1761955200, "end": 1764547200}}]},
    }


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
