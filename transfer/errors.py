"""The exceptions a transfer raises; each message says what went wrong and what to do."""

from __future__ import annotations


class TransferError(Exception):
    """A transfer failed; the message is meant for the person running it."""


class AuthError(TransferError):
    """The server refused the credentials or the permission; retrying cannot help."""


class IntegrityError(TransferError):
    """The bytes received (or stored) do not match the checksum that travels with them."""


class RetriesExhausted(TransferError):
    """A transient failure (throttling, 5xx, lost connection) outlasted every retry."""
