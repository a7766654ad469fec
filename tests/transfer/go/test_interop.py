"""``transfer/`` and the AWS Go SDK v2 read each other's objects, integrity checked both ways."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from tests.helpers.go import run_s3peer
from transfer import download_object, upload_file

MIB = 1024 * 1024


def test_what_transfer_uploads_the_go_downloader_fetches_with_a_matching_sha256(
    s3peer: Path, peer_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:
    data = random.Random(11).randbytes(21 * MIB + 17)
    source = tmp_path / "scan.dat"
    source.write_bytes(data)
    patched = bytearray(data)
    patched[100:108] = b"XXXXXXXX"  # a de-identified header field, patched while sending
    result = upload_file(s3, source, bucket, "alice/t/scan.dat", patches=[(100, b"XXXXXXXX")])
    assert result.parts > 1

    target = tmp_path / "by-go.dat"
    done = run_s3peer(s3peer, "download", bucket, "alice/t/scan.dat", str(target), env=peer_env)
    assert done.returncode == 0, done.stderr
    reported = json.loads(done.stdout)
    assert reported["metadata"]["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert target.read_bytes() == bytes(patched)
    assert source.read_bytes() == data


def test_what_the_go_uploader_sends_with_its_defaults_transfer_downloads_and_verifies(
    s3peer: Path, peer_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:
    data = random.Random(12).randbytes(17 * MIB + 5)
    source = tmp_path / "scan.dat"
    source.write_bytes(data)
    done = run_s3peer(s3peer, "upload", bucket, "bob/t/scan.dat", str(source), env=peer_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["etag"].endswith("-4")  # 5 MiB parts, no sha256 metadata

    target = tmp_path / "by-transfer.dat"
    result = download_object(s3, bucket, "bob/t/scan.dat", target)
    assert result.verified_by == "multipart-etag"
    assert target.read_bytes() == data
