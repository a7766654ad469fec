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
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return not self.disabled

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    def __repr__(self) -> str:
        return f"Account(id={self.id}, role={self.role!r}, site_id={self.site_id!r})"


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
