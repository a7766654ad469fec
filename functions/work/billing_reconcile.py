"""Checks Stripe's meter against our own totals: a site's month as Stripe sums it must be
what we queued for it (``UsageRollup.reported_micros``).

A difference means usage Stripe never counted (an event it dropped after taking it,
as its asynchronous validation does, reported in a meter error report) or counted
twice. Reports still waiting in the outbox are left out of our side, so a report
that is late but on its way is not a difference.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist

from functions.billing.stripe_gateway import StripeGateway
from functions.core.clock import month_of
from functions.core.models import BillingOutboxItem, Site, UsageRollup
from functions.work.billing_outbox import PENDING

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteMonth:
    """A site's month on both sides, in micro-units of the rates' currency."""

    site_id: str
    month: str
    ours: int
    stripe: int

    @property
    def differs(self) -> bool:
        return self.ours != self.stripe


def month_bounds(month: str) -> tuple[int, int]:
    """The first second of ``YYYY-MM`` and of the month after, in epoch seconds (UTC)."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    after = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return int(start.timestamp()), int(after.timestamp())


def previous_month(now: float) -> str:
    start, _ = month_bounds(month_of(now))
    return month_of(start - 1)


def _pending_micros(month: str) -> dict[str, int]:
    """Per site, the usage of ``month`` still waiting in the outbox."""
    start, end = month_bounds(month)
    waiting: dict[str, int] = {}
    for item in BillingOutboxItem.pending_index.query(PENDING):
        if start <= int(item.timestamp) < end:
            waiting[item.site_id] = waiting.get(item.site_id, 0) + int(item.value)
    return waiting


def reconcile(
    gateway: StripeGateway, month: str, sites: Iterable[Site] | None = None
) -> list[SiteMonth]:
    """Our total and Stripe's meter summary of ``month`` for every site billed through Stripe."""
    start, end = month_bounds(month)
    waiting = _pending_micros(month)
    checked = []
    for site in Site.scan() if sites is None else sites:
        if site.billing_mode != "stripe" or not site.stripe_customer_id:
            continue
        try:
            rollup = UsageRollup.get(UsageRollup.site_owner(site.site_id), month)
            reported = int(rollup.reported_micros or 0)
        except DoesNotExist:
            reported = 0
        ours = reported - waiting.get(site.site_id, 0)
        stripe_sum = gateway.meter_total(site.stripe_customer_id, start, end)
        result = SiteMonth(site.site_id, month, ours, stripe_sum)
        if result.differs:
            logger.error(
                "Stripe's meter and our usage differ",
                extra={"site_id": site.site_id, "month": month, "ours": ours, "stripe": stripe_sum},
            )
        checked.append(result)
    return checked
