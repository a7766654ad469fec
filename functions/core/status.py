"""Task statuses, their order, and which transitions the order allows.

The order follows AWS Batch (``SUBMITTED`` … ``SUCCEEDED``) with ``UPLOADING``
before submission and ``DELIVERED`` after success. ``FAILED``, ``CANCELED`` and
``EXPIRED`` end a task from any status before them. Every transition is a
conditional write on :func:`predecessors`, so a duplicate or late event can
never move a task backwards.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    UPLOADING = "UPLOADING"
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


ORDER: tuple[Status, ...] = (
    Status.UPLOADING,
    Status.SUBMITTED,
    Status.PENDING,
    Status.RUNNABLE,
    Status.STARTING,
    Status.RUNNING,
    Status.SUCCEEDED,
    Status.DELIVERED,
)

ENDS: frozenset[Status] = frozenset({Status.FAILED, Status.CANCELED, Status.EXPIRED})
"""Statuses that end a task without success."""

FINAL: frozenset[Status] = ENDS | {Status.DELIVERED}
"""Statuses after which nothing changes."""

# A job that has left the cloud's hands: SUCCEEDED can still be DELIVERED, but no end
# status overrides it, since the images exist.
_SETTLED: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.DELIVERED})


def is_open(status: Status) -> bool:
    """Whether a task in ``status`` can still change."""
    return status not in FINAL


def predecessors(target: Status) -> frozenset[Status]:
    """The statuses from which a task may move to ``target``."""
    if target in ENDS:
        return frozenset(ORDER) - _SETTLED
    rank = ORDER.index(target)
    return frozenset(ORDER[:rank])


def can_move(current: Status, target: Status) -> bool:
    """Whether the order allows ``current`` → ``target``."""
    return current in predecessors(target)
