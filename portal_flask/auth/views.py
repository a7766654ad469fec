"""Signing in and out, one's own password and sessions, and password reset links."""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from portal_flask import mail
from portal_flask.accounts import normalise_email
from portal_flask.auth import bp, notices, resets, sessions, throttle, two_step
from portal_flask.auth.access import audit
from portal_flask.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    ResetPasswordForm,
    SignInForm,
)
from portal_flask.auth.redirects import safe_next
from portal_flask.auth.tokens import new_token
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from portal_flask.models import Account, AccountSession
from portal_flask.passwords import (
    MAX_LENGTH,
    account_words,
    hash_password,
    needs_rehash,
    password_problem,
    strength,
    verify_password,
)

log = logging.getLogger(__name__)

BAD_CREDENTIALS = (
    "That email and password (and code, where the account asks for one) do not match an account."
)
TOO_MANY = (
    "Too many failed sign-ins from your address: wait {minutes} minutes, then try again, "
    "or reset your password."
)
DISABLED = "This account is disabled. Ask your site administrator."
RESET_SENT = (
    "If {email} has an account here, a link to set a new password is on its way to it. "
    "The link works once, for {minutes} minutes."
)
RESET_DEAD = "That password reset link has expired or has been used. Ask for a new one below."


def portal_config() -> PortalConfig:
    return current_app.config["PORTAL"]


def now_utc() -> datetime:
    return datetime.fromtimestamp(portal_config().clock(), UTC)


def _address() -> str:
    return request.remote_addr or ""


def _start_session(account: Account, remember: bool) -> None:
    config = portal_config()
    sessions.start(
        account,
        remember=remember,
        now=now_utc(),
        config=config,
        user_agent=request.user_agent.string,
        address=_address(),
    )
    login_user(account, remember=remember, duration=timedelta(days=config.remember_days))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response:
    home = url_for("tasks.index")
    if current_user.is_authenticated:
        return redirect(home)
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        target = safe_next(form.next.data, home)
        error = _check(
            normalise_email(form.email.data),
            form.password.data,
            form.code.data or "",
            form.remember.data,
        )
        if error is None:
            return redirect(target)
        flash(error, "error")
    return render_template("auth/sign_in.html", form=form)


def _check(email: str, password: str, code: str, remember: bool) -> str | None:
    """Sign the account in, or say why not.

    Every attempt runs exactly one password-hash verification, and a wrong
    password and an unknown email get the same words and the same throttling.
    An account with two-step sign-in also needs its code (or a recovery code):
    a wrong one gets those words too, and counts as a failure.
    """
    config, now, address = portal_config(), now_utc(), _address()
    account = db.session.scalar(db.select(Account).filter_by(email=email))
    matched = verify_password(account.password_hash if account else None, password)
    if throttle.refused(email, address, now, config):
        log.warning("sign-in refused: too many failures from one address")
        return TOO_MANY.format(minutes=max(1, config.sign_in_window_seconds // 60))
    used = None  # which second step was used up: "code", "recovery", or none
    if matched and account.totp_secret:
        used = two_step.accept_code(account, code, now)
        matched = used is not None
    if not matched or account is None:
        throttle.record_failure(email, address, now, config)
        return BAD_CREDENTIALS
    if account.disabled:
        return DISABLED
    throttle.forget_failures(email, address)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        db.session.commit()
    _start_session(account, remember)
    log.info("signed in", extra={"account_id": account.id, "role": account.role})
    if used == "recovery":
        left = two_step.recovery_codes_left(account.id)
        notices.send(config, account, f"A recovery code was used to sign in; {left} are left.", now)
    return None


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    if current_user.is_authenticated and current_user.current_session is not None:
        sessions.revoke(current_user.current_session, now_utc())
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account")
@login_required
def account() -> str:
    return _account_page(ChangePasswordForm())


def _account_page(form: ChangePasswordForm) -> str:
    return render_template(
        "auth/account.html",
        form=form,
        sessions=sessions.live_sessions(current_user.id, now_utc(), portal_config()),
        current_session_id=current_user.current_session.id,
    )


@bp.route("/password", methods=["POST"])
@login_required
def change_password() -> str | Response:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form)
    account = current_user._get_current_object()
    if not verify_password(account.password_hash, form.current_password.data):
        form.current_password.errors.append("That is not your current password.")
        return _account_page(form)
    if _refused(form.new_password, account):
        return _account_page(form)
    remember = account.current_session.remember
    account.password_hash = hash_password(form.new_password.data)
    sessions.revoke_all(account.id, now_utc())
    audit("account.password", account.email, site_id=account.site_id)
    _start_session(account, remember)
    notices.send(
        portal_config(), account, "The password of your YarraCloud account was changed.", now_utc()
    )
    flash("Password changed. Every other session of your account is signed out.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/password-strength", methods=["POST"])
def password_strength() -> Response:
    """The strength meter's answer for a password being typed: zxcvbn's score and any refusal.

    JSON in (``{"password": "..."}``) and out (``{"score": 0-4, "problem": str | null}``);
    the forms check the same again when submitted. The password is never logged.
    """
    body = request.get_json(silent=True)
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        message = f'Send JSON {{"password": "..."}}, of at most {MAX_LENGTH} characters.'
        return jsonify(error=message), 400
    words = account_words(current_user.email) if current_user.is_authenticated else []
    judged = strength(password, words)
    return jsonify(score=judged.score, problem=judged.problem)


def _refused(field, account: Account) -> bool:
    """Whether the new password in ``field`` is leaked or easy to guess (then it says why)."""
    problem = password_problem(field.data, account_words(account.email))
    if problem:
        field.errors.append(problem[0].upper() + problem[1:] + ".")
    return problem is not None


@bp.route("/sessions/<int:session_id>/revoke", methods=["POST"])
@login_required
def revoke_session(session_id: int) -> Response:
    row = db.session.get(AccountSession, session_id)
    if row is None or row.account_id != current_user.id:
        abort(404)
    sessions.revoke(row, now_utc())
    if row.id == current_user.current_session.id:
        logout_user()
        flash("You are signed out.", "info")
        return redirect(url_for("auth.sign_in"))
    flash("That session is signed out.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> str | Response:
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form)
    config, email = portal_config(), normalise_email(form.email.data)
    # The same work for every address until the answer has gone: whether the
    # account exists is looked up, and the link mailed, only after it is sent,
    # so neither the answer nor its timing tells known addresses from unknown.
    token = new_token()
    link = url_for("auth.reset_password", token=token, _external=True)
    flash(RESET_SENT.format(email=email, minutes=config.reset_minutes), "info")
    response = redirect(url_for("auth.sign_in"))
    app = current_app._get_current_object()
    response.call_on_close(lambda: _mail_reset_link(app, email, token, link))
    return response


def _mail_reset_link(app, email: str, token: str, link: str) -> None:
    """After the answer is sent: issue ``token`` to ``email``'s account, if any may, and mail it."""
    with app.app_context():
        config = app.config["PORTAL"]
        now = datetime.fromtimestamp(config.clock(), UTC)
        account = db.session.scalar(db.select(Account).filter_by(email=email))
        if (
            account is None
            or account.disabled
            or resets.outstanding(account.id, now) >= resets.MAX_OUTSTANDING
        ):
            return
        resets.issue(account, token, now, config)
        try:
            mail.send(
                config,
                account.email,
                "Set a new YarraCloud password",
                f"Someone asked to set a new password for {account.email} on YarraCloud.\n"
                f"Open this link within {config.reset_minutes} minutes to set it (it works once):"
                f"\n\n{link}\n\n"
                "If it was not you, ignore this message: your password is unchanged.\n",
            )
        except (smtplib.SMTPException, OSError):
            log.exception("password reset link not sent", extra={"account_id": account.id})
            return
        log.info("password reset link issued", extra={"account_id": account.id})


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | Response:
    now = now_utc()
    row = resets.find(token, now)
    if row is None:
        flash(RESET_DEAD, "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/reset.html", form=form)
    account = db.session.get(Account, row.account_id)
    if _refused(form.new_password, account):
        return render_template("auth/reset.html", form=form)
    account.password_hash = hash_password(form.new_password.data)
    resets.use_up(account.id, now)
    sessions.revoke_all(account.id, now)
    log.info("password reset", extra={"account_id": account.id})
    notices.send(
        portal_config(),
        account,
        "The password of your YarraCloud account was reset by a link.",
        now,
    )
    if current_user.is_authenticated:
        logout_user()
    flash("Your new password is set, and every session is signed out: sign in with it.", "success")
    return redirect(url_for("auth.sign_in"))
