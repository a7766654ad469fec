"""The portal's relational data: accounts, the audit log of settings changes, invoices.

Tasks, mode settings and usage live in DynamoDB (:mod:`functions.core.models`);
these tables hold what only the portal needs. The schema is created and changed
by the Alembic migrations in ``portal_flask/migrations/``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal_flask.extensions import db

OPERATOR = "operator"
SITE_ADMIN = "site_admin"
SITE_USER = "site_user"
ROLES: tuple[str, ...] = (OPERATOR, SITE_ADMIN, SITE_USER)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Account(UserMixin, db.Model):
    """A person who signs in to the portal.

    An operator has no site; a site administrator and a site user belong to one.
    A site user's account names the IAM user (``User.user_name``) whose tasks it sees.
    """

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The base32 key of two-step sign-in's codes (RFC 6238); ``None`` until set up."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The time step of the last code accepted: that code and earlier ones are refused."""

    # The session this account was loaded through and its token: set for each
    # request by portal_flask.auth.sessions, never stored in this table.
    current_session = None
    session_token = None

    def get_id(self) -> str | None:
        """What Flask-Login keeps in the cookies: the session's token, never the account id."""
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return not self.disabled

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    def __repr__(self) -> str:
        return f"Account(id={self.id}, role={self.role!r}, site_id={self.site_id!r})"


class AccountSession(db.Model):
    """One sign-in: the hash of its random token, when it ends, and whether it was revoked.

    The token itself lives only in the browser's cookies; a stolen database copy
    holds SHA-256 digests of 256-bit random tokens, which open nothing.
    """

    __tablename__ = "account_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    remember: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user_agent: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    address: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class PasswordReset(db.Model):
    """A one-time password reset link: the hash of its token, its expiry, and when it was used."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RecoveryCode(db.Model):
    """A one-time stand-in for two-step sign-in's code: its digest, and when it was used."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignInFailure(db.Model):
    """A failed sign-in: from which address, for which email (as a digest), when.

    Kept in the database so that every portal process counts the same failures.
    """

    __tablename__ = "sign_in_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    address: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    email_digest: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditLog(db.Model):
    """One settings change: who, at which site, what, on which object, with which values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class Invoice(db.Model):
    """A Stripe invoice of a site, as the Stripe webhook last reported it.

    Amounts are integers in the currency's smallest unit (cents), as Stripe sends them.
    """

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_due: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
