"""Two-step sign-in: time-based one-time codes (RFC 6238) and one-time recovery codes.

An authenticator app shares a random key with the portal and shows a 6-digit
code for each 30-second step (pyotp computes them). A code is accepted for the
step it belongs to or one step either side (clock drift, RFC 6238 section 5.2),
and only once: the last accepted step is kept, and neither it nor an earlier one
is accepted again. Ten recovery codes, shown once when two-step sign-in is set
up, each stand in for a code one time, for someone who lost their authenticator.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from portal_flask.auth.tokens import digest
from portal_flask.extensions import db
from portal_flask.models import OPERATOR, SITE_ADMIN, Account, RecoveryCode

#: Roles that must set up two-step sign-in before any page of the portal opens.
REQUIRED_FOR = frozenset({SITE_ADMIN, OPERATOR})
ISSUER = "YarraCloud"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
#: Recovery codes are 16 characters of this alphabet (about 79 random bits), so a
#: fast digest of them is as safe to keep as a session token's.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def required(account: Account) -> bool:
    """Whether ``account``'s role requires two-step sign-in."""
    return account.role in REQUIRED_FOR


def new_secret() -> str:
    """A random key for an authenticator: 32 base32 characters, 160 bits (RFC 4226's advice)."""
    return pyotp.random_base32()


def setup_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code, an inline SVG element (no image request, no script)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2)


def code_at(secret: str, step: int) -> str:
    """The code of time step ``step`` (seconds since the epoch // 30)."""
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The step (now's or one either side) whose code ``code`` is, or ``None``."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    step = int(now // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(code_at(secret, candidate), code):
            return candidate
    return None


def accept_code(account: Account, code: str, now: datetime) -> str | None:
    """Check ``code`` (an authenticator's or a recovery code) for ``account``; no commit.

    Returns
    -------
    str or None
        ``"code"`` or ``"recovery"`` for which kind was accepted (and is now used
        up), ``None`` when it was wrong, already used, or the account has no key.
    """
    if not account.totp_secret or not code:
        return None
    step = matching_step(account.totp_secret, code, now.timestamp())
    if step is not None:
        if account.totp_last_step is not None and step <= account.totp_last_step:
            return None
        account.totp_last_step = step
        return "code"
    row = db.session.scalar(
        db.select(RecoveryCode).filter_by(
            account_id=account.id, code_hash=digest(_normalise(code)), used_at=None
        )
    )
    if row is None:
        return None
    row.used_at = now
    return "recovery"


def turn_on(account: Account, secret: str, step: int) -> list[str]:
    """Give ``account`` the key ``secret`` (its code of ``step`` just checked); no commit.

    Returns the new recovery codes, in the clear: they are shown once and kept
    only as digests.
    """
    account.totp_secret = secret
    account.totp_last_step = step
    return new_recovery_codes(account)


def turn_off(account: Account) -> None:
    """Remove ``account``'s key and recovery codes; no commit."""
    account.totp_secret = None
    account.totp_last_step = None
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.account_id == account.id))


def new_recovery_codes(account: Account) -> list[str]:
    """Replace ``account``'s recovery codes with new ones; returns them in the clear; no commit."""
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(account_id=account.id, code_hash=digest(raw)))
    return codes


def recovery_codes_left(account_id: int) -> int:
    query = db.select(db.func.count()).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query)


def _normalise(code: str) -> str:
    """A recovery code as typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.lower() if ch.isalnum())
