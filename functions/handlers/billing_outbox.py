"""``billing_outbox``: runs on a schedule; sends the usage reports Stripe has not yet taken."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.billing.stripe_gateway import check_set_up, gateway_from_secret
from functions.handlers.runtime import Dependencies, Handler, Powertools, lambda_entry, reported
from functions.work.billing_outbox import Outbox


def build(deps: Dependencies) -> Handler:
    tools = Powertools.for_function("billing_outbox", deps.settings)
    logger, metrics = tools.logger, tools.metrics
    gateway = gateway_from_secret(deps.settings, deps.clients.secretsmanager, logger)
    if gateway is not None:
        check_set_up(gateway)
    outbox = Outbox(gateway, clock=deps.clock)

    @reported
    def handler(event: dict, context: Any) -> dict:
        report = outbox.drain()
        metrics.add_metric(name="UsageReportsSent", unit=MetricUnit.Count, value=len(report.sent))
        metrics.add_metric(
            name="UsageReportsRetrying", unit=MetricUnit.Count, value=len(report.retrying)
        )
        metrics.add_metric(
            name="UsageReportsRejected", unit=MetricUnit.Count, value=len(report.rejected)
        )
        metrics.add_metric(
            name="OldestPendingUsageReportSeconds",
            unit=MetricUnit.Seconds,
            value=outbox.oldest_pending_seconds(),
        )
        logger.info("outbox drained", extra={k: len(v) for k, v in asdict(report).items()})
        return asdict(report)

    return tools.entry_point(handler)


lambda_handler = lambda_entry(build, component="billing_outbox")
