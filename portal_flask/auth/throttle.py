"""Sign-in throttling that a stranger cannot use to lock someone out.

Failures are counted per address, and per address *and* email, in the database
(so every portal process sees the same counts), over a sliding window:

- an address that fails ``max_failed_sign_ins`` times for one email is refused
  for that email until the window passes, while the account's owner, signing in
  from anywhere else, is not affected;
- an address that fails ``max_failed_sign_ins_per_address`` times in all is
  refused for every email, which bounds guessing across many accounts.

Nothing is ever locked per account alone: a stranger who knows an email can
only exhaust their own addresses' attempts. Unknown emails are counted exactly
like known ones, so the answers never tell them apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from portal_flask.auth.tokens import digest
from portal_flask.config import PortalConfig
from portal_flask.extensions import db
from portal_flask.models import SignInFailure


def _window_start(now: datetime, config: PortalConfig) -> datetime:
    return now - timedelta(seconds=config.sign_in_window_seconds)


def refused(email: str, address: str, now: datetime, config: PortalConfig) -> bool:
    """Whether ``address`` has used up its failed sign-ins (for ``email``, or in all)."""
    since = _window_start(now, config)
    recent = db.select(db.func.count()).where(
        SignInFailure.address == address, SignInFailure.at > since
    )
    if db.session.scalar(recent) >= config.max_failed_sign_ins_per_address:
        return True
    for_email = recent.where(SignInFailure.email_digest == digest(email))
    return db.session.scalar(for_email) >= config.max_failed_sign_ins


def record_failure(email: str, address: str, now: datetime, config: PortalConfig) -> None:
    """Count a failed sign-in, drop failures older than the window, and commit."""
    db.session.execute(
        db.delete(SignInFailure).where(SignInFailure.at <= _window_start(now, config))
    )
    db.session.add(SignInFailure(at=now, address=address[:64], email_digest=digest(email)))
    db.session.commit()


def forget_failures(email: str, address: str) -> None:
    """After a successful sign-in, this address starts afresh for this email; commits."""
    db.session.execute(
        db.delete(SignInFailure).where(
            SignInFailure.address == address[:64], SignInFailure.email_digest == digest(email)
        )
    )
    db.session.commit()
