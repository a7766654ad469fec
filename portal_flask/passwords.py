"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation),
and which passwords are refused: too short or long, leaked, or easy to guess.

Guessability is zxcvbn's estimate (the same model as the JavaScript meters of many
sites), and the leaked passwords are the 30,000 most common of a public breach
corpus that zxcvbn ships as data, so the check runs offline: no password, nor
any part of its hash, leaves the portal.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

_HASHER = PasswordHasher(type=Type.ID)

#: Verified against when the email is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))

MIN_LENGTH = 12
MAX_LENGTH = 1024
#: zxcvbn's score (0 to 4) a password needs: 3 is "safely unguessable" (10^8 guesses or more).
MIN_SCORE = 3
#: zxcvbn estimates at most this many characters; a longer password is judged by its start.
_ESTIMATED = 72
_LEAKED = frozenset(FREQUENCY_LISTS["passwords"])


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


@dataclass(frozen=True)
class Strength:
    """How good a password is: zxcvbn's ``score`` (0 to 4) and why it is refused, if it is."""

    score: int
    problem: str | None


def strength(password: str, user_inputs: Iterable[str] = ()) -> Strength:
    """Judge ``password``; ``user_inputs`` (the account's email) count as easy to guess."""
    estimate = zxcvbn(password[:_ESTIMATED], user_inputs=list(user_inputs))
    score = estimate["score"]
    if len(password) < MIN_LENGTH:
        return Strength(score, f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        return Strength(score, f"a password may have at most {MAX_LENGTH} characters")
    if password.lower() in _LEAKED:
        return Strength(
            score, "that password is among the most common in leaked password lists: choose another"
        )
    if score < MIN_SCORE:
        why = (estimate["feedback"]["warning"] or "It follows a pattern").rstrip(".")
        return Strength(
            score, f"that password is easy to guess: {why[0].lower()}{why[1:]}; add a few words"
        )
    return Strength(score, None)


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    return strength(password, user_inputs).problem


def account_words(email: str) -> list[str]:
    """What a password of the account ``email`` should not be made of: its email's words."""
    return ["yarracloud", email, *(w for w in re.split(r"[^a-z0-9]+", email.lower()) if len(w) > 2)]
