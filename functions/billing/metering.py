"""Records a finished job's usage exactly once: usage record, monthly rollups, outbox item.

All of them are written in one DynamoDB transaction whose first item is the usage
record's conditional put: a repeated job-state event fails that condition and
changes nothing, so no month is counted twice and no usage is reported twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from functions.core.models import BillingOutboxItem, UsageRecord, UsageRollup

logger = logging.getLogger(__name__)

CONDITION_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True)
class MeterEvent:
    """What Stripe is told about one job: no patient, no user, only the site and the task."""

    task_id: str
    site_id: str
    value_micros: int
    timestamp: int


def record_usage(usage: UsageRecord, *, region: str, meter: MeterEvent | None) -> bool:
    """Write ``usage``, add it to its user's and site's month and queue ``meter``.

    Parameters
    ----------
    usage
        The job's usage record, not yet saved.
    region
        The tables' region.
    meter
        The usage report for Stripe (None when the site is not billed through Stripe,
        or the job cost nothing).

    Returns
    -------
    bool
        True when this call recorded the job; False when it had been recorded before.
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
            transaction.update(UsageRollup(UsageRollup.user_owner(usage.user_name), month), add)
            transaction.update(UsageRollup(UsageRollup.site_owner(usage.site_id), month), add)
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
        reasons = exc.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == CONDITION_FAILED:
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
