"""One-time password reset links: a random token, kept hashed, that works once before it expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal_flask.auth.sessions import aware
from portal_flask.auth.tokens import digest
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from portal_flask.models import Account, PasswordReset

#: At most this many links of one account work at a time, so asking again and again
#: cannot flood its owner's mailbox.
MAX_OUTSTANDING = 3


def outstanding(account_id: int, now: datetime) -> int:
    """How many of the account's links still work."""
    query = db.select(db.func.count()).where(
        PasswordReset.account_id == account_id,
        PasswordReset.used_at.is_(None),
        PasswordReset.expires_at > now,
    )
    return db.session.scalar(query)


def issue(account: Account, token: str, now: datetime, config: PortalConfig) -> None:
    """Record the reset link of ``token`` (kept as its digest only) for ``account``, and commit.

    The account's used and expired links are deleted.
    """
    db.session.execute(
        db.delete(PasswordReset).where(
            PasswordReset.account_id == account.id,
            db.or_(PasswordReset.used_at.is_not(None), PasswordReset.expires_at <= now),
        )
    )
    db.session.add(
        PasswordReset(
            account_id=account.id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(minutes=config.reset_minutes),
        )
    )
    db.session.commit()


def find(token: str, now: datetime) -> PasswordReset | None:
    """The unused, unexpired reset ``token`` names, or ``None``."""
    row = db.session.scalar(db.select(PasswordReset).filter_by(token_hash=digest(token)))
    if row is None or row.used_at is not None or aware(row.expires_at) <= now:
        return None
    return row


def use_up(account_id: int, now: datetime) -> None:
    """Mark every outstanding link of the account used (one was just used); no commit."""
    for row in db.session.scalars(
        db.select(PasswordReset).filter_by(account_id=account_id, used_at=None)
    ):
        row.used_at = now
