"""Utilization: tasks, compute hours and cost per user and month, as a chart, a table and CSV."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import SITE_ADMIN, SITE_USER

bp = Blueprint("usage", __name__, url_prefix="/usage")
NAV = (NavEntry("Usage", "usage.index", frozenset({SITE_ADMIN, SITE_USER})),)

from portal_flask.usage import views  # noqa: E402, F401  (registers the routes)
