"""``sweeper``: runs on a schedule; expires, reconciles and reports the oldest waiting task."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from functions.handlers.runtime import Dependencies, Handler, lambda_entry, reported
from functions.sweeping import Sweeper


def build(deps: Dependencies) -> Handler:
    logger = Logger(service="sweeper")
    copy_config_to_registered_loggers(source_logger=logger, include={"functions"})
    metrics = Metrics(namespace=deps.settings.metrics_namespace, service="sweeper")
    tracer = Tracer(service="sweeper")
    sweeper = Sweeper(deps.settings, deps.clients, clock=deps.clock)

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    @reported
    def handler(event: dict, context: Any) -> dict:
        report = sweeper.sweep()
        metrics.add_metric(
            name="OldestWaitingTaskAgeSeconds",
            unit=MetricUnit.Seconds,
            value=report.oldest_waiting_seconds,
        )
        metrics.add_metric(name="TasksExpired", unit=MetricUnit.Count, value=len(report.expired))
        metrics.add_metric(name="TasksLost", unit=MetricUnit.Count, value=len(report.lost))
        logger.info(
            "sweep done",
            extra={k: len(v) if isinstance(v, list) else v for k, v in asdict(report).items()},
        )
        return asdict(report)

    return handler


lambda_handler = lambda_entry(build, component="sweeper")
