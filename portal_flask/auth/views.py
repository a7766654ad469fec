"""Sign-in with per-account lockout and per-address rate limiting; sign-out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from portal_flask.accounts import normalise_email
from portal_flask.auth import bp
from portal_flask.auth.forms import SignInForm
from portal_flask.auth.redirects import safe_next
from portal_flask.extensions import db, limiter
from portal_flask.models import Account
from portal_flask.passwords import hash_password, needs_rehash, verify_password

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "That email and password do not match an account."


def _now() -> datetime:
    return datetime.fromtimestamp(current_app.config["PORTAL"].clock(), UTC)


def _login_limit() -> str:
    return current_app.config["PORTAL"].login_rate_limit


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def sign_in() -> str | Response:
    home = url_for("tasks.index")
    if current_user.is_authenticated:
        return redirect(home)
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        target = safe_next(form.next.data, home)
        error = _check(normalise_email(form.email.data), form.password.data, form.remember.data)
        if error is None:
            return redirect(target)
        flash(error, "error")
    return render_template("auth/sign_in.html", form=form)


def _check(email: str, password: str, remember: bool) -> str | None:
    """Sign the account in, or say why not (the same words for every wrong guess)."""
    config = current_app.config["PORTAL"]
    account = db.session.scalar(db.select(Account).filter_by(email=email))
    now = _now()
    if account is not None and account.locked_until and _aware(account.locked_until) > now:
        verify_password(None, password)
        log.warning("sign-in refused: account locked", extra={"account_id": account.id})
        return _locked(_aware(account.locked_until) - now)
    if account is None or not verify_password(account.password_hash, password):
        if account is not None:
            account.failed_logins += 1
            if account.failed_logins >= config.max_failed_logins:
                account.locked_until = now + timedelta(seconds=config.lockout_seconds)
                account.failed_logins = 0
                log.warning(
                    "account locked after failed sign-ins", extra={"account_id": account.id}
                )
                db.session.commit()
                return _locked(timedelta(seconds=config.lockout_seconds))
            db.session.commit()
        return BAD_CREDENTIALS
    if account.disabled:
        return "This account is disabled. Ask your administrator."
    account.failed_logins = 0
    account.locked_until = None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    db.session.commit()
    login_user(account, remember=remember)
    log.info("signed in", extra={"account_id": account.id, "role": account.role})
    return None


def _locked(left: timedelta) -> str:
    minutes = max(1, round(left.total_seconds() / 60))
    return (
        "Too many failed sign-ins: this account is locked for "
        f"{minutes} more minute{'s' if minutes != 1 else ''}. "
        "Try again later, or ask your administrator."
    )


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"))
