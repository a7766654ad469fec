"""Utilization per user and month: tasks, compute hours and cost, from the usage records.

Every query goes through a usage index (by site or by user, ranged on
``finished_at``), never a scan; :func:`monthly_usage` is the one place that reads
them, so a precomputed monthly total can take its place without its callers
noticing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from functions.core.models import UsageRecord
from functions.core.pricing import micros_to_amount


@dataclass(frozen=True)
class MonthlyUsage:
    """One user's use in one month (``YYYY-MM``, UTC)."""

    month: str
    user_name: str
    tasks: int
    jobs: int
    seconds: float
    vcpu_seconds: float
    cost_micros: int
    currency: str

    @property
    def hours(self) -> float:
        """Hours the user's jobs ran (wall-clock, summed over jobs)."""
        return self.seconds / 3600

    @property
    def vcpu_hours(self) -> float:
        return self.vcpu_seconds / 3600

    @property
    def cost(self) -> float:
        return micros_to_amount(self.cost_micros)


@dataclass
class _Sum:
    tasks: set[str] = field(default_factory=set)
    jobs: int = 0
    seconds: float = 0.0
    vcpu_seconds: float = 0.0
    cost_micros: int = 0
    currency: str = ""


def month_bounds(month: str) -> tuple[float, float]:
    """The first instant of ``month`` and of the month after, as epoch seconds (UTC)."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{month!r} is not a month; write it as YYYY-MM") from None
    following = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start.timestamp(), following.timestamp()


def recent_months(now: float, count: int) -> list[str]:
    """The ``count`` months up to and including the one ``now`` falls in, oldest first."""
    at = datetime.fromtimestamp(now, UTC)
    year, month = at.year, at.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def usage_records(
    *, site_id: str | None = None, user_name: str | None = None, start: float, end: float
) -> Iterator[UsageRecord]:
    """The usage records of a site or of a user finished in ``[start, end]``, oldest first.

    With both given, the user's index is queried and records of other sites
    are left out.
    """
    condition = UsageRecord.finished_at.between(start, end)
    if user_name is not None:
        records: Iterable[UsageRecord] = UsageRecord.user_index.query(user_name, condition)
        if site_id is not None:
            records = (r for r in records if r.site_id == site_id)
    elif site_id is not None:
        records = UsageRecord.site_index.query(site_id, condition)
    else:
        raise ValueError("name a site or a user: usage is only read through its indexes")
    yield from records


def monthly_usage(
    months: Sequence[str], *, site_id: str | None = None, user_name: str | None = None
) -> list[MonthlyUsage]:
    """Use per user and month over ``months`` (``YYYY-MM``), by month then user.

    A month or user without any finished job has no row.
    """
    if not months:
        return []
    wanted = set(months)
    start = min(month_bounds(m)[0] for m in months)
    end = max(month_bounds(m)[1] for m in months)
    sums: dict[tuple[str, str], _Sum] = {}
    for record in usage_records(site_id=site_id, user_name=user_name, start=start, end=end):
        month = str(record.month)
        if month not in wanted:
            continue
        total = sums.setdefault((month, str(record.user_name)), _Sum())
        total.tasks.add(str(record.task_id))
        total.jobs += 1
        total.seconds += float(record.seconds or 0)
        total.vcpu_seconds += float(record.seconds or 0) * float(record.vcpus or 0)
        total.cost_micros += int(record.cost_micros or 0)
        total.currency = total.currency or str(record.currency or "")
    return [
        MonthlyUsage(
            month=month,
            user_name=user,
            tasks=len(total.tasks),
            jobs=total.jobs,
            seconds=total.seconds,
            vcpu_seconds=total.vcpu_seconds,
            cost_micros=total.cost_micros,
            currency=total.currency,
        )
        for (month, user), total in sorted(sums.items())
    ]
