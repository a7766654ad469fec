"""Creating portal accounts (the CLI and the site administration pages use it)."""

from __future__ import annotations

import re

from portal_flask.extensions import db
from portal_flask.models import OPERATOR, ROLES, SITE_USER, Account
from portal_flask.passwords import account_words, hash_password, password_problem

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why and what to do."""


class AccountExists(AccountError):
    """The email has an account already (at whichever site: the message does not say)."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_account(
    email: str,
    password: str,
    role: str,
    site_id: str | None = None,
    user_name: str | None = None,
) -> Account:
    """Add an account and commit it.

    Raises
    ------
    AccountError
        For a malformed email, a taken email, an unknown role, a site given to an
        operator or missing for anyone else, a site user without a user name, or a
        weak password.
    """
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == OPERATOR and site_id:
        raise AccountError("an operator sees every site: give no site")
    if role != OPERATOR and not site_id:
        raise AccountError(f"a {role} belongs to a site: give its site id")
    if role == SITE_USER and not user_name:
        raise AccountError("a site user's account names the site user (its IAM user name)")
    problem = password_problem(password, account_words(email))
    if problem:
        raise AccountError(problem)
    if db.session.scalar(db.select(Account).filter_by(email=email)) is not None:
        raise AccountExists("that email address has a sign-in already; give another")
    account = Account(
        email=email,
        password_hash=hash_password(password),
        role=role,
        site_id=site_id or None,
        user_name=user_name or None,
        disabled=False,
    )
    db.session.add(account)
    db.session.commit()
    return account
