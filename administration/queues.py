"""The depth of every dead-letter queue the deployment description names.

A message in a DLQ is an event the backend gave up on after its retries; the
operator's view shows how many wait in each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from administration.deployment import resolve
from functions.core.settings import Settings


@dataclass(frozen=True)
class DeadLetterQueue:
    key: str
    """The queue's key in the description (``submit``, ``job_state`` …)."""
    name: str


@dataclass(frozen=True)
class QueueDepth:
    queue: DeadLetterQueue
    depth: int | None
    """Messages waiting (``ApproximateNumberOfMessages``); None where it could not be read."""
    error: str = ""


def dead_letter_queues(description: Mapping[str, Any], settings: Settings) -> list[DeadLetterQueue]:
    """Every queue's DLQ named in ``description``, by key."""
    return [
        DeadLetterQueue(key, resolve(str(queue["dlq"]), description, settings))
        for key, queue in sorted(description.get("queues", {}).items())
        if queue.get("dlq")
    ]


def dead_letter_depths(sqs: Any, queues: list[DeadLetterQueue]) -> list[QueueDepth]:
    """How many messages wait in each of ``queues``; a queue that cannot be read says why."""
    depths = []
    for queue in queues:
        try:
            url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths.append(QueueDepth(queue, int(attributes["ApproximateNumberOfMessages"])))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            depths.append(QueueDepth(queue, None, f"{error.get('Code')}: {error.get('Message')}"))
        except BotoCoreError as exc:
            depths.append(QueueDepth(queue, None, str(exc)))
    return depths
