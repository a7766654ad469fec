"""Who pays what: which of a job's attempts the site is charged for.

The rules, in the words the portal shows them:

- A job that **succeeded** is charged for the attempt that produced the images.
- A job that **failed on its input** (the worker exits 65: unreadable raw data, a
  task or mode that cannot run) is charged: the instance did the work it was asked to.
- A job a user **cancelled** is charged up to the moment of the cancellation.
- **Not charged**: attempts lost to a spot reclaim (Batch says "Host EC2 ...
  terminated"), attempts that ended in a fault of the service (the worker exits 70
  or 75, the container could not start, any other exit code), and attempts
  stopped by the mode's time limit — a run that hit the limit produced nothing,
  and the limit is there to protect the site from a runaway job.

Everything here is pure: a Batch job description in, seconds out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

RULES: tuple[str, ...] = (
    "A reconstruction that succeeded is charged for the time it ran, by the second.",
    "A reconstruction that failed because of its input (raw data that cannot be read, a"
    " task or mode that cannot run) is charged: the machine did the work it was asked to.",
    "A reconstruction a user cancelled is charged up to the moment of the cancellation.",
    "Time lost to a spot reclaim, to a fault of the service, or to the mode's time limit is"
    " not charged.",
)
"""The rules above in the words the portal shows next to the prices."""

EXIT_SUCCESS = 0
EXIT_BAD_INPUT = 65
"""The worker's exit code for input no retry can fix (``recon_image.errors``)."""
SPOT_RECLAIM_PREFIX = "Host EC2"
TIMEOUT_PREFIX = "Job attempt duration exceeded timeout"


class Verdict(StrEnum):
    """Why an attempt is or is not charged."""

    SUCCEEDED = "succeeded"
    BAD_INPUT = "bad_input"
    CANCELLED = "cancelled"
    SPOT_RECLAIM = "spot_reclaim"
    TIMED_OUT = "timed_out"
    SERVICE_FAULT = "service_fault"

    @property
    def charged(self) -> bool:
        return self in (Verdict.SUCCEEDED, Verdict.BAD_INPUT, Verdict.CANCELLED)


@dataclass(frozen=True)
class AttemptCharge:
    """One attempt: the seconds it held its instance and how many of them are charged."""

    seconds: float
    verdict: Verdict
    charged_seconds: float


@dataclass(frozen=True)
class JobCharge:
    """A job's attempts, each with its verdict, and the seconds charged and not."""

    attempts: tuple[AttemptCharge, ...]

    @property
    def charged_seconds(self) -> float:
        return sum(a.charged_seconds for a in self.attempts)

    @property
    def uncharged_seconds(self) -> float:
        return sum(a.seconds - a.charged_seconds for a in self.attempts)


def attempt_verdict(attempt: Mapping[str, Any]) -> Verdict:
    """The verdict on one finished attempt, from its exit code and Batch's reason."""
    reason = attempt.get("statusReason") or ""
    if reason.startswith(SPOT_RECLAIM_PREFIX):
        return Verdict.SPOT_RECLAIM
    if reason.startswith(TIMEOUT_PREFIX):
        return Verdict.TIMED_OUT
    exit_code = (attempt.get("container") or {}).get("exitCode")
    if exit_code == EXIT_SUCCESS:
        return Verdict.SUCCEEDED
    if exit_code == EXIT_BAD_INPUT:
        return Verdict.BAD_INPUT
    return Verdict.SERVICE_FAULT


def charge_job(
    attempts: Iterable[Mapping[str, Any]], *, cancelled_at: float | None = None
) -> JobCharge:
    """Judge each attempt of a finished job.

    Parameters
    ----------
    attempts
        Batch's ``attempts``: ``startedAt``/``stoppedAt`` in epoch milliseconds,
        ``container.exitCode`` and ``statusReason``.
    cancelled_at
        When a user cancelled the task (epoch seconds), if they did. An attempt
        still running then is charged up to that moment, whatever stopped it.
    """
    judged = []
    for attempt in attempts:
        started, stopped = attempt.get("startedAt"), attempt.get("stoppedAt")
        if not started or not stopped:
            judged.append(AttemptCharge(0.0, attempt_verdict(attempt), 0.0))
            continue
        start_s, stop_s = started / 1000, stopped / 1000
        seconds = max(0.0, stop_s - start_s)
        if cancelled_at is not None and stop_s >= cancelled_at:
            # Running when the user cancelled: the time it took to stop is not charged.
            charged = min(seconds, max(0.0, cancelled_at - start_s))
            judged.append(AttemptCharge(seconds, Verdict.CANCELLED, charged))
            continue
        verdict = attempt_verdict(attempt)
        judged.append(AttemptCharge(seconds, verdict, seconds if verdict.charged else 0.0))
    return JobCharge(tuple(judged))
