"""Random bearer tokens and the digests the database keeps of them."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of ``token``.

    A token carries 256 random bits, so a fast hash is enough: there is nothing
    to guess that a slow one would protect.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
