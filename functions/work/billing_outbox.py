"""Sends the usage reports waiting in the billing outbox to Stripe, retrying with backoff.

An item is sent right after the job's usage is recorded; when Stripe cannot be
reached it stays pending with its attempts counted and a time before which it is
not tried again, and the scheduled ``billing_outbox`` function sends it later. A
Stripe outage therefore delays billing but loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import stripe
from pynamodb.exceptions import DoesNotExist, UpdateError

from functions.billing.metering import MeterEvent
from functions.billing.stripe_gateway import RETRYABLE, StripeGateway
from functions.core.clock import Clock, system_clock
from functions.core.models import BillingOutboxItem, Site
from functions.core.task_store import condition_failed

logger = logging.getLogger(__name__)

PENDING = "1"
FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after ``attempts`` failed ones: 1, 2, 4 … minutes, at most 1 h."""
    return min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))


@dataclass
class DrainReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


@dataclass
class Outbox:
    """The outbox table and the gateway its items go through (None: Stripe not configured)."""

    gateway: StripeGateway | None
    clock: Clock = system_clock
    after_stripe_took: Callable[[str], None] = lambda event_id: None
    """Named point where tests inject a crash: Stripe holds the event, the outbox not yet."""

    def send(self, event_id: str) -> str:
        """Try to send one item now, if it is still pending; returns its state after."""
        try:
            item = BillingOutboxItem.get(event_id, consistent_read=True)
        except DoesNotExist:
            return "missing"
        if item.pending is None:
            return item.state
        return self._send(item)

    def drain(self, limit: int = 100) -> DrainReport:
        """Send every pending item that is due, oldest first, at most ``limit`` of them."""
        report = DrainReport()
        due = BillingOutboxItem.pending_index.query(
            PENDING, BillingOutboxItem.next_attempt_at <= self.clock(), limit=limit
        )
        for item in due:
            state = self._send(item)
            {"sent": report.sent, "rejected": report.rejected}.get(state, report.retrying).append(
                item.event_id
            )
        return report

    def oldest_pending_seconds(self) -> float:
        """How long the oldest report still waiting has waited since its job ended (0: none)."""
        oldest = min(
            (int(item.timestamp) for item in BillingOutboxItem.pending_index.query(PENDING)),
            default=None,
        )
        return 0.0 if oldest is None else max(0.0, self.clock() - oldest)

    def _send(self, item: BillingOutboxItem) -> str:
        if self.gateway is None:
            logger.warning(
                "usage report waits: Stripe is not configured", extra={"task_id": item.event_id}
            )
            return self._retry_later(
                item, "Stripe is not configured: run `scripts/admin stripe setup`"
            )
        try:
            site = Site.get(item.site_id)
            customer = self.gateway.ensure_customer(site)
            fresh = self.gateway.send_meter_event(
                MeterEvent(item.event_id, item.site_id, int(item.value), int(item.timestamp)),
                customer,
            )
        except RETRYABLE as exc:
            logger.warning(
                "usage report to Stripe failed; retried later",
                extra={"task_id": item.event_id, "error": type(exc).__name__},
            )
            return self._retry_later(item, f"{type(exc).__name__}: {exc.user_message or exc}")
        except (stripe.StripeError, DoesNotExist) as exc:
            logger.error(
                "Stripe refused a usage report; it needs an operator",
                extra={"task_id": item.event_id, "site_id": item.site_id},
            )
            return self._finish(item, "rejected", error=f"{type(exc).__name__}: {exc}")
        self.after_stripe_took(item.event_id)
        logger.info(
            "usage reported to Stripe" if fresh else "usage report already held by Stripe",
            extra={"task_id": item.event_id},
        )
        return self._finish(item, "sent")

    def requeue_rejected(self, site_id: str | None = None) -> list[str]:
        """Put the reports Stripe refused (of one site, or all) back in line, due now.

        For after an operator fixed the cause; the next drain sends them. Their
        attempts and last error are kept.
        """
        requeued = []
        condition = BillingOutboxItem.state == "rejected"
        if site_id is not None:
            condition &= BillingOutboxItem.site_id == site_id
        for item in BillingOutboxItem.scan(condition):
            try:
                item.update(
                    actions=[
                        BillingOutboxItem.state.set("pending"),
                        BillingOutboxItem.pending.set(PENDING),
                        BillingOutboxItem.next_attempt_at.set(self.clock()),
                    ],
                    condition=BillingOutboxItem.state == "rejected",
                )
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise
                continue
            requeued.append(item.event_id)
        return sorted(requeued)

    def _finish(self, item: BillingOutboxItem, state: str, error: str | None = None) -> str:
        actions = [
            BillingOutboxItem.state.set(state),
            BillingOutboxItem.attempts.add(1),
            BillingOutboxItem.pending.remove(),
            BillingOutboxItem.next_attempt_at.remove(),
        ]
        if state == "sent":
            actions.append(BillingOutboxItem.sent_at.set(self.clock()))
        if error:
            actions.append(BillingOutboxItem.last_error.set(error[:500]))
        return self._update(item, actions, state)

    def _retry_later(self, item: BillingOutboxItem, error: str) -> str:
        attempts = int(item.attempts or 0) + 1
        actions = [
            BillingOutboxItem.attempts.set(attempts),
            BillingOutboxItem.next_attempt_at.set(self.clock() + backoff_seconds(attempts)),
            BillingOutboxItem.last_error.set(error[:500]),
        ]
        return self._update(item, actions, "pending")

    @staticmethod
    def _update(item: BillingOutboxItem, actions: list, state: str) -> str:
        """Apply ``actions`` unless another sender finished the item first."""
        try:
            item.update(actions=actions, condition=BillingOutboxItem.pending.exists())
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            item.refresh(consistent_read=True)
            return item.state
        return state
