"""A site administrator's accounts page (an operator's: every site's), one account's sessions.

An administrator acts only on accounts of their own site (an operator on any
site's), never on their own account here, and never on an operator's: those
answer 404, like another site's objects everywhere in the portal.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal_flask.account_admin import bp
from portal_flask.auth import notices, sessions, two_step
from portal_flask.auth.access import audit, is_operator, roles_required, site_scoped_or_404
from portal_flask.extensions import db
from portal_flask.models import OPERATOR, SITE_ADMIN, Account, AccountSession

ADMINS = (SITE_ADMIN, OPERATOR)


def _now() -> datetime:
    return datetime.fromtimestamp(current_app.config["PORTAL"].clock(), UTC)


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, account_id)
    if account is None or account.id == current_user.id:
        abort(404)
    site_scoped_or_404(account.site_id)
    return account


@bp.route("/")
@roles_required(*ADMINS)
def index() -> str:
    query = db.select(Account).where(Account.site_id.is_not(None))
    if not is_operator():
        query = query.filter_by(site_id=current_user.site_id)
    accounts = db.session.scalars(query.order_by(Account.site_id, Account.email)).all()
    config, now = current_app.config["PORTAL"], _now()
    live = {a.id: len(sessions.live_sessions(a.id, now, config)) for a in accounts}
    return render_template("account_admin/index.html", accounts=accounts, live=live)


@bp.route("/<int:account_id>")
@roles_required(*ADMINS)
def detail(account_id: int) -> str:
    account = _account_or_404(account_id)
    rows = sessions.live_sessions(account.id, _now(), current_app.config["PORTAL"])
    return render_template("account_admin/detail.html", account=account, sessions=rows)


@bp.route("/<int:account_id>/disable", methods=["POST"])
@roles_required(*ADMINS)
def disable(account_id: int) -> Response:
    account = _account_or_404(account_id)
    account.disabled = True
    ended = sessions.revoke_all(account.id, _now())
    audit("account.disable", account.email, {"sessions_ended": ended}, site_id=account.site_id)
    flash(
        f"Disabled {account.email}: it cannot sign in, and its {ended} session"
        f"{'' if ended == 1 else 's'} ended.",
        "success",
    )
    return redirect(url_for("accounts.detail", account_id=account.id))


@bp.route("/<int:account_id>/enable", methods=["POST"])
@roles_required(*ADMINS)
def enable(account_id: int) -> Response:
    account = _account_or_404(account_id)
    account.disabled = False
    db.session.commit()
    audit("account.enable", account.email, site_id=account.site_id)
    flash(f"Enabled {account.email}: it can sign in again.", "success")
    return redirect(url_for("accounts.detail", account_id=account.id))


@bp.route("/<int:account_id>/two-step/off", methods=["POST"])
@roles_required(*ADMINS)
def turn_off_two_step(account_id: int) -> Response:
    """For someone who lost their authenticator: they sign in with their password alone
    (an administrator then sets two-step sign-in up again before anything else)."""
    account = _account_or_404(account_id)
    two_step.turn_off(account)
    ended = sessions.revoke_all(account.id, _now())
    audit("account.two_step.off", account.email, {"sessions_ended": ended}, site_id=account.site_id)
    notices.send(
        current_app.config["PORTAL"],
        account,
        f"Two-step sign-in was turned off for your account by {current_user.email}.",
        _now(),
    )
    flash(f"Two-step sign-in is off for {account.email}; it is signed out everywhere.", "success")
    return redirect(url_for("accounts.detail", account_id=account.id))


@bp.route("/<int:account_id>/sessions/revoke", methods=["POST"])
@roles_required(*ADMINS)
def revoke_all(account_id: int) -> Response:
    account = _account_or_404(account_id)
    ended = sessions.revoke_all(account.id, _now())
    audit("account.sign_out", account.email, {"sessions_ended": ended}, site_id=account.site_id)
    flash(f"Signed {account.email} out everywhere.", "success")
    return redirect(url_for("accounts.detail", account_id=account.id))


@bp.route("/<int:account_id>/sessions/<int:session_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def revoke_session(account_id: int, session_id: int) -> Response:
    account = _account_or_404(account_id)
    row = db.session.get(AccountSession, session_id)
    if row is None or row.account_id != account.id:
        abort(404)
    sessions.revoke(row, _now())
    audit("account.sign_out", account.email, {"session": row.id}, site_id=account.site_id)
    flash(f"That session of {account.email} is signed out.", "success")
    return redirect(url_for("accounts.detail", account_id=account.id))
