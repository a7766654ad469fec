"""Typed settings, read once from the environment and passed in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from functions.core.errors import ConfigurationError
from functions.core.pricing import Rates, rates_for_region


@dataclass(frozen=True)
class Settings:
    """Everything the handlers need to know about their deployment.

    Terraform sets these variables on each Lambda function; the local cloud
    derives them from ``terraform/resources.json``.
    """

    region: str
    in_bucket: str
    out_bucket: str
    task_table: str
    site_table: str
    user_table: str
    mode_catalog_table: str
    mode_settings_table: str
    usage_table: str
    idempotency_table: str
    usage_rollup_table: str
    billing_outbox_table: str
    stripe_events_table: str
    job_queue_spot: str
    job_queue_on_demand: str
    job_definition: str
    rates: Rates
    environment: str = "production"
    sentry_dsn: str | None = None
    upload_expiry_seconds: int = 24 * 3600
    reconcile_after_seconds: int = 15 * 60
    max_task_file_bytes: int = 64 * 1024
    idempotency_expiry_seconds: int = 24 * 3600
    metrics_namespace: str = "YarraCloud"
    stripe_secret_id: str | None = None
    """The Secrets Manager secret with Stripe's key and ids (``functions.billing.stripe_secret``);
    the fields below are read from it at cold start, never from the environment."""
    stripe_api_base: str | None = None
    """Where Stripe's API answers (Stripe's own address when None)."""
    stripe_api_key: str | None = None
    """Stripe's restricted key; only ``stripe`` sites need it."""
    stripe_meter_event: str = "yarracloud_compute"
    """The ``event_name`` of the Billing Meter that sums the usage (in micro-units)."""
    stripe_meter_id: str | None = None
    """The Billing Meter's id, for its event summaries."""
    stripe_webhook_secret: str | None = None
    """The signing secret of the portal's webhook endpoint."""
    stripe_event_destination_secret: str | None = None
    """The signing secret of the event destination for Stripe's meter error reports."""
    stripe_price_id: str | None = None
    """The metered Price each site's customer is subscribed to once it has a card."""

    _ENV = {
        "region": "AWS_REGION",
        "in_bucket": "YC_IN_BUCKET",
        "out_bucket": "YC_OUT_BUCKET",
        "task_table": "YC_TASK_TABLE",
        "site_table": "YC_SITE_TABLE",
        "user_table": "YC_USER_TABLE",
        "mode_catalog_table": "YC_MODE_CATALOG_TABLE",
        "mode_settings_table": "YC_MODE_SETTINGS_TABLE",
        "usage_table": "YC_USAGE_TABLE",
        "idempotency_table": "YC_IDEMPOTENCY_TABLE",
        "usage_rollup_table": "YC_USAGE_ROLLUP_TABLE",
        "billing_outbox_table": "YC_BILLING_OUTBOX_TABLE",
        "stripe_events_table": "YC_STRIPE_EVENTS_TABLE",
        "job_queue_spot": "YC_JOB_QUEUE_SPOT",
        "job_queue_on_demand": "YC_JOB_QUEUE_ON_DEMAND",
        "job_definition": "YC_JOB_DEFINITION",
    }
    _OPTIONAL_INT = {
        "upload_expiry_seconds": "YC_UPLOAD_EXPIRY_SECONDS",
        "reconcile_after_seconds": "YC_RECONCILE_AFTER_SECONDS",
        "max_task_file_bytes": "YC_MAX_TASK_FILE_BYTES",
        "idempotency_expiry_seconds": "YC_IDEMPOTENCY_EXPIRY_SECONDS",
    }
    _OPTIONAL_STR = {
        "stripe_secret_id": "YC_STRIPE_SECRET",
        "stripe_api_base": "YC_STRIPE_API_BASE",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping (``os.environ`` in a Lambda).

        Raises
        ------
        ConfigurationError
            When a required variable is missing or a value does not parse.
        """
        missing = [var for var in cls._ENV.values() if not env.get(var)]
        if missing:
            raise ConfigurationError(
                "missing environment variables: "
                + ", ".join(sorted(missing))
                + " (Terraform sets them on each function; locally, start the stack with"
                " `python -m scripts.local_cloud`)"
            )
        values: dict = {name: env[var] for name, var in cls._ENV.items()}
        for name, var in cls._OPTIONAL_INT.items():
            if env.get(var):
                try:
                    values[name] = int(env[var])
                except ValueError as exc:
                    raise ConfigurationError(f"{var} must be an integer, got {env[var]!r}") from exc
        values.update({name: env[var] for name, var in cls._OPTIONAL_STR.items() if env.get(var)})
        rates = rates_for_region(values["region"])
        if env.get("YC_RATES"):
            try:
                rates = Rates(**json.loads(env["YC_RATES"]))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"YC_RATES is not a valid rate table: {exc}") from exc
        return cls(
            **values,
            rates=rates,
            environment=env.get("YC_ENVIRONMENT", "production"),
            sentry_dsn=env.get("SENTRY_DSN") or None,
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", "YarraCloud"),
        )

    def to_env(self) -> dict[str, str]:
        """The environment variables that make :meth:`from_env` return these settings."""
        env = {var: str(getattr(self, name)) for name, var in self._ENV.items()}
        env.update({var: str(getattr(self, name)) for name, var in self._OPTIONAL_INT.items()})
        env.update(
            {
                var: getattr(self, name)
                for name, var in self._OPTIONAL_STR.items()
                if getattr(self, name)
            }
        )
        env["YC_RATES"] = json.dumps(asdict(self.rates))
        env["YC_ENVIRONMENT"] = self.environment
        env["POWERTOOLS_METRICS_NAMESPACE"] = self.metrics_namespace
        if self.sentry_dsn:
            env["SENTRY_DSN"] = self.sentry_dsn
        return env
