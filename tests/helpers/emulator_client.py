"""A boto3 client of a local AWS endpoint (the emulator, the local Batch) with a throwaway key."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def emulator_client(
    endpoint: str, service: str, region: str = "us-east-1", config: Config | None = None
) -> Any:
    """A client of ``service`` at ``endpoint``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=config,
    )
