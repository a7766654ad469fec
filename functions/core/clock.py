"""Time as the backend sees it: injectable, so tests can move it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns seconds since the epoch."""

system_clock: Clock = time.time


def month_of(epoch_seconds: float) -> str:
    """``YYYY-MM`` of an instant, in UTC."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m")
