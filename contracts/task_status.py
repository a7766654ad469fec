"""A task's status names and their order, as the backend stores them and the clients read them.

The order follows AWS Batch (``SUBMITTED`` … ``SUCCEEDED``, Batch's own names,
since the Yarra clients read them) with ``UPLOADING`` before submission and
``DELIVERED`` after success. ``FAILED``, ``CANCELED`` and ``EXPIRED`` end a task
otherwise. The transitions the order allows are the backend's
(``functions/core/status.py``).
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

SETTLED: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.DELIVERED})
"""Statuses whose images exist: no end status overrides them."""
