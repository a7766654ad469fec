"""Sentry (with the Flask integration and the shared PHI scrubbing) and JSON logs."""

from __future__ import annotations

import logging
import os

from functions.core.observability import configure_logging, init_sentry
from portal_flask.config import PortalConfig


def init(config: PortalConfig) -> bool:
    """Start Sentry when a DSN is set; ``True`` then.

    The Flask integration is one of the SDK's auto-enabling integrations: with Flask
    importable it hooks every request. Request bodies and cookies never reach an event
    (``send_default_pii`` off, bodies never sent), and the shared ``before_send``
    scrubber redacts identity fields from everything else.
    """
    return init_sentry(config.sentry_dsn, component="portal", environment=config.environment)


def configure_logs() -> None:
    """JSON log lines on standard error (level from ``YC_LOG_LEVEL``), libraries quieter."""
    configure_logging(os.environ.get("YC_LOG_LEVEL", "INFO"))
    for chatty in ("pynamodb", "alembic", "botocore", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
