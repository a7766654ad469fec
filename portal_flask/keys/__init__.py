"""Site users and their access keys: create, show the secret once, rotate, revoke; agent configs."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import SITE_ADMIN

bp = Blueprint("keys", __name__, url_prefix="/keys")
NAV = (NavEntry("Users & keys", "keys.index", frozenset({SITE_ADMIN})),)

from portal_flask.keys import views  # noqa: E402, F401  (registers the routes)
