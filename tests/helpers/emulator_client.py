"""A boto3 client of the AWS emulator, signed with the throwaway key it accepts."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def emulator_client(
    endpoint: str, service: str, region: str = "us-east-1", config: Config | None = None
) -> Any:
    """A client of ``service`` at the emulator's ``endpoint``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=config,
    )
