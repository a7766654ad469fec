"""The portal's typed configuration, read once from the environment and passed in."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import boto3

from functions.billing.stripe_gateway import StripeGateway
from functions.billing.stripe_secret import with_stripe_secret
from functions.core.errors import ConfigurationError
from functions.core.settings import Settings

#: Where the local default keeps its SQLite file and generated secret key.
DEFAULT_VAR_DIR = Path(__file__).resolve().parent.parent / "var" / "portal"


@dataclass(frozen=True)
class StripeConfig:
    """Stripe settings for sites billed by card (``Site.billing_mode == "stripe"``).

    Read, as the backend's functions read them, from the Stripe secret in Secrets
    Manager that ``scripts/admin stripe setup`` fills (``YC_STRIPE_SECRET`` names it).
    """

    secret_key: str
    webhook_secret: str
    price_id: str
    currency: str = "usd"
    api_base: str | None = None
    """Where Stripe's API answers; Stripe's own address when None."""
    meter_event: str = "yarracloud_compute"
    metrics_namespace: str = "YarraCloud"
    event_destination_secret: str = ""
    """Signs the thin events of Stripe's meter error reports (see ``/stripe/meter-errors``)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeConfig | None:
        """The portal's Stripe settings from the backend's (None when Stripe is not set up)."""
        if not settings.stripe_api_key or not settings.stripe_price_id:
            return None
        return cls(
            secret_key=settings.stripe_api_key,
            webhook_secret=settings.stripe_webhook_secret or "",
            event_destination_secret=settings.stripe_event_destination_secret or "",
            price_id=settings.stripe_price_id,
            currency=settings.rates.currency.lower(),
            api_base=settings.stripe_api_base,
            meter_event=settings.stripe_meter_event,
            metrics_namespace=settings.metrics_namespace,
        )

    def gateway(self) -> StripeGateway:
        return StripeGateway.create(
            self.secret_key,
            self.api_base,
            self.meter_event,
            price_id=self.price_id,
            currency=self.currency,
        )


@dataclass(frozen=True)
class PortalConfig:
    """Everything the portal needs to know about its deployment.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of the relational store (accounts, audit log, invoices):
        ``sqlite:///…`` embedded, ``postgresql+psycopg://…`` in production.
    secret_key
        Signs the session cookie and CSRF tokens.
    backend
        The backend's table names and region; ``None`` leaves the DynamoDB models
        unbound (commands that touch only the SQL store).
    secure_cookies
        Session and remember cookies carry ``Secure``. Only a portal served over
        plain HTTP on loopback turns it off.
    auto_migrate
        Apply the Alembic migrations when the app is created (the local default).
    api_url
        The v1 API's address, written into the agent configs the portal hands out;
        ``None`` leaves the agent's own default.
    s3_endpoint
        The S3 endpoint written into those configs, for a cloud whose S3 is not AWS's
        (a local or private one); ``None`` for AWS's own.
    session_hours, idle_minutes, remember_days
        A sign-in ends ``session_hours`` after it began or ``idle_minutes`` after its
        last request, whichever is first; one with "keep me signed in" ends
        ``remember_days`` after it began.
    max_failed_sign_ins, max_failed_sign_ins_per_address, sign_in_window_seconds
        Sign-in throttling (:mod:`portal_flask.auth.throttle`): within the window, an
        address may fail ``max_failed_sign_ins`` times for one email and
        ``max_failed_sign_ins_per_address`` times in all before it is refused.
    reset_minutes
        How long a password reset link works.
    smtp_host, smtp_port, mail_from
        The mail server that delivers reset links; without ``smtp_host`` they are
        written to the log (:mod:`portal_flask.mail`).
    """

    database_url: str
    secret_key: str
    backend: Settings | None = None
    secure_cookies: bool = True
    environment: str = "production"
    sentry_dsn: str | None = None
    max_failed_sign_ins: int = 5
    max_failed_sign_ins_per_address: int = 50
    sign_in_window_seconds: int = 15 * 60
    session_hours: int = 12
    idle_minutes: int = 30
    remember_days: int = 30
    reset_minutes: int = 60
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "YarraCloud <no-reply@localhost>"
    proxy_hops: int = 0
    auto_migrate: bool = False
    tasks_page_size: int = 50
    tasks_poll_seconds: float = 3.0
    stripe: StripeConfig | None = None
    api_url: str | None = None
    s3_endpoint: str | None = None
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __repr__(self) -> str:  # never print the secret key
        return f"PortalConfig(database_url={_safe_url(self.database_url)!r}, ...)"

    def with_(self, **changes) -> PortalConfig:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, var_dir: Path = DEFAULT_VAR_DIR
    ) -> PortalConfig:
        """Read the configuration from ``env`` (``os.environ`` by default).

        Variables: ``YC_PORTAL_DATABASE_URL`` (default: a SQLite file in ``var_dir``,
        ``var/portal/`` of the checkout), ``YC_PORTAL_SECRET_KEY`` (required unless the
        database is the local default, where one is generated once and kept next to it),
        ``YC_PORTAL_PLAIN_HTTP=1`` (no ``Secure`` cookie flag; loopback only),
        ``YC_PORTAL_PROXY_HOPS``, ``YC_PORTAL_MAX_FAILED_SIGN_INS``,
        ``YC_PORTAL_MAX_FAILED_SIGN_INS_PER_ADDRESS``, ``YC_PORTAL_SIGN_IN_WINDOW_SECONDS``,
        ``YC_PORTAL_SESSION_HOURS``, ``YC_PORTAL_IDLE_MINUTES``, ``YC_PORTAL_REMEMBER_DAYS``,
        ``YC_PORTAL_RESET_MINUTES``, ``YC_PORTAL_SMTP_HOST`` (+ ``YC_PORTAL_SMTP_PORT``,
        ``YC_PORTAL_MAIL_FROM``),
        ``YC_STRIPE_SECRET`` (the Stripe secret's name, read from Secrets Manager;
        + ``YC_STRIPE_API_BASE``), ``YC_API_URL`` (the v1 API named in agent configs),
        ``YC_S3_ENDPOINT_URL`` (the S3 endpoint named in them, for a local or private cloud),
        and the backend's
        variables (:meth:`functions.core.settings.Settings.from_env`) when
        ``YC_TASK_TABLE`` is set.

        Raises
        ------
        ConfigurationError
            When a required variable is missing or a value does not parse.
        """
        env = os.environ if env is None else env
        url = env.get("YC_PORTAL_DATABASE_URL", "").strip()
        local_default = not url
        if local_default:
            var_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{var_dir / 'portal.db'}"
        secret = env.get("YC_PORTAL_SECRET_KEY", "").strip()
        if not secret:
            if not local_default:
                raise ConfigurationError(
                    "YC_PORTAL_SECRET_KEY is required with YC_PORTAL_DATABASE_URL: set it to a"
                    " long random string (python -c 'import secrets; print(secrets.token_hex(32))')"
                )
            secret = local_secret_key(var_dir / "secret_key")
        backend = Settings.from_env(env) if env.get("YC_TASK_TABLE") else None
        if backend is not None and backend.stripe_secret_id:
            secrets = boto3.client("secretsmanager", region_name=backend.region)
            backend = with_stripe_secret(backend, secrets)
        stripe = StripeConfig.from_settings(backend) if backend is not None else None
        return cls(
            database_url=url,
            secret_key=secret,
            backend=backend,
            secure_cookies=env.get("YC_PORTAL_PLAIN_HTTP", "") not in ("1", "true", "yes"),
            environment=env.get("YC_ENVIRONMENT", "production"),
            sentry_dsn=env.get("SENTRY_DSN") or None,
            max_failed_sign_ins=_int(env, "YC_PORTAL_MAX_FAILED_SIGN_INS", 5),
            max_failed_sign_ins_per_address=_int(
                env, "YC_PORTAL_MAX_FAILED_SIGN_INS_PER_ADDRESS", 50
            ),
            sign_in_window_seconds=_int(env, "YC_PORTAL_SIGN_IN_WINDOW_SECONDS", 15 * 60),
            session_hours=_int(env, "YC_PORTAL_SESSION_HOURS", 12),
            idle_minutes=_int(env, "YC_PORTAL_IDLE_MINUTES", 30),
            remember_days=_int(env, "YC_PORTAL_REMEMBER_DAYS", 30),
            reset_minutes=_int(env, "YC_PORTAL_RESET_MINUTES", 60),
            smtp_host=env.get("YC_PORTAL_SMTP_HOST", "").strip() or None,
            smtp_port=_int(env, "YC_PORTAL_SMTP_PORT", 25),
            mail_from=env.get("YC_PORTAL_MAIL_FROM", "").strip() or cls.mail_from,
            proxy_hops=_int(env, "YC_PORTAL_PROXY_HOPS", 0),
            auto_migrate=local_default,
            stripe=stripe,
            api_url=env.get("YC_API_URL", "").strip() or None,
            s3_endpoint=env.get("YC_S3_ENDPOINT_URL", "").strip() or None,
        )


def local_secret_key(path: Path) -> str:
    """The secret key kept at ``path``, generated (readable by the owner only) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from exc


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
