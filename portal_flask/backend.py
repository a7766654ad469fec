"""The backend the portal stands on: its settings and AWS clients, made once per app.

DynamoDB is read and written only through :mod:`functions.core.models` (bound by
:func:`portal_flask.create_app`). Endpoints follow boto3's own configuration, so
``AWS_ENDPOINT_URL`` points every client at a local cloud.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app

from functions.core.aws import AwsClients
from functions.core.errors import ConfigurationError
from functions.core.settings import Settings

_lock = threading.Lock()


def settings() -> Settings:
    """The backend's settings (table names, region, rates …)."""
    backend = current_app.config["PORTAL"].backend
    if backend is None:
        raise ConfigurationError(
            "the portal has no backend configured: set the backend's YC_* variables"
            " (the same as the Lambda functions') before starting it"
        )
    return backend


def aws() -> AwsClients:
    """The backend's S3/Batch/EventBridge clients (one set per app)."""
    with _lock:
        clients = current_app.extensions.get("portal_aws")
        if clients is None:
            clients = AwsClients.create(settings().region)
            current_app.extensions["portal_aws"] = clients
        return clients


def client(service: str) -> Any:
    """A boto3 client for ``service`` (``iam``, ``sqs`` …), made once per app."""
    with _lock:
        made = current_app.extensions.setdefault("portal_clients", {})
        if service not in made:
            region = settings().region
            made[service] = aws_session(region).client(service, region_name=region)
        return made[service]


def aws_session(region: str):
    import boto3

    return boto3.session.Session(region_name=region)
