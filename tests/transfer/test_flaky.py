"""Transfers through an endpoint that drops connections and answers 500 at random still complete.

The proxy's randomness is seeded and the transfers run one request at a time,
so the same faults land on the same requests in every run.
"""

from __future__ import annotations

import hashlib
import random

import boto3
import pytest
from botocore.config import Config

from tests.helpers.flaky_proxy import FlakyProxy
from tests.transfer.conftest import ACCESS_KEY, REGION, SECRET_KEY
from transfer import Retry, download_object, upload_file
from transfer.integrity import MIB

SIZE = 30 * MIB + 12345
SEED = 15


@pytest.fixture
def proxy(emulator):
    with FlakyProxy(emulator.endpoint, drop_rate=0.15, error_rate=0.15, seed=SEED) as running:
        yield running


def flaky_client(url: str):
    """A client that does not retry by itself, so the package's own retries do the work."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def quick_retry() -> Retry:
    return Retry(attempts=10, base=0.01, cap=0.1, rng=random.Random(SEED))


def test_upload_and_download_survive_a_flaky_endpoint(proxy, s3, bucket, tmp_path):
    data = random.Random(30).randbytes(SIZE)
    (tmp_path / "meas.dat").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    flaky = flaky_client(proxy.url)
    options = {"part_size": 5 * MIB, "concurrency": 1, "retry": quick_retry()}

    sent = upload_file(flaky, tmp_path / "meas.dat", bucket, "alice/t/meas.dat", **options)
    assert sent.sha256 == sha
    assert sent.parts == 7 and sent.parts_sent == 7
    assert s3.head_object(Bucket=bucket, Key="alice/t/meas.dat")["Metadata"]["sha256"] == sha
    after_upload = proxy.counters.faults

    got = download_object(flaky, bucket, "alice/t/meas.dat", tmp_path / "back.dat", **options)
    assert got.verified_by == "sha256"
    assert (tmp_path / "back.dat").read_bytes() == data

    counters = proxy.counters
    assert after_upload > 0, counters
    assert counters.faults > after_upload, counters
    assert counters.dropped > 0 and counters.errors > 0, counters
    assert counters.forwarded > 0
    print(f"faults injected: {counters}")


def test_proxy_faults_are_seeded(emulator):
    def pattern(seed: int) -> list[str]:
        proxy = FlakyProxy(emulator.endpoint, seed=seed)  # deciding needs no running server
        try:
            return [proxy.decide() for _ in range(50)]
        finally:
            proxy.stop()

    assert pattern(SEED) == pattern(SEED)
    assert pattern(SEED) != pattern(SEED + 1)
    assert {"drop", "error", "forward"} <= set(pattern(SEED))
