"""The boto3 clients of the backend, made in one place.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``), so one variable points every client at the
local cloud; nothing here knows whether it is local.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
# SubmitJob is not idempotent: a retry after an answer was lost would start a second job.
# Submission makes one attempt and, on any failure, looks the job up by its name instead.
_ONE_ATTEMPT = Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=32)


@dataclass(frozen=True)
class AwsClients:
    session: boto3.session.Session
    s3: Any
    batch: Any
    events: Any
    batch_submit: Any
    """A Batch client that never retries by itself, for SubmitJob alone."""
    secretsmanager: Any

    @classmethod
    def create(cls, region: str, session: boto3.session.Session | None = None) -> AwsClients:
        session = session or boto3.session.Session(region_name=region)
        return cls(
            session=session,
            s3=session.client("s3", region_name=region, config=_CONFIG),
            batch=session.client("batch", region_name=region, config=_CONFIG),
            events=session.client("events", region_name=region, config=_CONFIG),
            batch_submit=session.client("batch", region_name=region, config=_ONE_ATTEMPT),
            secretsmanager=session.client("secretsmanager", region_name=region, config=_CONFIG),
        )
