"""A bandwidth cap: one token bucket shared by every part worker of a transfer.

Bytes are paced in small chunks (64 KiB) as they are read from the file for
sending or from a response body, so a capped link sees a steady trickle rather
than whole parts at full speed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

PACE_CHUNK = 64 * 1024


class TokenBucket:
    """Thread-safe token bucket: ``rate`` bytes per second, at most ``burst`` bytes ahead.

    :meth:`consume` takes ``count`` tokens at once and, when that leaves the
    bucket in debt, sleeps until the debt is paid; later callers queue behind
    the debt, so the total rate over all threads never exceeds ``rate``.
    ``clock`` and ``sleep`` are injectable so tests can check the pacing
    without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = PACE_CHUNK,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"bandwidth cap must be positive, got {rate}")
        self.rate = float(rate)
        self.burst = float(max(burst, 0))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def consume(self, count: int) -> float:
        """Take ``count`` bytes' worth of tokens; sleep as needed. Returns the seconds slept."""
        if count <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= count
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def bucket_for(bytes_per_second: float | None) -> TokenBucket | None:
    """A bucket for a cap in bytes per second, or None for no cap."""
    return TokenBucket(bytes_per_second) if bytes_per_second is not None else None


class ThrottledBody:
    """A seekable, read-only view of ``data`` whose reads are paced by ``bucket``.

    Each byte is charged once, when it is first read: the client library may
    read a body more than once for one request (to sign or checksum it, then
    to send it), and only one of those passes crosses the link. A fresh body
    is made for each attempt, so a resend after a fault is paced again.
    """

    def __init__(self, data: bytes, bucket: TokenBucket, chunk: int = PACE_CHUNK) -> None:
        self._data = memoryview(data)
        self._bucket = bucket
        self._chunk = max(1, chunk)
        self._pos = 0
        self._charged = 0

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int | None = -1) -> bytes:
        total = len(self._data)
        end = total if size is None or size < 0 else min(total, self._pos + size)
        out = bytearray()
        while self._pos < end:
            stop = min(end, self._pos + self._chunk)
            if stop > self._charged:
                self._bucket.consume(stop - max(self._pos, self._charged))
                self._charged = stop
            out += self._data[self._pos : stop]
            self._pos = stop
        return bytes(out)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._data)}[whence]
        self._pos = max(0, min(len(self._data), base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; the client library may call it after sending."""


def body(data: bytes, bucket: TokenBucket | None) -> bytes | ThrottledBody:
    """``data`` as handed to the client: paced when there is a cap."""
    return data if bucket is None else ThrottledBody(data, bucket)


def mbps_to_bytes_per_second(mbps: float) -> float:
    """Megabits per second (10**6 bits) to bytes per second."""
    return mbps * 1_000_000 / 8
