"""Setting up two-step sign-in, new recovery codes, turning it off; administrators must have it.

Until an administrator (site administrator or operator) has set it up, every
page but the set-up page and signing out sends them there.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal_flask.auth import bp, notices, two_step
from portal_flask.auth.access import audit
from portal_flask.auth.forms import TwoStepCodeForm
from portal_flask.auth.views import now_utc, portal_config
from portal_flask.extensions import db

#: The Flask session key of the key being set up (confirmed by a code before it is kept),
#: with the account it is for, so another account signed in later in that browser gets its own.
_PENDING = "two_step_pending"
#: What an administrator without two-step sign-in may still open.
_OPEN_BEFORE_SET_UP = frozenset({"auth.two_step", "auth.sign_out", "static", "portal.health"})
SET_UP_FIRST = "Administrators sign in in two steps: set it up to go on."


@bp.before_app_request
def administrators_set_up_two_step() -> Response | None:
    if request.endpoint is None or request.endpoint in _OPEN_BEFORE_SET_UP:
        return None
    if (
        current_user.is_authenticated
        and two_step.required(current_user)
        and not current_user.totp_secret
    ):
        flash(SET_UP_FIRST, "warning")
        return redirect(url_for("auth.two_step"))
    return None


def _page(form: TwoStepCodeForm, **shown) -> str:
    account = current_user
    context = {"form": form, "required": two_step.required(account), **shown}
    if account.totp_secret:
        context["codes_left"] = two_step.recovery_codes_left(account.id)
    else:
        secret = _pending_key() or two_step.new_secret()
        session[_PENDING] = {"account": account.id, "key": secret}
        uri = two_step.setup_uri(secret, account.email)
        context.update(secret=secret, qr=two_step.qr_svg(uri))
    return render_template("auth/two_step.html", **context)


@bp.route("/two-step", methods=["GET", "POST"], endpoint="two_step")
@login_required
def two_step_page() -> str | Response:
    """Show the state of two-step sign-in; a POST confirms a new key with its first code."""
    form = TwoStepCodeForm()
    account = current_user._get_current_object()
    if request.method == "GET" or account.totp_secret:
        return _page(form)
    if not form.validate_on_submit():
        return _page(form)
    secret = _pending_key()
    step = two_step.matching_step(secret, form.code.data, now_utc().timestamp()) if secret else None
    if step is None:
        form.code.errors.append(
            "That is not the code your app shows for this key: check the phone's clock, "
            "or scan the code again."
        )
        return _page(form)
    codes = two_step.turn_on(account, secret, step)
    session.pop(_PENDING, None)
    audit("account.two_step.on", account.email, site_id=account.site_id)
    notices.send(
        portal_config(), account, "Two-step sign-in was set up for your account.", now_utc()
    )
    flash("Two-step sign-in is on. Keep the recovery codes below somewhere safe.", "success")
    return _page(TwoStepCodeForm(formdata=None), recovery_codes=codes)


def _pending_key() -> str | None:
    pending = session.get(_PENDING)
    if isinstance(pending, dict) and pending.get("account") == current_user.id:
        return pending.get("key")
    return None


def _checked_code(form: TwoStepCodeForm) -> bool:
    """Whether the form carries a code of the signed-in account (which is then used up)."""
    if not form.validate_on_submit():
        return False
    if two_step.accept_code(current_user, form.code.data, now_utc()) is None:
        form.code.errors.append("That code is wrong or already used: wait for the next one.")
        return False
    return True


@bp.route("/two-step/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes() -> str | Response:
    form = TwoStepCodeForm()
    account = current_user._get_current_object()
    if not account.totp_secret:
        return redirect(url_for("auth.two_step"))
    if not _checked_code(form):
        return _page(form)
    codes = two_step.new_recovery_codes(account)
    audit("account.two_step.recovery_codes", account.email, site_id=account.site_id)
    notices.send(
        portal_config(),
        account,
        "New recovery codes were made; the old ones no longer work.",
        now_utc(),
    )
    flash("New recovery codes are below; the old ones no longer work.", "success")
    return _page(TwoStepCodeForm(formdata=None), recovery_codes=codes)


@bp.route("/two-step/off", methods=["POST"])
@login_required
def turn_off() -> str | Response:
    form = TwoStepCodeForm()
    account = current_user._get_current_object()
    if two_step.required(account):
        flash(
            "Administrators keep two-step sign-in. If you lost your authenticator, "
            "another administrator can turn it off on the Accounts page.",
            "error",
        )
        return redirect(url_for("auth.two_step"))
    if not account.totp_secret:
        return redirect(url_for("auth.two_step"))
    if not _checked_code(form):
        return _page(form)
    two_step.turn_off(account)
    db.session.commit()
    audit("account.two_step.off", account.email, site_id=account.site_id)
    notices.send(
        portal_config(), account, "Two-step sign-in was turned off for your account.", now_utc()
    )
    flash("Two-step sign-in is off: your password alone signs you in.", "success")
    return redirect(url_for("auth.two_step"))
