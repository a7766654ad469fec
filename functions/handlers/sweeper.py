"""``sweeper``: runs on a schedule; expires, reconciles and reports the oldest waiting task."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.handlers.runtime import Dependencies, Handler, Powertools, lambda_entry, reported
from functions.work.sweeper import Sweeper


def build(deps: Dependencies) -> Handler:
    tools = Powertools.for_function("sweeper", deps.settings)
    logger, metrics = tools.logger, tools.metrics
    sweeper = Sweeper(deps.settings, deps.clients, clock=deps.clock)

    @reported
    def handler(event: dict, context: Any) -> dict:
        report = sweeper.sweep()
        metrics.add_metric(
            name="OldestWaitingTaskAgeSeconds",
            unit=MetricUnit.Seconds,
            value=report.oldest_waiting_seconds,
        )
        metrics.add_metric(
            name="OldestRunnableTaskAgeSeconds",
            unit=MetricUnit.Seconds,
            value=report.oldest_runnable_seconds,
        )
        metrics.add_metric(name="TasksExpired", unit=MetricUnit.Count, value=len(report.expired))
        metrics.add_metric(name="TasksLost", unit=MetricUnit.Count, value=len(report.lost))
        logger.info(
            "sweep done",
            extra={k: len(v) if isinstance(v, list) else v for k, v in asdict(report).items()},
        )
        return asdict(report)

    return tools.entry_point(handler)


lambda_handler = lambda_entry(build, component="sweeper")
