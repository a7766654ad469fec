"""The AWS Go SDK v2 peer against the emulator: its defaults, metadata and multipart ETag."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from tests.helpers.go import run_s3peer

REGION = "eu-central-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
MIB = 1024 * 1024
GO_PART_SIZE = 5 * MIB  # the Go SDK's upload manager default


def seeded_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def multipart_etag(data: bytes, part_size: int) -> str:
    """S3's ETag for ``data`` uploaded in ``part_size`` parts: md5 of the part md5s, dash, count."""
    digests = [
        hashlib.md5(data[start : start + part_size]).digest()
        for start in range(0, len(data), part_size)
    ]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def test_go_uploader_defaults_are_readable_by_boto3(
    s3peer: Path, peer_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:
    data = seeded_bytes(17 * MIB, seed=4)
    digest = hashlib.sha256(data).hexdigest()
    source = tmp_path / "scan.dat"
    source.write_bytes(data)
    key = "alice/task-1/scan.dat"

    done = run_s3peer(
        s3peer, "upload", bucket, key, str(source), f"meta=sha256={digest}", env=peer_env
    )
    assert done.returncode == 0, done.stderr

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["Metadata"] == {"sha256": digest}
    expected_etag = multipart_etag(data, GO_PART_SIZE)
    assert expected_etag.endswith("-4")
    assert got["ETag"].strip('"') == expected_etag
    reported = json.loads(done.stdout)
    assert reported["etag"] == expected_etag
    assert reported["metadata"] == {"sha256": digest}
    assert reported["size"] == len(data)


def test_go_downloader_fetches_a_boto3_upload_and_reports_its_metadata(
    s3peer: Path, peer_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:
    data = seeded_bytes(12 * MIB + 123, seed=5)  # several ranged parts, the last one short
    digest = hashlib.sha256(data).hexdigest()
    key = "alice/task-2/scan.dat"
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"sha256": digest})
    target = tmp_path / "fetched.dat"

    done = run_s3peer(s3peer, "download", bucket, key, str(target), env=peer_env)
    assert done.returncode == 0, done.stderr

    assert target.read_bytes() == data
    reported = json.loads(done.stdout)
    assert reported["metadata"] == {"sha256": digest}
    assert reported["etag"] == hashlib.md5(data).hexdigest()
    assert reported["size"] == len(data)


def test_go_peer_fails_loudly_on_a_missing_object(
    s3peer: Path, peer_env: dict[str, str], bucket: str, tmp_path: Path
) -> None:
    target = tmp_path / "missing.dat"

    done = run_s3peer(s3peer, "download", bucket, "no/such/key", str(target), env=peer_env)

    assert done.returncode != 0
    assert "no/such/key" in done.stderr
    assert done.stdout == ""
    assert not target.exists()
