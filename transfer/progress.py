"""Progress reports: bytes done, total, rate and ETA, delivered to a callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One report. ``rate`` is bytes/s moved in this run; ``eta`` seconds, None if unknown."""

    done: int
    total: int
    rate: float
    eta: float | None


ProgressCallback = Callable[[Progress], None]


class ProgressTracker:
    """Thread-safe counter that calls ``callback`` after each step.

    Bytes already present when a transfer resumes count toward ``done`` but not
    toward the rate, so the ETA reflects the link, not the journal.
    """

    def __init__(
        self,
        total: int,
        callback: ProgressCallback | None,
        *,
        initial: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = initial
        self._initial = initial
        self._callback = callback
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            report = self._report()
        if self._callback is not None:
            self._callback(report)

    def _report(self) -> Progress:
        elapsed = self._clock() - self._start
        moved = self.done - self._initial
        rate = moved / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = left / rate if rate > 0 else (0.0 if left <= 0 else None)
        return Progress(done=self.done, total=self.total, rate=rate, eta=eta)
