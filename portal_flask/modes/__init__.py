"""Per-protocol settings: which modes a site runs, on what size and purchase option, and where
the images go."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import SITE_ADMIN

bp = Blueprint("modes", __name__, url_prefix="/modes")
NAV = (NavEntry("Settings", "modes.index", frozenset({SITE_ADMIN})),)

from portal_flask.modes import destination_views, views  # noqa: E402, F401  (registers routes)
