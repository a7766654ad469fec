"""Signing in and out, one's own password and sessions, password reset links."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
NAV: tuple = ()

from portal_flask.auth import two_step_views, views  # noqa: E402, F401  (registers the routes)
