"""Downloads against the AWS emulator: verification, resume, tampering, prefixes."""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from transfer import IntegrityError, download_object, download_prefix, upload_file
from transfer.download import INCOMPLETE
from transfer.integrity import MIB


def data_of(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


class Gets:
    """Counts ranged GETs; raises a permission error on the ``fail_at``-th one."""

    def __init__(self, s3, fail_at: int | None = None) -> None:
        self.s3, self.fail_at = s3, fail_at
        self.ranges: list[str] = []

    def get_object(self, **kwargs):
        if self.fail_at is not None and len(self.ranges) + 1 == self.fail_at:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
        self.ranges.append(kwargs.get("Range", ""))
        return self.s3.get_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self.s3, name)


def test_boto3_multipart_upload_verified_by_etag(s3, bucket, tmp_path):
    data = data_of(17 * MIB)
    (tmp_path / "src").write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(tmp_path / "src"), bucket, "k", Config=config)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert "sha256" not in head["Metadata"] and head["ETag"].endswith('-4"')
    result = download_object(s3, bucket, "k", tmp_path / "dest", part_size=3 * MIB)
    assert result.verified_by == "multipart-etag"
    assert (tmp_path / "dest").read_bytes() == data


def test_single_part_object_verified_by_md5(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    result = download_object(s3, bucket, "k", tmp_path / "dest")
    assert result.verified_by == "md5"
    assert (tmp_path / "dest").read_bytes() == b"hello"


def test_download_resumes_only_missing_ranges(s3, bucket, tmp_path):
    data = data_of(10 * MIB)
    (tmp_path / "src").write_bytes(data)
    upload_file(s3, tmp_path / "src", bucket, "k", part_size=5 * MIB)
    first = Gets(s3, fail_at=4)
    with pytest.raises(Exception, match="refused access"):
        download_object(first, bucket, "k", tmp_path / "dest", part_size=2 * MIB, concurrency=1)
    assert not (tmp_path / "dest").exists()
    state = json.loads((tmp_path / "dest.part.json").read_text())
    assert state["ranges"] == [0, 1, 2]
    second = Gets(s3)
    result = download_object(second, bucket, "k", tmp_path / "dest", part_size=2 * MIB)
    assert result.resumed and result.ranges_fetched == 2
    assert sorted(second.ranges) == [
        f"bytes={6 * MIB}-{8 * MIB - 1}",
        f"bytes={8 * MIB}-{10 * MIB - 1}",
    ]
    assert (tmp_path / "dest").read_bytes() == data
    assert not (tmp_path / "dest.part").exists() and not (tmp_path / "dest.part.json").exists()


def test_changed_object_restarts_download(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="k", Body=data_of(4 * MIB))
    with pytest.raises(Exception, match="refused access"):
        download_object(
            Gets(s3, fail_at=2), bucket, "k", tmp_path / "d", part_size=MIB, concurrency=1
        )
    new = data_of(4 * MIB, seed=9)
    s3.put_object(Bucket=bucket, Key="k", Body=new)
    second = Gets(s3)
    result = download_object(second, bucket, "k", tmp_path / "d", part_size=MIB)
    assert not result.resumed and len(second.ranges) == 4
    assert (tmp_path / "d").read_bytes() == new


def test_tampered_object_raises_and_leaves_nothing(s3, bucket, tmp_path):
    (tmp_path / "src").write_bytes(data_of(MIB))
    upload_file(s3, tmp_path / "src", bucket, "k")
    sha = s3.head_object(Bucket=bucket, Key="k")["Metadata"]["sha256"]
    s3.put_object(Bucket=bucket, Key="k", Body=data_of(MIB, seed=5), Metadata={"sha256": sha})
    with pytest.raises(IntegrityError) as caught:
        download_object(s3, bucket, "k", tmp_path / "dest")
    message = str(caught.value)
    assert f"s3://{bucket}/k" in message and sha in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_download_prefix_keeps_names_and_marks_incomplete(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="u/t/a.dat", Body=b"a")
    s3.put_object(Bucket=bucket, Key="u/t/sub/b.dat", Body=b"bb")
    s3.put_object(Bucket=bucket, Key="u/other/c.dat", Body=b"c")
    results = download_prefix(s3, bucket, "u/t/", tmp_path / "t")
    assert len(results) == 2
    assert (tmp_path / "t" / "a.dat").read_bytes() == b"a"
    assert (tmp_path / "t" / "sub" / "b.dat").read_bytes() == b"bb"
    assert not (tmp_path / "t" / INCOMPLETE).exists()

    with pytest.raises(Exception, match="refused access"):
        download_prefix(Gets(s3, fail_at=2), bucket, "u/t/", tmp_path / "again")
    assert (tmp_path / "again" / INCOMPLETE).exists()


class KmsReporting:
    """An S3 client whose objects report SSE-KMS (ETag no digest) and a chosen checksum."""

    def __init__(self, s3, checksum: str | None) -> None:
        self._s3 = s3
        self._checksum = checksum

    def __getattr__(self, name):
        return getattr(self._s3, name)

    def head_object(self, **kwargs):
        head = dict(self._s3.head_object(**kwargs))
        head["ServerSideEncryption"] = "aws:kms"
        head.pop("ChecksumSHA256", None)
        if kwargs.get("ChecksumMode") == "ENABLED" and self._checksum:
            head["ChecksumSHA256"] = self._checksum
        return head


@pytest.mark.parametrize("checksum", ["right", "wrong", None])
def test_an_sse_kms_object_without_sha256_is_checked_by_s3s_checksum(
    s3, bucket, tmp_path, caplog, checksum
):
    data = random.Random(21).randbytes(3 * MIB)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    stored = {"right": digest, "wrong": digest[::-1], None: None}[checksum]
    target = tmp_path / "out.dat"
    if checksum == "wrong":
        with pytest.raises(IntegrityError, match="S3's checksum"):
            download_object(KmsReporting(s3, stored), bucket, "k", target)
        assert not target.exists()
        return
    result = download_object(KmsReporting(s3, stored), bucket, "k", target)
    assert target.read_bytes() == data
    if checksum == "right":
        assert result.verified_by == "s3-checksum"
    else:
        assert result.verified_by == "unverified"
        assert "cannot be verified" in caplog.text
