"""Retries with exponential backoff and full jitter; auth failures stop at once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from transfer.errors import AuthError, RetriesExhausted, TransferError

T = TypeVar("T")

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
}
AUTH = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AccountProblem",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}
TRANSIENT = (
    ConnectionError,
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    IncompleteReadError,
    ResponseStreamingError,
    ConnectionResetError,
    TimeoutError,
)


class ShortRead(Exception):
    """A response body ended before the length it announced (treated as transient)."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(exc: BaseException) -> bool:
    """Throttling, any 5xx and lost connections are worth another try."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        return code in THROTTLING or _status(exc) >= 500 or (code.isdigit() and int(code) >= 500)
    return isinstance(exc, (*TRANSIENT, ShortRead))


def translate(exc: BaseException, what: str) -> TransferError:
    """The package's own error for a failure that will not be retried."""
    if isinstance(exc, TransferError):
        return exc
    code = error_code(exc)
    if isinstance(exc, ClientError) and (code in AUTH or _status(exc) in (401, 403)):
        return AuthError(
            f"{what}: the server refused access ({code or _status(exc)}); check the access key"
            " and secret, the region, and that this user may use that bucket and prefix"
        )
    if code == "NoSuchBucket":
        return TransferError(f"{what}: the bucket does not exist; check the bucket name and region")
    if code in ("NoSuchKey", "404"):
        return TransferError(f"{what}: the object does not exist; check the key")
    if isinstance(exc, (ClientError, BotoCoreError)):
        return TransferError(f"{what}: {exc}")
    return TransferError(f"{what}: {type(exc).__name__}: {exc}")


@dataclass
class Retry:
    """Exponential backoff with full jitter: attempt ``n`` waits uniform(0, min(cap, base*2**n)).

    ``sleep`` and ``rng`` are injectable so tests see the delays without waiting.
    """

    attempts: int = 6
    base: float = 0.25
    cap: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * 2**attempt))

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn``; retry transient failures; raise a :class:`TransferError` otherwise."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise translate(exc, what) from exc
                if attempt + 1 >= self.attempts:
                    raise RetriesExhausted(
                        f"{what}: still failing after {self.attempts} attempts ({exc});"
                        " check the network or endpoint and run again, it resumes"
                    ) from exc
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")
