"""Billing: the site's card, its invoices and prices, and Stripe's webhook endpoint."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import SITE_ADMIN

bp = Blueprint("billing", __name__)
NAV = (NavEntry("Billing", "billing.index", frozenset({SITE_ADMIN})),)

from portal_flask.billing import meter_errors, views, webhook  # noqa: E402, F401  (registers the routes)
