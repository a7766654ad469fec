"""``job_state``: AWS Batch "Batch Job State Change" events, through EventBridge and SQS."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from functions.core.status import Status
from functions.handlers.runtime import Dependencies, Handler, lambda_entry, reported
from functions.job_updates import JobUpdater


def build(deps: Dependencies) -> Handler:
    logger = Logger(service="job_state")
    copy_config_to_registered_loggers(source_logger=logger, include={"functions"})
    metrics = Metrics(namespace=deps.settings.metrics_namespace, service="job_state")
    tracer = Tracer(service="job_state")
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    persistence = DynamoDBPersistenceLayer(
        table_name=deps.settings.idempotency_table, boto3_session=deps.clients.session
    )
    config = IdempotencyConfig(
        event_key_jmespath="[job_id, status, attempts]",
        expires_after_seconds=deps.settings.idempotency_expiry_seconds,
    )
    updater = JobUpdater(deps.settings, deps.clients, clock=deps.clock)

    @idempotent_function(
        data_keyword_argument="change", persistence_store=persistence, config=config
    )
    def handle_change(change: dict[str, Any]) -> dict[str, Any]:
        update = updater.apply(change["job"])
        if update.action == "finished":
            name = "TasksSucceeded" if update.status == Status.SUCCEEDED else "TasksFailed"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            metrics.add_metric(
                name="TurnaroundSeconds",
                unit=MetricUnit.Seconds,
                value=update.turnaround_seconds or 0,
            )
        return {"task_id": update.task_id, "action": update.action, "status": update.status}

    @reported
    def record_handler(record: SQSRecord) -> dict[str, Any]:
        event = json.loads(record.body)
        if event.get("detail-type") != "Batch Job State Change":
            logger.info("not a Batch job state change; ignored")
            return {"action": "ignored"}
        job = event["detail"]
        logger.append_keys(job_id=job.get("jobId"), status=job.get("status"))
        try:
            # One job passes through each status once (RUNNABLE again on a retry, with one
            # more attempt): that, not the event id, identifies a repeated delivery.
            return handle_change(
                change={
                    "job_id": job.get("jobId"),
                    "status": job.get("status"),
                    "attempts": len(job.get("attempts") or []),
                    "job": job,
                }
            )
        finally:
            logger.remove_keys(["job_id", "status"])

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict, context: Any) -> dict:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


lambda_handler = lambda_entry(build, component="job_state")
