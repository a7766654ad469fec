"""``billing_reconcile``: runs daily; checks last month's usage against Stripe's meter."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.billing.stripe_gateway import gateway_from_secret
from functions.handlers.runtime import Dependencies, Handler, Powertools, lambda_entry, reported
from functions.work.billing_reconcile import previous_month, reconcile


def build(deps: Dependencies) -> Handler:
    tools = Powertools.for_function("billing_reconcile", deps.settings)
    logger, metrics = tools.logger, tools.metrics
    gateway = gateway_from_secret(deps.settings, deps.clients.secretsmanager, logger)

    @reported
    def handler(event: dict, context: Any) -> dict:
        month = event.get("month") or previous_month(deps.clock())
        checked = [] if gateway is None else reconcile(gateway, month)
        differing = [asdict(c) for c in checked if c.differs]
        metrics.add_metric(name="UsageTotalsDiffering", unit=MetricUnit.Count, value=len(differing))
        logger.info("usage reconciled", extra={"month": month, "sites": len(checked)})
        return {"checked": [c.site_id for c in checked], "differing": differing}

    return tools.entry_point(handler)


lambda_handler = lambda_entry(build, component="billing_reconcile")
