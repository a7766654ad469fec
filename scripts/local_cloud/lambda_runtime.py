"""Polls SQS queues and calls the handler functions the way Lambda's event source mappings do.

Each poll hands up to ``batch_size`` messages to the handler as one SQS event with
a Lambda-like context, deletes the messages it processed and leaves the ones it
reported in ``batchItemFailures`` to come back (and, past the queue's
``maxReceiveCount``, to land in its dead-letter queue).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("yarracloud.local_lambda")

Handler = Callable[[dict, Any], Any]


@dataclass
class LambdaContext:
    """The part of Lambda's context object that the handlers and powertools read."""

    function_name: str
    timeout_seconds: float = 60.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    @classmethod
    def for_invocation(
        cls, function_name: str, region: str, account: str, timeout_seconds: float
    ) -> LambdaContext:
        return cls(
            function_name=function_name,
            timeout_seconds=timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{function_name}",
            log_group_name=f"/aws/lambda/{function_name}",
            _deadline=time.monotonic() + timeout_seconds,
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda's SQS event record."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller:
    """One event source mapping: a queue, a handler, and threads that poll."""

    def __init__(
        self,
        *,
        function_name: str,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        region: str,
        account: str,
        batch_size: int = 10,
        concurrency: int = 1,
        timeout_seconds: float = 60.0,
        retry_delay_seconds: int = 0,
        on_invocation: Callable[[], None] = lambda: None,
    ) -> None:
        self.function_name = function_name
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.handler = handler
        self.region = region
        self.account = account
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.retry_delay_seconds = retry_delay_seconds
        self.on_invocation = on_invocation
        self.invocations = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._active = 0

    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"{self.function_name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop polling; returns once no batch is being handled.

        A poll still waiting for messages is not waited for: it ends within its wait,
        hands back anything it received and its thread exits, handling nothing more.
        """
        with self._idle:
            self._stop.set()
            self._idle.wait_for(lambda: self._active == 0, timeout=30)
        self._threads.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("polling %s failed; retrying", self.function_name)
                self._stop.wait(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the handler; returns how many messages came."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        with self._idle:
            if self._stop.is_set():
                self._hand_back(messages)
                return 0
            self._active += 1
        try:
            return self._handle(messages)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _hand_back(self, messages: list[dict[str, Any]]) -> None:
        """Make messages received after stop visible again at once, for whoever polls next."""
        try:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages)
                ],
            )
        except Exception:
            logger.debug("messages received while stopping could not be handed back")

    def _handle(self, messages: list[dict[str, Any]]) -> int:
        records = [sqs_record(m, self.queue_arn, self.region) for m in messages]
        context = LambdaContext.for_invocation(
            self.function_name, self.region, self.account, self.timeout_seconds
        )
        try:
            response = self.handler({"Records": records}, context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:
            logger.exception("%s failed for the whole batch", self.function_name)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        for message in messages:
            if message["MessageId"] in failed:
                # Lambda leaves a failed message until its visibility timeout ends; locally
                # it comes back after a short delay so that retries and the DLQ are quick.
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
        with self._lock:
            self.invocations += 1
        self.on_invocation()
        return len(messages)
