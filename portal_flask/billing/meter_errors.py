"""``POST /stripe/meter-errors``: the event destination of Stripe's meter error reports.

Outside sign-in and CSRF; the thin notification's signature is checked with the
destination's own signing secret, and the event is fetched from Stripe.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from functions.billing.meter_errors import NotificationRejected, receive, record
from portal_flask.billing import bp
from portal_flask.extensions import csrf

MAX_BODY_BYTES = 64 * 1024


@bp.route("/stripe/meter-errors", methods=["POST"])
@csrf.exempt
def stripe_meter_errors() -> tuple[Response, int]:
    config = current_app.config["PORTAL"]
    if config.stripe is None or not config.stripe.event_destination_secret:
        return jsonify(error="Stripe's meter error reports are not set up on this portal"), 404
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return jsonify(error="the body is larger than any thin event"), 413
    try:
        report = receive(
            request.get_data(cache=False),
            request.headers.get("Stripe-Signature"),
            secret=config.stripe.event_destination_secret,
            client=config.stripe.gateway().client,
        )
    except NotificationRejected as rejected:
        current_app.logger.warning("stripe event notification rejected: %s", rejected)
        return jsonify(error=str(rejected)), 400
    record(report, config.stripe.metrics_namespace)
    return jsonify(received=True, error_count=report.error_count), 200
