"""The users and keys page: a site's users, their keys, and the one page that shows a secret."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from administration.agent_config import (
    DEFAULT_BASE,
    DEFAULT_SECRET_FILE,
    agent_config_text,
)
from administration.destinations import list_destinations
from administration.errors import AdministrationError, UserExists
from administration.site_users import KeyInfo, NewKey, SiteUsers
from functions.core.models import User
from portal_flask import backend
from portal_flask.accounts import AccountError, create_account
from portal_flask.auth.access import audit, current_site_id, roles_required, site_scoped_or_404
from portal_flask.extensions import db
from portal_flask.keys import bp
from portal_flask.keys.forms import NewUserForm, SignInForm
from portal_flask.keys.service import site_users
from portal_flask.models import SITE_ADMIN, SITE_USER, Account
from portal_flask.passwords import generate_password

WRITTEN_BY = "the YarraCloud portal"


@dataclass(frozen=True)
class UserRow:
    user: User
    keys: list[KeyInfo] | None
    accounts: list[Account]


def _user_or_404(user_name: str) -> User:
    try:
        user = User.get(user_name, consistent_read=True)
    except User.DoesNotExist:
        abort(404)
    site_scoped_or_404(user.site_id)
    return user


def _key_or_404(user_name: str, key_id: str) -> KeyInfo:
    for key in site_users().keys_of(user_name):
        if key.access_key_id == key_id:
            return key
    abort(404)


def _config_text(access_key_id: str, site_id: str) -> str:
    """The agent's config for a key of a user at ``site_id``, with the site's destinations.

    The agent delivers only to the destinations its own config lists, so a config
    without them would fail every task until the site added them by hand.
    """
    return agent_config_text(
        api_url=getattr(current_app.config["PORTAL"], "api_url", None),
        region=backend.settings().region,
        access_key_id=access_key_id,
        secret_file=DEFAULT_SECRET_FILE,
        base=DEFAULT_BASE,
        s3_endpoint=getattr(current_app.config["PORTAL"], "s3_endpoint", None),
        destinations=list_destinations(site_id),
        written_by=WRITTEN_BY,
    )


def _show_secret(key: NewKey, what: str, site_id: str):
    """The only answer that carries a secret: rendered once, stored nowhere."""
    config = _config_text(key.access_key_id, site_id)
    return render_template(
        "keys/secret.html",
        key=key,
        what=what,
        config=config,
        config_href="data:application/toml;charset=utf-8," + quote(config),
        secret_href="data:text/plain;charset=utf-8," + quote(key.secret_access_key),
        secret_file=DEFAULT_SECRET_FILE,
    )


@bp.route("/")
@roles_required(SITE_ADMIN)
def index() -> str:
    site_id = current_site_id()
    users = site_users()
    accounts = db.session.scalars(
        db.select(Account).filter_by(site_id=site_id, role=SITE_USER).order_by(Account.email)
    ).all()
    rows = [
        UserRow(
            user=user,
            keys=_keys_or_none(users, user.user_name),
            accounts=[a for a in accounts if a.user_name == user.user_name],
        )
        for user in users.users_of(site_id)
    ]
    return render_template(
        "keys/index.html", rows=rows, form=NewUserForm(), sign_in_form=SignInForm()
    )


def _keys_or_none(users: SiteUsers, user_name: str) -> list[KeyInfo] | None:
    """The user's keys; None where IAM has no such user (a record made outside the portal)."""
    try:
        return users.keys_of(user_name)
    except AdministrationError:
        return None


@bp.route("/users", methods=["POST"])
@roles_required(SITE_ADMIN)
def create_user():
    site_id = current_site_id()
    form = NewUserForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"No user created: {error}", "error")
        return redirect(url_for("keys.index"))
    user_name = form.user_name.data.strip()
    try:
        key = site_users().create_user(user_name, site_id)
    except UserExists as exc:
        own = exc.site_id == site_id
        flash(
            f"No user created: {exc}"
            + (", or give the existing one a new key from its row." if own else "."),
            "error",
        )
        return redirect(url_for("keys.index"))
    except AdministrationError as exc:
        flash(f"No user created: {exc}.", "error")
        return redirect(url_for("keys.index"))
    audit("user.create", user_name, {"access_key_id": key.access_key_id})
    return _show_secret(key, f"Created user {user_name} with an access key.", site_id)


@bp.route("/users/<user_name>/keys", methods=["POST"])
@roles_required(SITE_ADMIN)
def create_key(user_name: str):
    user = _user_or_404(user_name)
    users = site_users()
    if len(users.keys_of(user_name)) >= 2:
        flash(
            f"{user_name} has two keys, the most allowed: revoke the one not in use first.",
            "error",
        )
        return redirect(url_for("keys.index"))
    key = users.create_key(user_name)
    audit("key.create", user_name, {"access_key_id": key.access_key_id})
    return _show_secret(
        key, f"New access key for {user_name}; the older key still works.", user.site_id
    )


@bp.route("/users/<user_name>/rotate", methods=["POST"])
@roles_required(SITE_ADMIN)
def rotate(user_name: str):
    user = _user_or_404(user_name)
    try:
        key, deleted = site_users().rotate_key(user_name)
    except AdministrationError as exc:
        flash(f"Not rotated: {exc}.", "error")
        return redirect(url_for("keys.index"))
    audit("key.rotate", user_name, {"access_key_id": key.access_key_id, "deleted": deleted})
    old = ", ".join(deleted) or "none"
    return _show_secret(
        key, f"New access key for {user_name}; the old key ({old}) no longer works.", user.site_id
    )


@bp.route("/users/<user_name>/keys/<key_id>/revoke", methods=["POST"])
@roles_required(SITE_ADMIN)
def revoke(user_name: str, key_id: str) -> Response:
    _user_or_404(user_name)
    _key_or_404(user_name, key_id)
    site_users().delete_key(user_name, key_id)
    audit("key.revoke", user_name, {"access_key_id": key_id})
    flash(f"Revoked key {key_id} of {user_name}: requests signed with it are refused.", "success")
    return redirect(url_for("keys.index"))


@bp.route("/users/<user_name>/keys/<key_id>/active", methods=["POST"])
@roles_required(SITE_ADMIN)
def set_active(user_name: str, key_id: str) -> Response:
    _user_or_404(user_name)
    _key_or_404(user_name, key_id)
    active = request.form.get("active") == "1"
    site_users().set_key_active(key_id, active)
    audit("key.activate" if active else "key.deactivate", user_name, {"access_key_id": key_id})
    if active:
        flash(f"Key {key_id} of {user_name} is accepted again.", "success")
    else:
        flash(f"Key {key_id} of {user_name} is refused until you activate it again.", "success")
    return redirect(url_for("keys.index"))


@bp.route("/users/<user_name>/keys/<key_id>/agent.toml")
@roles_required(SITE_ADMIN)
def agent_config(user_name: str, key_id: str) -> Response:
    """The agent's config for a key, without its secret (which only the creation page showed)."""
    user = _user_or_404(user_name)
    _key_or_404(user_name, key_id)
    response = current_app.response_class(
        _config_text(key_id, user.site_id), mimetype="application/toml"
    )
    response.headers["Content-Disposition"] = "attachment; filename=agent.toml"
    return response


@bp.route("/users/<user_name>/sign-in", methods=["POST"])
@roles_required(SITE_ADMIN)
def create_sign_in(user_name: str):
    user = _user_or_404(user_name)
    form = SignInForm()
    if not form.validate_on_submit():
        flash("No sign-in created: give an email address.", "error")
        return redirect(url_for("keys.index"))
    password = generate_password()
    try:
        account = create_account(form.email.data, password, SITE_USER, user.site_id, user_name)
    except AccountError as exc:
        db.session.rollback()
        flash(f"No sign-in created: {exc}.", "error")
        return redirect(url_for("keys.index"))
    audit("account.create", account.email, {"role": SITE_USER, "user_name": user_name})
    return render_template("keys/sign_in_created.html", account=account, password=password)
