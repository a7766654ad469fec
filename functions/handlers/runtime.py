"""What every handler shares: dependencies, powertools, the SQS batch shape, error reporting."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import sentry_sdk
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

from functions.core.aws import AwsClients
from functions.core.clock import Clock, system_clock
from functions.core.models import bind_models
from functions.core.observability import init_sentry
from functions.core.settings import Settings

Handler = Callable[[dict, Any], Any]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Dependencies:
    """Everything a handler needs from outside, passed in so tests can point it anywhere."""

    settings: Settings
    clients: AwsClients
    clock: Clock = system_clock

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Dependencies:
        settings = Settings.from_env(env)
        bind_models(settings)
        return cls(settings=settings, clients=AwsClients.create(settings.region))


def lambda_entry(build: Callable[[Dependencies], Handler], component: str) -> Handler:
    """The function Lambda calls: builds the handler once per container from the environment."""
    built: Handler | None = None

    def entry(event: dict, context: Any) -> Any:
        nonlocal built
        if built is None:
            deps = Dependencies.from_env(os.environ)
            init_sentry(
                deps.settings.sentry_dsn, component=component, environment=deps.settings.environment
            )
            built = build(deps)
        return built(event, context)

    return entry


def reported(fn: F) -> F:
    """Send an unexpected exception to Sentry (when on) before it fails the record."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
            raise

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class Powertools:
    """One function's structured logs, metrics and traces."""

    logger: Logger
    metrics: Metrics
    tracer: Tracer

    @classmethod
    def for_function(cls, name: str, settings: Settings) -> Powertools:
        logger = Logger(service=name)
        # The domain modules log through the standard library: same JSON, same keys.
        copy_config_to_registered_loggers(source_logger=logger, include={"functions"})
        return cls(
            logger=logger,
            metrics=Metrics(namespace=settings.metrics_namespace, service=name),
            tracer=Tracer(service=name),
        )

    def entry_point(self, handler: Handler) -> Handler:
        """``handler`` with the Lambda context in its logs, its metrics flushed and traced."""
        return self.logger.inject_lambda_context(
            self.metrics.log_metrics(self.tracer.capture_lambda_handler(handler))
        )


def idempotency(deps: Dependencies, key: str) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    """A persistence layer of its own and a config keyed by the JMESPath ``key``."""
    persistence = DynamoDBPersistenceLayer(
        table_name=deps.settings.idempotency_table, boto3_session=deps.clients.session
    )
    config = IdempotencyConfig(
        event_key_jmespath=key, expires_after_seconds=deps.settings.idempotency_expiry_seconds
    )
    return persistence, config


def sqs_batch_handler(
    tools: Powertools, config: IdempotencyConfig, record_handler: Callable[[SQSRecord], Any]
) -> Handler:
    """A handler for batches of SQS records that reports each failed record for redelivery."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    each = reported(record_handler)

    def handler(event: dict, context: Any) -> dict:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=each, processor=processor, context=context
        )

    return tools.entry_point(handler)
