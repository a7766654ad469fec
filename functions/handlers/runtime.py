"""What every handler shares: its dependencies, its Lambda entry point, error reporting."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import sentry_sdk

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
