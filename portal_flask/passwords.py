"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(type=Type.ID)

#: Verified against when the email is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))

MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``None``: no account, always false).

    Runs exactly one argon2 verification either way, so an unknown account's
    answer takes as long as a wrong password's.
    """
    try:
        matched = _HASHER.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password for a new account, shown once."""
    return secrets.token_urlsafe(15)


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    return None
