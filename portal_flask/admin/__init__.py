"""The operator's view: every site, failed tasks across sites, dead-letter queues, suspension."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import OPERATOR

bp = Blueprint("admin", __name__, url_prefix="/admin")
NAV = (NavEntry("Operations", "admin.index", frozenset({OPERATOR})),)

from portal_flask.admin import views  # noqa: E402, F401  (registers the routes)
