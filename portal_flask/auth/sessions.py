"""Server-side sessions: each sign-in gets its own random token, kept hashed with its expiry.

The cookies (Flask's session cookie and, with "keep me signed in", Flask-Login's
remember cookie) carry the token; the ``account_session`` row decides whether it
still opens the portal. Signing out, changing the password and disabling the
account revoke rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal_flask.auth.tokens import digest, new_token
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from portal_flask.models import Account, AccountSession

#: A session's last-seen time is written at most this often (one write a minute, not one a request).
TOUCH_EVERY = timedelta(minutes=1)


def aware(value: datetime) -> datetime:
    """``value`` with UTC attached (SQLite hands back naive datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start(
    account: Account,
    *,
    remember: bool,
    now: datetime,
    config: PortalConfig,
    user_agent: str = "",
    address: str = "",
) -> str:
    """Record a new session for ``account`` and commit; returns its token (stored nowhere)."""
    db.session.execute(  # the account's ended sessions are no longer worth keeping
        db.delete(AccountSession).where(
            AccountSession.account_id == account.id,
            db.or_(AccountSession.expires_at <= now, AccountSession.revoked_at.is_not(None)),
        )
    )
    token = new_token()
    lifetime = (
        timedelta(days=config.remember_days) if remember else timedelta(hours=config.session_hours)
    )
    db.session.add(
        AccountSession(
            account_id=account.id,
            token_hash=digest(token),
            remember=remember,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            user_agent=user_agent[:255],
            address=address[:64],
        )
    )
    db.session.commit()
    account.session_token = token
    return token


def is_live(row: AccountSession, now: datetime, config: PortalConfig) -> bool:
    """Not revoked, not expired, and (unless remembered) not idle too long."""
    if row.revoked_at is not None or aware(row.expires_at) <= now:
        return False
    idle = timedelta(minutes=config.idle_minutes)
    return row.remember or aware(row.last_seen_at) + idle > now


def load(token: str, now: datetime, config: PortalConfig) -> Account | None:
    """The enabled account whose live session ``token`` names, or ``None``."""
    row = db.session.scalar(db.select(AccountSession).filter_by(token_hash=digest(token)))
    if row is None or not is_live(row, now, config):
        return None
    account = db.session.get(Account, row.account_id)
    if account is None or account.disabled:
        return None
    if now - aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    account.current_session = row
    account.session_token = token
    return account


def live_sessions(account_id: int, now: datetime, config: PortalConfig) -> list[AccountSession]:
    """The account's sessions that still open the portal, newest first."""
    rows = db.session.scalars(
        db.select(AccountSession)
        .filter_by(account_id=account_id, revoked_at=None)
        .order_by(AccountSession.created_at.desc(), AccountSession.id.desc())
    ).all()
    return [row for row in rows if is_live(row, now, config)]


def revoke(row: AccountSession, now: datetime) -> None:
    """End one session and commit."""
    row.revoked_at = now
    db.session.commit()


def revoke_all(account_id: int, now: datetime) -> int:
    """End every session of the account and commit; returns how many were live."""
    rows = db.session.scalars(
        db.select(AccountSession).filter_by(account_id=account_id, revoked_at=None)
    ).all()
    for row in rows:
        row.revoked_at = now
    db.session.commit()
    return len(rows)
