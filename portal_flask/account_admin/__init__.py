"""Portal accounts for administrators: disable and enable them, see and end their sessions."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import NavEntry
from portal_flask.models import OPERATOR, SITE_ADMIN

bp = Blueprint("accounts", __name__, url_prefix="/accounts")
NAV = (NavEntry("Accounts", "accounts.index", frozenset({SITE_ADMIN, OPERATOR})),)

from portal_flask.account_admin import views  # noqa: E402, F401  (registers the routes)
