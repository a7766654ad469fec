"""The portal's root page, the navigation and the security headers every answer carries."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

bp = Blueprint("portal", __name__)

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; "
    "form-action 'self' https://checkout.stripe.com https://billing.stripe.com; "
    "frame-ancestors 'none'"
)


@bp.route("/")
def home() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("tasks.index"))
    return redirect(url_for("auth.sign_in"))


@bp.route("/healthz")
def health() -> dict:
    return {"ok": True}


@bp.before_app_request
def refuse_nul_characters() -> None:
    """No query or form value may hold a NUL character: no text a person types has one,
    and PostgreSQL cannot store or even compare it."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, description="a value in the request holds a NUL character")


@bp.app_context_processor
def navigation() -> dict:
    """``nav``: the navigation entries the signed-in account's role may see."""
    if not current_user.is_authenticated:
        return {"nav": ()}
    entries = current_app.extensions["portal_nav"]
    return {"nav": tuple(e for e in entries if current_user.role in e.roles)}


@bp.after_app_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
