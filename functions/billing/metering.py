"""Records a finished job exactly once: its task's final state, usage, rollups, report.

All of them are written in one DynamoDB transaction: the usage record's conditional
put, the task's conditional update (its final status, or only its cost when the task
had already ended, e.g. cancelled), the user's and the site's monthly rollups, and
the outbox item that the outbox alone sends to Stripe. A repeated job-state event, or
a second Batch job of a task whose first job was recorded, fails a condition and
changes nothing: no month is counted twice, no usage reported twice, no exception.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from functions.core.models import BillingOutboxItem, Task, UsageRecord, UsageRollup

logger = logging.getLogger(__name__)

CONDITION_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True)
class MeterEvent:
    """What Stripe is told about one job: no patient, no user, only the site and the task."""

    task_id: str
    site_id: str
    value_micros: int
    timestamp: int


@dataclass(frozen=True)
class TaskWrite:
    """The task's update that goes with the usage, and the condition it needs."""

    task: Task
    actions: Sequence[Any]
    condition: Condition


def record_usage(
    usage: UsageRecord, *, region: str, meter: MeterEvent | None, task_write: TaskWrite
) -> bool:
    """Write ``usage`` and ``task_write``, add it to its user's and site's month, queue ``meter``.

    Parameters
    ----------
    usage
        The job's usage record, not yet saved.
    region
        The tables' region.
    meter
        The usage report for Stripe (None when the site is not billed through Stripe,
        or the job cost nothing).
    task_write
        The task's final status (or cost) that this usage belongs to.

    Returns
    -------
    bool
        True when this call recorded the job; False when nothing was written because a
        condition did not hold: the job had been recorded before, the task has another
        job, or the task is no longer in a status this write expects.

    Raises
    ------
    TransactWriteError
        For any other reason the transaction was cancelled (a conflict, throttling):
        the caller's retry writes it.
    """
    month = usage.month
    add = [
        UsageRollup.jobs.add(1),
        UsageRollup.cost_micros.add(int(usage.cost_micros)),
        UsageRollup.charged_seconds.add(float(usage.charged_seconds or 0)),
        UsageRollup.uncharged_seconds.add(float(usage.uncharged_seconds or 0)),
    ]
    try:
        with TransactWrite(connection=Connection(region=region)) as transaction:
            transaction.save(usage, condition=UsageRecord.job_id.does_not_exist())
            transaction.update(
                task_write.task, list(task_write.actions), condition=task_write.condition
            )
            transaction.update(UsageRollup(UsageRollup.user_owner(usage.user_name), month), add)
            reported = [UsageRollup.reported_micros.add(meter.value_micros)] if meter else []
            transaction.update(
                UsageRollup(UsageRollup.site_owner(usage.site_id), month), [*add, *reported]
            )
            if meter is not None:
                transaction.save(
                    BillingOutboxItem(
                        meter.task_id,
                        site_id=meter.site_id,
                        value=meter.value_micros,
                        timestamp=meter.timestamp,
                        pending="1",
                        next_attempt_at=meter.timestamp,
                    ),
                    condition=BillingOutboxItem.event_id.does_not_exist(),
                )
    except TransactWriteError as exc:
        codes = {reason.code for reason in exc.cancellation_reasons or [] if reason is not None}
        if CONDITION_FAILED in codes:
            return False
        raise
    logger.info(
        "usage recorded",
        extra={
            "task_id": usage.task_id,
            "site_id": usage.site_id,
            "cost_micros": int(usage.cost_micros),
            "reported_to_stripe": meter is not None,
        },
    )
    return True
