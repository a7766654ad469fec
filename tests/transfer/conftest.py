"""An S3 client on the emulator, a fresh bucket per test, and the Go peer's environment."""

from __future__ import annotations

import uuid

import boto3
import pytest

REGION = "eu-central-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"


@pytest.fixture
def s3(emulator):
    return boto3.client(
        "s3",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"transfer-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def peer_env(emulator) -> dict[str, str]:
    """What the Go peer needs to reach the emulator."""
    return {
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
