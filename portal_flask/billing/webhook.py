"""``POST /stripe/webhook``: Stripe's events, outside sign-in and CSRF; the signature is checked."""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from functions.billing.webhooks import WebhookRejected, handle
from portal_flask.billing import bp
from portal_flask.billing.invoices import store_invoice
from portal_flask.extensions import csrf

MAX_BODY_BYTES = 512 * 1024


@bp.route("/stripe/webhook", methods=["POST"])
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    config = current_app.config["PORTAL"]
    if config.stripe is None or not config.stripe.webhook_secret:
        return jsonify(error="Stripe billing is not configured on this portal"), 404
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify(error="the body is larger than any Stripe event"), 413
    gateway = config.stripe.gateway()
    try:
        result = handle(
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature"),
            secret=config.stripe.webhook_secret,
            gateway=gateway,
            on_invoice=store_invoice,
            clock=config.clock,
        )
    except WebhookRejected as rejected:
        current_app.logger.warning("stripe webhook rejected: %s", rejected)
        return jsonify(error=str(rejected)), 400
    return jsonify(received=True, action=result.action), 200
