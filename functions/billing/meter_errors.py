"""Stripe's meter error reports: usage events Stripe dropped after it accepted them.

Stripe validates meter events after answering 200 and reports the ones it dropped
(an unknown customer, a timestamp too old, …) as the events
``v1.billing.meter.error_report_triggered`` and ``v1.billing.meter.no_meter_found``.
They come only to an event destination (``scripts/admin stripe setup`` makes one,
see :mod:`functions.billing.stripe_setup`), as *thin* notifications: a signed body
naming the event, whose details are fetched from ``/v2/core/events/{id}``.

Each report is logged and counted in the metric ``MeterErrorReports`` (service
``stripe_meter_errors``), which an alarm watches. What is kept is the meter, the
error codes with their counts and the time window: never the sample errors, which
carry the dropped events' identifiers and messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import stripe
from aws_lambda_powertools.metrics import MetricUnit, single_metric

EVENTS = ("v1.billing.meter.error_report_triggered", "v1.billing.meter.no_meter_found")
"""The event types the event destination delivers."""
SERVICE = "stripe_meter_errors"
METRIC = "MeterErrorReports"

logger = logging.getLogger(__name__)


class NotificationRejected(Exception):
    """A body that is not a correctly signed notification of one of :data:`EVENTS`."""


@dataclass(frozen=True)
class MeterErrorReport:
    """One error report: how many events of a meter Stripe dropped in a window, and why."""

    event_id: str
    event_type: str
    meter_id: str | None
    validation_start: str
    validation_end: str
    error_count: int
    codes: dict[str, int] = field(default_factory=dict)
    """Error code (``meter_event_customer_not_found``, …) → events dropped for it."""


def receive(
    payload: bytes, signature: str | None, *, secret: str, client: stripe.StripeClient
) -> MeterErrorReport:
    """Verify a thin notification, fetch its event from Stripe and read the report.

    Raises
    ------
    NotificationRejected
        A wrong signature, a body that is no thin event, or another event type.
    """
    try:
        notification = client.parse_event_notification(payload, signature, secret)
    except stripe.SignatureVerificationError as exc:
        raise NotificationRejected(f"bad signature: {exc}") from None
    except (ValueError, KeyError) as exc:
        raise NotificationRejected(f"not a thin event notification: {exc}") from None
    if notification.type not in EVENTS:
        raise NotificationRejected(
            f"{notification.type} is not a meter error event: enable only {', '.join(EVENTS)}"
            " on this event destination"
        )
    event = notification.fetch_event().to_dict()
    data = event.get("data") or {}
    reason = data.get("reason") or {}
    related = event.get("related_object") or {}
    return MeterErrorReport(
        event_id=notification.id,
        event_type=notification.type,
        meter_id=related.get("id"),
        validation_start=str(data.get("validation_start", "")),
        validation_end=str(data.get("validation_end", "")),
        error_count=int(reason.get("error_count", 0)),
        codes={
            str(kind["code"]): int(kind.get("error_count", 0))
            for kind in reason.get("error_types") or []
        },
    )


def record(report: MeterErrorReport, namespace: str) -> None:
    """Log the report and add its dropped events to :data:`METRIC`."""
    logger.error(
        "Stripe dropped meter events it had accepted",
        extra={
            "stripe_event_id": report.event_id,
            "stripe_event_type": report.event_type,
            "meter_id": report.meter_id,
            "validation_start": report.validation_start,
            "validation_end": report.validation_end,
            "error_count": report.error_count,
            "error_codes": report.codes,
        },
    )
    with single_metric(
        name=METRIC,
        unit=MetricUnit.Count,
        value=report.error_count,
        namespace=namespace,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_metadata(key="stripe_event_id", value=report.event_id)
        metric.add_metadata(key="error_codes", value=report.codes)
