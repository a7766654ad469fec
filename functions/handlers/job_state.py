"""``job_state``: AWS Batch "Batch Job State Change" events, through EventBridge and SQS."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from contracts.task_status import Status
from functions.handlers.runtime import (
    Dependencies,
    Handler,
    Powertools,
    idempotency,
    lambda_entry,
    sqs_batch_handler,
)
from functions.work.job_state import JobUpdater


def build(deps: Dependencies) -> Handler:
    tools = Powertools.for_function("job_state", deps.settings)
    logger, metrics = tools.logger, tools.metrics
    persistence, config = idempotency(deps, key="[job_id, status, attempts]")
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

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        event = json.loads(record.body)
        if event.get("detail-type") != "Batch Job State Change":
            logger.info("not a Batch job state change; ignored")
            return {"action": "ignored"}
        job = event["detail"]
        logger.thread_safe_append_keys(job_id=job.get("jobId"), status=job.get("status"))
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
            logger.thread_safe_remove_keys(["job_id", "status"])

    return sqs_batch_handler(tools, config, record_handler)


lambda_handler = lambda_entry(build, component="job_state")
