"""``submit``: S3 "Object Created" events of the in bucket, through EventBridge and SQS.

A raw file opens its task; the task file (uploaded last) submits it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from functions.core.errors import TaskUnavailable
from functions.core.keys import KeyKind, parse_in_key
from functions.handlers.runtime import (
    Dependencies,
    Handler,
    Powertools,
    idempotency,
    lambda_entry,
    sqs_batch_handler,
)
from functions.work.submit import Hooks, Outcome, Submitter


def object_created(event: dict[str, Any]) -> dict[str, Any] | None:
    """The bucket, key, size and ETag of an S3 "Object Created" EventBridge event.

    The ETag field is ``etag`` on AWS and ``eTag`` in some emulators; both are read.
    """
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        return None
    detail = event.get("detail") or {}
    obj = detail.get("object") or {}
    if not obj.get("key"):
        return None
    return {
        "bucket": (detail.get("bucket") or {}).get("name"),
        "key": obj["key"],
        "size": obj.get("size"),
        "etag": obj.get("etag") or obj.get("eTag") or obj.get("sequencer"),
    }


def build(deps: Dependencies, hooks: Hooks | None = None) -> Handler:
    tools = Powertools.for_function("submit", deps.settings)
    logger, metrics = tools.logger, tools.metrics
    persistence, config = idempotency(deps, key="[bucket, key, etag]")
    submitter = Submitter(deps.settings, deps.clients, clock=deps.clock, hooks=hooks or Hooks())

    @idempotent_function(
        data_keyword_argument="upload", persistence_store=persistence, config=config
    )
    def handle_upload(upload: dict[str, Any]) -> dict[str, Any]:
        key = parse_in_key(upload["key"])
        if key is None or key.kind is KeyKind.OTHER:
            logger.info("object outside the task layout ignored")
            return {"action": "ignored"}
        logger.thread_safe_append_keys(task_id=key.task_id)
        outcome: Outcome
        if key.kind is KeyKind.RAW:
            outcome = submitter.open(key)
        else:
            try:
                outcome = submitter.submit(key.user, key.task_id, key.name)
            except TaskUnavailable:
                logger.warning("task file refused: task id unavailable to this user")
                outcome = Outcome(key.task_id, "refused")
        if outcome.action == "submitted":
            metrics.add_metric(name="TasksSubmitted", unit=MetricUnit.Count, value=1)
        elif outcome.action == "rejected":
            metrics.add_metric(name="TasksRejected", unit=MetricUnit.Count, value=1)
        return outcome.as_dict()

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        upload = object_created(json.loads(record.body))
        if upload is None or upload["bucket"] != deps.settings.in_bucket:
            logger.info("not an upload to the in bucket; ignored")
            return {"action": "ignored"}
        try:
            return handle_upload(upload=upload)
        finally:
            logger.thread_safe_remove_keys(["task_id"])

    return sqs_batch_handler(tools, config, record_handler)


lambda_handler = lambda_entry(build, component="submit")
